"""The records every new Finance database starts with: suppliers, purchase orders and invoices already entered.

The demo, the tests and :mod:`sandbox.invoices` rely on these exact records. All are made up. The first
three suppliers are the ones :func:`sandbox.documents.invoice` bills from.

Purchase orders (net amounts; "received" is the goods-received value):

========  =====  ===================================  ========  ========  ==========================================
PO        who    lines                                ordered   received  what it is for
========  =====  ===================================  ========  ========  ==========================================
PO100001  S1001  10 paper @ 21.50, 4 toner @ 64.99    474.96    474.96    a clean match
PO100002  S1001  6 desk chairs @ 149.00               894.00    894.00    half invoiced already (PI-000001, INV-40021)
PO100003  S1002  12 grass cuts @ 180.00               2,160.00  720.00    only 4 cuts received: a full bill fails
PO100004  S1002  40 hours hedge trimming @ 32.50      1,300.00  1,300.00  the tolerance: 2% over (1,326.00) passes
PO100005  S1003  5 x 1,000 leaflets @ 95.00           475.00    475.00    2 of 5 invoiced already (PI-000002)
PO100006  S1003  10 x 1,000 leaflets @ 95.00          950.00    0.00      nothing received yet: any bill fails
PO100007  S1004  2 toner @ 64.99                      129.98    129.98    the look-alike supplier's order
PO100008  S1005  1 buffet lunch for 30 @ 240.00       240.00    240.00    a clean match
========  =====  ===================================  ========  ========  ==========================================

Invoices already on the ledger: PI-000001 (S1001 INV-40021 on PO100002, Approved), PI-000002 (S1003
NPC/24/0117 on PO100005, Approved), PI-000003 (S1002 DGM-0042 on PO100003 for the whole order: On hold:
match failure), PI-000004 (S1004 INV-40021 on PO100007: the same invoice number as PI-000001 from
another supplier, which is not a duplicate), then :data:`HISTORY_COUNT` approved invoices on closed
historic orders PO0900nn, so the invoice grid has more than one page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

HISTORY_COUNT = 24


@dataclass(frozen=True)
class Supplier:
    id: str  # S and four digits
    name: str
    address: str
    vat_registration: str


@dataclass(frozen=True)
class OrderLine:
    description: str
    quantity: int
    unit_price: Decimal
    received: int  # quantity received so far

    @property
    def ordered_net(self) -> Decimal:
        return self.quantity * self.unit_price

    @property
    def received_net(self) -> Decimal:
        return self.received * self.unit_price


@dataclass(frozen=True)
class PurchaseOrder:
    po_number: str  # PO and six digits
    supplier_id: str
    raised: date
    lines: tuple[OrderLine, ...]

    @property
    def ordered_net(self) -> Decimal:
        return sum((line.ordered_net for line in self.lines), Decimal("0.00"))

    @property
    def received_net(self) -> Decimal:
        return sum((line.received_net for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True)
class Invoice:
    """An invoice already entered; its status comes from the three-way match when the database is made."""

    supplier_id: str
    invoice_number: str
    invoice_date: date
    po_number: str
    net: Decimal
    vat_rate: Decimal
    notes: str = ""

    @property
    def vat(self) -> Decimal:
        return (self.net * self.vat_rate).quantize(Decimal("0.01"))

    @property
    def total(self) -> Decimal:
        return self.net + self.vat


SUPPLIERS: tuple[Supplier, ...] = (
    Supplier("S1001", "Pennine Office Supplies Ltd", "Unit 4, Canal Wharf, Leeds LS11 5PS", "GB 123 4567 89"),
    Supplier("S1002", "Dales Grounds Maintenance Ltd", "Moor Lane, Skipton BD23 1AA", "GB 987 6543 21"),
    Supplier("S1003", "Northern Print & Copy Ltd", "22 Mill Street, Bradford BD1 4AB", "GB 555 1212 34"),
    Supplier("S1004", "Pennine Office Services Ltd", "3 Wade Street, Halifax HX1 1SN", "GB 246 8101 21"),
    Supplier("S1005", "Calder Valley Catering Ltd", "The Old Station, Hebden Bridge HX7 8AD", "GB 731 9900 12"),
)

_PAPER = ("A4 copier paper, box of 5 reams", Decimal("21.50"))
_TONER = ("Toner cartridge, black", Decimal("64.99"))
_CHAIR = ("Desk chair", Decimal("149.00"))
_GRASS = ("Grass cutting, Victoria Park", Decimal("180.00"))
_HEDGE = ("Hedge trimming, per hour", Decimal("32.50"))
_LEAFLETS = ("Leaflets, 1,000 copies", Decimal("95.00"))
_BUFFET = ("Buffet lunch for 30", Decimal("240.00"))


def _line(item: tuple[str, Decimal], quantity: int, received: int) -> OrderLine:
    return OrderLine(item[0], quantity, item[1], received)


ORDERS: tuple[PurchaseOrder, ...] = (
    PurchaseOrder("PO100001", "S1001", date(2025, 9, 1), (_line(_PAPER, 10, 10), _line(_TONER, 4, 4))),
    PurchaseOrder("PO100002", "S1001", date(2025, 9, 3), (_line(_CHAIR, 6, 6),)),
    PurchaseOrder("PO100003", "S1002", date(2025, 8, 20), (_line(_GRASS, 12, 4),)),
    PurchaseOrder("PO100004", "S1002", date(2025, 9, 10), (_line(_HEDGE, 40, 40),)),
    PurchaseOrder("PO100005", "S1003", date(2025, 7, 14), (_line(_LEAFLETS, 5, 5),)),
    PurchaseOrder("PO100006", "S1003", date(2025, 9, 15), (_line(_LEAFLETS, 10, 0),)),
    PurchaseOrder("PO100007", "S1004", date(2025, 9, 5), (_line(_TONER, 2, 2),)),
    PurchaseOrder("PO100008", "S1005", date(2025, 9, 18), (_line(_BUFFET, 1, 1),)),
)

_TWENTY = Decimal("0.20")
_CURRENT: tuple[Invoice, ...] = (
    Invoice("S1001", "INV-40021", date(2025, 9, 20), "PO100002", Decimal("447.00"), _TWENTY, "3 of 6 chairs"),
    Invoice("S1003", "NPC/24/0117", date(2025, 8, 1), "PO100005", Decimal("190.00"), _TWENTY),
    Invoice("S1002", "DGM-0042", date(2025, 9, 30), "PO100003", Decimal("2160.00"), _TWENTY, "Whole season billed"),
    Invoice("S1004", "INV-40021", date(2025, 9, 25), "PO100007", Decimal("129.98"), _TWENTY),
)
_HISTORY_ITEMS = (_PAPER, _TONER, _LEAFLETS, _HEDGE, _BUFFET)
_HISTORY_NUMBERS = {"S1001": "INV-3{:04d}", "S1002": "DGM-{:04d}", "S1003": "NPC/23/{:04d}",
                    "S1004": "POS-{:04d}", "S1005": "CVC-{:03d}"}  # fmt: skip


def _history() -> tuple[tuple[PurchaseOrder, ...], tuple[Invoice, ...]]:
    """Closed historic orders, each invoiced in full, so the invoice grid runs to more than one page."""
    orders, invoices = [], []
    for n in range(1, HISTORY_COUNT + 1):
        who = SUPPLIERS[n % len(SUPPLIERS)]
        item = _HISTORY_ITEMS[n % len(_HISTORY_ITEMS)]
        quantity = 1 + n % 4
        raised = date(2024, 1, 8) + timedelta(days=14 * n)
        orders.append(PurchaseOrder(f"PO09{n:04d}", who.id, raised, (_line(item, quantity, quantity),)))
        invoices.append(Invoice(who.id, _HISTORY_NUMBERS[who.id].format(100 + n), raised + timedelta(days=10),
                                orders[-1].po_number, orders[-1].ordered_net, _TWENTY))  # fmt: skip
    return tuple(orders), tuple(invoices)


_HISTORIC_ORDERS, _HISTORIC_INVOICES = _history()
ORDERS = ORDERS + _HISTORIC_ORDERS
INVOICES: tuple[Invoice, ...] = _CURRENT + _HISTORIC_INVOICES
"""In the order they were entered: PI-000001 is the first."""


def supplier(supplier_id: str) -> Supplier:
    return next(s for s in SUPPLIERS if s.id == supplier_id)


def order(po_number: str) -> PurchaseOrder:
    return next(o for o in ORDERS if o.po_number == po_number)
