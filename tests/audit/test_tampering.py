"""Every kind of tampering fails verify, and verify names the line to blame. An untouched trail verifies."""

import hashlib
import json

import pytest

from connectors.audit_verify import verify
from tests.audit.trails import (
    KEY,
    checkpoints_of,
    edit,
    lines,
    rechain,
    write_checkpoints,
    write_lines,
    write_seal,
    write_trail,
)


@pytest.fixture
def trail(tmp_path):
    """Ten item events (lines 1-10) and a signed checkpoint (line 11, seq 11)."""
    path = tmp_path / "audit.jsonl"
    write_trail(path, events=10)
    return path


def failure_at(path, key=KEY):
    report = verify(path, key)
    assert not report.ok, "verify passed a tampered trail"
    return report.failure.file.name, report.failure.line, report.failure.reason


def test_an_untouched_trail_verifies_with_every_checkpoint_authenticated(trail):
    report = verify(trail, KEY)
    assert report.ok, report.failure
    assert (report.events, report.last_seq, report.checkpoints_checked, report.checkpoints_authenticated) == (11, 11, 1, 1)
    assert report.warnings == [] and report.events_after_last_checkpoint == 0


def test_the_first_line_chains_from_genesis_and_each_line_from_the_exact_bytes_before_it(trail):
    content = lines(trail)
    assert json.loads(content[0])["prev"] == "0" * 64
    for before, line in zip(content, content[1:], strict=False):
        assert json.loads(line)["prev"] == hashlib.sha256(before.rstrip(b"\n")).hexdigest()


def test_an_edited_value_is_named(trail):
    content = lines(trail)
    content[4] = edit(content[4], b'"number":5,', b'"number":50,')
    write_lines(trail, content)
    assert failure_at(trail)[:2] == ("audit.jsonl", 5)
    assert "altered" in failure_at(trail)[2]


def test_an_edited_last_line_is_caught_by_the_checkpoint(trail):
    content = lines(trail)
    content[-1] = edit(content[-1], b'"outcome":"written"', b'"outcome":"skipped"')
    write_lines(trail, content)
    assert failure_at(trail)[:2] == ("audit.jsonl", 11)


def test_a_deleted_line_is_named_where_it_was(trail):
    content = lines(trail)
    del content[4]
    write_lines(trail, content)
    file, line, reason = failure_at(trail)
    assert (file, line) == ("audit.jsonl", 5)
    assert "deleted" in reason and "seq 5..5" in reason


def test_an_inserted_line_is_named_even_when_the_forger_chained_it_and_gave_it_the_next_seq(trail):
    content = lines(trail)
    forged = json.loads(content[4])
    forged["prev"] = hashlib.sha256(content[3].rstrip(b"\n")).hexdigest()
    forged["outcome"] = "approved by nobody"
    content.insert(4, json.dumps(forged).encode() + b"\n")
    write_lines(trail, content)
    file, line, reason = failure_at(trail)
    assert (file, line) == ("audit.jsonl", 5)
    assert "inserted" in reason


def test_an_inserted_copy_of_another_line_is_named(trail):
    content = lines(trail)
    content.insert(6, content[2])
    write_lines(trail, content)
    file, line, reason = failure_at(trail)
    assert (file, line) == ("audit.jsonl", 7)
    assert "inserted" in reason


def test_two_swapped_lines_are_named(trail):
    content = lines(trail)
    content[4], content[5] = content[5], content[4]
    write_lines(trail, content)
    file, line, reason = failure_at(trail)
    assert (file, line) == ("audit.jsonl", 5)
    assert "swapped" in reason


def test_a_cut_off_tail_is_caught_by_the_last_checkpoint(trail):
    write_lines(trail, lines(trail)[:8])
    file, line, reason = failure_at(trail)
    assert (file, line) == ("audit.jsonl", 9)
    assert "3 line(s) were cut off the end" in reason


def test_a_line_cut_mid_write_is_named(trail):
    trail.write_bytes(trail.read_bytes()[:-20])
    assert failure_at(trail)[:2] == ("audit.jsonl", 11)


def test_a_file_re_chained_by_a_forger_fails_at_the_checkpoint_it_no_longer_matches(trail):
    content = lines(trail)
    content[4] = edit(content[4], b'"number":5,', b'"number":50,')
    write_lines(trail, rechain(content, start=4))
    file, line, reason = failure_at(trail)
    assert (file, line) == ("audit.jsonl", 11)
    assert "re-chained" in reason


def test_a_re_chained_file_with_rewritten_checkpoints_fails_their_hmac(trail):
    content = lines(trail)
    content[4] = edit(content[4], b'"number":5,', b'"number":55,')
    content = rechain(content)
    write_lines(trail, content)
    entry = checkpoints_of(trail)[0]
    entry["head"] = hashlib.sha256(content[-1].rstrip(b"\n")).hexdigest()
    write_checkpoints(trail, [entry])
    write_seal(trail, entry)
    file, line, reason = failure_at(trail)
    assert (file, line) == ("audit.checkpoints.jsonl", 1)
    assert "HMAC" in reason
    # The forger cannot sign, so stripping the signature fails too, when verify has the key...
    write_checkpoints(trail, [entry | {"hmac": None}])
    write_seal(trail, entry | {"hmac": None})
    assert "unsigned" in failure_at(trail)[2]
    # ...and without the key the checkpoints are only consistency checks, which verify says out loud.
    report = verify(trail)
    assert report.ok and "not authenticated" in report.warnings[0]


def test_emptied_checkpoints_leave_the_seal_ahead_of_them(trail):
    trail.with_name("audit.checkpoints.jsonl").write_text("")
    file, line, reason = failure_at(trail)
    assert (file, line) == ("audit.seal.json", None)
    assert "the seal records checkpoint 1 (seq 11" in reason and "ends at checkpoint 0" in reason


def test_a_deleted_checkpoint_and_seal_are_noticed_at_the_event_that_recorded_the_checkpoint(trail):
    trail.with_name("audit.checkpoints.jsonl").write_text("")
    trail.with_name("audit.seal.json").unlink()
    file, line, reason = failure_at(trail)
    assert (file, line) == ("audit.jsonl", 11)
    assert reason == "records a checkpoint that is missing from audit.checkpoints.jsonl"


def test_a_deleted_checkpoints_file_is_noticed(trail):
    trail.with_name("audit.checkpoints.jsonl").unlink()
    assert failure_at(trail)[:2] == ("audit.seal.json", None)
    trail.with_name("audit.seal.json").unlink()
    assert failure_at(trail)[:2] == ("audit.jsonl", 11)


def test_an_altered_checkpoint_fails_its_hmac(trail):
    checkpoints = trail.with_name("audit.checkpoints.jsonl")
    entry = json.loads(checkpoints.read_bytes())
    checkpoints.write_text(json.dumps(entry | {"seq": 7}) + "\n")
    file, line, reason = failure_at(trail)
    assert (file, line) == ("audit.checkpoints.jsonl", 1)
    assert "HMAC" in reason


def test_an_altered_checkpoint_without_a_key_still_fails_against_the_trail(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_trail(path, key=None)
    checkpoints = path.with_name("audit.checkpoints.jsonl")
    entry = json.loads(checkpoints.read_bytes())
    checkpoints.write_text(json.dumps(entry | {"head": "f" * 64}) + "\n")
    assert failure_at(path, key=None) == ("audit.seal.json", None, (
        "the seal does not match checkpoint 1 (audit.checkpoints.jsonl:1): one of them was altered"))
    write_seal(path, entry | {"head": "f" * 64})
    assert failure_at(path, key=None)[:2] == ("audit.jsonl", 11)


def test_a_malformed_checkpoint_is_named(trail):
    checkpoints = trail.with_name("audit.checkpoints.jsonl")
    checkpoints.write_text(checkpoints.read_text() + '{"seq": "eleven"}\n')
    assert failure_at(trail)[:2] == ("audit.checkpoints.jsonl", 2)


def test_a_checkpoint_signed_with_another_key_fails(trail):
    file, line, reason = failure_at(trail, key=b"another-key-0123456789abcdef")
    assert (file, line) == ("audit.checkpoints.jsonl", 1)
    assert "key" in reason


def test_a_line_that_is_not_json_is_named(trail):
    content = lines(trail)
    content[2] = b"this is not json\n"
    write_lines(trail, content)
    assert failure_at(trail)[:2] == ("audit.jsonl", 3)


def test_an_edited_seq_is_named(trail):
    content = lines(trail)
    content[2] = edit(content[2], b'"seq":3,', b'"seq":30,')
    write_lines(trail, content)
    assert failure_at(trail)[:2] == ("audit.jsonl", 3)


def test_a_missing_trail_fails(tmp_path):
    report = verify(tmp_path / "audit.jsonl", KEY)
    assert not report.ok and "no audit trail" in report.failure.reason
