"""What only the PostgreSQL ledger promises: claims and locks that hold between real processes (on any host),
a connection the server dropped replaced without a restart, installs kept apart by schema, and the settings
and composition root that build it."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from pydantic import SecretStr

from connectors.ledger import LedgerLockTimeout, LedgerUnavailable
from connectors.ledger_postgres import PostgresLedger, masked
from connectors.settings import Secrets, Settings
from flows.bootstrap import build_ledger
from tests.ledger.conftest import PostgresBackend


@pytest.fixture
def pg(postgres_url: str, pg_schema: str):
    backend = PostgresBackend(postgres_url, pg_schema)
    yield backend
    backend.close()


def backends_of(pg: PostgresBackend, purpose: str) -> list[int]:
    """The server pids of this schema's connections of one kind (``ledger``, ``lock``), by application_name."""
    rows = pg.sql("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (f"clerk-{purpose}:{pg.schema}",))
    return [row[0] for row in rows]


def terminate(pg: PostgresBackend, pids: list[int]) -> None:
    """Terminate these server processes, as a restart or an administrator would, and wait until they are gone."""
    pg.sql("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
    deadline = time.monotonic() + 60  # a guard against a hung run, not a measurement
    while pg.sql("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,))[0][0]:
        assert time.monotonic() < deadline, f"backends {pids} were not terminated"
        time.sleep(0.05)


def holders_of(pg: PostgresBackend, ledger: PostgresLedger, key: str) -> list[int]:
    unsigned = ledger.lock_number(key) % 2**64
    rows = pg.sql("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = %s::oid AND"
                  " objid = %s::oid AND objsubid = 1", (unsigned >> 32, unsigned & 0xFFFFFFFF))
    return [row[0] for row in rows]


def test_two_processes_claiming_the_same_new_references_at_once_win_each_exactly_once(pg):
    ledger = pg.open()
    references = [f"CLK-RACE{n:05d}" for n in range(300)]
    workers = [pg.worker("claim", {"references": references, "owner": owner}) for owner in ("host-a/1/a", "host-b/2/b")]
    for worker in workers:
        assert worker.read() == "ready"
    for worker in workers:  # both start claiming the same brand-new references, in the same order
        worker.send("go")
    won = [set(worker.finish()) for worker in workers]
    assert won[0] | won[1] == set(references) and not won[0] & won[1], "each reference won by exactly one process"
    items = ledger.items(references)
    assert {(item.fence, item.attempts) for item in items} == {(1, 1)}
    assert {item.reference for item in items if item.owner == "host-a/1/a"} == won[0]
    history = pg.sql('SELECT reference, count(*) FROM "{s}".item_history GROUP BY reference')
    assert {count for _, count in history} == {1} and len(history) == 300, "one claim recorded per reference"


def test_workers_starting_at_once_on_a_new_schema_all_start(pg):
    """Four first connects (each its own server session) create the same schema and tables at the same moment."""
    start, opened, errors = threading.Barrier(4), [], []

    def first_connect() -> None:
        start.wait()
        try:
            opened.append(PostgresLedger(pg.url, schema=pg.schema))
        except LedgerUnavailable as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=first_connect) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pg.opened.extend(opened)
    assert errors == [] and len(opened) == 4
    assert [ledger.claim("CLK-A", "<m>", f"host/{n}/a", 600) is not None for n, ledger in enumerate(opened)] == [
        True, False, False, False]


def test_a_stale_owner_in_another_process_is_refused_after_a_takeover(pg):
    ledger = pg.open()
    stale = pg.worker("claim-then-update", {"reference": "CLK-A", "owner": "host-a/1/a"})
    assert stale.read() == 1
    assert stale.read() == "ready"
    pg.expire_leases()  # host-a stalled past its lease
    taker = ledger.claim("CLK-A", "<m>", "host-b/2/b", lease_s=60)
    assert (taker.fence, taker.previous.owner) == (2, "host-a/1/a")
    stale.send("go")  # host-a wakes up and writes under its old claim
    assert stale.finish() == "LEASE_LOST"
    item = ledger.get("CLK-A")
    assert (item.state, item.owner, item.fence) == ("received", "host-b/2/b", 2)


def test_a_second_holder_in_another_process_enters_only_after_the_first_leaves(pg):
    ledger = pg.open()
    first = pg.worker("hold-until-waited", {"key": "applicant", "who": "first"})
    assert first.read() == "held"
    second = pg.worker("wait-then-hold", {"key": "applicant", "who": "second"})
    # first leaves only once PostgreSQL shows second queued for the same lock
    assert [first.finish(), second.finish()] == ["done", "done"]
    assert pg.log() == [("first", "enter"), ("second", "waiting"), ("first", "leave"), ("second", "enter"),
                        ("second", "leave")]
    assert ledger.lock_number("applicant") == PostgresLedger(pg.url, schema=pg.schema).lock_number("applicant")


def test_the_ledger_reconnects_after_its_server_connection_is_terminated(pg):
    ledger = pg.open()
    ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=60)
    before = backends_of(pg, "ledger")
    assert len(before) == 1
    terminate(pg, before)
    claim = ledger.claim("CLK-B", "<m>", "host/1/a", lease_s=60)  # no error: the call ran on a new connection
    assert claim.fence == 1
    assert ledger.get("CLK-A").owner == "host/1/a"
    after = backends_of(pg, "ledger")
    assert len(after) == 1 and after != before


def test_a_lock_whose_connection_is_terminated_is_taken_again_on_a_new_one(pg):
    ledger = pg.open()
    with ledger.hold("applicant"):
        pass  # its connection now waits, idle, for the next holder
    idle = backends_of(pg, "lock")
    assert len(idle) == 1
    terminate(pg, idle)
    other = pg.open(lock_timeout_s=0.2)
    with ledger.hold("applicant"):
        with pytest.raises(LedgerLockTimeout):
            with other.hold("applicant"):
                pytest.fail("entered a held lock")
    # terminated while held: the lock went with the connection; the holder's block still ends cleanly
    with ledger.hold("applicant"):
        terminate(pg, holders_of(pg, ledger, "applicant"))
        with other.hold("applicant"):
            pass
    with ledger.hold("applicant"), pytest.raises(LedgerLockTimeout):
        with other.hold("applicant"):
            pass


def test_an_unreachable_server_is_a_ledger_fault_naming_the_server_but_never_the_password():
    with pytest.raises(LedgerUnavailable) as caught:
        PostgresLedger("postgresql://clerk@127.0.0.1:1/clerk", password=SecretStr("hunter2"), connect_timeout_s=2)
    assert "postgresql://clerk@127.0.0.1:1/clerk (schema clerk)" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert masked("postgresql://clerk:hunter2@db:5432/clerk") == "postgresql://clerk:***@db:5432/clerk"


def test_two_installs_sharing_a_database_are_kept_apart_by_schema(postgres_url, pg_schema):
    other_schema = f"{pg_schema}_b"
    try:
        live = PostgresLedger(postgres_url, schema=pg_schema)
        test = PostgresLedger(postgres_url, schema=other_schema, lock_timeout_s=0.2)
        live.claim("CLK-A", "<m>", "live/1/a", lease_s=60)
        assert test.get("CLK-A") is None
        assert test.claim("CLK-A", "<m>", "test/1/a", lease_s=60).fence == 1
        with live.hold("applicant"), test.hold("applicant"):  # the same key in another install does not wait
            pass
        live.close()
        test.close()
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as db:
            db.execute(f'DROP SCHEMA IF EXISTS "{other_schema}" CASCADE')


def test_tables_made_by_it_are_used_as_they_are_by_the_next_start(pg):
    pg.open().claim("CLK-A", "<m>", "host/1/a", lease_s=60)
    again = pg.open()
    assert again.get("CLK-A").owner == "host/1/a"
    tables = pg.sql("SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", (pg.schema,))
    assert [row[0] for row in tables] == ["item_history", "replies", "work_items", "worker_log"]


def test_the_composition_root_builds_the_ledger_the_settings_name(pg, tmp_path):
    settings = Settings.model_validate({"ledger": {"kind": "postgres", "url": pg.url, "schema": pg.schema,
                                                   "lock_timeout_s": 7}})
    ledger = build_ledger(settings, Secrets(ledger_password=SecretStr("unused-with-trust-auth")))
    try:
        assert isinstance(ledger, PostgresLedger)
        assert (ledger.schema, ledger.lock_timeout_s) == (pg.schema, 7)
        assert ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=60).fence == 1
    finally:
        ledger.close()
    sqlite = build_ledger(Settings.model_validate({"ledger": {"path": str(tmp_path / "l.db"), "lock_timeout_s": 9}}))
    try:
        assert (type(sqlite).__name__, sqlite.path, sqlite.lock_timeout_s) == ("SqliteLedger", tmp_path / "l.db", 9)
    finally:
        sqlite.close()


def test_a_roles_statement_timeout_does_not_cut_a_lock_wait_short(pg):
    """A DBA's ``statement_timeout`` for the role (here 100 ms, through the URL) would cancel a lock wait as a
    database fault; the wait is bounded by ``ledger.lock_timeout_s`` and ends as a lock timeout."""
    holder = pg.open()
    strict = PostgresLedger(f"{pg.url}?options=-c%20statement_timeout%3D100", schema=pg.schema, lock_timeout_s=1)
    pg.opened.append(strict)
    assert strict.get("CLK-A") is None
    with holder.hold("applicant"):
        with pytest.raises(LedgerLockTimeout):
            with strict.hold("applicant"):
                pytest.fail("entered a held lock")


def test_a_role_that_owns_only_its_schema_is_enough(postgres_url, pg_schema):
    """runbooks/deployment.md: IT creates a role and a schema it owns; Clerk makes its tables there and needs no
    other right (the role cannot create a schema of its own)."""
    role = f"{pg_schema}_role"
    admin = psycopg.connect(postgres_url, autocommit=True)
    try:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'CREATE SCHEMA "{pg_schema}" AUTHORIZATION "{role}"')
        as_role = postgres_url.replace("postgres@", f"{role}@", 1)
        ledger = PostgresLedger(as_role, schema=pg_schema)
        assert ledger.claim("CLK-A", "<m>", "host/1/a", lease_s=60).fence == 1
        with ledger.hold("applicant"):
            pass
        ledger.close()
        with pytest.raises(LedgerUnavailable, match="permission denied"):
            PostgresLedger(as_role, schema=f"{pg_schema}_other")
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{pg_schema}" CASCADE')
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.close()
