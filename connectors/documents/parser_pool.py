"""Warm parser processes with memory and CPU caps, so that no attachment can hang, crash or starve Clerk,
and no fault of Clerk's is ever blamed on the sender.

Parsing a hostile file is risky in three ways: it may never finish, it may allocate without end, and a
C extension may crash on it. :class:`ParserPool` keeps a few worker processes warm, each with an
address-space cap (``RLIMIT_AS``) and, for each task, a CPU allowance (``RLIMIT_CPU``, see
``connectors.documents.cpu_allowance``), and runs one parse at a time in each:

* the parse (or a program it started, such as Tesseract) used up its CPU allowance
  (``documents.parser_time_s``): the kernel ends it and the caller gets :class:`AttachmentTimeout`;
  CPU time does not grow with the machine's load, so a valid form is never refused for a busy machine;
* out of memory (a ``MemoryError`` anywhere in the failure's chain, or a failure with the worker's peak at
  its cap): :class:`AttachmentBomb`;
* the parser raised something that is not Clerk's: :class:`AttachmentDamaged`, whose ``__cause__`` is a
  :class:`ParserFailure` naming the error's type and place, never its message (a library's message may
  quote the document);
* a :class:`~connectors.errors.ClerkError` raised by the parser reaches the caller as the same class with
  the same message, code and reasons;
* Clerk's own faults are :class:`~connectors.errors.DocumentReaderFailed` (PARSER_UNAVAILABLE, a system
  error: retried, then a supervisor), never a rejection: the worker died (a crash, a kill: anything but
  its CPU allowance), or it was still busy ``documents.parser_wall_s`` seconds by the clock after it
  began the task. That clock starts when the worker says it has begun, so neither a worker's cold start
  nor a wait for a free worker counts.

Each worker leads its own session and process group, and a worker that is killed, times out or dies is
ended with its whole group, so no program a parse started (Tesseract) outlives it. (If Clerk itself dies,
its workers die at once, see :func:`_die_with_clerk`; a program one of them started then ends at its own
CPU limit.)

Workers come from multiprocessing's *forkserver*: a clean single-threaded server that preloads the parsing
libraries once, so a new worker costs a fork (about 10 ms) rather than a fresh interpreter (about 80 ms
bare, more with imports), and is never forked from a threaded Prefect process. A worker is replaced after
``parser_max_tasks`` parses and after any failure. The pool is a resource cap, not a security sandbox: a
parser exploited into running code could do what Clerk's user can.

:func:`guarded` is the one call the intake needs: the guard's checks, then the parse in a worker.
"""

from __future__ import annotations

import fcntl
import importlib
import multiprocessing
import os
import pickle
import resource
import signal
import sys
import threading
import traceback
import weakref
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

from connectors.documents import cpu_allowance
from connectors.documents.guard import DocumentLimits, check, exception_chain, name_reasons, parse_in_worker
from connectors.errors import (
    AttachmentBomb,
    AttachmentDamaged,
    AttachmentTimeout,
    ClerkError,
    DocumentReaderFailed,
    UnreadableAttachment,
)

T = TypeVar("T")

# Imported once by the forkserver, so that every worker starts warm. "__main__" keeps multiprocessing's
# default: functions of the running script can be sent to a worker.
PRELOAD: tuple[str, ...] = ("__main__", "connectors.documents.guard", "pypdf", "docx", "lxml.etree", "openpyxl")

_MEMORY_FAILURE = 0.9  # a failure with the worker's peak above this share of its cap was the cap's doing

BOMB_MESSAGE = (
    "Reading the attachment needed more memory than any form needs, which is a sign of a damaged or unsafe "
    "file, so Clerk stopped. Please save the form again and send it as a PDF, a Word (.docx) document or an "
    "Excel (.xlsx) workbook."
)
DAMAGED_MESSAGE = (
    "Clerk could not read the attachment: it may be damaged, incomplete or not saved by the usual programs. "
    "Please save the form again and send it as a PDF, a Word (.docx) document or an Excel (.xlsx) workbook."
)


class ParserFailure(Exception):
    """Why a parse failed, as seen in the worker: the error's type and where it was raised, no message."""


# --- the worker process ------------------------------------------------------------------------------------
_BEGUN = b"begun"
"""What a worker sends as soon as it has a task: the parent's clock for the task starts then."""


def _worker_main(conn: Connection, memory_bytes: int) -> None:
    """A worker's life: lead a process group of its own, cap its memory, then run tasks from the pipe until
    the pool closes it."""
    os.setsid()  # the pool ends the whole group, so a program a parse starts never outlives its worker
    _die_with_clerk()
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))  # no core files
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)  # past its CPU allowance, the kernel ends the worker
    while True:
        try:
            task = conn.recv_bytes()
            conn.send_bytes(_BEGUN)
        except (EOFError, OSError):
            return
        reply = _run(task, memory_bytes)
        try:
            conn.send_bytes(reply)
        except (EOFError, OSError):
            return


def _die_with_clerk() -> None:
    """Make the kernel end this worker when Clerk's process ends, even in the middle of an endless parse.

    multiprocessing gives the worker a pipe from Clerk (the parent sentinel) that reaches end-of-file when
    Clerk exits. With O_ASYNC set, the kernel then sends SIGIO, whose default action ends the process; no
    thread, no GIL, no polling. (PR_SET_PDEATHSIG would not do: the worker's parent is the forkserver,
    which lives on for as long as any worker does.)"""
    parent = multiprocessing.parent_process()
    if parent is None or sys.platform != "linux":
        return
    sentinel = parent.sentinel
    fcntl.fcntl(sentinel, fcntl.F_SETOWN, os.getpid())
    fcntl.fcntl(sentinel, fcntl.F_SETFL, fcntl.fcntl(sentinel, fcntl.F_GETFL) | os.O_ASYNC)
    if wait([sentinel], timeout=0):  # Clerk ended before the signal was armed
        os._exit(0)


def _run(task: bytes, memory_bytes: int) -> bytes:
    """Run one pickled ``(fn, args, cpu_s)`` within ``cpu_s`` CPU seconds and return the pickled reply
    ``(outcome, value, peak_kb, worn)``.

    ``worn``: the worker's address space came near its cap during this task (it is always the first such
    task, since a worn worker is replaced), so a failure was most likely the cap's doing."""
    try:
        fn, args, cpu_s = pickle.loads(task)
        cpu_allowance.begin(cpu_s)
        result = fn(*args)
        return pickle.dumps(("ok", result, _peak_kb(), _near_cap(memory_bytes)), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # noqa: B036 - everything a parser raises is reported, even SystemExit
        return _failure(exc, memory_bytes)


def _failure(exc: BaseException, memory_bytes: int) -> bytes:
    worn = _near_cap(memory_bytes)
    if worn or any(isinstance(link, MemoryError) for link in exception_chain(exc)):
        reply: tuple[str, Any] = ("memory", _describe(exc))
    elif isinstance(exc, ClerkError):
        cls = type(exc)
        fields = {key: value for key, value in vars(exc).items() if _picklable(value)}
        cause = _describe(exc.__cause__) if exc.__cause__ else None
        reply = ("clerk", (f"{cls.__module__}:{cls.__qualname__}", exc.message, fields, cause))
    else:
        reply = ("error", _describe(exc))
    try:
        return pickle.dumps((*reply, _peak_kb(), worn), protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        return pickle.dumps(("memory", None, None, True))  # even the reply did not fit: say only that


def _near_cap(memory_bytes: int) -> bool:
    """Whether this worker's address space ever came near its cap. A failure then is the cap's doing even
    when a C library reports it in its own words (zlib's "insufficient memory", libxml2's "Memory
    allocation failed") rather than as a MemoryError."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmPeak:"))
    except (OSError, StopIteration, ValueError):
        return False
    return peak_kb * 1024 >= _MEMORY_FAILURE * memory_bytes


def _peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _picklable(value: object) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


def _describe(exc: BaseException) -> str:
    """``package.module.Error at file.py:123 in function``: enough to find the bug, nothing of the data."""
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    place = f" at {os.path.basename(where[0].filename)}:{where[0].lineno} in {where[0].name}" if where else ""
    return f"{type(exc).__module__}.{type(exc).__qualname__}{place}"


# --- the parent's side -------------------------------------------------------------------------------------
_TIMED_OUT = ("timeout", None, None, True)
_NOT_BEGUN = ("not_begun", None, None, True)
_LOST = ("lost", None, None, True)
_DIED = ("died", None, None, True)


class _Worker:
    """One warm worker process and the parent's end of its pipe."""

    def __init__(self, context: multiprocessing.context.BaseContext, memory_bytes: int) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, memory_bytes), name="clerk-parser", daemon=True
        )
        self.process.start()
        child.close()
        self.tasks = 0

    def usable(self) -> bool:
        """Whether this idle worker can take a task. An idle worker sends nothing, so anything to read on
        its pipe is the end-of-file of a worker that died while idle (which ``is_alive`` learns later, when
        the forkserver reports it)."""
        return self.process.is_alive() and not self.conn.poll(0)

    def run(self, task: bytes, wall_s: float) -> tuple[str, Any, int | None, bool]:
        """Send the task; give the worker ``wall_s`` seconds to begin it (a cold start), then ``wall_s``
        seconds from when it began. ``lost``: the worker was gone before it began the task."""
        self.tasks += 1
        try:
            self.conn.send_bytes(task)
            if not self.conn.poll(wall_s):
                return _NOT_BEGUN
            if self.conn.recv_bytes() != _BEGUN:
                return _DIED
        except (EOFError, OSError):
            return _LOST
        try:
            if not self.conn.poll(wall_s):
                return _TIMED_OUT
            return pickle.loads(self.conn.recv_bytes())
        except (EOFError, OSError):
            return _DIED

    def kill(self) -> None:
        """End the worker and every process in its group (a Tesseract it started, say), alive or orphaned.

        The group's id is the worker's pid. The kernel does not reuse that number while any process of the
        group lives, so this reaches the worker's group or nobody."""
        if self.process.pid is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):  # the group is gone (or the worker never made it)
            pass
        if self.process.is_alive():
            self.process.kill()

    def stop(self) -> None:
        """Kill and reap the process and its group, and close the pipe. Only the thread that owns the worker
        calls this."""
        self.kill()
        self.process.join()
        self.conn.close()


def _stop_all(workers: set[_Worker]) -> None:
    for worker in list(workers):
        worker.stop()
    workers.clear()


class ParserPool:
    """``limits.parser_workers`` warm parser processes, each capped at ``limits.parser_memory_mb``.

    Thread-safe: any number of threads may :meth:`call` at once; each waits for a free worker. Close it (or
    use it as a context manager) to end every worker. ``preload`` names the modules the forkserver imports
    once; it takes effect only if this is the first forkserver user in the process.
    """

    def __init__(self, limits: DocumentLimits, *, preload: Sequence[str] = PRELOAD) -> None:
        self._limits = limits
        self._memory_bytes = limits.parser_memory_mb * 1024 * 1024
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(preload))
        self._ready = threading.Condition()
        self._closed = False
        self._peak_kb = 0
        self._workers: set[_Worker] = set()  # every live worker, idle or busy
        self._finalizer = weakref.finalize(self, _stop_all, self._workers)  # a pool dropped without close()
        self._idle: list[_Worker | None] = []  # None: a slot whose worker is started on demand
        try:
            self._idle = [self._start() for _ in range(limits.parser_workers)]
        except BaseException:
            self._closed = True
            self._finalizer()
            raise

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def peak_rss_mb(self) -> float:
        """The highest resident memory any worker reported since the pool started (or :meth:`reset_peak`)."""
        return self._peak_kb / 1024

    def reset_peak(self) -> None:
        with self._ready:
            self._peak_kb = 0

    def worker_pids(self) -> list[int]:
        """The process ids of the pool's workers, for monitoring. (One that died while idle is listed until
        its slot is next needed; it is replaced then.)"""
        with self._ready:
            return sorted(worker.process.pid for worker in self._workers if worker.process.pid)

    def call(self, fn: Callable[..., T], *args: object, cpu_s: float | None = None, wall_s: float | None = None) -> T:
        """Run ``fn(*args)`` in a worker and return its result, allowing it ``cpu_s`` CPU seconds (default
        ``parser_time_s``) and ``wall_s`` seconds by the clock once begun (default ``parser_wall_s``). ``fn``
        must be importable by name (a module-level function) and its arguments and result picklable.
        Raises as the module docstring says."""
        cpu_limit = self._limits.parser_time_s if cpu_s is None else cpu_s
        wall_limit = self._limits.parser_wall_s if wall_s is None else wall_s
        task = pickle.dumps((fn, args, cpu_limit), protocol=pickle.HIGHEST_PROTOCOL)
        for _ in range(2):  # a task that never began (its worker was gone) is safe to send once more
            worker = self._acquire()
            outcome, value, peak_kb, worn = worker.run(task, wall_limit)
            self._release(worker, healthy=outcome == "ok" and not worn)
            if outcome != "lost" or self._closed:
                break
        if peak_kb:
            with self._ready:
                self._peak_kb = max(self._peak_kb, peak_kb)
        if outcome == "ok":
            return value
        if outcome in ("died", "lost") and self._closed:
            raise RuntimeError("the parser pool was closed while this document was being read")
        raise _error(outcome, value, worker, cpu_limit, wall_limit)

    def close(self) -> None:
        """End every worker, busy ones too (their callers get ``RuntimeError``). Idempotent."""
        with self._ready:
            self._closed = True
            idle = [worker for worker in self._idle if worker is not None]
            busy = self._workers.difference(idle)
            self._idle.clear()
            self._ready.notify_all()
        for worker in idle:
            self._retire(worker)
        for worker in busy:  # the thread running it reaps it and closes its pipe
            worker.kill()
        self._finalizer.detach()

    def _start(self) -> _Worker:
        worker = _Worker(self._context, self._memory_bytes)
        with self._ready:
            self._workers.add(worker)
            closed = self._closed
        if closed:
            self._retire(worker)
            raise RuntimeError("the parser pool is closed")
        return worker

    def _retire(self, worker: _Worker) -> None:
        worker.stop()
        with self._ready:
            self._workers.discard(worker)

    def _acquire(self) -> _Worker:
        with self._ready:
            while not self._idle and not self._closed:
                self._ready.wait()
            if self._closed:
                raise RuntimeError("the parser pool is closed")
            worker = self._idle.pop()
        if worker is not None and worker.usable():
            return worker
        if worker is not None:
            self._retire(worker)
        try:
            return self._start()
        except BaseException:
            self._give_back(None)
            raise

    def _release(self, worker: _Worker, *, healthy: bool) -> None:
        if healthy and worker.tasks < self._limits.parser_max_tasks and not self._closed:
            self._give_back(worker)
            return
        self._retire(worker)
        try:
            replacement: _Worker | None = None if self._closed else self._start()
        except Exception:  # start it on demand instead; the failure then reaches that caller
            replacement = None
        self._give_back(replacement)

    def _give_back(self, worker: _Worker | None) -> None:
        with self._ready:
            if self._closed:
                if worker is not None:
                    self._workers.discard(worker)
                    worker.stop()
                return
            self._idle.append(worker)
            self._ready.notify()


def _error(outcome: str, value: Any, worker: _Worker, cpu_s: float, wall_s: float) -> ClerkError:
    """The exception a failed task's outcome becomes in the parent (the worker has been reaped)."""
    if outcome == "memory":
        return _with_cause(AttachmentBomb(BOMB_MESSAGE), f"out of memory: {value}" if value else "out of memory")
    if outcome == "clerk":
        return _rebuild(*value)
    if outcome == "error":
        return _with_cause(AttachmentDamaged(DAMAGED_MESSAGE), value)
    exitcode = worker.process.exitcode
    if outcome == "died" and cpu_allowance.ended_by_cpu_cap(exitcode):
        return _with_cause(AttachmentTimeout(cpu_allowance.too_costly(cpu_s)),
                           f"the parser process used up its {cpu_s:g} CPU seconds")  # fmt: skip
    if outcome == "timeout":
        cause = f"the parser process was still busy {wall_s:g} seconds after it began the task"
    elif outcome == "not_begun":
        cause = f"the parser process did not begin the task within {wall_s:g} seconds"
    else:
        cause = f"the parser process ended with exit code {exitcode}"
    return _with_cause(DocumentReaderFailed(f"The document reader failed: {cause}."), cause)


def _rebuild(path: str, message: str, fields: dict[str, Any], cause: str | None) -> ClerkError:
    """The worker's ClerkError again: its class by name, its message and its attributes (reasons, code,
    or a subclass's own). Rebuilt rather than unpickled because ClerkError takes keyword-only arguments."""
    module, _, qualname = path.partition(":")
    try:
        cls: Any = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError):
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, ClerkError)):
        return _with_cause(AttachmentDamaged(DAMAGED_MESSAGE), f"{path} (not a Clerk error class here)")
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(fields)
    return _with_cause(error, cause) if cause else error


def _with_cause(error: ClerkError, cause: str) -> ClerkError:
    error.__cause__ = ParserFailure(cause)
    return error


def guarded(
    data: bytes,
    filename: str,
    fn: Callable[..., T],
    *args: object,
    limits: DocumentLimits,
    pool: ParserPool,
    max_pages: int | None = None,
) -> T:
    """Check an attachment, then parse it in a worker: ``fn(data, kind, *args)`` with ``kind`` ``"pdf"``,
    ``"docx"`` or ``"xlsx"``. A PDF's encryption and page count are checked in the worker first; ``max_pages`` (a form's
    own limit) may only lower ``limits.max_pages``. The parse is given ``limits.parser_time_s`` CPU seconds
    and ``limits.parser_wall_s`` by the clock; the memory cap is the pool's. Every refusal names the
    attachment in its reasons; a :class:`DocumentReaderFailed` is Clerk's fault and names nothing."""
    kind = check(data, filename, limits)
    pages = limits.max_pages if max_pages is None else min(max_pages, limits.max_pages)
    try:
        return pool.call(parse_in_worker, fn, data, kind, pages, *args, cpu_s=limits.parser_time_s,
                         wall_s=limits.parser_wall_s)  # fmt: skip
    except UnreadableAttachment as exc:
        name_reasons(exc, filename)
        raise
