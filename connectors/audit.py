"""The audit trail: one JSON line per step of every item, through a structlog pipeline.

Pipeline: bound context (run, item, reference, process) -> sequence number and UTC time -> redaction
-> JSON. Redaction runs before anything is rendered, so National Insurance numbers, dates of birth,
applicants' email addresses and phone numbers, and anything under a secret-looking key never reach
the file. ``flush()`` fsyncs: the flows call it before an email moves to Done or Exceptions.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

MASK = "***"
# Keys whose values are staff or system identifiers, kept as they are.
_KEEP_KEYS = {"event", "step", "outcome", "sender", "mailbox", "reference", "case_reference", "process", "run",
              "item", "code", "seq", "time", "actor", "email_id", "duplicate_of"}
_SECRET_KEY = re.compile(r"pass(word)?|secret|token|api[_-]?key|authori[sz]ation|cookie", re.I)
_PATTERNS = (
    (re.compile(r"\b[A-Za-z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-Da-d]\b"), "[NI number]"),
    (re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{4}\b|\b\d{4}-\d{2}-\d{2}\b"), "[date]"),
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[email]"),
    (re.compile(r"(\+44\s?|\b0)\d(?:[\s-]?\d){8,9}\b"), "[phone]"),
)


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key):
        return MASK
    if isinstance(value, str):
        return value if key in _KEEP_KEYS else redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, v) for v in value]
    return value


def redact(_logger, _method, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask personal data and secrets in every value."""
    return {key: _redact_value(key, value) for key, value in event_dict.items()}


class _Stamp:
    """structlog processor: a sequence number and UTC time on every event, in order."""

    def __init__(self, start: int) -> None:
        self._counter = itertools.count(start)

    def __call__(self, _logger, _method, event_dict: dict[str, Any]) -> dict[str, Any]:
        return {"seq": next(self._counter), "time": datetime.now(UTC).isoformat(timespec="milliseconds"), **event_dict}


def _last_sequence(path: Path) -> int:
    if not path.exists() or path.stat().st_size == 0:
        return 0
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 4096))
        tail = handle.read().splitlines()
    match = re.search(rb'"seq":\s*(\d+)', tail[-1]) if tail else None
    return int(match.group(1)) if match else 0


class AuditTrail:
    """Append-only JSON-lines audit file. Thread-safe; one writer per file."""

    def __init__(self, path: str | Path, actor: str = "clerk-bot") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._logger = structlog.wrap_logger(
            structlog.WriteLogger(self._file),
            processors=[
                structlog.processors.EventRenamer("step"),
                _Stamp(_last_sequence(self.path) + 1),
                redact,
                structlog.processors.JSONRenderer(),
            ],
            context_class=dict,
            cache_logger_on_first_use=True,
        ).bind(actor=actor)

    def bind(self, **context: Any) -> AuditEvents:
        return AuditEvents(self, context)

    def record(self, step: str, outcome: str, **fields: Any) -> None:
        with self._lock:
            self._logger.info(step, outcome=outcome, **fields)

    def flush(self) -> None:
        """Make everything recorded so far durable (fsync)."""
        with self._lock:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            self._file.close()


class AuditEvents:
    """An audit trail bound to one item's context (run, reference, process)."""

    def __init__(self, trail: AuditTrail, context: dict[str, Any]) -> None:
        self._trail = trail
        self.context = context

    def bind(self, **more: Any) -> AuditEvents:
        return AuditEvents(self._trail, {**self.context, **more})

    def __call__(self, step: str, outcome: str, **fields: Any) -> None:
        self._trail.record(step, outcome, **self.context, **fields)

    def flush(self) -> None:
        self._trail.flush()
