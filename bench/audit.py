"""Audit benchmark: Clerk's tamper-evident audit pipeline against plain structlog JSON lines, same events, same run.

Every pipeline writes the same stream of events (the steps the Blue Badge flow records for each email; one
email in eight rejected with a message full of personal data) to its own file in the same directory:

* **plain**: structlog with a timestamp and ``JSONRenderer`` (the standard library's json) to a
  ``WriteLogger`` (one write per line), the context bound once per email. No redaction, no chain, no lock.
* **audit**: ``AuditTrail``: envelope, redaction, hash chain, ``flock`` around every append, rotation
  check, and the seals the trail writes by itself every ``seal_every_events`` (default) events. It renders
  with orjson (which Prefect already brings), and that buys back much of the rest; so that this is not
  hidden, plain structlog rendering with orjson is measured too (``ratio_vs_plain_orjson``): that is what
  redaction, chain, lock and seals cost on their own.

The events go in ``--chunks`` slices, the pipelines taking turns slice by slice (in a rotating order): the
machines these run on are shared and noisy, and pipelines measured moments apart see the same noise. Each
rate is the median of its slices' rates, and each ratio the median of the slices' ratios.

Then ``verify`` over the whole audit trail, scaled to 100,000 events, taking turns (``--verify-runs``
times) with its floor: reading every line of the same files and hashing it with SHA-256, which any check of a
hash chain must do. ``verify_ratio`` (verify over floor, the median of the pairs' ratios) is what a noisy
machine does not move much. Last, the cost of ``flush()`` per email (fsync and seal, before the email moves
to Done), over ``--fsync-items`` emails; that trail has a checkpoint per email, as in production, and verify
is timed on it too (``verify_sealed_items_*``: more checkpoints to authenticate per event).

Prints a table, then one JSON object on the last line:
``{"events", "audit_eps", "plain_eps", "ratio", "verify_s_per_100k", "floor_s_per_100k", "verify_ratio",
"flush_ms_per_item", ...}``. Aims: ratio (plain rate / audit rate) <= 1.5; verify <= 2 s per 100,000 events.

    python bench/audit.py [--events 100000] [--chunks 20] [--verify-runs 5] [--fsync-items 400] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from hashlib import sha256
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402
import structlog  # noqa: E402

from connectors.audit import AuditTrail  # noqa: E402
from connectors.audit_verify import VerifyReport, verify  # noqa: E402

KEY = b"bench-hmac-key-0123456789abcdef"
# (step, outcome, fields) for one email that is keyed, and for one that is rejected.
KEYED = [
    ("claim", "ok", {"sender": "priya.shah@council.example.gov.uk", "received": "2026-03-02T09:14:07+00:00"}),
    ("route", "ok", {"rule": "subject keyword"}),
    ("reply", "sent", {"kind": "acknowledgement"}),
    ("parse", "ok", {"attachment_count": 1}),
    ("key", "started", {}),
    ("key", "created", {"case_reference": "BB-2026-000123"}),
    ("reply", "sent", {"kind": "created"}),
    ("finish", "created", {"folder": "done", "code": None, "case_reference": "BB-2026-000123"}),
]
REJECTED = KEYED[:4] + [
    ("error", "business", {"code": "FORM_INVALID", "message": "The form could not be accepted",
                           "reasons": ["The National Insurance number JT 12 34 56 C does not match our records",
                                       "The date of birth 07/03/1958 makes the applicant under 2",
                                       "Contact ann.okafor@example.org or 01632 960123 is not a council contact"]}),
    ("reply", "sent", {"kind": "rejection"}),
    ("finish", "rejected", {"folder": "exceptions", "code": "FORM_INVALID", "case_reference": None}),
]

Email = tuple[dict, list]


def emails(events: int) -> list[Email]:
    """Enough emails (context, events) for ``events`` events."""
    batch, total, number = [], 0, 0
    while total < events:
        number += 1
        steps = REJECTED if number % 8 == 0 else KEYED
        steps = steps[: events - total]
        context = {"run": "bench-run", "reference": f"CLK-{number:010x}", "process": "blue_badge",
                   "email_id": f"{number:06d}.eml"}
        batch.append((context, steps))
        total += len(steps)
    return batch


def plain_writer(path: Path, serializer: Callable, stack: ExitStack) -> Callable[[list[Email]], None]:
    binary = serializer is orjson.dumps
    handle = stack.enter_context(path.open("ab" if binary else "a"))
    logger = structlog.wrap_logger(
        (structlog.BytesLogger if binary else structlog.WriteLogger)(handle),
        processors=[structlog.processors.TimeStamper(fmt="iso", utc=True), structlog.processors.JSONRenderer(serializer)],
        wrapper_class=structlog.make_filtering_bound_logger(0),
        context_class=dict,
        cache_logger_on_first_use=True,
    ).bind(actor="clerk-bot")

    def write(chunk: list[Email]) -> None:
        for context, steps in chunk:
            item = logger.bind(**context)
            for step, outcome, fields in steps:
                item.info(step, outcome=outcome, **fields)

    return write


def audit_writer(trail: AuditTrail) -> Callable[[list[Email]], None]:
    def write(chunk: list[Email]) -> None:
        for context, steps in chunk:
            item = trail.bind(**context)
            for step, outcome, fields in steps:
                item(step, outcome, **fields)

    return write


def read_and_hash(files: list[Path]) -> int:
    """The floor under any verify: read every line of the trail's files and SHA-256 it. Returns the lines."""
    count = 0
    for file in files:
        with file.open("rb") as handle:
            for line in handle:
                sha256(line).digest()
                count += 1
    return count


def verify_against_floor(path: Path, runs: int) -> tuple[VerifyReport, float, float, float]:
    """(report, median verify seconds, median floor seconds, median of the runs' verify/floor ratios), verify
    and the floor taking turns so that both see the same load."""
    verify_s, floor_s = [], []
    for _ in range(runs):
        started = time.perf_counter()
        report = verify(path, KEY)
        verify_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        read_and_hash(report.files)
        floor_s.append(time.perf_counter() - started)
    ratio = statistics.median(v / f for v, f in zip(verify_s, floor_s, strict=True))
    return report, statistics.median(verify_s), statistics.median(floor_s), ratio


def flush_per_item(path: Path, batch: list[Email]) -> float:
    """Seconds of ``flush()`` (fsync, then a seal) per email, when each email is flushed before it moves on."""
    trail = AuditTrail(path, key=KEY)
    spent = 0.0
    for context, steps in batch:
        item = trail.bind(**context)
        for step, outcome, fields in steps:
            item(step, outcome, **fields)
        started = time.perf_counter()
        item.flush()
        spent += time.perf_counter() - started
    trail.close()
    return spent / len(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--verify-runs", type=int, default=5)
    parser.add_argument("--fsync-items", type=int, default=400)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: a temporary directory)")
    args = parser.parse_args()
    batch = emails(args.events)
    size = -(-len(batch) // args.chunks)
    chunks = [batch[start : start + size] for start in range(0, len(batch), size)]
    chunk_events = [sum(len(steps) for _, steps in chunk) for chunk in chunks]

    with tempfile.TemporaryDirectory(prefix="clerk-bench-audit-", dir=args.dir) as tmp, ExitStack() as stack:
        tmp = Path(tmp)
        trail = AuditTrail(tmp / "audit" / "audit.jsonl", key=KEY)
        writers = {
            "plain": plain_writer(tmp / "plain.jsonl", json.dumps, stack),
            "plain_orjson": plain_writer(tmp / "plain-orjson.jsonl", orjson.dumps, stack),
            "audit": audit_writer(trail),
        }
        seconds: dict[str, list[float]] = {name: [] for name in writers}
        names = list(writers)
        for number, chunk in enumerate(chunks):
            for name in names[number % 3 :] + names[: number % 3]:
                started = time.perf_counter()
                writers[name](chunk)
                seconds[name].append(time.perf_counter() - started)
        trail.checkpoint("bench-run")
        trail.close()
        report, verify_s, floor_s, verify_ratio = verify_against_floor(trail.path, args.verify_runs)
        flush_s = flush_per_item(tmp / "fsync" / "audit.jsonl", emails(args.fsync_items * 8)[: args.fsync_items])
        sealed, sealed_verify_s, sealed_floor_s, sealed_ratio = verify_against_floor(
            tmp / "fsync" / "audit.jsonl", args.verify_runs)
        line_bytes = trail.path.stat().st_size / report.events

    for name, checked in (("benchmark", report), ("sealed-per-email", sealed)):
        if not checked.ok or checked.warnings:
            print(f"warning: verify on the {name} trail: {checked.failure} {checked.warnings}", file=sys.stderr)
    rates = {name: [events / spent for events, spent in zip(chunk_events, runs, strict=True)]
             for name, runs in seconds.items()}
    rate = {name: statistics.median(values) for name, values in rates.items()}

    def ratio(baseline: str) -> float:
        return statistics.median(base / audit for base, audit in zip(rates[baseline], rates["audit"], strict=True))

    figures = {
        "events": args.events,
        "audit_eps": round(rate["audit"]),
        "plain_eps": round(rate["plain"]),
        "ratio": round(ratio("plain"), 3),
        "verify_s_per_100k": round(verify_s * 100_000 / report.events, 3),
        "floor_s_per_100k": round(floor_s * 100_000 / report.events, 3),
        "verify_ratio": round(verify_ratio, 3),
        "flush_ms_per_item": round(flush_s * 1000, 3),
        "checkpoints": report.checkpoints_checked,
        "verify_sealed_items_s_per_100k": round(sealed_verify_s * 100_000 / sealed.events, 3),
        "verify_sealed_items_ratio": round(sealed_ratio, 3),
        "sealed_items_checkpoints": sealed.checkpoints_checked,
        "plain_orjson_eps": round(rate["plain_orjson"]),
        "ratio_vs_plain_orjson": round(ratio("plain_orjson"), 3),
        "audit_us_per_event": round(1e6 / rate["audit"], 2),
        "plain_us_per_event": round(1e6 / rate["plain"], 2),
        "audit_bytes_per_event": round(line_bytes),
        "verified_events": report.events,
        "chunks": len(chunks),
        "fsync_items": args.fsync_items,
        "verify_runs": args.verify_runs,
    }
    labels = {"plain": "plain structlog JSON lines", "plain_orjson": "plain structlog, orjson",
              "audit": "audit (redact, chain, flock)"}
    print(f"{'pipeline':<32}{'events':>9}{'events/s':>11}{'us/event':>10}{'spread':>8}")
    for name, label in labels.items():
        spread = statistics.pstdev(rates[name]) / statistics.mean(rates[name])
        print(f"{label:<32}{args.events:>9}{rate[name]:>11.0f}{1e6 / rate[name]:>10.2f}{spread:>8.0%}")
    print(f"ratio plain/audit rate: {figures['ratio']:.3f} (aim <= 1.5); "
          f"against plain with orjson {figures['ratio_vs_plain_orjson']:.3f}")
    print(f"verify: {verify_s:.3f} s for {report.events} events ({report.checkpoints_checked} checkpoints) = "
          f"{figures['verify_s_per_100k']:.3f} s per 100,000 (aim <= 2); reading and hashing every line (the floor): "
          f"{figures['floor_s_per_100k']:.3f} s; verify/floor {verify_ratio:.2f}")
    print(f"flush (fsync and seal) before an email moves on: {figures['flush_ms_per_item']:.3f} ms per email "
          f"({args.fsync_items} emails)")
    print(f"verify with a checkpoint per email ({sealed.events} events, {sealed.checkpoints_checked} checkpoints): "
          f"{figures['verify_sealed_items_s_per_100k']:.3f} s per 100,000; verify/floor {sealed_ratio:.2f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
