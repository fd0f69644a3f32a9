"""Diagnostic logging (not the audit trail): structlog events from bots and adapters go to the standard
``logging`` module, masked by the audit trail's redaction processor first, so that whoever runs Clerk
(Prefect, a worker, the CLI) decides where they go and at which level.

Prefect's own handlers (its run log in the UI, the console) get :class:`RedactingFilter`: every message
and every traceback is masked with the same rules before any handler renders it, and tracebacks are
plain text (file, line, code), never local variables.
"""

from __future__ import annotations

import logging
import traceback

import structlog

from connectors.audit import redact, redact_text

_configured = False


class RedactingFilter(logging.Filter):
    """Masks personal data and secrets in a log record's message and traceback, before any formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_clerk_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is passed on as it is
            return True
        record.msg, record.args = redact_text(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact_text("".join(traceback.format_exception(*record.exc_info)).rstrip())
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        record._clerk_redacted = True
        return True


def redact_standard_logging() -> None:
    """Put :class:`RedactingFilter` on every handler of the root and Prefect loggers (idempotent)."""
    import prefect.main  # noqa: F401 - importing it sets up Prefect's logging, whose handlers we filter

    names = [""] + [name for name in logging.Logger.manager.loggerDict if name.startswith("prefect")]
    for name in names:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
                handler.addFilter(RedactingFilter())


def configure_logging(level: int = logging.INFO) -> None:
    global _configured
    if _configured:
        return
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            redact,
            structlog.processors.KeyValueRenderer(key_order=["event"], drop_missing=True),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    redact_standard_logging()
    _configured = True
