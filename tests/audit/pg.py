"""A trail in PostgreSQL for the audit tests, read back and tampered with as a database administrator would:
with SQL, as the test database's superuser, on its own connection."""

from __future__ import annotations

import json

import psycopg

from connectors.audit_postgres import PostgresAudit
from connectors.audit_verify import VerifyReport, verify
from tests.audit.trails import KEY


class PgTrail:
    def __init__(self, url: str, schema: str) -> None:
        self.url, self.schema = url, schema
        self.store = PostgresAudit(url, schema=schema)

    def sql(self, text: str, params: tuple = ()) -> list[tuple]:
        """One statement, ``{s}`` standing for the schema."""
        with psycopg.connect(self.url, autocommit=True) as db:
            cursor = db.execute(text.replace("{s}", f'"{self.schema}"'), params)
            return cursor.fetchall() if cursor.description else []

    def lines(self) -> list[bytes]:
        """The lines, in seq order."""
        return [bytes(line) for (line,) in self.sql("SELECT line FROM {s}.audit_lines ORDER BY seq")]

    def line(self, seq: int) -> bytes:
        return bytes(self.sql("SELECT line FROM {s}.audit_lines WHERE seq = %s", (seq,))[0][0])

    def set_line(self, seq: int, line: bytes) -> None:
        assert self.sql("UPDATE {s}.audit_lines SET line = %s WHERE seq = %s RETURNING seq", (line, seq)) == [(seq,)]

    def checkpoints(self) -> list[dict]:
        return [json.loads(bytes(entry)) for (entry,) in
                self.sql("SELECT entry FROM {s}.audit_checkpoints ORDER BY counter")]

    def seal(self) -> dict | None:
        rows = self.sql("SELECT entry FROM {s}.audit_seal")
        return json.loads(bytes(rows[0][0])) if rows else None

    def verify(self, key: bytes | None = KEY, **options) -> VerifyReport:
        with self.store.reading() as source:
            return verify(source, key, **options)

    def failure(self, key: bytes | None = KEY, **options) -> tuple[str, int | None, str]:
        """(table, seq or counter, reason) of the first failure, failing the test when verify passes."""
        report = self.verify(key, **options)
        assert not report.ok, "verify passed a tampered trail"
        return report.failure.file.name, report.failure.line, report.failure.reason
