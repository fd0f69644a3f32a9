"""The `clerk` command line: configuration errors stop start-up with the file and key named."""

import subprocess
import sys
from pathlib import Path

import pytest
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


def test_run_intake_names_the_enabled_processes_when_asked_for_an_unknown_one():
    result = runner.invoke(app, ["run", "intake", "-c", str(ROOT / "config" / "clerk.example.yaml"),
                                 "--process", "parking_permit"])
    assert result.exit_code == 2
    assert "no enabled process 'parking_permit'" in result.output and "blue_badge" in result.output


def _first_page_served(app: str, db: Path) -> str:
    """Run `clerk sandbox APP` on a free port until its first page answers; that page's text."""
    import time
    import urllib.request

    from flows.prefect_server import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "flows.cli", "sandbox", app, "--port", str(port),
                               "--db", str(db)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, page = time.monotonic() + 30, ""
        while not page and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    page = response.read().decode()
            except OSError:
                time.sleep(0.1)  # the server process is still starting
        return page
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_sandbox_casebook_serves_the_login_page_on_loopback(tmp_path):
    page = _first_page_served("casebook", tmp_path / "casebook.db")
    assert "User name" in page and "Password" in page


def test_sandbox_casebook_names_a_bad_fault_knob():
    import os

    env = {**os.environ, "CASEBOOK_ERROR_RATE": "often"}
    result = subprocess.run([sys.executable, "-m", "flows.cli", "sandbox", "casebook"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "CASEBOOK_ERROR_RATE" in result.stderr


@pytest.mark.parametrize(("app", "page_text", "bad_knob"), [
    ("revenues", 'name="USERID"', "REVENUES_BATCH_WINDOW"),
    ("finance", '<script src="/static/finance.js" defer></script>', "FINANCE_TOLERANCE_PCT"),
])
def test_sandbox_commands_serve_on_loopback_and_name_a_bad_fault_knob(tmp_path, app, page_text, bad_knob):
    import os

    assert page_text in _first_page_served(app, tmp_path / f"{app}.db")
    env = {**os.environ, bad_knob: "sometimes"}
    result = subprocess.run([sys.executable, "-m", "flows.cli", "sandbox", app], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and f"{bad_knob}='sometimes' is not valid" in result.stderr


def test_check_config_stops_on_a_broken_form_definition(tmp_path):
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "blue_badge.yaml").write_text((ROOT / "config" / "forms" / "blue_badge.yaml").read_text()
                                           .replace("labels:", "lables:", 1))
    config = tmp_path / "clerk.yaml"
    config.write_text(f"documents:\n  forms_dir: {forms}\n")
    result = subprocess.run([sys.executable, "-m", "flows.cli", "check-config", "-c", str(config)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2, result.stdout + result.stderr
    message = result.stderr.replace("\n", "")
    assert f"{forms}/blue_badge.yaml" in message and "fields.title.labels" in message
