"""Seals: numbered, signed checkpoints that the audit trail writes by itself, and the rules for checking them.

A seal is a checkpoint: the trail's last ``seq``, the hash of that line (``head``) and a ``counter`` that goes
1, 2, 3, ... with no gap, HMAC-signed when a key is set. A writer seals, holding the trail's lock:

1. the trail is made durable (fsync) up to the head it is about to sign (the caller does this);
2. the checkpoint is appended to the checkpoints file (fsync);
3. the seal record, a copy of that latest checkpoint kept on its own, is replaced atomically.

Writers seal when the trail is flushed (at every item's end), when it is closed, on ``checkpoint(run)``, and
before an event that would make the unsealed stretch longer than the :class:`SealPolicy` allows (more than
``seal_every_events`` events, or events ``seal_every_s`` seconds or more apart). So neither between two
checkpoints nor after the last one are there ever more events than the policy allows, and verify relies on it:

* counters 1, 2, 3, ... with no gap, each checkpoint after the one before: none deleted, moved or copied;
* the seal record equal to the last checkpoint: checkpoint lines deleted from the end of the file leave the
  seal ahead of them (a failure). A seal behind is a warning: a crash between steps 2 and 3 leaves it one
  behind, a power cut may lose the last renames, and an older copy put back hides nothing the checkpoints
  still show;
* no stretch between checkpoints longer than the policy: checkpoints removed wholesale and renumbered from 1;
* after the last checkpoint, an unsealed tail within the policy is what a crash leaves (a warning); a longer
  one is not (a failure).

These rules are shared by every store: :class:`FileSeals` keeps the checkpoints and the seal in files beside a
JSON-lines trail, connectors/audit_postgres.py in tables; each implements :class:`SealStore` and reuses the rest,
and each writer's append end keeps the trail-wide :class:`SealState`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hmac import compare_digest
from pathlib import Path
from typing import Any, Protocol

import orjson

from connectors.audit_chain import AuditTrailDamaged, TrailFiles, checkpoint_mac, fsync_dir, key_id, last_line, mac_of

DEFAULT_SEAL_EVERY_EVENTS = 10_000
DEFAULT_SEAL_EVERY_S = 60.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_ASK = datetime.min.replace(tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    """Whole milliseconds since 1970 (truncated, like the times written in the trail)."""
    return (moment - _EPOCH) // _MS


@dataclass(frozen=True)
class SealPolicy:
    """How long an unsealed stretch of the trail may grow: at most ``events`` events, less than ``seconds``
    from its first event to its last."""

    events: int = DEFAULT_SEAL_EVERY_EVENTS
    seconds: float = DEFAULT_SEAL_EVERY_S

    def __post_init__(self) -> None:
        if type(self.events) is not int or self.events < 1 or not self.seconds > 0:
            raise ValueError(f"a seal policy needs events >= 1 and seconds > 0, not {self.events!r}, {self.seconds!r}")

    def due(self, seq: int, sealed_seq: int | None, first_unsealed_ms: int, now_ms: int) -> str | None:
        """Why the trail (last seq ``seq``; last sealed ``sealed_seq``, None when not known) must be sealed
        before an event stamped ``now_ms`` is appended, or None. ``first_unsealed_ms`` is the time of the first
        event after the last seal (0: not known)."""
        if sealed_seq is None or sealed_seq > seq:
            return "recovery" if seq else None
        unsealed = seq - sealed_seq
        if not unsealed:
            return None
        if unsealed >= self.events:
            return "events"
        if not first_unsealed_ms:
            return "recovery"
        if now_ms - first_unsealed_ms >= self.seconds * 1000:
            return "seconds"
        return None

    def allows(self, events: int, span_ms: int | None) -> bool:
        """Could writers following this policy have left ``events`` unsealed events, ``span_ms`` apart?"""
        return events <= self.events and span_ms is not None and span_ms < self.seconds * 1000

    def fields(self) -> dict[str, Any]:
        return {"seal_every_events": self.events, "seal_every_s": float(self.seconds)}

    @classmethod
    def of(cls, entry: dict[str, Any]) -> SealPolicy:
        """The policy a checkpoint was written under."""
        return cls(entry["seal_every_events"], entry["seal_every_s"])

    def describe(self) -> str:
        return f"{self.events} events within {self.seconds:g} s"


class SealState:
    """The trail-wide sealing state an append end keeps up to date while its writer holds the trail: the last
    sealed seq, and the time (ms) of the first event after it (0 when there is none or it is not known).

    From the policy it also keeps ``check_at_seq`` and ``check_at``: before that seq and that time no seal can
    be due, so most events are appended without asking the policy."""

    def __init__(self, policy: SealPolicy) -> None:
        self._events, self._window_ms = policy.events, policy.seconds * 1000
        self.sealed_seq: int | None = None
        """The last seq a checkpoint covers, trail-wide (None: not known yet)."""
        self.first_unsealed_ms = 0
        self.check_at_seq = 0
        self.check_at = _ASK

    def _set_state(self, sealed_seq: int | None, first_unsealed_ms: int) -> None:
        self.sealed_seq, self.first_unsealed_ms = sealed_seq, first_unsealed_ms
        self.check_at_seq = 0 if sealed_seq is None else sealed_seq + self._events
        self.check_at = _EPOCH + timedelta(milliseconds=math.floor(first_unsealed_ms + self._window_ms)) \
            if first_unsealed_ms else _ASK


class SealStore(Protocol):
    """Where a trail's checkpoints and its seal record are kept."""

    def last(self) -> dict[str, Any] | None:
        """The latest checkpoint, None when there is none."""

    def seal(self) -> dict[str, Any] | None:
        """The seal record, None when there is none."""

    def append(self, entry: dict[str, Any]) -> None:
        """Add a checkpoint after the others, durably."""

    def replace_seal(self, entry: dict[str, Any]) -> None:
        """Replace the seal record with ``entry`` atomically (a reader sees the old one or the new one)."""


def well_formed(entry: Any) -> bool:
    """A checkpoint has a counter, seq, head, its policy, and an hmac and key_id (both null without a key)."""
    try:
        counter, seq, head = entry["counter"], entry["seq"], entry["head"]
        events, seconds, mac, name = entry["seal_every_events"], entry["seal_every_s"], entry["hmac"], entry["key_id"]
    except (KeyError, TypeError, IndexError):
        return False
    return (type(entry) is dict and type(counter) is int and counter >= 1 and type(seq) is int and seq >= 1
            and type(head) is str and len(head) == 64 and type(events) is int and events >= 1
            and type(seconds) in (int, float) and seconds > 0
            and (mac is None or type(mac) is str) and (name is None or type(name) is str))


def new_checkpoint(last: dict[str, Any] | None, *, seq: int, head: str, file: str, time: str, run: str | None,
                   trigger: str, policy: SealPolicy, key: bytes | None) -> dict[str, Any]:
    """The checkpoint after ``last``: its counter one higher, signed with ``key`` (when there is one)."""
    entry: dict[str, Any] = {
        "counter": (last["counter"] if last else 0) + 1, "seq": seq, "head": head, "file": file, "time": time,
        "run": run, "trigger": trigger, **policy.fields(), "key_id": key_id(key) if key else None,
    }
    entry["hmac"] = checkpoint_mac(entry, key) if key else None
    return entry


def refusal(last: dict[str, Any] | None, seal: dict[str, Any] | None, seq: int) -> str | None:
    """Why a writer whose trail ends at ``seq`` must not seal it (or write on): the checkpoints show that the
    trail was cut back, or the checkpoints were. Writing on would hide it (a new checkpoint would reuse a counter
    and replace the seal), so the writer stops, as for a damaged line (AUDIT_TRAIL_DAMAGED)."""
    top = last["counter"] if last else 0
    if seal is not None and seal["counter"] > top:
        return (f"the audit seal records checkpoint {seal['counter']} but the checkpoints end at {top}: checkpoint "
                "lines were deleted; run clerk audit verify (runbooks/audit.md)")
    if seal is None and top > 1:
        return "the audit seal is missing though checkpoints exist; run clerk audit verify (runbooks/audit.md)"
    if last is not None and last["seq"] > seq:
        return (f"the audit trail ends at seq {seq} but its last checkpoint covers seq {last['seq']}: it was cut "
                "back or rolled back to an older copy; run clerk audit verify (runbooks/audit.md)")
    return None


def write_seal(store: SealStore, *, seq: int, head: str, file: str, time: str, run: str | None, trigger: str,
               policy: SealPolicy, key: bytes | None) -> dict[str, Any]:
    """Seal the trail at (``seq``, ``head``): append the next checkpoint and replace the seal record with it.

    The caller holds the trail's lock and has made the trail durable up to ``seq``. When the last checkpoint
    already covers ``seq`` (another writer sealed it), nothing new is written; the seal record is brought up to
    date if a crash left it behind. Returns the checkpoint that covers ``seq``. Raises AuditTrailDamaged
    when :func:`refusal` says the trail or its checkpoints were cut back."""
    last, seal = store.last(), store.seal()
    problem = refusal(last, seal, seq)
    if problem:
        raise AuditTrailDamaged(problem)
    if last is not None and last["seq"] == seq:
        if seal != last:
            store.replace_seal(last)
        return last
    entry = new_checkpoint(last, seq=seq, head=head, file=file, time=time, run=run, trigger=trigger,
                           policy=policy, key=key)
    store.append(entry)
    store.replace_seal(entry)
    return entry


_SIGNED_END = b',"hmac":"'


def authenticate(entry: dict[str, Any], keys: dict[str, bytes], raw: bytes = b"") -> str | None:
    """What is wrong with a checkpoint's signature, given the keys (by key id); None when it is genuine.

    ``raw`` is the line it was read from (without its newline): when it is as the writer wrote it (compact,
    ``hmac`` last), the signed bytes are taken from it as they are, instead of being rendered again."""
    if entry["hmac"] is None:
        return "an unsigned checkpoint in a trail checked with a key: it may have been written by a forger"
    key = keys.get(entry["key_id"] or "")
    if key is None:
        return (f"signed with a key that was not given (key id {entry['key_id']}); after a key rotation, "
                "give the old key in CLERK_AUDIT_HMAC_PREVIOUS_KEYS")
    given = entry["hmac"].encode()
    if raw[-75:-66] == _SIGNED_END and raw.endswith(b'"}') and compare_digest(mac_of(raw[:-75] + b"}", key).encode(), given):
        return None
    if not compare_digest(checkpoint_mac(entry, key).encode(), given):
        return "its HMAC does not match: the checkpoint was altered, or forged without the key"
    return None


def succession(before: dict[str, Any] | None, entry: dict[str, Any]) -> str | None:
    """What is wrong with ``entry`` following ``before`` among the checkpoints; None when it follows rightly."""
    due = before["counter"] + 1 if before else 1
    counter = entry["counter"]
    if counter > due:
        where = "from the start" if before is None else f"after checkpoint {before['counter']}"
        return f"counter {counter} where {due} was due: checkpoint(s) {due}..{counter - 1} were deleted {where}"
    if counter < due:
        return f"counter {counter} where {due} was due: checkpoints were reordered or copied"
    if before is not None and entry["seq"] <= before["seq"]:
        return (f"covers seq {entry['seq']}, not after seq {before['seq']} of checkpoint {before['counter']}: "
                "checkpoints were reordered, or the trail was rolled back and sealed again")
    return None


def seal_status(seal: dict[str, Any] | None, checkpoints: list[dict[str, Any]], checkpoints_name: str,
                at: Callable[[int], str] | None = None) -> tuple[str | None, str | None]:
    """(failure, warning) from holding the seal record against the checkpoints (counters 1..n, in order).
    ``at(counter)`` names where checkpoint ``counter`` is stored (default ``<checkpoints_name>:<counter>``)."""
    top = checkpoints[-1]["counter"] if checkpoints else 0
    if seal is None:
        if top > 1:
            return f"the seal is missing though {checkpoints_name} holds {top} checkpoints: it was deleted", None
        if top == 1:
            return None, "no seal beside the one checkpoint: a writer stopped between writing them (a crash)"
        return None, None
    counter = seal["counter"]
    if counter > top:
        return (f"the seal records checkpoint {counter} (seq {seal['seq']}, {seal.get('time')}) but {checkpoints_name} "
                f"ends at checkpoint {top}: checkpoint lines were deleted from its end, and the trail may have "
                "been cut back or rolled back to match"), None
    if seal != checkpoints[counter - 1]:
        where = at(counter) if at else f"{checkpoints_name}:{counter}"
        return f"the seal does not match checkpoint {counter} ({where}): one of them was altered", None
    if counter == top - 1:
        return None, (f"the seal is one checkpoint behind {checkpoints_name}: a writer stopped between writing "
                      f"checkpoint {top} and its seal (a crash)")
    if counter < top:
        return None, (f"the seal records checkpoint {counter} but {checkpoints_name} goes on to checkpoint {top}: an "
                      "older copy of the seal was put back, or a power cut lost its last updates (the checkpoints "
                      "still hold)")
    return None, None


def parse_checkpoint(raw: bytes) -> dict[str, Any] | None:
    """One checkpoint from its JSON bytes; None when it is not a well-formed checkpoint."""
    try:
        entry = orjson.loads(raw)
    except ValueError:
        return None
    return entry if well_formed(entry) else None


class FileSeals:
    """The checkpoints file and the seal record of a JSON-lines trail, beside it (``audit.checkpoints.jsonl``,
    ``audit.seal.json``). Callers hold the trail's lock."""

    def __init__(self, files: TrailFiles) -> None:
        self.checkpoints = files.checkpoints
        self.path = files.seal
        self._temporary = files.seal.with_name(files.seal.name + ".new")

    def last(self) -> dict[str, Any] | None:
        line = last_line(self.checkpoints)
        return None if line is None else self._read(line, self.checkpoints)

    def seal(self) -> dict[str, Any] | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        return self._read(raw, self.path)

    def append(self, entry: dict[str, Any]) -> None:
        path = self.checkpoints
        created = not path.exists()
        with path.open("ab", buffering=0) as handle:
            handle.write(orjson.dumps(entry) + b"\n")
            os.fsync(handle.fileno())
        if created:
            fsync_dir(path.parent)

    def replace_seal(self, entry: dict[str, Any]) -> None:
        """Write a new file and rename it over the seal. Its content is made durable before the rename; the
        rename itself only when it creates the seal (a lost rename leaves the seal behind, never ahead)."""
        created = not self.path.exists()
        with self._temporary.open("wb", buffering=0) as handle:
            handle.write(orjson.dumps(entry) + b"\n")
            os.fsync(handle.fileno())
        os.replace(self._temporary, self.path)
        if created:
            fsync_dir(self.path.parent)

    @staticmethod
    def _read(raw: bytes, path: Path) -> dict[str, Any]:
        entry = parse_checkpoint(raw)
        if entry is None:
            raise AuditTrailDamaged(f"{path} does not hold a well-formed checkpoint; run clerk audit verify "
                                    "(runbooks/audit.md)")
        return entry
