"""What Clerk's PostgreSQL adapters share: the ledger (connectors/ledger_postgres.py) and the audit trail
(connectors/audit_postgres.py) keep their tables in one schema of one database.

* :func:`connect`: a connection named for what it does (``clerk-<purpose>:<schema>`` in ``pg_stat_activity``),
  with TCP keepalives, READ COMMITTED whatever the server's default, the password from the caller (never the URL);
* :func:`lock_number`: a 64-bit advisory-lock number in the schema's own name space;
* :func:`create_tables`: the schema and a set of tables created once, one creator at a time, and left alone
  when they are there already (a role without CREATE rights may use tables IT created);
* :func:`masked`: a URL fit to print.

psycopg's errors pass through: each adapter translates them into its own (LedgerUnavailable, AuditUnavailable)
at its boundary.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import psycopg
from pydantic import SecretStr

SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")
"""A schema name that needs no quoting (settings check it too)."""
_SCHEMA_LOCK = hashlib.sha256(b"").digest()


def masked(url: str) -> str:
    """``url`` fit to print: a password in it (there should be none) is replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def checked_schema(schema: str) -> str:
    if not SCHEMA.fullmatch(schema):
        raise ValueError(f"{schema!r} is not a plain schema name")
    return schema


def in_schema(text: str, schema: str) -> str:
    """SQL with ``{s}`` standing for the schema (a checked plain name, quoted)."""
    return text.replace("{s}", f'"{schema}"')


def lock_number(schema: str, purpose: str, digest: bytes) -> int:
    """A signed 64-bit advisory-lock number for ``purpose`` and a key's ``digest``, in ``schema``'s name space."""
    value = hashlib.sha256(b"\0".join((schema.encode(), purpose.encode(), digest))).digest()
    return int.from_bytes(value[:8], "big", signed=True)


def connect(url: str, *, purpose: str, schema: str, password: SecretStr | None, connect_timeout_s: float,
            autocommit: bool = True) -> psycopg.Connection:
    """A new connection. Raises psycopg.Error."""
    options: dict[str, object] = {
        "autocommit": autocommit, "connect_timeout": max(2, math.ceil(connect_timeout_s)),
        "application_name": f"clerk-{purpose}:{schema}"[:63],  # who is who in pg_stat_activity
        # a host that vanishes without closing the connection is noticed in about a minute
        "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}
    if password is not None and password.get_secret_value():
        options["password"] = password.get_secret_value()
    connection = psycopg.connect(url, **options)
    connection.isolation_level = psycopg.IsolationLevel.READ_COMMITTED  # whatever the server's default
    return connection


def create_tables(cur: psycopg.Cursor, schema: str, tables: Sequence[str], ddl: str) -> None:
    """Create ``schema`` when missing and run ``ddl`` (``{s}`` for the schema; statements ``IF NOT EXISTS``),
    unless every one of ``tables`` is there already. Run in a transaction: creators take turns."""
    names = [f'"{schema}".{table}' for table in tables]
    cur.execute(f"SELECT {', '.join(['to_regclass(%s)'] * len(names))}", names)
    if all(cur.fetchone()):
        return  # already there: a role without CREATE rights may use tables IT created
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_number(schema, "schema", _SCHEMA_LOCK),))
    cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
    if cur.fetchone() is None:
        cur.execute(in_schema("CREATE SCHEMA IF NOT EXISTS {s}", schema))
    for statement in in_schema(ddl, schema).split(";"):
        if statement.strip():
            cur.execute(statement)
