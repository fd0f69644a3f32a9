"""Finance's settings: the faults it injects and its matching tolerance. Mutable at runtime (tests flip them)."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.kit.config import EnvSettings, common_env, parse_float, parse_int

_ENV = {
    **common_env("FINANCE"),
    "grid_delay_ms": ("FINANCE_GRID_DELAY_MS", parse_int),
    "tolerance_pct": ("FINANCE_TOLERANCE_PCT", parse_float),
}


@dataclass
class FinanceConfig(EnvSettings):
    APP = "Finance"
    ENV = _ENV
    HINTS = {"error_rate": "use a number between 0 and 1", "session_timeout_s": "use a number of seconds",
             "tolerance_pct": "use a percentage, like 2.5"}  # fmt: skip

    latency_ms: int = 0  # added to every response
    error_rate: float = 0.0  # fraction of requests answered "System busy" (HTTP 503)
    session_timeout_s: float = 900  # idle timeout of the session cookie
    grid_delay_ms: int = 300  # how long the invoice and order lists take to load (the grid shows "Loading...")
    tolerance_pct: float = 2.0  # the three-way match allows this much over the ordered and received amounts
    page_size: int = 20  # rows per load of a grid ("Load more" fetches the next)
    seed: int | None = None  # for the error-rate RNG

    def problem(self) -> str | None:
        if self.grid_delay_ms < 0:
            return "grid_delay_ms must be 0 or more"
        if not 0 <= self.tolerance_pct <= 100:
            return "tolerance_pct must be between 0 and 100"
        return super().problem()
