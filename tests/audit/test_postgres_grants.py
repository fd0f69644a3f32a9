"""The statements runbooks/audit.md gives IT, run as they are written (with roles and a schema of the test's own):
they make the tables Clerk would make, Clerk writes and verifies its trail (and keeps its ledger) through them,
and its role can append but never change or delete a line or a checkpoint."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from connectors.audit import AuditTrail
from connectors.audit_postgres import PostgresAudit
from connectors.audit_verify import verify
from connectors.ledger_postgres import PostgresLedger
from tests.audit.trails import KEY, items

RUNBOOK = Path(__file__).resolve().parents[2] / "runbooks" / "audit.md"


def runbook_sql() -> str:
    """The first SQL block under 'Who may write to the tables'."""
    text = RUNBOOK.read_text().split("### Who may write to the tables", 1)[1]
    return re.search(r"```sql\n(.*?)```", text, re.S).group(1)


def as_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")))


def shape(db: psycopg.Connection, schema: str) -> tuple[list[tuple], list[tuple]]:
    """The audit tables' columns and constraints in ``schema``."""
    columns = db.execute(
        "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name LIKE 'audit%%' ORDER BY table_name, ordinal_position", (schema,))
    constraints = db.execute(
        "SELECT c.relname, k.contype, pg_get_constraintdef(k.oid) FROM pg_constraint k JOIN pg_class c"
        " ON c.oid = k.conrelid WHERE k.connamespace = %s::regnamespace AND c.relname LIKE 'audit%%'"
        " ORDER BY 1, 2, 3", (schema,))
    return columns.fetchall(), constraints.fetchall()


@pytest.fixture
def installed(postgres_url):
    """The runbook's statements, with the roles and the schema named for this test; all dropped afterwards."""
    login, owner = f"clerk_t_{secrets.token_hex(5)}", f"clerk_owner_t_{secrets.token_hex(5)}"
    statements = re.sub(r"\bclerk\b", login, re.sub(r"\bclerk_audit_owner\b", owner, runbook_sql()))
    admin = psycopg.connect(postgres_url, autocommit=True)
    try:
        admin.execute(statements)
        yield admin, login, as_user(postgres_url, login)
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{login}" CASCADE')
        admin.execute(f'DROP OWNED BY "{login}", "{owner}"')
        admin.execute(f'DROP ROLE IF EXISTS "{login}"')
        admin.execute(f'DROP ROLE IF EXISTS "{owner}"')
        admin.close()


def test_the_runbooks_tables_are_the_ones_clerk_makes(installed, pg):
    admin, schema, _ = installed
    AuditTrail(pg.store).close()  # Clerk makes its own in a schema of its own
    theirs = shape(admin, schema)
    assert theirs == shape(admin, pg.schema)
    assert (len(theirs[0]), len(theirs[1])) == (8, 4)


def test_clerks_role_writes_verifies_and_keeps_its_ledger_but_cannot_change_or_delete(installed):
    admin, schema, url = installed
    store = PostgresAudit(url, schema=schema)
    items(store, 3)
    with store.reading() as source:
        report = verify(source, KEY)
    assert (report.ok, report.events, report.last_counter) == (True, 9, 3)
    ledger = PostgresLedger(url, schema=schema)
    assert ledger.claim("CLK-1", "<m1@council>", "worker-1", 60) is not None
    ledger.close()
    owners = dict(admin.execute("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = %s", (schema,)))
    assert {owners[name] for name in ("audit_lines", "audit_checkpoints", "audit_seal")} != {schema}
    assert owners["work_items"] == schema
    refused = []
    with psycopg.connect(url, autocommit=True) as clerk:
        for statement in (
                "UPDATE {s}.audit_lines SET line = line WHERE seq = 1", "DELETE FROM {s}.audit_lines WHERE seq = 9",
                "TRUNCATE {s}.audit_lines", "DROP TABLE {s}.audit_lines",
                "UPDATE {s}.audit_checkpoints SET seq = seq", "DELETE FROM {s}.audit_checkpoints",
                "DELETE FROM {s}.audit_seal", "ALTER TABLE {s}.audit_lines DISABLE TRIGGER ALL"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
                clerk.execute(statement.replace("{s}", f'"{schema}"'))
            refused.append(str(caught.value).split(" ")[:4])
    assert refused == [["permission", "denied", "for", "table"]] * 3 + [["must", "be", "owner", "of"]] + [
        ["permission", "denied", "for", "table"]] * 3 + [["must", "be", "owner", "of"]]
    with store.reading() as source:
        assert verify(source, KEY).ok  # all of it refused: nothing changed
