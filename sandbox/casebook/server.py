"""Casebook's web server: routing, sessions and the injected faults. Standard library only.

Routes (everything except ``/``, ``/login`` and static files needs a live session):

====== ======================= ==============================================================
GET    /                       the login page, or the frameset-style shell when logged in
POST   /login                  log in (the form targets ``_top``, so it works from the iframe)
GET    /logout                 log out
GET    /home                   home page (inside the iframe)
GET    /case/new[?start=1]     the current step of the New Blue Badge case wizard
POST   /case/new               submit a step (Back, Next or Save case)
GET    /case/created?ref=      "Case BB-... has been created."
GET    /case/view?ref=         "Case details"
GET    /search                 the three search forms
POST   /search                 run a search, then redirect to its first page of results
GET    /search/results?page=   one page of the last search's results
GET    /api/postcode?postcode= the address lookup the "Find address" button calls (slow on purpose)
GET    /static/<file>          style sheet and script (never faulted)
====== ======================= ==============================================================
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from sandbox.casebook import pages, validation
from sandbox.casebook.config import CasebookConfig
from sandbox.casebook.faults import Faults
from sandbox.casebook.forms import Controls, PostedForm
from sandbox.casebook.sessions import Session, Sessions
from sandbox.casebook.store import CaseStore, Criteria

log = logging.getLogger("sandbox.casebook")

DEFAULT_USERS = {"clerk-bot": "casebook"}
COOKIE = "CASEBOOK_SESSION"
STATIC_DIR = Path(__file__).with_name("static")
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "application/javascript; charset=utf-8"}

# Wizard step -> {control short name: draft key}
STEP_FIELDS: dict[int, dict[str, str]] = {
    1: {
        "ddlTitle": "title",
        "txtFirstNames": "first_names",
        "txtSurname": "surname",
        "txtDob": "date_of_birth",
        "txtNino": "ni_number",
    },
    2: {"txtPostcode": "postcode", "txtAddress1": "address_line_1", "txtAddress2": "address_line_2", "txtTown": "town"},
    3: {
        "ddlReason": "eligibility",
        "rblBadgeType": "badge_type",
        "txtBadgeNo": "existing_badge_number",
        "txtPhone": "phone",
        "txtEmail": "email",
        "txtNotes": "notes",
    },
}
STEP_RULES: dict[int, Callable[[dict[str, str], Session], list[str]]] = {
    1: lambda values, session: validation.applicant(values),
    2: lambda values, session: validation.address(values, session.looked_up),
    3: lambda values, session: validation.eligibility(values),
}


class _Reply(Exception):
    """A finished response. Routes return one; ``_session`` raises one to send the caller elsewhere."""

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "text/html; charset=utf-8",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(status)
        self.status, self.body, self.content_type, self.headers = status, body, content_type, headers or []


def _html(text: str, status: int = 200, headers: list[tuple[str, str]] | None = None) -> _Reply:
    return _Reply(status, text.encode("utf-8"), headers=headers)


def _json(data: dict, status: int = 200) -> _Reply:
    return _Reply(status, json.dumps(data).encode("utf-8"), "application/json; charset=utf-8")


def _redirect(location: str, headers: list[tuple[str, str]] | None = None) -> _Reply:
    return _Reply(HTTPStatus.SEE_OTHER, b"", headers=[("Location", location), *(headers or [])])


def _clear_cookie() -> tuple[str, str]:
    return ("Set-Cookie", f"{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # keep-alive connections are shut down by CasebookServer.stop instead
    app: CasebookServer

    def handle_error(self, request, client_address) -> None:
        """Browsers drop connections all the time; only log, never print tracebacks to stderr."""
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Casebook/4.2"
    timeout = 30  # idle keep-alive connections end after this
    server: _HTTPServer

    # --- plumbing -------------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.server.app._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.app._track(self.connection, add=False)

    def log_message(self, format: str, *args) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        app = self.server.app
        config = app.config
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        app.faults.delay(config)
        try:
            reply = self._reply(method, url.path)
        except _Reply as early:  # _session() sends the caller to the login page
            reply = early
        except Exception:  # a bug in the sandbox: answer like IIS would, and keep serving
            log.exception("casebook error handling %s %s", method, url.path)
            reply = _html(pages.error_page(), HTTPStatus.INTERNAL_SERVER_ERROR)
        self._send(reply)

    def _reply(self, method: str, path: str) -> _Reply:
        app = self.server.app
        if path.startswith("/static/") or path == "/favicon.ico":
            return self._static(path)
        if app.faults.busy(app.config):  # decided before anything else, so a busy POST changes nothing
            return self._busy(method, path)
        route = _ROUTES.get((method, path))
        if route is None:
            return _html(pages.not_found_page(path), HTTPStatus.NOT_FOUND)
        session = None if path in ("/", "/login") else self._session(api=path.startswith("/api/"))
        return route(self, session)

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        static = self.path.startswith("/static/")
        self.send_header("Cache-Control", "max-age=3600" if static else "no-store")
        for name, value in reply.headers:
            self.send_header(name, value)
        if self.server.app.stopping:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(reply.body)

    def _static(self, path: str) -> _Reply:
        name = path.rsplit("/", 1)[-1]
        file = STATIC_DIR / name
        if path == "/favicon.ico" or file.suffix not in STATIC_TYPES or not file.is_file():
            return _Reply(HTTPStatus.NOT_FOUND, b"", "text/plain")
        return _Reply(HTTPStatus.OK, file.read_bytes(), STATIC_TYPES[file.suffix])

    def _busy(self, method: str, path: str) -> _Reply:
        if path.startswith("/api/"):
            return _json({"found": False, "message": f"{pages.BUSY_TEXT}."}, HTTPStatus.SERVICE_UNAVAILABLE)
        retry = self.path if method == "GET" else ("/" if path == "/login" else "/home")
        return _html(pages.busy_page(retry), HTTPStatus.SERVICE_UNAVAILABLE)

    def _cookie(self) -> str | None:
        jar = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie") or "")
        except Exception:  # a malformed header counts as no cookie
            return None
        morsel = jar.get(COOKIE)
        return morsel.value if morsel else None

    def _session(self, *, api: bool = False) -> Session:
        """The caller's live session, or a reply sending them to the login page."""
        app = self.server.app
        found = app.sessions.lookup(self._cookie(), app.config.session_timeout_s)
        if isinstance(found, Session):
            return found
        if api:
            raise _json({"found": False, "message": pages.EXPIRED_TEXT}, HTTPStatus.UNAUTHORIZED)
        if found == Sessions.EXPIRED:
            raise _redirect("/?expired=1", [_clear_cookie()])
        raise _redirect("/")

    # --- login, shell, home ---------------------------------------------------------------------

    def get_root(self, _: None) -> _Reply:
        app = self.server.app
        found = app.sessions.lookup(self._cookie(), app.config.session_timeout_s)
        if isinstance(found, Session):
            motd = found.show_motd and app.config.popup
            found.show_motd = False  # once per login
            return _html(pages.shell_page(found.user, motd=motd))
        info = ""
        if found == Sessions.EXPIRED or self.query.get("expired"):
            info = pages.EXPIRED_TEXT
        elif self.query.get("loggedout"):
            info = "You have logged out."
        headers = [_clear_cookie()] if found == Sessions.EXPIRED else []
        return _html(pages.login_page(Controls(), info=info), headers=headers)

    def post_login(self, _: None) -> _Reply:
        app = self.server.app
        form = PostedForm(self.body)
        user, password = form.get("txtUserName"), form.get("txtPassword")
        expected = app.users.get(user)
        if expected is None or not secrets.compare_digest(expected.encode(), password.encode()):
            log.info("casebook login refused")
            return _html(pages.login_page(Controls(), error="Invalid user name or password."))
        app.sessions.end(self._cookie())
        session = app.sessions.create(user, show_motd=True)
        cookie = f"{COOKIE}={session.sid}; Path=/; HttpOnly; SameSite=Lax"
        return _redirect("/", [("Set-Cookie", cookie)])

    def get_logout(self, session: Session) -> _Reply:
        self.server.app.sessions.end(session.sid)
        return _redirect("/?loggedout=1", [_clear_cookie()])

    def get_home(self, session: Session) -> _Reply:
        return _html(pages.home_page(session.user, self.server.app.store.count()))

    # --- new Blue Badge case --------------------------------------------------------------------

    def get_new_case(self, session: Session) -> _Reply:
        if self.query.get("start"):
            session.reset_draft()
        return _html(pages.new_case_step(session.step, Controls(), session.draft, []))

    def post_new_case(self, session: Session) -> _Reply:
        form = PostedForm(self.body)
        step = session.step
        if form.hidden("__STEP") != str(step):  # a stale or replayed form: show where the case really is
            return _redirect("/case/new")
        values = {key: form.get(short) for short, key in STEP_FIELDS.get(step, {}).items()}
        if form.pressed("btnBack") and step > 1:
            session.draft.update(values)
            session.step = step - 1
            return _redirect("/case/new")
        if step == 4:
            if not form.pressed("btnSave"):
                return _redirect("/case/new")
            record = dict(session.draft)
            record["eligibility"] = validation.ELIGIBILITY[record["eligibility"]]
            reference = self.server.app.store.create(record, created_by=session.user)
            session.reset_draft()
            log.info("casebook case %s created", reference)
            return _redirect(f"/case/created?ref={quote(reference)}")
        errors = STEP_RULES[step](values, session)
        if errors:
            return _html(pages.new_case_step(step, Controls(), {**session.draft, **values}, errors))
        session.draft.update(_normalised(values))
        session.step = step + 1
        return _redirect("/case/new")

    def get_case_created(self, session: Session) -> _Reply:
        reference = self.query.get("ref", "")
        case = self.server.app.store.get(reference)
        if case is None:
            return _html(pages.case_missing_page(reference))
        return _html(pages.confirmation_page(case["case_reference"]))

    def get_case_view(self, session: Session) -> _Reply:
        reference = self.query.get("ref", "")
        case = self.server.app.store.get(reference)
        return _html(pages.case_view_page(case) if case else pages.case_missing_page(reference))

    def get_postcode(self, session: Session) -> _Reply:
        Faults.postcode_delay(self.server.app.config)
        postcode = validation.normalise_postcode(self.query.get("postcode", ""))
        if postcode is None:
            return _json({"found": False, "message": "Postcode not recognised."})
        session.looked_up.add(postcode)
        return _json({"found": True, "postcode": postcode, "town": validation.town_for(postcode)})

    # --- search ---------------------------------------------------------------------------------

    def get_search(self, session: Session) -> _Reply:
        return _html(pages.search_page(Controls(), {}, []))

    def post_search(self, session: Session) -> _Reply:
        form = PostedForm(self.body)
        values = {
            "reference": form.get("txtRef"),
            "surname": form.get("txtSurname"),
            "date_of_birth": form.get("txtDob"),
            "notes": form.get("txtNotes"),
        }
        errors: list[str] = []
        criteria = None
        if form.pressed("btnByRef"):
            if not values["reference"]:
                errors.append("Case reference is required.")
            criteria = Criteria(by="reference", reference=values["reference"])
        elif form.pressed("btnByName"):
            born = validation.parse_date(values["date_of_birth"])
            if not values["surname"]:
                errors.append("Surname is required.")
            if born is None:
                errors.append("Date of birth must be a real date in the format DD/MM/YYYY.")
            dob = born.strftime("%d/%m/%Y") if born else ""
            criteria = Criteria(by="applicant", surname=values["surname"], date_of_birth=dob)
        elif form.pressed("btnByNotes"):
            if len(values["notes"]) < 3:
                errors.append("Notes: enter at least 3 characters.")
            criteria = Criteria(by="notes", notes=values["notes"])
        else:
            errors.append("Choose one of the search buttons.")
        if errors:
            return _html(pages.search_page(Controls(), values, errors))
        session.search = criteria
        return _redirect("/search/results?page=1")

    def get_results(self, session: Session) -> _Reply:
        if session.search is None:
            return _redirect("/search")
        app = self.server.app
        size = app.config.page_size
        try:
            page = max(1, int(self.query.get("page", "1")))
        except ValueError:
            page = 1
        rows, total = app.store.search(session.search, page=page, page_size=size)
        pages_count = max(1, math.ceil(total / size))
        if page > pages_count:
            page = pages_count
            rows, total = app.store.search(session.search, page=page, page_size=size)
        described = {
            "reference": "Search by case reference",
            "applicant": "Search by name (surname and date of birth)",
            "notes": "Search by notes",
        }[session.search.by]
        return _html(pages.results_page(rows, page=page, pages=pages_count, total=total, described=described))


def _normalised(values: dict[str, str]) -> dict[str, str]:
    out = dict(values)
    if out.get("ni_number"):
        out["ni_number"] = validation.normalise_ni(out["ni_number"])
    if out.get("date_of_birth"):
        born = validation.parse_date(out["date_of_birth"])
        out["date_of_birth"] = born.strftime("%d/%m/%Y") if born else out["date_of_birth"]
    if out.get("postcode"):
        out["postcode"] = validation.normalise_postcode(out["postcode"]) or out["postcode"]
    return out


_ROUTES: dict[tuple[str, str], Callable[[_Handler, Session | None], _Reply]] = {
    ("GET", "/"): _Handler.get_root,
    ("POST", "/login"): _Handler.post_login,
    ("GET", "/logout"): _Handler.get_logout,
    ("GET", "/home"): _Handler.get_home,
    ("GET", "/case/new"): _Handler.get_new_case,
    ("POST", "/case/new"): _Handler.post_new_case,
    ("GET", "/case/created"): _Handler.get_case_created,
    ("GET", "/case/view"): _Handler.get_case_view,
    ("GET", "/search"): _Handler.get_search,
    ("POST", "/search"): _Handler.post_search,
    ("GET", "/search/results"): _Handler.get_results,
    ("GET", "/api/postcode"): _Handler.get_postcode,
}


class CasebookServer:
    """The Casebook sandbox on a loopback port. ``config`` may be changed while it runs."""

    def __init__(
        self,
        db_path: str | Path,
        config: CasebookConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        users: dict[str, str] | None = None,
    ) -> None:
        self.config = config or CasebookConfig()
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.store = CaseStore(db_path)
        self.sessions = Sessions()
        self.faults = Faults(self.config.seed)
        self.stopping = False
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.app = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> CasebookServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="casebook", daemon=True
            )
            self._thread.start()
            log.info("Casebook listening on %s", self.url)
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

    def cases(self) -> list[dict]:
        """Every case row, straight from SQLite (oldest first)."""
        return self.store.all()

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            (self._connections.add if add else self._connections.discard)(connection)

    def __enter__(self) -> CasebookServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def serve(host: str, port: int, db_path: Path, config: CasebookConfig, users: dict[str, str] | None = None) -> None:
    """Run Casebook in the foreground until Ctrl-C (``clerk sandbox casebook``)."""
    server = CasebookServer(db_path, config, host=host, port=port, users=users).start()
    names = ", ".join(sorted(server.users))
    print(f"Casebook is running at {server.url} (users: {names}; database: {db_path}). Press Ctrl-C to stop.")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print("Casebook stopped.")
