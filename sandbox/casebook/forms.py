"""Unstable control ids, ASP.NET WebForms style.

Every page load draws a fresh token; each control's id is ``ctl00_Main_<short>_<token>`` and its name
``ctl00$Main$<short>$<token>``. The token travels back in the hidden ``__PAGETOKEN`` field, so the
server can map the posted names back to its own short names. Bots must find fields by their labels.
"""

from __future__ import annotations

import secrets
import threading
from urllib.parse import parse_qs

TOKEN_FIELD = "__PAGETOKEN"

_last_token = 0
_token_lock = threading.Lock()


def new_token() -> int:
    """A random token, never the same as the one drawn just before (so two loads always differ)."""
    global _last_token
    with _token_lock:
        token = _last_token
        while token == _last_token:
            token = 100 + secrets.randbelow(99900)
        _last_token = token
        return token


class Controls:
    """Names and ids for the controls of one rendered page."""

    def __init__(self, token: int | None = None) -> None:
        self.token = new_token() if token is None else token

    def id(self, short: str) -> str:
        return f"ctl00_Main_{short}_{self.token}"

    def name(self, short: str) -> str:
        return f"ctl00$Main${short}${self.token}"


class PostedForm:
    """A posted form, read back by short control names."""

    def __init__(self, body: bytes) -> None:
        self._raw = {
            key: values[-1] for key, values in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()
        }
        try:
            self.controls = Controls(int(self._raw.get(TOKEN_FIELD, "")))
        except ValueError:
            self.controls = None  # not one of our forms: every field reads as blank

    def get(self, short: str) -> str:
        if self.controls is None:
            return ""
        return self._raw.get(self.controls.name(short), "").strip()

    def pressed(self, short: str) -> bool:
        """Whether the submit button ``short`` was the one clicked (only that button's name is posted)."""
        return self.controls is not None and self.controls.name(short) in self._raw

    def hidden(self, name: str) -> str:
        return self._raw.get(name, "")
