"""Claiming mail, and recovering mail a stopped worker left behind: the first two steps of every intake pass.

A claim is a ledger row before it is a move. For each email in the inbox the worker first takes the item's
lease in the ledger (:class:`connectors.leases.Leases`), then moves the email to Processing. A crash
between the two leaves the email in the inbox with a lease that runs out: the next pass claims it again.
A crash after the move leaves it in Processing with a lease nobody renews: recovery takes it over.

Recovery runs at the start of every pass, whatever started it (``clerk run``, ``clerk watch``, the
scheduled deployment, the demo). For every email in Processing that no live worker holds:

* its item is finished in the ledger (a crash between recording the outcome and moving the email): move
  it to Done or Exceptions, as recorded; no reply is repeated;
* its item is unfinished: take it over and process it in this pass (replies already sent are not sent
  again; the Clerk reference check means nothing is keyed twice);
* it has no item at all (claimed by an older Clerk, or the ledger was lost): put it back in the inbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from connectors.errors import AlreadyClaimed, ClerkError
from connectors.ledger import WorkItem, clerk_reference
from connectors.mail import Email
from flows.bootstrap import Services
from flows.steps import retry_system_faults

log = logging.getLogger("clerk.claiming")


@dataclass(frozen=True)
class Claimed:
    """An email this worker now holds, in Processing, and its item as it was before the claim."""

    email: Email
    previous: WorkItem | None
    recovered: bool = False


def _audit(services: Services, email: Email, reference: str):
    return services.audit.bind(run=str(flow_run.id or "local"), reference=reference, email_id=email.id)


@task(name="recover-stranded-mail", retries=2, retry_delay_seconds=2, retry_condition_fn=retry_system_faults,
      cache_policy=NO_CACHE)
def recover_stranded(services: Services, pass_id: str) -> list[Claimed]:
    """Emails in Processing that nobody is working on: finish, take over, or put back (see module doc)."""
    taken = []
    for email in services.mailbox.list_folder("processing"):
        reference = clerk_reference(email.message_id)
        item = services.ledger.get(reference)
        if not services.leases.is_free(item):
            continue  # a live worker (maybe another pass of this one) is on it
        audit = _audit(services, email, reference)
        try:
            if item is None:
                services.mailbox.requeue(email)
                audit("recover", "requeued", reason="no ledger item")
                log.warning("%s was in Processing with no ledger item: back in the inbox", reference)
                continue
            claim = services.leases.claim(reference, email.message_id, email.id, current=item, pass_id=pass_id)
            if claim is None:
                continue  # another worker recovered it first
            if item.final:  # the outcome was recorded; only the move was lost
                services.mailbox.move(email, item.state)
                services.leases.release(reference)
                audit("recover", "moved", folder=item.state, previous_owner=item.owner)
                continue
            audit("recover", "taken_over", previous_state=item.state, previous_owner=item.owner)
            log.warning("%s was left %s by %s: taken over", reference, item.state, item.owner)
            taken.append(Claimed(email, claim.previous, recovered=True))
        except ClerkError as exc:  # this email waits for the next pass; the others go on
            audit("recover", "failed", code=exc.code)
            services.leases.let_go([reference])
    return taken


@task(name="claim-new-mail", retries=2, retry_delay_seconds=2, retry_condition_fn=retry_system_faults,
      cache_policy=NO_CACHE)
def claim_new_mail(services: Services, limit: int | None, pass_id: str,
                   only: str | None = None) -> tuple[list[Claimed], int]:
    """Claim up to ``limit`` new emails: the ledger lease first, then the move to Processing.

    ``only`` names one process: then only emails routed to it are claimed, and the rest stay in the inbox
    for a full pass (``clerk run intake --process NAME``). Returns the claimed emails, and how many were
    left for a later round because this pass already holds their reference (a second copy of one email: it
    is looked at once the first is finished)."""
    claimed, deferred = [], 0
    size = limit or services.settings.mailbox.max_batch
    listed = services.mailbox.list_new(size) if only is None else [
        email for email in services.mailbox.list_new() if _routed_to(email, only, services)][:size]
    for email in listed:
        reference = clerk_reference(email.message_id)
        current = services.ledger.get(reference)
        claim = services.leases.claim(reference, email.message_id, email.id, current=current, pass_id=pass_id)
        if claim is None:  # a live worker holds this reference (another copy of the same email, say)
            deferred += services.leases.pass_of(reference) == pass_id
            continue
        try:
            moved = services.mailbox.claim(email)
        except AlreadyClaimed:  # another worker moved it first: not ours, not an error
            services.leases.let_go([reference])
            continue
        except ClerkError as exc:  # this email stays in the inbox for the next pass; the others go on
            services.leases.let_go([reference])
            log.warning("could not claim %s: %s", reference, exc)
            continue
        claimed.append(Claimed(moved, claim.previous))
    return claimed, deferred


def _routed_to(email: Email, process: str, services: Services) -> bool:
    """Whether ``email`` is for ``process`` (an email no process takes, or one that cannot be read, is not)."""
    from flows.routing import route

    if email.unreadable:
        return False
    try:
        return route(email, services.settings) == process
    except ClerkError:
        return False
