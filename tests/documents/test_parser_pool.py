"""The parser pool with real worker processes: caps, outcomes, errors carried back, threads, recycling, and
no process left behind."""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import pickle
import resource
import select
import signal
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from connectors.documents.guard import DocumentLimits
from connectors.documents.parser_pool import ParserFailure, ParserPool
from connectors.errors import (
    AttachmentBomb,
    AttachmentDamaged,
    AttachmentTimeout,
    BusinessError,
    ClerkError,
    ConfigError,
    DocumentReaderFailed,
    InvalidForm,
    SystemError,
)
from tests.documents import tasks
from tests.documents.conftest import LIMITS

ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_gone(pid: int, bound_s: float = 20) -> bool:
    """Wait for ``pid`` to exit, woken by the kernel (a pidfd becomes readable at exit), not by polling."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], bound_s)[0])
    finally:
        os.close(fd)


# --- warm, capped, and not forked from the caller -----------------------------------------------------------
def test_workers_are_capped_warm_and_not_forked_from_the_calling_process(pool: ParserPool) -> None:
    cap = LIMITS.parser_memory_mb * 1024 * 1024
    assert pool.call(resource.getrlimit, resource.RLIMIT_AS) == (cap, cap)
    assert pool.call(os.getppid) != os.getpid()  # children of the forkserver, never a fork of this process
    first, second = pool.call(os.getpid), pool.call(os.getpid)
    assert first == second  # one warm worker serves file after file
    assert first in pool.worker_pids() and len(pool.worker_pids()) == LIMITS.parser_workers


def test_a_result_and_its_arguments_make_the_round_trip(pool: ParserPool) -> None:
    assert pool.call(tasks.echo, b"%PDF-", {"surname": "Okafor"}, [1, 2]) == (b"%PDF-", {"surname": "Okafor"}, [1, 2])


def test_a_function_that_cannot_be_sent_by_name_fails_in_the_caller(pool: ParserPool) -> None:
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pool.call(lambda: None)


# --- time and memory ----------------------------------------------------------------------------------------
def test_a_parse_that_uses_up_its_cpu_allowance_is_ended_by_the_kernel_and_refused(pool: ParserPool) -> None:
    before = set(pool.worker_pids())
    with pytest.raises(AttachmentTimeout) as caught:
        pool.call(tasks.loop_forever, cpu_s=1)
    assert caught.value.code == "ATTACHMENT_TIMEOUT"
    assert "more than the 1 seconds of processing" in caught.value.reasons[0]
    assert str(caught.value.__cause__) == "the parser process used up its 1 CPU seconds"
    after = set(pool.worker_pids())
    (killed,) = before - after
    assert not alive(killed)
    assert len(after) == LIMITS.parser_workers
    assert pool.call(tasks.echo, "next") == ("next",)


def test_each_task_gets_its_allowance_on_top_of_what_the_worker_used_before(pool: ParserPool) -> None:
    used, soft = pool.call(tasks.cpu_used_and_limit, cpu_s=3)
    assert soft == math.ceil(used + 3)  # whole seconds, rounded up (the task itself used next to nothing yet)


def test_a_program_started_by_a_parse_shares_its_allowance(pool: ParserPool) -> None:
    with pytest.raises(AttachmentTimeout) as caught:
        pool.call(tasks.run_a_busy_program, cpu_s=1)
    assert caught.value.code == "ATTACHMENT_TIMEOUT"


def test_a_parse_still_busy_by_the_clock_is_the_readers_fault_not_the_senders(pool: ParserPool, tmp_path: Path) -> None:
    fifo = tmp_path / "nobody-writes"
    os.mkfifo(fifo)  # reading it blocks for ever, using no CPU: a stuck reader, not a costly file
    before = set(pool.worker_pids())
    with pytest.raises(ClerkError) as caught:
        pool.call(tasks.fifo_read, str(fifo), wall_s=1)
    error = caught.value
    assert type(error) is DocumentReaderFailed and isinstance(error, SystemError) and not isinstance(error, BusinessError)
    assert (error.code, error.retryable) == ("PARSER_UNAVAILABLE", True)
    assert str(error.__cause__) == "the parser process was still busy 1 seconds after it began the task"
    (killed,) = before - set(pool.worker_pids())
    assert wait_gone(killed)


def test_allocating_past_the_cap_is_a_bomb(pool: ParserPool) -> None:
    pool.reset_peak()
    with pytest.raises(AttachmentBomb) as caught:
        pool.call(tasks.allocate_past_cap)
    assert caught.value.code == "ATTACHMENT_BOMB"
    assert isinstance(caught.value.__cause__, ParserFailure) and "MemoryError" in str(caught.value.__cause__)
    assert 0 < pool.peak_rss_mb <= LIMITS.parser_memory_mb


def test_running_out_of_memory_is_a_bomb_even_when_the_reader_wraps_the_error(pool: ParserPool) -> None:
    with pytest.raises(AttachmentBomb):
        pool.call(tasks.allocate_and_hide_it)  # raises UnreadableAttachment from MemoryError


def test_a_failure_in_a_librarys_own_words_at_the_cap_is_a_bomb(pool: ParserPool) -> None:
    with pytest.raises(AttachmentBomb):
        pool.call(tasks.fill_memory_then, "fail")


def test_a_worker_that_came_near_its_cap_is_replaced_even_when_its_parse_succeeded() -> None:
    with ParserPool(DocumentLimits(parser_workers=1, parser_memory_mb=256)) as pool:
        (worn,) = pool.worker_pids()
        assert pool.call(tasks.fill_memory_then, "succeed") == "survived"
        assert pool.worker_pids() != [worn] and not alive(worn)
        with pytest.raises(InvalidForm):  # the fresh worker's failures are judged on their own
            pool.call(tasks.raise_invalid_form)


# --- crashes and other errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("signal_number", [signal.SIGSEGV, signal.SIGKILL, signal.SIGABRT])
def test_a_worker_killed_by_a_signal_is_the_readers_fault(pool: ParserPool, signal_number: int) -> None:
    with pytest.raises(DocumentReaderFailed) as caught:
        pool.call(tasks.crash, signal_number)
    assert caught.value.code == "PARSER_UNAVAILABLE" and caught.value.retryable
    assert str(caught.value.__cause__).endswith(f"exit code {-signal_number}")
    assert pool.call(tasks.echo, 1) == (1,)


def test_a_worker_that_exits_is_the_readers_fault(pool: ParserPool) -> None:
    with pytest.raises(DocumentReaderFailed) as caught:
        pool.call(tasks.exit_now, 3)
    assert str(caught.value.__cause__).endswith("exit code 3")


def test_any_other_error_is_damaged_and_its_cause_names_the_error_but_not_the_data(pool: ParserPool) -> None:
    with pytest.raises(AttachmentDamaged) as caught:
        pool.call(tasks.raise_with_personal_data)
    cause = str(caught.value.__cause__)
    assert isinstance(caught.value.__cause__, ParserFailure)
    assert cause.startswith("builtins.ValueError at tasks.py:") and cause.endswith("in raise_with_personal_data")
    assert "Holroyd" not in cause and "QQ123456C" not in cause


def test_a_result_that_cannot_be_sent_back_is_damaged(pool: ParserPool) -> None:
    with pytest.raises(AttachmentDamaged):
        pool.call(tasks.unpicklable_result)


# --- Clerk's own errors come back whole ---------------------------------------------------------------------
def test_a_business_error_comes_back_as_the_same_class_with_its_code_and_reasons(pool: ParserPool) -> None:
    with pytest.raises(InvalidForm) as caught:
        pool.call(tasks.raise_invalid_form)
    error = caught.value
    assert type(error) is InvalidForm
    assert error.message == "2 problems with the form"
    assert error.code == "FORM_INVALID_TEST"
    assert error.reasons == ["Surname is missing. Please fill it in.", "Postcode is not a UK postcode."]
    assert str(error) == "[FORM_INVALID_TEST] 2 problems with the form"
    assert error.__cause__ is None


def test_an_error_with_its_own_constructor_comes_back_with_its_fields_and_cause(pool: ParserPool) -> None:
    with pytest.raises(ConfigError) as caught:
        pool.call(tasks.raise_config_error)
    error = caught.value
    assert (error.file, error.key, error.retryable) == ("clerk.yaml", "documents.max_pages", False)
    assert str(error) == "[CONFIG_INVALID] file clerk.yaml, key 'documents.max_pages': is not a number"
    assert str(error.__cause__).startswith("builtins.KeyError at tasks.py:")


# --- threads ------------------------------------------------------------------------------------------------
def test_many_threads_share_the_workers(pool: ParserPool) -> None:
    with ThreadPoolExecutor(max_workers=8) as threads:
        results = list(threads.map(lambda i: pool.call(tasks.echo, i), range(40)))
    assert results == [(i,) for i in range(40)]


def test_two_threads_parse_at_the_same_time(pool: ParserPool, tmp_path: Path) -> None:
    # Each side of a FIFO blocks until the other opens it: if the pool ran one parse at a time, the first
    # would wait for ever and end in a timeout.
    fifo = tmp_path / "rendezvous"
    os.mkfifo(fifo)
    with ThreadPoolExecutor(max_workers=2) as threads:
        written = threads.submit(pool.call, tasks.fifo_write, str(fifo))
        read = threads.submit(pool.call, tasks.fifo_read, str(fifo))
        assert (written.result(), read.result()) == ("written", "hello")


def test_a_pool_can_be_started_used_and_closed_from_a_flow_thread() -> None:
    def flow_task() -> tuple[object, list[int]]:
        with ParserPool(DocumentLimits(parser_workers=1)) as pool:
            return pool.call(tasks.echo, "from a thread"), pool.worker_pids()

    with ThreadPoolExecutor(max_workers=1) as threads:
        result, pids = threads.submit(flow_task).result()
    assert result == ("from a thread",) and not any(alive(pid) for pid in pids)


# --- recycling ----------------------------------------------------------------------------------------------
def test_a_worker_is_replaced_after_its_task_allowance() -> None:
    with ParserPool(DocumentLimits(parser_workers=1, parser_max_tasks=3)) as pool:
        pids = [pool.call(os.getpid) for _ in range(4)]
    assert pids[0] == pids[1] == pids[2] != pids[3]
    assert not alive(pids[0])


def test_a_worker_is_replaced_after_any_failure() -> None:
    with ParserPool(DocumentLimits(parser_workers=1)) as pool:
        first = pool.call(os.getpid)
        with pytest.raises(InvalidForm):
            pool.call(tasks.raise_invalid_form)
        assert pool.call(os.getpid) != first
        assert not alive(first)


def test_workers_killed_while_idle_are_replaced_when_next_needed(tmp_path: Path) -> None:
    fifo = tmp_path / "rendezvous"
    os.mkfifo(fifo)
    with ParserPool(DocumentLimits(parser_workers=2)) as pool:
        killed = pool.worker_pids()
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        assert all(wait_gone(pid) for pid in killed)
        with ThreadPoolExecutor(max_workers=2) as threads:  # needs both slots at once
            written = threads.submit(pool.call, tasks.fifo_write, str(fifo))
            assert pool.call(tasks.fifo_read, str(fifo)) == "hello" and written.result() == "written"
        assert not set(killed) & set(pool.worker_pids())


# --- process groups: nothing a parse started outlives its worker --------------------------------------------
def test_each_worker_leads_its_own_process_group_and_session(pool: ParserPool) -> None:
    pid, group, session = pool.call(tasks.process_group)
    assert pid == group == session != os.getpgid(0)


def started_program(pool: ParserPool, tmp_path: Path, **limits: float):
    """Run start_a_program_then_block in a thread; return (its outcome list, thread, program pid, worker pid,
    the FIFO that would release it)."""
    report, block = tmp_path / "report", tmp_path / "block"
    os.mkfifo(report)
    os.mkfifo(block)
    outcome: list[BaseException] = []

    def parse() -> None:
        try:
            pool.call(tasks.start_a_program_then_block, str(report), str(block), **limits)
        except BaseException as exc:  # noqa: B036 - recorded for the assertions
            outcome.append(exc)

    caller = threading.Thread(target=parse)
    caller.start()
    program, worker = (int(pid) for pid in report.read_text().split())
    return outcome, caller, program, worker


def test_a_parse_stopped_by_the_clock_takes_the_programs_it_started_with_it(pool: ParserPool, tmp_path: Path) -> None:
    outcome, caller, program, worker = started_program(pool, tmp_path, wall_s=1)
    try:
        caller.join()
        assert len(outcome) == 1 and type(outcome[0]) is DocumentReaderFailed
        assert wait_gone(program) and not alive(program)
        assert not alive(worker)
    finally:
        if alive(program):  # only if the test failed: do not leave it behind
            os.kill(program, signal.SIGKILL)


def test_a_worker_killed_mid_parse_is_the_readers_fault_and_its_programs_die_too(pool: ParserPool,
                                                                                 tmp_path: Path) -> None:
    outcome, caller, program, worker = started_program(pool, tmp_path, wall_s=60)
    try:
        assert alive(program)
        os.kill(worker, signal.SIGKILL)  # from outside, as an operator or the kernel's OOM killer would
        caller.join()
        assert len(outcome) == 1 and type(outcome[0]) is DocumentReaderFailed
        assert str(outcome[0].__cause__).endswith(f"exit code {-signal.SIGKILL}")
        assert wait_gone(program) and not alive(program)
    finally:
        if alive(program):
            os.kill(program, signal.SIGKILL)


# --- no process left behind ---------------------------------------------------------------------------------
def parser_children() -> list[multiprocessing.Process]:
    return [child for child in multiprocessing.active_children() if child.name == "clerk-parser"]


def test_close_ends_every_worker() -> None:
    before = len(parser_children())
    pool = ParserPool(DocumentLimits(parser_workers=3))
    pids = pool.worker_pids()
    assert len(pids) == 3 and all(alive(pid) for pid in pids)
    pool.close()
    pool.close()  # idempotent
    assert not any(alive(pid) for pid in pids)
    assert pool.worker_pids() == [] and len(parser_children()) == before
    with pytest.raises(RuntimeError):
        pool.call(tasks.echo, 1)


def test_close_ends_a_busy_worker_and_its_caller_is_told(tmp_path: Path) -> None:
    fifo = tmp_path / "started"
    os.mkfifo(fifo)
    pool = ParserPool(DocumentLimits(parser_workers=1))
    (pid,) = pool.worker_pids()
    outcome: list[BaseException] = []

    def parse() -> None:
        try:
            pool.call(tasks.fifo_write_then_loop, str(fifo), wall_s=60)
        except BaseException as exc:  # noqa: B036 - recorded for the assertion below
            outcome.append(exc)

    caller = threading.Thread(target=parse)
    caller.start()
    assert fifo.read_text() == "hello"  # the worker is now inside the endless loop
    pool.close()
    caller.join()
    assert len(outcome) == 1 and isinstance(outcome[0], RuntimeError)
    assert not alive(pid)


def test_a_pool_dropped_without_close_still_ends_its_workers() -> None:
    pool = ParserPool(DocumentLimits(parser_workers=2))
    pids = pool.worker_pids()
    del pool
    gc.collect()
    assert not any(alive(pid) for pid in pids)


def test_workers_do_not_outlive_clerk_even_in_an_endless_parse(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, sys, threading
        sys.path.insert(0, {str(ROOT)!r})
        from connectors.documents.guard import DocumentLimits
        from connectors.documents.parser_pool import ParserPool
        from tests.documents import tasks

        if __name__ == "__main__":
            pool = ParserPool(DocumentLimits(parser_workers=2))
            print(*pool.worker_pids(), flush=True)
            threading.Thread(target=pool.call, args=(tasks.fifo_write_then_loop, {str(tmp_path / "started")!r}),
                             kwargs={{"wall_s": 600}}, daemon=True).start()
            with open({str(tmp_path / "started")!r}) as started:
                started.read()
            os._exit(0)  # Clerk dies without closing anything
        """
    )
    os.mkfifo(tmp_path / "started")
    output = tmp_path / "output"
    with output.open("w") as out:  # a file, not a pipe: a surviving worker would hold a pipe open
        clerk = subprocess.run([sys.executable, "-c", script], stdout=out, stderr=out, timeout=120, cwd=tmp_path)
    assert clerk.returncode == 0, output.read_text()
    pids = [int(pid) for pid in output.read_text().split()]
    assert len(pids) == 2
    try:
        assert all(wait_gone(pid) for pid in pids)
    finally:
        for pid in filter(alive, pids):  # only if the test failed: do not leave them spinning
            os.kill(pid, signal.SIGKILL)
