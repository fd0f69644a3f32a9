"""Authentication for the loopback EWS server: Basic, NTLM (real challenge/response) and OAuth2 bearer tokens.

NTLM is verified by pyspnego acting as the acceptor. pyspnego reads the accounts it may accept from the
file named by the ``NTLM_USER_FILE`` environment variable (lines of ``DOMAIN:USER:PASSWORD``), so this
module keeps one such file for the test process, holding the users of every server started in it. Like
IIS, the server authenticates the *connection*: after a successful handshake, later requests on the same
connection carry no Authorization header. Over TLS the acceptor also checks the channel binding token
(``tls-server-end-point``) the client derived from the server certificate.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import os
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import spnego
from spnego.channel_bindings import GssChannelBindings
from spnego.exceptions import SpnegoError

_ntlm_lock = threading.Lock()
_ntlm_accounts: dict[str, str] = {}
_ntlm_file: Path | None = None


def register_ntlm_users(users: dict[str, str]) -> None:
    """Let the NTLM acceptor accept these ``DOMAIN\\user`` (or ``user@domain``) accounts."""
    global _ntlm_file
    with _ntlm_lock:
        _ntlm_accounts.update(users)
        if _ntlm_file is None:
            directory = tempfile.mkdtemp(prefix="clerk-ntlm-")
            atexit.register(shutil.rmtree, directory, ignore_errors=True)
            _ntlm_file = Path(directory) / "users"
        lines = []
        for username, password in _ntlm_accounts.items():
            domain, _, user = username.rpartition("\\")
            lines.append(f"{domain}:{user}:{password}")
        _ntlm_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.environ["NTLM_USER_FILE"] = str(_ntlm_file)


def tls_server_end_point(certificate_der: bytes) -> GssChannelBindings:
    """The channel binding a client derives from our (SHA-256 signed) certificate (RFC 5929)."""
    digest = hashlib.sha256(certificate_der).digest()
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest)


@dataclass
class ConnectionAuth:
    """What one TCP connection has proved so far."""

    user: str | None = None
    ntlm: spnego.ContextProxy | None = None


@dataclass(frozen=True)
class Outcome:
    user: str | None = None
    """The authenticated account, or None: answer 401 with ``challenge`` (when set) or the offered schemes."""
    challenge: str | None = None
    scheme: str | None = None


@dataclass
class Authenticator:
    users: dict[str, str]
    schemes: tuple[str, ...] = ("NTLM", "Basic")
    oauth_clients: dict[str, str] = field(default_factory=dict)
    channel_bindings: GssChannelBindings | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    """Bearer tokens issued by the token endpoint -> the client id they were issued to."""

    def __post_init__(self) -> None:
        if "NTLM" in self.schemes:
            register_ntlm_users(self.users)

    def offered(self) -> list[str]:
        return [{"NTLM": "NTLM", "Basic": 'Basic realm="loopback"', "Bearer": "Bearer"}[s] for s in self.schemes]

    def check(self, header: str | None, connection: ConnectionAuth) -> Outcome:
        if not header:
            if connection.user:
                return Outcome(user=connection.user, scheme="NTLM")
            return Outcome()
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and "Basic" in self.schemes:
            return self._basic(credentials.strip())
        if scheme == "ntlm" and "NTLM" in self.schemes:
            return self._ntlm(credentials.strip(), connection)
        if scheme == "bearer" and "Bearer" in self.schemes:
            client = self.tokens.get(credentials.strip())
            return Outcome(user=f"app:{client}", scheme="Bearer") if client else Outcome()
        return Outcome()

    def _basic(self, credentials: str) -> Outcome:
        try:
            username, _, password = base64.b64decode(credentials).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return Outcome()
        expected = self._password_of(username)
        if expected is not None and secrets.compare_digest(expected, password):
            return Outcome(user=username, scheme="Basic")
        return Outcome()

    def _password_of(self, username: str) -> str | None:
        for known, password in self.users.items():
            if known.lower() == username.lower():
                return password
        return None

    def _ntlm(self, credentials: str, connection: ConnectionAuth) -> Outcome:
        try:
            token = base64.b64decode(credentials)
        except ValueError:
            return Outcome()
        message_type = int.from_bytes(token[8:12], "little") if len(token) >= 12 else 0
        try:
            if message_type == 1:
                connection.user = None
                connection.ntlm = spnego.server(protocol="ntlm", channel_bindings=self.channel_bindings)
                challenge = connection.ntlm.step(token)
                return Outcome(challenge="NTLM " + base64.b64encode(challenge or b"").decode(), scheme="NTLM")
            if message_type == 3 and connection.ntlm is not None:
                context, connection.ntlm = connection.ntlm, None
                context.step(token)
                if context.complete:
                    connection.user = context.client_principal
                    return Outcome(user=connection.user, scheme="NTLM")
        except SpnegoError:
            connection.ntlm = None
        return Outcome()

    def issue_token(self, form: dict[str, str]) -> str | None:
        """The client-credentials grant: a fresh bearer token for a known client id and secret."""
        if form.get("grant_type") != "client_credentials":
            return None
        secret = self.oauth_clients.get(form.get("client_id", ""))
        if secret is None or not secrets.compare_digest(secret, form.get("client_secret", "")):
            return None
        token = secrets.token_urlsafe(24)
        self.tokens[token] = form["client_id"]
        return token
