"""A worker process that writes a trail (run by tests/audit/test_writers.py in spawned processes)."""

from __future__ import annotations

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
