"""The connection to Exchange that the EWS mailbox and its watcher share: settings, exchangelib set-up,
the bounded wait on "server busy", and the translation of library errors into Clerk's.

Choices made here, and why:

* **No discovery.** The endpoint URL, the auth type and the server version are explicit, so exchangelib
  sends no autodiscover request, no auth-type probe and no version guess: only the operations Clerk uses.
* **Our own connection pool.** exchangelib keeps one ``Protocol`` (session pool) per endpoint and user for
  the whole process. Clerk builds its own per mailbox, and another for the watcher, so a long-lived
  streaming connection never starves the intake and each mailbox keeps its own TLS trust.
* **TLS trust by file.** ``ca_file`` (the council's internal CA) is used for verification on every
  request, including the OAuth2 token request; verification is never turned off.
* **Fail fast, then our own bounded back-off.** exchangelib's ``FaultTolerance`` policy would wait up to
  an hour (its limit applies to each single back-off, not to the total), retries connection errors for
  minutes, and treats a 401 as "busy". Clerk uses ``FailFast`` and retries only ErrorServerBusy here,
  honouring the server's BackOffMilliseconds, until ``busy_max_wait_s`` in total has passed; then
  :class:`~connectors.errors.MailboxThrottled`. A busy answer means the request was not carried out,
  so retrying a move or a send cannot do it twice.
* **Nothing private in logs.** exchangelib logs whole SOAP requests and responses (mail content) at
  DEBUG and, on unexpected errors, at ERROR; requests-oauthlib logs token requests with the client
  secret at DEBUG. Those loggers are capped at WARNING and exchangelib's error record is cut to its
  first line.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from types import UnionType
from typing import Literal, TypeVar
from urllib.parse import urlsplit

import requests
import requests.adapters
from exchangelib import DELEGATE, IMPERSONATION, UTC, Account, Build, Configuration, Credentials, Version
from exchangelib.account import Identity
from exchangelib.credentials import OAuth2Credentials
from exchangelib.errors import (
    CASError,
    ErrorAccessDenied,
    ErrorImpersonateUserDenied,
    ErrorNonExistentMailbox,
    ErrorServerBusy,
    ErrorTimeoutExpired,
    EWSError,
    MalformedResponseError,
    RedirectError,
    SOAPError,
    TransportError,
    UnauthorizedError,
)
from exchangelib.protocol import FailFast, Protocol
from exchangelib.transport import BASIC, NTLM, OAUTH2
from exchangelib.version import EXCHANGE_2013, EXCHANGE_2013_SP1, EXCHANGE_2016, EXCHANGE_2019
from oauthlib.oauth2 import OAuth2Error

from connectors.errors import ClerkError, ConfigError, MailboxThrottled, MailboxUnavailable

AuthType = Literal["NTLM", "basic", "OAuth2"]
T = TypeVar("T")

VERSIONS = {
    "Exchange2013": EXCHANGE_2013,
    "Exchange2013_SP1": EXCHANGE_2013_SP1,
    "Exchange2016": EXCHANGE_2016,
    "Exchange2019": EXCHANGE_2019,
}
"""Server versions Clerk supports (2013 and later: Clerk reads ``TextBody``, which 2010 lacks)."""
_AUTH_TYPES = {"NTLM": NTLM, "basic": BASIC, "OAuth2": OAUTH2}
_DEFAULT_BACK_OFF_S = 1.0
"""How long to wait when a busy answer carries no BackOffMilliseconds."""


class _FirstLineOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = record.getMessage().split("\n", 1)[0], None
        return True


for _name in ("exchangelib", "requests_oauthlib", "oauthlib"):
    logging.getLogger(_name).setLevel(logging.WARNING)
logging.getLogger("exchangelib.util").addFilter(_FirstLineOnly())


@dataclass(frozen=True)
class EwsOAuth:
    """OAuth2 client credentials (an app registration with access to the mailbox).

    ``token_url`` defaults to the Microsoft identity platform of ``tenant_id``; set it for an on-premises
    token service (AD FS: ``https://adfs.council.gov.uk/adfs/oauth2/token``) or, in tests, a loopback one.
    An app-only token acts *as* the mailbox (EWS impersonation), not as a delegate."""

    client_id: str
    client_secret: str = field(repr=False)
    tenant_id: str | None = None
    token_url: str | None = None
    scope: str = "https://outlook.office365.com/.default"

    @property
    def endpoint(self) -> str:
        if self.token_url:
            return self.token_url
        if not self.tenant_id:
            raise ConfigError("OAuth2 needs either a tenant id or a token URL", key="mailbox.ews.oauth")
        return f"https://login.microsoftonline.com/{self.tenant_id}/oauth2/v2.0/token"


@dataclass(frozen=True)
class EwsSettings:
    url: str
    mailbox: str
    username: str
    password: str = field(repr=False)
    auth_type: AuthType
    version: str
    ca_file: str | None
    oauth: EwsOAuth | None
    busy_max_wait_s: float
    timeout_s: float

    @property
    def account_name(self) -> str:
        """Who signs in, for messages: the user, or the OAuth2 client id."""
        return f"OAuth2 client {self.oauth.client_id}" if self.auth_type == "OAuth2" and self.oauth else self.username

    def validate(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigError(f"the EWS endpoint must be a full URL, not {self.url!r}", key="mailbox.ews.url")
        if self.auth_type not in _AUTH_TYPES:
            raise ConfigError(f"auth type must be one of {sorted(_AUTH_TYPES)}, not {self.auth_type!r}",
                              key="mailbox.ews.auth_type")
        if self.auth_type == "OAuth2" and self.oauth is None:
            raise ConfigError("auth type OAuth2 needs the oauth client settings", key="mailbox.ews.oauth")
        if "@" not in self.mailbox:
            raise ConfigError(f"the shared mailbox must be an SMTP address, not {self.mailbox!r}",
                              key="mailbox.ews.mailbox")
        exchange_version(self.version)


def exchange_version(name: str) -> Version:
    """``Exchange2016`` (or a build number such as ``15.1.2507.6``) as an exchangelib Version."""
    if name in VERSIONS:
        return Version(build=VERSIONS[name])
    try:
        numbers = [int(part) for part in name.split(".")]
        build = Build(*numbers)
    except (TypeError, ValueError):
        raise ConfigError(f"unknown Exchange version {name!r}; use one of {sorted(VERSIONS)} or a build number",
                          key="mailbox.ews.version") from None
    if build < EXCHANGE_2013:
        raise ConfigError(f"Exchange {name} is older than 2013, which Clerk does not support",
                          key="mailbox.ews.version")
    return Version(build=build)


# --- exchangelib set-up --------------------------------------------------------------------------------------
class _TrustingAdapter(requests.adapters.HTTPAdapter):
    """Verifies the server against one CA bundle, whatever the environment (REQUESTS_CA_BUNDLE) says."""

    def __init__(self, ca_file: str, **kwargs: object) -> None:
        self._ca_file = ca_file
        super().__init__(**kwargs)

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: object = None,
             verify: object = True, cert: object = None, proxies: object = None) -> requests.Response:
        return super().send(request, stream=stream, timeout=timeout, verify=self._ca_file, cert=cert, proxies=proxies)


class _OwnInstances(type(Protocol)):
    """The Protocol metaclass without its process-wide cache (see the module docstring)."""

    def __call__(cls, *args: object, **kwargs: object) -> object:
        return type.__call__(cls, *args, **kwargs)


class _ClerkProtocol(Protocol, metaclass=_OwnInstances):
    USERAGENT = "Clerk"

    def __init__(self, *, config: Configuration, ca_file: str | None, timeout_s: float) -> None:
        super().__init__(config=config)
        self.ca_file = ca_file
        self.TIMEOUT = timeout_s

    def raw_session(self, prefix: str, oauth2_client: object = None, oauth2_session_params: dict | None = None,
                    oauth2_token_endpoint: str | None = None) -> requests.Session:
        """exchangelib's session, with our TLS trust mounted for the EWS endpoint and the token endpoint."""
        session = super().raw_session(prefix, oauth2_client, oauth2_session_params, oauth2_token_endpoint)
        if self.ca_file:
            for url in filter(None, (prefix, oauth2_token_endpoint)):
                session.mount(url, _TrustingAdapter(self.ca_file, pool_block=True, pool_connections=1, pool_maxsize=1,
                                                    max_retries=0))
        return session


class _ClientCredentials(OAuth2Credentials):
    """exchangelib's client-credentials grant with a configurable token endpoint and scope."""

    def __init__(self, oauth: EwsOAuth, identity: Identity) -> None:
        super().__init__(client_id=oauth.client_id, client_secret=oauth.client_secret, tenant_id=oauth.tenant_id,
                         identity=identity)
        self._token_endpoint = oauth.endpoint
        self._scope = oauth.scope  # exchangelib hashes the credentials' attributes: keep them hashable

    @property
    def token_url(self) -> str:
        return self._token_endpoint

    @property
    def scope(self) -> list[str]:
        return [self._scope]


def open_account(settings: EwsSettings, *, connections: int) -> Account:
    """An exchangelib Account for the shared mailbox on its own connection pool. Makes no request."""
    identity = Identity(primary_smtp_address=settings.mailbox)
    if settings.auth_type == "OAuth2" and settings.oauth is not None:  # validate() requires the pair
        credentials: object = _ClientCredentials(settings.oauth, identity)
        access_type = IMPERSONATION
    else:
        credentials = Credentials(settings.username, settings.password)
        access_type = DELEGATE
    config = Configuration(service_endpoint=settings.url, credentials=credentials,
                           auth_type=_AUTH_TYPES[settings.auth_type], version=exchange_version(settings.version),
                           retry_policy=FailFast(), max_connections=connections)
    account = Account(primary_smtp_address=settings.mailbox, access_type=access_type, config=config,
                      autodiscover=False, default_timezone=UTC, locale="en_GB")
    with suppress(KeyError):
        del Protocol[config]  # the cached instance Account made; ours replaces it
    account.protocol = _ClerkProtocol(config=config, ca_file=settings.ca_file, timeout_s=settings.timeout_s)
    return account


class EwsSession:
    """One exchangelib account plus the busy-retry and error-translation every call goes through."""

    def __init__(self, settings: EwsSettings, *, connections: int) -> None:
        self.settings = settings
        self.account = open_account(settings, connections=connections)
        self.closing = threading.Event()

    def call(self, action: str, operation: Callable[[], T]) -> T:
        """Run ``operation`` (a few EWS requests), retrying while the server says it is busy.

        ``action`` completes "while trying to ..." in error messages: it must not contain personal data."""
        deadline = time.monotonic() + self.settings.busy_max_wait_s
        while True:
            try:
                return operation()
            except ClerkError:
                raise
            except ErrorServerBusy as exc:
                back_off = exc.back_off or _DEFAULT_BACK_OFF_S
                if time.monotonic() + back_off > deadline:
                    raise MailboxThrottled(
                        f"Exchange kept answering 'server busy' for {self.settings.busy_max_wait_s:g} s while trying "
                        f"to {action}; nothing was changed, the email stays where it was") from exc
                if self.closing.wait(back_off):
                    raise MailboxUnavailable(f"the mailbox was closed while trying to {action}") from exc
            except Exception as exc:  # noqa: BLE001 - every library error is translated at this boundary
                raise translate(exc, action, self.settings) from exc

    def close(self) -> None:
        self.closing.set()
        self.account.protocol.close()


def translate(exc: BaseException, action: str, settings: EwsSettings) -> MailboxUnavailable:
    """A Clerk error for a library error, naming the account and the server, never mail content."""
    where = urlsplit(settings.url).netloc
    if isinstance(exc, UnauthorizedError):
        return MailboxUnavailable(
            f"Exchange at {where} refused the sign-in of {settings.account_name} ({settings.auth_type}) while trying "
            f"to {action}: check the password and that the account is not locked out")
    if isinstance(exc, OAuth2Error):
        return MailboxUnavailable(
            f"the token service refused {settings.account_name} ({exc.error or type(exc).__name__}) while trying to "
            f"{action}: check the client id, secret and token URL")
    if isinstance(exc, ErrorAccessDenied | ErrorNonExistentMailbox | ErrorImpersonateUserDenied):
        return MailboxUnavailable(
            f"{settings.account_name} may not open the mailbox {settings.mailbox} on {where} "
            f"({type(exc).__name__}) while trying to {action}: it needs Full Access (delegate) rights")
    if _caused_by(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in _chain_text(exc):
        return MailboxUnavailable(
            f"the TLS certificate of {where} is not trusted while trying to {action}: set ca_file to the "
            f"council's CA bundle")
    if _caused_by(exc, requests.exceptions.SSLError | ssl.SSLError):
        return MailboxUnavailable(f"the TLS connection to {where} failed while trying to {action}")
    if isinstance(exc, ErrorTimeoutExpired) or _caused_by(exc, requests.exceptions.ConnectionError):
        return MailboxUnavailable(f"could not reach Exchange at {where} while trying to {action}")
    if isinstance(exc, CASError | RedirectError):
        return MailboxUnavailable(f"Exchange at {where} answered {exc} while trying to {action}")
    if isinstance(exc, MalformedResponseError | SOAPError):
        return MailboxUnavailable(f"Exchange at {where} sent an unreadable answer ({type(exc).__name__}) while "
                                  f"trying to {action}")
    if isinstance(exc, EWSError | TransportError):
        return MailboxUnavailable(f"Exchange at {where} answered {type(exc).__name__} while trying to {action}: "
                                  f"{_first_line(exc)}")
    return MailboxUnavailable(f"unexpected {type(exc).__name__} while trying to {action} on {where}")


def _caused_by(exc: BaseException | None, kind: type[BaseException] | UnionType) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, kind):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _chain_text(exc: BaseException | None) -> str:
    texts = []
    while exc is not None and len(texts) < 10:
        texts.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    return " ".join(texts)


def _first_line(exc: BaseException) -> str:
    return str(exc).split("\n", 1)[0][:200]
