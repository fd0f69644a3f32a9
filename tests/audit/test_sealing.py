"""The trail seals itself (at every flush, close and checkpoint, and before an unsealed stretch outgrows the
policy), and verify catches what the numbered checkpoints and the seal record make visible."""

import shutil

import pytest

from connectors.audit import AuditTrail
from connectors.audit_chain import AuditTrailDamaged, checkpoint_mac
from connectors.audit_verify import verify
from tests.audit.trails import (
    KEY,
    checkpoints_of,
    day,
    items,
    lines,
    seal_of,
    write_checkpoints,
    write_lines,
    write_seal,
)


def failure_at(path, key=KEY, **options):
    report = verify(path, key, **options)
    assert not report.ok, "verify passed a tampered trail"
    return report.failure.file.name, report.failure.line, report.failure.reason


@pytest.fixture
def sealed(tmp_path):
    """Three items of three events, each sealed at its end: checkpoints 1, 2, 3 at seq 3, 6, 9."""
    return items(tmp_path / "audit.jsonl", 3)


# The writer


def test_each_flushed_item_is_sealed_by_a_numbered_signed_checkpoint_and_the_seal_holds_the_last(sealed):
    checkpoints = checkpoints_of(sealed)
    assert [(c["counter"], c["seq"], c["trigger"], c["run"]) for c in checkpoints] == [
        (1, 3, "flush", "run-1"), (2, 6, "flush", "run-1"), (3, 9, "flush", "run-1")]
    assert all(c["hmac"] == checkpoint_mac(c, KEY) for c in checkpoints)
    assert checkpoints[0] | {"seal_every_events": 10_000, "seal_every_s": 60.0,
                             "time": "2026-03-02T09:00:00.000+00:00"} == checkpoints[0]
    assert seal_of(sealed) == checkpoints[-1]
    report = verify(sealed, KEY)
    assert report.ok, report.failure
    assert (report.last_counter, report.events_after_last_checkpoint, report.warnings) == (3, 0, [])


def test_a_flush_or_close_with_nothing_new_writes_no_checkpoint(tmp_path):
    path = tmp_path / "audit.jsonl"
    trail = AuditTrail(path, key=KEY)
    trail.flush()
    trail.record("step", "ok")
    trail.flush()
    trail.flush()
    trail.close()
    assert [c["seq"] for c in checkpoints_of(path)] == [1]


def test_the_trail_seals_before_more_than_seal_every_events_would_be_unsealed(tmp_path):
    path = tmp_path / "audit.jsonl"
    trail = AuditTrail(path, key=KEY, seal_every_events=4)
    for number in range(10):
        trail.record("step", "ok", number=number)
    assert [(c["seq"], c["trigger"]) for c in checkpoints_of(path)] == [(4, "events"), (8, "events")]
    trail.close()
    assert [(c["seq"], c["trigger"]) for c in checkpoints_of(path)][-1] == (10, "close")
    assert verify(path, KEY).ok


def test_the_trail_seals_before_an_event_seal_every_s_after_the_first_unsealed_one(tmp_path):
    path = tmp_path / "audit.jsonl"
    clock = day("2026-03-02T09:00:00")
    trail = AuditTrail(path, key=KEY, clock=clock)
    trail.record("a", "ok")
    clock.advance(seconds=59.999)
    trail.record("b", "ok")
    assert not path.with_name("audit.checkpoints.jsonl").exists()
    clock.advance(seconds=0.001)
    trail.record("c", "ok")
    assert [(c["seq"], c["trigger"], c["time"]) for c in checkpoints_of(path)] == [
        (2, "seconds", "2026-03-02T09:01:00.000+00:00")]
    trail.close()


def test_two_writers_share_one_count_and_one_counter(tmp_path):
    path = tmp_path / "audit.jsonl"
    one, two = AuditTrail(path, key=KEY, seal_every_events=3), AuditTrail(path, key=KEY, seal_every_events=3)
    for number in range(7):
        (one if number % 2 else two).record("step", "ok", number=number)
    assert [(c["counter"], c["seq"]) for c in checkpoints_of(path)] == [(1, 3), (2, 6)]
    one.close()
    two.close()
    assert [(c["counter"], c["seq"]) for c in checkpoints_of(path)] == [(1, 3), (2, 6), (3, 7)]


def test_a_writer_refuses_a_trail_cut_back_behind_its_checkpoints(sealed):
    write_lines(sealed, lines(sealed)[:4])
    with pytest.raises(AuditTrailDamaged, match="ends at seq 4 but its last checkpoint covers seq 9: it was cut back"):
        AuditTrail(sealed, key=KEY)


def test_a_writer_refuses_to_write_over_a_seal_ahead_of_the_checkpoints(sealed):
    write_checkpoints(sealed, checkpoints_of(sealed)[:2])
    write_lines(sealed, lines(sealed)[:6])
    with pytest.raises(AuditTrailDamaged, match="seal records checkpoint 3 but the checkpoints end at 2"):
        AuditTrail(sealed, key=KEY)
    assert seal_of(sealed)["counter"] == 3  # the evidence is left as it was


def test_a_writer_that_opens_a_trail_with_an_unsealed_tail_seals_it_before_writing(tmp_path):
    path = items(tmp_path / "audit.jsonl", 1)
    clock = day("2026-03-02T09:05:00")
    AuditTrail(path, key=KEY, clock=clock).record("unsealed", "ok")  # never flushed nor closed, as after a crash
    path.with_name("audit.jsonl.lock").write_bytes(b"")  # and its sealing state is gone with it
    later = AuditTrail(path, key=KEY, clock=clock)
    later.record("next", "ok")
    assert [(c["seq"], c["trigger"]) for c in checkpoints_of(path)] == [(3, "flush"), (4, "recovery")]
    later.close()


# Verify


def test_a_tail_cut_back_to_an_earlier_checkpoint_with_the_later_checkpoint_lines_deleted_fails(sealed):
    write_lines(sealed, lines(sealed)[:3])
    write_checkpoints(sealed, checkpoints_of(sealed)[:1])
    assert failure_at(sealed) == ("audit.seal.json", None, (
        "the seal records checkpoint 3 (seq 9, 2026-03-02T09:00:00.000+00:00) but audit.checkpoints.jsonl ends at "
        "checkpoint 1: checkpoint lines were deleted from its end, and the trail may have been cut back or rolled "
        "back to match"))


def test_a_trail_put_back_to_an_older_copy_fails(tmp_path):
    path = items(tmp_path / "audit.jsonl", 1)
    older = path.read_bytes()
    items(path, 2)
    path.write_bytes(older)
    assert failure_at(path) == ("audit.jsonl", 4, (
        "the trail ends at seq 3 but audit.checkpoints.jsonl:3 covers seq 9: 6 line(s) were cut off the end, or "
        "the trail was put back to an older copy"))


def test_a_deleted_checkpoint_line_leaves_a_gap_in_the_counter(sealed):
    checkpoints = checkpoints_of(sealed)
    write_checkpoints(sealed, [checkpoints[0], checkpoints[2]])
    assert failure_at(sealed) == ("audit.checkpoints.jsonl", 2, (
        "counter 3 where 2 was due: checkpoint(s) 2..2 were deleted after checkpoint 1"))


def test_a_deleted_first_checkpoint_is_a_gap_at_the_start(sealed):
    write_checkpoints(sealed, checkpoints_of(sealed)[1:])
    assert failure_at(sealed)[:3] == ("audit.checkpoints.jsonl", 1, (
        "counter 2 where 1 was due: checkpoint(s) 1..1 were deleted from the start"))


def test_reordered_checkpoints_are_named(sealed):
    first, second, third = checkpoints_of(sealed)
    write_checkpoints(sealed, [first, third, second])
    assert failure_at(sealed) == ("audit.checkpoints.jsonl", 2, (
        "out of order: checkpoint 2 comes after it, at audit.checkpoints.jsonl:3"))


def test_a_copied_checkpoint_is_named(sealed):
    first, second, third = checkpoints_of(sealed)
    write_checkpoints(sealed, [first, second, second, third])
    assert failure_at(sealed) == ("audit.checkpoints.jsonl", 3, (
        "counter 2 where 3 was due: checkpoints were reordered or copied"))


def test_a_replaced_seal_fails(sealed):
    checkpoints = checkpoints_of(sealed)
    forged = checkpoints[-1] | {"counter": 4, "seq": 12}
    write_seal(sealed, forged | {"hmac": checkpoint_mac(forged, b"not-the-key-0123456789")})
    assert failure_at(sealed) == ("audit.seal.json", None, (
        "its HMAC does not match: the seal was altered, or forged without the key"))
    write_seal(sealed, checkpoints[-1] | {"head": "f" * 64})  # without the key, against the checkpoint it names
    assert failure_at(sealed, key=None) == ("audit.seal.json", None, (
        "the seal does not match checkpoint 3 (audit.checkpoints.jsonl:3): one of them was altered"))


def test_a_seal_put_back_to_an_older_copy_is_a_warning_that_strict_fails(sealed):
    write_seal(sealed, checkpoints_of(sealed)[0])
    report = verify(sealed, KEY)
    assert report.ok
    assert report.warnings == [
        "the seal records checkpoint 1 but audit.checkpoints.jsonl goes on to checkpoint 3: an older copy of the "
        "seal was put back, or a power cut lost its last updates (the checkpoints still hold)"]


def test_an_unsealed_tail_longer_than_the_policy_fails(tmp_path):
    path = tmp_path / "audit.jsonl"
    items(path, 1, events=3, seal_every_events=4)
    first_seal = seal_of(path)
    items(path, 2, events=3, seal_every_events=4)
    # The forger deletes the checkpoints after the first and puts its seal back: all consistent, but
    # six events now follow the last checkpoint, more than the four a crash can leave.
    write_checkpoints(path, checkpoints_of(path)[:1])
    write_seal(path, first_seal)
    file, line, reason = failure_at(path)
    assert (file, line) == ("audit.jsonl", 4)
    assert reason.startswith("6 event(s) after checkpoint 1, ")
    assert ("more than a crash leaves unsealed (4 events within 60 s). The checkpoints that sealed them were "
            "deleted (and the seal put back to an older copy), or the trail was written by something that does "
            "not seal") in reason


def test_an_unsealed_tail_spread_over_more_than_seal_every_s_fails(tmp_path):
    path = tmp_path / "audit.jsonl"
    clock = day("2026-03-02T09:00:00")
    items(path, 1, clock=clock)
    first_seal = seal_of(path)
    trail = AuditTrail(path, key=KEY, clock=clock)
    for _ in range(3):
        clock.advance(seconds=45)
        trail.record("step", "ok")  # the third is 90 s after the first: the trail sealed before it
    trail.close()
    write_checkpoints(path, checkpoints_of(path)[:1])
    write_seal(path, first_seal)
    assert failure_at(path)[:3] == ("audit.jsonl", 4, (
        "3 event(s) after checkpoint 1, 90 s apart: more than a crash leaves unsealed (10000 events within 60 s). "
        "The checkpoints that sealed them were deleted (and the seal put back to an older copy), or the trail was "
        "written by something that does not seal"))


def test_checkpoints_renumbered_from_one_leave_a_stretch_longer_than_the_policy(tmp_path):
    path = items(tmp_path / "audit.jsonl", 3, seal_every_events=4)
    path.with_name("audit.checkpoints.jsonl").unlink()  # all checkpoints and the seal gone...
    path.with_name("audit.seal.json").unlink()
    trail = AuditTrail(path, key=KEY, seal_every_events=4, clock=day("2026-03-02T09:05:00"))  # it seals from 1 again
    trail.record("step", "ok")
    trail.close()
    assert [c["counter"] for c in checkpoints_of(path)] == [1, 2]
    assert failure_at(path) == ("audit.jsonl", 5, (
        "9 events between the start of the trail and checkpoint 1 (seq 1..9), more than the 4 after which writers "
        "seal: the checkpoints that sealed them were removed"))


def test_the_whole_folder_put_back_to_an_older_copy_is_caught_only_against_a_published_checkpoint(tmp_path):
    folder = tmp_path / "audit"
    path = items(folder / "audit.jsonl", 1)
    shutil.copytree(folder, tmp_path / "copy")
    items(path, 1)
    published = checkpoints_of(path)[-1]
    shutil.rmtree(folder)
    shutil.copytree(tmp_path / "copy", folder)
    assert verify(path, KEY).ok  # everything in the folder agrees: nothing inside it can tell
    assert failure_at(path, anchor=published) == ("audit.checkpoints.jsonl", None, (
        "the checkpoint published outside the trail (counter 2, seq 6, 2026-03-02T09:00:00.000+00:00) is not among "
        "the checkpoints, which end at counter 1: the trail and its checkpoints were put back to an older copy, or "
        "cut back"))
    assert verify(path, KEY, anchor=checkpoints_of(path)[0]).ok


def test_a_checkpoint_rewritten_after_it_was_published_is_named(sealed):
    published = checkpoints_of(sealed)[1]
    assert failure_at(sealed, anchor=published | {"seq": 5}) == ("audit.checkpoints.jsonl", 2, (
        "differs from the checkpoint published outside the trail (counter 2, seq 5, 2026-03-02T09:00:00.000+00:00): "
        "seq 6 where 5 was published; the checkpoints were rewritten"))
