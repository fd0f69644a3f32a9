"""A sandbox app's settings: a dataclass read from ``<APP>_*`` environment variables.

Subclass :class:`EnvSettings` with a ``@dataclass`` of knobs, name each knob's variable and parser in
``ENV`` and extend :meth:`EnvSettings.problem` with the app's own range checks. A value that does not
parse, or is out of range, stops start-up with a ValueError that names the variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import fields
from typing import Any, ClassVar

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

Parser = Callable[[str], Any]


def parse_bool(raw: str) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("must be 0/1/true/false")


def parse_int(raw: str) -> int:
    return int(raw.strip())


def parse_float(raw: str) -> float:
    return float(raw.strip())


def parse_text(raw: str) -> str:
    """Text as given (trimmed); the settings' own check says whether it is valid."""
    return raw.strip()


# What to write instead, when a value does not parse at all (an app's HINTS may say it better).
_PARSER_HINTS: dict[Parser, str] = {
    parse_bool: "use 0, 1, true or false",
    parse_int: "use a whole number",
    parse_float: "use a number",
}


def common_env(prefix: str) -> dict[str, tuple[str, Parser]]:
    """The knobs every sandbox app has, as ``ENV`` entries: latency, error rate, session timeout, page size, seed."""
    return {
        "latency_ms": (f"{prefix}_LATENCY_MS", parse_int),
        "error_rate": (f"{prefix}_ERROR_RATE", parse_float),
        "session_timeout_s": (f"{prefix}_SESSION_TIMEOUT_S", parse_float),
        "page_size": (f"{prefix}_PAGE_SIZE", parse_int),
        "seed": (f"{prefix}_SEED", parse_int),
    }


class EnvSettings:
    """Mixin for a settings dataclass with the common knobs (``latency_ms``, ``error_rate``,
    ``session_timeout_s``, ``page_size``, ``seed``). Construction checks every value."""

    APP: ClassVar[str]  # the app's name, for messages
    ENV: ClassVar[dict[str, tuple[str, Parser]]]  # field name -> (environment variable, parser)
    HINTS: ClassVar[dict[str, str]] = {}  # field name -> what to write, when a value does not parse

    latency_ms: int
    error_rate: float
    session_timeout_s: float
    page_size: int

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem:
            raise ValueError(problem)

    def problem(self) -> str | None:
        """The first invalid setting as a sentence naming the field, or None. Subclasses add theirs."""
        if self.latency_ms < 0:
            return "latency_ms must be 0 or more"
        if not 0.0 <= self.error_rate <= 1.0:
            return "error_rate must be between 0 and 1"
        if self.session_timeout_s < 0:
            return "session_timeout_s must be 0 or more"
        if self.page_size < 1:
            return "page_size must be 1 or more"
        return None

    @classmethod
    def from_env(cls, **overrides: Any):
        """Read the ``ENV`` variables (unset or blank means the default); ``overrides`` win.

        A value that does not parse, or is out of range, raises ValueError naming the variable.
        """
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown {cls.APP} setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, object] = {}
        for name, (variable, parse) in cls.ENV.items():
            raw = os.environ.get(variable)
            if raw is None or not raw.strip():
                continue
            try:
                values[name] = parse(raw)
                cls(**{name: values[name]})  # range check on its own, so the message names the variable
            except ValueError as exc:
                unparsed = name not in values
                reason = cls.HINTS.get(name) or _PARSER_HINTS.get(parse, "see the documentation")
                raise ValueError(f"{variable}={raw!r} is not valid: {reason if unparsed else exc}") from None
        values.update(overrides)
        return cls(**values)
