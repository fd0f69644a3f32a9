"""The audit trail: one hash-chained JSON line per step of every item, through a structlog pipeline.

Pipeline: bound context (run, item, reference, process) -> envelope (seq, UTC time, the fixed fields in a
fixed order) -> redaction -> ``prev`` (the SHA-256 of the line before) -> JSON -> a locked append.
Redaction runs before anything is rendered, and the chain hashes the rendered, redacted line, so what
``clerk audit verify`` checks is exactly what is stored. The format is described in
``connectors/audit_chain.py`` and the procedures in ``runbooks/audit.md``.

The lines go to an append end (:class:`ChainEnd`): a JSON-lines file by default, or tables in PostgreSQL
(connectors/audit_postgres.py, ``audit.kind: postgres``) for workers on several hosts. The pipeline, the
seals and the rules are the same; only where the lines, the checkpoints and the lock live differ.

Several threads and several processes may write one trail file: every append holds an exclusive ``flock``,
and a writer that finds the file grown (or rotated) since its own last line re-reads the head from the
file's tail, so the chain never forks.

The trail seals itself (connectors/audit_seal.py): ``flush()``, which the flows call before an email moves to
Done or Exceptions, fsyncs and then writes a numbered, signed checkpoint of the head; so do ``close()`` and
``checkpoint(run)`` (which also records an event, for a Prefect artifact), and every append that would
otherwise leave more unsealed events than the :class:`~connectors.audit_seal.SealPolicy` allows. A cut-off
tail, a trail rolled back, or a re-chained forgery is then caught by ``clerk audit verify``.
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
from typing import Any, Protocol

import orjson
import structlog

from connectors.audit_chain import (
    CHECKPOINT_STEP,
    GENESIS,
    AuditTrailDamaged,
    AuditUnavailable,
    TrailFiles,
    first_line,
    fsync_dir,
    iter_events,
    last_line,
    line_hash,
)
from connectors.audit_redact import MASK, redact, redact_text
from connectors.audit_seal import (
    DEFAULT_SEAL_EVERY_EVENTS,
    DEFAULT_SEAL_EVERY_S,
    FileSeals,
    SealPolicy,
    SealState,
    SealStore,
    epoch_ms,
    refusal,
    write_seal,
)
from connectors.errors import ConfigError

__all__ = ["MASK", "AuditEvents", "AuditTrail", "ChainEnd", "iter_events", "redact", "redact_text"]

BOT = "clerk-bot"
_ENVELOPE = dict.fromkeys(("seq", "time", "run", "item", "reference", "process", "step", "outcome", "actor"))
_RESERVED = frozenset(("seq", "time", "prev"))
MIN_KEY_BYTES = 16
_GENERATION = 21
"""Bytes of the lock file's first line: the rotation generation, ``%020d\\n``. The sealing state follows."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _day_of(line: bytes | None) -> date | None:
    """The UTC day of a line's ``time`` (the day a file was started), None when it cannot be read."""
    try:
        return date.fromisoformat(json.loads(line)["time"][:10]) if line else None
    except (ValueError, TypeError, KeyError):
        return None


class ChainEnd(Protocol):
    """Where a trail's lines go, and who may append next: a file (:class:`_FileEnd`) or tables in PostgreSQL
    (connectors/audit_postgres.py). Between ``acquire()`` and ``release()`` (or as a context manager) the writer
    holds the trail against every other writer, and ``seq``, ``head`` and the :class:`SealState` are current."""

    seq: int
    head: str
    day: date | None
    seals: SealStore
    part: str
    """What checkpoints name as the ``file`` they seal (the active file's name, or the lines table's)."""
    where: str
    """The trail, for messages."""
    sealed_seq: int | None
    first_unsealed_ms: int
    check_at_seq: int
    check_at: datetime

    def acquire(self) -> None: ...

    def release(self) -> None: ...

    def __enter__(self) -> ChainEnd: ...

    def __exit__(self, *_exc: object) -> None: ...

    def begin_day(self, today: date) -> None:
        """The clock shows a day other than ``day`` (a file trail starts a new file)."""

    def append(self, line: bytes, now: datetime) -> None: ...

    def sealed(self, seq: int) -> None:
        """A checkpoint now covers ``seq``."""

    def durable(self) -> None:
        """Make what was appended durable before it is sealed."""

    @property
    def closed(self) -> bool: ...

    def close(self) -> None: ...


class _FileEnd(SealState):
    """The append end of a trail file: the head (last seq and hash), the open file, the cross-process lock.

    Held (``acquire``/``release``, or as a context manager) around each append; while held, ``seq`` and
    ``head`` are current even when another process appended or rotated the file meanwhile, and so is the
    sealing state (``sealed_seq``, ``first_unsealed_ms``). Catching up costs two cheap system calls: the file's
    end (did anyone append?) and the lock file's first 64 bytes (did anyone start a new file, or seal?); the
    tail is read only when the file grew.

    The lock file holds ``%020d\\n`` (the rotation generation), then ``%020d %020d\\n``: the last sealed seq and
    the time (ms) of the first event after it, 0 when there is none or it is not known."""

    def __init__(self, files: TrailFiles, policy: SealPolicy) -> None:
        super().__init__(policy)
        self.files = files
        self.seals = FileSeals(files)
        self.where = str(files.active)
        self.seq = 0
        self.head = GENESIS
        self._thread_lock = threading.Lock()
        self._file: io.FileIO | None = None
        self._end = 0
        self.day: date | None = None
        """The UTC day the active file was started (from its first line)."""
        self._generation = b""
        self._state = b""
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

    def __enter__(self) -> _FileEnd:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()

    def _follow(self) -> None:
        """Catch up with whatever other writers did since this one last held the lock."""
        shared = os.pread(self._lock_fd, 64, 0)
        if shared[_GENERATION:] != self._state:
            self._read_state(shared[_GENERATION:])
        generation = shared[:_GENERATION]
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
            fsync_dir(self.files.active.parent)
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
            fsync_dir(self.files.active.parent)
            previous = int(self._generation) if self._generation.strip().isdigit() else 0
            self._generation = b"%020d\n" % (previous + 1)
            os.pwrite(self._lock_fd, self._generation, 0)
            self._open()
            self.day = today

    def append(self, line: bytes, now: datetime) -> None:
        data = line + b"\n"
        written = self._file.write(data)
        while written < len(data):  # a short write (a signal, a full disk): write the rest
            written += self._file.write(data[written:])
        self._end += len(data)
        self.seq += 1
        self.head = line_hash(line)
        if self.sealed_seq == self.seq - 1:  # the first event after a seal: note when the stretch began
            self._set_state(self.sealed_seq, epoch_ms(now))
            self._write_state()

    def _read_state(self, state: bytes) -> None:
        self._state = state
        try:
            sealed, first = state.split()
            self._set_state(int(sealed), int(first))
        except ValueError:  # none yet (a new trail, or a lock file of an older Clerk): found out at the next seal
            self._set_state(None, 0)

    def sealed(self, seq: int) -> None:
        """A checkpoint now covers ``seq`` (the caller holds the lock). Events after it, if any, are of an
        unknown age until the next seal."""
        self._set_state(seq, 0)
        self._write_state()

    def _write_state(self) -> None:
        if len(self._generation) != _GENERATION:
            self._generation = b"%020d\n" % 0
        self._state = b"%020d %020d\n" % (self.sealed_seq, self.first_unsealed_ms)
        os.pwrite(self._lock_fd, self._generation + self._state, 0)

    def durable(self) -> None:
        """fsync what this writer appended (the caller holds the lock)."""
        if self._file is not None:
            os.fsync(self._file.fileno())

    @property
    def part(self) -> str:
        return self.files.active.name

    @property
    def closed(self) -> bool:
        return self._lock is None

    def close(self) -> None:
        with self._thread_lock:
            if self._file is not None:
                self.durable()
                self._file.close()
                self._file = None
            if self._lock is not None:
                self._lock.close()
                self._lock = None


class TrailStore(Protocol):
    """A trail kept somewhere other than a file: it opens the append end writers share."""

    def open(self, policy: SealPolicy) -> ChainEnd: ...


class _Sink:
    """structlog's final 'logger': appends the rendered line to the chain (the caller holds the lock)."""

    def __init__(self, trail: AuditTrail) -> None:
        self._trail = trail

    def info(self, message: bytes) -> None:
        self._trail._chain.append(message, self._trail._now)


class AuditTrail:
    """Append-only, hash-chained audit trail of JSON lines that seals itself. Thread-safe; several processes may
    share it.

    ``trail`` is the trail's file (a path), or a store that opens an append end (:class:`ChainEnd`) for a seal
    policy, such as :class:`connectors.audit_postgres.PostgresAudit`.
    ``key`` (at least 16 bytes) signs checkpoints; without one they are written unauthenticated.
    ``seal_every_events`` and ``seal_every_s`` bound the unsealed stretch (``audit.seal_every_events`` and
    ``audit.seal_every_s`` in the settings): the trail seals itself before an event that would make it longer.
    ``clock`` returns the current time (tests inject one to cross midnight).

    Raises AuditTrailDamaged when the trail's last line is torn, or when its checkpoints show it was cut back."""

    def __init__(self, trail: str | os.PathLike | TrailStore, actor: str = BOT, *, key: bytes | None = None,
                 seal_every_events: int = DEFAULT_SEAL_EVERY_EVENTS, seal_every_s: float = DEFAULT_SEAL_EVERY_S,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        if key is not None and len(key) < MIN_KEY_BYTES:
            raise ConfigError(f"the audit HMAC key must be at least {MIN_KEY_BYTES} bytes")
        try:
            self._policy = SealPolicy(seal_every_events, float(seal_every_s))
        except ValueError as exc:
            raise ConfigError(str(exc), key="audit.seal_every_events / audit.seal_every_s") from None
        self._key = key
        self._clock = clock
        self._tick()
        try:
            self._chain: ChainEnd = _FileEnd(TrailFiles(Path(trail)), self._policy) \
                if isinstance(trail, str | os.PathLike) else trail.open(self._policy)
            self._seals = self._chain.seals
            with self._chain:
                self._follow_seals()
        except OSError as exc:
            raise AuditUnavailable(f"cannot open the audit trail {trail}: {exc.strerror}") from exc
        self._logger = structlog.wrap_logger(
            _Sink(self),
            processors=[self._envelope, redact, self._link, structlog.processors.JSONRenderer(orjson.dumps)],
            wrapper_class=structlog.make_filtering_bound_logger(0),
            context_class=dict,
            cache_logger_on_first_use=True,
        ).bind(actor=actor)

    @property
    def path(self) -> Path | None:
        """The file being written now (older days are renamed beside it); None for a trail in a database."""
        return self._chain.files.active if isinstance(self._chain, _FileEnd) else None

    @property
    def where(self) -> str:
        """The trail, for messages: its file, or its database and schema."""
        return self._chain.where

    def bind(self, **context: Any) -> AuditEvents:
        return AuditEvents(self, context)

    def record(self, step: str, outcome: str, **fields: Any) -> None:
        """Append one event. ``actor=`` names a supervisor who decided; otherwise the trail's actor."""
        self._emit(self._logger, step, outcome, fields)

    def _emit(self, logger: Any, step: str, outcome: str, fields: dict[str, Any], run: str | None = None) -> None:
        chain = self._chain
        try:
            chain.acquire()
            try:
                self._stamp()
                self._seal_if_due(run)
                logger.info(step, outcome=outcome, **fields)
            finally:
                chain.release()
        except OSError as exc:
            raise AuditUnavailable(f"cannot write the audit trail {self.where}: {exc.strerror}") from exc

    def checkpoint(self, run: str) -> dict[str, Any]:
        """Record a checkpoint event, then seal. Returns the checkpoint (counter, seq, head, file, time, run,
        trigger, seal policy, key_id, hmac): publish it somewhere the trail's writers cannot edit."""
        try:
            with self._chain:
                self._stamp()
                self._seal_if_due(run)
                self._logger.info(CHECKPOINT_STEP, outcome="written", run=run)
                return self._seal("checkpoint", run)
        except OSError as exc:
            raise AuditUnavailable(f"cannot write a checkpoint beside {self.where}: {exc.strerror}") from exc

    def flush(self, run: str | None = None) -> None:
        """Make everything recorded so far durable (fsync), and seal it (a signed checkpoint of the head)."""
        try:
            with self._chain:
                if self._chain.sealed_seq != self._chain.seq:  # else a seal (which fsyncs first) covers it all
                    self._tick()
                    self._seal("flush", run)
        except OSError as exc:
            raise AuditUnavailable(f"cannot fsync or seal the audit trail {self.where}: {exc.strerror}") from exc

    def close(self) -> None:
        """Seal what is not sealed yet, and close the files. Closing twice does nothing."""
        chain = self._chain
        try:
            if not chain.closed:
                with chain:
                    if chain.sealed_seq != chain.seq:
                        self._tick()
                        self._seal("close", None)
        except OSError as exc:
            raise AuditUnavailable(f"cannot seal the audit trail {self.where}: {exc.strerror}") from exc
        finally:
            chain.close()

    def _seal_if_due(self, run: str | None) -> None:
        """Under the lock, before an event is appended: seal first when the policy says the stretch is full."""
        chain = self._chain
        if chain.seq < chain.check_at_seq and self._now < chain.check_at:
            return  # the common case, decided without asking the policy
        trigger = self._policy.due(chain.seq, chain.sealed_seq, chain.first_unsealed_ms, epoch_ms(self._now))
        if trigger:
            self._seal(trigger, run)

    def _seal(self, trigger: str, run: str | None) -> dict[str, Any]:
        """Under the lock: make the trail durable, then write the next checkpoint and the seal record."""
        chain = self._chain
        chain.durable()
        entry = write_seal(self._seals, seq=chain.seq, head=chain.head, file=chain.part,
                           time=self._now.isoformat(timespec="milliseconds"), run=run, trigger=trigger,
                           policy=self._policy, key=self._key)
        chain.sealed(entry["seq"])
        return entry

    def _follow_seals(self) -> None:
        """Under the lock, on opening: refuse a trail whose checkpoints show it was cut back, and take the
        sealing state from the checkpoints when the lock file does not hold it (or holds a stale one)."""
        chain = self._chain
        last = self._seals.last()
        problem = refusal(last, self._seals.seal(), chain.seq)
        if problem:
            raise AuditTrailDamaged(problem)
        sealed = last["seq"] if last else 0
        if chain.sealed_seq != sealed:  # no state yet, or a stale one: the checkpoints are the truth
            chain.sealed(sealed)  # if events follow, their age is not known: the next event seals them first

    def _tick(self) -> None:
        now = self._clock()
        if now.tzinfo is not UTC:
            now = now.astimezone(UTC)
        self._now = now

    def _stamp(self) -> None:
        """Under the lock: take the time of the next event, and start a new file on a new day."""
        self._tick()
        today = self._now.date()
        if today != self._chain.day:
            self._chain.begin_day(today)

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
        self._trail._emit(self._logger, step, outcome, fields, self.context.get("run"))

    def flush(self) -> None:
        """fsync and seal the trail (at the end of each item, before its email moves on)."""
        self._trail.flush(self.context.get("run"))
