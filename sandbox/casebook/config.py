"""Casebook's settings: the faults it injects and how it behaves. Mutable at runtime (tests flip them)."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.kit.config import EnvSettings, common_env, parse_bool, parse_int

# field name -> (environment variable, parser)
_ENV = {
    **common_env("CASEBOOK"),
    "popup": ("CASEBOOK_POPUP", parse_bool),
    "postcode_delay_ms": ("CASEBOOK_POSTCODE_DELAY_MS", parse_int),
}


@dataclass
class CasebookConfig(EnvSettings):
    APP = "Casebook"
    ENV = _ENV
    HINTS = {"error_rate": "use a number between 0 and 1", "session_timeout_s": "use a number of seconds"}

    latency_ms: int = 0  # added to every response
    error_rate: float = 0.0  # fraction of requests answered "System busy, please try again" (HTTP 503)
    session_timeout_s: float = 900  # idle timeout of the session cookie
    popup: bool = True  # "message of the day" popup after login
    postcode_delay_ms: int = 600  # how long the postcode lookup takes
    page_size: int = 10  # search results per page
    seed: int | None = None  # for the error-rate RNG

    def problem(self) -> str | None:
        """The first invalid setting as a sentence naming the field, or None."""
        if self.postcode_delay_ms < 0:
            return "postcode_delay_ms must be 0 or more"
        return super().problem()
