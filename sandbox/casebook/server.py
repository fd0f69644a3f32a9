"""Casebook's web server: its routes, on the sandbox kit's server (sessions, faults). Standard library only.

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

import math
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from urllib.parse import quote

from sandbox.casebook import pages, validation
from sandbox.casebook.config import CasebookConfig
from sandbox.casebook.forms import Controls, PostedForm
from sandbox.casebook.sessions import Session
from sandbox.casebook.store import CaseStore, Criteria
from sandbox.kit import (
    AppServer,
    Reply,
    Request,
    Routes,
    html,
    json_reply,
    pause,
    redirect,
    serve_until_interrupted,
)

DEFAULT_USERS = {"clerk-bot": "casebook"}
COOKIE = "CASEBOOK_SESSION"
STATIC_DIR = Path(__file__).with_name("static")

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


class CasebookServer(AppServer[Session]):
    """The Casebook sandbox on a loopback port. ``config`` may be changed while it runs."""

    name = "Casebook"
    server_version = "Casebook/4.2"
    cookie = COOKIE
    static_dir = STATIC_DIR
    session_type = Session
    config_type = CasebookConfig
    default_users = DEFAULT_USERS
    routes = Routes()

    def cases(self) -> list[dict]:
        """Every case row, straight from SQLite (oldest first)."""
        return self.store.all()

    def open_store(self, db_path: Path) -> CaseStore:
        return CaseStore(db_path)

    # --- answers the kit asks for ---------------------------------------------------------------

    def busy(self, request: Request) -> Reply:
        if request.path.startswith("/api/"):
            return json_reply({"found": False, "message": f"{pages.BUSY_TEXT}."}, HTTPStatus.SERVICE_UNAVAILABLE)
        retry = request.target if request.method == "GET" else ("/" if request.path == "/login" else "/home")
        return html(pages.busy_page(retry), HTTPStatus.SERVICE_UNAVAILABLE)

    def not_found(self, request: Request) -> Reply:
        return html(pages.not_found_page(request.path), HTTPStatus.NOT_FOUND)

    def server_error(self, request: Request) -> Reply:
        return html(pages.error_page(), HTTPStatus.INTERNAL_SERVER_ERROR)

    def authorise(self, request: Request) -> Session:
        """The caller's live session, or a reply sending them to the login page."""
        if not request.path.startswith("/api/"):
            return self.session_or_login(request)
        found = self.lookup_session(request)
        if isinstance(found, str):
            raise json_reply({"found": False, "message": pages.EXPIRED_TEXT}, HTTPStatus.UNAUTHORIZED)
        return found

    # --- login, shell, home ---------------------------------------------------------------------

    @routes.get("/", public=True)
    def get_root(self, request: Request, _: None) -> Reply:
        session, reason, headers = self.front_door(request)
        if session is not None:
            motd = session.show_motd and self.config.popup
            session.show_motd = False  # once per login
            return html(pages.shell_page(session.user, motd=motd))
        info = {"expired": pages.EXPIRED_TEXT, "loggedout": "You have logged out."}.get(reason, "")
        return html(pages.login_page(Controls(), info=info), headers=headers)

    @routes.post("/login", public=True)
    def post_login(self, request: Request, _: None) -> Reply:
        form = PostedForm(request.body)
        user, password = form.get("txtUserName"), form.get("txtPassword")
        if not self.password_matches(user, password):
            self.log.info("casebook login refused")
            return html(pages.login_page(Controls(), error="Invalid user name or password."))
        _, cookie = self.begin_session(request, user, show_motd=True)
        return redirect("/", [cookie])

    @routes.get("/logout")
    def get_logout(self, request: Request, session: Session) -> Reply:
        return redirect("/?loggedout=1", [self.end_session(session)])

    @routes.get("/home")
    def get_home(self, request: Request, session: Session) -> Reply:
        return html(pages.home_page(session.user, self.store.count()))

    # --- new Blue Badge case --------------------------------------------------------------------

    @routes.get("/case/new")
    def get_new_case(self, request: Request, session: Session) -> Reply:
        if request.query.get("start"):
            session.reset_draft()
        return html(pages.new_case_step(session.step, Controls(), session.draft, []))

    @routes.post("/case/new")
    def post_new_case(self, request: Request, session: Session) -> Reply:
        form = PostedForm(request.body)
        step = session.step
        if form.hidden("__STEP") != str(step):  # a stale or replayed form: show where the case really is
            return redirect("/case/new")
        values = {key: form.get(short) for short, key in STEP_FIELDS.get(step, {}).items()}
        if form.pressed("btnBack") and step > 1:
            session.draft.update(values)
            session.step = step - 1
            return redirect("/case/new")
        if step == 4:
            if not form.pressed("btnSave"):
                return redirect("/case/new")
            record = dict(session.draft)
            record["eligibility"] = validation.ELIGIBILITY[record["eligibility"]]
            reference = self.store.create(record, created_by=session.user)
            session.reset_draft()
            self.log.info("casebook case %s created", reference)
            return redirect(f"/case/created?ref={quote(reference)}")
        errors = STEP_RULES[step](values, session)
        if errors:
            return html(pages.new_case_step(step, Controls(), {**session.draft, **values}, errors))
        session.draft.update(_normalised(values))
        session.step = step + 1
        return redirect("/case/new")

    @routes.get("/case/created")
    def get_case_created(self, request: Request, session: Session) -> Reply:
        reference = request.query.get("ref", "")
        case = self.store.get(reference)
        if case is None:
            return html(pages.case_missing_page(reference))
        return html(pages.confirmation_page(case["case_reference"]))

    @routes.get("/case/view")
    def get_case_view(self, request: Request, session: Session) -> Reply:
        reference = request.query.get("ref", "")
        case = self.store.get(reference)
        return html(pages.case_view_page(case) if case else pages.case_missing_page(reference))

    @routes.get("/api/postcode")
    def get_postcode(self, request: Request, session: Session) -> Reply:
        pause(self.config.postcode_delay_ms)
        postcode = validation.normalise_postcode(request.query.get("postcode", ""))
        if postcode is None:
            return json_reply({"found": False, "message": "Postcode not recognised."})
        session.looked_up.add(postcode)
        return json_reply({"found": True, "postcode": postcode, "town": validation.town_for(postcode)})

    # --- search ---------------------------------------------------------------------------------

    @routes.get("/search")
    def get_search(self, request: Request, session: Session) -> Reply:
        return html(pages.search_page(Controls(), {}, []))

    @routes.post("/search")
    def post_search(self, request: Request, session: Session) -> Reply:
        form = PostedForm(request.body)
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
            return html(pages.search_page(Controls(), values, errors))
        session.search = criteria
        return redirect("/search/results?page=1")

    @routes.get("/search/results")
    def get_results(self, request: Request, session: Session) -> Reply:
        if session.search is None:
            return redirect("/search")
        size = self.config.page_size
        try:
            page = max(1, int(request.query.get("page", "1")))
        except ValueError:
            page = 1
        rows, total = self.store.search(session.search, page=page, page_size=size)
        pages_count = max(1, math.ceil(total / size))
        if page > pages_count:
            page = pages_count
            rows, total = self.store.search(session.search, page=page, page_size=size)
        described = {
            "reference": "Search by case reference",
            "applicant": "Search by name (surname and date of birth)",
            "notes": "Search by notes",
        }[session.search.by]
        return html(pages.results_page(rows, page=page, pages=pages_count, total=total, described=described))


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


def serve(host: str, port: int, db_path: Path, config: CasebookConfig, users: dict[str, str] | None = None) -> None:
    """Run Casebook in the foreground until Ctrl-C (``clerk sandbox casebook``)."""
    serve_until_interrupted(CasebookServer(db_path, config, host=host, port=port, users=users), db_path)
