"""Diagnostic logging (not the audit trail): structlog events from bots and adapters go to the standard
``logging`` module, masked by the audit trail's redaction processor first, so that whoever runs Clerk
(Prefect, a worker, the CLI) decides where they go and at which level."""

from __future__ import annotations

import logging

import structlog

from connectors.audit import redact

_configured = False


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
    _configured = True
