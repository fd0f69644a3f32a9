"""Finance's data: suppliers, purchase orders with their lines, and the invoices entered, in SQLite.

A new database is filled from :mod:`sandbox.finance.fixtures` (the seeded invoices go through the same
three-way match as new ones). Every request thread shares one connection behind one lock
(:mod:`sandbox.kit.store`); an invoice is
checked for a duplicate and saved under that lock, in one transaction, so two saves of the same invoice
can never both succeed. Amounts are kept as text ("1234.50") and returned as Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sandbox.finance import fixtures
from sandbox.finance.rules import (
    APPROVED,
    Entry,
    Match,
    check_fields,
    check_records,
    duplicate_key,
    three_way_match,
)
from sandbox.kit.store import SqliteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS suppliers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL, vat_registration TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    po_number TEXT PRIMARY KEY, supplier_id TEXT NOT NULL REFERENCES suppliers, raised TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS order_lines (
    po_number TEXT NOT NULL REFERENCES orders, line INTEGER NOT NULL, description TEXT NOT NULL,
    quantity INTEGER NOT NULL, unit_price TEXT NOT NULL, received INTEGER NOT NULL, PRIMARY KEY (po_number, line)
);
CREATE TABLE IF NOT EXISTS invoices (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ref TEXT UNIQUE, supplier_id TEXT NOT NULL REFERENCES suppliers,
    invoice_number TEXT NOT NULL, number_key TEXT NOT NULL, invoice_date TEXT NOT NULL,
    po_number TEXT NOT NULL REFERENCES orders, net TEXT NOT NULL, vat TEXT NOT NULL, total TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, match_reasons TEXT NOT NULL DEFAULT '',
    ordered TEXT NOT NULL, received TEXT NOT NULL, invoiced_before TEXT NOT NULL, tolerance_pct REAL NOT NULL,
    entered_by TEXT NOT NULL, entered_at TEXT NOT NULL, UNIQUE (supplier_id, number_key)
);
"""
_ORDER_ROWS = """
SELECT o.po_number, o.supplier_id, s.name AS supplier_name, o.raised,
       (SELECT printf('%.2f', coalesce(sum(quantity * unit_price), 0)) FROM order_lines WHERE po_number = o.po_number)
           AS ordered,
       (SELECT printf('%.2f', coalesce(sum(received * unit_price), 0)) FROM order_lines WHERE po_number = o.po_number)
           AS received
FROM orders o JOIN suppliers s ON s.id = o.supplier_id
"""
_INVOICE_ROWS = "SELECT i.*, s.name AS supplier_name FROM invoices i JOIN suppliers s ON s.id = i.supplier_id"
_INVOICE_TEXT = "i.ref || ' ' || i.invoice_number || ' ' || s.name || ' ' || i.po_number || ' ' || i.notes"


@dataclass(frozen=True)
class Duplicate:
    """The supplier already has an invoice with this number."""

    existing: dict


@dataclass(frozen=True)
class Refused:
    """What is wrong, by field name."""

    errors: dict[str, str]


class FinanceStore(SqliteStore):
    schema = _SCHEMA
    seed_table = "suppliers"

    def __init__(self, db_path: str | Path, *, tolerance_pct: float = 2.0) -> None:
        self._seed_tolerance_pct = tolerance_pct  # the seeded invoices are matched with it
        super().__init__(db_path)

    def seed(self) -> None:
        self._db.executemany("INSERT INTO suppliers VALUES (?, ?, ?, ?)",
                             [(s.id, s.name, s.address, s.vat_registration) for s in fixtures.SUPPLIERS])  # fmt: skip
        for order in fixtures.ORDERS:
            self._db.execute("INSERT INTO orders VALUES (?, ?, ?)",
                             (order.po_number, order.supplier_id, order.raised.isoformat()))  # fmt: skip
            self._db.executemany(
                "INSERT INTO order_lines VALUES (?, ?, ?, ?, ?, ?)",
                [(order.po_number, n, line.description, line.quantity, str(line.unit_price), line.received)
                 for n, line in enumerate(order.lines, start=1)],
            )  # fmt: skip
        for invoice in fixtures.INVOICES:
            entry = Entry(invoice.supplier_id, invoice.invoice_number, invoice.invoice_date, invoice.po_number,
                          invoice.net, invoice.vat, invoice.total, invoice.notes)  # fmt: skip
            self._insert(entry, self._seed_tolerance_pct, user="conversion",
                         at=f"{invoice.invoice_date.isoformat()}T09:00:00")  # fmt: skip

    # --- reading --------------------------------------------------------------------------------

    def suppliers(self, search: str = "") -> list[dict]:
        """Suppliers whose id or name contain ``search`` (letter case ignored), by name."""
        return self._rows("SELECT * FROM suppliers WHERE instr(lower(id || ' ' || name), lower(?)) > 0 ORDER BY name, id",
                          (search,))  # fmt: skip

    def orders(self, *, search: str = "", offset: int = 0, limit: int = 20) -> tuple[list[dict], int]:
        """A window of purchase orders, newest first, with what has been invoiced (approved) against each."""
        where = "WHERE instr(lower(o.po_number || ' ' || s.name), lower(?)) > 0"
        total = self._rows(f"SELECT count(*) AS n FROM ({_ORDER_ROWS} {where})", (search,))[0]["n"]
        rows = self._rows(f"{_ORDER_ROWS} {where} ORDER BY o.raised DESC, o.po_number LIMIT ? OFFSET ?",
                          (search, limit, offset))  # fmt: skip
        for row in rows:
            row["invoiced"] = f"{self._invoiced(row['po_number']):.2f}"
        return rows, total

    def order(self, po_number: str) -> dict | None:
        rows = self._rows(f"{_ORDER_ROWS} WHERE o.po_number = upper(?)", (po_number.strip(),))
        if not rows:
            return None
        order = rows[0]
        order["invoiced"] = f"{self._invoiced(order['po_number']):.2f}"
        order["lines"] = self._rows(
            "SELECT line, description, quantity, unit_price, received, printf('%.2f', quantity * unit_price) AS "
            "ordered_net, printf('%.2f', received * unit_price) AS received_net FROM order_lines WHERE po_number = ? "
            "ORDER BY line",
            (order["po_number"],),
        )
        return order

    def _invoiced(self, po_number: str) -> Decimal:
        with self._lock:
            return self._approved_net(po_number)

    def _approved_net(self, po_number: str) -> Decimal:
        nets = self._db.execute("SELECT net FROM invoices WHERE po_number = ? AND status = ?", (po_number, APPROVED))
        return sum((Decimal(row[0]) for row in nets), Decimal("0.00"))

    def invoices(self, *, search: str = "", offset: int = 0, limit: int = 20) -> tuple[list[dict], int]:
        """A window of invoices, newest entered first, whose reference, number, supplier, PO or notes contain
        ``search`` (letter case ignored)."""
        where = f"WHERE instr(lower({_INVOICE_TEXT}), lower(?)) > 0"
        total = self._rows(f"SELECT count(*) AS n FROM ({_INVOICE_ROWS} {where})", (search,))[0]["n"]
        rows = self._rows(f"{_INVOICE_ROWS} {where} ORDER BY i.id DESC LIMIT ? OFFSET ?", (search, limit, offset))
        return rows, total

    def invoice(self, ref: str) -> dict | None:
        rows = self._rows(f"{_INVOICE_ROWS} WHERE i.ref = upper(?)", (ref.strip(),))
        return rows[0] if rows else None

    def all_invoices(self) -> list[dict]:
        return self._rows(f"{_INVOICE_ROWS} ORDER BY i.id")

    # --- entering an invoice --------------------------------------------------------------------

    def enter(self, data: dict, *, user: str, today: date, tolerance_pct: float) -> dict | Duplicate | Refused:
        """Check an invoice (see :mod:`sandbox.finance.rules`) and save it: the saved row, or why not."""
        checked = check_fields(data, today=today)
        with self._lock, self._db:
            number = str(data.get("invoice_number") or "")
            supplier_id = str(data.get("supplier_id") or "").strip().upper()
            existing = self._db.execute(f"{_INVOICE_ROWS} WHERE i.supplier_id = ? AND i.number_key = ?",
                                        (supplier_id, duplicate_key(number))).fetchone()  # fmt: skip
            if existing is not None and number.strip():
                return Duplicate(dict(existing))
            if isinstance(checked, dict):
                return Refused(checked)
            supplier = self._db.execute("SELECT * FROM suppliers WHERE id = ?", (checked.supplier_id,)).fetchone()
            order = self._db.execute(f"{_ORDER_ROWS} WHERE o.po_number = ?", (checked.po_number,)).fetchone()
            errors = check_records(checked, supplier=dict(supplier) if supplier else None,
                                   order=dict(order) if order else None)  # fmt: skip
            if errors:
                return Refused(errors)
            ref = self._insert(checked, tolerance_pct, user=user, at=datetime.now().isoformat(timespec="seconds"))
        invoice = self.invoice(ref)
        assert invoice is not None
        return invoice

    def _insert(self, entry: Entry, tolerance_pct: float, *, user: str, at: str) -> str:
        order = self._db.execute(f"{_ORDER_ROWS} WHERE o.po_number = ?", (entry.po_number,)).fetchone()
        match: Match = three_way_match(
            entry.net,
            ordered=Decimal(order["ordered"]),
            received=Decimal(order["received"]),
            invoiced_before=self._approved_net(entry.po_number),
            tolerance_pct=tolerance_pct,
        )
        cursor = self._db.execute(
            "INSERT INTO invoices (supplier_id, invoice_number, number_key, invoice_date, po_number, net, vat, total, "
            "notes, status, match_reasons, ordered, received, invoiced_before, tolerance_pct, entered_by, entered_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.supplier_id, entry.invoice_number, duplicate_key(entry.invoice_number),
             entry.invoice_date.isoformat(), entry.po_number, f"{entry.net:.2f}", f"{entry.vat:.2f}",
             f"{entry.total:.2f}", entry.notes, match.status, "\n".join(match.reasons), f"{match.ordered:.2f}",
             f"{match.received:.2f}", f"{match.invoiced_before:.2f}", tolerance_pct, user, at),
        )  # fmt: skip
        ref = f"PI-{cursor.lastrowid:06d}"
        self._db.execute("UPDATE invoices SET ref = ? WHERE id = ?", (ref, cursor.lastrowid))
        return ref
