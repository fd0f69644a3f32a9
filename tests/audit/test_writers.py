"""Many writers, one chain: threads of one process, two trails in one process, and two real processes."""

import multiprocessing

from connectors.audit import AuditTrail, iter_events
from connectors.audit_verify import verify
from tests.audit.trails import KEY
from tests.audit.writers import numbers_by_writer, write_events, write_in_threads


def test_threads_writing_at_once_keep_one_chain_and_each_thread_its_order(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_in_threads(AuditTrail(path, key=KEY), 8, 300)
    report = verify(path, KEY)
    assert report.ok, report.failure
    assert report.events == 8 * 300 + 1
    assert numbers_by_writer(iter_events(path)) == {f"t{n}": list(range(300)) for n in range(8)}


def test_a_writer_whose_head_is_stale_reads_it_from_the_file(tmp_path):
    path = tmp_path / "audit.jsonl"
    one, two = AuditTrail(path), AuditTrail(path)
    for step in ("a", "b", "c", "d"):
        (one if step in "ac" else two).record(step, "ok")
    one.close()
    two.close()
    assert [(event["seq"], event["step"]) for event in iter_events(path)] == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    assert verify(path).ok


def test_two_processes_writing_at_once_keep_one_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    count = 1500
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [context.Process(target=write_events, args=(str(path), name, count, barrier)) for name in ("w1", "w2")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    report = verify(path, KEY)
    assert report.ok, report.failure
    assert report.events == 2 * (count + 2)
    assert report.checkpoints_authenticated == report.checkpoints_checked == report.last_counter >= 2
    assert report.events_after_last_checkpoint == 0
    events = list(iter_events(path))
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    writers = [event["actor"] for event in events]
    assert sum(1 for before, after in zip(writers, writers[1:], strict=False) if before != after) >= 1
    assert numbers_by_writer(iter_events(path)) == {"w1": list(range(count + 1)), "w2": list(range(count + 1))}
