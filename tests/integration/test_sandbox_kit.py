"""What every sandbox app gets from sandbox/kit, checked on each: the seeded "System busy" dice, a prompt stop
with a browser's keep-alive connection open, a port that is taken, and the routing table."""

from __future__ import annotations

import http.client
import socket
import time
from pathlib import Path

import pytest

from sandbox.casebook import CasebookConfig, CasebookServer
from sandbox.finance import FinanceConfig, FinanceServer
from sandbox.kit import Routes
from sandbox.revenues import RevenuesConfig, RevenuesServer
from tests.integration.sandbox_http import SandboxClient

APPS = {
    "casebook": (CasebookServer, CasebookConfig),
    "revenues": (RevenuesServer, RevenuesConfig),
    "finance": (FinanceServer, FinanceConfig),
}


@pytest.mark.parametrize("app", sorted(APPS))
def test_a_seeded_error_rate_answers_busy_in_the_same_places(tmp_path: Path, app: str) -> None:
    server_type, config_type = APPS[app]

    def statuses() -> list[int]:
        with server_type(tmp_path / f"{app}.db", config_type(error_rate=0.5, seed=7)) as server:
            client = SandboxClient(server.url)
            return [client.request("/").status for _ in range(12)]

    first = statuses()
    assert first == statuses()
    assert set(first) == {200, 503}


@pytest.mark.parametrize("app", ["revenues", "finance"])  # Casebook's own test has this too
def test_the_server_stops_promptly_despite_an_open_keep_alive_connection(tmp_path: Path, app: str) -> None:
    server = APPS[app][0](tmp_path / f"{app}.db").start()
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request("GET", "/")
    assert connection.getresponse().read()  # HTTP/1.1: the connection stays open, like a browser's
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    connection.close()


@pytest.mark.parametrize("app", sorted(APPS))
def test_a_port_in_use_is_an_error_and_leaves_nothing_open(tmp_path: Path, app: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            APPS[app][0](tmp_path / f"{app}.db", port=taken.getsockname()[1])
    with APPS[app][0](tmp_path / f"{app}.db") as again:  # the database was closed and can be opened again
        assert SandboxClient(again.url).request("/").status == 200


def test_a_route_is_registered_once() -> None:
    routes = Routes()

    @routes.get("/home")
    def home(app, request, session):
        raise AssertionError

    routes.post("/home")(home)  # the same path with another method is another route
    with pytest.raises(ValueError, match="GET /home is routed twice"):
        routes.get("/home")(home)
    assert routes.paths() == [("GET", "/home"), ("POST", "/home")]
