"""The faults every sandbox app injects: slow answers, and "System busy" at a seeded rate.

Both read the app's live settings (any object with ``latency_ms`` and ``error_rate``), so tests can
change them between steps.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Protocol


class FaultSettings(Protocol):
    latency_ms: int
    error_rate: float


def pause(milliseconds: float) -> None:
    """Hold the answer back this long (a slow lookup, a slow database)."""
    if milliseconds > 0:
        time.sleep(milliseconds / 1000)


class Faults:
    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def delay(self, settings: FaultSettings) -> None:
        """The configured latency, added to every response (static files included)."""
        pause(settings.latency_ms)

    def busy(self, settings: FaultSettings) -> bool:
        """Whether to answer this request "System busy" instead of handling it.

        Called once per request, before anything else happens, so a busy POST changes nothing.
        """
        rate = settings.error_rate
        if rate <= 0:
            return False
        if rate >= 1:
            return True
        with self._lock:
            return self._rng.random() < rate
