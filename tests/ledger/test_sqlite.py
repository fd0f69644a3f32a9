"""What only the SQLite ledger does: upgrade a ledger file from an earlier version, and keep its locks in
files beside it (named by a hash, never by the key)."""

from __future__ import annotations

import sqlite3

from connectors.ledger import SqliteLedger


def test_a_ledger_from_the_previous_version_gains_the_lease_columns(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("""CREATE TABLE work_items (reference TEXT PRIMARY KEY, message_id TEXT NOT NULL, process TEXT NOT
            NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 1, outcome TEXT, reason_code TEXT,
            case_reference TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""")
        db.execute("INSERT INTO work_items VALUES ('CLK-A', '<m>', 'blue_badge', 'done', 1, 'created', NULL, 'BB-1',"
                   " 't', 't')")
    ledger = SqliteLedger(path)
    again = ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=60)
    assert (again.previous.state, again.previous.case_reference, again.fence) == ("done", "BB-1", 1)
    ledger.close()


def test_lock_files_sit_beside_the_ledger_and_never_name_the_key(tmp_path):
    ledger = SqliteLedger(tmp_path / "ledger.db")
    with ledger.hold("okafor|1950-03-07"):
        files = sorted(path.name for path in (tmp_path / "ledger.db.locks").iterdir())
    assert len(files) == 1 and files[0].endswith(".lock") and "okafor" not in files[0]
    ledger.close()
