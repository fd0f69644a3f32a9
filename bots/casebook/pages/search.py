"""Search cases (three ways) and the paged results."""

from __future__ import annotations

import re

from playwright.sync_api import Locator

from bots.casebook.pages.case_view import CaseViewPage
from bots.casebook.pages.common import CaseMissing, Loading, Screen, clean, showing

_POSITION = re.compile(r"Page (\d+) of (\d+)")


class SearchPage(Screen):
    @property
    def marker(self) -> Locator:
        return self.content.get_by_role("heading", name="Search cases", exact=True)

    def by_reference(self, case_reference: str) -> SearchResultsPage:
        self.content.get_by_label("Case reference", exact=True).fill(case_reference)
        return self._search("Search by reference")

    def by_applicant(self, surname: str, date_of_birth: str) -> SearchResultsPage:
        """``date_of_birth`` as DD/MM/YYYY."""
        return self.begin_by_applicant(surname, date_of_birth).wait()

    def by_notes(self, text: str) -> SearchResultsPage:
        """Cases whose Notes contain ``text`` (Casebook ignores case)."""
        self.content.get_by_label("Notes", exact=True).fill(text)
        return self._search("Search notes")

    def begin_by_applicant(self, surname: str, date_of_birth: str) -> Loading[SearchResultsPage]:
        """As :meth:`by_applicant`, returning while the results load (``wait()`` for them)."""
        self.content.get_by_label("Surname", exact=True).fill(surname)
        self.content.get_by_label("Date of birth", exact=True).fill(date_of_birth)
        return self._begin_search("Search by name")

    def _search(self, button: str) -> SearchResultsPage:
        return self._begin_search(button).wait()

    def _begin_search(self, button: str) -> Loading[SearchResultsPage]:
        results = SearchResultsPage(self.page, self.patience)
        what = f"searching ({button})"
        search = self.content.get_by_role("button", name=button, exact=True)
        return self.begin(
            lambda: search.click(no_wait_after=True), self.content, results.marker, what, results, form=True
        )


class SearchResultsPage(Screen):
    @property
    def marker(self) -> Locator:
        return self.content.get_by_role("heading", name="Search results", exact=True)

    @property
    def _table(self) -> Locator:
        return self.content.get_by_role("table", name="Search results")

    def position(self) -> tuple[int, int]:
        """(this page, number of pages); (1, 1) when nothing was found."""
        pager = self.content.get_by_text(_POSITION)
        if not showing(pager):
            return 1, 1
        match = _POSITION.search(pager.first.inner_text())
        return (int(match.group(1)), int(match.group(2))) if match else (1, 1)

    def references(self) -> list[str]:
        """The case references on this page, in Casebook's order (oldest first)."""
        if showing(self.content.get_by_text("No cases found.", exact=True)):
            return []
        return [clean(text) for text in self._table.get_by_role("link").all_inner_texts()]

    def next_page(self) -> SearchResultsPage | None:
        """Follow "Next page"; None on the last page."""
        link = self.content.get_by_role("link", name="Next page", exact=True)
        if not showing(link):
            return None
        page, pages = self.position()
        what = f"reading page {page + 1} of the search results"
        expected = self.content.get_by_text(re.compile(rf"\bPage {page + 1} of {pages}\b"))
        self.go(link.click, self.content, expected, what)
        return self

    def all_references(self) -> list[str]:
        """The case references on every page, following "Next page" to the end."""
        found: list[str] = []
        results: SearchResultsPage | None = self
        while results is not None:
            found.extend(results.references())
            results = results.next_page()
        return found

    def open_case(self, case_reference: str) -> CaseViewPage:
        link = self._table.get_by_role("link", name=case_reference, exact=True)
        if not showing(link):
            raise CaseMissing(f"opening case {case_reference}")
        view = CaseViewPage(self.page, self.patience)
        what = f"opening case {case_reference}"
        self.go(link.click, self.content, view.marker, what)
        return view
