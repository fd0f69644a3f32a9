"""`clerk audit verify`: a summary, the first failing line named, a non-zero exit on failure."""

import shutil

import pytest
from prefect import flow
from typer.testing import CliRunner

from connectors.audit import AuditTrail
from connectors.audit_chain import hmac_keys_from_environment
from flows.audit_anchor import publish_checkpoint
from flows.cli_audit import audit_app
from tests.audit.trails import KEY, lines, write_lines, write_trail

runner = CliRunner()
KEYED = {"CLERK_AUDIT_HMAC_KEY": KEY.decode(), "CLERK_AUDIT_HMAC_PREVIOUS_KEYS": ""}
UNKEYED = {"CLERK_AUDIT_HMAC_KEY": "", "CLERK_AUDIT_HMAC_PREVIOUS_KEYS": ""}


def test_an_untouched_trail_verifies(tmp_path):
    write_trail(tmp_path / "audit.jsonl")
    result = runner.invoke(audit_app, ["verify", str(tmp_path)], env=KEYED)
    assert result.exit_code == 0, result.output
    assert "VERIFIED 11 events" in result.output and "1 authenticated" in result.output


def test_a_tampered_trail_exits_non_zero_and_names_the_line(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_trail(path)
    content = lines(path)
    del content[3]
    write_lines(path, content)
    result = runner.invoke(audit_app, ["verify", str(path)], env=KEYED)
    assert result.exit_code == 1
    assert f"FAILED at {path}:4" in result.output and "deleted" in result.output


def test_the_default_trail_comes_from_the_settings(tmp_path):
    path = tmp_path / "trail" / "audit.jsonl"
    write_trail(path)
    write_lines(path, lines(path)[:5])
    config = tmp_path / "clerk.yaml"
    config.write_text(f"audit:\n  path: {path}\n")
    result = runner.invoke(audit_app, ["verify", "--config", str(config)], env=KEYED)
    assert result.exit_code == 1
    assert f"{path}:6" in result.output and "cut off the end" in result.output


def test_without_a_key_it_warns_and_strict_makes_the_warning_fail(tmp_path):
    write_trail(tmp_path / "audit.jsonl")
    relaxed = runner.invoke(audit_app, ["verify", str(tmp_path)], env=UNKEYED)
    assert relaxed.exit_code == 0 and "not authenticated" in relaxed.output
    strict = runner.invoke(audit_app, ["verify", "--strict", str(tmp_path)], env=UNKEYED)
    assert strict.exit_code == 1 and "--strict" in strict.output


def test_a_wrong_key_fails(tmp_path):
    write_trail(tmp_path / "audit.jsonl")
    result = runner.invoke(audit_app, ["verify", str(tmp_path)], env={**KEYED, "CLERK_AUDIT_HMAC_KEY": "x" * 32})
    assert result.exit_code == 1 and "audit.checkpoints.jsonl:1" in result.output


def test_bad_settings_exit_2(tmp_path):
    result = runner.invoke(audit_app, ["verify", "--config", str(tmp_path / "missing.yaml")], env=KEYED)
    assert result.exit_code == 2 and "does not exist" in result.output


def test_keys_come_from_the_environment():
    assert hmac_keys_from_environment({}) == (None, [])
    assert hmac_keys_from_environment({"CLERK_AUDIT_HMAC_KEY": " new ", "CLERK_AUDIT_HMAC_PREVIOUS_KEYS": "a, b,"}) == (
        b"new", [b"a", b"b"])


def test_an_unsealed_tail_is_a_warning_that_strict_makes_fail(tmp_path):
    write_trail(tmp_path / "audit.jsonl")
    AuditTrail(tmp_path / "audit.jsonl", key=KEY).record("unsealed", "ok")  # never flushed: as after a crash
    relaxed = runner.invoke(audit_app, ["verify", str(tmp_path)], env=KEYED)
    assert relaxed.exit_code == 0, relaxed.output
    assert "1 event(s) after checkpoint 1 are not sealed yet" in relaxed.output
    strict = runner.invoke(audit_app, ["verify", "--strict", str(tmp_path)], env=KEYED)
    assert strict.exit_code == 1 and "--strict" in strict.output


@flow(name="publish-audit-checkpoint")
def publish_in_a_run(checkpoint: dict) -> None:
    """As the intake flow does at the end of each pass."""
    publish_checkpoint(checkpoint)


@pytest.mark.prefect
def test_against_prefect_catches_the_audit_folder_put_back_to_an_older_copy(tmp_path, prefect_api):
    folder = tmp_path / "audit"
    trail = AuditTrail(folder / "audit.jsonl", key=KEY)
    trail.record("claim", "ok")
    publish_in_a_run(trail.checkpoint("pass-1"))
    shutil.copytree(folder, tmp_path / "older")
    trail.record("claim", "ok")
    publish_in_a_run(trail.checkpoint("pass-2"))
    trail.close()
    current = runner.invoke(audit_app, ["verify", "--against-prefect", str(folder)], env=KEYED)
    assert current.exit_code == 0, current.output
    shutil.rmtree(folder)
    shutil.copytree(tmp_path / "older", folder)
    assert runner.invoke(audit_app, ["verify", str(folder)], env=KEYED).exit_code == 0  # the folder agrees with itself
    result = runner.invoke(audit_app, ["verify", "--against-prefect", str(folder)], env=KEYED)
    assert result.exit_code == 1
    assert f"FAILED at {folder / 'audit.checkpoints.jsonl'}: the checkpoint published outside the trail (counter 2, seq 4" in result.output
    assert "put back to an older copy" in result.output
