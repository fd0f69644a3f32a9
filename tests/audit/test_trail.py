"""The writer: the fields of every event, checkpoints and their keys, and errors in Clerk's own tree."""

import json

import pytest

from connectors.audit import AuditTrail, iter_events
from connectors.audit_chain import AuditTrailDamaged, AuditUnavailable, checkpoint_mac, key_id
from connectors.audit_seal import SealPolicy
from connectors.audit_verify import verify
from connectors.errors import ConfigError
from tests.audit.trails import KEY, day, edit, write_trail


def test_every_event_carries_the_fixed_fields_in_a_fixed_order(tmp_path):
    path = tmp_path / "audit.jsonl"
    trail = AuditTrail(path, clock=day("2026-03-02T09:15:00"))
    item = trail.bind(run="run-7", reference="CLK-1", process="blue_badge", email_id="0001.eml")
    item("claim", "ok", sender="priya.shah@council.example.gov.uk")
    item.bind(actor="j.bloggs")("approval", "approved")
    trail.record("housekeeping", "ok")
    trail.close()
    claim, approval, housekeeping = list(iter_events(path))
    assert list(claim) == ["seq", "time", "run", "item", "reference", "process", "step", "outcome", "actor", "sender",
                           "prev"]
    assert claim | {"seq": 1, "time": "2026-03-02T09:15:00.000+00:00", "run": "run-7", "item": "0001.eml",
                    "reference": "CLK-1", "process": "blue_badge", "step": "claim", "outcome": "ok",
                    "actor": "clerk-bot"} == claim
    assert approval["actor"] == "j.bloggs"  # the supervisor who decided, not the bot
    assert housekeeping | {"run": None, "item": None, "reference": None, "actor": "clerk-bot"} == housekeeping


def test_callers_cannot_set_the_chain_fields(tmp_path):
    trail = AuditTrail(tmp_path / "audit.jsonl")
    for field in ("seq", "time", "prev"):
        with pytest.raises(TypeError):
            trail.record("step", "ok", **{field: 1})
    trail.record("step", "ok")
    trail.close()
    assert [event["seq"] for event in iter_events(tmp_path / "audit.jsonl")] == [1]


def test_a_checkpoint_is_signed_written_beside_the_trail_and_returned(tmp_path):
    path = tmp_path / "audit.jsonl"
    trail = AuditTrail(path, key=KEY, clock=day("2026-03-02T17:00:00"))
    trail.record("claim", "ok")
    checkpoint = trail.checkpoint("run-9")
    trail.close()
    assert checkpoint | {"seq": 2, "file": "audit.jsonl", "time": "2026-03-02T17:00:00.000+00:00", "run": "run-9",
                         "key_id": key_id(KEY)} == checkpoint
    assert checkpoint["hmac"] == checkpoint_mac(checkpoint, KEY)
    assert json.loads(path.with_name("audit.checkpoints.jsonl").read_text()) == checkpoint
    last = list(iter_events(path))[-1]
    assert (last["seq"], last["step"], last["run"]) == (2, "audit_checkpoint", "run-9")


def test_without_a_key_checkpoints_are_unauthenticated_and_verify_says_so(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_trail(path, key=None)
    assert json.loads(path.with_name("audit.checkpoints.jsonl").read_text())["hmac"] is None
    report = verify(path)
    assert report.ok and report.checkpoints_checked == 1 and report.checkpoints_authenticated == 0
    assert "not authenticated" in report.warnings[0]
    assert not verify(path, KEY).ok  # once a key is in use, an unsigned checkpoint is a failure


def test_a_short_trail_with_no_checkpoint_is_what_a_crash_leaves_a_long_one_is_not(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_trail(path, checkpoint=False)
    path.with_name("audit.checkpoints.jsonl").unlink()  # as if the writer died before it sealed anything
    path.with_name("audit.seal.json").unlink()
    report = verify(path, KEY)
    assert report.ok and report.events_after_last_checkpoint == 10
    assert report.warnings == ["10 event(s) with no checkpoint at all are not sealed yet (from audit.jsonl:1): a "
                               "writer is still at work, or stopped (a crash) before sealing them; lines cut from "
                               "there could not be told"]
    report = verify(path, KEY, policy=SealPolicy(events=9))
    assert (report.failure.file.name, report.failure.line) == ("audit.jsonl", 1)
    assert report.failure.reason.startswith("10 event(s) with no checkpoint at all, ")
    assert "s apart: more than a crash leaves unsealed (9 events within 60 s)" in report.failure.reason


def test_after_a_key_rotation_old_checkpoints_verify_with_the_previous_key(tmp_path):
    path = tmp_path / "audit.jsonl"
    new_key = b"the-new-key-after-rotation-42"
    write_trail(path, key=KEY)
    write_trail(path, key=new_key)
    assert verify(path, new_key, previous_keys=[KEY]).ok
    report = verify(path, new_key)
    assert (report.failure.file.name, report.failure.line) == ("audit.checkpoints.jsonl", 1)
    assert "PREVIOUS_KEYS" in report.failure.reason


def test_a_short_key_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="16 bytes"):
        AuditTrail(tmp_path / "audit.jsonl", key=b"short")


def test_a_new_writer_carries_the_sequence_and_the_chain_on(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_trail(path, events=3)
    AuditTrail(path).record("later", "ok")
    assert [event["seq"] for event in iter_events(path)] == [1, 2, 3, 4, 5]
    assert verify(path, KEY).ok


def test_a_torn_last_line_stops_the_writer_instead_of_chaining_from_it(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_trail(path, events=3)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(AuditTrailDamaged, match="cut short"):
        AuditTrail(path)


def test_an_unusable_place_is_a_clerk_error(tmp_path):
    (tmp_path / "not-a-dir").write_text("")
    with pytest.raises(AuditUnavailable):
        AuditTrail(tmp_path / "not-a-dir" / "audit.jsonl")


def test_a_closed_trail_refuses_to_write(tmp_path):
    trail = AuditTrail(tmp_path / "audit.jsonl")
    trail.close()
    trail.close()
    with pytest.raises(AuditUnavailable, match="closed"):
        trail.record("late", "ok")


def test_flush_keeps_the_trail_writable_and_verifiable(tmp_path):
    trail = AuditTrail(tmp_path / "audit.jsonl")
    trail.bind(reference="CLK-1")("finish", "created")
    trail.flush()
    trail.record("next", "ok")
    trail.close()
    assert verify(tmp_path / "audit.jsonl").ok


def test_iter_events_names_a_damaged_line(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_trail(path, events=3)
    path.write_bytes(edit(path.read_bytes(), b'"seq":2,', b'"seq":2,,'))
    with pytest.raises(AuditTrailDamaged, match=r"audit.jsonl:2"):
        list(iter_events(path))


def test_a_directory_with_two_trails_must_be_named(tmp_path):
    write_trail(tmp_path / "audit.jsonl", events=1)
    write_trail(tmp_path / "other.jsonl", events=1)
    with pytest.raises(ConfigError, match="name one file"):
        verify(tmp_path)
