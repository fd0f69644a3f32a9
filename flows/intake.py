"""Mail intake: recover, claim new emails, check who sent them, route each to its process, acknowledge.

Reads like runbooks/blue-badge.md's "What happens to an email":
  1. recover: emails a stopped worker left in Processing are finished, taken over or put back
  2. claim: take the item's lease in the ledger, then move Inbox -> Processing (a second worker cannot
     claim it too; a crash in between loses nothing)
  3. route: config rules pick the process          (no match -> Exceptions, polite reply)
  4. sender check: the process's allow-list        (not allowed -> Exceptions; internal senders told why)
  5. acknowledge within seconds, once               (a copy of an email already done is filed quietly;
     an email whose subject is "status CLK-..." is answered with that item's state instead)
  6. hand each process its batch (one Prefect flow run per process per pass, one browser for the batch)
An email that cannot be read, or that trips a bug, is parked in Exceptions on its own: the rest of the
batch goes on.
"""

from __future__ import annotations

import time
from collections import defaultdict

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from connectors.errors import BusinessError, ClerkError
from connectors.errors import SystemError as ClerkSystemError
from connectors.ledger import clerk_reference
from connectors.mail import unreadable_error
from flows import replies
from flows.audit_anchor import publish_checkpoint
from flows.bootstrap import Services, current_services
from flows.claiming import Claimed, claim_new_mail, recover_stranded
from flows.registry import process_flow
from flows.routing import check_sender, route
from flows.status import answer_status, status_request
from flows.steps import ItemResult, finish, park, publish_review, send_reply


def accept(services: Services, claimed: Claimed) -> tuple[str, ItemResult | None]:
    """Route, check the sender, record and acknowledge. Returns the process, or a parked result."""
    email, previous = claimed.email, claimed.previous
    started = time.perf_counter()
    reference = clerk_reference(email.message_id)
    audit = services.audit.bind(run=str(flow_run.id or "local"), reference=reference, email_id=email.id)
    audit("claim", "recovered" if claimed.recovered else "ok", sender=email.sender,
          received=email.received.isoformat(), attempt=previous.attempts + 1 if previous else 1)
    if email.unreadable:
        error = unreadable_error()
        audit("read", "failed", problem=email.unreadable)
        return "unrouted", park(services, email, error, audit, replies.rejected(reference, error.message, error.reasons),
                                started, None)
    asked = status_request(email)
    if asked:
        return "status", answer_status(services, email, asked, audit.bind(asked=asked))
    process = None
    try:
        process = route(email, services.settings)
        audit = audit.bind(process=process)
        check_sender(email, process, services.settings)
    except BusinessError as exc:
        get_run_logger().info("%s refused: %s", reference, exc.code)
        return process or "unrouted", park(services, email, exc, audit,
                                            replies.rejected(reference, exc.message, exc.reasons), started, process)
    if previous is not None and previous.state == "done" and not claimed.recovered:
        # The same email again (a mail server's redelivery): it was keyed and answered; say nothing more.
        audit("duplicate_delivery", "seen_before", attempts=previous.attempts + 1, case_reference=previous.case_reference)
        finish(services, email, "done", audit, outcome="duplicate_delivery", case_reference=previous.case_reference,
               process=process)
        return process, ItemResult(email.id, reference, process, "duplicate_delivery", "done",
                                   case_reference=previous.case_reference, seconds=time.perf_counter() - started)
    if previous is not None:
        audit("duplicate_delivery" if not claimed.recovered else "resume", "seen_before",
              attempts=previous.attempts + 1, previous_state=previous.state)
    services.leases.update(reference, "received", process=process)
    send_reply(services, email, replies.acknowledgement(reference, email.subject), audit, kind="acknowledgement")
    services.leases.update(reference, "acknowledged")
    return process, None


def accept_or_park(services: Services, claimed: Claimed) -> tuple[str | None, ItemResult | None]:
    """:func:`accept`, with any failure (a mailbox or ledger fault, a bug) parking this email alone."""
    try:
        return accept(services, claimed)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, this email ends in Exceptions, never stranded
        email = claimed.email
        reference = clerk_reference(email.message_id)
        error = exc if isinstance(exc, ClerkError) else ClerkSystemError(
            f"unexpected {type(exc).__name__} while accepting the email", code="UNEXPECTED")
        get_run_logger().warning("%s parked in Exceptions: %s", reference, error.code)
        audit = services.audit.bind(run=str(flow_run.id or "local"), reference=reference, email_id=email.id)
        return None, park(services, email, error, audit, replies.system_problem(reference), time.perf_counter(), None)


@flow(name="mail-intake")
def intake(limit: int | None = None, process: str | None = None) -> list[ItemResult]:
    """One pass over the mailbox: every email found ends in Done or Exceptions.

    Claims ``mailbox.max_batch`` emails at a time and keys them before claiming more, until the inbox is
    empty, ``limit`` emails were taken, or ``mailbox.pass_limit_s`` has passed: a second worker's pass
    shares a busy inbox instead of finding it all claimed. ``process`` takes only that process's emails
    (the rest wait for a full pass); mail a stopped worker left behind is always taken over."""
    services = current_services()
    settings = services.settings.mailbox
    logger = get_run_logger()
    results: list[ItemResult] = []
    ends = time.monotonic() + settings.pass_limit_s
    with services.leases.scope() as pass_id:
        taken = recover_stranded(services, pass_id)
        if taken:
            logger.info("took over %d email%s left by a stopped worker", len(taken), "" if len(taken) == 1 else "s")
        remaining = limit
        while True:
            size = settings.max_batch if remaining is None else min(settings.max_batch, remaining)
            claimed, _deferred = claim_new_mail(services, size, pass_id, process) if size else ([], 0)
            logger.info("claimed %d new email%s", len(claimed), "" if len(claimed) == 1 else "s")
            results.extend(process_claimed(services, [*taken, *claimed]))
            taken = []
            remaining = None if remaining is None else remaining - len(claimed)
            # Another round while this one found mail: the rest of the inbox, and any second copy of an
            # email this round held (a redelivery waits for its original to finish).
            if not claimed or remaining == 0 or time.monotonic() > ends:
                break
    done = sum(1 for result in results if result.folder == "done")
    parked = sum(1 for result in results if result.folder == "exceptions")
    logger.info("intake pass finished: %d done, %d in exceptions", done, parked)
    if results:
        publish_review(results, "intake-items")
    name_run(f"mail-intake: {done} done, {parked} in exceptions" if results else "mail-intake: no new mail")
    seal_audit_trail(services)
    return results


def name_run(name: str) -> None:
    """Name this run by what it did, so the runs that found nothing are easy to pass over in Prefect's UI."""
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            client.update_flow_run(flow_run.id, name=name)
    except Exception as exc:  # noqa: BLE001 - a name is a courtesy: never fail a pass for it
        get_run_logger().info("could not rename the run: %s", exc)


def process_claimed(services: Services, claimed: list[Claimed]) -> list[ItemResult]:
    """Accept each email, then hand each process its batch."""
    results: list[ItemResult] = []
    batches: dict[str, list[str]] = defaultdict(list)
    for item in claimed:
        process, parked = accept_or_park(services, item)
        if parked:
            results.append(parked)
        else:
            batches[process].append(item.email.id)
    for process, email_ids in batches.items():
        results.extend(process_flow(services.settings, process)(email_ids))
    return results


def seal_audit_trail(services: Services) -> None:
    """Write an audit checkpoint (counter, last sequence number and head hash, HMAC-signed) outside the log,
    and publish it as an artifact: the anchor that shows the audit folder was put back to an older copy."""
    publish_checkpoint(services.audit.checkpoint(str(flow_run.id or "local")))
