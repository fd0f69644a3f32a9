"""Revenues' web server: its screens and rules, on the sandbox kit's server (sessions, faults).

Routes (everything except ``/``, ``/login`` and static files needs a live session; ``/main/*`` are the
screens of the ``main`` frame):

====== ======================================= ==========================================================
GET    /                                       the log-on page, or the frameset when logged on
POST   /login                                  log on (``USERID``, ``PASSWD``); the form targets ``_top``
GET    /logout                                 log off
GET    /menu, /nav                             the top menu frame and the left navigation frame
GET    /main/welcome                           counts, and the batch notice
GET    /main/search                            the account search form (a GET form to /main/results)
GET    /main/results?ACCTNO=&SURNAME=&...&page= one page of matching accounts
GET    /main/account?acct=                     the account: details, liabilities, notes (the read-back)
GET    /main/move?acct=                        the change-of-address screen
POST   /main/move                              ``CMD=Find`` lists properties at ``NEWPCODE``; ``CMD=Save``
GET    /main/notes?acct=, POST /main/notes     add a note to the account
GET    /main/properties?find=1&PCODE=&ADDRESS= the property register, with who is liable today
====== ======================================= ==========================================================
"""

from __future__ import annotations

import math
from datetime import date
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlencode

from sandbox.kit import (
    AppServer,
    Reply,
    Request,
    Routes,
    Session,
    html,
    redirect,
    serve_until_interrupted,
)
from sandbox.kit.values import normalise_postcode, outward_code, uk_date
from sandbox.revenues import pages
from sandbox.revenues.config import RevenuesConfig
from sandbox.revenues.rules import NOTE_MAX, MoveForm
from sandbox.revenues.store import AccountSearch, RevenuesStore

DEFAULT_USERS = {"clerk-bot": "revenues"}
COOKIE = "RVSESSIONID"
STATIC_DIR = Path(__file__).with_name("static")
SEARCH_FIELDS = ("ACCTNO", "SURNAME", "FORENAME", "PCODE", "ADDRESS", "NOTES")


class RevenuesServer(AppServer[Session]):
    """The Revenues sandbox on a loopback port. ``config`` may be changed while it runs."""

    name = "Revenues"
    server_version = "Revenues/7.3"
    cookie = COOKIE
    static_dir = STATIC_DIR
    config_type = RevenuesConfig
    default_users = DEFAULT_USERS
    routes = Routes()

    def accounts(self) -> list[dict]:
        """Every account row (notes included), straight from SQLite."""
        return self.store.accounts()

    def liabilities(self, account_no: str | None = None) -> list[dict]:
        """Every liability (or one account's), with the property's address."""
        return self.store.liabilities(account_no)

    def open_store(self, db_path: Path) -> RevenuesStore:
        return RevenuesStore(db_path)

    # --- answers the kit asks for ---------------------------------------------------------------

    def busy(self, request: Request) -> Reply:
        retry = request.target if request.method == "GET" else ("/" if request.path == "/login" else "/main/welcome")
        return html(pages.busy_page(retry), HTTPStatus.SERVICE_UNAVAILABLE)

    def not_found(self, request: Request) -> Reply:
        return html(pages.not_found_page(request.path), HTTPStatus.NOT_FOUND)

    def server_error(self, request: Request) -> Reply:
        return html(pages.error_page(), HTTPStatus.INTERNAL_SERVER_ERROR)

    def authorise(self, request: Request) -> Session:
        return self.session_or_login(request)

    def _read_only(self, back: str) -> Reply | None:
        until = self.config.batch_until()
        return html(pages.batch_refused_page(until, back), HTTPStatus.SERVICE_UNAVAILABLE) if until else None

    # --- log on, frames -------------------------------------------------------------------------

    @routes.get("/", public=True)
    def get_root(self, request: Request, _: None) -> Reply:
        session, reason, headers = self.front_door(request)
        if session is not None:
            return html(pages.frameset_page())
        info = {"expired": pages.EXPIRED_TEXT, "loggedout": "You have logged off."}.get(reason, "")
        return html(pages.login_page(info=info), headers=headers)

    @routes.post("/login", public=True)
    def post_login(self, request: Request, _: None) -> Reply:
        form = request.form()
        user = form.get("USERID", "").strip()
        if not self.password_matches(user, form.get("PASSWD", "")):
            return html(pages.login_page(error="RV-101 Invalid user ID or password."))
        _, cookie = self.begin_session(request, user)
        return redirect("/", [cookie])

    @routes.get("/logout")
    def get_logout(self, request: Request, session: Session) -> Reply:
        return redirect("/?loggedout=1", [self.end_session(session)])

    @routes.get("/menu")
    def get_menu(self, request: Request, session: Session) -> Reply:
        return html(pages.menu_page(session.user, date.today(), self.config.batch_until()))

    @routes.get("/nav")
    def get_nav(self, request: Request, session: Session) -> Reply:
        return html(pages.nav_page())

    @routes.get("/main/welcome")
    def get_welcome(self, request: Request, session: Session) -> Reply:
        return html(pages.welcome_page(session.user, self.store.counts(), self.config.batch_until()))

    # --- search ---------------------------------------------------------------------------------

    @routes.get("/main/search")
    def get_search(self, request: Request, session: Session) -> Reply:
        return html(pages.search_page({}, []))

    @routes.get("/main/results")
    def get_results(self, request: Request, session: Session) -> Reply:
        values = {name: request.query.get(name, "").strip() for name in SEARCH_FIELDS}
        criteria, errors = _search_criteria(values)
        if errors:
            return html(pages.search_page(values, errors))
        size = self.config.page_size
        try:
            page = max(1, int(request.query.get("page", "1")))
        except ValueError:
            page = 1
        rows, total = self.store.search(criteria, page=page, page_size=size)
        pages_count = max(1, math.ceil(total / size))
        if page > pages_count:
            page = pages_count
            rows, total = self.store.search(criteria, page=page, page_size=size)
        kept = {name: value for name, value in values.items() if value}
        return html(pages.results_page(rows, criteria=kept, page=page, pages=pages_count, total=total))

    # --- the account ----------------------------------------------------------------------------

    @routes.get("/main/account")
    def get_account(self, request: Request, session: Session) -> Reply:
        account_no = request.query.get("acct", "").strip()
        account = self.store.account(account_no)
        if account is None:
            return html(pages.account_missing_page(account_no), HTTPStatus.NOT_FOUND)
        liabilities = self.store.liabilities(account_no)
        message = ""
        opened = next((li for li in liabilities if li["ref"] == request.query.get("moved")), None)
        ended = next((li for li in liabilities if li["ref"] == request.query.get("ended")), None)
        if opened and ended:
            message = (f"Change of address saved. Liability {ended['ref']} ended "
                       f"{uk_date(date.fromisoformat(ended['end_date']))}; new liability {opened['ref']} at "
                       f"{opened['address']} from {uk_date(date.fromisoformat(opened['start_date']))}.")  # fmt: skip
        elif request.query.get("noted"):
            message = "Note added."
        return html(pages.account_page(account, liabilities, message=message))

    def _account_or_missing(self, account_no: str) -> dict:
        account = self.store.account(account_no.strip())
        if account is None:
            raise html(pages.account_missing_page(account_no), HTTPStatus.NOT_FOUND)
        return account

    def _current(self, account_no: str) -> dict | None:
        return next((li for li in self.store.liabilities(account_no) if li["end_date"] is None), None)

    @routes.get("/main/move")
    def get_move(self, request: Request, session: Session) -> Reply:
        account = self._account_or_missing(request.query.get("acct", ""))
        current = self._current(account["account_no"])
        return html(pages.move_page(account, current, {}, None, [], batch_until=self.config.batch_until()))

    @routes.post("/main/move")
    def post_move(self, request: Request, session: Session) -> Reply:
        form = {key: value.strip() for key, value in request.form().items()}
        account = self._account_or_missing(form.get("ACCTNO", ""))
        account_no = account["account_no"]
        errors: list[str] = []
        options = None
        if form.get("NEWPCODE"):
            postcode = normalise_postcode(form["NEWPCODE"])
            if postcode is None:
                errors.append("New postcode is not a valid postcode.")
            else:
                form["NEWPCODE"] = postcode
                options = self.store.properties(postcode=postcode)
        elif form.get("CMD") == "Find":
            errors.append("New postcode is required for Find.")
        if form.get("CMD") == "Save" and not errors:
            refused = self._read_only(f"/main/account?acct={account_no}")
            if refused:
                return refused
            move = MoveForm(account_no, form.get("MOVEOUT", ""), form.get("NEWPROP", ""), form.get("MOVEIN", ""),
                            form.get("NOTE", ""))  # fmt: skip
            saved = self.store.move(move, user=session.user, today=date.today(),
                                    max_future_days=self.config.max_future_days)  # fmt: skip
            if not isinstance(saved, list):
                self.log.info("revenues move saved on %s: %s", account_no, saved.opened)
                query = urlencode({"acct": account_no, "moved": saved.opened, "ended": saved.move.closing})
                return redirect(f"/main/account?{query}")
            errors = saved
        current = self._current(account_no)
        page = pages.move_page(account, current, form, options, errors, batch_until=self.config.batch_until())
        return html(page)

    @routes.get("/main/notes")
    def get_notes(self, request: Request, session: Session) -> Reply:
        account = self._account_or_missing(request.query.get("acct", ""))
        return html(pages.notes_page(account, {}, [], batch_until=self.config.batch_until()))

    @routes.post("/main/notes")
    def post_notes(self, request: Request, session: Session) -> Reply:
        form = request.form()
        account = self._account_or_missing(form.get("ACCTNO", ""))
        account_no = account["account_no"]
        refused = self._read_only(f"/main/account?acct={account_no}")
        if refused:
            return refused
        note = form.get("NOTE", "").strip()
        errors = []
        if not note:
            errors.append("Note is required.")
        elif len(note) > NOTE_MAX:
            errors.append(f"Note must be {NOTE_MAX} characters or fewer.")
        if errors:
            return html(pages.notes_page(account, form, errors, batch_until=self.config.batch_until()))
        self.store.add_note(account_no, note, user=session.user)
        return redirect(f"/main/account?{urlencode({'acct': account_no, 'noted': 1})}")

    # --- the property register ------------------------------------------------------------------

    @routes.get("/main/properties")
    def get_properties(self, request: Request, session: Session) -> Reply:
        values = {name: request.query.get(name, "").strip() for name in ("PCODE", "ADDRESS")}
        if not request.query.get("find"):
            return html(pages.properties_page(None, values, []))
        postcode, errors = _postcode_filter(values["PCODE"])
        if not values["PCODE"] and len(values["ADDRESS"]) < 3:
            errors.append("Enter a postcode, or at least 3 characters of the address.")
        if errors:
            return html(pages.properties_page(None, values, errors))
        return html(pages.properties_page(self.store.properties(postcode=postcode, address=values["ADDRESS"]),
                                          values, []))  # fmt: skip


def _postcode_filter(text: str) -> tuple[str, list[str]]:
    """A typed postcode as a filter: a whole postcode or its first half, normalised; or why it is neither."""
    if not text:
        return "", []
    postcode = normalise_postcode(text) or outward_code(text)
    return (postcode, []) if postcode else ("", ["Postcode is not a valid postcode or the first half of one."])


def _search_criteria(values: dict[str, str]) -> tuple[AccountSearch, list[str]]:
    """The search to run, and what is wrong with the fields (at least one; each long enough)."""
    errors = []
    if not any(values.values()):
        errors.append("Enter at least one search field.")
    if values["ACCTNO"] and not (values["ACCTNO"].isdigit() and len(values["ACCTNO"]) == 8):
        errors.append("Account number must be 8 digits.")
    for field, label in (("SURNAME", "Surname"), ("FORENAME", "Forename")):
        if 0 < len(values[field]) < 2:
            errors.append(f"{label}: enter at least 2 letters.")
    postcode, wrong = _postcode_filter(values["PCODE"])
    errors += wrong
    for field, label in (("ADDRESS", "Address"), ("NOTES", "Notes contain")):
        if 0 < len(values[field]) < 3:
            errors.append(f"{label}: enter at least 3 characters.")
    criteria = AccountSearch(values["ACCTNO"], values["SURNAME"], values["FORENAME"], postcode, values["ADDRESS"],
                             values["NOTES"])  # fmt: skip
    return criteria, errors


def serve(host: str, port: int, db_path: Path, config: RevenuesConfig, users: dict[str, str] | None = None) -> None:
    """Run Revenues in the foreground until Ctrl-C (``clerk sandbox revenues``)."""
    serve_until_interrupted(RevenuesServer(db_path, config, host=host, port=port, users=users), db_path)
