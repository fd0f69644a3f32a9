"""A real worker process for the ledger tests: ``python -m tests.ledger.worker SPEC JOB ARGS`` (JSON).

SPEC names the ledger (``{"kind": "sqlite", "path": ...}`` or ``{"kind": "postgres", "url": ..., "schema": ...}``)
and, in ``log``, where to write what the job did: ``{"file": path}`` (lines appended) or ``{"table": name}``
(rows in the PostgreSQL schema, in insertion order). Jobs print one JSON line per signal on stdout and, where
they must start together, wait for a line on stdin first (the test writes ``go`` to every process at once).

Jobs:
* ``claim`` {references, owner, lease_s}: after ``go``, claim each reference in order; prints those it won.
* ``claim-then-update`` {reference, owner}: claim, print the fence, wait for ``go``, then update under that
  fence; prints ``ok`` or the error code.
* ``take-turns`` {key, rounds, who}: after ``go``, ``rounds`` times: hold the key, log ``enter``, log ``leave``.
* ``hold-until-waited`` {key, who}: hold the key, log ``enter``, wait until another session is queued for
  the same advisory lock (PostgreSQL's pg_locks), log ``leave``, let go.
* ``wait-then-hold`` {key, who}: log ``waiting``, hold the key, log ``enter``, log ``leave``.
* ``hold-forever`` {key}: hold the key, print ``held``, and block until killed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from connectors.errors import ClerkError
from connectors.ledger import Ledger, SqliteLedger


def open_ledger(spec: dict) -> Ledger:
    if spec["kind"] == "sqlite":
        return SqliteLedger(spec["path"], lock_timeout_s=spec.get("lock_timeout_s", 120))
    from connectors.ledger_postgres import PostgresLedger

    return PostgresLedger(spec["url"], schema=spec["schema"], lock_timeout_s=spec.get("lock_timeout_s", 120))


class Log:
    """Where a job writes what it did, in an order every process shares."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        target = spec.get("log") or {}
        self.file = target.get("file")
        self.table = target.get("table")
        self.db = None
        if self.table:
            import psycopg

            self.db = psycopg.connect(spec["url"], autocommit=True)

    def __call__(self, who: str, what: str) -> None:
        if self.file:
            fd = os.open(self.file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, f"{who} {what}\n".encode())
            finally:
                os.close(fd)
        elif self.db is not None:
            self.db.execute(f'INSERT INTO "{self.spec["schema"]}".{self.table} (who, what) VALUES (%s, %s)', (who, what))

    def someone_waits_for(self, number: int) -> bool:
        """Another session is queued for advisory lock ``number`` (a bigint lock: classid, objid, objsubid 1)."""
        unsigned = number % 2**64
        row = self.db.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = %s::oid"
            " AND objid = %s::oid AND objsubid = 1 AND database = (SELECT oid FROM pg_database"
            " WHERE datname = current_database())", (unsigned >> 32, unsigned & 0xFFFFFFFF)).fetchone()
        return row[0] > 0


def say(value: object) -> None:
    print(json.dumps(value), flush=True)


def wait_for_go() -> None:
    say("ready")
    line = sys.stdin.readline()
    if line.strip() != "go":
        raise SystemExit(f"expected go, read {line!r}")


def main(spec: dict, job: str, args: dict) -> None:
    ledger = open_ledger(spec)
    log = Log(spec)
    if job == "claim":
        wait_for_go()
        won = [reference for reference in args["references"]
               if ledger.claim(reference, f"<{reference}>", args["owner"], args.get("lease_s", 600)) is not None]
        say(won)
    elif job == "claim-then-update":
        claim = ledger.claim(args["reference"], "<m>", args["owner"], 600)
        say(claim.fence)
        wait_for_go()
        try:
            ledger.update(args["reference"], "done", fence=claim.fence, outcome="created")
            say("ok")
        except ClerkError as exc:
            say(exc.code)
    elif job == "take-turns":
        wait_for_go()
        for _ in range(args["rounds"]):
            with ledger.hold(args["key"]):
                log(args["who"], "enter")
                log(args["who"], "leave")
        say("done")
    elif job == "hold-until-waited":
        with ledger.hold(args["key"]):
            log(args["who"], "enter")
            say("held")
            deadline = time.monotonic() + 120  # a guard against hanging the test run, not a measurement
            while not log.someone_waits_for(ledger.lock_number(args["key"])):
                if time.monotonic() > deadline:
                    raise SystemExit("nobody waited for the lock")
                time.sleep(0.02)
            log(args["who"], "leave")
        say("done")
    elif job == "wait-then-hold":
        log(args["who"], "waiting")
        with ledger.hold(args["key"]):
            log(args["who"], "enter")
            log(args["who"], "leave")
        say("done")
    elif job == "hold-forever":
        with ledger.hold(args["key"]):
            say("held")
            sys.stdin.read()  # until killed (or stdin closes)
    else:
        raise SystemExit(f"unknown job {job}")
    ledger.close()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    main(json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]))
