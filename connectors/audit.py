"""The audit trail: one hash-chained JSON line per step of every item, through a structlog pipeline.

Pipeline: bound context (run, item, reference, process) -> envelope (seq, UTC time, the fixed fields in a
fixed order) -> redaction -> ``prev`` (the SHA-256 of the line before) -> JSON -> a locked append.
Redaction runs before anything is rendered, and the chain hashes the rendered, redacted line, so what
``clerk audit verify`` checks is exactly what is on disk. The format is described in
``connectors/audit_chain.py`` and the procedures in ``runbooks/audit.md``.

Several threads and several processes may write one trail: every append holds an exclusive ``flock``,
and a writer that finds the file grown (or rotated) since its own last line re-reads the head from the
file's tail, so the chain never forks. ``flush()`` fsyncs: the flows call it before an email moves to
Done or Exceptions. ``checkpoint(run)`` signs the head so that a cut-off tail or a re-chained forgery
is caught.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import structlog

from connectors.audit_chain import (
    CHECKPOINT_STEP,
    GENESIS,
    AuditTrailDamaged,
    AuditUnavailable,
    TrailFiles,
    checkpoint_mac,
    first_line,
    iter_events,
    key_id,
    last_line,
    line_hash,
)
from connectors.audit_redact import MASK, redact, redact_text
from connectors.errors import ConfigError

__all__ = ["MASK", "AuditEvents", "AuditTrail", "iter_events", "redact", "redact_text"]

BOT = "clerk-bot"
_ENVELOPE = dict.fromkeys(("seq", "time", "run", "item", "reference", "process", "step", "outcome", "actor"))
_RESERVED = frozenset(("seq", "time", "prev"))
MIN_KEY_BYTES = 16


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _day_of(line: bytes | None) -> date | None:
    """The UTC day of a line's ``time`` (the day a file was started), None when it cannot be read."""
    try:
        return date.fromisoformat(json.loads(line)["time"][:10]) if line else None
    except (ValueError, TypeError, KeyError):
        return None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _ChainEnd:
    """The append end of a trail: the head (last seq and hash), the open file, the cross-process lock.

    Held (``acquire``/``release``, or as a context manager) around each append; while held, ``seq`` and
    ``head`` are current even when another process appended or rotated the file meanwhile. Catching up costs two cheap system calls:
    the file's end (did anyone append?) and the rotation generation kept in the lock file (did anyone
    start a new file?); the tail is read only when one of them changed."""

    def __init__(self, files: TrailFiles) -> None:
        self.files = files
        self.seq = 0
        self.head = GENESIS
        self._thread_lock = threading.Lock()
        self._file: io.FileIO | None = None
        self._end = 0
        self.day: date | None = None
        """The UTC day the active file was started (from its first line)."""
        self._generation = b""
        files.active.parent.mkdir(parents=True, exist_ok=True)
        self._lock: io.FileIO | None = io.FileIO(os.open(files.lock, os.O_RDWR | os.O_CREAT, 0o644), "r+")
        self._lock_fd = self._lock.fileno()
        with self:
            pass

    def acquire(self) -> None:
        """Hold the trail against other threads and processes, with the head brought up to date."""
        self._thread_lock.acquire()
        try:
            if self._lock is None:
                raise AuditUnavailable(f"the audit trail {self.files.active} is closed")
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._follow()
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def __enter__(self) -> _ChainEnd:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()

    def _follow(self) -> None:
        """Catch up with whatever other writers did since this one last held the lock."""
        generation = os.pread(self._lock_fd, 32, 0)
        if generation != self._generation or self._file is None:
            self._generation = generation
            return self._open()
        end = os.lseek(self._file.fileno(), 0, os.SEEK_END)
        if end != self._end:
            self._end = end
            self._read_head()

    def _open(self) -> None:
        if self._file is not None:
            self._file.close()
        created = not self.files.active.exists()
        self._file = io.FileIO(self.files.active, "a")
        if created:
            _fsync_dir(self.files.active.parent)
        self._end = os.lseek(self._file.fileno(), 0, os.SEEK_END)
        self.day = _day_of(first_line(self.files.active)) if self._end else None
        self._read_head()

    def _read_head(self) -> None:
        """The head is the active file's last line, or (for a fresh file) the newest rotated file's."""
        line = last_line(self.files.active) if self._end else None
        if line is None:
            rotated = self.files.rotated()
            line = last_line(rotated[-1]) if rotated else None
        if line is None:
            self.seq, self.head = 0, GENESIS
            return
        try:
            self.seq = int(json.loads(line)["seq"])
        except (ValueError, TypeError, KeyError) as exc:
            raise AuditTrailDamaged(f"the last line of {self.files.active} has no readable seq") from exc
        self.head = line_hash(line)

    def begin_day(self, today: date) -> None:
        """The clock shows a day other than the active file's. An empty file (or one whose first line has
        no readable time) becomes today's; a file from an earlier day is renamed after it and a new one
        started; the chain carries on. The lock file's generation goes up, so that the other writers reopen
        the new file. (A clock behind the file's day changes nothing.)"""
        if not self._end or self.day is None:
            self.day = today
        elif today > self.day:
            self.durable()
            os.rename(self.files.active, self.files.rotated_name(self.day))
            _fsync_dir(self.files.active.parent)
            previous = int(self._generation) if self._generation.strip().isdigit() else 0
            self._generation = b"%020d\n" % (previous + 1)
            os.pwrite(self._lock_fd, self._generation, 0)
            self._open()
            self.day = today

    def append(self, line: bytes) -> None:
        data = line + b"\n"
        written = self._file.write(data)
        while written < len(data):  # a short write (a signal, a full disk): write the rest
            written += self._file.write(data[written:])
        self._end += len(data)
        self.seq += 1
        self.head = line_hash(line)

    def durable(self) -> None:
        """fsync what this writer appended (the caller holds the lock)."""
        if self._file is not None:
            os.fsync(self._file.fileno())

    def fsync(self) -> None:
        with self._thread_lock:
            self.durable()

    def close(self) -> None:
        with self._thread_lock:
            if self._file is not None:
                self.durable()
                self._file.close()
                self._file = None
            if self._lock is not None:
                self._lock.close()
                self._lock = None


class _Sink:
    """structlog's final 'logger': appends the rendered line to the chain (the caller holds the lock)."""

    def __init__(self, trail: AuditTrail) -> None:
        self._trail = trail

    def info(self, message: bytes) -> None:
        self._trail._chain.append(message)


class AuditTrail:
    """Append-only, hash-chained JSON-lines audit file. Thread-safe; several processes may share it.

    ``key`` (at least 16 bytes) signs checkpoints; without one they are written unauthenticated.
    ``clock`` returns the current time (tests inject one to cross midnight)."""

    def __init__(self, path: str | Path, actor: str = BOT, *, key: bytes | None = None,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        if key is not None and len(key) < MIN_KEY_BYTES:
            raise ConfigError(f"the audit HMAC key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self._clock = clock
        self._now = clock()
        try:
            self._chain = _ChainEnd(TrailFiles(Path(path)))
        except OSError as exc:
            raise AuditUnavailable(f"cannot open the audit trail {path}: {exc.strerror}") from exc
        self._logger = structlog.wrap_logger(
            _Sink(self),
            processors=[self._envelope, redact, self._link, structlog.processors.JSONRenderer(orjson.dumps)],
            wrapper_class=structlog.make_filtering_bound_logger(0),
            context_class=dict,
            cache_logger_on_first_use=True,
        ).bind(actor=actor)

    @property
    def path(self) -> Path:
        """The file being written now (older days are renamed beside it)."""
        return self._chain.files.active

    def bind(self, **context: Any) -> AuditEvents:
        return AuditEvents(self, context)

    def record(self, step: str, outcome: str, **fields: Any) -> None:
        """Append one event. ``actor=`` names a supervisor who decided; otherwise the trail's actor."""
        self._emit(self._logger, step, outcome, fields)

    def _emit(self, logger: Any, step: str, outcome: str, fields: dict[str, Any]) -> None:
        chain = self._chain
        try:
            chain.acquire()
            try:
                self._stamp()
                logger.info(step, outcome=outcome, **fields)
            finally:
                chain.release()
        except OSError as exc:
            raise AuditUnavailable(f"cannot write the audit trail {self.path}: {exc.strerror}") from exc

    def checkpoint(self, run: str) -> dict[str, Any]:
        """Record a checkpoint event, then sign the head in the checkpoints file. Returns the checkpoint
        (seq, head, file, time, run, key_id, hmac): publish it somewhere the trail's writers cannot edit."""
        try:
            with self._chain:
                self._stamp()
                self._logger.info(CHECKPOINT_STEP, outcome="written", run=run)
                entry: dict[str, Any] = {
                    "seq": self._chain.seq, "head": self._chain.head, "file": self.path.name,
                    "time": self._now.isoformat(timespec="milliseconds"), "run": run,
                    "key_id": key_id(self._key) if self._key else None,
                }
                entry["hmac"] = checkpoint_mac(entry, self._key) if self._key else None
                self._chain.durable()
                self._append_checkpoint(entry)
        except OSError as exc:
            raise AuditUnavailable(f"cannot write a checkpoint beside {self.path}: {exc.strerror}") from exc
        return entry

    def flush(self) -> None:
        """Make everything recorded so far durable (fsync)."""
        try:
            self._chain.fsync()
        except OSError as exc:
            raise AuditUnavailable(f"cannot fsync the audit trail {self.path}: {exc.strerror}") from exc

    def close(self) -> None:
        self._chain.close()

    def _stamp(self) -> None:
        """Under the lock: take the time of the next event, and start a new file on a new day."""
        now = self._clock()
        if now.tzinfo is not UTC:
            now = now.astimezone(UTC)
        self._now = now
        today = now.date()
        if today != self._chain.day:
            self._chain.begin_day(today)

    def _append_checkpoint(self, entry: dict[str, Any]) -> None:
        path = self._chain.files.checkpoints
        created = not path.exists()
        with path.open("ab", buffering=0) as handle:
            handle.write(json.dumps(entry).encode() + b"\n")
            os.fsync(handle.fileno())
        if created:
            _fsync_dir(path.parent)

    def _envelope(self, _logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
        """structlog processor: seq, time and the fixed fields first, in a fixed order (null when not
        bound), then the rest. An item is named by ``item=``, or by the ``email_id=`` the flows bind."""
        if not _RESERVED.isdisjoint(event):
            raise TypeError("seq, time and prev are set by the audit trail, not by callers")
        envelope = _ENVELOPE.copy()
        envelope.update(event)
        envelope["seq"] = self._chain.seq + 1
        envelope["time"] = self._now.isoformat(timespec="milliseconds")
        envelope["step"] = envelope.pop("event")
        if "email_id" in envelope:
            email_id = envelope.pop("email_id")
            if envelope["item"] is None:
                envelope["item"] = email_id
        return envelope

    def _link(self, _logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
        """structlog processor, after redaction: chain this event to the line before it."""
        event["prev"] = self._chain.head
        return event


class AuditEvents:
    """An audit trail bound to one item's context (run, item, reference, process, actor)."""

    def __init__(self, trail: AuditTrail, context: dict[str, Any]) -> None:
        self._trail = trail
        self.context = context
        self._logger = trail._logger.bind(**context)

    def bind(self, **more: Any) -> AuditEvents:
        return AuditEvents(self._trail, {**self.context, **more})

    def __call__(self, step: str, outcome: str, **fields: Any) -> None:
        self._trail._emit(self._logger, step, outcome, fields)

    def flush(self) -> None:
        self._trail.flush()
