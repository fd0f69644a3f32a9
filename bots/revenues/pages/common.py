"""What every Revenues screen shares: the ``main`` frame, table forms read by their label cells, and reading
what a click led to.

Revenues is a frameset: every working screen loads in the frame named ``main``, the navigation links in
``nav``. Its forms are tables whose label sits in its own cell beside the control (no ``<label for>``), so a
control is found by the row whose first cell carries its printed label. After a click that loads a screen,
:meth:`RevenuesScreen.go` waits (Playwright's auto-waiting, no sleeps) for the frame's new document, then
for the screen asked for or one of Revenues' own failure screens, and raises the signal for a failure:
"System busy" (``SystemBusy``; a GET is tried again first with the page's "Try again" link), the overnight
batch (``BatchRunning``: read-only until it ends), an idle session (``SessionExpired``: Revenues sends the
whole window back to its log-on page, so the frame is detached) or the error box (``ValidationShown``, with
Revenues' own sentences).
"""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Frame, Locator, Page

from bots.pages import Screen, clean, showing
from bots.session import Patience, SessionExpired, Signal, SystemBusy, ValidationShown

MAIN = "main"
NAV = "nav"
BUSY_TEXT = "System busy"
EXPIRED_TEXT = "Your session has timed out"
BATCH_HEADING = "Batch run in progress"


class BatchRunning(Signal):
    """Revenues' overnight batch is running: it is read-only until the batch ends (``RV-423``)."""


class RevenuesScreen(Screen):
    """Base of Revenues' page objects: the ``main`` frame and Revenues' own failure screens."""

    busy_text = BUSY_TEXT
    expired_text = EXPIRED_TEXT

    def __init__(self, page: Page, patience: Patience) -> None:
        super().__init__(page, patience)
        frame = page.frame(name=MAIN)
        if frame is None:  # the window is the log-on page: the session ended under us
            raise SessionExpired("finding Revenues' main frame")
        self.main = frame

    @property
    def scope(self) -> Frame:
        return self.main

    # --- finding controls by their printed labels ----------------------------------------------------
    def control(self, label: str) -> Locator:
        """The input or list in the form-table row whose label cell reads ``label``."""
        row = self.main.get_by_role("row").filter(has=self.main.get_by_role("cell", name=label, exact=True))
        return row.locator("input, select").first

    def heading(self, name: str) -> Locator:
        return self.main.get_by_role("heading", name=name, exact=True)

    # --- moving between screens -------------------------------------------------------------------------
    def go(self, action: Callable[[], None], expected: Locator, what: str, *, form: bool = False) -> None:
        """Do ``action`` (a click that loads a new document in ``main``), then settle on ``expected``.

        "System busy" after a GET is tried again with the page's "Try again" link (``busy_retries`` times);
        after a POST (nothing was saved) the whole operation is started again by the session boundary."""
        self._navigating(action)
        tries = 0
        while True:
            try:
                self.settle(expected, what, form=form)
                return
            except SystemBusy:
                retry = self.main.get_by_role("link", name="Try again")
                target = retry.get_attribute("href") or ""
                tries += 1
                if tries > self.patience.busy_retries or target.startswith("/main/welcome") or target == "/":
                    raise
                self._navigating(retry.click)

    def _navigating(self, action: Callable[[], None]) -> None:
        """Run ``action`` and wait until ``main`` (or the whole window) has committed a new document, so that
        what is read next is the new screen, never the one clicked on (which may carry the same heading)."""
        main, top = self.main, self.page.main_frame
        try:
            with self.page.expect_event("framenavigated", predicate=lambda frame: frame in (main, top),
                                        timeout=self.patience.navigation_ms):
                action()
        except PlaywrightError:
            if main.is_detached():
                raise SessionExpired("loading a Revenues screen") from None
            raise

    def settle(self, expected: Locator, what: str, *, form: bool = False) -> None:
        main = self.main
        busy, batch = self.heading(BUSY_TEXT), self.heading(BATCH_HEADING)
        expired, errors = main.get_by_text(EXPIRED_TEXT), main.locator("#errors")
        outcome = expected.or_(busy).or_(batch).or_(expired)
        if form:
            outcome = outcome.or_(errors)
        try:
            outcome.filter(visible=True).first.wait_for(state="visible", timeout=self.patience.navigation_ms)
        except PlaywrightError:
            if main.is_detached():  # Revenues sent the whole window to its log-on page
                raise SessionExpired(what) from None
            raise
        if showing(busy):
            raise SystemBusy(what)
        if showing(batch):
            raise BatchRunning(what)
        if showing(expired):
            raise SessionExpired(what)
        if form and showing(errors):
            raise ValidationShown(what, error_messages(errors))
        if not showing(expected):  # never: the wait above saw one of them
            raise SystemBusy(what)


def error_messages(errors: Locator) -> list[str]:
    """Revenues' error box: one sentence per list item, or its whole text."""
    items = [clean(text) for text in errors.get_by_role("listitem").all_inner_texts() if clean(text)]
    return items or [clean(errors.inner_text())]


def table_rows(table: Locator) -> list[dict[str, str]]:
    """A Revenues grid (a header row of ``th``, then ``td`` rows) as dicts keyed by heading, in one read."""
    rows = table.evaluate("t => Array.from(t.rows, r => Array.from(r.cells, c => c.innerText))")
    if not rows:
        return []
    head = [clean(cell) for cell in rows[0]]
    return [dict(zip(head, (clean(cell) for cell in row), strict=False)) for row in rows[1:]]


def label_values(table: Locator) -> dict[str, str]:
    """A form table of label and value cells as ``{label: value}``."""
    rows = table.evaluate("t => Array.from(t.rows, r => Array.from(r.cells, c => c.innerText))")
    return {clean(row[0]): clean(row[1]) for row in rows if len(row) >= 2}
