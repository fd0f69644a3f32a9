"""Daily rotation keeps one chain across files; verify and iter_events walk the files in order."""

import hashlib
import json

from connectors.audit import AuditTrail, iter_events
from connectors.audit_verify import verify
from tests.audit.trails import KEY, day, lines


def three_days(tmp_path):
    """Events on 1, 2 and 3 March (crossing two midnights on an injected clock), checkpoints along the way."""
    clock = day("2026-03-01T23:59:58")
    path = tmp_path / "audit" / "audit.jsonl"
    trail = AuditTrail(path, key=KEY, clock=clock)
    trail.record("claim", "ok", email_id="a.eml")
    trail.record("finish", "done", email_id="a.eml")
    clock.advance(seconds=3)
    trail.record("claim", "ok", email_id="b.eml")
    trail.checkpoint("run-2")
    clock.advance(days=1)
    trail.record("claim", "ok", email_id="c.eml")
    trail.checkpoint("run-3")
    trail.close()
    return path, trail


def test_a_new_day_starts_a_new_file_that_chains_from_the_last_line_of_the_day_before(tmp_path):
    path, trail = three_days(tmp_path)
    first, second = path.with_name("audit.2026-03-01.jsonl"), path.with_name("audit.2026-03-02.jsonl")
    assert [json.loads(line)["seq"] for line in lines(first)] == [1, 2]
    assert [json.loads(line)["seq"] for line in lines(second)] == [3, 4]
    assert [json.loads(line)["seq"] for line in lines(path)] == [5, 6]
    assert json.loads(lines(second)[0])["prev"] == hashlib.sha256(lines(first)[-1].rstrip(b"\n")).hexdigest()
    assert json.loads(lines(path)[0])["prev"] == hashlib.sha256(lines(second)[-1].rstrip(b"\n")).hexdigest()
    assert trail.path == path  # the file currently written keeps the configured name


def test_verify_walks_the_rotated_files_in_order(tmp_path):
    path, _ = three_days(tmp_path)
    report = verify(path.parent, KEY)
    assert report.ok, report.failure
    assert [file.name for file in report.files] == ["audit.2026-03-01.jsonl", "audit.2026-03-02.jsonl", "audit.jsonl"]
    assert (report.events, report.checkpoints_authenticated) == (6, 2)


def test_iter_events_reads_every_day_in_order(tmp_path):
    path, _ = three_days(tmp_path)
    events = list(iter_events(path))
    assert [event["seq"] for event in events] == [1, 2, 3, 4, 5, 6]
    assert [event["item"] for event in events if event["step"] == "claim"] == ["a.eml", "b.eml", "c.eml"]
    assert list(iter_events(path.parent)) == events


def test_a_deleted_day_is_named(tmp_path):
    path, _ = three_days(tmp_path)
    path.with_name("audit.2026-03-02.jsonl").unlink()
    report = verify(path, KEY)
    assert (report.failure.file.name, report.failure.line) == ("audit.jsonl", 1)
    assert "deleted" in report.failure.reason


def test_a_deleted_first_day_is_noticed_at_the_next_file(tmp_path):
    path, _ = three_days(tmp_path)
    path.with_name("audit.2026-03-01.jsonl").unlink()
    report = verify(path, KEY)
    assert (report.failure.file.name, report.failure.line) == ("audit.2026-03-02.jsonl", 1)


def test_a_deleted_current_file_is_a_cut_tail(tmp_path):
    path, _ = three_days(tmp_path)
    path.unlink()
    report = verify(path.parent, KEY)
    assert (report.failure.file.name, report.failure.line) == ("audit.2026-03-02.jsonl", 3)
    assert "cut off the end" in report.failure.reason


def test_a_writer_opened_on_a_later_day_rotates_and_carries_the_chain_on(tmp_path):
    path = tmp_path / "audit.jsonl"
    clock = day("2026-03-01T10:00:00")
    AuditTrail(path, clock=clock).record("claim", "ok")
    clock.advance(days=2)
    later = AuditTrail(path, clock=clock)
    later.record("claim", "ok")
    later.close()
    assert path.with_name("audit.2026-03-01.jsonl").exists()
    assert [event["seq"] for event in iter_events(path)] == [1, 2]
    assert verify(path).ok


def test_two_writers_crossing_midnight_rotate_once(tmp_path):
    path = tmp_path / "audit.jsonl"
    clock = day("2026-03-01T23:59:59")
    one, two = AuditTrail(path, clock=clock), AuditTrail(path, clock=clock)
    one.record("a", "ok")
    two.record("b", "ok")
    clock.advance(seconds=2)
    one.record("c", "ok")  # rotates
    two.record("d", "ok")  # finds the new file and writes on after c
    one.close()
    two.close()
    assert sorted(file.name for file in tmp_path.glob("audit*.jsonl")) == [
        "audit.2026-03-01.jsonl", "audit.checkpoints.jsonl", "audit.jsonl"]
    assert [event["step"] for event in iter_events(path)] == ["a", "b", "c", "d"]
    assert verify(path).ok


def test_a_day_rotated_twice_gets_a_second_file_kept_in_order(tmp_path):
    path = tmp_path / "audit.jsonl"
    clock = day("2026-03-01T23:59:58")
    AuditTrail(path, clock=clock).record("a", "ok")
    path.rename(path.with_name("audit.2026-03-01.jsonl"))  # rotated by a writer that then died before writing
    late = AuditTrail(path, clock=clock)  # a worker whose clock is still on 1 March writes the new file's first line
    late.record("b", "ok")
    clock.advance(seconds=5)
    late.record("c", "ok")
    late.close()
    assert sorted(file.name for file in tmp_path.glob("audit.2026*")) == ["audit.2026-03-01.1.jsonl", "audit.2026-03-01.jsonl"]
    assert [event["step"] for event in iter_events(path)] == ["a", "b", "c"]
    assert verify(path).ok
