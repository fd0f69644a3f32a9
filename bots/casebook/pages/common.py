"""What every Casebook screen shares: patience, the content iframe, and reading the outcome of a click.

Page objects raise the small *signals* every bot shares (bots/session.py); the bot's session boundary
translates them (and Playwright's own errors) into ``connectors.errors``, where it knows the Clerk
reference to quote.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urljoin

from playwright.sync_api import Frame, FrameLocator, Locator, Page

from bots.pages import Screen as BaseScreen
from bots.pages import alert_messages, clean, showing
from bots.session import (
    LoginRefused,
    RecordMissing,
    SessionExpired,
    Signal,
    SystemBusy,
    Unreachable,
    ValidationShown,
)
from bots.session import Patience as BasePatience

__all__ = ["CaseMissing", "CasebookSignal", "LoginRefused", "Patience", "SessionExpired", "SystemBusy",
           "Unreachable", "ValidationShown", "alert_messages", "clean", "showing"]

CONTENT_FRAME = "content"  # the name of the iframe every working screen renders in
CONTENT_TITLE = "Casebook"  # ... and its title
BUSY_TEXT = "System busy, please try again"
EXPIRED_TEXT = "Your session has expired"


@dataclass(frozen=True)
class Patience(BasePatience):
    """How long page objects wait (milliseconds) and how often they press "Try again"."""

    postcode_lookup_ms: int = 10_000  # "Find address" to answer


CasebookSignal = Signal  # the signals every bot's page objects raise (bots/session.py)


class CaseMissing(RecordMissing):
    """No case with the requested reference."""


class _Abandoned(Exception):
    """Passed to a pending navigation's waiter to cancel it (never raised)."""


T = TypeVar("T")


class Screen(BaseScreen):
    """Base of Casebook's page objects: the content iframe, and Casebook's own failure screens."""

    busy_text = BUSY_TEXT
    expired_text = EXPIRED_TEXT

    @property
    def content(self) -> FrameLocator:
        """The iframe the working screens render in."""
        return self.page.get_by_title(CONTENT_TITLE, exact=True).content_frame

    @contextmanager
    def navigating(self, what: str, *, top: bool = False) -> Iterator[None]:
        """Wrap a click that loads a new document in the content frame (or the whole page, ``top``).

        Waiting for the frame to commit a navigation means the next checks read the *new* document,
        never the one the click was made on (which may carry the same heading).
        """
        with self.page.expect_event(
            "framenavigated", predicate=_navigation_of(top), timeout=self.patience.navigation_ms
        ) as event:
            yield
        if event.value.url.startswith("chrome-error:"):
            raise Unreachable(what)

    def go(
        self,
        action: Callable[[], object],
        scope: Page | FrameLocator,
        expected: Locator,
        what: str,
        *,
        top: bool = False,
        form: bool = False,
        expiry: bool = True,
    ) -> None:
        """Do ``action`` (a click that loads a new screen), then :meth:`settle` on what appeared.

        On "System busy" for a screen that was merely fetched (its "Try again" link reloads the same
        address), press "Try again", up to ``busy_retries`` times. A busy answer to a form submission
        leads elsewhere: then SystemBusy is raised, and the bot starts the operation again (Casebook
        decides "busy" before doing anything, so nothing was saved).
        """
        self.begin(action, scope, expected, what, None, top=top, form=form, expiry=expiry).wait()

    def begin(
        self,
        action: Callable[[], object],
        scope: Page | FrameLocator,
        expected: Locator,
        what: str,
        screen: T,
        *,
        top: bool = False,
        form: bool = False,
        expiry: bool = True,
    ) -> Loading[T]:
        """Do ``action`` and return at once, while the browser loads the next screen.

        :meth:`Loading.wait` later does what :meth:`go` does after the click (waiting, "Try again",
        the signals) and returns ``screen``. Meanwhile the bot may work in another page.
        """
        waiting = ExitStack()
        navigated = waiting.enter_context(
            self.page.expect_event("framenavigated", predicate=_navigation_of(top), timeout=self.patience.navigation_ms)
        )
        try:
            action()
        except BaseException as exc:
            waiting.__exit__(type(exc), exc, exc.__traceback__)  # cancels the wait
            raise

        def finish() -> None:
            waiting.close()  # waits for the frame to commit the navigation (or times out)
            if navigated.value.url.startswith("chrome-error:"):
                raise Unreachable(what)
            self._settle_pressing_try_again(scope, expected, what, top=top, form=form, expiry=expiry)

        def cancel() -> None:
            waiting.__exit__(_Abandoned, _Abandoned(what), None)  # cancels the wait

        return Loading(screen, finish, cancel)

    def _settle_pressing_try_again(
        self, scope: Page | FrameLocator, expected: Locator, what: str, *, top: bool, form: bool, expiry: bool
    ) -> None:
        for presses in range(self.patience.busy_retries + 1):
            try:
                self.settle(scope, expected, what, form=form, expiry=expiry)
                return
            except SystemBusy:
                try_again = scope.get_by_role("link", name="Try again", exact=True)
                if presses == self.patience.busy_retries or not self._reloads_same_screen(try_again, top):
                    raise
                with self.navigating(what, top=top):
                    try_again.click()

    def _reloads_same_screen(self, try_again: Locator, top: bool) -> bool:
        frame = self.page.main_frame if top else self.page.frame(name=CONTENT_FRAME)
        if frame is None or not showing(try_again):
            return False
        href = try_again.get_attribute("href") or ""
        return urljoin(frame.url, href) == frame.url

    def settle(
        self,
        scope: Page | FrameLocator,
        expected: Locator,
        what: str,
        *,
        form: bool = False,
        expiry: bool = True,
    ) -> None:
        """Wait until ``expected`` or one of Casebook's failure screens shows, then raise for a failure.

        ``form``: a validation summary (``role=alert``) counts as an outcome and raises ValidationShown.
        ``expiry``: "Your session has expired" raises SessionExpired (off on the login page itself);
        so does the login page inside the content frame, where Casebook shows it without that sentence
        once the session cookie is gone (another page of the same browser context met the expiry first).
        """
        busy = scope.get_by_text(BUSY_TEXT)
        expired = scope.get_by_text(EXPIRED_TEXT)
        if isinstance(scope, FrameLocator):  # the login page never belongs in the content frame
            expired = expired.or_(scope.get_by_role("button", name="Log in", exact=True))
        alert = scope.get_by_role("alert")
        outcome = expected.or_(busy)
        if expiry:
            outcome = outcome.or_(expired)
        if form:
            outcome = outcome.or_(alert)
        outcome.filter(visible=True).first.wait_for(state="visible", timeout=self.patience.navigation_ms)
        if showing(expected):  # Casebook's failure screens never carry the screen we asked for
            return
        if showing(busy):
            raise SystemBusy(what)
        if expiry and showing(expired):
            raise SessionExpired(what)
        if form and showing(alert):
            raise ValidationShown(what, alert_messages(alert.filter(visible=True).first))


class Loading(Generic[T]):
    """A screen the browser is still loading after a click (from :meth:`Screen.begin`).

    :meth:`wait` for the screen (or the signal Casebook answered with), or :meth:`abandon` it. Only
    the first call of either does anything; after it, ``wait`` just returns the screen.
    """

    def __init__(self, screen: T, finish: Callable[[], None], cancel: Callable[[], None]) -> None:
        self.screen = screen
        self._finish: Callable[[], None] | None = finish
        self._cancel: Callable[[], None] | None = cancel

    def wait(self) -> T:
        """Wait for the screen to show, as :meth:`Screen.go` would, and return it."""
        finish, self._finish, self._cancel = self._finish, None, None
        if finish is not None:
            finish()
        return self.screen

    def abandon(self) -> None:
        """Stop waiting (the page may go on loading; whoever uses it next navigates it again)."""
        cancel, self._finish, self._cancel = self._cancel, None, None
        if cancel is not None:
            cancel()


def _navigation_of(top: bool) -> Callable[[Frame], bool]:
    """Whether a navigated frame is the whole page (``top``) or the content iframe."""

    def is_target(frame: Frame) -> bool:
        return frame.parent_frame is None if top else frame.name == CONTENT_FRAME

    return is_target
