"""Helpers for the audit tests: a trail of known events, a settable clock, and line-level surgery on files."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.audit import AuditTrail

KEY = b"test-hmac-key-0123456789abcdef"


class Clock:
    """A clock the test moves by hand (to cross midnight without waiting for it)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def day(text: str) -> Clock:
    return Clock(datetime.fromisoformat(text).replace(tzinfo=UTC))


def write_trail(path, events: int = 10, *, key: bytes | None = KEY, checkpoint: bool = True) -> AuditTrail:
    """``events`` item events (lines 1..events), then a checkpoint (its event is line events + 1). ``path``: the
    trail's file, or a store (a trail in PostgreSQL)."""
    trail = AuditTrail(path, key=key)
    item = trail.bind(run="run-1", reference="CLK-0000000001", process="blue_badge", email_id="m1.eml")
    for number in range(1, events + 1):
        item("step", "ok", number=number)
    if checkpoint:
        trail.checkpoint("run-1")
    trail.close()
    return trail


def items(path, count: int, *, events: int = 3, clock: Clock | None = None, **options):
    """``count`` items of ``events`` events each, flushed at each item's end (as flows/steps.py finish() does).
    ``path``: the trail's file, or a store (a trail in PostgreSQL)."""
    trail = AuditTrail(path, key=KEY, clock=clock or day("2026-03-02T09:00:00"), **options)
    for number in range(1, count + 1):
        item = trail.bind(run="run-1", reference=f"CLK-{number}")
        for step in range(events):
            item("step", "ok", number=step)
        item.flush()
    trail.close()
    return path


def checkpoints_of(path: Path) -> list[dict]:
    """The checkpoints beside the trail at ``path``, in file order."""
    return [json.loads(line) for line in path.with_name("audit.checkpoints.jsonl").read_bytes().splitlines()]


def write_checkpoints(path: Path, entries: list[dict]) -> None:
    path.with_name("audit.checkpoints.jsonl").write_bytes(b"".join(json.dumps(entry).encode() + b"\n" for entry in entries))


def seal_of(path: Path) -> dict:
    return json.loads(path.with_name("audit.seal.json").read_bytes())


def write_seal(path: Path, entry: dict) -> None:
    path.with_name("audit.seal.json").write_text(json.dumps(entry) + "\n")


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def write_lines(path: Path, content: list[bytes]) -> None:
    path.write_bytes(b"".join(content))


def edit(raw: bytes, old: bytes, new: bytes) -> bytes:
    """Replace ``old`` in a line, failing the test when it is not there (so no edit passes silently)."""
    assert old in raw, (old, raw)
    return raw.replace(old, new)


def rechain(content: list[bytes], start: int = 0, prev: str | None = None) -> list[bytes]:
    """What a forger without the key does after editing: recompute every ``prev`` from line ``start`` on."""
    out = list(content[:start])
    prev = prev or (hashlib.sha256(out[-1].rstrip(b"\n")).hexdigest() if out else "0" * 64)
    for raw in content[start:]:
        event = json.loads(raw)
        event["prev"] = prev
        line = json.dumps(event).encode()
        out.append(line + b"\n")
        prev = hashlib.sha256(line).hexdigest()
    return out
