"""Verify an audit trail: walk the hash chain through every file, then hold it against the signed checkpoints.

The trail is read through a :class:`TrailSource`: its files (:class:`FileSource`, named ``file:line``), or its
tables in PostgreSQL (connectors/audit_postgres.py, rows named by their ``seq`` or ``counter``, as in
``audit_lines seq 5``). Every check and every reason is the same for both.

What each check catches (the first failure is reported, as ``file:line`` and why):

* the chain (each ``prev`` is the hash of the line before): an edited value, a deleted, inserted or
  swapped line, a missing file; the line named is the one that was changed, inserted or moved, or the
  line that follows a deletion;
* ``seq`` running 1, 2, 3... with no gap: tells a deletion from an edit (in a table, the row's ``seq`` must be
  the line's own too: rows renumbered are named);
* the checkpoints (a signed head hash at a seq): a tail cut off the end, a trail rolled back to an older copy,
  and a forger who re-chained the file after editing it (the chain is consistent again, but no longer matches
  a checkpoint's hash, and the forger cannot sign a new checkpoint without the key);
* the checkpoints' counters (1, 2, 3, ...) and the seal record (connectors/audit_seal.py): checkpoints deleted,
  reordered or copied, and checkpoint lines deleted from the end together with the lines they sealed;
* the stretches between checkpoints, and the unsealed tail after the last one, against the writers' seal
  policy: a tail a crash can leave is a warning, a longer one (its checkpoints removed) a failure;
* a checkpoint event in the trail with no checkpoint beside it: a deleted checkpoint;
* given an ``anchor`` (a checkpoint published outside the trail's folder, as the Prefect artifact each intake
  pass publishes): the whole folder put back to an older copy, which nothing inside the folder can show.

Speed: the chain is checked on raw bytes, in large blocks: every line is hashed, and the ``prev`` the writer
puts at the end of each line is compared with the hash of the line before, a block at a time. A line is
parsed as JSON only where the signed checkpoints do not vouch for it (after the last one, or everywhere when
no key is given). Anything the fast walk does not expect (a broken link, an odd line) sends verify back to the
line-by-line walk, which names the line to blame.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import sha256
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

import orjson

from connectors.audit_chain import CHECKPOINT_STEP, GENESIS, TrailFiles, find_trail, key_id
from connectors.audit_seal import SealPolicy, authenticate, epoch_ms, parse_checkpoint, seal_status, succession

_BLOCK = 1 << 23
"""Bytes read at a time (whole lines are checked a block at a time)."""
_MARK = b'"step":"' + CHECKPOINT_STEP.encode() + b'"'
_prev_hash = itemgetter(slice(-66, -2))
"""A writer's line ends with ``"prev":"<64 hex>"}``: the hash sits in ``line[-66:-2]``."""


@dataclass(frozen=True)
class Table:
    """A table of a trail kept in a database, as verify names it. Its rows are named by ``key`` (``seq`` for the
    lines, ``counter`` for the checkpoints)."""

    schema: str
    name: str
    key: str = ""

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


Place = Path | Table
"""A part of a trail: a file, or a table."""


def at(place: Place, number: int) -> str:
    """A line of a file or a row of a table, as the reasons name it: ``audit.jsonl:5``, ``audit_lines seq 5``."""
    return f"{place.name} {place.key} {number}" if isinstance(place, Table) else f"{place.name}:{number}"


@dataclass(frozen=True)
class Failure:
    """The first place the trail fails, and why. ``line`` (a file's line, or a row's seq or counter) is None
    when a whole file or table is at fault."""

    file: Place
    line: int | None
    reason: str

    @property
    def where(self) -> str:
        if self.line is None:
            return str(self.file)
        return f"{self.file} {self.file.key} {self.line}" if isinstance(self.file, Table) else f"{self.file}:{self.line}"


class Irregular(Exception):
    """The fast walk met something it does not judge (a source may raise it too): the line-by-line walk decides."""


class TrailSource(Protocol):
    """Where verify reads a trail: its parts (the files in chain order, or the lines table), its checkpoints and
    its seal. :class:`FileSource` reads files; connectors/audit_postgres.py reads tables."""

    name: Path | str
    """The trail, as the report names it."""
    parts: list[Place]
    """Where the lines are, in chain order; empty when there is no trail."""
    first: Place
    """Where the first line belongs (named when there is no line at all)."""
    checkpoints: Place
    seal: Place

    def checkpoint_rows(self) -> list[tuple[int, bytes]]:
        """(number, JSON bytes) of each checkpoint, in stored order; one cut short is ``b""``."""

    def seal_bytes(self) -> bytes | None:
        """The seal record, None when there is none."""

    def blocks(self, part: Place) -> Iterator[tuple[list[bytes], bytes, bool]]:
        """The part's whole lines a block at a time: (lines, the block read, whether the first line began in the
        block before). Raises Irregular where the lines cannot be taken as they come."""

    def lines(self, part: Place) -> Iterator[tuple[int, bytes]]:
        """(number, the line with its newline) of every line of the part, in order."""


class FileSource:
    """A trail's files: the days rotated out and the active file, the checkpoints file and the seal beside them."""

    def __init__(self, trail: TrailFiles) -> None:
        self.name: Path | str = trail.active
        self.parts: list[Place] = list(trail.in_order())
        self.first: Place = trail.active
        self.checkpoints: Place = trail.checkpoints
        self.seal: Place = trail.seal

    def checkpoint_rows(self) -> list[tuple[int, bytes]]:
        try:
            data = self.checkpoints.read_bytes()
        except FileNotFoundError:
            return []
        raws = data.split(b"\n")
        if raws.pop():  # the last line has no newline: cut short
            raws.append(b"")
        return list(enumerate(raws, 1))

    def seal_bytes(self) -> bytes | None:
        try:
            return self.seal.read_bytes()
        except FileNotFoundError:
            return None

    def blocks(self, part: Place) -> Iterator[tuple[list[bytes], bytes, bool]]:
        return _line_blocks(part)

    def lines(self, part: Place) -> Iterator[tuple[int, bytes]]:
        with part.open("rb") as handle:
            yield from enumerate(handle, 1)


@dataclass
class VerifyReport:
    path: Path | str
    """The trail: its active file (its rotated files and checkpoints are named from it), or its database."""
    files: list[Place] = field(default_factory=list)
    events: int = 0
    last_seq: int = 0
    checkpoints_checked: int = 0
    checkpoints_authenticated: int = 0
    last_counter: int = 0
    """The counter of the last checkpoint (the seal record holds the same, or one less after a crash)."""
    events_after_last_checkpoint: int = 0
    """Not sealed yet: covered by the chain only, so lines cut from here on could not be told."""
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
    file: Place
    line: int
    entry: dict[str, Any]

    @property
    def seq(self) -> int:
        return self.entry["seq"]

    @property
    def head(self) -> str:
        return self.entry["head"]

    @property
    def counter(self) -> int:
        return self.entry["counter"]

    @property
    def policy(self) -> SealPolicy:
        return SealPolicy.of(self.entry)


@dataclass
class _Walked:
    """What a walk found besides the report's counts: where each file starts, and the unsealed tail's times."""

    starts: list[tuple[int, Place]] = field(default_factory=list)
    """(first seq, file) of every file walked."""
    lines_in_last: int = 0
    tail_times: list[str] = field(default_factory=list)
    """The ``time`` of the first and the latest event after the last checkpoint."""

    def locate(self, seq: int) -> tuple[Place, int]:
        index = bisect.bisect_right([start for start, _ in self.starts], seq) - 1
        start, file = self.starts[max(index, 0)]
        return file, seq - start + 1

    def note_tail(self, time: Any) -> None:
        if len(self.tail_times) < 2:
            self.tail_times.append(time)
        else:
            self.tail_times[1] = time


def verify(trail: str | os.PathLike | TrailSource, key: bytes | None = None, *, previous_keys: Sequence[bytes] = (),
           policy: SealPolicy | None = None, anchor: dict[str, Any] | None = None) -> VerifyReport:
    """Check ``trail`` (its active file or its directory, or a :class:`TrailSource`) from its first line to its
    last.

    ``key`` (and ``previous_keys``, after a key rotation) authenticate the checkpoints and the seal; with no
    key they are still used, but reported as unauthenticated in ``warnings``. An unsealed tail after the last
    checkpoint that the seal policy recorded in that checkpoint explains is a warning, a longer one a failure;
    ``policy`` (the settings' ``audit.seal_every_events`` / ``seal_every_s``) judges a trail with no checkpoint.
    ``anchor`` (``counter``, ``seq``, ``head``, ``time``) is a checkpoint published elsewhere: it must be among
    the checkpoints, unchanged."""
    source = FileSource(find_trail(trail)) if isinstance(trail, str | os.PathLike) else trail
    report = VerifyReport(source.name, files=list(source.parts))
    keys = {key_id(k): k for k in (key, *previous_keys) if k}
    try:
        checkpoints = _load_checkpoints(source, keys, report)
        _check_seal(source, keys, checkpoints, report)
        if anchor is not None:
            _check_anchor(source, anchor, checkpoints)
        if not report.files:
            if not checkpoints:
                raise _Failed(Failure(source.first, None, "no audit trail here"))
            raise _Failed(Failure(source.first, 1, "every line of the trail is missing, though checkpoints exist"))
        try:
            walked = _fast_walk(source, report, checkpoints,
                                vouched=checkpoints[-1].seq if keys and checkpoints else 0)
        except Irregular:
            walked = _walk(source, report, checkpoints)
        _check_end(report, checkpoints, walked)
        _check_stretches(report, checkpoints, walked, policy or SealPolicy())
    except _Failed as failed:
        report.failure = failed.failure
    if report.checkpoints_checked and not keys:
        report.warnings.append(f"{report.checkpoints_checked} checkpoint(s) not authenticated: no HMAC key was given, "
                               "so a forger who re-chained the trail and rewrote the checkpoints would not be caught")
    return report


def _load_checkpoints(source: TrailSource, keys: dict[str, bytes], report: VerifyReport) -> list[_Checkpoint]:
    """Every checkpoint, in order: well formed, authentic (given keys), counters 1, 2, 3... seqs rising."""
    found: list[_Checkpoint] = []
    path = source.checkpoints
    for number, raw in source.checkpoint_rows():
        entry = parse_checkpoint(raw) if raw else None
        if entry is None:
            raise _Failed(Failure(path, number, "not a well-formed checkpoint (counter, seq, head, seal policy, hmac)"))
        if keys:
            problem = authenticate(entry, keys, raw)
            if problem:
                raise _Failed(Failure(path, number, problem))
            report.checkpoints_authenticated += 1
        report.checkpoints_checked += 1
        found.append(_Checkpoint(path, number, entry))
    for index, checkpoint in enumerate(found):
        before = found[index - 1].entry if index else None
        problem = succession(before, checkpoint.entry)
        if problem:
            due = before["counter"] + 1 if before else 1
            moved = checkpoint.counter > due and next((later for later in found[index + 1 :] if later.counter == due), None)
            if moved:
                problem = f"out of order: checkpoint {due} comes after it, at {at(path, moved.line)}"
            raise _Failed(Failure(path, checkpoint.line, problem))
    report.last_counter = found[-1].counter if found else 0
    return found


def _check_seal(source: TrailSource, keys: dict[str, bytes], checkpoints: list[_Checkpoint],
                report: VerifyReport) -> None:
    """The seal record must be the last checkpoint: ahead of the checkpoints, some were deleted from their end."""
    seal = None
    raw = source.seal_bytes()
    if raw is not None:
        seal = parse_checkpoint(raw)
        if seal is None:
            raise _Failed(Failure(source.seal, None, "not a well-formed seal (counter, seq, head, seal policy, hmac)"))
        if keys:
            problem = authenticate(seal, keys, raw.rstrip(b"\n"))
            if problem:
                raise _Failed(Failure(source.seal, None, problem.replace("checkpoint", "seal")))
    failure, warning = seal_status(seal, [checkpoint.entry for checkpoint in checkpoints], source.checkpoints.name,
                                   at=lambda counter: at(source.checkpoints, checkpoints[counter - 1].line))
    if failure:
        raise _Failed(Failure(source.seal, None, failure))
    if warning:
        report.warnings.append(warning)


def _check_anchor(source: TrailSource, anchor: dict[str, Any], checkpoints: list[_Checkpoint]) -> None:
    """The published checkpoint must be there: if not, the folder was put back to a copy older than it."""
    counter, seq, head = anchor["counter"], anchor["seq"], anchor["head"]
    published = f"the checkpoint published outside the trail (counter {counter}, seq {seq}, {anchor.get('time')})"
    if counter > len(checkpoints):
        raise _Failed(Failure(source.checkpoints, None, (
            f"{published} is not among the checkpoints, which end at counter {len(checkpoints)}: the trail and its "
            "checkpoints were put back to an older copy, or cut back")))
    mine = checkpoints[counter - 1]
    if (mine.seq, mine.head) != (seq, head):
        raise _Failed(Failure(mine.file, mine.line, (
            f"differs from {published}: seq {mine.seq} where {seq} was published; the checkpoints were rewritten")))


def _line_blocks(file: Path) -> Iterator[tuple[list[bytes], bytes, bool]]:
    """The file's whole lines a block at a time: (lines, the block read, whether the first line began in the
    block before). Raises Irregular when the file does not end with a newline."""
    with file.open("rb", buffering=0) as handle:
        rest = b""
        while chunk := handle.read(_BLOCK):
            lines = chunk.split(b"\n")
            joined = bool(rest)
            if joined:
                lines[0] = rest + lines[0]
            rest = lines.pop()
            if lines:
                yield lines, chunk, joined
    if rest:
        raise Irregular


def _fast_walk(source: TrailSource, report: VerifyReport, checkpoints: list[_Checkpoint], vouched: int) -> _Walked:
    """Check the chain a block at a time on raw bytes. Lines up to seq ``vouched`` (covered by authenticated
    checkpoints) are not parsed: the chain up to a signed head fixes every byte of them. Raises Irregular
    at anything out of the ordinary, for :func:`_walk` to name."""
    heads = {checkpoint.seq: checkpoint.head.encode() for checkpoint in checkpoints}
    order, due = [checkpoint.seq for checkpoint in checkpoints], 0  # rising (checked on loading)
    tail_from = checkpoints[-1].seq if checkpoints else 0
    walked = _Walked()
    prev, seq = GENESIS.encode(), 0
    for file in report.files:
        walked.starts.append((seq + 1, file))
        walked.lines_in_last = 0
        for lines, block, joined in source.blocks(file):
            digests = b"".join([sha256(line).digest() for line in lines]).hex().encode()
            prevs = b"".join(map(_prev_hash, lines))
            if prevs[:64] != prev or prevs[64:] != digests[:-64]:
                raise Irregular
            count = len(lines)
            while due < len(order) and order[due] <= seq + count:  # the checkpoints in this block
                offset = (order[due] - seq - 1) * 64
                if digests[offset : offset + 64] != heads[order[due]]:
                    raise Irregular
                due += 1
            _check_marks(lines, block, joined, seq, heads)
            for index in range(max(vouched - seq, 0), count):
                event = _parsed(lines[index], seq + index + 1)
                if event.get("step") == CHECKPOINT_STEP and seq + index + 1 not in heads:
                    raise Irregular
                if seq + index + 1 > tail_from:
                    walked.note_tail(event.get("time"))
            prev = digests[-64:]
            seq += count
            walked.lines_in_last += count
    report.events = report.last_seq = seq
    return walked


def _check_marks(lines: list[bytes], block: bytes, joined: bool, seq: int, heads: dict[int, bytes]) -> None:
    """Every checkpoint event among the lines must have its checkpoint (a line that mentions the step in some
    other way is left to the line-by-line walk). Found in the block read, the lines' n-th newline ends line n."""
    at = block.find(_MARK)
    index, counted = 0, 0
    while at >= 0:
        index += block.count(b"\n", counted, at)
        counted = at
        if index < len(lines) and seq + index + 1 not in heads:
            raise Irregular
        at = block.find(_MARK, at + 1)
    if joined and _MARK in lines[0] and seq + 1 not in heads:  # the first line began in the block before
        raise Irregular


def _parsed(line: bytes, seq: int) -> dict[str, Any]:
    """A line the checkpoints do not vouch for: a JSON object, its seq and prev where the fast walk read them."""
    try:
        event = orjson.loads(line)
    except ValueError:
        raise Irregular from None
    if type(event) is not dict or event.get("seq") != seq or event.get("prev") != _prev_hash(line).decode("ascii", "replace"):
        raise Irregular
    return event


def _lines(source: TrailSource, files: list[Place], walked: _Walked) -> Iterator[tuple[Place, int, bytes]]:
    seq = 0
    for file in files:
        walked.starts.append((seq + 1, file))
        walked.lines_in_last = 0
        for number, raw in source.lines(file):
            walked.lines_in_last += 1
            seq += 1
            yield file, number, raw


def _walk(source: TrailSource, report: VerifyReport, checkpoints: list[_Checkpoint]) -> _Walked:
    """Follow the chain line by line, parsing each; raise _Failed at the first line that breaks it."""
    by_seq = {checkpoint.seq: checkpoint for checkpoint in checkpoints}
    tail_from = checkpoints[-1].seq if checkpoints else 0
    walked = _Walked()
    prev_hash, before_prev = GENESIS, None
    prev_seq, prev_at = 0, None
    last_good = 0
    checkpoints_name = source.checkpoints.name
    lines = _lines(source, report.files, walked)
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
        if isinstance(file, Table) and number != seq:
            raise _Failed(Failure(file, number, f"the row's seq is {number} but its line's is {seq}: the seq column "
                                                "was edited (rows renumbered)"))
        digest = sha256(body).hexdigest()
        checkpoint = by_seq.get(seq)
        if checkpoint is not None:
            if checkpoint.head != digest:
                since = f"seq {last_good}" if last_good else "the start"
                raise _Failed(Failure(file, number, (
                    f"does not match the checkpoint at {at(checkpoint.file, checkpoint.line)} (seq {seq}): this line "
                    f"was altered, or the trail was edited and re-chained somewhere after {since}")))
            last_good = seq
        if event.get("step") == CHECKPOINT_STEP and checkpoint is None:
            raise _Failed(Failure(file, number, f"records a checkpoint that is missing from {checkpoints_name}"))
        if seq > tail_from:
            walked.note_tail(event.get("time"))
        before_prev, prev_hash, prev_seq, prev_at = prev_hash, digest, seq, (file, number)
        report.events += 1
    report.last_seq = prev_seq
    return walked


def _check_end(report: VerifyReport, checkpoints: list[_Checkpoint], walked: _Walked) -> None:
    """A checkpoint beyond the trail's last line: lines were cut off, or the trail was put back to an older copy."""
    if checkpoints and checkpoints[-1].seq > report.last_seq:
        furthest = checkpoints[-1]
        raise _Failed(Failure(report.files[-1], walked.lines_in_last + 1, (
            f"the trail ends at seq {report.last_seq} but {at(furthest.file, furthest.line)} covers seq {furthest.seq}: "
            f"{furthest.seq - report.last_seq} line(s) were cut off the end, or the trail was put back to an older copy")))


def _check_stretches(report: VerifyReport, checkpoints: list[_Checkpoint], walked: _Walked, given: SealPolicy) -> None:
    """Writers seal before a stretch outgrows their policy: a longer one means checkpoints were removed. After
    the last checkpoint, a tail the policy allows is what a crash (or a writer still at work) leaves."""
    before_seq, before_limit = 0, 0
    for index, checkpoint in enumerate(checkpoints):
        entry = checkpoint.entry
        limit = max(entry["seal_every_events"], before_limit)  # a stretch either policy allows (after a change)
        if entry["seq"] - before_seq > limit:
            since = f"checkpoint {checkpoints[index - 1].counter}" if index else "the start of the trail"
            file, line = walked.locate(before_seq + limit + 1)
            raise _Failed(Failure(file, line, (
                f"{entry['seq'] - before_seq} events between {since} and checkpoint {entry['counter']} "
                f"(seq {before_seq + 1}..{entry['seq']}), more than the {limit} after which writers seal: "
                "the checkpoints that sealed them were removed")))
        before_seq, before_limit = entry["seq"], entry["seal_every_events"]
    unsealed = report.last_seq - before_seq
    report.events_after_last_checkpoint = unsealed
    if not unsealed:
        return
    limit = checkpoints[-1].policy if checkpoints else given
    file, line = walked.locate(before_seq + 1)
    span = _span_ms(walked.tail_times)
    after = f"after checkpoint {checkpoints[-1].counter}" if checkpoints else "with no checkpoint at all"
    if limit.allows(unsealed, span):
        report.warnings.append(
            f"{unsealed} event(s) {after} are not sealed yet (from {at(file, line)}): a writer is still at work, "
            "or stopped (a crash) before sealing them; lines cut from there could not be told")
        return
    spread = f"{span / 1000:g} s apart" if span is not None else "at times that cannot be read"
    raise _Failed(Failure(file, line, (
        f"{unsealed} event(s) {after}, {spread}: more than a crash leaves unsealed ({limit.describe()}). "
        "The checkpoints that sealed them were deleted (and the seal put back to an older copy), or the trail "
        "was written by something that does not seal")))


def _span_ms(times: list[Any]) -> int | None:
    try:
        first, last = (epoch_ms(datetime.fromisoformat(time)) for time in (times[0], times[-1]))
    except (TypeError, ValueError, IndexError):
        return None
    return last - first


def _broken_link(file: Place, number: int, seq: Any, prev: Any, prev_hash: str, before_prev: str | None,
                 prev_seq: int, prev_at: tuple[Place, int] | None,
                 following: Iterator[tuple[Place, int, bytes]]) -> Failure:
    """This line's ``prev`` is not the hash of the line before it: work out which line is to blame."""
    if prev_at is None:
        return Failure(file, number, "does not chain from the start of the trail: earlier lines or files are missing")
    if prev == before_prev:
        return Failure(*prev_at, "inserted: the line after it chains from the line before it")
    if type(seq) is int and seq == prev_seq + 1:
        return Failure(*prev_at, f"altered: its hash no longer matches the prev recorded by {at(file, number)}")
    after = next(following, None)
    if after is not None and _prev_of(after[2]) == prev_hash:  # the next line chains from the one before this
        if type(seq) is int and seq == prev_seq + 2:
            return Failure(file, number, f"out of order: swapped with {at(after[0], after[1])}")
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
