"""A loopback Microsoft Graph (mail) and Entra ID token endpoint over HTTPS, for tests and benchmarks.

The adapter talks to it exactly as it would talk to Microsoft: msal fetches the tenant's OpenID
configuration and a client-credentials token from it, and every Graph call carries that token. It
answers the way Exchange Online does where Clerk depends on it (new ids after a move, 404 for a message
already moved, Graph's error JSON, 429 with Retry-After, 410 for a stale delta token) and refuses what
it does not implement, so missing support shows up in a test rather than in a council's tenant.

Faults are switched on by the test: :meth:`GraphServer.throttle`, :meth:`GraphServer.fail`,
:meth:`GraphServer.expire_tokens`, :meth:`GraphServer.invalidate_delta_tokens`, ``delta_supported``,
``deny_access``, and :meth:`GraphServer.restart` (same port, same mailbox).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from tests.graph_server import odata, resources
from tests.graph_server.store import GraphError, MailStore, Message, not_found
from tests.loopback_tls import TlsFiles, make_certificates

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int
    body: Any = None
    """The JSON body of a Graph call (never kept for token requests, which carry the client secret)."""
    prefer: str = ""


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: object, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(payload).encode(), "application/json", headers or {})


@dataclass
class _Fault:
    remaining: int
    status: int
    code: str
    retry_after: float | None


class GraphServer:
    """One tenant, one app registration and one shared mailbox on ``https://127.0.0.1:<port>``."""

    def __init__(self, directory: Path, *, mailbox: str = "clerk@council.example.gov.uk",
                 tenant_id: str | None = None, client_id: str | None = None, client_secret: str = "graph-test-secret",
                 token_lifetime_s: int = 3600, attachment_limit: int = 3 * 1024 * 1024) -> None:
        self.certificates: TlsFiles = make_certificates(directory / "graph-tls", "Clerk test CA (Graph)")
        self.mailbox = mailbox
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.client_id = client_id or str(uuid.uuid4())
        self.client_secret = client_secret
        self.token_lifetime_s = token_lifetime_s
        self.attachment_limit = attachment_limit
        self.store = MailStore(mailbox)
        self.requests: list[RecordedRequest] = []
        self.delta_supported = True
        self.deny_access = False
        self.page_size_cap: int | None = None
        """Serve at most this many items per page whatever ``$top`` asks (Graph may page sooner than asked)."""
        self._tokens: dict[str, float] = {}  # access token -> expiry (monotonic)
        self._delta_states: dict[str, dict[str, Any]] = {}
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._port = 0
        self._httpd: _TLSServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[ssl.SSLSocket] = set()

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> GraphServer:
        self._httpd = _TLSServer(("127.0.0.1", self._port), self)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="graph-server",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection (as a crashed or restarted server would)."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = None

    def restart(self) -> None:
        """Stop and start again on the same port; the mailbox, tokens and delta state survive."""
        self.stop()
        self.start()

    def __enter__(self) -> GraphServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses ----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._port}"

    @property
    def authority_host(self) -> str:
        return self.url

    @property
    def authority(self) -> str:
        return f"{self.url}/{self.tenant_id}"

    @property
    def token_url(self) -> str:
        return f"{self.authority}/oauth2/v2.0/token"

    @property
    def graph_url(self) -> str:
        return f"{self.url}/v1.0"

    @property
    def ca_file(self) -> str:
        return str(self.certificates.ca_file)

    # --- the test's side ----------------------------------------------------------------------------
    def deliver(self, message: EmailMessage, folder: str = "inbox") -> str:
        """File a message as if it arrived from outside (unread, headers kept); returns its Graph id."""
        return self.store.deliver(message, folder).id

    def sent_messages(self) -> list[EmailMessage]:
        """Everything sent through the API (replies and new mail), oldest first, as the recipient gets it."""
        with self.store.lock:
            raw = list(self.store.sent)
        return [BytesParser(policy=policy.default).parsebytes(data) for data in raw]

    def folder_subjects(self, folder: str) -> list[str]:
        """Subjects in a folder, oldest first, by well-known name (``inbox``) or display name (``Processing``)."""
        try:
            found = self.store.folder(folder)
        except GraphError:
            try:
                found = self.store.folder_named(folder)
            except GraphError:
                return []
        return [message.subject for message in self.store.in_folder(found.id)]

    def graph_requests(self) -> list[RecordedRequest]:
        return [request for request in list(self.requests) if request.path.startswith("/v1.0/")]

    def token_requests(self) -> list[RecordedRequest]:
        return [request for request in list(self.requests) if request.path.endswith("/oauth2/v2.0/token")]

    def throttle(self, count: int, retry_after: float | None = 0.05, status: int = 429) -> None:
        """Answer the next ``count`` Graph calls with ``status`` (429 or 503) and ``Retry-After`` (None: no header).

        Graph sends whole seconds; fractions are allowed here to keep tests fast."""
        code = "TooManyRequests" if status == 429 else "ServiceUnavailable"
        with self._lock:
            self._faults.append(_Fault(count, status, code, retry_after))

    def fail(self, count: int, status: int = 500, code: str = "InternalServerError") -> None:
        """Answer the next ``count`` Graph calls with an error and no Retry-After."""
        with self._lock:
            self._faults.append(_Fault(count, status, code, None))

    def expire_tokens(self) -> None:
        """Every access token issued so far is now expired (Graph answers 401 until a new one is fetched)."""
        with self._lock:
            self._tokens.clear()

    def invalidate_delta_tokens(self) -> None:
        """Forget all delta sync state, as Exchange does when its cache drops a token (410 on the next use)."""
        with self._lock:
            self._delta_states.clear()

    # --- dispatch -----------------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        parts = urlsplit(target)
        path = parts.path
        query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        is_graph = path.startswith("/v1.0/")
        payload: Any = None
        try:
            if is_graph:
                payload = _json_body(body) if body else None
                response = self._graph(method, path, query, headers, payload)
            else:
                response = self._identity(method, path, body, headers)
        except GraphError as error:
            response = Response.json(error.status, {"error": {"code": error.code, "message": error.message,
                                                              "innerError": {"request-id": str(uuid.uuid4())}}},
                                     error.headers)
        self.requests.append(RecordedRequest(method, path, query, response.status, payload if is_graph else None,
                                             headers.get("prefer", "")))
        return response

    # --- identity: OpenID configuration and the token endpoint ----------------------------------------
    def _identity(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Response:
        segments = [unquote(s) for s in path.strip("/").split("/")]
        if len(segments) >= 2 and segments[0] != self.tenant_id and segments[0] not in ("common", "organizations"):
            return Response.json(400, {"error": "invalid_tenant",
                                       "error_description": f"AADSTS90002: Tenant '{segments[0]}' not found."})
        if method == "GET" and segments[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return Response.json(200, {
                "issuer": f"{self.url}/{self.tenant_id}/v2.0",
                "authorization_endpoint": f"{self.authority}/oauth2/v2.0/authorize",
                "token_endpoint": self.token_url,
                "jwks_uri": f"{self.authority}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "tenant_region_scope": "EU",
            })
        if method == "POST" and segments[1:] == ["oauth2", "v2.0", "token"]:
            return self._token(body, headers)
        return Response.json(404, {"error": "not_found", "error_description": f"No identity endpoint at {path}"})

    def _token(self, body: bytes, headers: dict[str, str]) -> Response:
        form = {key: values[-1] for key, values in parse_qs(body.decode(), keep_blank_values=True).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            client_id, secret = unquote(user.replace("+", " ")), unquote(password.replace("+", " "))
        if form.get("grant_type") != "client_credentials":
            return Response.json(400, {"error": "unsupported_grant_type",
                                       "error_description": "AADSTS70003: The app requested an unsupported grant type."})
        if client_id != self.client_id:
            return Response.json(400, {"error": "unauthorized_client", "error_description":
                                       f"AADSTS700016: Application with identifier '{client_id}' was not found."})
        if secret != self.client_secret:
            return Response.json(401, {"error": "invalid_client", "error_description":
                                       f"AADSTS7000215: Invalid client secret provided for app '{client_id}'."})
        if GRAPH_SCOPE not in form.get("scope", "").split():
            return Response.json(400, {"error": "invalid_scope",
                                       "error_description": f"AADSTS1002012: The scope '{form.get('scope')}' is not valid."})
        token = "eyJ0eXAi." + secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_lifetime_s
        return Response.json(200, {"token_type": "Bearer", "expires_in": self.token_lifetime_s,
                                   "ext_expires_in": self.token_lifetime_s, "access_token": token})

    # --- Graph ----------------------------------------------------------------------------------------
    def _graph(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], payload: Any) -> Response:
        self._authenticate(headers.get("authorization", ""))
        self._inject_fault()
        segments = [unquote(s) for s in path.strip("/").split("/")]
        if len(segments) < 3 or segments[1] != "users":
            raise odata.bad_request(f"Resource not found for the segment '{'/'.join(segments[1:2])}'.")
        if segments[2].lower() != self.mailbox.lower():
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{segments[2]}' is invalid.")
        if self.deny_access:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        context = _Call(self, method, segments[3:], query, headers, payload)
        return context.route()

    def _authenticate(self, authorization: str) -> None:
        challenge = {"WWW-Authenticate": f'Bearer realm="", authorization_uri="{self.authority}/oauth2/authorize"'}
        if not authorization.startswith("Bearer ") or not authorization[7:].strip():
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", challenge)
        with self._lock:
            expiry = self._tokens.get(authorization[7:].strip())
        if expiry is None or expiry <= time.monotonic():
            raise GraphError(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.",
                             challenge)

    def _inject_fault(self) -> None:
        with self._lock:
            while self._faults and self._faults[0].remaining <= 0:
                self._faults.pop(0)
            if not self._faults:
                return
            fault = self._faults[0]
            fault.remaining -= 1
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        raise GraphError(fault.status, fault.code, "Injected by the test server.", headers)

    def delta_state(self, key: str) -> dict[str, Any]:
        with self._lock:
            state = self._delta_states.get(key)
        if state is None:
            raise GraphError(410, "SyncStateNotFound",
                             "The sync state generation is not found. The delta token is expired and data must be "
                             "synchronized again.")
        return state

    def new_delta_state(self, state: dict[str, Any]) -> str:
        key = secrets.token_urlsafe(24)
        with self._lock:
            self._delta_states[key] = state
        return key


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise odata.bad_request("Unable to read JSON request payload.", code="BadRequest") from None


class _Call:
    """One Graph request below ``/users/{mailbox}``: route it and answer."""

    def __init__(self, server: GraphServer, method: str, segments: list[str], query: dict[str, str],
                 headers: dict[str, str], payload: Any) -> None:
        self.server = server
        self.store = server.store
        self.method = method
        self.segments = segments
        self.query = query
        self.headers = headers
        self.payload = payload
        self.base = f"{server.graph_url}/users/{server.mailbox}"

    def route(self) -> Response:
        s, m = self.segments, self.method
        if s == ["sendMail"] and m == "POST":
            return self.send_mail()
        if s[:1] == ["mailFolders"]:
            if len(s) == 1:
                return self.list_folders(self.store.root.id) if m == "GET" else self.create_folder(self.store.root.id)
            folder = self.store.folder(s[1])
            rest = s[2:]
            if not rest and m == "GET":
                return self.folder(folder.id)
            if rest == ["childFolders"]:
                return self.list_folders(folder.id) if m == "GET" else self.create_folder(folder.id)
            if rest == ["messages"] and m == "GET":
                return self.list_messages(folder.id)
            if rest == ["messages", "delta"] and m == "GET":
                return self.delta(folder.id)
            if rest[:1] == ["messages"] and len(rest) >= 2:
                return self.message_route(rest[1], rest[2:])
        if s[:1] == ["messages"] and len(s) >= 2:
            return self.message_route(s[1], s[2:])
        raise odata.bad_request(f"Resource not found for the segment '{'/'.join(s[:1]) or 'users'}'.")

    def message_route(self, message_id: str, rest: list[str]) -> Response:
        m = self.method
        actions = {"move": self.move, "createReply": self.create_reply, "reply": self.reply, "send": self.send}
        if not rest:
            handler = {"GET": self.get_message, "PATCH": self.patch_message, "DELETE": self.delete_message}.get(m)
            if handler is None:
                raise GraphError(405, "ErrorInvalidRequest", f"{m} is not supported on a message.")
            return handler(message_id)
        if rest == ["$value"] and m == "GET":
            return Response(200, self.store.get(message_id).to_mime(), "message/rfc822")
        if len(rest) == 1 and rest[0] in actions and m == "POST":
            return actions[rest[0]](message_id)
        if rest == ["attachments"]:
            return self.list_attachments(message_id) if m == "GET" else self.add_attachment(message_id)
        if rest[:1] == ["attachments"] and len(rest) in (2, 3) and m == "GET":
            attachment = self.attachment(message_id, rest[1])
            if len(rest) == 2:
                return Response.json(200, resources.attachment_json(attachment))
            if rest[2] == "$value":
                content_type = "message/rfc822" if attachment.kind == "item" else attachment.content_type
                return Response(200, attachment.data, content_type)
        raise odata.bad_request(f"Resource not found for the segment '{rest[0]}'.")

    # --- folders ------------------------------------------------------------------------------------
    def folder_view(self, folder_id: str, select: list[str] | None) -> dict[str, Any]:
        folder = self.store.folders[folder_id]
        return resources.folder_json(folder, len(self.store.children(folder_id)), self.store.in_folder(folder_id), select)

    def folder(self, folder_id: str) -> Response:
        select = odata.parse_select(self.query.get("$select"), resources.FOLDER_PROPERTIES)
        return Response.json(200, self.folder_view(folder_id, select))

    def list_folders(self, parent_id: str) -> Response:
        select = odata.parse_select(self.query.get("$select"), resources.FOLDER_PROPERTIES)
        clauses = odata.parse_filter(self.query.get("$filter"), resources.FOLDER_FILTERS)
        folders = [f for f in self.store.children(parent_id)
                   if all(c.matches({"displayName": f.display_name.lower()}) for c in clauses)]
        return self.page([self.folder_view(f.id, select) for f in folders], default_top=10)

    def create_folder(self, parent_id: str) -> Response:
        if self.method != "POST":
            raise GraphError(405, "ErrorInvalidRequest", f"{self.method} is not supported here.")
        name = (self.payload or {}).get("displayName") if isinstance(self.payload, dict) else None
        if not name:
            raise odata.bad_request("A folder needs a displayName.", code="ErrorInvalidRequest")
        folder = self.store.create_folder(parent_id, name)
        return Response.json(201, self.folder_view(folder.id, None))

    # --- messages -----------------------------------------------------------------------------------
    @property
    def prefer_text(self) -> bool:
        return 'outlook.body-content-type="text"' in self.headers.get("prefer", "").replace("'", '"')

    def view(self, message: Message, select: list[str] | None) -> dict[str, Any]:
        return resources.message_json(message, select, self.prefer_text)

    def list_messages(self, folder_id: str) -> Response:
        select = odata.parse_select(self.query.get("$select"), resources.MESSAGE_PROPERTIES)
        clauses = odata.parse_filter(self.query.get("$filter"), resources.MESSAGE_FILTERS)
        order = odata.parse_orderby(self.query.get("$orderby"), resources.MESSAGE_SORTS)
        odata.check_sort_is_indexed(clauses, order)
        messages = [m for m in self.store.in_folder(folder_id)
                    if all(c.matches(resources.message_filter_record(m)) for c in clauses)]
        for name, descending in reversed(order or [("receivedDateTime", True)]):
            messages.sort(key=lambda m, name=name: (resources.message_filter_record(m)[name], m.seq), reverse=descending)
        return self.page([self.view(m, select) for m in messages], default_top=10)

    def page(self, items: list[dict[str, Any]], default_top: int) -> Response:
        top = odata.parse_count(self.query.get("$top"), "$top", 1000) or default_top
        top = min(top, self.server.page_size_cap or top)
        skip = odata.parse_count(self.query.get("$skip"), "$skip", 10**9) or 0
        body: dict[str, Any] = {"value": items[skip: skip + top]}
        if skip + top < len(items):
            following = dict(self.query, **{"$skip": str(skip + top)})
            body["@odata.nextLink"] = f"{self.base}/{'/'.join(self.segments)}?{urlencode(following)}"
        return Response.json(200, body)

    def get_message(self, message_id: str) -> Response:
        select = odata.parse_select(self.query.get("$select"), resources.MESSAGE_PROPERTIES)
        return Response.json(200, self.view(self.store.get(message_id), select))

    def patch_message(self, message_id: str) -> Response:
        fields = resources.message_fields(self.payload, self.server.attachment_limit)
        message = self.store.get(message_id)
        if not message.is_draft and set(fields) - {"is_read"}:
            raise odata.bad_request("Only a draft's content can be changed.", code="ErrorInvalidPropertyUpdateSentMessage")
        fields.pop("attachments", None)
        return Response.json(200, self.view(self.store.update(message_id, **fields), None))

    def delete_message(self, message_id: str) -> Response:
        self.store.delete(message_id)
        return Response(204)

    def move(self, message_id: str) -> Response:
        destination = (self.payload or {}).get("destinationId") if isinstance(self.payload, dict) else None
        if not destination:
            raise odata.bad_request("The move needs a destinationId.", code="ErrorInvalidIdMalformed")
        return Response.json(201, self.view(self.store.move(message_id, destination), None))

    def reply_draft(self, message_id: str) -> Message:
        original = self.store.get(message_id)
        return self.store.new_draft(
            subject=f"RE: {original.subject}",
            to=list(original.reply_to or [original.sender]),
            in_reply_to=original.internet_message_id,
            references=" ".join(filter(None, [original.references, original.internet_message_id])),
        )

    def create_reply(self, message_id: str) -> Response:
        draft = self.reply_draft(message_id)
        self.apply_reply_body(draft)
        return Response.json(201, self.view(draft, None))

    def reply(self, message_id: str) -> Response:
        draft = self.reply_draft(message_id)
        self.apply_reply_body(draft)
        self.store.send(draft)
        return Response(202)

    def apply_reply_body(self, draft: Message) -> None:
        payload = self.payload or {}
        if not isinstance(payload, dict) or set(payload) - {"comment", "message"}:
            raise odata.bad_request("A reply takes 'comment' and 'message' only.")
        fields = resources.message_fields(payload["message"], self.server.attachment_limit) if "message" in payload else {}
        if "comment" in payload and "body" in fields:
            raise odata.bad_request("Specify either comment or the body property of the message parameter, not both.",
                                    code="ErrorInvalidRequest")
        if "comment" in payload:
            fields["body"], fields["body_type"] = str(payload["comment"]), "text"
        for name, value in fields.items():
            setattr(draft, name, value)

    def send(self, message_id: str) -> Response:
        message = self.store.get(message_id)
        if not message.is_draft:
            raise odata.bad_request("Only a draft can be sent.", code="ErrorInvalidOperation")
        if not message.to and not message.cc:
            raise odata.bad_request("At least one recipient is required.", code="ErrorInvalidRecipients")
        self.store.send(message)
        return Response(202)

    def send_mail(self) -> Response:
        payload = self.payload if isinstance(self.payload, dict) else {}
        if "message" not in payload:
            raise odata.bad_request("sendMail needs a 'message'.", code="ErrorInvalidRequest")
        fields = resources.message_fields(payload["message"], self.server.attachment_limit)
        if not fields.get("to") and not fields.get("cc"):
            raise odata.bad_request("At least one recipient is required.", code="ErrorInvalidRecipients")
        with self.store.lock:
            message = self.store.new_draft(**fields)
            self.store.send(message, save_copy=payload.get("saveToSentItems", True) is not False)
        return Response(202)

    # --- attachments ----------------------------------------------------------------------------------
    def attachment(self, message_id: str, attachment_id: str) -> resources.Attachment:
        for attachment in self.store.get(message_id).attachments:
            if attachment.id == attachment_id:
                return attachment
        raise not_found("attachment")

    def list_attachments(self, message_id: str) -> Response:
        select = odata.parse_select(self.query.get("$select"), {"id", "name", "contentType", "size", "isInline",
                                                                "lastModifiedDateTime"})
        items = []
        for attachment in self.store.get(message_id).attachments:
            shown = resources.attachment_json(attachment, with_content=select is None)
            if select is not None:
                shown = {key: value for key, value in shown.items() if key in select or key in ("@odata.type", "id")}
            items.append(shown)
        return self.page(items, default_top=100)

    def add_attachment(self, message_id: str) -> Response:
        if self.method != "POST":
            raise GraphError(405, "ErrorInvalidRequest", f"{self.method} is not supported here.")
        attachment = resources.file_attachment(self.payload, self.server.attachment_limit)
        with self.store.lock:
            message = self.store.get(message_id)
            self.store.update(message_id, attachments=[*message.attachments, attachment])
        return Response.json(201, resources.attachment_json(attachment))

    # --- delta ------------------------------------------------------------------------------------------
    def delta(self, folder_id: str) -> Response:
        if not self.server.delta_supported:
            raise odata.bad_request("Resource not found for the segment 'delta'.")
        size = _max_page_size(self.headers.get("prefer", ""))
        size = min(size, self.server.page_size_cap or size)
        if "$deltatoken" in self.query:
            state = self.server.delta_state(self.query["$deltatoken"])
            ids, latest = self.store.changes_since(state["base"], state["folder"])
            state = dict(state, kind="changes", ids=ids, offset=0, next_base=latest)
        elif "$skiptoken" in self.query:
            state = self.server.delta_state(self.query["$skiptoken"])
        else:
            select = odata.parse_select(self.query.get("$select"), resources.MESSAGE_PROPERTIES)
            clauses = odata.parse_filter(self.query.get("$filter"), {"receivedDateTime": datetime})
            if any(c.operator not in ("ge", "gt") for c in clauses):
                raise odata.bad_request("Delta takes only receivedDateTime ge/gt in $filter.")
            latest = self.store.latest_change()
            ids = [m.id for m in self.store.in_folder(folder_id)]
            state = {"kind": "initial", "folder": folder_id, "select": select, "filter": clauses, "ids": ids,
                     "offset": 0, "next_base": latest}
        items = [self.delta_item(message_id, state) for message_id in state["ids"][state["offset"]: state["offset"] + size]]
        items = [item for item in items if item is not None]
        body: dict[str, Any] = {"value": items}
        link = f"{self.base}/mailFolders/{folder_id}/messages/delta"
        if state["offset"] + size < len(state["ids"]):
            key = self.server.new_delta_state(dict(state, offset=state["offset"] + size))
            body["@odata.nextLink"] = f"{link}?{urlencode({'$skiptoken': key})}"
        else:
            key = self.server.new_delta_state({"folder": state["folder"], "select": state["select"],
                                               "filter": state["filter"], "base": state["next_base"]})
            body["@odata.deltaLink"] = f"{link}?{urlencode({'$deltatoken': key})}"
        return Response.json(200, body)

    def delta_item(self, message_id: str, state: dict[str, Any]) -> dict[str, Any] | None:
        message = self.store.messages.get(message_id)
        present = message is not None and message.folder_id == state["folder"] and all(
            c.matches(resources.message_filter_record(message)) for c in state["filter"])
        if present:
            return self.view(message, state["select"])
        if state["kind"] == "initial":
            return None
        return {"@odata.type": "#microsoft.graph.message", "id": message_id, "@removed": {"reason": "deleted"}}


def _max_page_size(prefer: str) -> int:
    for part in prefer.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "odata.maxpagesize" and value.strip().isdigit():
            return max(1, int(value))
    return 10


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _TLSServer

    def setup(self) -> None:
        self.request.settimeout(30)
        self.request.do_handshake()
        with self.server.graph._lock:
            self.server.graph._connections.add(self.request)
        super().setup()

    def finish(self) -> None:
        with self.server.graph._lock:
            self.server.graph._connections.discard(self.request)
        super().finish()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        response = self.server.graph.handle(self.command, self.path, headers, body)
        self.send_response(response.status)
        if response.body or response.status not in (202, 204):
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
        """Quiet: the recorded requests are the log."""


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], graph: GraphServer) -> None:
        self.graph = graph
        self.context = graph.certificates.server_context()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = self.socket.accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body leave at once
        # The handshake happens in the connection's own thread (see _Handler.setup), never in the accept loop.
        return self.context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up or rejects the certificate is not the server's failure: stay quiet."""
