"""The work-item ledger: one row per Clerk reference, the state of every email Clerk has claimed.

The Clerk reference is derived from the email's Message-ID, so an email delivered twice (a mail-server
retry, a crash and replay) maps to the same reference and the same row.

Claiming an email starts here, before the email moves: :meth:`Ledger.claim` gives the row an owner (one
worker process), a lease that the owner renews while it works, and a new fencing token. Every later write
by the owner names its token; once another worker has taken the item over (the lease expired, or the
owner died), the stale owner's writes are refused with :class:`LeaseLost`. Each reply sent is recorded
here too (``sending`` before, ``sent`` after), so a retry or a recovery never sends it twice, and every
change is kept in the item's history.

The ledger also lends out named locks (:meth:`Ledger.hold`): while one worker keys an applicant's email,
every other worker that wants the same key waits, so a resend never races its original.

The embedded default is SQLite (one host: its locks hold across the processes of that host);
:mod:`connectors.ledger_postgres` is the same port on PostgreSQL, for many workers on many hosts.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from connectors.errors import SystemError

STATES = ("received", "acknowledged", "waiting", "keying", "done", "exceptions")
FINAL_STATES = ("done", "exceptions")
FIELDS = ("process", "outcome", "reason_code", "case_reference", "email_id")
REPLY_STATES = ("sending", "sent")


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
    owner: str | None = None
    """The worker process holding the item (``host/pid/nonce``), None when nobody does."""
    fence: int = 0
    """Incremented by every claim; a write naming an older token is refused."""
    lease_until: float = 0.0
    """Unix time the owner's lease runs out unless renewed."""
    email_id: str | None = None
    """The mailbox adapter's id of the email in Processing (it changes on a move in Exchange)."""

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def leased(self, now: float | None = None) -> bool:
        """Someone holds an unexpired lease on the item."""
        return self.owner is not None and self.lease_until > (time.time() if now is None else now)


@dataclass(frozen=True)
class Claim:
    """A worker's hold on one work item: write with ``fence``."""

    reference: str
    owner: str
    fence: int
    previous: WorkItem | None
    """The row as it was before this claim; None for an email seen for the first time."""


class LedgerUnavailable(SystemError):
    code = "LEDGER_UNAVAILABLE"


class LeaseLost(SystemError):
    """Another worker took the item over (this worker's lease had run out): stop, touch nothing more."""

    code = "LEASE_LOST"
    retryable = False


class LedgerLockTimeout(SystemError):
    """Another worker held the same lock (the same applicant) for longer than ``ledger.lock_timeout_s``."""

    code = "LEDGER_LOCK_TIMEOUT"


class Ledger(Protocol):
    def claim(self, reference: str, message_id: str, owner: str, lease_s: float, *, email_id: str | None = None,
              steal: tuple[str, int] | None = None) -> Claim | None:
        """Take the item for ``owner`` (creating its row for a new reference), or None when another owner
        holds an unexpired lease. ``steal`` = (owner, fence) takes it from that holder even so (it is known
        to be dead)."""

    def renew(self, owner: str, fences: dict[str, int], lease_s: float) -> set[str]:
        """Extend the owner's leases; returns the references it no longer holds."""

    def release(self, reference: str, fence: int) -> None:
        """Give the item up (its lease ends now); the row keeps its state."""

    def update(self, reference: str, state: str, *, fence: int | None = None, **fields: str | None) -> None:
        """Set the state (and fields); with ``fence``, only while that claim still holds (else LeaseLost)."""

    def get(self, reference: str) -> WorkItem | None: ...

    def reply_state(self, reference: str, kind: str) -> str | None:
        """``sending``, ``sent`` or None: whether the reply of this kind went out."""

    def record_reply(self, reference: str, kind: str, state: str, *, fence: int | None = None) -> None: ...

    def history(self, reference: str) -> list[dict]:
        """Every change to the item, oldest first."""

    def items(self, references: Iterable[str] | None = None) -> list[WorkItem]:
        """Rows for these references (all rows when None), oldest first."""

    def counts(self) -> dict[str, int]: ...

    def hold(self, key: str) -> AbstractContextManager[None]:
        """Hold the lock named ``key`` while the block runs: every other holder of the same key, in any worker
        the ledger serves, waits until the block ends. Not re-entrant. Raises :class:`LedgerLockTimeout` after
        waiting the ledger's lock timeout. The key is hashed, never stored (it may name a person)."""

    def close(self) -> None: ...


_COLUMNS = ("reference, message_id, process, state, attempts, outcome, reason_code, case_reference, created_at,"
            " updated_at, owner, fence, lease_until, email_id")
_ADDED_COLUMNS = {"owner": "TEXT", "fence": "INTEGER NOT NULL DEFAULT 0", "lease_until": "REAL NOT NULL DEFAULT 0",
                  "email_id": "TEXT"}
LOCK_STRIPES = 64
"""SQLite's locks are striped: a key waits for the holders of its stripe (one of this many lock files)."""


def lock_timeout(timeout_s: float) -> LedgerLockTimeout:
    return LedgerLockTimeout(f"waited ledger.lock_timeout_s ({timeout_s:g} s) while another worker held the same "
                             f"lock (the same applicant being keyed)")


def lock_digest(key: str) -> bytes:
    """The hash a lock key is known by (keys may hold personal data: they are never written anywhere)."""
    return hashlib.sha256(key.encode()).digest()


class SqliteLedger:
    """The embedded ledger: one SQLite file (WAL), safe for many threads and processes on one host.

    Its locks (:meth:`hold`) are files beside it (``ledger.db.locks/``), locked with ``flock``: they hold
    across the processes of this host, and a killed process's lock goes with it."""

    def __init__(self, path: str | Path, *, lock_timeout_s: float = 300) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self._lock = threading.Lock()
        self._stripes = tuple(threading.Lock() for _ in range(LOCK_STRIPES))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._create()
        except sqlite3.Error as exc:
            raise LedgerUnavailable(f"cannot open the ledger at {self.path}: {exc}") from exc

    def _create(self) -> None:
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS work_items (
                reference TEXT PRIMARY KEY, message_id TEXT NOT NULL, process TEXT NOT NULL,
                state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 1, outcome TEXT, reason_code TEXT,
                case_reference TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""")
        present = {row[1] for row in self._db.execute("PRAGMA table_info(work_items)")}
        for column, kind in _ADDED_COLUMNS.items():  # a ledger from an earlier version gains the lease columns
            if column not in present:
                self._db.execute(f"ALTER TABLE work_items ADD COLUMN {column} {kind}")
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS item_history (
                id INTEGER PRIMARY KEY AUTOINCREMENT, reference TEXT NOT NULL, at TEXT NOT NULL,
                change TEXT NOT NULL, state TEXT, owner TEXT, fence INTEGER, detail TEXT)""")
        self._db.execute("CREATE INDEX IF NOT EXISTS item_history_reference ON item_history (reference, id)")
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS replies (
                reference TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL, at TEXT NOT NULL,
                PRIMARY KEY (reference, kind))""")

    # --- claims -------------------------------------------------------------------------------------
    def claim(self, reference: str, message_id: str, owner: str, lease_s: float, *, email_id: str | None = None,
              steal: tuple[str, int] | None = None) -> Claim | None:
        now, stamp = time.time(), _now()
        with self._transaction() as db:
            previous = self._row(db, reference)
            if previous is not None and previous.leased(now) and previous.owner != owner and (
                    steal is None or steal != (previous.owner, previous.fence)):
                return None
            if previous is None:
                fence = 1
                db.execute(
                    "INSERT INTO work_items (reference, message_id, process, state, created_at, updated_at, owner,"
                    " fence, lease_until, email_id) VALUES (?, ?, 'unrouted', 'received', ?, ?, ?, 1, ?, ?)",
                    (reference, message_id, stamp, stamp, owner, now + lease_s, email_id))
            else:
                fence = previous.fence + 1
                db.execute(
                    "UPDATE work_items SET owner = ?, fence = ?, lease_until = ?, attempts = attempts + 1,"
                    " email_id = COALESCE(?, email_id), updated_at = ? WHERE reference = ?",
                    (owner, fence, now + lease_s, email_id, stamp, reference))
            self._log(db, reference, "claimed", previous.state if previous else "received", owner, fence,
                      f"from {previous.owner}" if previous is not None and previous.owner else None)
        return Claim(reference, owner, fence, previous)

    def renew(self, owner: str, fences: dict[str, int], lease_s: float) -> set[str]:
        if not fences:
            return set()
        until = time.time() + lease_s
        lost = set()
        with self._transaction() as db:
            for reference, fence in fences.items():
                changed = db.execute("UPDATE work_items SET lease_until = ? WHERE reference = ? AND owner = ?"
                                     " AND fence = ?", (until, reference, owner, fence)).rowcount
                if not changed:
                    lost.add(reference)
        return lost

    def release(self, reference: str, fence: int) -> None:
        with self._transaction() as db:
            released = db.execute("UPDATE work_items SET owner = NULL, lease_until = 0 WHERE reference = ? AND"
                                  " fence = ?", (reference, fence)).rowcount
            if released:
                self._log(db, reference, "released", None, None, fence, None)

    # --- state --------------------------------------------------------------------------------------
    def update(self, reference: str, state: str, *, fence: int | None = None, **fields: str | None) -> None:
        if state not in STATES:
            raise ValueError(f"unknown work-item state {state!r}")
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown work-item fields {sorted(unknown)}")
        assignments = "".join(f", {name} = ?" for name in fields)
        fenced = " AND fence = ?" if fence is not None else ""
        with self._transaction() as db:
            changed = db.execute(
                f"UPDATE work_items SET state = ?, updated_at = ?{assignments} WHERE reference = ?{fenced}",
                (state, _now(), *fields.values(), reference, *([fence] if fence is not None else []))).rowcount
            if not changed:
                self._refuse(db, reference, fence)
            detail = ", ".join(f"{name}={value}" for name, value in fields.items() if value is not None)
            self._log(db, reference, "state", state, None, fence, detail or None)

    def get(self, reference: str) -> WorkItem | None:
        with self._transaction(write=False) as db:
            return self._row(db, reference)

    def reply_state(self, reference: str, kind: str) -> str | None:
        with self._transaction(write=False) as db:
            row = db.execute("SELECT state FROM replies WHERE reference = ? AND kind = ?", (reference, kind)).fetchone()
        return row[0] if row else None

    def record_reply(self, reference: str, kind: str, state: str, *, fence: int | None = None) -> None:
        if state not in REPLY_STATES:
            raise ValueError(f"unknown reply state {state!r}")
        with self._transaction() as db:
            if fence is not None and not db.execute("SELECT 1 FROM work_items WHERE reference = ? AND fence = ?",
                                                    (reference, fence)).fetchone():
                self._refuse(db, reference, fence)
            db.execute("INSERT INTO replies (reference, kind, state, at) VALUES (?, ?, ?, ?) ON CONFLICT(reference,"
                       " kind) DO UPDATE SET state = excluded.state, at = excluded.at", (reference, kind, state, _now()))
            self._log(db, reference, f"reply {state}", None, None, fence, kind)

    def history(self, reference: str) -> list[dict]:
        with self._transaction(write=False) as db:
            rows = db.execute("SELECT at, change, state, owner, fence, detail FROM item_history WHERE reference = ?"
                              " ORDER BY id", (reference,)).fetchall()
        return [dict(zip(("at", "change", "state", "owner", "fence", "detail"), row, strict=True)) for row in rows]

    def items(self, references: Iterable[str] | None = None) -> list[WorkItem]:
        """Rows for these references (all rows when None), oldest first."""
        with self._transaction(write=False) as db:
            if references is None:
                rows = db.execute(f"SELECT {_COLUMNS} FROM work_items ORDER BY created_at").fetchall()
            else:
                wanted = list(references)
                rows = db.execute(f"SELECT {_COLUMNS} FROM work_items WHERE reference IN "
                                  f"({','.join('?' * len(wanted))}) ORDER BY created_at", wanted).fetchall()
        return [WorkItem(*row) for row in rows]

    def counts(self) -> dict[str, int]:
        with self._transaction(write=False) as db:
            return dict(db.execute("SELECT state, COUNT(*) FROM work_items GROUP BY state").fetchall())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- locks --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        stripe = int.from_bytes(lock_digest(key)[:8], "big") % LOCK_STRIPES
        deadline = time.monotonic() + self.lock_timeout_s
        if not self._stripes[stripe].acquire(timeout=self.lock_timeout_s):  # another thread of this process
            raise lock_timeout(self.lock_timeout_s)
        try:
            with self._lock_file(stripe, deadline):  # another process of this host
                yield
        finally:
            self._stripes[stripe].release()

    @contextlib.contextmanager
    def _lock_file(self, stripe: int, deadline: float) -> Iterator[None]:
        folder = self.path.parent / f"{self.path.name}.locks"
        try:
            folder.mkdir(exist_ok=True)
            fd = os.open(folder / f"{stripe:02d}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise LedgerUnavailable(f"cannot open the ledger's lock files in {folder}: {exc}") from exc
        try:
            pause = 0.005
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                        raise LedgerUnavailable(f"cannot lock {folder}: {exc}") from exc
                left = deadline - time.monotonic()
                if left <= 0:
                    raise lock_timeout(self.lock_timeout_s) from None
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.2)
            yield  # closing the file (below, or by the kernel for a killed process) releases the lock
        finally:
            os.close(fd)

    # --- internals ----------------------------------------------------------------------------------
    @staticmethod
    def _row(db: sqlite3.Connection, reference: str) -> WorkItem | None:
        row = db.execute(f"SELECT {_COLUMNS} FROM work_items WHERE reference = ?", (reference,)).fetchone()
        return WorkItem(*row) if row else None

    def _refuse(self, db: sqlite3.Connection, reference: str, fence: int | None):
        current = self._row(db, reference)
        if current is None:
            raise LedgerUnavailable(f"the ledger has no item {reference}")
        raise LeaseLost(f"{reference} was taken over by {current.owner or 'another worker'} "
                        f"(claim {current.fence}, ours {fence})")

    @staticmethod
    def _log(db: sqlite3.Connection, reference: str, change: str, state: str | None, owner: str | None,
             fence: int | None, detail: str | None) -> None:
        db.execute("INSERT INTO item_history (reference, at, change, state, owner, fence, detail) VALUES"
                   " (?, ?, ?, ?, ?, ?, ?)", (reference, _now(), change, state, owner, fence, detail))

    @contextlib.contextmanager
    def _transaction(self, write: bool = True):
        with self._lock:
            try:
                if write:
                    self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    if write:
                        self._db.execute("ROLLBACK")
                    raise
                if write:
                    self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise LedgerUnavailable(f"the ledger at {self.path} failed: {exc}") from exc


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
