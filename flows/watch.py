"""``clerk watch``: a long-running intake that starts within seconds of an email arriving.

The mailbox's watcher (EWS streaming subscription, Graph delta query, or polling) says when new mail may
have arrived; each wake-up runs one ``mail-intake`` flow pass, which claims everything in the inbox. A sweep
every ``mailbox.sweep_interval_s`` (and the first look at start-up) runs a pass whatever the watcher says:
it catches anything a watcher missed, and the pass recovers emails a stopped worker left in Processing
(flows/claiming.py). Claiming is a ledger lease and then a move, so two watchers (or a watcher and
``clerk run intake``) never process one email twice. A dropped connection or a mail server restart is
logged and retried with a growing pause; the watcher re-subscribes itself.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from connectors.errors import ClerkError
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
    due, last_sweep, sweep = True, float("-inf"), False  # look at once: mail may have arrived while nobody watched
    with ThreadPoolExecutor(max_workers=settings.passes_at_once, thread_name_prefix="intake-pass") as pool:
        while not stop.is_set():
            try:
                if watcher is None:
                    watcher = mailbox.watch()
                    log.info("watching the inbox (%s)", watcher.mode)
                if time.monotonic() - last_sweep >= settings.sweep_interval_s:  # the safety net
                    last_sweep, due, sweep = time.monotonic(), True, True
                running = _still_running(running)
                if due and len(running) < settings.passes_at_once:
                    if on_wake:
                        on_wake()
                    waiting = {email.id for email in mailbox.list_new(settings.max_batch)}
                    # Gone from the inbox: claimed. Still there with no pass running: a pass missed them.
                    launched_for &= waiting if running else set()
                    if waiting - launched_for or sweep:  # a sweep's pass also recovers stranded mail
                        launched_for |= waiting
                        running.append(pool.submit(contextvars.copy_context().run, run_pass))
                        passes += 1
                    due = sweep = False
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


def _close_quietly(watcher: MailWatcher) -> None:
    try:
        watcher.close()
    except Exception as exc:  # noqa: BLE001 - closing a broken subscription must not stop the loop
        log.info("closing the watcher failed: %s", exc)
