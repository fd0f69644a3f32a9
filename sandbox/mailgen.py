"""Realistic batches of staff emails carrying Blue Badge application forms, for the demo, tests and benchmarks."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sandbox.forms import INVALID_VARIANTS, applicant, blue_badge_pdf

COUNCIL = "council.example.gov.uk"
BLUE_BADGE_ALIAS = f"bluebadge@{COUNCIL}"
STAFF = ("priya.shah", "tom.ellis", "grace.okafor", "dan.morgan", "helen.reid", "sam.kowalski")


def staff_address(rng: random.Random) -> str:
    return f"{rng.choice(STAFF)}@{COUNCIL}"


def application_email(sender: str, pdf: bytes | None, *, subject: str = "Blue Badge application",
                      to: str = BLUE_BADGE_ALIAS, message_id: str | None = None,
                      filename: str = "blue-badge-application.pdf", note: str | None = None,
                      internal: bool | None = None) -> EmailMessage:
    """An email as Exchange would file it. ``internal`` (default: the sender is in the council's domain)
    adds the header Exchange sets on mail its own users sent, which Clerk's sender check relies on."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2] or COUNCIL)
    if internal if internal is not None else sender.endswith("@" + COUNCIL):
        message["X-MS-Exchange-Organization-AuthAs"] = "Internal"
    message.set_content(note or "Hi,\n\nPlease find attached a Blue Badge application received at the front desk.\n\nThanks")
    if pdf is not None:
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return message


@dataclass
class Batch:
    """Emails in delivery order, with what should become of each (``expected[i]`` for ``messages[i]``)."""

    messages: list[EmailMessage] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def add(self, message: EmailMessage, expected: str) -> None:
        self.messages.append(message)
        self.expected.append(expected)

    @property
    def distinct_valid(self) -> int:
        return self.expected.count("created")


def valid_batch(count: int, seed: int = 1) -> Batch:
    """``count`` valid applications from staff, each a different applicant."""
    rng = random.Random(seed)
    batch = Batch()
    for _ in range(count):
        person = applicant(rng)
        batch.add(application_email(staff_address(rng), blue_badge_pdf(person)), "created")
    return batch


def demo_batch(seed: int = 2026, valid: int = 16) -> Batch:
    """A morning's worth of mail: mostly valid, some wrong forms, an unlisted sender, a resend and a replay."""
    rng = random.Random(seed)
    first = Batch()
    people = [applicant(rng) for _ in range(valid)]
    for person in people:
        first.add(application_email(staff_address(rng), blue_badge_pdf(person)), "created")
    for name in ("bad_date_of_birth", "bad_ni_number", "declaration_not_ticked", "missing_surname"):
        wrong = INVALID_VARIANTS[name](applicant(rng))
        first.add(application_email(staff_address(rng), blue_badge_pdf(wrong)), "rejected")
    first.add(application_email(staff_address(rng), None, note="Form to follow."), "rejected")
    # Senders who may not trigger the process: no reply (it could be backscatter), Exceptions.
    first.add(application_email("j.bloggs@example.net", blue_badge_pdf(applicant(rng))), "sender_not_allowed")
    forged = application_email(staff_address(rng), blue_badge_pdf(applicant(rng)), internal=False)
    first.add(forged, "sender_not_allowed")  # a council From, sent from outside: Exchange did not mark it internal
    on_behalf = application_email(staff_address(rng), blue_badge_pdf(applicant(rng)))
    on_behalf["Sender"] = "mallory@example.net"
    first.add(on_behalf, "sender_not_allowed")  # From a listed address, sent by someone else
    order = list(range(len(first.messages)))
    rng.shuffle(order)
    batch = Batch()
    for i in order:
        batch.add(first.messages[i], first.expected[i])
    # Later that morning, a member of staff resends a form Casebook already holds, in a new email.
    batch.add(application_email(staff_address(rng), blue_badge_pdf(people[1]), subject="FW: Blue Badge application"),
              "existing_application")
    # And the mail server delivers one email twice (same Message-ID, same bytes): filed, not answered again.
    batch.add(first.messages[2], "duplicate_delivery")
    return batch
