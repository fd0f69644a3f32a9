"""Casebook's settings: the faults it injects and how it behaves. Mutable at runtime (tests flip them)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, fields

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_bool(raw: str) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("must be 0/1/true/false")


def _parse_int(raw: str) -> int:
    return int(raw.strip())


def _parse_float(raw: str) -> float:
    return float(raw.strip())


# field name -> (environment variable, parser)
_ENV: dict[str, tuple[str, Callable[[str], object]]] = {
    "latency_ms": ("CASEBOOK_LATENCY_MS", _parse_int),
    "error_rate": ("CASEBOOK_ERROR_RATE", _parse_float),
    "session_timeout_s": ("CASEBOOK_SESSION_TIMEOUT_S", _parse_float),
    "popup": ("CASEBOOK_POPUP", _parse_bool),
    "postcode_delay_ms": ("CASEBOOK_POSTCODE_DELAY_MS", _parse_int),
    "page_size": ("CASEBOOK_PAGE_SIZE", _parse_int),
    "seed": ("CASEBOOK_SEED", _parse_int),
}


@dataclass
class CasebookConfig:
    latency_ms: int = 0  # added to every response
    error_rate: float = 0.0  # fraction of requests answered "System busy, please try again" (HTTP 503)
    session_timeout_s: float = 900  # idle timeout of the session cookie
    popup: bool = True  # "message of the day" popup after login
    postcode_delay_ms: int = 600  # how long the postcode lookup takes
    page_size: int = 10  # search results per page
    seed: int | None = None  # for the error-rate RNG

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem:
            raise ValueError(problem)

    def problem(self) -> str | None:
        """The first invalid setting as a sentence naming the field, or None."""
        if self.latency_ms < 0:
            return "latency_ms must be 0 or more"
        if not 0.0 <= self.error_rate <= 1.0:
            return "error_rate must be between 0 and 1"
        if self.session_timeout_s < 0:
            return "session_timeout_s must be 0 or more"
        if self.postcode_delay_ms < 0:
            return "postcode_delay_ms must be 0 or more"
        if self.page_size < 1:
            return "page_size must be 1 or more"
        return None

    @classmethod
    def from_env(cls, **overrides) -> CasebookConfig:
        """Read ``CASEBOOK_*`` variables (unset or blank means the default); ``overrides`` win.

        A value that does not parse, or is out of range, raises ValueError naming the variable.
        """
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown Casebook setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, object] = {}
        for name, (variable, parse) in _ENV.items():
            raw = os.environ.get(variable)
            if raw is None or not raw.strip():
                continue
            try:
                values[name] = parse(raw)
                cls(**{name: values[name]})  # range check on its own, so the message names the variable
            except ValueError as exc:
                reason = str(exc) if name in values else _describe(name)  # out of range, or unparseable
                raise ValueError(f"{variable}={raw!r} is not valid: {reason}") from None
        values.update(overrides)
        return cls(**values)


def _describe(name: str) -> str:
    return {
        "popup": "use 0, 1, true or false",
        "error_rate": "use a number between 0 and 1",
        "session_timeout_s": "use a number of seconds",
    }.get(name, "use a whole number")
