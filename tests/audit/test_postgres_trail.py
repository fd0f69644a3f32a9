"""The trail in PostgreSQL is the file trail's pipeline behind another append end: the same lines, the same
seals, one chain for every writer, each turn one transaction; a dropped connection or a failed turn costs no
fork."""

from datetime import UTC, datetime

import pytest

from connectors.audit import AuditTrail, iter_events
from connectors.audit_chain import AuditUnavailable
from connectors.audit_seal import SealPolicy, epoch_ms
from connectors.audit_verify import verify
from tests.audit.trails import KEY, checkpoints_of, day, items


def record_the_same(trail: AuditTrail) -> None:
    item = trail.bind(run="run-1", reference="CLK-0000000001", process="blue_badge", email_id="m1.eml")
    item("claim", "ok", sender="priya.shah@council.example.gov.uk", nino="QQ 12 34 56 C", date_of_birth="1958-03-07")
    item("key", "created", case_reference="BB-2026-000123")
    item.flush()
    trail.record("retry", "requeued", actor="A Supervisor", reasons=["Call 01632 960123 about it"])
    trail.checkpoint("run-1")
    trail.close()


def test_the_lines_are_the_bytes_the_file_trail_writes_redacted_alike(pg, tmp_path):
    record_the_same(AuditTrail(tmp_path / "audit.jsonl", key=KEY, clock=day("2026-03-02T09:00:00")))
    record_the_same(AuditTrail(pg.store, key=KEY, clock=day("2026-03-02T09:00:00")))
    assert pg.lines() == (tmp_path / "audit.jsonl").read_bytes().splitlines()
    assert b"QQ 12 34 56 C" not in b"".join(pg.lines()) and b"01632 960123" not in b"".join(pg.lines())
    in_files = [c | {"file": None, "hmac": None} for c in checkpoints_of(tmp_path / "audit.jsonl")]
    assert [c | {"file": None, "hmac": None} for c in pg.checkpoints()] == in_files  # all but where, so the hmac
    assert {c["file"] for c in pg.checkpoints()} == {"audit_lines"}
    assert list(pg.store.events()) == list(iter_events(tmp_path / "audit.jsonl"))
    assert pg.sql("SELECT min(time), max(time) FROM {s}.audit_lines")[0] == (datetime(2026, 3, 2, 9, tzinfo=UTC),) * 2


def test_each_flushed_item_is_sealed_by_a_numbered_signed_checkpoint_and_the_seal_holds_the_last(pg):
    items(pg.store, 3)
    assert [(c["counter"], c["seq"], c["trigger"]) for c in pg.checkpoints()] == [
        (1, 3, "flush"), (2, 6, "flush"), (3, 9, "flush")]
    assert pg.sql("SELECT counter, seq FROM {s}.audit_checkpoints ORDER BY counter") == [(1, 3), (2, 6), (3, 9)]
    assert pg.seal() == pg.checkpoints()[-1]
    report = pg.verify()
    assert (report.ok, report.last_counter, report.events_after_last_checkpoint, report.warnings) == (True, 3, 0, [])


def test_a_flush_or_close_with_nothing_new_writes_no_checkpoint(pg):
    trail = AuditTrail(pg.store, key=KEY)
    trail.flush()
    trail.record("step", "ok")
    trail.flush()
    trail.flush()
    trail.close()
    assert [c["seq"] for c in pg.checkpoints()] == [1]


def test_the_trail_seals_before_more_than_seal_every_events_would_be_unsealed(pg):
    trail = AuditTrail(pg.store, key=KEY, seal_every_events=4)
    for number in range(10):
        trail.record("step", "ok", number=number)
    assert [(c["seq"], c["trigger"]) for c in pg.checkpoints()] == [(4, "events"), (8, "events")]
    trail.close()
    assert [(c["seq"], c["trigger"]) for c in pg.checkpoints()][-1] == (10, "close")
    assert pg.verify().ok


def test_the_trail_seals_before_an_event_seal_every_s_after_the_first_unsealed_one(pg):
    clock = day("2026-03-02T09:00:00")
    trail = AuditTrail(pg.store, key=KEY, clock=clock)
    trail.record("a", "ok")
    clock.advance(seconds=59.999)
    trail.record("b", "ok")
    assert pg.checkpoints() == []
    clock.advance(seconds=0.001)
    trail.record("c", "ok")
    assert [(c["seq"], c["trigger"], c["time"]) for c in pg.checkpoints()] == [
        (2, "seconds", "2026-03-02T09:01:00.000+00:00")]
    trail.close()


def test_two_writers_share_one_chain_one_count_and_one_counter(pg):
    one, two = AuditTrail(pg.store, key=KEY, seal_every_events=3), AuditTrail(pg.store, key=KEY, seal_every_events=3)
    for number in range(7):
        (one if number % 2 else two).record("step", "ok", number=number)
    assert [(c["counter"], c["seq"]) for c in pg.checkpoints()] == [(1, 3), (2, 6)]
    one.close()
    two.close()
    assert [(c["counter"], c["seq"]) for c in pg.checkpoints()] == [(1, 3), (2, 6), (3, 7)]
    assert [(event["seq"], event["number"]) for event in pg.store.events()] == [(n, n - 1) for n in range(1, 8)]
    assert pg.verify().ok


def test_a_writer_opening_a_trail_with_an_unsealed_tail_knows_its_age_from_the_table(pg):
    items(pg.store, 1)
    clock = day("2026-03-02T09:05:00")
    AuditTrail(pg.store, key=KEY, clock=clock).record("unsealed", "ok")  # never flushed nor closed: a crash
    later = AuditTrail(pg.store, key=KEY, clock=clock, seal_every_s=60)
    assert (later._chain.sealed_seq, later._chain.first_unsealed_ms) == (3, epoch_ms(clock.now))
    clock.advance(seconds=30)
    later.record("next", "ok")  # 30 s after the tail began: within the policy, no seal yet
    assert [c["seq"] for c in pg.checkpoints()] == [3]
    clock.advance(seconds=30)
    later.record("after", "ok")  # 60 s after it: sealed first
    assert [(c["seq"], c["trigger"]) for c in pg.checkpoints()] == [(3, "flush"), (5, "seconds")]
    later.close()


def test_a_connection_the_server_dropped_is_replaced_and_costs_no_event(pg):
    trail = AuditTrail(pg.store, key=KEY)
    trail.record("before", "ok")
    ended = pg.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                   (f"clerk-audit:{pg.schema}",))
    assert ended == [(True,)]
    trail.record("after", "ok")
    trail.close()
    assert [event["step"] for event in pg.store.events()] == ["before", "after"]
    assert pg.verify().ok


def test_a_failed_turn_leaves_nothing_and_the_next_turn_chains_from_the_table(pg):
    trail = AuditTrail(pg.store, key=KEY)
    for number in range(3):
        trail.record("step", "ok", number=number)
    pg.sql("ALTER TABLE {s}.audit_lines ADD CONSTRAINT only_three CHECK (seq <= 3)")
    with pytest.raises(AuditUnavailable, match=r"\[AUDIT_UNAVAILABLE\] the audit trail at .* failed committing: "
                                               r'new row for relation "audit_lines" violates check constraint'):
        trail.record("refused", "ok")
    other = AuditTrail(pg.store, key=KEY)  # meanwhile another writer... (the constraint lifted)
    pg.sql("ALTER TABLE {s}.audit_lines DROP CONSTRAINT only_three")
    other.record("other", "ok")
    trail.record("next", "ok")  # ...so this writer's own idea of seq 4 is gone: it reads the head again
    trail.close()
    other.close()
    assert [event["step"] for event in pg.store.events()] == ["step", "step", "step", "other", "next"]
    assert pg.verify().ok


def test_reading_a_trail_that_is_not_there(pg):
    with pytest.raises(AuditUnavailable, match=rf"no audit trail at .* \(schema {pg.schema}\): its table "
                                               rf"{pg.schema}.audit_lines does not exist"):
        list(pg.store.events())
    assert list(pg.store.events(missing_ok=True)) == []


def test_verify_reads_one_snapshot_while_a_writer_goes_on(pg):
    items(pg.store, 2)
    writer = AuditTrail(pg.store, key=KEY)
    with pg.store.reading() as source:
        writer.record("meanwhile", "ok")
        writer.flush()
        report = verify(source, KEY, policy=SealPolicy())
    writer.close()
    assert (report.ok, report.events, report.last_counter) == (True, 6, 2)
    assert (pg.verify().events, pg.verify().last_counter) == (7, 3)
