"""The loopback EWS endpoint: a real HTTP(S) server on 127.0.0.1 that exchangelib talks to as to Exchange.

Typical use (tests, and the intake benchmark)::

    with EwsServer(tls_dir=tmp_path / "tls") as server:
        mailbox = EwsMailbox(url=server.url, mailbox=server.mailbox, username=..., ca_file=str(server.ca_file), ...)
        server.deliver(message)                 # files it in the Inbox, unread, and notifies subscribers
        server.operations()                     # ["GetFolder", "FindFolder", "FindItem", "GetItem", ...]
        server.sent()                           # what the adapter sent, as parsed MIME

Fault knobs: :meth:`busy` (ErrorServerBusy with BackOffMilliseconds), :meth:`drop_streams`,
:meth:`restart` (same port; mail survives, subscriptions do not), :meth:`expire_subscriptions`, and
:meth:`before` (something another worker does just before the adapter's next request of a kind).
"""

from __future__ import annotations

import itertools
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from tests.ews_server.auth import Authenticator, ConnectionAuth, tls_server_end_point
from tests.ews_server.items import parse_mime
from tests.ews_server.operations import HANDLERS, STREAMING, Context, stream_events, unsupported
from tests.ews_server.soap import Element, Request, SoapFault, envelope, fault, parse_request
from tests.ews_server.store import MailStore, StoredItem
from tests.loopback_tls import TlsFiles, certificate_der, make_certificates

EWS_PATH = "/EWS/Exchange.asmx"
TOKEN_PATH = "/adfs/oauth2/token"


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the server received (authenticated or not)."""

    method: str
    path: str
    status: int
    operation: str | None
    body: str
    user: str | None
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Busy:
    remaining: int | None
    until: float | None
    back_off_ms: int
    operations: frozenset[str] | None


class EwsServer:
    def __init__(self, *, mailbox: str = "clerk@council.example.gov.uk",
                 users: dict[str, str] | None = None, auth: tuple[str, ...] = ("NTLM", "Basic"),
                 tls_dir: Path | None = None, oauth_clients: dict[str, str] | None = None,
                 delegates: set[str] | None = None, subscriptions: tuple[str, ...] = ("pull", "streaming"),
                 minute_s: float = 60.0, heartbeat_s: float = 30.0,
                 build: tuple[int, int, int, int] = (15, 1, 2507, 6)) -> None:
        self.mailbox = mailbox
        self.users = users if users is not None else {"COUNCIL\\svc-clerk": "Corr3ct-Horse"}
        self.delegates = {d.lower() for d in delegates} if delegates is not None else None
        self.subscriptions = subscriptions
        self.minute_s = minute_s
        self.heartbeat_s = heartbeat_s
        self.build = build
        self.store = MailStore(mailbox)
        self.tls: TlsFiles | None = make_certificates(tls_dir) if tls_dir is not None else None
        self.auth = Authenticator(self.users, auth, oauth_clients or {},
                                  tls_server_end_point(certificate_der(self.tls)) if self.tls else None)
        self.port = 0
        self._log: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._busy: _Busy | None = None
        self._before: dict[str, Callable[[], object]] = {}
        self._connections: set[socket.socket] = set()
        self._streams: dict[int, socket.socket] = {}
        self._dropped: set[int] = set()
        self._stream_ids = itertools.count(1)
        self._streams_changed = threading.Condition(self._lock)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.running = False

    # --- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> EwsServer:
        httpd = _HttpServer(("127.0.0.1", self.port), _Handler)
        httpd.ews = self
        httpd.ssl_context = self._ssl_context()
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self.running = True
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"ews-loopback-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection, as a crashed or restarted server would."""
        if self._httpd is None:
            return
        self.running = False
        with self.store.changed:
            self.store.changed.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            _cut(connection)
        if self._thread is not None:
            self._thread.join()
        self._httpd = self._thread = None

    def restart(self) -> None:
        """Stop and start again on the same port. The mailbox survives; subscriptions, like Exchange's
        (held in the server's memory), do not."""
        self.stop()
        self.store.forget_subscriptions()
        self.start()

    def __enter__(self) -> EwsServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{EWS_PATH}"

    @property
    def token_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{TOKEN_PATH}"

    @property
    def ca_file(self) -> Path | None:
        return self.tls.ca_file if self.tls else None

    # --- mail -----------------------------------------------------------------------------------------
    def deliver(self, message: EmailMessage, internal: bool = True) -> str:
        """File ``message`` in the Inbox, unread, and notify subscribers. Returns the new item id.

        ``internal=False`` is mail from outside the organisation: Exchange's header firewall removes any
        ``X-MS-Exchange-Organization-*`` headers it carries and stamps ``AuthAs: Anonymous``."""
        return self.store.deliver(message, internal).id

    def sent(self) -> list[EmailMessage]:
        """Every message sent through the server, oldest first, parsed from its MIME."""
        with self.store.lock:
            return [parse_mime(mime) for mime in self.store.sent]

    def folder_items(self, folder: str) -> list[StoredItem]:
        """Items in ``inbox``, ``sentitems``... or a folder by display name (``Processing``), oldest first."""
        with self.store.lock:
            try:
                found = self.store.folder_by_name(folder)
            except KeyError:
                return []
            return sorted(self.store.items_in(found.id), key=lambda item: item.received)

    def folder_subjects(self, folder: str) -> list[str]:
        return [str(item.message.get("Subject", "")) for item in self.folder_items(folder)]

    # --- inspection -----------------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every HTTP request received, including unauthenticated ones and paths other than EWS."""
        with self._lock:
            return list(self._log)

    def operations(self) -> list[str]:
        """The EWS operations the server served (authenticated requests only), in order."""
        return [r.operation for r in self.requests if r.operation and r.status != 401]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def wait_for_streams(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until ``count`` streaming connections are open (a watcher is listening)."""
        with self._streams_changed:
            return self._streams_changed.wait_for(lambda: len(self._streams) >= count, timeout)

    # --- faults ---------------------------------------------------------------------------------------
    def busy(self, times: int | None = 1, *, back_off_ms: int = 100, seconds: float | None = None,
             operations: set[str] | None = None) -> None:
        """Answer ErrorServerBusy (with BackOffMilliseconds) to the next ``times`` requests, or to every
        request for ``seconds``; only to ``operations`` when given."""
        with self._lock:
            self._busy = _Busy(times, time.monotonic() + seconds if seconds is not None else None, back_off_ms,
                               frozenset(operations) if operations else None)

    def drop_streams(self) -> None:
        """Cut every open GetStreamingEvents connection mid-response."""
        with self._lock:
            streams = dict(self._streams)
            self._dropped.update(streams)
        with self.store.changed:
            self.store.changed.notify_all()
        for connection in streams.values():
            _cut(connection)

    def before(self, operation: str, action: Callable[[], object]) -> None:
        """Run ``action`` once, just before the server handles the next ``operation`` request: a race made
        deterministic (another worker acting between two of the adapter's requests)."""
        with self._lock:
            self._before[operation] = action

    def expire_subscriptions(self, code: str = "ErrorExpiredSubscription") -> None:
        """Every subscription stops working with ``code``; open streams end with that error."""
        self.store.end_subscriptions(code)

    # --- for the handler ------------------------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext | None:
        if self.tls is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls.cert_file, self.tls.key_file)
        return context

    def _record(self, entry: RecordedRequest) -> None:
        with self._lock:
            self._log.append(entry)

    def _take_busy(self, operation: str) -> int | None:
        with self._lock:
            rule = self._busy
            if rule is None or (rule.operations and operation not in rule.operations):
                return None
            if rule.until is not None and time.monotonic() > rule.until:
                self._busy = None
                return None
            if rule.remaining is not None:
                if rule.remaining <= 0:
                    self._busy = None
                    return None
                rule.remaining -= 1
            return rule.back_off_ms

    def _take_before(self, operation: str) -> Callable[[], object] | None:
        with self._lock:
            return self._before.pop(operation, None)

    def _track(self, connection: socket.socket, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(connection)

    def _stream_opened(self, connection: socket.socket) -> int:
        with self._streams_changed:
            stream_id = next(self._stream_ids)
            self._streams[stream_id] = connection
            self._streams_changed.notify_all()
            return stream_id

    def _stream_closed(self, stream_id: int) -> None:
        with self._streams_changed:
            self._streams.pop(stream_id, None)
            self._dropped.discard(stream_id)
            self._streams_changed.notify_all()

    def _stream_alive(self, stream_id: int) -> bool:
        return self.running and stream_id not in self._dropped


def _cut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    ews: EwsServer
    ssl_context: ssl.SSLContext | None

    def finish_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:  # type: ignore[override]
        # Small responses must not wait for the client's delayed ACK (Nagle), as IIS does not.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # TLS is negotiated here, in the connection's own thread, so a slow client never blocks accept().
        if self.ssl_context is not None:
            try:
                request.settimeout(5)
                request = self.ssl_context.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError):
                request.close()
                return
        self.ews._track(request, True)
        try:
            super().finish_request(request, client_address)
        finally:
            self.ews._track(request, False)

    def handle_error(self, request: object, client_address: object) -> None:
        """Connections cut by a fault knob or a stop end with socket errors; that is expected."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        self.auth_state = ConnectionAuth()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Quiet: the server keeps its own record of requests."""

    @property
    def ews(self) -> EwsServer:
        return self.server.ews

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._finish(404, b"", "GET", None, "")

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        if path.lower() == EWS_PATH.lower():
            self._ews(data)
        elif path == TOKEN_PATH:
            self._token(data)
        else:
            self._finish(404, b"", "POST", None, data.decode("utf-8", "replace"))

    # --- EWS ------------------------------------------------------------------------------------------
    def _ews(self, data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        outcome = self.ews.auth.check(self.headers.get("Authorization"), self.auth_state)
        request: Request | SoapFault
        try:
            request = parse_request(data)
        except SoapFault as error:
            request = error
        operation = request.operation if isinstance(request, Request) else None
        if outcome.user is None:
            challenges = [outcome.challenge] if outcome.challenge else self.ews.auth.offered()
            self._finish(401, b"", "POST", operation, text, challenges=challenges)
            return
        if isinstance(request, SoapFault):
            self._fault(request, None, text, outcome.user)
            return
        back_off = self.ews._take_busy(request.operation)
        if back_off is not None:
            self._fault(SoapFault("ErrorServerBusy", "The server cannot service this request right now. Try again "
                                  "later.", back_off), operation, text, outcome.user)
            return
        action = self.ews._take_before(request.operation)
        if action is not None:
            action()
        refusal = self._refusal(outcome.user, request.impersonated)
        if refusal is not None:
            self._fault(refusal, operation, text, outcome.user)
            return
        context = Context(self.ews.store, request.impersonated, self.ews.minute_s, self.ews.heartbeat_s,
                          self.ews.subscriptions)
        if request.operation == STREAMING:
            self._stream(context, request.body, text, outcome.user)
            return
        try:
            handler = HANDLERS.get(request.operation)
            if handler is None:
                raise unsupported(f"the {request.operation} operation")
            body = envelope(handler(context, request.body), self.ews.build)
        except SoapFault as error:
            self._fault(error, operation, text, outcome.user)
            return
        self._finish(200, body, "POST", operation, text, user=outcome.user)

    def _refusal(self, user: str, impersonated: str | None) -> SoapFault | None:
        if user.startswith("app:"):
            if (impersonated or "").lower() != self.ews.mailbox.lower():
                return SoapFault("ErrorAccessDenied", "An application token must impersonate the mailbox it opens.")
            return None
        if impersonated:
            return SoapFault("ErrorImpersonateUserDenied", f"{user} may not impersonate {impersonated}.")
        if self.ews.delegates is not None and user.lower() not in self.ews.delegates:
            return SoapFault("ErrorAccessDenied", f"{user} has no delegate access to {self.ews.mailbox}.")
        return None

    def _stream(self, context: Context, body: Element, text: str, user: str) -> None:
        self.ews._record(RecordedRequest("POST", self.path, 200, STREAMING, text, user, dict(self.headers)))
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        stream_id = self.ews._stream_opened(self.connection)
        try:
            for message in stream_events(context, body, stream_id, lambda: self.ews._stream_alive(stream_id)):
                self._chunk(envelope(message, self.ews.build))
            if self.ews._stream_alive(stream_id):
                self._chunk(b"")
            else:
                self.close_connection = True
        except OSError:
            self.close_connection = True
        finally:
            self.ews._stream_closed(stream_id)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _fault(self, error: SoapFault, operation: str | None, text: str, user: str | None) -> None:
        self._finish(500, fault(error.code, error.text, error.back_off_ms), "POST", operation, text, user=user)

    # --- OAuth2 token endpoint ------------------------------------------------------------------------
    def _token(self, data: bytes) -> None:
        form = dict(parse_qsl(data.decode("utf-8", "replace")))
        token = self.ews.auth.issue_token(form)
        if token is None:
            body = json.dumps({"error": "invalid_client", "error_description": "Unknown client or secret."})
            self._finish(401, body.encode(), "POST", None, "[token request]", content_type="application/json")
            return
        body = json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 3600})
        self._finish(200, body.encode(), "POST", None, "[token request]", user=form.get("client_id"),
                     content_type="application/json")

    def _finish(self, status: int, body: bytes, method: str, operation: str | None, text: str, *,
                user: str | None = None, challenges: list[str] | None = None,
                content_type: str = "text/xml; charset=utf-8") -> None:
        self.ews._record(RecordedRequest(method, self.path, status, operation, text, user, dict(self.headers)))
        self.send_response(status)
        for challenge in challenges or []:
            self.send_header("WWW-Authenticate", challenge)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
