"""Supplier invoices read from the PDF text layer, and the checks before paying them: the arithmetic to the
penny, a plausible VAT rate, a real date and one of our purchase order numbers."""

from __future__ import annotations

import io
import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from reportlab.pdfgen.canvas import Canvas

from connectors.documents import extract, read_form
from connectors.documents.invoice import SupplierInvoice, arithmetic_problems, validate_invoice
from connectors.errors import FormNotRecognised, InvalidForm
from sandbox.documents import invoice, supplier_invoice_pdf


def _bill(seed: int = 1, **overrides: object) -> dict[str, object]:
    return invoice(random.Random(seed), **overrides)


def _reasons(values: dict[str, object], **labels: str) -> list[str]:
    with pytest.raises(InvalidForm) as caught:
        read_form(supplier_invoice_pdf(values, labels=labels), "pdf", "supplier_invoice")
    return caught.value.reasons


@pytest.mark.parametrize("seed", range(8))
def test_an_invoice_reads_to_what_the_supplier_billed(seed: int) -> None:
    bill = _bill(seed)

    checked, extracted = read_form(supplier_invoice_pdf(bill), "pdf", "supplier_invoice")

    assert isinstance(checked, SupplierInvoice)
    assert checked.model_dump() == {
        "supplier": bill["supplier"],
        "invoice_number": bill["invoice_number"],
        "invoice_date": datetime.strptime(str(bill["invoice_date"]), "%d/%m/%Y").date(),
        "po_number": bill["po_number"],
        "net": bill["net"],
        "vat": bill["vat"],
        "total": bill["total"],
    }
    assert checked.vat_rate == bill["vat_rate"]
    assert extracted.method == "text"


def test_the_usual_label_wordings_read_the_same() -> None:
    bill = _bill(3)
    labels = {"supplier": "Supplier name", "invoice_number": "Invoice number", "invoice_date": "Invoice date",
              "po_number": "Purchase order", "net": "Net amount", "vat": "VAT", "total": "Invoice total"}  # fmt: skip

    checked, _ = read_form(supplier_invoice_pdf(bill, labels=labels), "pdf", "supplier_invoice")

    assert (checked.net, checked.vat, checked.total) == (bill["net"], bill["vat"], bill["total"])


def test_the_vat_registration_number_is_not_taken_for_the_vat() -> None:
    values = extract(supplier_invoice_pdf(_bill(2)), "pdf", "supplier_invoice").values

    assert str(values["vat"]).startswith("£")


def test_a_total_a_penny_out_is_refused_with_the_sum_shown() -> None:
    bill = _bill(1)
    wrong = {**bill, "total": bill["total"] + Decimal("0.01")}  # type: ignore[operator]

    assert _reasons(wrong) == [
        f"Total: £{wrong['total']:,.2f} is not the net amount plus VAT (£{bill['net']:,.2f} + £{bill['vat']:,.2f} = "
        f"£{bill['total']:,.2f}). Please ask the supplier for a corrected invoice."
    ]


def test_vat_at_no_uk_rate_is_refused_with_what_20_percent_would_be() -> None:
    bill = _bill(2, vat_rate=Decimal("0.175"), lines=[("Desk chair", 2, Decimal("149.00"))])

    assert _reasons(bill) == [
        "VAT: £52.15 is not 0%, 5% or 20% of the net amount £298.00 (20% would be £59.60). "
        "Please check the VAT with the supplier."
    ]


def test_both_arithmetic_problems_are_reported_together() -> None:
    bill = _bill(2, vat_rate=Decimal("0.175"), lines=[("Desk chair", 2, Decimal("149.00"))], total=Decimal("300.00"))

    reasons = _reasons(bill)

    assert [reason.split(":")[0] for reason in reasons] == ["Total", "VAT"]


@pytest.mark.parametrize(
    ("net", "vat", "ok"),
    [("100.00", "20.00", True), ("100.00", "5.00", True), ("100.00", "0.00", True), ("33.33", "6.67", True),
     ("33.33", "6.66", True), ("33.33", "6.68", False), ("100.00", "17.50", False), ("100.00", "0.02", False)],
)  # fmt: skip
def test_vat_is_plausible_within_a_penny_of_a_uk_rate(net: str, vat: str, ok: bool) -> None:
    problems = arithmetic_problems(Decimal(net), Decimal(vat), Decimal(net) + Decimal(vat))

    assert (problems == []) is ok


@pytest.mark.parametrize(
    ("override", "starts"),
    [
        ({"po_number": "123456"}, "PO number: '123456' is not one of our purchase order numbers"),
        ({"po_number": "PO12345"}, "PO number: 'PO12345' is not one of our purchase order numbers"),
        ({"invoice_date": (date.today() + timedelta(days=3)).strftime("%d/%m/%Y")}, "Invoice date is in the future"),
        ({"invoice_date": "31/02/2025"}, "Invoice date: '31/02/2025' is not a real date"),
        ({"invoice_date": "2025-03-07"}, "Invoice date must be a date written as DD/MM/YYYY"),
        ({"invoice_date": "07/03/2015"}, "Invoice date is more than 6 years ago"),
        ({"invoice_number": "INV 12 34"}, "Invoice number: 'INV 12 34' is not an invoice number"),
    ],
)
def test_each_wrong_detail_is_explained(override: dict[str, str], starts: str) -> None:
    reasons = _reasons(_bill(4, **override))

    assert len(reasons) == 1, reasons
    assert reasons[0].startswith(starts), reasons


def test_po_numbers_are_written_one_way() -> None:
    checked, _ = read_form(supplier_invoice_pdf(_bill(5, po_number="po-123456")), "pdf", "supplier_invoice")

    assert checked.po_number == "PO123456"


def test_amounts_that_are_not_money_are_explained() -> None:
    with pytest.raises(InvalidForm) as caught:
        validate_invoice({**extract(supplier_invoice_pdf(_bill(6)), "pdf", "supplier_invoice").values,
                          "net": "three hundred pounds"})  # fmt: skip

    assert caught.value.reasons == ["Net must be an amount in pounds and pence, like £1,234.56."]


def test_a_missing_detail_asks_for_an_invoice_that_shows_it() -> None:
    values = extract(supplier_invoice_pdf(_bill(7)), "pdf", "supplier_invoice").values
    del values["po_number"]

    with pytest.raises(InvalidForm) as caught:
        validate_invoice(values)

    assert caught.value.reasons == ["PO number is missing. Please ask the supplier for an invoice that shows it."]


def test_a_quotation_with_the_same_totals_is_not_taken_for_an_invoice() -> None:
    out = io.BytesIO()
    canvas = Canvas(out)
    canvas.setFont("Helvetica-Bold", 18)
    canvas.drawString(72, 780, "Quotation")
    canvas.setFont("Helvetica", 10)
    lines = ["Supplier: Pennine Office Supplies Ltd", "Quote date: 03/03/2025", "Your order: PO123456",
             "Net: £100.00", "VAT: £20.00", "Total: £120.00"]  # fmt: skip
    for row, line in enumerate(lines):
        canvas.drawString(72, 740 - 20 * row, line)
    canvas.showPage()
    canvas.save()

    with pytest.raises(FormNotRecognised) as caught:  # five fields, but no "invoice" anywhere
        extract(out.getvalue(), "pdf", "supplier_invoice")
    assert "It looks like “Quotation”" in caught.value.message
