"""The threaded HTTP server under every sandbox app: one request pipeline, tracked connections, a clean stop.

Each request goes through the same steps (:meth:`AppServer.respond`): the configured latency; static
files (never faulted); "System busy" at the configured rate, decided before anything else so that a
busy POST changes nothing; the routing table; the session check for non-public routes; the route. A
bug in a route answers with the app's own error page and the server keeps serving.

An app subclasses :class:`AppServer`, gives it a :class:`~sandbox.kit.http.Routes` table, its settings
type, users and store (``open_store``), and answers the hooks (``busy``, ``not_found``, ``server_error``,
``authorise``). Server-rendered apps log in at ``/`` with ``front_door``, ``begin_session``,
``session_or_login`` and ``end_session``.
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

from sandbox.kit.faults import Faults
from sandbox.kit.http import Reply, Request, Routes, redirect
from sandbox.kit.sessions import Session, Sessions, clear_cookie, set_cookie

STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}

S = TypeVar("S", bound=Session)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # keep-alive connections are shut down by AppServer.stop instead
    app: AppServer

    def handle_error(self, request, client_address) -> None:
        """Browsers drop connections all the time; only log, never print tracebacks to stderr."""
        self.app.log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections end after this
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.app._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.app._track(self.connection, add=False)

    def version_string(self) -> str:
        return self.server.app.server_version

    def log_message(self, format: str, *args) -> None:
        self.server.app.log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        app = self.server.app
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=method,
            path=url.path,
            target=self.path,
            query={k: v[-1] for k, v in parse_qs(url.query).items()},
            body=self.rfile.read(length) if length else b"",
            headers=self.headers,
        )
        reply = app.respond(request)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        static = request.path.startswith("/static/")
        self.send_header("Cache-Control", "max-age=3600" if static else "no-store")
        for name, value in reply.headers:
            self.send_header(name, value)
        if app.stopping:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(reply.body)


class AppServer(Generic[S]):
    """A sandbox app on a loopback port (``port=0``: a free one) with its SQLite file at ``db_path``.

    ``config`` (default: the app's defaults) may be changed while it runs; ``users`` maps user names to
    passwords (default: the app's ``default_users``).
    """

    name: ClassVar[str]  # "Casebook": for the log, the thread and messages
    server_version: ClassVar[str]  # the Server header, e.g. "Casebook/4.2"
    cookie: ClassVar[str]  # the session cookie's name
    routes: ClassVar[Routes]
    config_type: ClassVar[type]
    default_users: ClassVar[dict[str, str]]
    static_dir: ClassVar[Path | None] = None  # files served under /static/
    session_type: ClassVar[type[Session]] = Session

    def __init__(
        self,
        db_path: str | Path,
        config: Any = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        users: dict[str, str] | None = None,
    ) -> None:
        self.config = config if config is not None else self.config_type()
        self.users = dict(self.default_users if users is None else users)
        self.log = logging.getLogger(f"sandbox.{self.name.lower()}")
        self.store = self.open_store(Path(db_path))
        self.sessions: Sessions[S] = Sessions(self.session_type)  # type: ignore[arg-type]
        self.faults = Faults(self.config.seed)
        self.stopping = False
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        try:
            self._httpd = _HTTPServer((host, port), _Handler)
        except OSError:  # the port is taken: do not leave the database open
            self.store.close()
            raise
        self._httpd.app = self
        self._thread: threading.Thread | None = None

    # --- the request pipeline -------------------------------------------------------------------

    def respond(self, request: Request) -> Reply:
        self.faults.delay(self.config)
        try:
            return self._dispatch(request)
        except Reply as early:
            return early
        except Exception:  # a bug in the sandbox: answer like the real system would, and keep serving
            self.log.exception("%s error handling %s %s", self.name.lower(), request.method, request.path)
            return self.server_error(request)

    def _dispatch(self, request: Request) -> Reply:
        if self.is_static(request.path):
            return self.static_file(request.path)
        if self.faults.busy(self.config):  # decided before anything else, so a busy POST changes nothing
            return self.busy(request)
        route = self.routes.find(request.method, request.path)
        if route is None:
            return self.not_found(request)
        session = None if route.public else self.authorise(request)
        return route.handler(self, request, session)

    def is_static(self, path: str) -> bool:
        return path.startswith("/static/") or path == "/favicon.ico"

    def static_file(self, path: str) -> Reply:
        file = self.static_dir / path.rsplit("/", 1)[-1] if self.static_dir else None
        if file is None or path == "/favicon.ico" or file.suffix not in STATIC_TYPES or not file.is_file():
            return Reply(HTTPStatus.NOT_FOUND, b"", "text/plain")
        return Reply(HTTPStatus.OK, file.read_bytes(), STATIC_TYPES[file.suffix])

    def lookup_session(self, request: Request) -> S | str:
        """The caller's live session, or ``Sessions.MISSING`` / ``Sessions.EXPIRED``."""
        return self.sessions.lookup(request.cookie(self.cookie), self.config.session_timeout_s)

    def front_door(self, request: Request) -> tuple[S | None, str, list[tuple[str, str]]]:
        """For ``GET /``: the caller's live session; else None, why they see the login page ("expired",
        "loggedout" or "") and the headers that page needs (one clearing a dead cookie)."""
        found = self.lookup_session(request)
        if not isinstance(found, str):
            return found, "", []
        reason = ""
        if found == Sessions.EXPIRED or request.query.get("expired"):
            reason = "expired"
        elif request.query.get("loggedout"):
            reason = "loggedout"
        return None, reason, [clear_cookie(self.cookie)] if found == Sessions.EXPIRED else []

    def session_or_login(self, request: Request) -> S:
        """The caller's live session, or ``raise`` a redirect to ``/`` (``/?expired=1`` when it expired)."""
        found = self.lookup_session(request)
        if not isinstance(found, str):
            return found
        if found == Sessions.EXPIRED:
            raise redirect("/?expired=1", [clear_cookie(self.cookie)])
        raise redirect("/")

    def begin_session(self, request: Request, user: str, **state: object) -> tuple[S, tuple[str, str]]:
        """A new session for ``user`` (ending the caller's old one) and the header that sets its cookie."""
        self.sessions.end(request.cookie(self.cookie))
        session = self.sessions.create(user, **state)
        return session, set_cookie(self.cookie, session.sid)

    def end_session(self, session: S) -> tuple[str, str]:
        """End ``session``; the header that clears its cookie."""
        self.sessions.end(session.sid)
        return clear_cookie(self.cookie)

    def password_matches(self, user: str, password: str) -> bool:
        expected = self.users.get(user)
        return expected is not None and secrets.compare_digest(expected.encode(), password.encode())

    # --- what each app answers ------------------------------------------------------------------

    def authorise(self, request: Request) -> S:
        """The caller's live session for a non-public route, or ``raise`` the reply that sends them to log in."""
        raise NotImplementedError

    def busy(self, request: Request) -> Reply:
        raise NotImplementedError

    def not_found(self, request: Request) -> Reply:
        raise NotImplementedError

    def server_error(self, request: Request) -> Reply:
        raise NotImplementedError

    def open_store(self, db_path: Path) -> Any:
        """The app's store on ``db_path`` (``self.config`` is set by then); closed when the server stops."""
        raise NotImplementedError

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=self.name.lower(),
                daemon=True,
            )
            self._thread.start()
            self.log.info("%s listening on %s", self.name, self.url)
        return self

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()
        with self._connections_lock:
            open_connections = list(self._connections)
        for connection in open_connections:  # end idle keep-alive connections still held by browsers
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.store.close()

    def expire_sessions(self) -> None:
        """Make every current session idle-expired, as if ``session_timeout_s`` had passed."""
        self.sessions.expire_all()

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            (self._connections.add if add else self._connections.discard)(connection)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def serve_until_interrupted(server: AppServer, db_path: Path) -> None:
    """Run ``server`` in the foreground until Ctrl-C (``clerk sandbox <app>``)."""
    server.start()
    names = ", ".join(sorted(server.users))
    print(f"{server.name} is running at {server.url} (users: {names}; database: {db_path}). Press Ctrl-C to stop.")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print(f"{server.name} stopped.")
