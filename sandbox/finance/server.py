"""Finance's web server: one HTML page and the JSON API its script calls, on the sandbox kit's server.

Routes (``/api/*`` need a live session, except ``/api/login``; every API answer is JSON, errors as
``{"error": code, "message": sentence}``):

====== ========================================= =====================================================
GET    /                                         the single page (the script renders everything)
POST   /api/login                                ``{"username", "password"}``: 200 ``{"user"}`` and the cookie
POST   /api/logout                               end the session
GET    /api/session                              200 ``{"user"}``, or 401
GET    /api/suppliers?q=                         the suppliers (all of them: no window)
GET    /api/orders?q=&offset=&limit=             a window of purchase orders, newest first (slow: grid delay)
GET    /api/order?po=                            one order with its lines; 404 when there is none
GET    /api/invoices?q=&offset=&limit=           a window of invoices, newest first (slow: grid delay)
GET    /api/invoice?ref=                         one invoice with its match; 404 when there is none
POST   /api/invoices                             enter an invoice: 201, 409 duplicate, 422 invalid
====== ========================================= =====================================================

Error codes: ``busy`` (503), ``session_expired`` / ``not_signed_in`` (401), ``login_failed`` (401),
``bad_request`` (400), ``not_found`` (404), ``duplicate`` (409, with ``existing``: the invoice already
entered), ``invalid`` (422, with ``errors``: a sentence per field name), ``server_error`` (500).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from http import HTTPStatus
from pathlib import Path

from sandbox.finance.api import invoice_json, order_json, window_json
from sandbox.finance.config import FinanceConfig
from sandbox.finance.store import Duplicate, FinanceStore, Refused
from sandbox.kit import (
    AppServer,
    Reply,
    Request,
    Routes,
    Session,
    Sessions,
    clear_cookie,
    html,
    json_reply,
    pause,
    serve_until_interrupted,
)

DEFAULT_USERS = {"clerk-bot": "finance"}
COOKIE = "ledger_session"
STATIC_DIR = Path(__file__).with_name("static")
BUSY_TEXT = "System busy, please try again."
EXPIRED_TEXT = "Your session has expired. Please sign in again."
LIMIT_MAX = 100


def _error(status: int, code: str, message: str, *, headers: list | None = None, **extra: object) -> Reply:
    return json_reply({"error": code, "message": message, **extra}, status, headers)


class FinanceServer(AppServer[Session]):
    """The Finance sandbox on a loopback port. ``config`` may be changed while it runs."""

    name = "Finance"
    server_version = "PurchaseLedger/3.1"
    cookie = COOKIE
    static_dir = STATIC_DIR
    config_type = FinanceConfig
    default_users = DEFAULT_USERS
    routes = Routes()

    def invoices(self) -> list[dict]:
        """Every invoice as the API shows it, oldest first (the seeded ones included)."""
        return [invoice_json(row) for row in self.store.all_invoices()]

    def open_store(self, db_path: Path) -> FinanceStore:
        return FinanceStore(db_path, tolerance_pct=self.config.tolerance_pct)

    # --- answers the kit asks for ---------------------------------------------------------------

    def busy(self, request: Request) -> Reply:
        if request.path.startswith("/api/"):
            return _error(HTTPStatus.SERVICE_UNAVAILABLE, "busy", BUSY_TEXT)
        return html((STATIC_DIR / "busy.html").read_text(), HTTPStatus.SERVICE_UNAVAILABLE)

    def not_found(self, request: Request) -> Reply:
        return _error(HTTPStatus.NOT_FOUND, "not_found", f"There is no {request.method} {request.path}.")

    def server_error(self, request: Request) -> Reply:
        return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "server_error", "An unexpected error occurred.")

    def authorise(self, request: Request) -> Session:
        found = self.lookup_session(request)
        if isinstance(found, Session):
            return found
        if found == Sessions.EXPIRED:
            raise _error(HTTPStatus.UNAUTHORIZED, "session_expired", EXPIRED_TEXT, headers=[clear_cookie(COOKIE)])
        raise _error(HTTPStatus.UNAUTHORIZED, "not_signed_in", "Please sign in.")

    # --- the page and the session ---------------------------------------------------------------

    @routes.get("/", public=True)
    def get_root(self, request: Request, _: None) -> Reply:
        return html((STATIC_DIR / "index.html").read_text())

    @routes.post("/api/login", public=True)
    def post_login(self, request: Request, _: None) -> Reply:
        data = _body(request)
        user, password = str(data.get("username") or "").strip(), str(data.get("password") or "")
        if not self.password_matches(user, password):
            return _error(HTTPStatus.UNAUTHORIZED, "login_failed", "Invalid user name or password.")
        _, cookie = self.begin_session(request, user)
        return json_reply({"user": user}, headers=[cookie])

    @routes.post("/api/logout")
    def post_logout(self, request: Request, session: Session) -> Reply:
        return json_reply({"user": None}, headers=[self.end_session(session)])

    @routes.get("/api/session")
    def get_session(self, request: Request, session: Session) -> Reply:
        return json_reply({"user": session.user})

    # --- reading --------------------------------------------------------------------------------

    @routes.get("/api/suppliers")
    def get_suppliers(self, request: Request, session: Session) -> Reply:
        suppliers = self.store.suppliers(request.query.get("q", "").strip())
        return json_reply(window_json(suppliers, total=len(suppliers), offset=0, limit=len(suppliers)))

    @routes.get("/api/orders")
    def get_orders(self, request: Request, session: Session) -> Reply:
        return self._window(request, self.store.orders, order_json)

    @routes.get("/api/order")
    def get_order(self, request: Request, session: Session) -> Reply:
        po_number = request.query.get("po", "").strip()
        order = self.store.order(po_number)
        if order is None:
            return _error(HTTPStatus.NOT_FOUND, "not_found", f"Purchase order {po_number} does not exist.")
        return json_reply(order_json(order))

    @routes.get("/api/invoices")
    def get_invoices(self, request: Request, session: Session) -> Reply:
        return self._window(request, self.store.invoices, invoice_json)

    @routes.get("/api/invoice")
    def get_invoice(self, request: Request, session: Session) -> Reply:
        ref = request.query.get("ref", "").strip()
        invoice = self.store.invoice(ref)
        if invoice is None:
            return _error(HTTPStatus.NOT_FOUND, "not_found", f"Invoice {ref} does not exist.")
        return json_reply(invoice_json(invoice))

    def _window(self, request: Request, rows: Callable[..., tuple[list[dict], int]], shown: Callable[[dict], dict]):
        """One window of a grid's list: ``offset`` and ``limit`` from the query, after the grid delay."""
        try:
            offset = int(request.query.get("offset", "0"))
            limit = int(request.query.get("limit", str(self.config.page_size)))
        except ValueError:
            raise _error(HTTPStatus.BAD_REQUEST, "bad_request", "offset and limit must be whole numbers.") from None
        if offset < 0 or not 1 <= limit <= LIMIT_MAX:
            raise _error(HTTPStatus.BAD_REQUEST, "bad_request", f"offset must be 0 or more, limit 1 to {LIMIT_MAX}.")
        pause(self.config.grid_delay_ms)
        found, total = rows(search=request.query.get("q", "").strip(), offset=offset, limit=limit)
        return json_reply(window_json([shown(row) for row in found], total=total, offset=offset, limit=limit))

    # --- entering an invoice --------------------------------------------------------------------

    @routes.post("/api/invoices")
    def post_invoice(self, request: Request, session: Session) -> Reply:
        saved = self.store.enter(_body(request), user=session.user, today=date.today(),
                                 tolerance_pct=self.config.tolerance_pct)  # fmt: skip
        if isinstance(saved, Duplicate):
            existing = invoice_json(saved.existing)
            message = (f"Invoice {existing['invoice_number']} from {existing['supplier_name']} has already been "
                       f"entered as {existing['ref']}.")  # fmt: skip
            return _error(HTTPStatus.CONFLICT, "duplicate", message, existing=existing)
        if isinstance(saved, Refused):
            return _error(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid",
                          "The invoice has not been saved: please correct the fields shown.", errors=saved.errors)  # fmt: skip
        self.log.info("finance invoice %s entered: %s", saved["ref"], saved["status"])
        return json_reply({"invoice": invoice_json(saved)}, HTTPStatus.CREATED)


def _body(request: Request) -> dict:
    try:
        data = request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise _error(HTTPStatus.BAD_REQUEST, "bad_request", "The request body must be a JSON object.")
    return data


def serve(host: str, port: int, db_path: Path, config: FinanceConfig, users: dict[str, str] | None = None) -> None:
    """Run Finance in the foreground until Ctrl-C (``clerk sandbox finance``)."""
    serve_until_interrupted(FinanceServer(db_path, config, host=host, port=port, users=users), db_path)
