"""A writer killed with SIGKILL leaves an honest trail: verify warns about its unsealed tail and passes, a new
writer seals that tail and writes on; a tail cut back past a seal still fails."""

import pytest

from connectors.audit import AuditTrail
from connectors.audit_verify import verify
from tests.audit.trails import KEY, checkpoints_of, lines, write_lines
from tests.audit.writers import killed, write_and_hang, write_flat_out


@pytest.fixture
def crashed(tmp_path):
    """A writer killed after 5 sealed events and 3 unsealed ones."""
    path = tmp_path / "audit.jsonl"
    killed(write_and_hang, str(path), 5, 3)
    return path


def test_a_killed_writer_leaves_an_unsealed_tail_that_verify_reports_as_a_crash(crashed):
    report = verify(crashed, KEY)
    assert report.ok, report.failure
    assert (report.events, report.last_counter, report.events_after_last_checkpoint) == (8, 1, 3)
    assert report.warnings == ["3 event(s) after checkpoint 1 are not sealed yet (from audit.jsonl:6): a writer is "
                               "still at work, or stopped (a crash) before sealing them; lines cut from there could "
                               "not be told"]


def test_after_a_crash_a_cut_back_past_the_seal_fails_and_a_cut_within_the_unsealed_tail_cannot_be_told(crashed):
    content = lines(crashed)
    write_lines(crashed, content[:6])  # two of the three unsealed lines: nothing recorded them anywhere
    assert verify(crashed, KEY).ok
    write_lines(crashed, content[:4])  # into the sealed part: the checkpoint says seq 5
    report = verify(crashed, KEY)
    assert (report.failure.file.name, report.failure.line) == ("audit.jsonl", 5)
    assert report.failure.reason.startswith("the trail ends at seq 4 but audit.checkpoints.jsonl:1 covers seq 5")


def test_a_new_writer_after_a_crash_seals_and_writes_on(crashed):
    trail = AuditTrail(crashed, key=KEY)
    trail.record("after", "ok")
    trail.close()
    report = verify(crashed, KEY)
    assert report.ok and report.warnings == []
    assert [c["seq"] for c in checkpoints_of(crashed)][-1] == 9


def test_a_writer_killed_at_any_moment_leaves_a_trail_that_verifies(tmp_path):
    path = tmp_path / "audit.jsonl"
    for _ in range(3):  # killed mid-event, mid-seal or mid-checkpoint: whichever it was, nothing fails
        killed(write_flat_out, str(path))
        report = verify(path, KEY)
        assert report.ok, report.failure
        assert report.events_after_last_checkpoint <= 7
    trail = AuditTrail(path, key=KEY)  # and the next writer finds nothing to refuse
    trail.record("after", "ok")
    trail.close()
    report = verify(path, KEY)
    assert report.ok and report.warnings == [], (report.failure, report.warnings)
