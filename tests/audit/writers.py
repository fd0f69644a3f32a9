"""Worker processes that write a trail (run in spawned processes by tests/audit/test_writers.py and test_crash.py)."""

from __future__ import annotations

import threading

from connectors.audit import AuditTrail
from tests.audit.trails import KEY


def write_events(path: str, writer: str, count: int, barrier) -> None:
    """Write one event, wait until the other writer has too (so both heads are stale), then write flat out."""
    trail = AuditTrail(path, actor=writer, key=KEY)
    trail.record("start", "ok", writer=writer, number=0)
    barrier.wait(timeout=60)
    events = trail.bind(run=writer, reference=f"CLK-{writer}")
    for number in range(1, count + 1):
        events("step", "ok", writer=writer, number=number)
    trail.checkpoint(writer)
    trail.close()


def write_and_hang(path: str, sealed: int, unsealed: int, ready) -> None:
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


def write_flat_out(path: str, started) -> None:
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
