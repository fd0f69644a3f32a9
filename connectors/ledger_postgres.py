"""The work-item ledger on PostgreSQL: one database shared by every worker on every host (``ledger.kind: postgres``).

The same port and the same meaning as :class:`connectors.ledger.SqliteLedger` (claims with leases and
fencing tokens, replies recorded once, every change kept in the item's history), for workers on several
hosts reading one shared mailbox. What differs is how it holds across hosts:

* **Time** is the database's: leases are written and compared with ``clock_timestamp()`` (Unix seconds in
  ``WorkItem.lease_until``), so hosts whose clocks disagree still agree on whose lease has run out.
* **Claims** are race-free between processes and hosts: a claim first inserts the row with
  ``ON CONFLICT DO NOTHING`` (two workers claiming a brand-new reference at once: the second waits for
  the first's insert to commit, and then finds the row taken), else locks the existing row
  (``SELECT ... FOR UPDATE``) and decides in that one transaction. A fenced write locks the row as well,
  so it never interleaves with a takeover.
* **Locks** (:meth:`PostgresLedger.hold`) are session-level advisory locks, one connection per holder:
  PostgreSQL queues the waiters, ``lock_timeout`` bounds the wait, and a killed worker's lock goes with
  its connection. Keys are hashed (with the schema) to the 64-bit number the lock is known by.
* **Connections**: one, shared by the threads of a process behind a lock. A connection the server dropped
  (PostgreSQL restarted, the backend terminated) is replaced on the next call; a call that found it dead
  before committing anything is run again once on the new connection, so a restart costs no error.

The tables live in their own schema (``ledger.schema``, created on first connect when missing), so two
Clerk installs can share one database. Every psycopg error becomes :class:`LedgerUnavailable` here, and a
write under a claim that was taken over becomes :class:`LeaseLost`, exactly as with SQLite. Only the
PostgreSQL modules (this one, connectors/postgres.py with what the adapters share, connectors/audit_postgres.py)
import psycopg.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TypeVar

import psycopg
import psycopg.errors
from pydantic import SecretStr

from connectors.ledger import (
    FIELDS,
    REPLY_STATES,
    STATES,
    Claim,
    LeaseLost,
    LedgerUnavailable,
    WorkItem,
    lock_digest,
    lock_timeout,
)
from connectors.postgres import checked_schema, connect, create_tables, in_schema, lock_number, masked

log = logging.getLogger("clerk.ledger")

T = TypeVar("T")
_EPOCH = "extract(epoch FROM clock_timestamp())::float8"
_COLUMNS = ("reference, message_id, process, state, attempts, outcome, reason_code, case_reference, created_at,"
            " updated_at, owner, fence, lease_until, email_id")
_IDLE_LOCK_CONNECTIONS = 4
"""Lock connections kept open for the next :meth:`PostgresLedger.hold` (more are opened when needed)."""

_TABLES = """
CREATE TABLE IF NOT EXISTS {s}.work_items (
    reference TEXT PRIMARY KEY, message_id TEXT NOT NULL, process TEXT NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1, outcome TEXT, reason_code TEXT, case_reference TEXT,
    created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL, owner TEXT,
    fence BIGINT NOT NULL DEFAULT 0, lease_until DOUBLE PRECISION NOT NULL DEFAULT 0, email_id TEXT);
CREATE INDEX IF NOT EXISTS work_items_created ON {s}.work_items (created_at);
CREATE TABLE IF NOT EXISTS {s}.item_history (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, reference TEXT NOT NULL, at TIMESTAMPTZ NOT NULL,
    change TEXT NOT NULL, state TEXT, owner TEXT, fence BIGINT, detail TEXT);
CREATE INDEX IF NOT EXISTS item_history_reference ON {s}.item_history (reference, id);
CREATE TABLE IF NOT EXISTS {s}.replies (
    reference TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL, at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (reference, kind));
"""


class PostgresLedger:
    """The shared ledger: tables in one schema of a PostgreSQL database, used by every worker on every host."""

    def __init__(self, url: str, *, schema: str = "clerk", password: SecretStr | None = None,
                 lock_timeout_s: float = 300, connect_timeout_s: float = 10) -> None:
        self.url = url
        self.schema = checked_schema(schema)
        self.lock_timeout_s = lock_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._where = f"{masked(url)} (schema {schema})"
        self._password = password
        self._lock = threading.Lock()
        self._db: psycopg.Connection | None = None
        self._closed = False
        self._idle_lock = threading.Lock()
        self._idle: list[psycopg.Connection] = []
        self._run(self._create)

    # --- claims -------------------------------------------------------------------------------------
    def claim(self, reference: str, message_id: str, owner: str, lease_s: float, *, email_id: str | None = None,
              steal: tuple[str, int] | None = None) -> Claim | None:
        def work(cur: psycopg.Cursor) -> Claim | None:
            cur.execute(self._sql(
                "INSERT INTO {s}.work_items (reference, message_id, process, state, attempts, created_at, updated_at,"
                " owner, fence, lease_until, email_id) VALUES (%s, %s, 'unrouted', 'received', 1, clock_timestamp(),"
                f" clock_timestamp(), %s, 1, {_EPOCH} + %s, %s) ON CONFLICT (reference) DO NOTHING RETURNING fence"),
                (reference, message_id, owner, lease_s, email_id))
            if cur.fetchone() is not None:  # a new reference, ours (a second claimant waited for this to commit)
                self._log(cur, reference, "claimed", "received", owner, 1, None)
                return Claim(reference, owner, 1, None)
            cur.execute(self._sql(f"SELECT {_COLUMNS}, {_EPOCH} FROM {{s}}.work_items WHERE reference = %s"
                                  " FOR UPDATE"), (reference,))
            row = cur.fetchone()
            if row is None:  # nothing deletes rows; a ledger emptied by hand under us
                raise LedgerUnavailable(f"the ledger at {self._where} lost item {reference} while claiming it")
            previous, now = _item(row[:-1]), row[-1]
            if previous.leased(now) and previous.owner != owner and (
                    steal is None or steal != (previous.owner, previous.fence)):
                return None
            fence = previous.fence + 1
            cur.execute(self._sql(
                f"UPDATE {{s}}.work_items SET owner = %s, fence = %s, lease_until = {_EPOCH} + %s,"
                " attempts = attempts + 1, email_id = COALESCE(%s, email_id), updated_at = clock_timestamp()"
                " WHERE reference = %s"), (owner, fence, lease_s, email_id, reference))
            self._log(cur, reference, "claimed", previous.state, owner, fence,
                      f"from {previous.owner}" if previous.owner else None)
            return Claim(reference, owner, fence, previous)

        return self._run(work)

    def renew(self, owner: str, fences: dict[str, int], lease_s: float) -> set[str]:
        if not fences:
            return set()

        def work(cur: psycopg.Cursor) -> set[str]:
            cur.execute(self._sql(
                f"UPDATE {{s}}.work_items AS w SET lease_until = {_EPOCH} + %s"
                " FROM unnest(%s::text[], %s::bigint[]) AS f(reference, fence)"
                " WHERE w.reference = f.reference AND w.fence = f.fence AND w.owner = %s RETURNING w.reference"),
                (lease_s, list(fences), list(fences.values()), owner))
            return set(fences) - {row[0] for row in cur.fetchall()}

        return self._run(work)

    def release(self, reference: str, fence: int) -> None:
        def work(cur: psycopg.Cursor) -> None:
            cur.execute(self._sql("UPDATE {s}.work_items SET owner = NULL, lease_until = 0 WHERE reference = %s"
                                  " AND fence = %s"), (reference, fence))
            if cur.rowcount:
                self._log(cur, reference, "released", None, None, fence, None)

        self._run(work)

    # --- state --------------------------------------------------------------------------------------
    def update(self, reference: str, state: str, *, fence: int | None = None, **fields: str | None) -> None:
        if state not in STATES:
            raise ValueError(f"unknown work-item state {state!r}")
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown work-item fields {sorted(unknown)}")
        assignments = "".join(f", {name} = %s" for name in fields)  # names checked against FIELDS above
        fenced = " AND fence = %s" if fence is not None else ""

        def work(cur: psycopg.Cursor) -> None:
            cur.execute(self._sql(f"UPDATE {{s}}.work_items SET state = %s, updated_at = clock_timestamp()"
                                  f"{assignments} WHERE reference = %s{fenced}"),
                        (state, *fields.values(), reference, *([fence] if fence is not None else [])))
            if not cur.rowcount:
                self._refuse(cur, reference, fence)
            detail = ", ".join(f"{name}={value}" for name, value in fields.items() if value is not None)
            self._log(cur, reference, "state", state, None, fence, detail or None)

        self._run(work)

    def get(self, reference: str) -> WorkItem | None:
        def work(cur: psycopg.Cursor) -> WorkItem | None:
            cur.execute(self._sql(f"SELECT {_COLUMNS} FROM {{s}}.work_items WHERE reference = %s"), (reference,))
            row = cur.fetchone()
            return _item(row) if row else None

        return self._run(work, write=False)

    def reply_state(self, reference: str, kind: str) -> str | None:
        def work(cur: psycopg.Cursor) -> str | None:
            cur.execute(self._sql("SELECT state FROM {s}.replies WHERE reference = %s AND kind = %s"), (reference, kind))
            row = cur.fetchone()
            return row[0] if row else None

        return self._run(work, write=False)

    def record_reply(self, reference: str, kind: str, state: str, *, fence: int | None = None) -> None:
        if state not in REPLY_STATES:
            raise ValueError(f"unknown reply state {state!r}")

        def work(cur: psycopg.Cursor) -> None:
            if fence is not None:  # FOR SHARE: a takeover waits until this reply is recorded
                cur.execute(self._sql("SELECT 1 FROM {s}.work_items WHERE reference = %s AND fence = %s FOR SHARE"),
                            (reference, fence))
                if cur.fetchone() is None:
                    self._refuse(cur, reference, fence)
            cur.execute(self._sql(
                "INSERT INTO {s}.replies (reference, kind, state, at) VALUES (%s, %s, %s, clock_timestamp())"
                " ON CONFLICT (reference, kind) DO UPDATE SET state = excluded.state, at = excluded.at"),
                (reference, kind, state))
            self._log(cur, reference, f"reply {state}", None, None, fence, kind)

        self._run(work)

    def history(self, reference: str) -> list[dict]:
        def work(cur: psycopg.Cursor) -> list[dict]:
            cur.execute(self._sql("SELECT at, change, state, owner, fence, detail FROM {s}.item_history"
                                  " WHERE reference = %s ORDER BY id"), (reference,))
            return [{"at": _stamp(row[0]), **dict(zip(("change", "state", "owner", "fence", "detail"), row[1:],
                                                      strict=True))} for row in cur.fetchall()]

        return self._run(work, write=False)

    def items(self, references: Iterable[str] | None = None) -> list[WorkItem]:
        """Rows for these references (all rows when None), oldest first."""
        wanted = None if references is None else list(references)

        def work(cur: psycopg.Cursor) -> list[WorkItem]:
            if wanted is None:
                cur.execute(self._sql(f"SELECT {_COLUMNS} FROM {{s}}.work_items ORDER BY created_at, reference"))
            else:
                cur.execute(self._sql(f"SELECT {_COLUMNS} FROM {{s}}.work_items WHERE reference = ANY(%s)"
                                      " ORDER BY created_at, reference"), (wanted,))
            return [_item(row) for row in cur.fetchall()]

        return self._run(work, write=False)

    def counts(self) -> dict[str, int]:
        def work(cur: psycopg.Cursor) -> dict[str, int]:
            cur.execute(self._sql("SELECT state, COUNT(*) FROM {s}.work_items GROUP BY state"))
            return dict(cur.fetchall())

        return self._run(work, write=False)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._db is not None:
                self._db.close()
                self._db = None
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    # --- locks --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """A session-level advisory lock on a connection of its own, released when the block ends (however
        it ends), or by the server when the connection goes (a killed worker)."""
        number = self.lock_number(key)
        connection = self._acquire(number)
        try:
            yield
        finally:
            self._unlock(connection, number)

    def _acquire(self, number: int) -> psycopg.Connection:
        for attempt in (1, 2):
            connection, fresh = self._lock_connection()
            try:
                connection.execute("SELECT pg_advisory_lock(%s)", (number,))
                return connection
            except psycopg.errors.LockNotAvailable:  # lock_timeout: the connection is fine, the wait was not
                self._put_back(connection)
                raise lock_timeout(self.lock_timeout_s) from None
            except psycopg.Error as exc:
                dropped = connection.broken
                connection.close()
                if dropped and attempt == 1 and not fresh:  # an idle connection the server dropped: a new one
                    continue
                raise LedgerUnavailable(f"the ledger at {self._where} could not lock: {exc}") from exc
            except BaseException:  # interrupted while waiting: the lock, if granted, goes with the connection
                connection.close()
                raise
        raise AssertionError("unreachable")

    def _unlock(self, connection: psycopg.Connection, number: int) -> None:
        try:
            unlocked = connection.execute("SELECT pg_advisory_unlock(%s)", (number,)).fetchone()[0]
        except psycopg.Error as exc:
            unlocked = False
            log.warning("a ledger lock's connection was lost while its block ran (%s): another worker may have "
                        "taken the same lock before the block ended", exc)
        except BaseException:
            connection.close()  # the lock goes with it
            raise
        if unlocked:
            self._put_back(connection)
        else:
            connection.close()

    def _lock_connection(self) -> tuple[psycopg.Connection, bool]:
        """An idle lock connection (False), or a new one (True), with ``lock_timeout`` set."""
        with self._idle_lock:
            if self._closed:
                raise LedgerUnavailable(f"the ledger at {self._where} is closed")
            if self._idle:
                return self._idle.pop(), False
        connection = self._connect("lock")
        try:  # the wait is bounded by lock_timeout alone; a role's statement or idle-session timeout must not
            # cancel it, nor end a session while it holds a lock (the lock would go with it)
            settings = {"lock_timeout": f"{max(1, math.ceil(self.lock_timeout_s * 1000))}ms", "statement_timeout": "0"}
            if connection.info.server_version >= 140000:
                settings["idle_session_timeout"] = "0"
            for name, value in settings.items():
                connection.execute("SELECT set_config(%s, %s, false)", (name, value))
        except psycopg.Error as exc:
            connection.close()
            raise LedgerUnavailable(f"the ledger at {self._where} failed: {exc}") from exc
        return connection, True

    def _put_back(self, connection: psycopg.Connection) -> None:
        with self._idle_lock:
            if not self._closed and len(self._idle) < _IDLE_LOCK_CONNECTIONS:
                self._idle.append(connection)
                return
        connection.close()

    def lock_number(self, key: str) -> int:
        """The advisory-lock number :meth:`hold` takes for ``key`` (to find its holder and waiters in pg_locks)."""
        return lock_number(self.schema, "hold", lock_digest(key))


    # --- internals ----------------------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        return in_schema(text, self.schema)

    def _create(self, cur: psycopg.Cursor) -> None:
        create_tables(cur, self.schema, ("work_items", "item_history", "replies"), _TABLES)

    def _refuse(self, cur: psycopg.Cursor, reference: str, fence: int | None):
        cur.execute(self._sql("SELECT owner, fence FROM {s}.work_items WHERE reference = %s"), (reference,))
        row = cur.fetchone()
        if row is None:
            raise LedgerUnavailable(f"the ledger has no item {reference}")
        raise LeaseLost(f"{reference} was taken over by {row[0] or 'another worker'} (claim {row[1]}, ours {fence})")

    def _log(self, cur: psycopg.Cursor, reference: str, change: str, state: str | None, owner: str | None,
             fence: int | None, detail: str | None) -> None:
        cur.execute(self._sql("INSERT INTO {s}.item_history (reference, at, change, state, owner, fence, detail)"
                              " VALUES (%s, clock_timestamp(), %s, %s, %s, %s, %s)"),
                    (reference, change, state, owner, fence, detail))

    def _connect(self, purpose: str) -> psycopg.Connection:
        try:
            return connect(self.url, purpose=purpose, schema=self.schema, password=self._password,
                           connect_timeout_s=self.connect_timeout_s)
        except psycopg.Error as exc:
            raise LedgerUnavailable(f"cannot connect to the ledger at {self._where}: {exc}") from exc

    def _run(self, work: Callable[[psycopg.Cursor], T], *, write: bool = True) -> T:
        """``work`` in one transaction (``write``) or one autocommit statement, on the shared connection.

        A connection the server dropped while idle fails on its first statement, before anything is
        committed: the call is run once more on a new connection. A failure while committing is not run
        again (it may have committed): it is reported, like every other failure, as LedgerUnavailable."""
        with self._lock:
            if self._closed:
                raise LedgerUnavailable(f"the ledger at {self._where} is closed")
            for attempt in (1, 2):
                fresh = self._db is None
                if fresh:
                    self._db = self._connect("ledger")
                committing = False
                try:
                    with self._db.cursor() as cur:
                        if not write:
                            return work(cur)
                        with self._db.transaction():
                            result = work(cur)
                            committing = True
                        return result
                except psycopg.Error as exc:
                    dropped = self._db.broken or self._db.closed
                    if dropped:
                        self._db.close()
                        self._db = None
                    if dropped and attempt == 1 and not fresh and not committing:
                        log.info("the ledger connection was dropped (%s); reconnecting", exc)
                        continue
                    raise LedgerUnavailable(f"the ledger at {self._where} failed: {exc}") from exc
        raise AssertionError("unreachable")


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def _item(row: tuple) -> WorkItem:
    values = list(row)
    values[8], values[9] = _stamp(values[8]), _stamp(values[9])  # created_at, updated_at: ISO text, as in SQLite
    return WorkItem(*values)
