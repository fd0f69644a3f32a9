"""The page-object base every bot's screens share: the page, named patience, and reading what a click led to.

A page object (one class per screen) builds its locators once, in ``__init__``, by role, label or text,
and offers methods named for intent that return data or the next screen. After an action that loads a
screen, :meth:`Screen.settle` waits (Playwright's auto-waiting, no sleeps) until either the expected
screen or one of the application's own failure screens shows, and raises the signal for a failure
(bots/session.py): "busy", "session expired", a validation summary. An application's screens set its
words (:attr:`Screen.busy_text`, :attr:`Screen.expired_text`) and, for frames, :attr:`Screen.scope`.
"""

from __future__ import annotations

import re
from typing import ClassVar

from playwright.sync_api import FrameLocator, Locator, Page

from bots.session import Patience, SessionExpired, SystemBusy, ValidationShown


class Screen:
    busy_text: ClassVar[str] = "System busy"
    """What the application shows when it is too busy to answer."""
    expired_text: ClassVar[str] = "Your session has expired"
    """What it shows when the session ran out (on its login page, usually)."""

    def __init__(self, page: Page, patience: Patience) -> None:
        self.page = page
        self.patience = patience

    @property
    def scope(self) -> Page | FrameLocator:
        """Where this screen's controls are (the page; a frame in a frameset application)."""
        return self.page

    def settle(self, expected: Locator, what: str, *, form: bool = False) -> None:
        """Wait until ``expected`` or a failure screen shows; raise SystemBusy, SessionExpired, or (``form``)
        ValidationShown with the application's own sentences. ``what`` names our action, for messages."""
        scope = self.scope
        busy, expired, alert = (scope.get_by_text(self.busy_text), scope.get_by_text(self.expired_text),
                                scope.get_by_role("alert"))
        outcome = expected.or_(busy).or_(expired)
        if form:
            outcome = outcome.or_(alert)
        outcome.filter(visible=True).first.wait_for(state="visible", timeout=self.patience.navigation_ms)
        if showing(expected):
            return
        if showing(busy):
            raise SystemBusy(what)
        if showing(expired):
            raise SessionExpired(what)
        if form and showing(alert):
            raise ValidationShown(what, alert_messages(alert.filter(visible=True).first))


def showing(locator: Locator) -> bool:
    """Whether any element ``locator`` matches is visible right now (no waiting)."""
    return locator.filter(visible=True).count() > 0


def alert_messages(alert: Locator) -> list[str]:
    """The sentences in a validation summary: its list items, else its whole text."""
    items = [text.strip() for text in alert.get_by_role("listitem").all_inner_texts() if text.strip()]
    return items or [alert.inner_text().strip()]


def clean(text: str | None) -> str:
    """Cell text as a person would read it (no non-breaking spaces, no stray whitespace)."""
    return re.sub(r"[ \t]+", " ", (text or "").replace("\xa0", " ")).strip()
