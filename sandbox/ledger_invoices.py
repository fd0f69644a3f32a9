"""Supplier invoices about Finance's seeded suppliers and purchase orders, for the demo and the tests.

Each :class:`Billing` is an invoice a supplier might send and what Finance does with it: ``approved`` (it
matches what was ordered and received), ``on_hold`` (saved "On hold: match failure") or ``duplicate``
(refused: the supplier already has an invoice with that number). :func:`ledger_invoice` turns one into
the values :func:`sandbox.documents.supplier_invoice_pdf` prints; :func:`invoice_batch` gives a morning's
post in which every expectation holds whatever order Finance sees them in (the one resend comes after
its original). See :mod:`sandbox.finance.fixtures` for the orders.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sandbox.documents import invoice
from sandbox.finance import fixtures
from sandbox.kit.values import DATE_FORMAT

_TWENTY, _ZERO = Decimal("0.20"), Decimal("0")


@dataclass(frozen=True)
class Billing:
    name: str
    po_number: str
    lines: tuple[tuple[str, int], ...]  # (description as on the order, quantity billed)
    expected: str  # "approved", "on_hold" or "duplicate"
    vat_rate: Decimal = _TWENTY
    invoice_number: str = ""  # blank: a new number in the supplier's style
    invoice_date: date | None = None  # None: within the last month


def _lines(po_number: str, *quantities: int) -> tuple[tuple[str, int], ...]:
    order = fixtures.order(po_number)
    return tuple((line.description, quantity) for line, quantity in zip(order.lines, quantities, strict=True))


MATCHING: tuple[Billing, ...] = (
    Billing("whole order", "PO100001", _lines("PO100001", 10, 4), "approved"),
    Billing("other half of a part-invoiced order", "PO100002", _lines("PO100002", 3), "approved"),
    Billing("only what was received", "PO100003", _lines("PO100003", 4), "approved"),
    Billing("hedge trimming as ordered", "PO100004", _lines("PO100004", 40), "approved"),
    Billing("leaflets still to bill (zero-rated)", "PO100005", _lines("PO100005", 3), "approved", _ZERO),
    Billing("buffet lunch", "PO100008", _lines("PO100008", 1), "approved"),
)
FAILING: tuple[Billing, ...] = (
    Billing("whole season, a third received", "PO100003", _lines("PO100003", 12), "on_hold"),
    Billing("leaflets not delivered yet", "PO100006", _lines("PO100006", 5), "on_hold", _ZERO),
    Billing("more hours than ordered", "PO100004", _lines("PO100004", 45), "on_hold"),
)
_SEEDED = fixtures.INVOICES[:4]
DUPLICATES: tuple[Billing, ...] = tuple(
    Billing(f"{seeded.invoice_number} sent again", seeded.po_number,
            ((fixtures.order(seeded.po_number).lines[0].description,
              int(seeded.net / fixtures.order(seeded.po_number).lines[0].unit_price)),),
            "duplicate", seeded.vat_rate, seeded.invoice_number, seeded.invoice_date)
    for seeded in _SEEDED
)  # fmt: skip
"""The four invoices already on the ledger (PI-000001 to PI-000004), sent again."""

_NUMBERS = {"S1001": "INV-6{:04d}", "S1002": "DGM-2{:03d}", "S1003": "NPC/25/2{:03d}", "S1004": "POS-2{:03d}",
            "S1005": "CVC-5{:02d}"}  # fmt: skip


def ledger_invoice(rng: random.Random, billing: Billing) -> dict[str, object]:
    """The invoice ``billing`` describes, keyed as :func:`sandbox.documents.invoice` keys it."""
    order = fixtures.order(billing.po_number)
    supplier = fixtures.supplier(order.supplier_id)
    prices = {line.description: line.unit_price for line in order.lines}
    number = billing.invoice_number or _NUMBERS[supplier.id].format(rng.randrange(100 if supplier.id == "S1005" else 1000))
    issued = billing.invoice_date or date.today() - timedelta(days=rng.randint(1, 30))
    return invoice(rng, supplier=supplier.name, supplier_address=supplier.address,
                   vat_registration=supplier.vat_registration, invoice_number=number,
                   invoice_date=issued.strftime(DATE_FORMAT), po_number=order.po_number,
                   lines=[(description, quantity, prices[description]) for description, quantity in billing.lines],
                   vat_rate=billing.vat_rate)  # fmt: skip


def invoice_batch(seed: int = 2026) -> list[tuple[dict[str, object], str]]:
    """Every matching, failing and duplicate invoice once, shuffled, then a resend of one matching invoice:
    ``(values, expected)`` pairs in the order they arrive. Invoice numbers never repeat by accident."""
    rng = random.Random(seed)
    billings = [*MATCHING, *FAILING, *DUPLICATES]
    rng.shuffle(billings)
    batch, numbers = [], set()
    for billing in billings:
        values = ledger_invoice(rng, billing)
        while (values["supplier"], values["invoice_number"]) in numbers:  # a clash of two drawn numbers
            values = ledger_invoice(rng, billing)
        numbers.add((values["supplier"], values["invoice_number"]))
        batch.append((values, billing.expected))
    resent = next(values for values, expected in batch if expected == "approved")
    batch.append((dict(resent), "duplicate"))
    return batch
