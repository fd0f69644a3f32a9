"""Revenues' settings: the faults it injects and its business limits. Mutable at runtime (tests flip them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

from sandbox.kit.config import EnvSettings, common_env, parse_int, parse_text

_ENV = {
    **common_env("REVENUES"),
    "batch_window": ("REVENUES_BATCH_WINDOW", parse_text),
    "max_future_days": ("REVENUES_MAX_FUTURE_DAYS", parse_int),
}
_WINDOW = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


@dataclass
class RevenuesConfig(EnvSettings):
    APP = "Revenues"
    ENV = _ENV
    HINTS = {"error_rate": "use a number between 0 and 1", "session_timeout_s": "use a number of seconds"}

    latency_ms: int = 0  # added to every response
    error_rate: float = 0.0  # fraction of requests answered "System busy" (HTTP 503)
    session_timeout_s: float = 600  # idle timeout of the session cookie
    batch_window: str = ""  # "HH:MM-HH:MM" (local time; may wrap midnight, "24:00" ends a day): read-only then
    max_future_days: int = 30  # move-out and move-in dates at most this many days after today
    page_size: int = 10  # search results per page
    seed: int | None = None  # for the error-rate RNG

    def problem(self) -> str | None:
        if self.batch_window and _window(self.batch_window) is None:
            return "batch_window must be two 24-hour times like 01:00-03:30, or blank for none"
        if self.max_future_days < 0:
            return "max_future_days must be 0 or more"
        return super().problem()

    def batch_until(self, now: datetime | None = None) -> str | None:
        """When the batch run in progress ends ("HH:MM"), or None when there is none at ``now``."""
        window = _window(self.batch_window) if self.batch_window else None
        if window is None:
            return None
        start, end = window
        moment = (now or datetime.now()).time()
        inside = start <= moment < end if start <= end else (moment >= start or moment < end)
        return self.batch_window[-5:] if inside else None


def _window(text: str) -> tuple[time, time] | None:
    match = _WINDOW.fullmatch(text.strip())
    if not match:
        return None
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0) or (h1, m1) == (h2, m2):
        return None
    return time(h1, m1), time.max if h2 == 24 else time(h2, m2)
