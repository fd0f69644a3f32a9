"""The ledger suites' backends: every contract test runs on SQLite (a file in tmp_path) and on the machine's
real PostgreSQL, over TCP, in a fresh schema of the ``test`` database that is dropped afterwards.

PostgreSQL is found at ``$CLERK_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
When it does not answer, the PostgreSQL tests FAIL (never skip) saying how to start it: ``make test``
starts it through ``make postgres``.

* ``backend``: ``open()`` gives a ledger on the backend's store (each call a new one: another worker),
  ``expire_leases()`` runs every lease out, ``worker(job, args)`` starts ``tests/ledger/worker.py`` in a
  real process on the same store, ``log()`` reads back what the workers logged, in order.
* ``ledger``: one ledger of that backend.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from connectors.ledger import SqliteLedger
from connectors.ledger_postgres import PostgresLedger

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("CLERK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=5) as db:
            db.execute("SELECT 1")
        return POSTGRES_URL
    except psycopg.Error as exc:
        problem = " ".join(str(exc).split())
    pytest.fail(f"PostgreSQL does not answer at {POSTGRES_URL} ({problem}). Start it with `make postgres` (`make test` "
                f"does), or point CLERK_TEST_POSTGRES_URL at a database where this user may create schemas.",
                pytrace=False)


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """A fresh schema name (the ledger creates it), dropped after the test."""
    name = f"clerk_test_{secrets.token_hex(6)}"
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


class Worker:
    """A real process running one job of tests/ledger/worker.py."""

    def __init__(self, spec: dict, job: str, args: dict) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen([sys.executable, "-m", "tests.ledger.worker", json.dumps(spec), job,
                                         json.dumps(args)], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def read(self):
        """The next JSON line the worker printed (blocks until it prints one, or fails when it exits)."""
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=60)
            raise AssertionError(f"the worker exited {self.process.returncode}: {self.process.stderr.read()}")
        return json.loads(line)

    def send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def finish(self):
        """The worker's last line, once it has exited cleanly."""
        last = self.read()
        assert self.process.wait(timeout=120) == 0, self.process.stderr.read()
        return last

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=60)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            stream.close()


class Backend:
    kind = ""

    def __init__(self) -> None:
        self.opened: list = []
        self.workers: list[Worker] = []

    def spec(self, **extra) -> dict:
        raise NotImplementedError

    def open(self, **options):
        raise NotImplementedError

    def worker(self, job: str, args: dict, **spec) -> Worker:
        worker = Worker(self.spec(**spec), job, args)
        self.workers.append(worker)
        return worker

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        for ledger in self.opened:
            ledger.close()


class SqliteBackend(Backend):
    kind = "sqlite"

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.path = folder / "ledger.db"
        self.log_file = folder / "workers.log"

    def spec(self, **extra) -> dict:
        return {"kind": "sqlite", "path": str(self.path), "log": {"file": str(self.log_file)}, **extra}

    def open(self, **options) -> SqliteLedger:
        ledger = SqliteLedger(self.path, **options)
        self.opened.append(ledger)
        return ledger

    def expire_leases(self) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute("UPDATE work_items SET lease_until = 0")

    def log(self) -> list[tuple[str, str]]:
        if not self.log_file.exists():
            return []
        return [tuple(line.split(" ", 1)) for line in self.log_file.read_text().splitlines()]


class PostgresBackend(Backend):
    kind = "postgres"

    def __init__(self, url: str, schema: str) -> None:
        super().__init__()
        self.url = url
        self.schema = schema

    def spec(self, **extra) -> dict:
        return {"kind": "postgres", "url": self.url, "schema": self.schema, "log": {"table": "worker_log"}, **extra}

    def open(self, **options) -> PostgresLedger:
        ledger = PostgresLedger(self.url, schema=self.schema, **options)
        self.opened.append(ledger)
        self.sql('CREATE TABLE IF NOT EXISTS "{s}".worker_log (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,'
                 ' who TEXT NOT NULL, what TEXT NOT NULL)')
        return ledger

    def sql(self, text: str, params: tuple = ()) -> list[tuple]:
        """Run one statement as the test's own (administrator) session; ``{s}`` is the schema."""
        with psycopg.connect(self.url, autocommit=True) as db:
            cur = db.execute(text.replace("{s}", self.schema), params)
            return cur.fetchall() if cur.description else []

    def expire_leases(self) -> None:
        self.sql('UPDATE "{s}".work_items SET lease_until = 0')

    def log(self) -> list[tuple[str, str]]:
        return [tuple(row) for row in self.sql('SELECT who, what FROM "{s}".worker_log ORDER BY id')]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        opened: Backend = SqliteBackend(tmp_path)
    else:
        opened = PostgresBackend(request.getfixturevalue("postgres_url"), request.getfixturevalue("pg_schema"))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def ledger(backend: Backend):
    return backend.open()
