"""The audit trail's on-disk format, shared by the writer (connectors/audit.py) and the verifier.

* Every line is one JSON object ending in ``\\n``. Its ``prev`` is the SHA-256 (hex) of the exact bytes of
  the line before it, without that line's ``\\n``; the first line of the first file carries :data:`GENESIS`.
* A trail is one active file (the configured path, e.g. ``audit.jsonl``) plus the days it rotated out,
  renamed ``audit.2026-03-01.jsonl`` (a second file for the same day would be ``audit.2026-03-01.1.jsonl``).
  The chain runs through them in that order: oldest day first, the active file last.
* Checkpoints live beside the trail, outside it, in ``audit.checkpoints.jsonl``: each one names the last
  ``seq`` and the ``head`` hash at that moment and a ``counter`` that goes up by exactly one per checkpoint,
  signed with HMAC-SHA256 when a key is configured. The latest checkpoint is also kept, on its own, in the
  seal record ``audit.seal.json``, which is replaced atomically (connectors/audit_seal.py has the rules).
* Writers take an exclusive ``flock`` on ``audit.jsonl.lock`` around every append. The lock file also holds
  the rotation generation and the trail-wide sealing state (which seq was sealed last, and when the first
  event after it was written), so that every writer knows when the next seal is due.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from connectors.errors import ConfigError, SystemError

GENESIS = "0" * 64
"""The ``prev`` of the very first line of a trail."""
CHECKPOINT_STEP = "audit_checkpoint"
"""The step of the event a checkpoint writes into the trail itself, so a deleted checkpoint is noticed."""
HMAC_KEY_ENV = "CLERK_AUDIT_HMAC_KEY"
PREVIOUS_KEYS_ENV = "CLERK_AUDIT_HMAC_PREVIOUS_KEYS"
"""Comma-separated keys used before the last rotation of the HMAC key (verify only)."""
_SIGNED_PREFIX = b"clerk-audit-checkpoint-v2\n"


def hmac_keys_from_environment(environ: Mapping[str, str] = os.environ) -> tuple[bytes | None, list[bytes]]:
    """The checkpoint key (``$CLERK_AUDIT_HMAC_KEY``) and the keys it replaced (comma-separated)."""
    current = environ.get(HMAC_KEY_ENV, "").strip()
    previous = [part.strip().encode() for part in environ.get(PREVIOUS_KEYS_ENV, "").split(",") if part.strip()]
    return (current.encode() if current else None), previous


class AuditUnavailable(SystemError):
    """The audit trail cannot be written (disk full, permissions). Nothing is processed without an audit."""

    code = "AUDIT_UNAVAILABLE"


class AuditTrailDamaged(AuditUnavailable):
    """A line of the trail is not a complete JSON object, so it cannot be chained from or read."""

    code = "AUDIT_TRAIL_DAMAGED"
    retryable = False


def fsync_dir(path: Path) -> None:
    """Make a new or renamed name in directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def line_hash(line: bytes) -> str:
    """The hash the next line's ``prev`` must carry. ``line`` is without its trailing newline."""
    return hashlib.sha256(line).hexdigest()


def key_id(key: bytes) -> str:
    """A short public name for a key, so that verify can pick the right one after the key was rotated."""
    return hmac.new(key, b"clerk-audit-key-id", hashlib.sha256).hexdigest()[:16]


def checkpoint_mac(entry: dict[str, Any], key: bytes) -> str:
    """HMAC-SHA256 over every field of a checkpoint except ``hmac``, as compact JSON in the fields' order (JSON
    readers keep it; the writer puts ``hmac`` last, so the signed bytes are the line up to it). Version 2, with a
    ``counter``; version-1 checkpoints (before Clerk numbered them) are not accepted."""
    return mac_of(orjson.dumps({k: v for k, v in entry.items() if k != "hmac"}), key)


def mac_of(body: bytes, key: bytes) -> str:
    """The HMAC of a checkpoint's signed bytes (its compact JSON without ``hmac``)."""
    return hmac.digest(key, _SIGNED_PREFIX + body, "sha256").hex()


@dataclass(frozen=True)
class TrailFiles:
    """Where the parts of one trail live, named from its active file."""

    active: Path

    @property
    def checkpoints(self) -> Path:
        return self.active.with_name(f"{self._stem}.checkpoints{self._suffix}")

    @property
    def seal(self) -> Path:
        """The seal record: the latest checkpoint alone, replaced atomically (connectors/audit_seal.py)."""
        return self.active.with_name(f"{self._stem}.seal.json")

    @property
    def lock(self) -> Path:
        return self.active.with_name(self.active.name + ".lock")

    @property
    def _stem(self) -> str:
        return self.active.stem if self.active.suffix else self.active.name

    @property
    def _suffix(self) -> str:
        return self.active.suffix or ".jsonl"

    def rotated_name(self, day: date) -> Path:
        """A free name for the active file's contents once ``day`` is over."""
        candidate = self.active.with_name(f"{self._stem}.{day.isoformat()}{self.active.suffix}")
        number = 0
        while candidate.exists():
            number += 1
            candidate = self.active.with_name(f"{self._stem}.{day.isoformat()}.{number}{self.active.suffix}")
        return candidate

    def rotated(self) -> list[Path]:
        """The rotated files, oldest first."""
        pattern = re.compile(rf"{re.escape(self._stem)}\.(\d{{4}}-\d{{2}}-\d{{2}})(?:\.(\d+))?{re.escape(self.active.suffix)}")
        found = []
        for path in self.active.parent.glob(f"{self._stem}.*"):
            match = pattern.fullmatch(path.name)
            if match:
                found.append(((match.group(1), int(match.group(2) or 0)), path))
        return [path for _, path in sorted(found)]

    def in_order(self) -> list[Path]:
        """Every file of the trail that exists, in chain order."""
        return self.rotated() + ([self.active] if self.active.exists() else [])


def find_trail(path: str | Path) -> TrailFiles:
    """The trail at ``path``: its active file, or a directory holding one trail (``audit.jsonl`` when empty).

    Raises ConfigError when a directory holds several trails."""
    path = Path(path)
    if not path.is_dir():
        return TrailFiles(path)
    rotated = re.compile(r"(.+)\.\d{4}-\d{2}-\d{2}(?:\.\d+)?(\.[^.]+)")
    checkpoints = re.compile(r"(.+)\.checkpoints(\.[^.]+)")
    names = set()
    for file in path.glob("*.jsonl"):
        match = rotated.fullmatch(file.name) or checkpoints.fullmatch(file.name)
        names.add(f"{match.group(1)}{match.group(2)}" if match else file.name)
    if len(names) > 1:
        raise ConfigError(f"{len(names)} audit trails here ({', '.join(sorted(names))}): name one file", file=str(path))
    return TrailFiles(path / (names.pop() if names else "audit.jsonl"))


def last_line(path: Path) -> bytes | None:
    """The last line of ``path`` without its newline; None when the file is empty or missing.

    Raises AuditTrailDamaged when the file does not end in a newline (a write cut short)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    with handle:
        end = handle.seek(0, 2)
        if end == 0:
            return None
        size = 4096
        while True:
            start = max(0, end - size)
            handle.seek(start)
            chunk = handle.read(end - start)
            if not chunk.endswith(b"\n"):
                raise AuditTrailDamaged(f"{path} does not end with a complete line: a write was cut short")
            cut = chunk.rfind(b"\n", 0, len(chunk) - 1)
            if cut >= 0 or start == 0:
                return chunk[cut + 1 : -1]
            size *= 4


def first_line(path: Path) -> bytes | None:
    try:
        with path.open("rb") as handle:
            return handle.readline().rstrip(b"\n") or None
    except FileNotFoundError:
        return None


def iter_events(path: str | Path) -> Iterator[dict[str, Any]]:
    """Every event of a trail, oldest first, across all its rotated files (``path``: file or directory).

    Raises AuditTrailDamaged naming ``file:line`` for a line that is not a JSON object."""
    for file in find_trail(path).in_order():
        with file.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                yield event_of(raw, f"{file}:{number}")


def event_of(raw: bytes, where: str) -> dict[str, Any]:
    """The event a line holds. Raises AuditTrailDamaged naming ``where`` when it is not a JSON object."""
    try:
        event = orjson.loads(raw)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        raise AuditTrailDamaged(f"{where} is not a JSON object")
    return event
