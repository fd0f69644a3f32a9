"""Revenues, as Clerk's settings and processes know it (a light module: no browser until a session opens)."""

from __future__ import annotations

from pydantic import Field

from bots.application import Application, ApplicationSettings


class RevenuesSettings(ApplicationSettings):
    """``applications.revenues`` in the settings (the password: ``$CLERK_REVENUES_PASSWORD``)."""

    url: str = "http://127.0.0.1:8766"
    busy_retries: int = Field(default=2, ge=0, le=10)
    """"System busy": presses of "Try again" per screen, and restarts of an operation whose save was
    answered busy, before the attempt fails (and ``retries`` tries the whole item again)."""


APPLICATION = Application(name="revenues", title="Revenues", settings=RevenuesSettings,
                          session="bots.revenues.bot:open_session")
