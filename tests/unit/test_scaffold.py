"""A Continuous Improvement engineer's path: `clerk new bot` and `clerk new process` in a copy of the repository
make a bot, a stub application and a process that pass their own tests at once (real Chromium, a real
Prefect server, the mail intake), without editing any file outside their own folders and config."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OWN = ("bots/permits/", "sandbox/permits/", "tests/apps/", "tests/processes/", "config/processes/parking_permit.yaml",
       "config/forms/parking_permit.yaml", "flows/parking_permit.py", "runbooks/parking-permit.md")

pytestmark = [pytest.mark.browser, pytest.mark.prefect]


def copy_of_the_repository(target: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def fingerprints(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in root.rglob("*") if path.is_file() and "__pycache__" not in path.parts}


def run(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "COLUMNS": "200"}
    for name in ("PREFECT_API_URL", "CLERK_CONFIG"):
        env.pop(name, None)
    return subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout)


def test_a_new_bot_and_process_pass_their_own_tests_and_run_through_the_intake(tmp_path):
    repo = copy_of_the_repository(tmp_path / "clerk")
    before = fingerprints(repo)

    made_bot = run(repo, "-m", "flows.cli", "new", "bot", "permits", "--title", "Permits")
    made_process = run(repo, "-m", "flows.cli", "new", "process", "parking_permit", "--app", "permits")
    assert made_bot.returncode == 0, made_bot.stderr
    assert made_process.returncode == 0, made_process.stderr

    after = fingerprints(repo)
    assert {name for name in before if after.get(name) != before[name]} == set(), "no existing file was edited"
    new = sorted(set(after) - set(before))
    assert new and all(name.startswith(OWN) for name in new), new
    assert "flows/parking_permit.py" in new and "bots/permits/bot.py" in new and "sandbox/permits/server.py" in new

    lint = subprocess.run([str(Path(sys.executable).with_name("ruff")), "check", *new_python(new)], cwd=repo,
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    checked = run(repo, "-m", "flows.cli", "check-config")
    assert checked.returncode == 0 and "process parking_permit: Parking permit" in checked.stdout, checked.stdout

    tests = run(repo, "-m", "pytest", "tests/apps/permits", "tests/processes/parking_permit", "-q", "-p",
                "no:cacheprovider", timeout=900)
    assert tests.returncode == 0, tests.stdout[-4000:]
    assert "6 passed" in tests.stdout, tests.stdout[-2000:]

    again = run(repo, "-m", "flows.cli", "new", "bot", "permits")
    assert again.returncode == 2 and "exists already" in again.stderr, "it never overwrites"


def new_python(names: list[str]) -> list[str]:
    return [name for name in names if name.endswith(".py")]


def test_a_process_needs_a_bot_made_first(tmp_path):
    from connectors.errors import ConfigError
    from flows.scaffold import new_process

    (tmp_path / "bots" / "casebook").mkdir(parents=True)
    with pytest.raises(ConfigError, match="no bot for 'permits'"):
        new_process("parking_permit", "permits", root=tmp_path)
    with pytest.raises(ConfigError, match="not a process name"):
        new_process("Parking-Permit", "permits", root=tmp_path)
