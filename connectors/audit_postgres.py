"""The audit trail in PostgreSQL (``audit.kind: postgres``): one hash chain for every writer on every host.

The same trail as the file (connectors/audit.py renders, redacts and chains every line; connectors/audit_seal.py
seals it), kept in three tables of the ledger's schema:

* ``audit_lines``: one row per event, ``seq`` (1, 2, 3, ...), ``line`` (the exact bytes that were hashed, the
  JSON with its ``prev``, without a newline) and ``time`` (the event's time, as in the line);
* ``audit_checkpoints``: one row per checkpoint, ``counter`` and ``seq`` (as in the checkpoint, so writers find
  the last one) and ``entry`` (the checkpoint's JSON, as signed; verify reads only this);
* ``audit_seal``: one row, the seal record (a copy of the latest checkpoint).

**One chain across hosts.** Every append is one transaction: a transaction-scoped advisory lock (one number
per schema) makes writers take turns; the head (the last row's seq and the hash of its line) and the sealing
state (the last checkpoint's seq, and the time of the first line after it) are read inside the same
transaction, the line is inserted, and the commit releases the lock. A writer re-reads the last line only when
another writer appended since its own last commit. A seal (the checkpoint and the seal record) is written in
the transaction of the event before which it was due, or of its own (``flush()``, ``close()``).

**Durability.** A committed row is durable (``synchronous_commit`` is turned back on for these connections
should the server have it off), so ``flush()`` only seals. A writer killed mid-append loses that one
uncommitted event; its lock goes with its connection. A transaction left idle (a stalled host) is ended by the
server after :data:`IDLE_IN_TRANSACTION`, and a writer waits at most :data:`LOCK_WAIT` for its turn.

**Reading.** :meth:`PostgresAudit.events` and :meth:`PostgresAudit.reading` (verify's
:class:`~connectors.audit_verify.TrailSource`) read in one REPEATABLE READ, read-only snapshot, a block of rows
at a time through a server-side cursor.

Every psycopg error becomes AuditUnavailable here (AUDIT_UNAVAILABLE); a checkpoint that cannot be read, or a
trail cut back behind its checkpoints, AuditTrailDamaged. The tables are created on first use when missing;
runbooks/audit.md gives IT the statements and the GRANTs that make the lines insert-only for Clerk's role.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
import psycopg
import psycopg.errors
from pydantic import SecretStr

from connectors.audit_chain import GENESIS, AuditTrailDamaged, AuditUnavailable, event_of, line_hash
from connectors.audit_seal import SealPolicy, SealState, epoch_ms, parse_checkpoint
from connectors.audit_verify import Irregular, Place, Table
from connectors.postgres import checked_schema, connect, create_tables, in_schema, lock_number, masked

LINES, CHECKPOINTS, SEAL = "audit_lines", "audit_checkpoints", "audit_seal"
LOCK_WAIT = "30s"
"""How long a writer waits for its turn before AUDIT_UNAVAILABLE (a turn takes milliseconds)."""
IDLE_IN_TRANSACTION = "60s"
"""The server ends a writer's session that holds its turn this long without a word (a stalled host)."""
_BLOCK = 20_000
"""Rows read at a time."""

TABLES = """
CREATE TABLE IF NOT EXISTS {s}.audit_lines (
    seq BIGINT PRIMARY KEY, line BYTEA NOT NULL, time TIMESTAMPTZ NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.audit_checkpoints (
    counter BIGINT PRIMARY KEY, seq BIGINT NOT NULL, entry BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.audit_seal (
    one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), entry BYTEA NOT NULL);
"""
"""The tables, ``{s}`` standing for the schema (runbooks/audit.md prints them for IT)."""

_HEAD = """
SELECT l.seq, CASE WHEN l.seq IS DISTINCT FROM %s THEN l.line END, c.seq,
       (SELECT time FROM {s}.audit_lines WHERE seq = COALESCE(c.seq, 0) + 1)
FROM (SELECT 1) AS one
LEFT JOIN (SELECT seq, line FROM {s}.audit_lines ORDER BY seq DESC LIMIT 1) AS l ON true
LEFT JOIN (SELECT seq FROM {s}.audit_checkpoints ORDER BY counter DESC LIMIT 1) AS c ON true
"""
"""The head (the last line's seq; the line itself only when it is not the one this writer knows), the last
checkpoint's seq, and the time of the first line after it."""


class PostgresAudit:
    """Where a trail lives in PostgreSQL: a database (``url``, the ledger's) and a schema (``ledger.schema``).

    ``AuditTrail(PostgresAudit(...))`` writes it; :meth:`events` and :meth:`reading` read it."""

    def __init__(self, url: str, *, schema: str = "clerk", password: SecretStr | None = None,
                 connect_timeout_s: float = 10) -> None:
        self.url = url
        self.schema = checked_schema(schema)
        self.password = password
        self.connect_timeout_s = connect_timeout_s
        self.where = f"{masked(url)} (schema {schema})"

    def open(self, policy: SealPolicy) -> _PostgresEnd:
        """The append end an :class:`~connectors.audit.AuditTrail` writes through."""
        return _PostgresEnd(self, policy)

    def connect(self, purpose: str, *, autocommit: bool) -> psycopg.Connection:
        try:
            return connect(self.url, purpose=purpose, schema=self.schema, password=self.password,
                           connect_timeout_s=self.connect_timeout_s, autocommit=autocommit)
        except psycopg.Error as exc:
            raise AuditUnavailable(f"cannot connect to the audit trail at {self.where}: {exc}") from exc

    def sql(self, text: str) -> str:
        return in_schema(text, self.schema)

    @contextlib.contextmanager
    def reading(self) -> Iterator[PostgresSource]:
        """The trail as verify reads it, in one snapshot (a writer appending meanwhile is not seen)."""
        connection = self.connect("audit-read", autocommit=False)
        try:
            connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            connection.read_only = True
            yield PostgresSource(self, connection)
        except psycopg.Error as exc:
            raise AuditUnavailable(f"cannot read the audit trail at {self.where}: {exc}") from exc
        finally:
            connection.close()

    def events(self, *, missing_ok: bool = False) -> Iterator[dict[str, Any]]:
        """Every event, oldest first. Raises AuditTrailDamaged naming the row of a line that is not a JSON
        object, AuditUnavailable when there is no trail here (unless ``missing_ok``)."""
        with self.reading() as source:
            if not source.parts:
                if missing_ok:
                    return
                raise AuditUnavailable(f"no audit trail at {self.where}: its table {source.first} does not exist")
            for seq, raw in source.lines(source.first):
                yield event_of(raw, f"{source.first} seq {seq}")


class PostgresSource:
    """A trail's tables as verify reads them (connectors/audit_verify.py ``TrailSource``): rows are named by their
    ``seq`` (lines) or ``counter`` (checkpoints)."""

    def __init__(self, store: PostgresAudit, connection: psycopg.Connection) -> None:
        self._store, self._db = store, connection
        self.name = store.where
        self.first: Place = Table(store.schema, LINES, "seq")
        self.checkpoints: Place = Table(store.schema, CHECKPOINTS, "counter")
        self.seal: Place = Table(store.schema, SEAL)
        found = self._one("SELECT to_regclass(%s), to_regclass(%s), to_regclass(%s)",
                          [f'"{store.schema}".{table}' for table in (LINES, CHECKPOINTS, SEAL)])
        self._lines, self._checkpoints, self._seal = (table is not None for table in found)
        self.parts: list[Place] = [self.first] if self._lines else []

    def _one(self, query: str, params: Any = ()) -> Any:
        return self._db.execute(self._store.sql(query), params, binary=True).fetchone()

    def checkpoint_rows(self) -> list[tuple[int, bytes]]:
        if not self._checkpoints:
            return []
        rows = self._db.execute(self._store.sql("SELECT counter, entry FROM {s}.audit_checkpoints ORDER BY counter"),
                                binary=True).fetchall()
        return [(counter, bytes(entry)) for counter, entry in rows]

    def seal_bytes(self) -> bytes | None:
        if not self._seal:
            return None
        row = self._one("SELECT entry FROM {s}.audit_seal")
        return bytes(row[0]) if row else None

    def _rows(self) -> Iterator[list[tuple[int, bytes]]]:
        with self._db.cursor(name="clerk_audit_lines", binary=True) as cursor:
            cursor.execute(self._store.sql("SELECT seq, line FROM {s}.audit_lines ORDER BY seq"))
            while rows := cursor.fetchmany(_BLOCK):
                yield rows

    def blocks(self, part: Place) -> Iterator[tuple[list[bytes], bytes, bool]]:
        """Raises Irregular where the rows' seqs do not run on from 1 with no gap (verify's line walk names it)."""
        due = 1
        for rows in self._rows():
            if rows[0][0] != due or rows[-1][0] != due + len(rows) - 1:  # seqs rise (the key): ends fix the rest
                raise Irregular
            due += len(rows)
            lines = [line for _, line in rows]
            yield lines, b"\n".join(lines) + b"\n", False

    def lines(self, part: Place) -> Iterator[tuple[int, bytes]]:
        for rows in self._rows():
            for seq, line in rows:
                yield seq, line + b"\n"


class PostgresSeals:
    """The checkpoints and the seal record in their tables (connectors/audit_seal.py ``SealStore``). Callers hold
    the trail (a transaction of the append end)."""

    def __init__(self, end: _PostgresEnd) -> None:
        self._end = end
        self._checkpoints = Table(end.store.schema, CHECKPOINTS, "counter")

    def last(self) -> dict[str, Any] | None:
        row = self._end.read("SELECT counter, entry FROM {s}.audit_checkpoints ORDER BY counter DESC LIMIT 1")
        return None if row is None else self._read(row[1], f"{self._checkpoints} counter {row[0]}")

    def seal(self) -> dict[str, Any] | None:
        row = self._end.read("SELECT entry FROM {s}.audit_seal")
        return None if row is None else self._read(row[0], f"{self._end.store.schema}.{SEAL}")

    def append(self, entry: dict[str, Any]) -> None:
        self._end.write("INSERT INTO {s}.audit_checkpoints (counter, seq, entry) VALUES (%s, %s, %s)",
                        (entry["counter"], entry["seq"], orjson.dumps(entry)))

    def replace_seal(self, entry: dict[str, Any]) -> None:
        """Within the transaction: a reader sees the old seal or the new one, never neither."""
        self._end.write("INSERT INTO {s}.audit_seal (one, entry) VALUES (true, %s)"
                        " ON CONFLICT (one) DO UPDATE SET entry = excluded.entry", (orjson.dumps(entry),))

    @staticmethod
    def _read(raw: bytes, where: str) -> dict[str, Any]:
        entry = parse_checkpoint(bytes(raw))
        if entry is None:
            raise AuditTrailDamaged(f"{where} does not hold a well-formed checkpoint; run clerk audit verify "
                                    "(runbooks/audit.md)")
        return entry


class _PostgresEnd(SealState):
    """The append end of a trail in PostgreSQL (connectors/audit.py ``ChainEnd``): one connection shared by the
    process's threads, one transaction per turn, in two round trips: ``BEGIN``, the lock and the head in one;
    the turn's writes, held back until then, and ``COMMIT`` in the other (a pipeline). A read in the turn (the
    seals') sends the writes held back first, so it sees them."""

    def __init__(self, store: PostgresAudit, policy: SealPolicy) -> None:
        super().__init__(policy)
        self.store = store
        self.where = store.where
        self.part = LINES
        self.seals = PostgresSeals(self)
        self.seq, self.head = 0, GENESIS
        self.day = None
        self._known: int | None = None
        """The seq whose line ``head`` hashes, as committed (None: read the last line at the next turn)."""
        self._begin_sql = store.sql(f"BEGIN; SELECT pg_advisory_xact_lock({lock_number(store.schema, 'audit', b'')});"
                                    f" {_HEAD}")
        self._pending: list[tuple[str, tuple]] = []
        self._thread_lock = threading.Lock()
        self._in_turn = False
        self._closed = False
        self._db: psycopg.Connection | None = self._connect()
        with self:
            pass

    # --- the turn -----------------------------------------------------------------------------------
    def acquire(self) -> None:
        """Begin a turn: wait for the lock, then read the head and the sealing state in the same transaction."""
        self._thread_lock.acquire()
        try:
            self._begin()
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        """End the turn: send its writes and commit (which lets the next writer in)."""
        try:
            if self._in_turn:
                self._send("COMMIT")
                self._in_turn = False
                self._known = self.seq
        finally:
            self._thread_lock.release()

    def __enter__(self) -> _PostgresEnd:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()

    def _begin(self) -> None:
        if self._closed:
            raise AuditUnavailable(f"the audit trail at {self.where} is closed")
        known = "NULL" if self._known is None else str(int(self._known))
        for attempt in (1, 2):
            fresh = self._db is None
            if fresh:
                self._db = self._connect()
            try:
                self._in_turn = True
                cursor = self._db.execute(self._begin_sql.replace("%s", known))  # no parameters: one round trip
                cursor.nextset()
                cursor.nextset()
                seq, line, sealed, first = cursor.fetchone()
                break
            except psycopg.errors.LockNotAvailable as exc:
                raise self._failed(exc, f"waiting {LOCK_WAIT} for another writer to finish its turn") from exc
            except psycopg.Error as exc:
                dropped = self._db.broken or self._db.closed
                failure = self._failed(exc, "starting a turn")
                if dropped and attempt == 1 and not fresh:  # an idle connection the server dropped: a new one
                    continue
                raise failure from exc
        if seq is None:
            self.seq, self.head = 0, GENESIS
        elif line is not None:
            self.seq, self.head = seq, line_hash(line)
        sealed, first = sealed or 0, epoch_ms(first) if first is not None else 0
        if (sealed, first) != (self.sealed_seq, self.first_unsealed_ms):
            self._set_state(sealed, first)

    def write(self, query: str, params: tuple) -> None:
        """A write of the turn (``{s}`` for the schema), sent with the next read or the commit."""
        self._pending.append((self.store.sql(query), params))

    def read(self, query: str) -> Any:
        """The first row of a query in the turn (``{s}`` for the schema), None when there is none."""
        self._send()
        try:
            return self._db.execute(self.store.sql(query), binary=True).fetchone()
        except psycopg.Error as exc:
            raise self._failed(exc, "reading") from exc

    def _send(self, then: str | None = None) -> None:
        """Send the writes held back (and ``then``), in one round trip."""
        if not self._pending and then is None:
            return
        try:
            with self._db.pipeline():
                for query, params in self._pending:
                    self._db.execute(query, params)
                if then is not None:
                    self._db.execute(then)
        except psycopg.Error as exc:
            raise self._failed(exc, "committing" if then else "writing") from exc
        self._pending.clear()

    def _failed(self, exc: psycopg.Error, doing: str) -> AuditUnavailable:
        """Abandon the turn (a connection the server dropped is let go) and say what failed. Nothing of the turn
        is kept, so the head is read again at the next one."""
        self._in_turn = False
        self._known = None
        self._pending.clear()
        if self._db is not None:
            try:
                if self._db.broken or self._db.closed:
                    raise psycopg.OperationalError("the connection was lost")
                if self._db.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    self._db.execute("ROLLBACK")
            except psycopg.Error:
                self._db.close()
                self._db = None
        return AuditUnavailable(f"the audit trail at {self.where} failed {doing}: {exc}")

    def _connect(self) -> psycopg.Connection:
        connection = self.store.connect("audit", autocommit=True)
        try:
            for name, value in (("lock_timeout", LOCK_WAIT), ("statement_timeout", "0"),
                                ("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION)):
                connection.execute("SELECT set_config(%s, %s, false)", (name, value))
            connection.execute("SELECT set_config('synchronous_commit', 'on', false)"
                               " WHERE current_setting('synchronous_commit') IN ('off', 'local')")
            with connection.transaction(), connection.cursor() as cursor:
                create_tables(cursor, self.store.schema, (LINES, CHECKPOINTS, SEAL), TABLES)
        except psycopg.Error as exc:
            connection.close()
            raise AuditUnavailable(f"cannot open the audit trail at {self.where}: {exc}") from exc
        return connection

    # --- what the trail does in a turn ----------------------------------------------------------------
    def begin_day(self, today) -> None:
        self.day = today  # one table for every day

    def append(self, line: bytes, now: datetime) -> None:
        self.write("INSERT INTO {s}.audit_lines (seq, line, time) VALUES (%s, %s, %s)",
                   (self.seq + 1, line, now.replace(microsecond=now.microsecond // 1000 * 1000)))
        self.seq += 1
        self.head = line_hash(line)
        if self.sealed_seq == self.seq - 1:  # the first event after a seal: the stretch begins
            self._set_state(self.sealed_seq, epoch_ms(now))

    def sealed(self, seq: int) -> None:
        self._set_state(seq, 0)

    def durable(self) -> None:
        """Nothing to do: what was committed is durable, and a seal commits with its turn."""

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._thread_lock:
            self._closed = True
            if self._db is not None:
                self._db.close()
                self._db = None
