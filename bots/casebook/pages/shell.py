"""The shell around every working screen: header bar, left menu, the content iframe and the popup."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Locator, Page

from bots.casebook.pages.common import Screen
from bots.casebook.pages.new_case import ApplicantStep
from bots.casebook.pages.search import SearchPage


class ShellPage(Screen):
    @property
    def menu(self) -> Locator:
        return self.page.get_by_role("navigation", name="Main menu")

    @property
    def marker(self) -> Locator:
        """Visible only on the shell: the "Log out" menu link."""
        return self.menu.get_by_role("link", name="Log out", exact=True)

    def _open(self, link: str, expected: Locator, what: str) -> None:
        self.go(self.menu.get_by_role("link", name=link, exact=True).click, self.content, expected, what)

    def open_new_case(self) -> ApplicantStep:
        step = ApplicantStep(self.page, self.patience)
        self._open("New Blue Badge case", step.marker, "opening New Blue Badge case")
        return step

    def open_search(self) -> SearchPage:
        search = SearchPage(self.page, self.patience)
        self._open("Search cases", search.marker, "opening Search cases")
        return search

    @staticmethod
    def handle_message_of_the_day(page: Page, on_dismiss: Callable[[], None] | None = None) -> None:
        """Dismiss the "Message of the day" popup whenever it blocks an action, for the page's life."""
        popup = page.get_by_role("dialog", name="Message of the day")

        def dismiss(dialog: Locator) -> None:
            dialog.get_by_role("button", name="OK", exact=True).click()
            if on_dismiss is not None:
                on_dismiss()

        page.add_locator_handler(popup, dismiss)
