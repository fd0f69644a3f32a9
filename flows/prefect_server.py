"""The local Prefect server that Clerk's commands run their flows against (the demo, `clerk run`, `clerk watch`,
`clerk review`, the tests, the benchmarks).

A command gets its Prefect API in this order:

1. ``PREFECT_API_URL`` is set (a council's own Prefect server): nothing is started.
2. A long-lived local server started by ``clerk server start`` for this Prefect home is running: its pid and
   port are recorded in ``<home>/server.json``, and the command attaches to it (and leaves it running).
3. Otherwise the command starts a private ``prefect server start`` subprocess and stops it when it ends.
   Prefect's ephemeral mode would start a server inside every process (10-20 s each) and print tracebacks
   at exit; one subprocess is faster and quieter.

A server can take a minute or more to start on a busy two-core host. ``CLERK_PREFECT_START_TIMEOUT_S``
(default 180) bounds the wait; on a host where that is not enough, run one long-lived server with
``clerk server start`` so commands stop paying for the start-up at all. (Prefect's own
``prefect server start --background`` pipes the server's output to a parent that has exited and records no
port or readiness, so Clerk keeps its own record.)
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from connectors.errors import ConfigError, SystemError

DEFAULT_HOME = Path(".clerk/prefect")
DEFAULT_PORT = 4200
TIMEOUT_ENV = "CLERK_PREFECT_START_TIMEOUT_S"
DEFAULT_START_TIMEOUT_S = 180.0
RECORD_FILE = "server.json"
STOP_WAIT_S = 30.0


class PrefectUnavailable(SystemError):
    code = "PREFECT_UNAVAILABLE"


@dataclass(frozen=True)
class ServerRecord:
    """A long-lived local server started by ``clerk server start`` (``<home>/server.json``)."""

    pid: int
    port: int
    api_url: str
    log: str
    started: str

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")


def start_timeout_s() -> float:
    """How long to wait for a local server to answer: ``$CLERK_PREFECT_START_TIMEOUT_S``, else 180 s."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_START_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (0 < value < math.inf):
        raise ConfigError(f"the environment variable {TIMEOUT_ENV}={raw!r} must be a number of seconds above 0, "
                          f"e.g. 300")
    return value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prefect_cli() -> list[str]:
    """The `prefect` command of this Python environment."""
    beside = Path(sys.executable).with_name("prefect")
    return [str(beside)] if beside.exists() else [shutil.which("prefect") or "prefect"]


def answers(api_url: str) -> bool:
    """The server at ``api_url`` answers its health check."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _alive(pid: int) -> bool:
    """The process exists and has not exited (a zombie nobody has reaped yet counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _is_prefect_server(pid: int) -> bool:
    """The pid still belongs to a ``prefect server start`` (a recorded pid may have been reused since)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _alive(pid)
    return _alive(pid) and b"server" in argv and b"start" in argv and any(b"prefect" in arg for arg in argv)


def _server_env(home: Path) -> dict[str, str]:
    return {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING"}


def _spawn(home: Path, port: int, log_path: Path) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [*prefect_cli(), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=_server_env(home), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_until_answering(process: subprocess.Popen, api_url: str, timeout_s: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while not answers(api_url):
        if process.poll() is not None:
            raise PrefectUnavailable(f"the local Prefect server exited at start-up (status {process.returncode}); "
                                     f"see its log {log_path}")
        if time.monotonic() > deadline:
            raise PrefectUnavailable(
                f"the local Prefect server did not answer within {timeout_s:g} s ({TIMEOUT_ENV}). On a busy "
                f"machine raise {TIMEOUT_ENV}, or keep one server running with `clerk server start`. "
                f"Its log: {log_path}")
        time.sleep(0.25)  # waiting for a subprocess to come up: there is nothing to auto-wait on


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _drain_to_server() -> None:
    """Send the logs and events still queued in this process before the server goes away."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogHandler

    with contextlib.suppress(Exception):
        APILogHandler().flush()
    with contextlib.suppress(Exception):
        EventsWorker.drain_all(timeout=10)


# --- the long-lived server (`clerk server start|stop|status`) -------------------------------------------------

def _record_path(home: str | Path) -> Path:
    return Path(home).resolve() / RECORD_FILE


def read_record(home: str | Path = DEFAULT_HOME) -> ServerRecord | None:
    """What ``<home>/server.json`` says, whether or not that server is still running."""
    try:
        return ServerRecord(**json.loads(_record_path(home).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def running_server(home: str | Path = DEFAULT_HOME) -> ServerRecord | None:
    """The long-lived server recorded in ``home``, if its process is still running (it may not answer yet).
    A record whose process has gone is removed."""
    record = read_record(home)
    if record is None:
        return None
    if _is_prefect_server(record.pid):
        return record
    _record_path(home).unlink(missing_ok=True)
    return None


def start_server(home: str | Path = DEFAULT_HOME, port: int = DEFAULT_PORT,
                 timeout_s: float | None = None) -> tuple[ServerRecord, bool]:
    """Start a long-lived local server that outlives this process and record it in ``<home>/server.json``.

    Returns the record and whether this call started it (False: one was already running for ``home``).
    """
    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    existing = running_server(home)
    if existing:
        return existing, False
    timeout_s = timeout_s or start_timeout_s()
    api_url = f"http://127.0.0.1:{port}/api"
    log_path = home / "server.log"
    process = _spawn(home, port, log_path)
    try:
        _wait_until_answering(process, api_url, timeout_s, log_path)
    except BaseException:
        _stop(process)
        raise
    record = ServerRecord(pid=process.pid, port=port, api_url=api_url, log=str(log_path),
                          started=datetime.now(UTC).isoformat(timespec="seconds"))
    partial = home / f".{RECORD_FILE}.{os.getpid()}"
    partial.write_text(json.dumps(asdict(record), indent=2) + "\n")
    partial.replace(home / RECORD_FILE)
    return record, True


def stop_server(home: str | Path = DEFAULT_HOME) -> ServerRecord | None:
    """Stop the long-lived server recorded in ``home`` and remove its record; None when none was running."""
    record = running_server(home)
    if record is None:
        return None
    try:
        group = os.getpgid(record.pid) == record.pid  # started in a session of its own: stop its children too
    except ProcessLookupError:
        group = False
    kill = os.killpg if group else os.kill
    with contextlib.suppress(ProcessLookupError):
        kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    while _alive(record.pid) and time.monotonic() < deadline:
        time.sleep(0.2)  # not our child: there is nothing to wait on but the pid
    if _alive(record.pid):
        with contextlib.suppress(ProcessLookupError):
            kill(record.pid, signal.SIGKILL)
    _record_path(home).unlink(missing_ok=True)
    return record


# --- what every command uses -----------------------------------------------------------------------------------

@contextlib.contextmanager
def _pointing_at(api_url: str) -> Iterator[str]:
    """While the block runs, this process's Prefect settings point at ``api_url``."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        os.environ["PREFECT_API_URL"] = api_url
        try:
            yield api_url
        finally:
            _drain_to_server()
            os.environ.pop("PREFECT_API_URL", None)


@contextlib.contextmanager
def local_prefect_server(home: str | Path = DEFAULT_HOME, port: int | None = None,
                         log_file: str | Path | None = None, timeout_s: float | None = None) -> Iterator[str]:
    """Yield the API URL of the Prefect server this command should use: ``PREFECT_API_URL`` when set, else the
    long-lived server recorded in ``home``, else a private server started now and stopped at the end.

    While the block runs, this process's Prefect settings point at that server.
    """
    existing = os.environ.get("PREFECT_API_URL")
    if existing:
        yield existing
        return
    home = Path(home).resolve()
    timeout_s = timeout_s or start_timeout_s()
    shared = running_server(home)
    if shared:
        deadline = time.monotonic() + timeout_s
        while not answers(shared.api_url):
            if not _alive(shared.pid):
                raise PrefectUnavailable(f"the Clerk server recorded in {_record_path(home)} stopped; "
                                         f"see its log {shared.log}, then `clerk server start`")
            if time.monotonic() > deadline:
                raise PrefectUnavailable(
                    f"the Clerk server (pid {shared.pid}, recorded in {_record_path(home)}) did not answer at "
                    f"{shared.api_url} within {timeout_s:g} s ({TIMEOUT_ENV}); see its log {shared.log}. "
                    f"`clerk server stop` then `clerk server start` restarts it")
            time.sleep(0.25)  # a busy server: nothing to auto-wait on
        with _pointing_at(shared.api_url) as api_url:
            yield api_url
        return
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = Path(log_file) if log_file else home / "server.log"
    process = _spawn(home, port, log_path)
    try:
        _wait_until_answering(process, f"http://127.0.0.1:{port}/api", timeout_s, log_path)
        with _pointing_at(f"http://127.0.0.1:{port}/api") as api_url:
            yield api_url
    finally:
        _stop(process)
