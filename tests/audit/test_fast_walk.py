"""Verify checks the chain on raw bytes, a block at a time, and parses only the lines no signed checkpoint
vouches for; whatever that walk does not expect goes to the line-by-line walk, so the verdict is the same."""

import hashlib
import json

import pytest

import connectors.audit_verify as audit_verify
from connectors.audit import AuditTrail
from connectors.audit_chain import checkpoint_mac
from connectors.audit_verify import verify
from tests.audit.trails import KEY, checkpoints_of, edit, lines, write_checkpoints, write_lines, write_seal


@pytest.fixture
def trail(tmp_path):
    """Forty events over four items (each sealed), a checkpoint event, and four unsealed events at the end."""
    path = tmp_path / "audit.jsonl"
    writer = AuditTrail(path, key=KEY)
    for number in range(4):
        item = writer.bind(run="run-1", reference=f"CLK-{number}")
        for step in range(10):
            item("step", "ok", number=step, note="x" * (step * 7))
        item.flush()
    writer.checkpoint("run-1")
    for step in range(4):
        writer.record("later", "ok", number=step)
    return path


@pytest.mark.parametrize("block", [64, 1000, 4096])
def test_blocks_that_cut_lines_anywhere_give_the_same_verdicts(trail, monkeypatch, block):
    whole = verify(trail, KEY)
    assert whole.ok and (whole.events, whole.events_after_last_checkpoint) == (45, 4)
    content = lines(trail)
    monkeypatch.setattr(audit_verify, "_BLOCK", block)  # our own constant: lines now straddle blocks
    report = verify(trail, KEY)
    assert (report.ok, report.events, report.last_counter, report.warnings) == (True, 45, 5, whole.warnings)
    trail.with_name("audit.checkpoints.jsonl").write_bytes(b"".join(
        line for line in trail.with_name("audit.checkpoints.jsonl").read_bytes().splitlines(keepends=True)
        if json.loads(line)["counter"] != 5))
    write_seal(trail, checkpoints_of(trail)[-1])
    failure = verify(trail, KEY).failure  # the checkpoint event at line 41 has lost its checkpoint
    assert (failure.file.name, failure.line, failure.reason) == (
        "audit.jsonl", 41, "records a checkpoint that is missing from audit.checkpoints.jsonl")
    content[20] = edit(content[20], b'"number":0', b'"number":9')
    write_lines(trail, content)
    failure = verify(trail, KEY).failure
    assert (failure.file.name, failure.line) == ("audit.jsonl", 21) and failure.reason.startswith("altered")


def test_lines_in_another_layout_are_walked_line_by_line(tmp_path):
    """A trail rewritten with spaces after the colons (and signed again with the key) is still a valid trail."""
    path = tmp_path / "audit.jsonl"
    writer = AuditTrail(path, key=KEY)
    writer.record("step", "ok", detail={"step": "audit_checkpoint"})  # a nested look-alike of a checkpoint event
    writer.record("step", "ok")
    writer.close()
    prev, rewritten = "0" * 64, []
    for raw in lines(path):
        event = json.loads(raw) | {"prev": prev}
        line = json.dumps(event).encode()
        rewritten.append(line + b"\n")
        prev = hashlib.sha256(line).hexdigest()
    write_lines(path, rewritten)
    entry = checkpoints_of(path)[0] | {"head": prev}
    entry["hmac"] = checkpoint_mac(entry, KEY)
    write_checkpoints(path, [entry])
    write_seal(path, entry)
    report = verify(path, KEY)
    assert report.ok, report.failure
    assert report.events == 2


def test_without_a_key_every_line_is_parsed(tmp_path):
    """No checkpoint vouches for anything then: a forger's line that is not JSON is named, chain or no chain."""
    path = tmp_path / "audit.jsonl"
    writer = AuditTrail(path)
    for number in range(3):
        writer.record("step", "ok", number=number)
    writer.close()
    content = lines(path)
    content[1] = b'{"seq":2,"this is not JSON","prev":"' + json.loads(content[1])["prev"].encode() + b'"}\n'
    content[2] = edit(content[2], json.loads(content[2])["prev"].encode(),
                      hashlib.sha256(content[1].rstrip(b"\n")).hexdigest().encode())
    write_lines(path, content)
    entry = checkpoints_of(path)[0] | {"head": hashlib.sha256(content[2].rstrip(b"\n")).hexdigest()}
    write_checkpoints(path, [entry])
    write_seal(path, entry)
    failure = verify(path).failure
    assert (failure.file.name, failure.line, failure.reason) == (
        "audit.jsonl", 2, "not a JSON object: the line was edited or damaged")


def test_a_trail_as_the_writer_wrote_it_is_verified_without_the_line_by_line_walk(trail, monkeypatch):
    def line_by_line(*_args):
        raise AssertionError("the fast walk fell back to the line-by-line walk")

    monkeypatch.setattr(audit_verify, "_walk", line_by_line)  # our own function: only the fast walk may run
    assert verify(trail, KEY).ok
    assert verify(trail).ok  # without a key, every line parsed, still in blocks
