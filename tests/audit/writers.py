"""Worker processes that write a trail (run in spawned processes by tests/audit/test_writers.py, test_crash.py and
test_postgres_writers.py). ``path`` is the trail's file, or a store (a trail in PostgreSQL)."""

from __future__ import annotations

import multiprocessing
import threading
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from connectors.audit import AuditTrail
from tests.audit.trails import KEY
from tests.report.trail import Trail


def write_events(path, writer: str, count: int, barrier) -> None:
    """Write one event, wait until the other writer has too (so both heads are stale), then write flat out."""
    trail = AuditTrail(path, actor=writer, key=KEY)
    trail.record("start", "ok", writer=writer, number=0)
    barrier.wait(timeout=60)
    events = trail.bind(run=writer, reference=f"CLK-{writer}")
    for number in range(1, count + 1):
        events("step", "ok", writer=writer, number=number)
    trail.checkpoint(writer)
    trail.close()


def write_and_hang(path, sealed: int, unsealed: int, ready) -> None:
    """Write ``sealed`` events and flush (a seal), then ``unsealed`` more; say so, and wait to be killed."""
    trail = AuditTrail(path, actor="doomed", key=KEY)
    events = trail.bind(run="doomed", reference="CLK-doomed")
    for number in range(sealed):
        events("step", "ok", number=number)
    events.flush()
    for number in range(sealed, sealed + unsealed):
        events("step", "ok", number=number)
    ready.set()
    threading.Event().wait()  # never set: the test kills this process


def write_flat_out(path, started) -> None:
    """Write, flush and checkpoint without pause until killed."""
    trail = AuditTrail(path, actor="busy", key=KEY, seal_every_events=7)
    events = trail.bind(run="busy", reference="CLK-busy")
    number = 0
    while True:
        number += 1
        events("step", "ok", number=number)
        if number % 5 == 0:
            events.flush()
        if number % 23 == 0:
            trail.checkpoint("busy")
        if number == 50:
            started.set()


def write_in_threads(trail: AuditTrail, threads: int, count: int) -> None:
    """``threads`` threads (``t0``, ``t1``...) each recording ``count`` numbered events at once, then a checkpoint."""
    start = threading.Barrier(threads)

    def write(writer: str) -> None:
        events = trail.bind(run="r", reference=writer)
        start.wait()
        for number in range(count):
            events("step", "ok", writer=writer, number=number)

    workers = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    trail.checkpoint("r")
    trail.close()


def numbers_by_writer(events: Iterable[dict]) -> dict[str, list[int]]:
    """The numbers each writer recorded, in the trail's order."""
    seen = defaultdict(list)
    for event in events:
        if "writer" in event:
            seen[event["writer"]].append(event["number"])
    return seen


def write_emails(path, names: list[str], received: str) -> None:
    """Emails received at ``received`` (UK time), each acknowledged and then keyed four minutes later, recorded
    as the flows record them (tests/report/trail.py)."""
    trail = Trail(where=path)
    for name in names:
        trail.email(name, received).arrive().key(timedelta(minutes=4))
    trail.close()


def killed(target, *args) -> None:
    """Run ``target(*args, ready)`` in a spawned process and SIGKILL it once it sets ``ready``."""
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Event()
    process = spawn.Process(target=target, args=(*args, ready))
    process.start()
    try:
        assert ready.wait(timeout=60), "the writer did not get going"
    finally:
        process.kill()
        process.join(timeout=60)
    assert process.exitcode == -9
