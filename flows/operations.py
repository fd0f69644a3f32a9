"""What supervisors do with items: list the Exceptions, re-queue one once its fault is fixed, and read an
item's whole history. Plain functions over the services (no Prefect run needed); ``clerk exceptions``,
``clerk retry`` and ``clerk status`` print them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from connectors import audit_store
from connectors.errors import BusinessError
from connectors.ledger import WorkItem, clerk_reference
from connectors.mail import Email
from flows.bootstrap import Services

RUNBOOKS = Path(__file__).resolve().parents[1] / "runbooks"


class NotInExceptions(BusinessError):
    """``clerk retry`` was given a reference that is not parked in Exceptions (or not a system fault)."""

    code = "NOT_RETRYABLE"


@dataclass(frozen=True)
class Parked:
    reference: str
    email: Email
    item: WorkItem | None
    runbook: str | None

    @property
    def code(self) -> str:
        return (self.item.reason_code if self.item else None) or "UNKNOWN"

    @property
    def system_fault(self) -> bool:
        return self.item is not None and self.item.outcome == "system_error"


@cache
def runbook_for(code: str, process: str | None = None) -> str | None:
    """The runbook (and its section) that explains an error code, as ``runbooks/x.md: Section``: the
    process's own runbook (``runbooks/council-tax-move.md`` for council_tax_move) first, since codes every
    process can raise (FORM_INVALID...) are explained in each, then the others."""
    own = RUNBOOKS / f"{(process or '').replace('_', '-')}.md"
    for path in sorted(RUNBOOKS.glob("*.md"), key=lambda path: (path != own, path.name)):
        section = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("#"):
                section = line.lstrip("#").strip()
            if re.search(rf"\*\*{re.escape(code)}\*\*", line):
                return f"runbooks/{path.name}" + (f": {section}" if section else "")
    return None


def parked_items(services: Services) -> list[Parked]:
    """Every email in Exceptions, oldest first, with its ledger row and the runbook for its code."""
    parked = []
    for email in services.mailbox.list_folder("exceptions"):
        reference = clerk_reference(email.message_id)
        item = services.ledger.get(reference)
        parked.append(Parked(reference, email, item, runbook_for(item.reason_code, item.process)
                             if item and item.reason_code else None))
    return parked


def retry(services: Services, reference: str, actor: str, *, force: bool = False) -> Parked:
    """Move a parked email back to the inbox so the next intake pass keys it again.

    Only system faults are re-queued unless ``force``: a business rejection was the sender's to fix, and
    they have been told so. The Casebook bot looks the Clerk reference up before creating anything, so a
    retry never duplicates a case.
    """
    matches = [p for p in parked_items(services) if p.reference == reference.upper()]
    if not matches:
        raise NotInExceptions(f"{reference} is not in Exceptions.",
                              reasons=["Check the reference with `clerk exceptions`."])
    parked = matches[0]
    if not parked.system_fault and not force:
        raise NotInExceptions(
            f"{reference} was refused for a business reason ({parked.code}); the sender has been told to resend.",
            reasons=["Use --force only if the rule that refused it has been corrected."])
    services.mailbox.requeue(parked.email)
    audit = services.audit.bind(reference=parked.reference, email_id=parked.email.id,
                                process=parked.item.process if parked.item else None)
    audit("retry", "requeued", actor=actor, code=parked.code)
    audit.flush()
    return parked


@dataclass(frozen=True)
class History:
    item: WorkItem | None
    """The ledger row as it is now."""
    changes: list[dict]
    """Every change the ledger recorded (claims by which worker, states, replies, releases), oldest first."""
    events: list[dict]
    """Every audit event for the reference, in order."""


def history(services: Services, reference: str) -> History:
    """The ledger row, the ledger's record of every change, and every audit event for one Clerk reference (from
    the configured trail: every worker's events, on every host, when it is in PostgreSQL)."""
    reference = reference.upper()
    events = [event for event in audit_store.events(services.settings, services.secrets, missing_ok=True)
              if event.get("reference") == reference or event.get("asked") == reference]
    return History(services.ledger.get(reference), services.ledger.history(reference), events)
