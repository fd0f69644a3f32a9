"""Casebook, as Clerk's settings and processes know it (a light module: no browser until a session opens)."""

from __future__ import annotations

from pydantic import Field

from bots.application import Application, ApplicationSettings


class CasebookSettings(ApplicationSettings):
    """``applications.casebook`` in the settings (the password: ``$CLERK_CASEBOOK_PASSWORD``)."""

    url: str = "http://127.0.0.1:8765"
    postcode_lookup_timeout_ms: int = Field(default=10_000, ge=100)
    """How long Casebook's "Find address" may take to answer."""


APPLICATION = Application(name="casebook", title="Casebook", settings=CasebookSettings,
                          session="bots.casebook.bot:open_session")
