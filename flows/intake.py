"""Mail intake: claim new emails, check who sent them, route each to its process, acknowledge.

Reads like runbooks/blue-badge.md's "What happens to an email":
  1. claim: move Inbox -> Processing (a second worker cannot claim it too)
  2. route: config rules pick the process          (no match -> Exceptions, polite reply)
  3. sender check: the process's allow-list        (not allowed -> Exceptions; internal senders told why)
  4. record the work item under its Clerk reference, and acknowledge within seconds
     (an email whose subject is "status CLK-..." is answered with that item's state instead)
  5. hand each process its batch (one Prefect flow run per process per pass, one browser for the batch)
"""

from __future__ import annotations

import time
from collections import defaultdict

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from connectors.errors import AlreadyClaimed, BusinessError, ClerkError
from connectors.ledger import clerk_reference
from connectors.mail import Email
from flows import replies
from flows.audit_anchor import publish_checkpoint
from flows.blue_badge import blue_badge
from flows.bootstrap import Services, current_services
from flows.routing import check_sender, route
from flows.status import answer_status, status_request
from flows.steps import ItemResult, park, publish_review, send_reply

PROCESS_FLOWS = {"blue_badge": blue_badge}


@task(name="claim-new-mail", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def claim_new_mail(services: Services, limit: int | None) -> list[Email]:
    claimed = []
    for email in services.mailbox.list_new(limit or services.settings.mailbox.max_batch):
        try:
            claimed.append(services.mailbox.claim(email))
        except AlreadyClaimed:  # another worker won the race: not ours, not an error
            continue
    return claimed


def accept(services: Services, email: Email) -> tuple[str, ItemResult | None]:
    """Route, check the sender, record and acknowledge. Returns the process, or a parked result."""
    started = time.perf_counter()
    reference = clerk_reference(email.message_id)
    audit = services.audit.bind(run=str(flow_run.id or "local"), reference=reference, email_id=email.id)
    audit("claim", "ok", sender=email.sender, received=email.received.isoformat())
    asked = status_request(email)
    if asked:
        return "status", answer_status(services, email, asked, audit.bind(asked=asked))
    process = None
    try:
        process = route(email, services.settings)
        audit = audit.bind(process=process)
        check_sender(email, process, services.settings)
    except BusinessError as exc:
        services.ledger.open(reference, email.message_id, process or "unrouted")
        get_run_logger().info("%s refused: %s", reference, exc.code)
        return process or "unrouted", park(services, email, exc, audit,
                                            replies.rejected(reference, exc.message, exc.reasons), started, process)
    item = services.ledger.open(reference, email.message_id, process)
    if item.attempts > 1:
        audit("duplicate_delivery", "seen_before", attempts=item.attempts, previous_state=item.state)
    else:
        send_reply(services, email, replies.acknowledgement(reference, email.subject), audit, kind="acknowledgement")
        services.ledger.update(reference, "acknowledged")
    return process, None


@flow(name="mail-intake")
def intake(limit: int | None = None) -> list[ItemResult]:
    """One pass over the mailbox: every email found ends in Done or Exceptions."""
    services = current_services()
    logger = get_run_logger()
    claimed = claim_new_mail(services, limit)
    logger.info("claimed %d new email%s", len(claimed), "" if len(claimed) == 1 else "s")
    batches: dict[str, list[str]] = defaultdict(list)
    results: list[ItemResult] = []
    for email in claimed:
        try:
            process, parked = accept(services, email)
        except ClerkError as exc:  # the ledger or mailbox failed mid-way: park the email, keep going
            reference = clerk_reference(email.message_id)
            parked = park(services, email, exc, services.audit.bind(reference=reference, email_id=email.id),
                          replies.system_problem(reference), time.perf_counter(), None)
            process = None
        if parked:
            results.append(parked)
        else:
            batches[process].append(email.id)
    for process, email_ids in batches.items():
        results.extend(PROCESS_FLOWS[process](email_ids))
    done = sum(1 for result in results if result.folder == "done")
    logger.info("intake pass finished: %d done, %d in exceptions", done, len(results) - done)
    if results:
        publish_review(results, "intake-items")
    seal_audit_trail(services)
    return results


def seal_audit_trail(services: Services) -> None:
    """Write an audit checkpoint (counter, last sequence number and head hash, HMAC-signed) outside the log,
    and publish it as an artifact: the anchor that shows the audit folder was put back to an older copy."""
    publish_checkpoint(services.audit.checkpoint(str(flow_run.id or "local")))
