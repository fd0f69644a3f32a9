"""The account search (``/main/search``) and its results (``/main/results``), a page at a time."""

from __future__ import annotations

from bots.revenues.pages.account import AccountScreen
from bots.revenues.pages.common import RevenuesScreen, table_rows


class SearchScreen(RevenuesScreen):
    """*Account search*: fields matched as the screen's footnote says (account exact, postcode whole or
    first half, notes anywhere)."""

    def __init__(self, page, patience) -> None:
        super().__init__(page, patience)
        self.title = self.heading("Account search")
        self.account_number = self.control("Account number")
        self.postcode = self.control("Postcode")
        self.notes = self.control("Notes contain")
        self.search_button = self.main.get_by_role("button", name="Search (F10)")

    def search(self, *, account_number: str = "", postcode: str = "", notes: str = "") -> ResultsScreen:
        self.account_number.fill(account_number)
        self.postcode.fill(postcode)
        self.notes.fill(notes)
        results = ResultsScreen(self.page, self.patience)
        self.go(self.search_button.click, results.title, "searching for accounts", form=True)
        return results


class ResultsScreen(RevenuesScreen):
    """*Search results*: ``table#results`` (Account, Name, Property address, Postcode, Liable from, Status)."""

    def __init__(self, page, patience) -> None:
        super().__init__(page, patience)
        self.title = self.heading("Search results")
        self.table = self.main.locator("#results")
        self.next_page = self.main.get_by_role("link", name="Next page")

    def rows(self) -> list[dict[str, str]]:
        """This page's rows (none when Revenues found no account)."""
        return table_rows(self.table) if self.table.count() else []

    def all_rows(self) -> list[dict[str, str]]:
        """Every row, following "Next page" to the last page (this screen then shows the last page)."""
        found = self.rows()
        while self.next_page.count():
            self.go(self.next_page.click, self.title, "reading the next page of results")
            found += self.rows()
        return found

    def open_account(self, account_number: str) -> AccountScreen:
        account = AccountScreen(self.page, self.patience, account_number)
        link = self.table.get_by_role("link", name=account_number, exact=True)
        self.go(link.click, account.title, f"opening account {account_number}")
        return account
