"""A trail in PostgreSQL: whatever a database administrator changes in its tables with SQL, verify fails, naming
the first bad row by its seq (or counter) and saying why, in the words the file trail's failures use."""

import hashlib
import json

import pytest

from connectors.audit import AuditTrail
from connectors.audit_chain import AuditTrailDamaged
from tests.audit.trails import KEY, edit, items, rechain, write_trail


@pytest.fixture
def trail(pg):
    """Ten item events (seq 1-10) and a signed checkpoint (seq 11)."""
    write_trail(pg.store, events=10)
    return pg


@pytest.fixture
def sealed(pg):
    """Three items of three events, each sealed at its end: checkpoints 1, 2, 3 at seq 3, 6, 9."""
    items(pg.store, 3)
    return pg


def test_an_untouched_trail_verifies_with_every_checkpoint_authenticated(trail):
    report = trail.verify()
    assert report.ok, report.failure
    assert (report.events, report.last_seq, report.checkpoints_checked, report.checkpoints_authenticated) == (11, 11, 1, 1)
    assert report.warnings == [] and report.events_after_last_checkpoint == 0
    assert [(part.schema, part.name) for part in report.files] == [(trail.schema, "audit_lines")]


def test_each_row_holds_the_exact_bytes_the_next_line_chains_from(trail):
    content = trail.lines()
    assert json.loads(content[0])["prev"] == "0" * 64
    for before, line in zip(content, content[1:], strict=False):
        assert json.loads(line)["prev"] == hashlib.sha256(before).hexdigest()
    assert [seq for (seq,) in trail.sql("SELECT seq FROM {s}.audit_lines ORDER BY seq")] == list(range(1, 12))


def test_an_updated_line_is_named(trail):
    trail.set_line(5, edit(trail.line(5), b'"number":5,', b'"number":50,'))
    assert trail.failure() == ("audit_lines", 5, "altered: its hash no longer matches the prev recorded by audit_lines seq 6")


def test_a_line_deleted_from_the_middle_is_named_where_it_was(trail):
    trail.sql("DELETE FROM {s}.audit_lines WHERE seq = 5")
    assert trail.failure() == ("audit_lines", 6, "1 line(s) deleted just before this one (seq 5..5 missing)")


def test_lines_deleted_from_the_sealed_tail_are_caught_by_the_checkpoint(trail):
    trail.sql("DELETE FROM {s}.audit_lines WHERE seq >= 9")
    assert trail.failure() == ("audit_lines", 9, (
        "the trail ends at seq 8 but audit_checkpoints counter 1 covers seq 11: 3 line(s) were cut off the end, or "
        "the trail was put back to an older copy"))


def test_a_line_deleted_from_an_unsealed_tail_cannot_be_told(trail):
    writer = AuditTrail(trail.store, key=KEY)
    writer.record("unsealed", "ok")
    writer.record("unsealed", "ok")  # never flushed: as a writer still at work, or one that crashed
    trail.sql("DELETE FROM {s}.audit_lines WHERE seq = 13")
    report = trail.verify()
    assert report.ok and report.events_after_last_checkpoint == 1
    assert report.warnings == ["1 event(s) after checkpoint 1 are not sealed yet (from audit_lines seq 12): a writer is "
                               "still at work, or stopped (a crash) before sealing them; lines cut from there could "
                               "not be told"]


def test_a_row_inserted_in_the_middle_is_named_even_when_chained_and_numbered_in(trail):
    forged = json.loads(trail.line(5))
    forged["prev"] = hashlib.sha256(trail.line(4)).hexdigest()
    forged["outcome"] = "approved by nobody"
    trail.sql("UPDATE {s}.audit_lines SET seq = -seq WHERE seq >= 5")  # make room: every later row one down
    trail.sql("UPDATE {s}.audit_lines SET seq = 1 - seq WHERE seq < 0")
    trail.sql("INSERT INTO {s}.audit_lines (seq, line, time) VALUES (5, %s, now())", (json.dumps(forged).encode(),))
    assert trail.failure() == ("audit_lines", 5, "inserted: the line after it chains from the line before it")


def test_a_row_appended_that_does_not_chain_is_named(trail):
    trail.sql("INSERT INTO {s}.audit_lines (seq, line, time) VALUES (12, %s, now())", (trail.line(3),))
    assert trail.failure() == ("audit_lines", 12, (
        "does not chain from the line before it: lines reordered, duplicated or altered"))


def test_swapped_seq_values_are_named(trail):
    trail.sql("UPDATE {s}.audit_lines SET seq = CASE seq WHEN 5 THEN -6 ELSE -5 END WHERE seq IN (5, 6)")
    trail.sql("UPDATE {s}.audit_lines SET seq = -seq WHERE seq < 0")
    assert trail.failure() == ("audit_lines", 5, "out of order: swapped with audit_lines seq 6")


def test_rows_renumbered_in_order_are_named(trail):
    trail.sql("UPDATE {s}.audit_lines SET seq = seq + 100 WHERE seq > 5")
    assert trail.failure() == ("audit_lines", 106, (
        "the row's seq is 106 but its line's is 6: the seq column was edited (rows renumbered)"))


def test_a_cut_back_to_an_earlier_checkpoint_with_the_later_checkpoint_rows_deleted_fails(sealed):
    sealed.sql("DELETE FROM {s}.audit_lines WHERE seq > 3")
    sealed.sql("DELETE FROM {s}.audit_checkpoints WHERE counter > 1")
    assert sealed.failure() == ("audit_seal", None, (
        "the seal records checkpoint 3 (seq 9, 2026-03-02T09:00:00.000+00:00) but audit_checkpoints ends at "
        "checkpoint 1: checkpoint lines were deleted from its end, and the trail may have been cut back or rolled "
        "back to match"))


def test_the_same_cut_with_the_seal_put_back_is_caught_only_against_a_published_checkpoint(sealed):
    published = sealed.checkpoints()[-1]
    first = sealed.sql("SELECT entry FROM {s}.audit_checkpoints WHERE counter = 1")[0][0]
    sealed.sql("DELETE FROM {s}.audit_lines WHERE seq > 3")
    sealed.sql("DELETE FROM {s}.audit_checkpoints WHERE counter > 1")
    sealed.sql("UPDATE {s}.audit_seal SET entry = %s", (first,))
    assert sealed.verify().ok  # the tables agree with each other: nothing inside the database can tell
    assert sealed.failure(anchor=published) == ("audit_checkpoints", None, (
        "the checkpoint published outside the trail (counter 3, seq 9, 2026-03-02T09:00:00.000+00:00) is not among "
        "the checkpoints, which end at counter 1: the trail and its checkpoints were put back to an older copy, or "
        "cut back"))


def test_a_writer_refuses_a_trail_cut_back_behind_its_checkpoints(sealed):
    sealed.sql("DELETE FROM {s}.audit_lines WHERE seq > 4")
    with pytest.raises(AuditTrailDamaged, match="ends at seq 4 but its last checkpoint covers seq 9: it was cut back"):
        AuditTrail(sealed.store, key=KEY)
    assert len(sealed.lines()) == 4  # the evidence is left as it was


def test_reordered_checkpoint_rows_are_named(sealed):
    sealed.sql("UPDATE {s}.audit_checkpoints SET counter = CASE counter WHEN 2 THEN -3 ELSE -2 END"
               " WHERE counter IN (2, 3)")
    sealed.sql("UPDATE {s}.audit_checkpoints SET counter = -counter WHERE counter < 0")
    assert sealed.failure() == ("audit_checkpoints", 2, (
        "out of order: checkpoint 2 comes after it, at audit_checkpoints counter 3"))


def test_a_forged_re_chain_without_the_key_fails_at_the_checkpoint_then_at_its_hmac(trail):
    content = [line + b"\n" for line in trail.lines()]
    content[4] = edit(content[4], b'"number":5,', b'"number":50,')
    forged = rechain(content, start=4)
    for seq in range(5, 12):
        trail.set_line(seq, forged[seq - 1].rstrip(b"\n"))
    assert trail.failure() == ("audit_lines", 11, (
        "does not match the checkpoint at audit_checkpoints counter 1 (seq 11): this line was altered, or the trail "
        "was edited and re-chained somewhere after the start"))
    # The forger rewrites the checkpoint and the seal to match: without the key, they cannot sign them.
    entry = trail.checkpoints()[0] | {"head": hashlib.sha256(forged[-1].rstrip(b"\n")).hexdigest()}
    trail.sql("UPDATE {s}.audit_checkpoints SET entry = %s", (json.dumps(entry).encode(),))
    trail.sql("UPDATE {s}.audit_seal SET entry = %s", (json.dumps(entry).encode(),))
    assert trail.failure() == ("audit_checkpoints", 1, (
        "its HMAC does not match: the checkpoint was altered, or forged without the key"))


def test_a_trail_whose_tables_are_missing_fails(pg):
    assert pg.failure() == ("audit_lines", None, "no audit trail here")


def test_deleted_checkpoint_and_seal_rows_are_noticed_at_the_event_that_recorded_the_checkpoint(trail):
    trail.sql("DELETE FROM {s}.audit_checkpoints")
    trail.sql("DELETE FROM {s}.audit_seal")
    assert trail.failure() == ("audit_lines", 11, "records a checkpoint that is missing from audit_checkpoints")


def test_a_malformed_checkpoint_row_is_named(sealed):
    sealed.sql("UPDATE {s}.audit_checkpoints SET entry = %s WHERE counter = 2", (b'{"seq": "six"}',))
    assert sealed.failure() == ("audit_checkpoints", 2, (
        "not a well-formed checkpoint (counter, seq, head, seal policy, hmac)"))
    sealed.sql("UPDATE {s}.audit_checkpoints SET entry = %s WHERE counter = 3", (b"{}",))
    with pytest.raises(AuditTrailDamaged, match=r"audit_checkpoints counter 3 does not hold a well-formed checkpoint"):
        AuditTrail(sealed.store, key=KEY)  # a writer will not chain on
