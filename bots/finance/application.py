"""Finance (the purchase ledger), as Clerk's settings and processes know it (a light module: no browser until a
session opens)."""

from __future__ import annotations

from bots.application import Application, ApplicationSettings


class FinanceSettings(ApplicationSettings):
    """``applications.finance`` in the settings (the password: ``$CLERK_FINANCE_PASSWORD``).

    Finance's lists load slowly (its grids show "Loading..." first): the bot waits up to
    ``browser.navigation_timeout_ms`` for each, then counts it a system fault (retried)."""

    url: str = "http://127.0.0.1:8767"


APPLICATION = Application(name="finance", title="Finance", settings=FinanceSettings,
                          session="bots.finance.bot:open_session")
