"""The login page, always driven at the top of the window.

Casebook also shows it inside the content frame when a session expires there; page objects report that
as SessionExpired and the bot reloads the window to log in here.
"""

from __future__ import annotations

from playwright.sync_api import Locator

from bots.casebook.pages.common import LoginRefused, Screen, ValidationShown, showing
from bots.casebook.pages.shell import ShellPage


class LoginPage(Screen):
    def _user_name(self) -> Locator:
        return self.page.get_by_label("User name", exact=True)

    def open(self, url: str) -> LoginPage | ShellPage:
        """Load Casebook's front page: the login page, or the shell when the session is still live."""
        shell = ShellPage(self.page, self.patience)
        # The login page may say "Your session has expired": expected here, we are about to log in.
        expected = self._user_name().or_(shell.marker)
        self.go(lambda: self.page.goto(url), self.page, expected, "opening Casebook", top=True, expiry=False)
        return shell if showing(shell.marker) else self

    def log_in(self, username: str, password: str) -> ShellPage:
        """Log in and return the shell. Raises LoginRefused, SessionExpired or SystemBusy."""
        self._user_name().fill(username)
        self.page.get_by_label("Password", exact=True).fill(password)
        shell = ShellPage(self.page, self.patience)
        log_in = self.page.get_by_role("button", name="Log in", exact=True)
        try:
            self.go(log_in.click, self.page, shell.marker, "logging in", top=True, form=True)
        except ValidationShown as refused:
            raise LoginRefused("logging in") from refused
        self.page.wait_for_load_state("load")  # the shell's frame has loaded its first screen
        return shell
