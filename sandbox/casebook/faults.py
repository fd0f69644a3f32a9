"""The faults Casebook injects: slow answers and "System busy" (HTTP 503).

Both read the live :class:`CasebookConfig`, so tests can change them between steps.
"""

from __future__ import annotations

import random
import threading
import time

from sandbox.casebook.config import CasebookConfig


class Faults:
    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def delay(self, config: CasebookConfig) -> None:
        """The configured latency, added to every response (static files included)."""
        if config.latency_ms > 0:
            time.sleep(config.latency_ms / 1000)

    def busy(self, config: CasebookConfig) -> bool:
        """Whether to answer this request with the "System busy" page instead of handling it.

        Called once per request, before anything else happens, so a busy POST changes nothing.
        """
        rate = config.error_rate
        if rate <= 0:
            return False
        if rate >= 1:
            return True
        with self._lock:
            return self._rng.random() < rate

    @staticmethod
    def postcode_delay(config: CasebookConfig) -> None:
        if config.postcode_delay_ms > 0:
            time.sleep(config.postcode_delay_ms / 1000)
