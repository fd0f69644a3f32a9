"""This worker's claims on work items: who it is, which items it holds, and the heartbeat that keeps them.

A worker process has one identity (``host/pid/nonce``). It claims an item in the ledger before it touches
the email, and a background thread renews the leases of the items it holds every third of
``ledger.lease_s``. If the process dies (SIGKILL, a power cut, a stopped container), renewal stops and the
lease runs out; any pass on any worker then takes the item over. A worker on the same host notices a
dead owner at once (its pid is gone) and does not wait for the lease. An item whose pass ended without
finishing it (a bug) is let go at once, so the next pass recovers it.

Every write the flows make about a held item goes through :class:`Leases`, which adds the claim's fencing
token: a worker that was presumed dead and comes back finds its writes refused (``LeaseLost``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator

from connectors.ledger import Claim, LeaseLost, Ledger, WorkItem

log = logging.getLogger("clerk.leases")


def worker_identity() -> str:
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"


def owner_is_dead(owner: str | None) -> bool:
    """True only when ``owner`` certainly stopped: a process of this host whose pid is gone."""
    if not owner:
        return False
    host, _, rest = owner.partition("/")
    pid = rest.partition("/")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class Leases:
    """The items this worker process holds, and their renewal."""

    def __init__(self, ledger: Ledger, lease_s: float, owner: str | None = None) -> None:
        self.ledger = ledger
        self.lease_s = lease_s
        self.owner = owner or worker_identity()
        self._held: dict[str, int] = {}
        self._passes: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    # --- claiming -----------------------------------------------------------------------------------
    def claim(self, reference: str, message_id: str, email_id: str | None = None,
              current: WorkItem | None = None, pass_id: str = "") -> Claim | None:
        """Claim an item for this worker; None when a live worker holds it (or this worker already does).

        ``current`` is the row as last read: if its owner is a dead process of this host, the lease is
        taken over without waiting for it to run out. ``pass_id`` names the :meth:`scope` it belongs to."""
        with self._lock:
            if reference in self._held:
                return None
        steal = (current.owner, current.fence) if current is not None and owner_is_dead(current.owner) else None
        claim = self.ledger.claim(reference, message_id, self.owner, self.lease_s, email_id=email_id, steal=steal)
        if claim is not None:
            with self._lock:
                self._held[reference] = claim.fence
                self._passes[reference] = pass_id
            self._start_heartbeat()
        return claim

    def pass_of(self, reference: str) -> str | None:
        """The pass (its :meth:`scope` id) holding ``reference`` in this worker, if any."""
        with self._lock:
            return self._passes.get(reference)

    def holds(self, reference: str) -> bool:
        with self._lock:
            return reference in self._held

    def fence(self, reference: str) -> int:
        with self._lock:
            fence = self._held.get(reference)
        if fence is None:
            raise LeaseLost(f"this worker does not hold {reference}")
        return fence

    def is_free(self, item: WorkItem | None) -> bool:
        """Nobody is working on the item: no lease, an expired one, or a dead owner's (and not ours)."""
        if item is None:
            return True
        if self.holds(item.reference):
            return False
        return not item.leased() or owner_is_dead(item.owner)

    # --- writes under the claim ---------------------------------------------------------------------
    def update(self, reference: str, state: str, **fields: str | None) -> None:
        self.ledger.update(reference, state, fence=self.fence(reference), **fields)

    def reply_once(self, reference: str, kind: str, send: Callable[[], object]) -> bool:
        """Send the reply of this kind unless it was sent before; False when it had been.

        Recorded as ``sending`` before and ``sent`` after: a crash in between leaves ``sending``, and the
        reply is sent again on recovery (a reply is never lost; a duplicate needs a crash in that instant).
        """
        if self.ledger.reply_state(reference, kind) == "sent":
            return False
        fence = self.fence(reference)
        self.ledger.record_reply(reference, kind, "sending", fence=fence)
        send()
        self.ledger.record_reply(reference, kind, "sent", fence=fence)
        return True

    def release(self, reference: str) -> None:
        """The item is finished (or given back): its lease ends now."""
        with self._lock:
            fence = self._held.pop(reference, None)
            self._passes.pop(reference, None)
        if fence is not None:
            self.ledger.release(reference, fence)

    def let_go(self, references: list[str]) -> list[str]:
        """Give up items a pass did not finish, so the next pass recovers them at once; returns them."""
        dropped = []
        for reference in references:
            if self.holds(reference):
                with contextlib.suppress(Exception):  # the lease runs out by itself if this fails
                    self.release(reference)
                dropped.append(reference)
        return dropped

    @contextlib.contextmanager
    def scope(self) -> Iterator[str]:
        """One intake pass: yields its id (give it to :meth:`claim`); whatever the pass still holds when it
        ends (a bug, a failed step) is let go, so the next pass recovers it at once."""
        pass_id = secrets.token_hex(6)
        try:
            yield pass_id
        finally:
            with self._lock:
                left = [reference for reference, owner in self._passes.items() if owner == pass_id]
            if self.let_go(left):
                log.warning("a pass ended without finishing %s; the next pass takes them again", ", ".join(left))

    # --- renewal ------------------------------------------------------------------------------------
    def _start_heartbeat(self) -> None:
        with self._lock:
            if self._heartbeat is not None or self._stop.is_set():
                return
            self._heartbeat = threading.Thread(target=self._renew_forever, name="clerk-lease-heartbeat",
                                               daemon=True)
            self._heartbeat.start()

    def _renew_forever(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            self.renew()

    def renew(self) -> None:
        with self._lock:
            held = dict(self._held)
        try:
            lost = self.ledger.renew(self.owner, held, self.lease_s)
        except Exception as exc:  # noqa: BLE001 - the next beat tries again; the lease outlasts two misses
            log.warning("could not renew leases: %s", exc)
            return
        with self._lock:  # an item released since the snapshot is not lost, only finished
            lost = {reference for reference in lost if self._held.get(reference) == held[reference]}
            for reference in lost:
                del self._held[reference]
                self._passes.pop(reference, None)
        if lost:
            log.warning("lost the lease on %s (taken over by another worker)", ", ".join(sorted(lost)))

    def close(self) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
