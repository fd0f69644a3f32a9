"""Cookie sessions with idle expiry: who is logged in and how long they have been idle.

An app keeps its own per-user state in a subclass of :class:`Session` (a dataclass) and passes that
class to :class:`Sessions`.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar


@dataclass
class Session:
    sid: str
    user: str
    last_seen: float


S = TypeVar("S", bound=Session)


class Sessions(Generic[S]):
    """Thread-safe session table. ``lookup`` tells a live session from an idle-expired one."""

    EXPIRED = "expired"
    MISSING = "missing"

    def __init__(self, factory: Callable[..., S]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._sessions: dict[str, S] = {}

    def create(self, user: str, **state: object) -> S:
        session = self._factory(sid=secrets.token_urlsafe(24), user=user, last_seen=time.monotonic(), **state)
        with self._lock:
            self._sessions[session.sid] = session
        return session

    def lookup(self, sid: str | None, timeout_s: float) -> S | str:
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


def set_cookie(name: str, sid: str) -> tuple[str, str]:
    return ("Set-Cookie", f"{name}={sid}; Path=/; HttpOnly; SameSite=Lax")


def clear_cookie(name: str) -> tuple[str, str]:
    return ("Set-Cookie", f"{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
