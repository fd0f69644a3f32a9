"""One SQLite file per sandbox app, shared by every request thread behind one lock."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class SqliteStore:
    """Opens (or creates) the file and runs ``schema``; a subclass adds the app's queries.

    ``seed`` runs once, in the same transaction, when the file is new (its ``seed_table`` is empty).
    """

    schema: str = ""
    seed_table: str | None = None

    def __init__(self, db_path: str | Path) -> None:
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        with self._lock, self._db:
            self._db.executescript(self.schema)
            if self.seed_table and self._db.execute(f"SELECT count(*) FROM {self.seed_table}").fetchone()[0] == 0:
                self.seed()

    def seed(self) -> None:
        """Insert the app's seeded records (called under the lock, inside the transaction)."""

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rows(self, sql: str, args: list | tuple | dict = ()) -> list[dict]:
        with self._lock:
            return [dict(row) for row in self._db.execute(sql, args)]
