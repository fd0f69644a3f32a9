"""What every bot shares: the signals its page objects raise, and the boundary of each operation.

Page objects raise small *signals* when an application shows something other than the screen asked for
(busy, session expired, a validation summary, unreachable). A bot's public operations run through
:meth:`BotSession.run`, which

* logs in when the session has none (:meth:`BotSession.log_in`, the application's own),
* starts the operation again from the top after an expired session (once, logging in again) or a
  "busy" answer to a form submission (``busy_retries`` times): operations look before they write, so a
  restart never writes twice,
* on any failure keeps a masked screenshot of the page (:meth:`BotSession.failed`) and raises the
  :mod:`connectors.errors` error for it, quoting only references (never a password, never a person's
  details). A :class:`connectors.errors.BusinessError` the bot raised (the application's answer about
  the request itself, e.g. no such account) passes through as it is, with no screenshot.

Timeouts are named settings (:class:`Patience`); nothing here sleeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import structlog
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots.runtime import BrowserRuntime
from connectors.errors import (
    ApplicationRejected,
    ApplicationUnavailable,
    BusinessError,
    ClerkError,
    ConfigError,
    RecordNotVerified,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Patience:
    """How long page objects wait (milliseconds), and how often they try again after "busy"."""

    action_ms: int = 10_000
    navigation_ms: int = 15_000
    busy_retries: int = 2


class Signal(Exception):
    """The application showed something other than the screen asked for. ``what`` names our action."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class SessionExpired(Signal):
    """The login page (or its "session expired" message) appeared."""


class SystemBusy(Signal):
    """The application answered "busy, try again"."""


class Unreachable(Signal):
    """The browser could not load the application's page at all (connection refused, reset...)."""


class ValidationShown(Signal):
    """The application refused what was keyed; ``messages`` are its own sentences."""

    def __init__(self, what: str, messages: list[str]) -> None:
        super().__init__(what)
        self.messages = messages


class LoginRefused(Signal):
    """The application refused the bot's user name or password."""


class RecordMissing(Signal):
    """No record with the reference asked for."""


class Refused(Signal):
    """The application would not save, for a reason of its own (a dialog, a rule Clerk does not know)."""


class BotSession:
    """One bot's session with an application: its page, its login, and the boundary of its operations."""

    title = "the application"
    """How messages name the application ("Casebook")."""
    busy_words = "busy"
    """How the application says it is busy ("System busy"), for messages."""

    def __init__(self, runtime: BrowserRuntime, busy_retries: int = 2) -> None:
        self.runtime = runtime
        self.busy_retries = busy_retries
        self._page: Page | None = None
        self.logged_in = False
        self.logins = 0

    @property
    def patience(self) -> Patience:
        browser = self.runtime.settings
        return Patience(browser.action_timeout_ms, browser.navigation_timeout_ms, self.busy_retries)

    @property
    def page(self) -> Page:
        """The bot's page (a new, isolated browser context on first use, or after the page broke)."""
        if self._page is None or self._page.is_closed():
            self._page = self.runtime.new_page()
            self.logged_in = False
        return self._page

    # --- what each application's bot provides ------------------------------------------------------
    def log_in(self) -> None:
        """Open the application and log in (raise LoginRefused for a refused password)."""
        raise NotImplementedError

    def ensure_session(self) -> None:
        """Before each attempt at an operation: log in if this session has not (or no longer has)."""
        self.page  # noqa: B018 - opens a new page (and forgets the login) if the old one broke
        if not self.logged_in:
            self.log_in()
            self.logged_in, self.logins = True, self.logins + 1

    def forget_login(self) -> None:
        """The session expired: the next operation logs in again."""
        self.logged_in = False

    def failed(self, operation: str) -> Path | None:
        """Keep a masked screenshot of the page that failed (returned), then leave it blank, to log in afresh."""
        page, self.logged_in = self._page, False
        if page is None:
            return None
        screenshot = self.runtime.screenshot_on_failure(page, f"{self.title.lower()}-{operation}")
        try:
            page.goto("about:blank")
        except PlaywrightError:
            self.close()  # the page is unusable: the next call opens a new one
        return screenshot

    # --- the boundary ------------------------------------------------------------------------------
    def run(self, operation: str, reference: str, work: Callable[[], T]) -> T:
        """Run ``work`` logged in, translating every failure into ``connectors.errors`` (see module doc)."""
        expiries = busy = 0
        try:
            while True:
                try:
                    self.ensure_session()
                    return work()
                except SessionExpired as exc:
                    expiries += 1
                    if expiries > 1:
                        raise
                    log.info("bot.session_expired", app=self.title, operation=operation, reference=reference,
                             during=exc.what)
                    self.forget_login()
                except SystemBusy as exc:
                    busy += 1
                    if busy > self.busy_retries:
                        raise
                    log.info("bot.busy_restart", app=self.title, operation=operation, reference=reference,
                             during=exc.what)
        except BusinessError:
            raise  # the application's answer about the request itself (the sender is told): no picture needed
        except Exception as exc:
            screenshot = self.failed(operation)
            translated = self.translate(exc, f"{operation}, {reference}")
            if translated is None:
                if isinstance(exc, ClerkError):
                    exc.screenshot = screenshot
                raise  # already a ClerkError (RecordNotVerified), or a bug: unchanged
            translated.screenshot = screenshot  # the masked picture of the page, for the run's review
            raise translated from exc

    def translate(self, exc: Exception, context: str) -> ClerkError | None:
        """The connectors.errors error for what went wrong; ``context`` names the operation and reference."""
        app = self.title
        if isinstance(exc, SessionExpired):
            return ApplicationUnavailable(f"{app}'s session expired again straight after logging in ({context})")
        if isinstance(exc, SystemBusy):
            return ApplicationUnavailable(f"{app} kept answering '{self.busy_words}', last while {exc.what} ({context})")
        if isinstance(exc, Unreachable):
            return ApplicationUnavailable(f"{app} could not be reached while {exc.what} ({context})")
        if isinstance(exc, ValidationShown):
            return ApplicationRejected(f"{app} refused {exc.what} ({context}): {' '.join(exc.messages)}")
        if isinstance(exc, Refused):
            return ApplicationRejected(f"{app} did not save: {exc.what} ({context})")
        if isinstance(exc, RecordMissing):
            return RecordNotVerified(f"{app} has no such record while {exc.what} ({context})")
        if isinstance(exc, LoginRefused):
            return ConfigError(f"{app} refused the bot's user name or password ({context}). "
                               f"Check the {app} account in Clerk's settings.")
        if isinstance(exc, PlaywrightTimeoutError):  # before PlaywrightError: it is a subclass
            return ApplicationUnavailable(f"{app} did not answer in time ({context}): {first_line(exc)}")
        if isinstance(exc, PlaywrightError):
            return ApplicationUnavailable(f"The browser failed talking to {app} ({context}): {first_line(exc)}")
        return None

    def close(self) -> None:
        page, self._page, self.logged_in = self._page, None, False
        if page is not None:
            try:
                self.runtime.close_context(page.context, self.title.lower())
            except PlaywrightError:
                pass  # the browser is already gone


def first_line(exc: BaseException) -> str:
    text = (getattr(exc, "message", None) or str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__
