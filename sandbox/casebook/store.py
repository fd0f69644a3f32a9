"""Casebook's data: one SQLite table of cases (see :mod:`sandbox.kit.store`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sandbox.kit.store import SqliteStore

# Columns a case is created with, in the order the case view shows them.
CASE_FIELDS = (
    "title",
    "first_names",
    "surname",
    "date_of_birth",  # DD/MM/YYYY, as keyed
    "ni_number",
    "address_line_1",
    "address_line_2",
    "town",
    "postcode",
    "phone",
    "email",
    "eligibility",
    "badge_type",
    "existing_badge_number",
    "notes",
)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_reference TEXT UNIQUE,
    {", ".join(f"{name} TEXT NOT NULL DEFAULT ''" for name in CASE_FIELDS)},
    status TEXT NOT NULL DEFAULT 'Received',
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT ''
)
"""


@dataclass(frozen=True)
class Criteria:
    """One search: ``by`` is "reference", "applicant" or "notes"."""

    by: str
    reference: str = ""
    surname: str = ""
    date_of_birth: str = ""
    notes: str = ""


class CaseStore(SqliteStore):
    schema = _SCHEMA

    def create(self, values: dict[str, str], *, created_by: str, now: datetime | None = None) -> str:
        """Insert a case and return its reference, ``BB-<year>-<6-digit sequence>``."""
        now = now or datetime.now()
        row = {name: values.get(name) or "" for name in CASE_FIELDS}
        columns = ", ".join(CASE_FIELDS)
        marks = ", ".join("?" for _ in CASE_FIELDS)
        with self._lock, self._db:
            cursor = self._db.execute(
                f"INSERT INTO cases ({columns}, created_at, created_by) VALUES ({marks}, ?, ?)",
                [*row.values(), now.isoformat(timespec="seconds"), created_by],
            )
            reference = f"BB-{now.year}-{cursor.lastrowid:06d}"
            self._db.execute("UPDATE cases SET case_reference = ? WHERE id = ?", (reference, cursor.lastrowid))
        return reference

    def get(self, reference: str) -> dict | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM cases WHERE upper(case_reference) = upper(?)", (reference.strip(),)
            ).fetchone()
        return dict(row) if row else None

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM cases").fetchone()[0]

    def all(self) -> list[dict]:
        with self._lock:
            return [dict(row) for row in self._db.execute("SELECT * FROM cases ORDER BY id")]

    def search(self, criteria: Criteria, *, page: int, page_size: int) -> tuple[list[dict], int]:
        """One page of matches, oldest first, and the total number of matches."""
        if criteria.by == "reference":
            where, args = "upper(case_reference) = upper(?)", [criteria.reference.strip()]
        elif criteria.by == "applicant":
            where = "lower(surname) = lower(?) AND date_of_birth = ?"
            args = [criteria.surname.strip(), criteria.date_of_birth]
        elif criteria.by == "notes":
            where, args = "instr(lower(notes), lower(?)) > 0", [criteria.notes]
        else:
            raise ValueError(f"unknown search: {criteria.by}")
        offset = (max(page, 1) - 1) * page_size
        with self._lock:
            total = self._db.execute(f"SELECT count(*) FROM cases WHERE {where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT * FROM cases WHERE {where} ORDER BY id LIMIT ? OFFSET ?", [*args, page_size, offset]
            ).fetchall()
        return [dict(row) for row in rows], total
