"""Finance in real Chromium: the script signs in, renders the grids, and saves an invoice from its dialog."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from bots.runtime import BrowserRuntime
from sandbox.finance import FinanceServer

pytestmark = pytest.mark.browser


def test_sign_in_enter_an_invoice_and_find_it_by_its_reference(
    finance: FinanceServer, browser_runtime: BrowserRuntime
) -> None:
    finance.config.page_size = 10
    finance.config.grid_delay_ms = 200  # the grid is empty until its rows arrive
    page = browser_runtime.new_page()
    try:
        page.goto(finance.url)
        sign_in = page.get_by_role("dialog", name="Sign in to Purchase Ledger")
        expect(sign_in.get_by_role("alert")).to_have_text("Please sign in.")
        sign_in.get_by_label("User name").fill("clerk-bot")
        sign_in.get_by_label("Password").fill("finance")
        sign_in.get_by_role("button", name="Sign in").click()

        grid = page.get_by_role("table", name="Invoices")
        expect(page.get_by_role("status").filter(has_text="Showing")).to_have_text("Showing 10 of 28 invoices.")
        expect(grid.locator("tbody tr")).to_have_count(10)
        page.get_by_role("button", name="Load more").click()
        expect(grid.locator("tbody tr")).to_have_count(20)

        page.get_by_role("button", name="New invoice").click()
        dialog = page.get_by_role("dialog", name="New invoice")
        dialog.get_by_label("Supplier").select_option(label="Pennine Office Supplies Ltd (S1001)")
        dialog.get_by_label("Invoice number").fill("INV-50001")
        dialog.get_by_label("Invoice date").fill("01/10/2025")
        dialog.get_by_label("PO number").fill("PO100001")
        dialog.get_by_label("Net", exact=True).fill("474.96")
        expect(dialog.locator("#po-summary")).to_have_text(
            "PO100001: Pennine Office Supplies Ltd. Ordered £474.96, received £474.96, invoiced £0.00."
        )
        dialog.get_by_label("VAT", exact=True).fill("94.99")
        dialog.get_by_label("Total", exact=True).fill("569.96")  # a penny out: refused, field by field
        dialog.get_by_label("Notes / reference").fill("Clerk ref: CLK-BROWSER002")
        dialog.get_by_role("button", name="Save invoice").click()
        expect(dialog.get_by_role("alert")).to_have_text("The invoice has not been saved: please correct the fields shown.")
        expect(dialog.locator("#e-total")).to_have_text("Total must be net + VAT (£474.96 + £94.99 = £569.95).")
        expect(dialog.get_by_label("Total", exact=True)).to_have_attribute("aria-invalid", "true")
        dialog.get_by_label("Total", exact=True).fill("569.95")
        dialog.get_by_role("button", name="Save invoice").click()

        saved = page.get_by_role("dialog", name="Invoice saved")
        expect(saved.locator("#save-result")).to_have_text("Invoice PI-000029 saved. Status: Approved.")
        saved.get_by_role("button", name="Close").click()
        page.get_by_label("Search invoices").fill("clk-browser002")
        page.get_by_role("button", name="Search", exact=True).click()
        expect(page.get_by_role("status").filter(has_text="Showing")).to_have_text("Showing 1 of 1 invoices.")
        expect(grid.locator("tbody tr")).to_have_text(
            ["PI-000029Pennine Office Supplies LtdINV-5000101/10/2025PO100001£474.96£94.99£569.95Approved"
             "Clerk ref: CLK-BROWSER002"]
        )
    finally:
        page.context.close()
    assert [(i["ref"], i["status"]) for i in finance.invoices()[-1:]] == [("PI-000029", "Approved")]
