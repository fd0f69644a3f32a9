"""Server-side sessions: who is logged in, how long they have been idle, and their half-keyed case."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from sandbox.casebook.store import Criteria


@dataclass
class Session:
    sid: str
    user: str
    last_seen: float
    show_motd: bool = True
    # The "New Blue Badge case" wizard: current step (1-4) and the values accepted so far.
    step: int = 1
    draft: dict[str, str] = field(default_factory=dict)
    looked_up: set[str] = field(default_factory=set)  # postcodes checked with "Find address"
    search: Criteria | None = None

    def reset_draft(self) -> None:
        self.step = 1
        self.draft = {}
        self.looked_up = set()


class Sessions:
    """Thread-safe session table. ``lookup`` tells a live session from an idle-expired one."""

    EXPIRED = "expired"
    MISSING = "missing"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def create(self, user: str, *, show_motd: bool) -> Session:
        session = Session(sid=secrets.token_urlsafe(24), user=user, last_seen=time.monotonic(), show_motd=show_motd)
        with self._lock:
            self._sessions[session.sid] = session
        return session

    def lookup(self, sid: str | None, timeout_s: float) -> Session | str:
        """The live session (touched), or MISSING (no cookie) or EXPIRED (idle too long, or unknown)."""
        if not sid:
            return self.MISSING
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return self.EXPIRED  # e.g. the server was restarted: legacy apps say "expired" too
            if now - session.last_seen >= timeout_s:
                del self._sessions[sid]
                return self.EXPIRED
            session.last_seen = now
            return session

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)

    def expire_all(self) -> None:
        """Make every current session idle-expired (their next request sees the login page)."""
        with self._lock:
            for session in self._sessions.values():
                session.last_seen = float("-inf")
