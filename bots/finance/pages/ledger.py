"""Finance's screens: a 2012 single-page purchase ledger whose script renders everything from a JSON API.

Nothing is on the page until its request has answered, so every action waits (``Screen.settle``) for what it
leads to: a grid's status line ("Showing 3 of 3 invoices.", "No invoices found."), a dialog, or one of
Finance's failure screens: "System busy, please try again." (in the grid's status line, a dialog's alert or
the banner) and the sign-in dialog saying "Your session has expired". Locators by role and label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from playwright.sync_api import Page

from bots.pages import Screen, clean, showing
from bots.session import LoginRefused, Patience, ValidationShown

SIGN_IN = "Sign in to Purchase Ledger"
_LOADED = re.compile(r"^(Showing \d+ of \d+ |No .* found\.)")
_SAVED = re.compile(r"^Invoice (PI-\d+) saved\. Status: (.+?)\.?$")
_OPTION = re.compile(r"^(.*) \((S\d+)\)$")
FIELDS = ("supplier_id", "invoice_number", "invoice_date", "po_number", "net", "vat", "total", "notes")
_LABELS = {"invoice_number": "Invoice number", "invoice_date": "Invoice date", "po_number": "PO number",
           "net": "Net", "vat": "VAT", "total": "Total", "notes": "Notes / reference"}


class FinanceScreen(Screen):
    busy_text = "System busy"
    expired_text = "Your session has expired"


class SignIn(FinanceScreen):
    """The "Sign in to Purchase Ledger" dialog, shown whenever Finance answers "not signed in"."""

    def __init__(self, page: Page, patience: Patience) -> None:
        super().__init__(page, patience)
        self.dialog = page.get_by_role("dialog", name=SIGN_IN)
        self.user = self.dialog.get_by_label("User name")
        self.password = self.dialog.get_by_label("Password")
        self.submit = self.dialog.get_by_role("button", name="Sign in")
        self.refused = self.dialog.get_by_text("Invalid user name or password")

    def log_in(self, url: str, user: str, password: str) -> InvoicesGrid:
        """Sign in (unless the browser's session is still signed in): the invoices grid, loaded."""
        grid = InvoicesGrid(self.page, self.patience)
        self.page.goto(url)
        self.settle(self.submit.or_(grid.loaded), "opening Finance")
        if not showing(self.submit):
            return grid
        self.user.fill(user)
        self.password.fill(password)
        self.submit.click()
        self.settle(grid.loaded.or_(self.refused), "signing in")
        if showing(self.refused):
            raise LoginRefused("signing in")
        return grid


class InvoicesGrid(FinanceScreen):
    """The Invoices tab: a search form, the grid "Invoices", its status line and "Load more"."""

    def __init__(self, page: Page, patience: Patience) -> None:
        super().__init__(page, patience)
        self.tab = page.get_by_role("navigation", name="Sections").get_by_role("link", name="Invoices")
        self.table = page.get_by_role("table", name="Invoices")
        self.status = page.locator("#grid-status")
        self.loaded = self.status.filter(has_text=_LOADED)
        self.search_box = page.get_by_label("Search invoices")
        self.search_button = page.get_by_role("button", name="Search", exact=True)
        self.more = page.get_by_role("button", name="Load more")
        self.new_button = page.get_by_role("button", name="New invoice")
        self.open_dialog = page.locator("#dialog-layer").get_by_role("dialog")

    def open(self, url: str) -> InvoicesGrid:
        """Finance afresh, on the Invoices tab, loaded: no dialog, message or search left from before (a
        banner saying "System busy" stays until the page is loaded again). Signed out: SessionExpired."""
        self.page.goto(url)
        self.settle(self.loaded, "opening the invoices")
        return self

    def show(self) -> InvoicesGrid:
        """The Invoices tab, with any dialog left open by an earlier step closed."""
        if showing(self.open_dialog):
            self.page.keyboard.press("Escape")
        if not showing(self.search_box):
            self.tab.click()
        self.settle(self.search_box, "opening the invoices")
        return self

    def search(self, text: str) -> list[dict[str, str]]:
        """Every invoice whose reference, number, supplier, PO or notes contain ``text``, all pages ("Load
        more" until there is no more): column title -> cell text, newest first."""
        self.show()
        self.search_box.fill(text)
        self.search_button.click()  # the status line says "Loading..." until the answer is drawn
        self.settle(self.loaded, "searching the invoices")
        while showing(self.more):
            self.more.click()
            self.settle(self.loaded, "loading more invoices")
        headers = [clean(text) for text in self.table.get_by_role("columnheader").all_inner_texts()]
        rows = self.table.locator("tbody tr")
        return [dict(zip(headers, (clean(cell) for cell in row.get_by_role("cell").all_inner_texts()), strict=True))
                for row in rows.all()]

    def open_invoice(self, ref: str) -> InvoiceDialog:
        """The invoice's own dialog, from its row (search for it first)."""
        self.table.get_by_role("button", name=ref, exact=True).click()
        view = InvoiceDialog(self.page, self.patience, ref)
        self.settle(view.details, f"opening invoice {ref}")
        return view

    def new_invoice(self) -> NewInvoiceDialog:
        self.show()
        self.new_button.click()
        dialog = NewInvoiceDialog(self.page, self.patience)
        self.settle(dialog.save_button, "opening a new invoice")
        return dialog


@dataclass(frozen=True)
class Saved:
    """What the "Invoice saved" dialog said."""

    ref: str
    status: str
    reasons: tuple[str, ...]


class NewInvoiceDialog(FinanceScreen):
    """The "New invoice" dialog: its fields, "Save invoice", and what Finance answered."""

    def __init__(self, page: Page, patience: Patience) -> None:
        super().__init__(page, patience)
        self.dialog = page.get_by_role("dialog", name="New invoice")
        self.supplier = self.dialog.get_by_label("Supplier", exact=True)
        self.fields = {name: self.dialog.get_by_label(label, exact=True) for name, label in _LABELS.items()}
        self.save_button = self.dialog.get_by_role("button", name="Save invoice")
        self.cancel_button = self.dialog.get_by_role("button", name="Cancel")
        self.summary = self.dialog.locator("#invoice-errors")
        self.saved = page.get_by_role("dialog", name="Invoice saved")
        self.result = self.saved.locator("#save-result")

    def suppliers(self) -> dict[str, str]:
        """The suppliers Finance offers: name as shown -> supplier id."""
        found = {}
        for text in self.supplier.locator("option").all_inner_texts():
            match = _OPTION.match(clean(text))
            if match:
                found[match.group(1)] = match.group(2)
        return found

    def cancel(self) -> None:
        self.cancel_button.click()

    def save(self, values: dict[str, str]) -> Saved:
        """Fill the dialog (field name -> value; ``supplier_id`` picks the supplier) and save it.

        Raises ValidationShown with Finance's sentences when it refuses; :meth:`field_errors` then names
        the fields it refused (a duplicate is refused with a sentence naming the invoice already entered)."""
        self.supplier.select_option(value=values["supplier_id"])
        for name, field in self.fields.items():
            field.fill(values[name])
        self.save_button.click()
        self.settle(self.result, "saving the invoice", form=True)
        text = clean(self.result.inner_text())
        match = _SAVED.match(text)
        if not match:
            raise ValidationShown("reading what Finance saved", [text])
        reasons = tuple(clean(item) for item in self.saved.get_by_role("listitem").all_inner_texts() if clean(item))
        self.saved.get_by_role("button", name="Close").click()
        return Saved(match.group(1), match.group(2), reasons)

    def field_errors(self) -> dict[str, str]:
        """After a refusal: field name -> Finance's sentence, for each field it marked wrong."""
        errors = {}
        for name in FIELDS:
            text = clean(self.dialog.locator(f"#e-{name}").inner_text())
            if text:
                errors[name] = text
        return errors

    def refusal(self) -> str:
        return clean(self.summary.inner_text())


class InvoiceDialog(FinanceScreen):
    """An invoice's own dialog ("Invoice PI-000001"): its details, label -> value."""

    def __init__(self, page: Page, patience: Patience, ref: str) -> None:
        super().__init__(page, patience)
        self.dialog = page.get_by_role("dialog", name=f"Invoice {ref}", exact=True)
        self.details = self.dialog.locator("dl")

    def read(self) -> dict[str, str]:
        terms = [clean(text) for text in self.details.locator("dt").all_inner_texts()]
        values = [clean(text) for text in self.details.locator("dd").all_inner_texts()]
        shown = dict(zip(terms, values, strict=True))
        self.dialog.get_by_role("button", name="Close").click()
        return shown

