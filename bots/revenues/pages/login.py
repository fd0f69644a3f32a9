"""Revenues' log-on page (the whole window, outside the frames) and the frameset's navigation."""

from __future__ import annotations

from playwright.sync_api import Page

from bots.pages import showing
from bots.revenues.pages.common import BUSY_TEXT, MAIN, NAV, RevenuesScreen
from bots.revenues.pages.search import SearchScreen
from bots.session import LoginRefused, Patience, SystemBusy


class LoginPage:
    """``/``: the log-on form when there is no session, else the frameset."""

    def __init__(self, page: Page, patience: Patience) -> None:
        self.page = page
        self.patience = patience
        self.user = _control(page, "User ID")
        self.password = _control(page, "Password")
        self.log_on = page.get_by_role("button", name="Log on")
        self.frames = page.locator(f"frame[name={MAIN}]")
        self.refused = page.locator("#errors")
        self.busy = page.get_by_role("heading", name=BUSY_TEXT, exact=True)

    def log_in(self, url: str, username: str, password: str) -> Shell:
        """Open Revenues and log on (if it does not already show the frames); the frameset's shell."""
        self.page.goto(url)
        self._wait(self.log_on, "opening Revenues")
        if self.frames.count() == 0:  # the log-on form
            self.user.fill(username)
            self.password.fill(password)
            self.log_on.click()
            self._wait(self.refused, "logging on")
            if self.frames.count() == 0 and showing(self.refused):
                raise LoginRefused("logging on")
        return Shell(self.page, self.patience).ready()

    def _wait(self, other, what: str) -> None:
        outcome = self.frames.or_(other).or_(self.busy)
        outcome.first.wait_for(state="attached", timeout=self.patience.navigation_ms)
        if self.frames.count() == 0 and showing(self.busy):
            raise SystemBusy(what)


def _control(page: Page, label: str):
    """The log-on form's control in the row whose label cell reads ``label``."""
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=label, exact=True)).locator("input")


class Shell(RevenuesScreen):
    """The frameset: the ``nav`` frame's links open screens in ``main``."""

    def ready(self) -> Shell:
        """Wait for the welcome screen in ``main`` after logging on."""
        self.settle(self.main.get_by_role("heading").first, "opening the welcome screen")
        return self

    def open_search(self) -> SearchScreen:
        nav = self.page.frame(name=NAV)
        if nav is None:  # never while the frameset shows
            raise SystemBusy("finding Revenues' navigation")
        link = nav.get_by_role("link", name="Account search (F2)")
        screen = SearchScreen(self.page, self.patience)
        self.go(link.click, screen.title, "opening the account search")
        return screen
