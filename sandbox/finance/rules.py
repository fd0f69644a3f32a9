"""How Finance checks an invoice being entered. Pure functions: the store supplies the records.

1. **Fields** (HTTP 422, a message per field): every field but the notes is required; the invoice number is
   letters, digits and ``/ - _ .`` (up to 30); the invoice date a real DD/MM/YYYY date, not in the future;
   the PO number ``PO`` and six digits; amounts in pounds and pence; net + VAT = total to the penny; VAT
   0%, 5% or 20% of the net (within a penny); notes up to 200 characters.
2. **Duplicate** (HTTP 409): the supplier already has an invoice with this number (letter case and spaces
   ignored), whatever its status: the message names the existing invoice's reference.
3. **Records** (HTTP 422): the supplier exists; the purchase order exists and was raised for that supplier.
4. **Three-way match** (never a refusal): with ``before`` the net of the order's *approved* invoices, the
   invoice is Approved when ``before + net`` is at most the ordered net and at most the goods-received net,
   each plus ``tolerance_pct`` percent; otherwise it is saved "On hold: match failure" with the reasons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sandbox.kit.values import PENNY, parse_date, parse_money

APPROVED = "Approved"
ON_HOLD = "On hold: match failure"
VAT_RATES = (Decimal("0"), Decimal("0.05"), Decimal("0.20"))
NOTES_MAX = 200
LABELS = {
    "supplier_id": "Supplier",
    "invoice_number": "Invoice number",
    "invoice_date": "Invoice date",
    "po_number": "PO number",
    "net": "Net",
    "vat": "VAT",
    "total": "Total",
    "notes": "Notes",
}

_INVOICE_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]{0,29}$")
_PO = re.compile(r"^PO\d{6}$")


def pounds(amount: Decimal) -> str:
    return f"£{amount:,.2f}"


def duplicate_key(invoice_number: str) -> str:
    """Invoice numbers compare without letter case or spaces: ``inv 40021`` is ``INV40021``."""
    return re.sub(r"\s+", "", invoice_number).upper()


@dataclass(frozen=True)
class Entry:
    """An invoice whose fields passed step 1."""

    supplier_id: str
    invoice_number: str
    invoice_date: date
    po_number: str
    net: Decimal
    vat: Decimal
    total: Decimal
    notes: str


@dataclass(frozen=True)
class Match:
    ordered: Decimal
    received: Decimal
    invoiced_before: Decimal
    tolerance_pct: float
    reasons: tuple[str, ...] = field(default=())

    @property
    def status(self) -> str:
        return ON_HOLD if self.reasons else APPROVED


def _text(data: dict, name: str) -> str:
    value = data.get(name)
    return "" if value is None else " ".join(str(value).split())


def check_fields(data: dict, *, today: date) -> Entry | dict[str, str]:
    """Step 1: the entry, or a message for each field that is wrong (keyed by field name)."""
    errors: dict[str, str] = {}
    text = {name: _text(data, name) for name in LABELS}
    for name, label in LABELS.items():
        if name != "notes" and not text[name]:
            errors[name] = f"{label} is required."
    number = text["invoice_number"]
    if number and not _INVOICE_NUMBER.fullmatch(number):
        errors["invoice_number"] = "Invoice number may only have letters, digits and / - _ . (up to 30)."
    issued = parse_date(text["invoice_date"]) if text["invoice_date"] else None
    if text["invoice_date"] and issued is None:
        errors["invoice_date"] = "Invoice date must be a real date in the format DD/MM/YYYY."
    elif issued and issued > today:
        errors["invoice_date"] = "Invoice date must not be in the future."
    po_number = text["po_number"].upper()
    if po_number and not _PO.fullmatch(po_number):
        errors["po_number"] = "PO number must be PO followed by six digits, like PO100001."
    amounts: dict[str, Decimal] = {}
    for name in ("net", "vat", "total"):
        if text[name]:
            amount = parse_money(text[name])
            if amount is None:
                errors[name] = f"{LABELS[name]} must be an amount in pounds and pence, like 1234.56."
            else:
                amounts[name] = amount
    if len(amounts) == 3:
        net, vat, total = amounts["net"], amounts["vat"], amounts["total"]
        if not any(abs(net * rate - vat) <= PENNY for rate in VAT_RATES):
            errors["vat"] = f"VAT {pounds(vat)} is not 0%, 5% or 20% of the net amount {pounds(net)}."
        if net + vat != total:
            errors["total"] = f"Total must be net + VAT ({pounds(net)} + {pounds(vat)} = {pounds(net + vat)})."
    if len(text["notes"]) > NOTES_MAX:
        errors["notes"] = f"Notes must be {NOTES_MAX} characters or fewer."
    if errors:
        return errors
    assert issued is not None
    return Entry(text["supplier_id"].upper(), number, issued, po_number, amounts["net"], amounts["vat"],
                 amounts["total"], text["notes"])  # fmt: skip


def check_records(entry: Entry, *, supplier: dict | None, order: dict | None) -> dict[str, str]:
    """Step 3: the supplier and the purchase order exist and belong together (``order`` has ``supplier_id``
    and ``supplier_name``)."""
    errors = {}
    if supplier is None:
        errors["supplier_id"] = f"Supplier {entry.supplier_id} does not exist."
    if order is None:
        errors["po_number"] = f"Purchase order {entry.po_number} does not exist."
    elif supplier is not None and order["supplier_id"] != supplier["id"]:
        errors["po_number"] = (f"Purchase order {entry.po_number} was raised for {order['supplier_name']} "
                               f"({order['supplier_id']}), not for {supplier['name']}.")  # fmt: skip
    return errors


def three_way_match(
    net: Decimal, *, ordered: Decimal, received: Decimal, invoiced_before: Decimal, tolerance_pct: float
) -> Match:
    """Step 4: the invoice's net against what was ordered and what was received, less what was invoiced."""
    allowance = Decimal(1) + Decimal(str(tolerance_pct)) / 100
    invoiced = invoiced_before + net
    reasons = []
    if invoiced > (ordered * allowance).quantize(PENNY):
        reasons.append(f"Invoiced {pounds(invoiced)} against the order ({pounds(invoiced_before)} before this one) "
                       f"is more than the {pounds(ordered)} ordered, beyond the {tolerance_pct:g}% tolerance.")  # fmt: skip
    if invoiced > (received * allowance).quantize(PENNY):
        reasons.append(f"Invoiced {pounds(invoiced)} against the order ({pounds(invoiced_before)} before this one) "
                       f"is more than the {pounds(received)} of goods received, beyond the {tolerance_pct:g}% "
                       "tolerance.")  # fmt: skip
    return Match(ordered, received, invoiced_before, tolerance_pct, tuple(reasons))
