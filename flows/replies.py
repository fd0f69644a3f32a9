"""What Clerk says to staff, in one place. Each reply names the Clerk reference to quote."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.processes import ProcessSettings

SIGN_OFF = "\n\nThis is an automatic reply from Clerk, the council's forms robot. Quote the reference above if you contact us.\n"


@dataclass(frozen=True)
class Reply:
    subject: str
    body: str


def _one_line(text: str, limit: int = 150) -> str:
    """The sender's subject as it can go into ours: one line (a header never carries their CR/LF), not
    too long."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def acknowledgement(reference: str, subject: str) -> Reply:
    return Reply(
        f"Received: {_one_line(subject)} [{reference}]",
        f"We have received your email and it is being processed.\nClerk reference: {reference}\n\n"
        "You will get another email when it has been keyed, usually within a few minutes." + SIGN_OFF,
    )


def result(process: ProcessSettings, outcome: str, reference: str, record_reference: str) -> Reply:
    """The answer for an item keyed with ``outcome`` (``created``, ``already_keyed``, ...), in the words of the
    process's declaration (``replies:`` in config/processes/<name>.yaml)."""
    template = process.replies.get(outcome)
    if template is None:  # a declaration without words for this outcome still tells the sender
        subject = f"{process.title or 'Your form'}: {outcome.replace('_', ' ')} {record_reference} [{reference}]"
        body = f"Clerk keyed your email ({outcome.replace('_', ' ')}).\nReference: {record_reference}\n" \
               f"Clerk reference: {reference}"
    else:
        subject, body = template.render(reference=reference, record_reference=record_reference, title=process.title)
    return Reply(subject, body + SIGN_OFF)


def rejected(reference: str, summary: str, reasons: list[str], held: str = "") -> Reply:
    """``held``: the record the application already holds for this item (it stays as it is)."""
    listed = "\n".join(f"  - {reason}" for reason in reasons)
    keyed = f"Nothing new has been keyed: {held} stays as the application holds it." if held else \
        "Nothing has been keyed."
    return Reply(
        f"Action needed: your form could not be processed [{reference}]",
        f"{summary}\n\n{listed}\n\nPlease correct the form and send it again in a new email. "
        f"{keyed}\nClerk reference: {reference}" + SIGN_OFF,
    )


def system_problem(reference: str) -> Reply:
    return Reply(
        f"Delayed: your email is waiting for a supervisor [{reference}]",
        "We could not finish keying your form because a council system was not available. "
        "A supervisor has been told and will complete it; you do not need to send it again.\n"
        f"Clerk reference: {reference}" + SIGN_OFF,
    )


_STATE_WORDS = {
    "received": "received, not yet acknowledged",
    "acknowledged": "received and waiting to be keyed",
    "keying": "being keyed now",
    "done": "finished",
    "exceptions": "with a supervisor (in Exceptions)",
    "waiting": "waiting for a supervisor's decision",
}


def status(reference: str, item) -> Reply:
    """The answer to ``status <reference>``: the item's state in words (``item`` is a ledger WorkItem or None)."""
    if item is None:
        return Reply(f"Status: {reference} not found",
                     f"Clerk has no item with the reference {reference}. Please check the reference in the "
                     "acknowledgement you received (it starts with CLK-)." + SIGN_OFF)
    lines = [f"Clerk reference: {reference}", f"State: {_STATE_WORDS.get(item.state, item.state)}"]
    if item.outcome:
        lines.append(f"Outcome: {item.outcome.replace('_', ' ')}")
    if item.case_reference:
        lines.append(f"Case reference: {item.case_reference}")
    if item.reason_code:
        lines.append(f"Reason code: {item.reason_code}")
    lines.append(f"Last updated: {item.updated_at}")
    return Reply(f"Status: {reference} is {_STATE_WORDS.get(item.state, item.state)}", "\n".join(lines) + SIGN_OFF)
