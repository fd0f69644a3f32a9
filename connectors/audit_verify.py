"""Verify an audit trail: walk the hash chain through every file, then hold it against the signed checkpoints.

What each check catches (the first failure is reported, as ``file:line`` and why):

* the chain (each ``prev`` is the hash of the line before): an edited value, a deleted, inserted or
  swapped line, a missing file; the line named is the one that was changed, inserted or moved, or the
  line that follows a deletion;
* ``seq`` running 1, 2, 3... with no gap: tells a deletion from an edit;
* the checkpoints (a signed head hash at a seq): a tail cut off the end, and a forger who re-chained
  the file after editing it (the chain is consistent again, but no longer matches a checkpoint's hash,
  and the forger cannot sign a new checkpoint without the key);
* a checkpoint event in the trail with no checkpoint beside it: a deleted checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from hmac import compare_digest
from pathlib import Path
from typing import Any

import orjson

from connectors.audit_chain import CHECKPOINT_STEP, GENESIS, TrailFiles, checkpoint_mac, find_trail, key_id


@dataclass(frozen=True)
class Failure:
    """The first place the trail fails, and why. ``line`` is None when a whole file is at fault."""

    file: Path
    line: int | None
    reason: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else str(self.file)


@dataclass
class VerifyReport:
    path: Path
    """The trail's active file (its rotated files and checkpoints are named from it)."""
    files: list[Path] = field(default_factory=list)
    events: int = 0
    last_seq: int = 0
    checkpoints_checked: int = 0
    checkpoints_authenticated: int = 0
    events_after_last_checkpoint: int = 0
    """Covered by the chain only: lines cut from here on could not be told from a shorter trail."""
    failure: Failure | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None


class _Failed(Exception):
    def __init__(self, failure: Failure) -> None:
        self.failure = failure


@dataclass
class _Checkpoint:
    file: Path
    line: int
    seq: int
    head: str


def verify(path: str | Path, key: bytes | None = None, *, previous_keys: Sequence[bytes] = ()) -> VerifyReport:
    """Check the trail at ``path`` (its active file or its directory) from its first line to its last.

    ``key`` (and ``previous_keys``, after a key rotation) authenticate the checkpoints; with no key they
    are still used, but reported as unauthenticated in ``warnings``."""
    trail = find_trail(path)
    report = VerifyReport(trail.active, files=trail.in_order())
    keys = {key_id(k): k for k in (key, *previous_keys) if k}
    try:
        checkpoints = _load_checkpoints(trail, keys, report)
        if not report.files:
            if not checkpoints:
                raise _Failed(Failure(trail.active, None, "no audit trail here"))
            raise _Failed(Failure(trail.active, 1, "every line of the trail is missing, though checkpoints exist"))
        _walk(report, checkpoints)
    except _Failed as failed:
        report.failure = failed.failure
    if report.checkpoints_checked and not keys:
        report.warnings.append(f"{report.checkpoints_checked} checkpoint(s) not authenticated: no HMAC key was given, "
                               "so a forger who re-chained the trail and rewrote the checkpoints would not be caught")
    elif not report.checkpoints_checked and report.ok:
        report.warnings.append("no checkpoints: lines cut from the end of the trail cannot be detected")
    return report


def _load_checkpoints(trail: TrailFiles, keys: dict[str, bytes], report: VerifyReport) -> dict[int, list[_Checkpoint]]:
    by_seq: dict[int, list[_Checkpoint]] = {}
    if not trail.checkpoints.exists():
        return by_seq
    with trail.checkpoints.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            entry = _checkpoint_entry(raw)
            if entry is None:
                raise _Failed(Failure(trail.checkpoints, number, "not a well-formed checkpoint (seq, head, hmac)"))
            if keys:
                problem = _authenticate(entry, keys)
                if problem:
                    raise _Failed(Failure(trail.checkpoints, number, problem))
                report.checkpoints_authenticated += 1
            report.checkpoints_checked += 1
            by_seq.setdefault(entry["seq"], []).append(_Checkpoint(trail.checkpoints, number, entry["seq"], entry["head"]))
    return by_seq


def _checkpoint_entry(raw: bytes) -> dict[str, Any] | None:
    try:
        entry = orjson.loads(raw)
    except ValueError:
        return None
    if not (isinstance(entry, dict) and type(entry.get("seq")) is int and entry["seq"] >= 1
            and isinstance(entry.get("head"), str) and len(entry["head"]) == 64
            and isinstance(entry.get("hmac"), str | None) and isinstance(entry.get("key_id"), str | None)):
        return None
    return entry


def _authenticate(entry: dict[str, Any], keys: dict[str, bytes]) -> str | None:
    if entry["hmac"] is None:
        return "an unsigned checkpoint in a trail checked with a key: it may have been written by a forger"
    key = keys.get(entry["key_id"] or "")
    if key is None:
        return (f"signed with a key that was not given (key id {entry['key_id']}); after a key rotation, "
                "give the old key in CLERK_AUDIT_HMAC_PREVIOUS_KEYS")
    if not compare_digest(checkpoint_mac(entry, key), entry["hmac"]):
        return "its HMAC does not match: the checkpoint was altered, or forged without the key"
    return None


def _lines(files: list[Path]) -> Iterator[tuple[Path, int, bytes]]:
    for file in files:
        with file.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                yield file, number, raw


def _walk(report: VerifyReport, checkpoints: dict[int, list[_Checkpoint]]) -> None:
    """Follow the chain line by line; raise _Failed at the first line that breaks it."""
    prev_hash, before_prev = GENESIS, None
    prev_seq, prev_at = 0, None
    last_good = 0
    checkpoints_name = TrailFiles(report.path).checkpoints.name
    file, number = report.files[-1], 0
    lines = _lines(report.files)
    for file, number, raw in lines:
        if not raw.endswith(b"\n"):
            raise _Failed(Failure(file, number, "an incomplete line: the file was cut mid-line or a write was torn"))
        body = raw[:-1]
        try:
            event = orjson.loads(body)
        except ValueError:
            event = None
        if type(event) is not dict:
            raise _Failed(Failure(file, number, "not a JSON object: the line was edited or damaged"))
        seq, prev = event.get("seq"), event.get("prev")
        if prev != prev_hash:
            raise _Failed(_broken_link(file, number, seq, prev, prev_hash, before_prev, prev_seq, prev_at, lines))
        if seq != prev_seq + 1:
            raise _Failed(Failure(file, number, f"seq {seq!r} where {prev_seq + 1} was due: the line was edited or inserted"))
        digest = sha256(body).hexdigest()
        for checkpoint in checkpoints.get(seq, ()):
            if checkpoint.head != digest:
                since = f"seq {last_good}" if last_good else "the start"
                raise _Failed(Failure(file, number, (
                    f"does not match the checkpoint at {checkpoint.file.name}:{checkpoint.line} (seq {seq}): this line "
                    f"was altered, or the trail was edited and re-chained somewhere after {since}")))
            last_good = seq
        if event.get("step") == CHECKPOINT_STEP and seq not in checkpoints:
            raise _Failed(Failure(file, number, f"records a checkpoint that is missing from {checkpoints_name}"))
        before_prev, prev_hash, prev_seq, prev_at = prev_hash, digest, seq, (file, number)
        report.events += 1
    report.last_seq = prev_seq
    beyond = [checkpoint for seq in checkpoints if seq > prev_seq for checkpoint in checkpoints[seq]]
    if beyond:
        furthest = max(beyond, key=lambda checkpoint: checkpoint.seq)
        raise _Failed(Failure(file, number + 1, (
            f"the trail ends at seq {prev_seq} but {furthest.file.name}:{furthest.line} covers seq {furthest.seq}: "
            f"{furthest.seq - prev_seq} line(s) were cut off the end")))
    report.events_after_last_checkpoint = prev_seq - max(checkpoints, default=0)


def _broken_link(file: Path, number: int, seq: Any, prev: Any, prev_hash: str, before_prev: str | None,
                 prev_seq: int, prev_at: tuple[Path, int] | None,
                 following: Iterator[tuple[Path, int, bytes]]) -> Failure:
    """This line's ``prev`` is not the hash of the line before it: work out which line is to blame."""
    if prev_at is None:
        return Failure(file, number, "does not chain from the start of the trail: earlier lines or files are missing")
    if prev == before_prev:
        return Failure(*prev_at, "inserted: the line after it chains from the line before it")
    if type(seq) is int and seq == prev_seq + 1:
        return Failure(*prev_at, f"altered: its hash no longer matches the prev recorded by {file.name}:{number}")
    after = next(following, None)
    if after is not None and _prev_of(after[2]) == prev_hash:  # the next line chains from the one before this
        if type(seq) is int and seq == prev_seq + 2:
            return Failure(file, number, f"out of order: swapped with {after[0].name}:{after[1]}")
        return Failure(file, number, "inserted: the line after it chains from the line before it")
    if type(seq) is int and seq > prev_seq + 1:
        return Failure(file, number, f"{seq - prev_seq - 1} line(s) deleted just before this one "
                                     f"(seq {prev_seq + 1}..{seq - 1} missing)")
    return Failure(file, number, "does not chain from the line before it: lines reordered, duplicated or altered")


def _prev_of(raw: bytes) -> Any:
    try:
        event = orjson.loads(raw)
    except ValueError:
        return None
    return event.get("prev") if isinstance(event, dict) else None
