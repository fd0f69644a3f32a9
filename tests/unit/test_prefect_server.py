"""The local Prefect server: commands attach to a long-lived one, start a private one otherwise, and a start
that takes too long stops with a message naming the setting and the server's log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from connectors.errors import ConfigError
from flows.prefect_server import (
    TIMEOUT_ENV,
    PrefectUnavailable,
    answers,
    free_port,
    local_prefect_server,
    read_record,
    running_server,
    start_server,
    start_timeout_s,
    stop_server,
)

pytestmark = pytest.mark.prefect
ROOT = Path(__file__).resolve().parents[2]


def servers_for(home: Path) -> list[int]:
    """The pids of every `prefect server start` process whose PREFECT_HOME is ``home``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if b"server" in argv and b"start" in argv and f"PREFECT_HOME={home}".encode() in environ and state != "Z":
            pids.append(int(proc.name))
    return pids


@pytest.fixture
def no_prefect_api(monkeypatch):
    """These tests choose the server themselves: forget the session's server for their duration."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv(TIMEOUT_ENV, raising=False)


def test_commands_attach_to_the_long_lived_server_instead_of_starting_their_own(tmp_path, no_prefect_api):
    home = (tmp_path / "prefect").resolve()
    record, started = start_server(home, free_port())
    try:
        assert started and read_record(home) == record
        for _ in range(2):  # two commands, one after the other
            with local_prefect_server(home) as api_url:
                assert api_url == record.api_url
                assert servers_for(home) == [record.pid]
            assert answers(record.api_url), "a command leaves the long-lived server running"
        assert start_server(home, free_port()) == (record, False), "a second start finds the first"
    finally:
        stopped = stop_server(home)
    assert stopped == record
    assert servers_for(home) == [] and not answers(record.api_url)
    assert read_record(home) is None and running_server(home) is None


def test_without_a_long_lived_server_a_command_starts_one_and_stops_it(tmp_path, no_prefect_api):
    home = (tmp_path / "prefect").resolve()
    with local_prefect_server(home) as api_url:
        [pid] = servers_for(home)
        assert answers(api_url)
    assert servers_for(home) == [] and not answers(api_url)
    assert read_record(home) is None, "a command's own server is not left for others"


def test_a_record_whose_server_has_gone_is_ignored_and_removed(tmp_path):
    home = tmp_path / "prefect"
    home.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (home / "server.json").write_text(
        f'{{"pid": {gone.pid}, "port": 9, "api_url": "http://127.0.0.1:9/api", "log": "x", "started": "y"}}')
    assert read_record(home).pid == gone.pid
    assert running_server(home) is None
    assert not (home / "server.json").exists()


def test_a_start_that_takes_too_long_names_the_setting_and_the_log(tmp_path, no_prefect_api, monkeypatch):
    home = (tmp_path / "prefect").resolve()
    monkeypatch.setenv(TIMEOUT_ENV, "0.001")
    with pytest.raises(PrefectUnavailable) as caught, local_prefect_server(home):
        pytest.fail("the block must not run without a server")
    message = str(caught.value)
    assert caught.value.code == "PREFECT_UNAVAILABLE"
    assert f"within 0.001 s ({TIMEOUT_ENV})" in message
    assert str(home / "server.log") in message and "clerk server start" in message
    assert servers_for(home) == [], "the server that was too slow is stopped"


def test_the_long_lived_start_has_the_same_limit_and_leaves_nothing_behind(tmp_path, no_prefect_api):
    home = (tmp_path / "prefect").resolve()
    with pytest.raises(PrefectUnavailable, match=TIMEOUT_ENV):
        start_server(home, free_port(), timeout_s=0.001)
    assert servers_for(home) == [] and read_record(home) is None


@pytest.mark.parametrize("value", ["soon", "0", "-5", "inf", "nan"])
def test_a_bad_start_limit_is_a_config_error_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv(TIMEOUT_ENV, value)
    with pytest.raises(ConfigError) as caught:
        start_timeout_s()
    assert f"{TIMEOUT_ENV}={value!r}" in str(caught.value)


def test_the_start_limit_defaults_to_three_minutes_and_follows_the_variable(monkeypatch):
    monkeypatch.delenv(TIMEOUT_ENV, raising=False)
    assert start_timeout_s() == 180
    monkeypatch.setenv(TIMEOUT_ENV, "420")
    assert start_timeout_s() == 420


def test_clerk_server_status_says_when_none_is_running(tmp_path):
    result = subprocess.run([sys.executable, "-m", "flows.cli", "server", "status", "--home", str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 1
    assert "No Clerk Prefect server is running" in result.stdout
