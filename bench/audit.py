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

Then the trail in PostgreSQL (``audit.kind: postgres``, in a fresh schema of ``--postgres-url``, dropped after)
against a file trail written with the same events in the same slices, taking turns (``--pg-events``): its
append rate (every event a transaction: the lock, the head, the insert, a durable commit), ``flush()`` per
email (a seal: a turn of its own), and verify of both trails, taking turns (``pg_*``). ``--postgres-url ''``
leaves these rows out.

Prints a table, then one JSON object on the last line:
``{"events", "audit_eps", "plain_eps", "ratio", "verify_s_per_100k", "floor_s_per_100k", "verify_ratio",
"flush_ms_per_item", ..., "pg_append_eps", "pg_ratio_vs_file", "pg_verify_s_per_100k", ...}``. Aims: ratio
(plain rate / audit rate) <= 1.5; verify <= 2 s per 100,000 events.

    python bench/audit.py [--events 100000] [--chunks 20] [--verify-runs 5] [--fsync-items 400] [--dir DIR]
                          [--postgres-url URL] [--pg-events 10000] [--pg-items 200]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
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
from connectors.audit_chain import AuditUnavailable  # noqa: E402
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


def flush_per_item(path, batch: list[Email]) -> float:
    """Seconds of ``flush()`` (fsync, then a seal) per email, when each email is flushed before it moves on.
    ``path``: a trail file, or a store (PostgreSQL)."""
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


def sliced(batch: list[Email], chunks: int) -> tuple[list[list[Email]], list[int]]:
    """The emails in ``chunks`` slices, and the events in each."""
    size = -(-len(batch) // chunks)
    slices = [batch[start : start + size] for start in range(0, len(batch), size)]
    return slices, [sum(len(steps) for _, steps in piece) for piece in slices]


def postgres_against_file(url: str, tmp: Path, args: argparse.Namespace) -> tuple[dict, list[str]]:
    """The trail in PostgreSQL against a file trail: the same events in the same slices, taking turns; flush per
    email on both; verify of both (the same events and checkpoints), taking turns. (figures, lines to print)"""
    import psycopg

    from connectors.audit_postgres import PostgresAudit

    schema = f"clerk_bench_{secrets.token_hex(6)}"
    store, path = PostgresAudit(url, schema=schema), tmp / "beside-postgres" / "audit.jsonl"
    try:
        trails = {"file": AuditTrail(path, key=KEY), "postgres": AuditTrail(store, key=KEY)}
        chunks, chunk_events = sliced(emails(args.pg_events), args.chunks)
        seconds: dict[str, list[float]] = {name: [] for name in trails}
        for number, chunk in enumerate(chunks):
            for name in list(trails)[:: 1 if number % 2 else -1]:
                started = time.perf_counter()
                audit_writer(trails[name])(chunk)
                seconds[name].append(time.perf_counter() - started)
        for trail in trails.values():
            trail.checkpoint("bench-run")
            trail.close()
        batch = emails(args.pg_items * 8)[: args.pg_items]
        flush_ms = {"postgres": flush_per_item(store, batch) * 1000, "file": flush_per_item(path, batch) * 1000}
        verify_s: dict[str, list[float]] = {"postgres": [], "file": []}
        for _ in range(args.verify_runs):
            started = time.perf_counter()
            with store.reading() as source:
                report = verify(source, KEY)
            verify_s["postgres"].append(time.perf_counter() - started)
            started = time.perf_counter()
            beside = verify(path, KEY)
            verify_s["file"].append(time.perf_counter() - started)
    finally:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    for name, checked in (("postgres", report), ("file beside postgres", beside)):
        if not checked.ok or checked.warnings or checked.events != report.events:
            print(f"warning: verify on the {name} trail: {checked.failure} {checked.warnings}", file=sys.stderr)
    rates = {name: [events / spent for events, spent in zip(chunk_events, runs, strict=True)]
             for name, runs in seconds.items()}
    rate = {name: statistics.median(values) for name, values in rates.items()}
    per_100k = {name: statistics.median(runs) * 100_000 / report.events for name, runs in verify_s.items()}
    figures = {
        "pg_events": sum(chunk_events),
        "pg_append_eps": round(rate["postgres"]),
        "pg_file_eps": round(rate["file"]),
        "pg_ratio_vs_file": round(statistics.median(
            file / pg for file, pg in zip(rates["file"], rates["postgres"], strict=True)), 1),
        "pg_us_per_event": round(1e6 / rate["postgres"], 1),
        "pg_flush_ms_per_item": round(flush_ms["postgres"], 3),
        "pg_file_flush_ms_per_item": round(flush_ms["file"], 3),
        "pg_verify_s_per_100k": round(per_100k["postgres"], 3),
        "pg_file_verify_s_per_100k": round(per_100k["file"], 3),
        "pg_verify_ratio_vs_file": round(statistics.median(
            pg / file for pg, file in zip(verify_s["postgres"], verify_s["file"], strict=True)), 3),
        "pg_verified_events": report.events,
        "pg_checkpoints": report.checkpoints_checked,
    }
    lines = [f"{'audit in PostgreSQL':<32}{figures['pg_events']:>9}{rate['postgres']:>11.0f}"
             f"{1e6 / rate['postgres']:>10.2f}{statistics.pstdev(rates['postgres']) / rate['postgres']:>8.0%}",
             f"{'audit file, the same slices':<32}{figures['pg_events']:>9}{rate['file']:>11.0f}"
             f"{1e6 / rate['file']:>10.2f}{statistics.pstdev(rates['file']) / rate['file']:>8.0%}"]
    lines.append(f"PostgreSQL trail: file rate / PostgreSQL rate {figures['pg_ratio_vs_file']:g} (every event a durable "
                 f"commit); flush per email {figures['pg_flush_ms_per_item']:.3f} ms (file "
                 f"{figures['pg_file_flush_ms_per_item']:.3f} ms); verify {figures['pg_verify_s_per_100k']:.3f} s per "
                 f"100,000 events (file {figures['pg_file_verify_s_per_100k']:.3f} s; PostgreSQL/file "
                 f"{figures['pg_verify_ratio_vs_file']:.2f}; {report.events} events, {report.checkpoints_checked} "
                 "checkpoints)")
    return figures, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--verify-runs", type=int, default=5)
    parser.add_argument("--fsync-items", type=int, default=400)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: a temporary directory)")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "CLERK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="a database where this user may create schemas ('': no PostgreSQL rows)")
    parser.add_argument("--pg-events", type=int, default=10_000)
    parser.add_argument("--pg-items", type=int, default=200)
    args = parser.parse_args()
    chunks, chunk_events = sliced(emails(args.events), args.chunks)

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
        try:
            pg_figures, pg_lines = postgres_against_file(args.postgres_url, tmp, args) if args.postgres_url else ({}, [])
        except AuditUnavailable as exc:
            sys.exit(f"{exc}\nStart PostgreSQL with `make postgres`, or leave its rows out with --postgres-url ''.")

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
        **pg_figures,
    }
    labels = {"plain": "plain structlog JSON lines", "plain_orjson": "plain structlog, orjson",
              "audit": "audit (redact, chain, flock)"}
    print(f"{'pipeline':<32}{'events':>9}{'events/s':>11}{'us/event':>10}{'spread':>8}")
    for name, label in labels.items():
        spread = statistics.pstdev(rates[name]) / statistics.mean(rates[name])
        print(f"{label:<32}{args.events:>9}{rate[name]:>11.0f}{1e6 / rate[name]:>10.2f}{spread:>8.0%}")
    for line in pg_lines[:2]:
        print(line)
    print(f"ratio plain/audit rate: {figures['ratio']:.3f} (aim <= 1.5); "
          f"against plain with orjson {figures['ratio_vs_plain_orjson']:.3f}")
    print(f"verify: {verify_s:.3f} s for {report.events} events ({report.checkpoints_checked} checkpoints) = "
          f"{figures['verify_s_per_100k']:.3f} s per 100,000 (aim <= 2); reading and hashing every line (the floor): "
          f"{figures['floor_s_per_100k']:.3f} s; verify/floor {verify_ratio:.2f}")
    print(f"flush (fsync and seal) before an email moves on: {figures['flush_ms_per_item']:.3f} ms per email "
          f"({args.fsync_items} emails)")
    print(f"verify with a checkpoint per email ({sealed.events} events, {sealed.checkpoints_checked} checkpoints): "
          f"{figures['verify_sealed_items_s_per_100k']:.3f} s per 100,000; verify/floor {sealed_ratio:.2f}")
    for line in pg_lines[2:]:
        print(line)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
