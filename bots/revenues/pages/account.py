"""*Council Tax account NNNNNNNN* (``/main/account``): details, liabilities, notes (the read-back), and the
change-of-address screen it leads to."""

from __future__ import annotations

from bots.revenues.pages.common import RevenuesScreen, label_values, table_rows


class AccountScreen(RevenuesScreen):
    def __init__(self, page, patience, account_number: str) -> None:
        super().__init__(page, patience)
        self.account_number = account_number
        self.title = self.heading(f"Council Tax account {account_number}")
        self.details_table = self.main.locator("#account")
        self.liabilities_table = self.main.locator("#liabilities")
        self.notes_text = self.main.locator("#notes")
        self.message_box = self.main.locator("#message")
        self.change_link = self.main.get_by_role("link", name="Change of address")

    def details(self) -> dict[str, str]:
        """Account number, Name, Status, Property."""
        return label_values(self.details_table)

    def liabilities(self) -> list[dict[str, str]]:
        """Liability, Property, Address, Postcode, Band, From, To, Status (Live or Ended), oldest first."""
        return table_rows(self.liabilities_table)

    def notes(self) -> str:
        return self.notes_text.inner_text()

    def message(self) -> str:
        return self.message_box.inner_text() if self.message_box.count() else ""

    def change_of_address(self) -> MoveScreen:
        screen = MoveScreen(self.page, self.patience, self.account_number)
        self.go(self.change_link.click, screen.title, f"opening the change of address for {self.account_number}")
        return screen


class MoveScreen(RevenuesScreen):
    """*Change of address*: move-out date, new postcode and Find (F4), the new property, move-in date, note,
    Save (F10)."""

    def __init__(self, page, patience, account_number: str) -> None:
        super().__init__(page, patience)
        self.account_number = account_number
        self.title = self.heading("Change of address")
        self.move_out = self.control("Move-out date")
        self.new_postcode = self.control("New postcode")
        self.find_button = self.main.get_by_role("button", name="Find (F4)")
        self.new_property = self.control("New property")
        self.move_in = self.control("Move-in date")
        self.note = self.control("Note")
        self.save_button = self.main.get_by_role("button", name="Save (F10)")

    def find(self, postcode: str) -> list[tuple[str, str]]:
        """Press Find for ``postcode``: the register's properties there, as (value, text) pairs."""
        self.new_postcode.fill(postcode)
        self.go(self.find_button.click, self.title, "finding the new property", form=True)
        options = self.new_property.locator("option").evaluate_all(
            "options => options.map(o => [o.value, o.textContent])")
        return [(value, " ".join(text.split())) for value, text in options if value]

    def save(self, *, move_out: str, new_property: str, move_in: str, note: str) -> AccountScreen:
        """Fill the move and press Save; the account screen with Revenues' confirmation, or
        ValidationShown with its reasons."""
        self.move_out.fill(move_out)
        self.new_property.select_option(value=new_property)
        self.move_in.fill(move_in)
        self.note.fill(note)
        account = AccountScreen(self.page, self.patience, self.account_number)
        self.go(self.save_button.click, account.message_box, "saving the change of address", form=True)
        return account
