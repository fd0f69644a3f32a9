"""Revenues' data: the property register, Council Tax accounts and their liabilities, in SQLite.

A new database is filled from :mod:`sandbox.revenues.fixtures`. Every request thread shares one
connection behind one lock (:mod:`sandbox.kit.store`); a change of address is checked and saved under that lock, in one transaction,
together with its note, so a retried or concurrent save can never leave two liabilities open.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime

from sandbox.kit.store import SqliteStore
from sandbox.revenues import fixtures
from sandbox.revenues.rules import Move, MoveForm, check_move

_SCHEMA = """
CREATE TABLE IF NOT EXISTS properties (
    ref TEXT PRIMARY KEY, address_1 TEXT NOT NULL, address_2 TEXT NOT NULL, town TEXT NOT NULL,
    postcode TEXT NOT NULL, band TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    account_no TEXT PRIMARY KEY, title TEXT NOT NULL, forenames TEXT NOT NULL, surname TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS liabilities (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ref TEXT UNIQUE, account_no TEXT NOT NULL REFERENCES accounts,
    property_ref TEXT NOT NULL REFERENCES properties, start_date TEXT NOT NULL, end_date TEXT,
    created_by TEXT NOT NULL DEFAULT 'conversion', created_at TEXT NOT NULL DEFAULT ''
);
"""

# One line per account for the result table: its current liability's property, else its latest one.
_ACCOUNT_ROWS = """
SELECT a.account_no, a.title, a.forenames, a.surname, a.notes, p.ref AS property_ref, p.address_1,
       p.address_2, p.town, p.postcode, l.start_date, l.end_date,
       CASE WHEN l.end_date IS NULL THEN 'Live' ELSE 'Closed' END AS status
FROM accounts a
JOIN liabilities l ON l.id = (
    SELECT id FROM liabilities WHERE account_no = a.account_no
    ORDER BY end_date IS NULL DESC, start_date DESC LIMIT 1)
JOIN properties p ON p.ref = l.property_ref
"""
_LIABILITY_ROWS = """
SELECT l.ref, l.account_no, l.property_ref, l.start_date, l.end_date, l.created_by, l.created_at,
       p.address_1 || ', ' || p.address_2 || ', ' || p.town AS address, p.postcode, p.band
FROM liabilities l JOIN properties p ON p.ref = l.property_ref
"""


# AccountSearch field -> its condition, when the field is not blank.
_FILTERS = {
    "account_no": "a.account_no = :account_no",
    "surname": "lower(a.surname) LIKE lower(:surname) || '%'",
    "forename": "lower(a.forenames) LIKE lower(:forename) || '%'",
    "postcode": "(p.postcode = :postcode OR p.postcode LIKE :postcode || ' %')",
    "address": "instr(lower(p.address_1 || ', ' || p.address_2), lower(:address)) > 0",
    "notes": "instr(lower(a.notes), lower(:notes)) > 0",
}


@dataclass(frozen=True)
class AccountSearch:
    """The search screen's fields, already trimmed. Blank fields are ignored."""

    account_no: str = ""
    surname: str = ""  # starts with
    forename: str = ""  # starts with
    postcode: str = ""  # a whole postcode (exact) or its outward code ("ND1")
    address: str = ""  # contained in the first two address lines
    notes: str = ""  # contained in the notes


@dataclass(frozen=True)
class Moved:
    """A saved change of address: the move, and the reference of the liability it opened."""

    move: Move
    opened: str


class RevenuesStore(SqliteStore):
    schema = _SCHEMA
    seed_table = "properties"

    def seed(self) -> None:
        self._db.executemany(
            "INSERT INTO properties VALUES (?, ?, ?, ?, ?, ?)",
            [(p.ref, p.address_1, p.address_2, p.town, p.postcode, p.band) for p in fixtures.PROPERTIES],
        )
        self._db.executemany(
            "INSERT INTO accounts VALUES (?, ?, ?, ?, ?)",
            [(a.account_no, a.title, a.forenames, a.surname, a.notes) for a in fixtures.ACCOUNTS],
        )
        self._db.executemany(
            "INSERT INTO liabilities (ref, account_no, property_ref, start_date, end_date) VALUES (?, ?, ?, ?, ?)",
            [
                (li.ref, li.account_no, li.property_ref, li.start.isoformat(), li.end.isoformat() if li.end else None)
                for li in fixtures.LIABILITIES
            ],
        )

    # --- reading --------------------------------------------------------------------------------

    def search(self, criteria: AccountSearch, *, page: int, page_size: int) -> tuple[list[dict], int]:
        """One page of matching accounts (by surname, forenames, account number) and how many match."""
        args = asdict(criteria)
        where = " AND ".join(["1 = 1", *(clause for name, clause in _FILTERS.items() if args[name])])
        sql = f"{_ACCOUNT_ROWS} WHERE {where}"
        total = len(self._rows(sql, args))
        offset = (max(page, 1) - 1) * page_size
        window = {**args, "limit": page_size, "offset": offset}
        rows = self._rows(f"{sql} ORDER BY a.surname, a.forenames, a.account_no LIMIT :limit OFFSET :offset", window)
        return rows, total

    def account(self, account_no: str) -> dict | None:
        rows = self._rows(f"{_ACCOUNT_ROWS} WHERE a.account_no = ?", (account_no.strip(),))
        return rows[0] if rows else None

    def liabilities(self, account_no: str | None = None) -> list[dict]:
        """An account's liabilities (every one when None), oldest first."""
        if account_no is None:
            return self._rows(f"{_LIABILITY_ROWS} ORDER BY l.id")
        return self._rows(f"{_LIABILITY_ROWS} WHERE l.account_no = ? ORDER BY l.start_date, l.id", (account_no,))

    def accounts(self) -> list[dict]:
        return self._rows("SELECT * FROM accounts ORDER BY account_no")

    def counts(self) -> dict[str, int]:
        """What the welcome screen shows."""
        with self._lock:
            one = lambda sql: self._db.execute(sql).fetchone()[0]  # noqa: E731
            return {
                "Accounts": one("SELECT count(*) FROM accounts"),
                "Properties": one("SELECT count(*) FROM properties"),
                "Live liabilities": one("SELECT count(*) FROM liabilities WHERE end_date IS NULL"),
            }

    def property(self, ref: str) -> dict | None:
        rows = self._rows("SELECT * FROM properties WHERE upper(ref) = upper(?)", (ref.strip(),))
        return rows[0] if rows else None

    def properties(self, *, postcode: str = "", address: str = "") -> list[dict]:
        """Register entries at ``postcode`` (whole, or its outward code) containing ``address``, with who is
        liable today (``occupier``: account numbers, blank when empty)."""
        sql = """SELECT p.*, coalesce((SELECT group_concat(account_no, ' ') FROM liabilities
                                       WHERE property_ref = p.ref AND end_date IS NULL), '') AS occupier
                 FROM properties p WHERE (? = '' OR p.postcode = ? OR p.postcode LIKE ? || ' %')
                 AND instr(lower(p.address_1 || ', ' || p.address_2), lower(?)) > 0 ORDER BY p.postcode, p.ref"""
        return self._rows(sql, (postcode, postcode, postcode, address))

    # --- changing -------------------------------------------------------------------------------

    def move(self, form: MoveForm, *, user: str, today: date, max_future_days: int) -> Moved | list[str]:
        """Check and save a change of address in one transaction: the move saved, or why it was refused."""
        with self._lock, self._db:
            current = self._db.execute(
                f"{_LIABILITY_ROWS} WHERE l.account_no = ? AND l.end_date IS NULL", (form.account_no,)
            ).fetchone()
            new = self._db.execute("SELECT * FROM properties WHERE upper(ref) = upper(?)", (form.new_property,))
            new_property = new.fetchone()
            clashes = self._db.execute(
                f"{_LIABILITY_ROWS} WHERE (l.account_no = ? OR l.property_ref = ?) AND l.ref != ? ORDER BY l.id",
                (form.account_no, new_property["ref"] if new_property else "", current["ref"] if current else ""),
            ).fetchall()
            checked = check_move(
                form,
                current=dict(current) if current else None,
                new_property=dict(new_property) if new_property else None,
                clashes=[dict(row) for row in clashes],
                today=today,
                max_future_days=max_future_days,
            )
            if isinstance(checked, list):
                return checked
            stamp = datetime.now().isoformat(timespec="seconds")
            self._db.execute("UPDATE liabilities SET end_date = ? WHERE ref = ?",
                             (checked.move_out.isoformat(), checked.closing))  # fmt: skip
            cursor = self._db.execute(
                "INSERT INTO liabilities (account_no, property_ref, start_date, created_by, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (checked.account_no, checked.property_ref, checked.move_in.isoformat(), user, stamp),
            )
            opened = f"L{cursor.lastrowid:06d}"
            self._db.execute("UPDATE liabilities SET ref = ? WHERE id = ?", (opened, cursor.lastrowid))
            if checked.note:
                self._append_note(checked.account_no, checked.note, user)
        return Moved(checked, opened)

    def add_note(self, account_no: str, text: str, *, user: str) -> bool:
        """Append a dated line to the account's notes; False when there is no such account."""
        with self._lock, self._db:
            return self._append_note(account_no, text, user)

    def _append_note(self, account_no: str, text: str, user: str) -> bool:
        line = f"{datetime.now():%d/%m/%Y %H:%M} {user}: {' '.join(text.split())}"
        cursor = self._db.execute(
            "UPDATE accounts SET notes = CASE WHEN notes = '' THEN ? ELSE notes || char(10) || ? END "
            "WHERE account_no = ?",
            (line, line, account_no),
        )
        return cursor.rowcount == 1

