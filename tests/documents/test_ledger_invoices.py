"""The generated supplier invoices: Clerk's invoice reader reads them back, and the Finance sandbox does with
each what the generator says (approved, on hold: match failure, or refused as a duplicate)."""

from __future__ import annotations

import random
from datetime import date, datetime
from pathlib import Path

import pytest

from connectors.documents import read_form
from sandbox.documents import supplier_invoice_pdf
from sandbox.finance import fixtures
from sandbox.finance.store import Duplicate, FinanceStore, Refused
from sandbox.ledger_invoices import DUPLICATES, FAILING, MATCHING, invoice_batch, ledger_invoice

OUTCOMES = {"Approved": "approved", "On hold: match failure": "on_hold"}


def _enter(store: FinanceStore, checked) -> str:
    """Key an invoice as read from its PDF; the outcome in the generator's words."""
    supplier = next(s for s in fixtures.SUPPLIERS if s.name == checked.supplier)
    saved = store.enter(
        {"supplier_id": supplier.id, "invoice_number": checked.invoice_number,
         "invoice_date": checked.invoice_date.strftime("%d/%m/%Y"), "po_number": checked.po_number,
         "net": str(checked.net), "vat": str(checked.vat), "total": str(checked.total), "notes": "Clerk ref: CLK-TEST"},
        user="clerk-bot", today=date.today(), tolerance_pct=2.0,
    )  # fmt: skip
    assert not isinstance(saved, Refused), saved
    return "duplicate" if isinstance(saved, Duplicate) else OUTCOMES[saved["status"]]


@pytest.mark.parametrize("seed", [1, 2026])
def test_a_batch_reads_back_and_finance_does_what_was_expected(tmp_path: Path, seed: int) -> None:
    batch = invoice_batch(seed)
    expected = [outcome for _, outcome in batch]
    assert sorted(expected) == sorted(["approved"] * len(MATCHING) + ["on_hold"] * len(FAILING)
                                      + ["duplicate"] * (len(DUPLICATES) + 1))  # fmt: skip
    store = FinanceStore(tmp_path / "finance.db")
    try:
        outcomes = []
        for values, _ in batch:
            checked, extracted = read_form(supplier_invoice_pdf(values), "pdf", "supplier_invoice")
            assert (checked.supplier, checked.invoice_number, checked.po_number, checked.total) == (
                values["supplier"], values["invoice_number"], values["po_number"], values["total"]
            )
            assert checked.invoice_date == datetime.strptime(str(values["invoice_date"]), "%d/%m/%Y").date()
            outcomes.append(_enter(store, checked))
    finally:
        store.close()
    assert outcomes == expected
    assert batch == invoice_batch(seed)  # deterministic for a seed


def test_every_invoice_names_a_seeded_supplier_and_its_own_order() -> None:
    rng = random.Random(4)
    for billing in (*MATCHING, *FAILING, *DUPLICATES):
        values = ledger_invoice(rng, billing)
        order = fixtures.order(billing.po_number)
        supplier = fixtures.supplier(order.supplier_id)
        assert (values["supplier"], values["supplier_address"], values["vat_registration"]) == (
            supplier.name, supplier.address, supplier.vat_registration
        )
        assert {description for description, _, _ in values["lines"]} <= {line.description for line in order.lines}
    resent = [ledger_invoice(rng, billing)["invoice_number"] for billing in DUPLICATES]
    assert resent == [invoice.invoice_number for invoice in fixtures.INVOICES[:4]]
