"""One local Prefect server for a run of many flows (the demo, `clerk run`, the tests, the benchmarks).

Prefect's ephemeral mode starts a server inside every process (10-20 s each) and prints tracebacks
at exit; starting one ``prefect server start`` subprocess and pointing the run at it is faster and
quieter. When ``PREFECT_API_URL`` is already set (a council's own Prefect server), nothing is started.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from connectors.errors import SystemError

DEFAULT_HOME = Path(".clerk/prefect")
START_TIMEOUT_S = 90.0


class PrefectUnavailable(SystemError):
    code = "PREFECT_UNAVAILABLE"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prefect_cli() -> list[str]:
    beside = Path(sys.executable).with_name("prefect")
    return [str(beside)] if beside.exists() else [shutil.which("prefect") or "prefect"]


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _drain_to_server() -> None:
    """Send the logs and events still queued in this process before the server goes away."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogHandler

    with contextlib.suppress(Exception):
        APILogHandler().flush()
    with contextlib.suppress(Exception):
        EventsWorker.drain_all(timeout=10)


@contextlib.contextmanager
def local_prefect_server(home: str | Path = DEFAULT_HOME, port: int | None = None,
                         log_file: str | Path | None = None) -> Iterator[str]:
    """Start (or reuse, when PREFECT_API_URL is set) a Prefect server; yield its API URL.

    While the block runs, this process's Prefect settings point at that server.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    existing = os.environ.get("PREFECT_API_URL")
    if existing:
        yield existing
        return
    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_LOGGING_LEVEL": "WARNING"}
    log = open(log_file or home / "server.log", "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [*_prefect_cli(), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(api_url):
            if process.poll() is not None:
                raise PrefectUnavailable(f"the local Prefect server exited at start-up; see {log.name}")
            if time.monotonic() > deadline:
                raise PrefectUnavailable(f"the local Prefect server did not start in {START_TIMEOUT_S:.0f} s; see {log.name}")
            time.sleep(0.25)  # waiting for a subprocess to come up: there is nothing to auto-wait on
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            os.environ["PREFECT_API_URL"] = api_url
            try:
                yield api_url
            finally:
                _drain_to_server()
                os.environ.pop("PREFECT_API_URL", None)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
