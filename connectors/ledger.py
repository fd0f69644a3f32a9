"""The work-item ledger: one row per Clerk reference, the state of every email Clerk has claimed.

The Clerk reference is derived from the email's Message-ID, so an email delivered twice (a mail-server
retry, a crash and replay) maps to the same reference and the same row. The embedded default is SQLite;
the :class:`Ledger` port lets a PostgreSQL adapter take over for many workers.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from connectors.errors import SystemError

STATES = ("received", "acknowledged", "waiting", "keying", "done", "exceptions")


def clerk_reference(message_id: str) -> str:
    """A short, stable, human-quotable reference for an email: ``CLK-`` and ten base32 characters."""
    normalised = message_id.strip().strip("<>").encode()
    digest = hashlib.sha256(normalised).digest()
    return "CLK-" + base64.b32encode(digest).decode()[:10]


@dataclass(frozen=True)
class WorkItem:
    reference: str
    message_id: str
    process: str
    state: str
    attempts: int
    outcome: str | None = None
    reason_code: str | None = None
    case_reference: str | None = None
    created_at: str = ""
    updated_at: str = ""


class LedgerUnavailable(SystemError):
    code = "LEDGER_UNAVAILABLE"


class Ledger(Protocol):
    def open(self, reference: str, message_id: str, process: str) -> WorkItem:
        """Record a claimed email; for a reference seen before, count another attempt and return its row."""

    def update(self, reference: str, state: str, **fields: str | None) -> None: ...

    def get(self, reference: str) -> WorkItem | None: ...


class SqliteLedger:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                """CREATE TABLE IF NOT EXISTS work_items (
                    reference TEXT PRIMARY KEY, message_id TEXT NOT NULL, process TEXT NOT NULL,
                    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 1, outcome TEXT, reason_code TEXT,
                    case_reference TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"""
            )
        except sqlite3.Error as exc:
            raise LedgerUnavailable(f"cannot open the ledger at {self.path}: {exc}") from exc

    def open(self, reference: str, message_id: str, process: str) -> WorkItem:
        now = _now()
        with self._lock, self._translate():
            self._db.execute(
                """INSERT INTO work_items (reference, message_id, process, state, created_at, updated_at)
                   VALUES (?, ?, ?, 'received', ?, ?)
                   ON CONFLICT(reference) DO UPDATE SET attempts = attempts + 1, updated_at = excluded.updated_at""",
                (reference, message_id, process, now, now),
            )
        item = self.get(reference)
        assert item is not None
        return item

    def update(self, reference: str, state: str, **fields: str | None) -> None:
        if state not in STATES:
            raise ValueError(f"unknown work-item state {state!r}")
        allowed = {"outcome", "reason_code", "case_reference"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown work-item fields {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        sql = f"UPDATE work_items SET state = ?, updated_at = ?{', ' + assignments if assignments else ''} WHERE reference = ?"
        with self._lock, self._translate():
            self._db.execute(sql, (state, _now(), *fields.values(), reference))

    def get(self, reference: str) -> WorkItem | None:
        with self._lock, self._translate():
            row = self._db.execute(
                "SELECT reference, message_id, process, state, attempts, outcome, reason_code, case_reference,"
                " created_at, updated_at FROM work_items WHERE reference = ?",
                (reference,),
            ).fetchone()
        return WorkItem(*row) if row else None

    def counts(self) -> dict[str, int]:
        with self._lock, self._translate():
            rows = self._db.execute("SELECT state, COUNT(*) FROM work_items GROUP BY state").fetchall()
        return dict(rows)

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _translate(self):
        try:
            yield
        except sqlite3.Error as exc:
            raise LedgerUnavailable(f"the ledger at {self.path} failed: {exc}") from exc


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
