"""Many writers, one chain in PostgreSQL: threads of one process, and real processes (on one host here; every
turn is the database's lock, so hosts are no different). A writer killed with SIGKILL mid-run leaves a trail
that verifies, and the next writer carries on."""

import multiprocessing

from connectors.audit import AuditTrail
from tests.audit.trails import KEY
from tests.audit.writers import (
    killed,
    numbers_by_writer,
    write_and_hang,
    write_events,
    write_flat_out,
    write_in_threads,
)

spawn = multiprocessing.get_context("spawn")


def test_threads_writing_at_once_keep_one_chain_and_each_thread_its_order(pg):
    write_in_threads(AuditTrail(pg.store, key=KEY, seal_every_events=50), 6, 100)
    report = pg.verify()
    assert report.ok, report.failure
    assert report.events == 6 * 100 + 1 and report.last_counter >= 12
    assert numbers_by_writer(pg.store.events()) == {f"t{n}": list(range(100)) for n in range(6)}


def test_two_processes_writing_at_once_keep_one_chain(pg):
    count = 400
    barrier = spawn.Barrier(2)
    workers = [spawn.Process(target=write_events, args=(pg.store, name, count, barrier)) for name in ("w1", "w2")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    report = pg.verify()
    assert report.ok, report.failure
    assert report.events == 2 * (count + 2)
    assert report.checkpoints_authenticated == report.checkpoints_checked == report.last_counter >= 2
    assert report.events_after_last_checkpoint == 0
    events = list(pg.store.events())
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    writers = [event["actor"] for event in events]
    assert sum(1 for before, after in zip(writers, writers[1:], strict=False) if before != after) >= 1
    assert numbers_by_writer(pg.store.events()) == {"w1": list(range(count + 1)), "w2": list(range(count + 1))}


def test_a_killed_writer_leaves_an_unsealed_tail_that_verify_reports_as_a_crash(pg):
    killed(write_and_hang, pg.store, 5, 3)
    report = pg.verify()
    assert report.ok, report.failure
    assert (report.events, report.last_counter, report.events_after_last_checkpoint) == (8, 1, 3)
    assert report.warnings == ["3 event(s) after checkpoint 1 are not sealed yet (from audit_lines seq 6): a writer is "
                               "still at work, or stopped (a crash) before sealing them; lines cut from there could "
                               "not be told"]
    trail = AuditTrail(pg.store, key=KEY)  # the next writer carries on, and seals the tail with its own
    trail.record("after", "ok")
    trail.close()
    report = pg.verify()
    assert report.ok and report.warnings == [], (report.failure, report.warnings)
    assert [c["seq"] for c in pg.checkpoints()] == [5, 9]


def test_a_writer_killed_at_any_moment_leaves_a_trail_that_verifies_and_the_next_carries_on(pg):
    for _ in range(3):  # killed mid-turn, mid-seal or mid-checkpoint: its turn is rolled back, its lock let go
        killed(write_flat_out, pg.store)
        report = pg.verify()
        assert report.ok, report.failure
        assert report.events_after_last_checkpoint <= 7
    trail = AuditTrail(pg.store, key=KEY)
    trail.record("after", "ok")
    trail.close()
    report = pg.verify()
    assert report.ok and report.warnings == [], (report.failure, report.warnings)
