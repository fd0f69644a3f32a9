"""Steps every process shares: reply, finish (move to Done or Exceptions), and the item's result.

Steps that touch an external system are Prefect tasks with retries; everything else is plain Python,
so Prefect's per-task cost stays off the hot path where it buys no guarantee.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Literal

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from connectors.audit import AuditEvents
from connectors.errors import BusinessError, ClerkError, SystemError
from connectors.ledger import LeaseLost
from connectors.mail import Email, FinalFolder
from flows.bootstrap import Services
from flows.replies import Reply
from flows.routing import may_reply

HANDED_OVER = "handed_over"
"""Not an ending: another worker took the item over (this one was presumed dead) and finishes it."""


@dataclass
class ItemResult:
    """How one email ended. ``outcome`` is one of the names in runbooks/blue-badge.md."""

    email_id: str
    reference: str
    process: str | None
    outcome: str
    folder: FinalFolder | Literal["processing"]
    code: str | None = None
    case_reference: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


ONE_OF = {"created": "result", "already_keyed": "result", "existing_application": "result"}
"""Replies that answer the same question: a sender gets one of them, once (after a crash, the second
attempt may see the case it created as "already keyed": the first answer stands)."""


def retry_system_faults(task, task_run, state) -> bool:
    """Prefect retry condition for every step that touches an external system: retry only a fault a retry
    can cure (a busy application, a timeout, a mailbox hiccup); never bad input, never a lost claim."""
    try:
        state.result()
    except SystemError as exc:
        return exc.retryable
    except Exception:  # noqa: BLE001 - anything else is not ours to retry
        return False
    return False


@task(name="send-reply", retries=2, retry_delay_seconds=1, retry_condition_fn=retry_system_faults,
      cache_policy=NO_CACHE)
def send_reply(services: Services, email: Email, reply: Reply, audit: AuditEvents, kind: str) -> bool:
    """Reply to the sender once per kind of reply, unless Exchange does not vouch for them (no backscatter
    to forged or outside addresses). A reply the ledger records as sent is never sent again: not after a
    retry, not after a crash and recovery."""
    if not may_reply(email, services.settings):
        audit("reply", "suppressed", kind=kind, code="EXTERNAL_SENDER")
        return False
    reference, slot = audit.context["reference"], ONE_OF.get(kind, kind)
    sent = services.leases.reply_once(reference, slot, lambda: services.mailbox.reply(
        email, reply.subject, reply.body, key=f"{reference}/{slot}"))
    audit("reply", "sent" if sent else "sent_before", kind=kind)
    return sent


@task(name="finish", retries=2, retry_delay_seconds=1, retry_condition_fn=retry_system_faults,
      cache_policy=NO_CACHE)
def finish(services: Services, email: Email, folder: FinalFolder, audit: AuditEvents, outcome: str,
           code: str | None = None, case_reference: str | None = None, process: str | None = None) -> None:
    """Record the outcome durably, then move the email out of processing, then let the item go.

    The order makes a crash anywhere safe: before the ledger write the item is recovered and finished
    again (its replies are not repeated); after it, recovery sees a finished item still in processing and
    only moves it. Audit first: never a silent move."""
    reference = audit.context["reference"]
    fields = {"process": process} if process else {}
    try:
        services.leases.update(reference, folder, outcome=outcome, reason_code=code, case_reference=case_reference,
                               **fields)
    except LeaseLost:
        raise
    except ClerkError as exc:  # the audit trail and the mailbox still record the outcome
        audit("ledger", "failed", code=exc.code)
    audit("finish", outcome, folder=folder, code=code, case_reference=case_reference)
    audit.flush()
    services.mailbox.move(email, folder)
    try:
        services.leases.release(reference)
    except ClerkError as exc:  # the lease simply runs out
        audit("ledger", "release_failed", code=exc.code)


def park(services: Services, email: Email, error: ClerkError, audit: AuditEvents, reply: Reply | None,
         started: float, process: str | None) -> ItemResult:
    """End an item in Exceptions: audit the error, tell the sender (if they may be told), move the email.

    If another worker has taken the item over meanwhile, stop: it is that worker's to finish."""
    business = isinstance(error, BusinessError)
    kind, outcome = ("business", "rejected") if business else ("system", "system_error")
    try:
        audit("error", kind, code=error.code, message=error.message, reasons=error.reasons if business else None)
        if reply is not None:
            try:
                send_reply(services, email, reply, audit, kind="rejection" if business else "delay")
            except LeaseLost:
                raise
            except Exception as exc:  # noqa: BLE001 - a reply that cannot be sent (even a bug) must not keep
                audit("reply", "failed", code=getattr(exc, "code", "UNEXPECTED"))  # the email out of Exceptions
        finish(services, email, "exceptions", audit, outcome=outcome, code=error.code, process=process)
    except LeaseLost as lost:
        return handed_over(email, audit, lost, started, process)
    return ItemResult(email.id, audit.context["reference"], process, outcome, "exceptions", code=error.code,
                      seconds=time.perf_counter() - started)


def handed_over(email: Email, audit: AuditEvents, lost: LeaseLost, started: float, process: str | None) -> ItemResult:
    """This worker lost its claim on the item (it was presumed dead): touch nothing more."""
    audit("claim", "lost", code=lost.code)
    return ItemResult(email.id, audit.context["reference"], process, HANDED_OVER, "processing", code=lost.code,
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
