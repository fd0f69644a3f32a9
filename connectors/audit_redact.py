"""Redaction: personal data and secrets are masked before anything is rendered, in the audit trail and in logs.

One pass of one regular expression per string value (an alternation of every pattern) keeps the audit
pipeline fast; the masks name what was there (``[NI number]``, ``[date]``) so that a supervisor can still
read an event. Keys decide too:

* values under keys that name a secret (``password``, ``token``, ``api_key``, ``cookie``...) are masked
  whatever they hold;
* values under keys that merely sound like key material (``hmac_key``, ``signature``, ``salt``...) are
  masked when they look like one: a long hex or base64 string;
* values under the identifier keys Clerk writes itself (step, outcome, reference, sender...) are kept.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

# Keys whose values are staff or system identifiers, kept as they are.
_KEEP_KEYS = frozenset({
    "event", "step", "outcome", "sender", "mailbox", "reference", "case_reference", "process", "run", "item",
    "code", "seq", "time", "actor", "email_id", "duplicate_of", "received", "prev",
})
_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|authori[sz]ation"
    r"|cookie|credential|session[_-]?id",
    re.I,
)
_KEY_MATERIAL_KEY = re.compile(r"key|sign|hmac|hash|salt|nonce|digest|cert|auth|bearer|jwt", re.I)
_KEY_MATERIAL_VALUE = re.compile(r"(?:[0-9a-fA-F]{16,}|[A-Za-z0-9+/_-]{20,}={0,2})")

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_TEXT = re.compile(
    "|".join((
        # "password=hunter2", "api_key: abc", "?access_token=...&": keep the name, mask the value
        r"(?P<kv>(?P<name>(?i:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
        r"|session[_-]?id))\s*(?P<sep>[=:])\s*(?:\"[^\"]*\"|'[^']*'|[^\s,;&]+))",
        r"(?P<bearer>\b(?i:bearer|basic)\s+)[A-Za-z0-9._~+/-]{8,}=*",
        r"(?P<jwt>\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*)",
        r"(?P<email>(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+)",
        r"(?P<ni>\b[A-Za-z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-Da-d]\b)",
        r"(?P<date>\b\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})\b|\b\d{4}-\d{2}-\d{2}\b"
        rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?i:{_MONTH}),?\s+\d{{4}}\b)",
        r"(?P<phone>(?:\+44\s?(?:\(0\)\s?)?|\b0)\d(?:[\s-]?\d){8,9}\b)",
    ))
)
# Every pattern above needs one of these characters, "eyJ", or a "bearer"/"basic" after a space: text with none
# of them (most of an audit event's words) skips the regular expression, which costs far more than this test.
_TRIGGERS = frozenset("0123456789@=:")
_LABELS = {"jwt": "[token]", "email": "[email]", "ni": "[NI number]", "date": "[date]", "phone": "[phone]"}
# Key names come from code, so there are few of them: remember how each one is treated.
_KEY_KINDS: dict[str, int] = {}
_KEEP, _SECRET, _MATERIAL, _TEXT_ONLY = 1, 2, 3, 4


def _replace(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "kv":  # keep "password=" or "token: ", mask what follows
        return match.group("name") + match.group("sep") + MASK
    if kind == "bearer":
        return match.group("bearer") + MASK
    return _LABELS[kind]


def redact_text(text: str) -> str:
    """Mask NI numbers, dates, email addresses, UK phone numbers, tokens and ``name=secret`` pairs in text."""
    if _TRIGGERS.isdisjoint(text) and "eyJ" not in text:
        if " " not in text:
            return text
        lower = text.lower()
        if "bearer" not in lower and "basic" not in lower:
            return text
    return _TEXT.sub(_replace, text)


def _key_kind(key: str) -> int:
    if key in _KEEP_KEYS:
        kind = _KEEP
    elif _SECRET_KEY.search(key):
        kind = _SECRET
    elif _KEY_MATERIAL_KEY.search(key):
        kind = _MATERIAL
    else:
        kind = _TEXT_ONLY
    if len(_KEY_KINDS) < 10_000:
        _KEY_KINDS[key] = kind
    return kind


def _redact_value(kind: int, key: str, value: Any) -> Any:
    if kind == _SECRET:
        return MASK
    if type(value) is str:
        if kind == _MATERIAL and _KEY_MATERIAL_VALUE.fullmatch(value):
            return MASK
        return value if kind == _KEEP else redact_text(value)
    if isinstance(value, dict):
        return {str(k): _redact_value(_KEY_KINDS.get(str(k)) or _key_kind(str(k)), str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(kind, key, v) for v in value]
    if isinstance(value, str):  # a str subclass (an enum member, say)
        return _redact_value(kind, key, str(value))
    return value


def redact(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask personal data and secrets in every value, before any renderer.

    Like every structlog processor it may change ``event_dict`` in place (structlog hands each processor
    a fresh dict per event), which it does."""
    for key in event_dict.keys() - _KEEP_KEYS:  # most of an audit event is identifiers, skipped in one C call
        value = event_dict[key]
        if value is not None:
            event_dict[key] = _redact_value(_KEY_KINDS.get(key) or _key_kind(key), key, value)
    return event_dict
