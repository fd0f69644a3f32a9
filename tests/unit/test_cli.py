"""The `clerk` command line: configuration errors stop start-up with the file and key named."""

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def test_check_config_accepts_the_shipped_example():
    result = runner.invoke(app, ["check-config", "--config", str(ROOT / "config" / "clerk.example.yaml")])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "blue_badge" in result.output


def test_check_config_names_the_file_and_the_key(tmp_path):
    bad = tmp_path / "clerk.yaml"
    bad.write_text("casebook:\n  retries: lots\n")
    result = subprocess.run([sys.executable, "-m", "flows.cli", "check-config", "-c", str(bad)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert str(bad) in result.stderr and "casebook.retries" in result.stderr


def test_run_intake_refuses_a_missing_config_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    result = subprocess.run([sys.executable, "-m", "flows.cli", "run", "intake", "-c", str(missing)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "does not exist" in result.stderr and str(missing) in result.stderr
