"""The processor time one parse may use, counted by the kernel, in a parser worker and in the programs a
parse starts (Tesseract).

Wall-clock time is the wrong measure of a hostile file: on a loaded machine a valid form waits for a core
and looks slow. CPU time is what an endless or expensive file actually burns, and it does not grow with
the load. So before each task the worker sets its own ``RLIMIT_CPU`` soft limit to the CPU it has used
so far plus the task's allowance (:func:`begin`); a parse that goes past it is ended by the kernel's
SIGXCPU, even inside a C library, and the pool answers ATTACHMENT_TIMEOUT. A program the parse starts gets
what is left of the allowance as its own limit (:func:`run_program`), and the CPU it used is taken off
the worker's: together, the parse and its programs stay within one allowance.

Outside a parser worker (``python -m connectors.documents``, tests calling a reader directly) nothing is
capped, and :func:`run_program` only applies its wall-clock timeout.
"""

from __future__ import annotations

import math
import resource
import signal
import subprocess
from dataclasses import dataclass

from connectors.errors import AttachmentTimeout, DocumentReaderFailed

KILLED_BY_CPU_CAP = -signal.SIGXCPU
"""A process's return code (``Popen.returncode``, ``Process.exitcode``) when its CPU limit ended it."""

_state: dict[str, float] = {}
"""In a worker during a task: ``cap`` (seconds) and ``used`` (this process's and its children's CPU
seconds when the task began)."""


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def begin(cap_s: float) -> None:
    """In a parser worker, before a task: allow it ``cap_s`` CPU seconds from now (whole seconds, rounded
    up, as the kernel counts). SIGXCPU keeps its default action, ending the worker."""
    _state.update(cap=cap_s, used=cpu_seconds() + cpu_seconds(resource.RUSAGE_CHILDREN))
    _limit_self()


def remaining_s() -> float | None:
    """CPU seconds left to the current task (its programs' included), or None outside a worker task."""
    if not _state:
        return None
    used = cpu_seconds() + cpu_seconds(resource.RUSAGE_CHILDREN) - _state["used"]
    return _state["cap"] - used


def _limit_self() -> None:
    left = remaining_s()
    if left is None:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(cpu_seconds() + max(left, 0.0))
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: bytes


def run_program(command: list[str], data: bytes, *, timeout_s: float, what: str,
                env: dict[str, str] | None = None) -> Finished:  # fmt: skip
    """Run ``command`` with ``data`` on its standard input, within what is left of the task's CPU allowance
    and ``timeout_s`` seconds by the clock. It stays in the worker's process group, so the pool's kill of
    a stuck worker ends it too.

    Raises :class:`AttachmentTimeout` when it used up the allowance (the file is too costly to read),
    :class:`DocumentReaderFailed` when the clock ran out first (the machine, not the file, is at fault),
    and ``OSError`` when it cannot be started. ``what`` names the program in messages ("Tesseract").
    """
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               env=env)  # fmt: skip
    try:
        _limit_child(process.pid)
        try:
            stdout, _ = process.communicate(data, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise DocumentReaderFailed(
                f"{what} did not finish within {timeout_s:g} seconds by the clock without using up its processor "
                "time: the machine is overloaded or the program is stuck"
            ) from None
    finally:
        if process.returncode is None:  # an error in this process while it ran
            process.kill()
            process.wait()
        _limit_self()  # what the program used comes off the worker's allowance
    if ended_by_cpu_cap(process.returncode):
        raise AttachmentTimeout(too_costly(_state.get("cap")))
    return Finished(process.returncode, stdout)


def _limit_child(pid: int) -> None:
    left = remaining_s()
    if left is None:
        return
    soft = max(1, math.ceil(left))
    try:  # a second's grace before the kernel's SIGKILL, should the program ignore SIGXCPU
        resource.prlimit(pid, resource.RLIMIT_CPU, (soft, soft + 1))
    except ProcessLookupError:  # it has already finished
        pass


def too_costly(cap_s: float | None) -> str:
    """The sentence for the sender when a file used up its CPU allowance."""
    allowance = f"the {cap_s:g} seconds of processing" if cap_s else "the processing"
    return (
        f"Reading the attachment needed more than {allowance} Clerk allows for one file (a form needs a fraction "
        "of a second), which is a sign of a damaged or unsafe file, so Clerk stopped. "
        "Please save the form again and send it as a PDF, a Word (.docx) document or an Excel (.xlsx) workbook."
    )


def ended_by_cpu_cap(returncode: int | None) -> bool:
    """Whether a process with this return code was ended by its CPU limit."""
    return returncode == KILLED_BY_CPU_CAP
