"""Steps every process shares: reply, finish (move to Done or Exceptions), and the item's result.

Steps that touch an external system are Prefect tasks with retries; everything else is plain Python,
so Prefect's per-task cost stays off the hot path where it buys no guarantee.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from connectors.audit import AuditEvents
from connectors.errors import BusinessError, ClerkError
from connectors.mail import Email, FinalFolder
from flows.bootstrap import Services
from flows.replies import Reply
from flows.routing import may_reply


@dataclass
class ItemResult:
    """How one email ended. ``outcome`` is one of the names in runbooks/blue-badge.md."""

    email_id: str
    reference: str
    process: str | None
    outcome: str
    folder: FinalFolder
    code: str | None = None
    case_reference: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


@task(name="send-reply", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def send_reply(services: Services, email: Email, reply: Reply, audit: AuditEvents, kind: str) -> bool:
    """Reply to the sender, unless Exchange does not vouch for them (no backscatter to forged or outside addresses)."""
    if not may_reply(email, services.settings):
        audit("reply", "suppressed", kind=kind, code="EXTERNAL_SENDER")
        return False
    services.mailbox.reply(email, reply.subject, reply.body)
    audit("reply", "sent", kind=kind)
    return True


@task(name="finish", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def finish(services: Services, email: Email, folder: FinalFolder, audit: AuditEvents, outcome: str,
           code: str | None = None, case_reference: str | None = None) -> None:
    """Record the outcome durably, then move the email out of processing. Audit first: never a silent move."""
    reference = audit.context["reference"]
    try:
        services.ledger.update(reference, folder, outcome=outcome, reason_code=code, case_reference=case_reference)
    except ClerkError as exc:  # the audit trail and the mailbox still record the outcome
        audit("ledger", "failed", code=exc.code)
    audit("finish", outcome, folder=folder, code=code, case_reference=case_reference)
    audit.flush()
    services.mailbox.move(email, folder)


def park(services: Services, email: Email, error: ClerkError, audit: AuditEvents, reply: Reply | None,
         started: float, process: str | None) -> ItemResult:
    """End an item in Exceptions: audit the error, tell the sender (if they may be told), move the email."""
    business = isinstance(error, BusinessError)
    kind, outcome = ("business", "rejected") if business else ("system", "system_error")
    audit("error", kind, code=error.code, message=error.message, reasons=error.reasons if business else None)
    if reply is not None:
        try:
            send_reply(services, email, reply, audit, kind="rejection" if business else "delay")
        except ClerkError as exc:  # a reply that cannot be sent must not keep the email out of Exceptions
            audit("reply", "failed", code=exc.code)
    finish(services, email, "exceptions", audit, outcome=outcome, code=error.code)
    return ItemResult(email.id, audit.context["reference"], process, outcome, "exceptions", code=error.code,
                      seconds=time.perf_counter() - started)


def publish_review(results: list[ItemResult], key: str) -> None:
    """A table of every item in this run, for supervisors reviewing runs in Prefect's UI."""
    create_table_artifact(
        key=key,
        table=[{"item": r.email_id, "outcome": r.outcome, "reason code": r.code or "", "clerk reference": r.reference,
                "process": r.process or "", "case reference": r.case_reference or "",
                "seconds": round(r.seconds, 2)} for r in results],
        description=f"{sum(r.folder == 'done' for r in results)} done, "
                    f"{sum(r.folder == 'exceptions' for r in results)} in Exceptions",
    )
