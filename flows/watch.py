"""``clerk watch``: a long-running intake that starts within seconds of an email arriving.

The mailbox's watcher (EWS streaming subscription, Graph delta query, or polling) says when new mail may
have arrived; each wake-up runs one ``mail-intake`` flow pass, which claims everything in the inbox. A sweep
every ``mailbox.sweep_interval_s`` catches anything a watcher missed. Claiming is a move, so two watchers
(or a watcher and ``clerk run intake``) never process one email twice. A dropped connection or a mail
server restart is logged and retried with a growing pause; the watcher re-subscribes itself.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

from connectors.errors import ClerkError
from connectors.ledger import clerk_reference
from connectors.mail import MailWatcher
from flows.bootstrap import Services

log = logging.getLogger("clerk.watch")
_MAX_PAUSE_S = 60.0


def watch_mailbox(services: Services, stop: threading.Event, run_pass: Callable[[], object],
                  on_wake: Callable[[], None] | None = None) -> int:
    """Run ``run_pass`` whenever new mail arrives, until ``stop`` is set; returns the passes started.

    Up to ``mailbox.passes_at_once`` passes run at once: mail that arrives while a pass is keying gets its
    own pass (and its acknowledgement) at once. A pass is started only for mail no earlier pass has been
    started for; claiming is a move, so two passes never take one email.
    """
    mailbox, settings = services.mailbox, services.settings.mailbox
    passes, pause = 0, 1.0
    watcher: MailWatcher | None = None
    running: list[Future] = []
    launched_for: set[str] = set()  # inbox ids a started pass will claim
    due, last_sweep = True, float("-inf")  # look at once: mail may have arrived while nobody was watching
    with ThreadPoolExecutor(max_workers=settings.passes_at_once, thread_name_prefix="intake-pass") as pool:
        while not stop.is_set():
            try:
                if watcher is None:
                    watcher = mailbox.watch()
                    log.info("watching the inbox (%s)", watcher.mode)
                if time.monotonic() - last_sweep >= settings.sweep_interval_s:  # the safety net
                    requeue_stranded(services)
                    last_sweep, due = time.monotonic(), True
                running = _still_running(running)
                if due and len(running) < settings.passes_at_once:
                    if on_wake:
                        on_wake()
                    waiting = {email.id for email in mailbox.list_new(settings.max_batch)}
                    # Gone from the inbox: claimed. Still there with no pass running: a pass missed them.
                    launched_for &= waiting if running else set()
                    if waiting - launched_for:
                        launched_for |= waiting
                        running.append(pool.submit(contextvars.copy_context().run, run_pass))
                        passes += 1
                    due = False
                woke = watcher.wait(0.1 if due else min(1.0, settings.sweep_interval_s))
                due = due or woke
                pause = 1.0
            except ClerkError as exc:  # the mail server is down or restarting: wait, then watch again
                log.warning("mailbox problem, retrying in %.0f s: %s", pause, exc)
                if watcher is not None:
                    _close_quietly(watcher)
                    watcher = None
                stop.wait(pause)
                pause, due = min(pause * 2, _MAX_PAUSE_S), True
        if watcher is not None:
            _close_quietly(watcher)
        for future in running:  # let passes under way finish their emails
            future.exception()
        _still_running(running)
    return passes


def _still_running(running: list[Future]) -> list[Future]:
    """The passes not yet finished; a pass that failed outright is logged (its emails stay for the sweep)."""
    for future in running:
        if future.done() and future.exception() is not None:
            log.error("an intake pass failed: %s", future.exception())
    return [future for future in running if not future.done()]


def requeue_stranded(services: Services, now: datetime | None = None) -> list[str]:
    """Put back in the inbox the emails a stopped worker left in Processing, so none is ever lost.

    An email counts as stranded when its ledger row has not changed for ``mailbox.stranded_after_s``
    (``review.timeout_s`` more for an item waiting for a supervisor: its run would have timed out by then).
    The next pass reads it again; the Clerk reference check means nothing is keyed twice.
    """
    now = now or datetime.now(UTC)
    settings = services.settings
    requeued = []
    for email in services.mailbox.list_folder("processing"):
        reference = clerk_reference(email.message_id)
        item = services.ledger.get(reference)
        if item is None or item.state in ("done", "exceptions"):
            continue
        idle = (now - datetime.fromisoformat(item.updated_at)).total_seconds()
        limit = settings.mailbox.stranded_after_s + (settings.review.timeout_s if item.state == "waiting" else 0)
        if idle < limit:
            continue
        services.mailbox.requeue(email)
        audit = services.audit.bind(reference=reference, email_id=email.id, process=item.process)
        audit("requeue", "stranded", previous_state=item.state, idle_s=round(idle))
        audit.flush()
        requeued.append(reference)
        log.warning("%s was left in Processing (%s) by a stopped worker: back in the inbox", reference, item.state)
    return requeued


def _close_quietly(watcher: MailWatcher) -> None:
    try:
        watcher.close()
    except Exception as exc:  # noqa: BLE001 - closing a broken subscription must not stop the loop
        log.info("closing the watcher failed: %s", exc)
