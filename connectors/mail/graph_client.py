"""The one HTTPS seam between Clerk and Microsoft Graph: the app's token, throttling, and error translation.

One ``httpx.Client`` carries both msal's token requests and Graph's calls, so there is one place that
trusts a CA, one timeout and one family of transport errors to translate. msal is pointed at the
configured authority without asking Microsoft where it lives (instance discovery off): with
``login.microsoftonline.com`` that changes nothing, and a loopback or sovereign-cloud authority works
unchanged. msal caches the token and renews it before it expires; a 401 from Graph (a token revoked or
expired early) drops the cached token and retries once with a new one.

Graph's own throttling (429, or 503 with ``Retry-After``) is honoured for at most ``busy_max_wait_s`` in
total per call, then :class:`MailboxThrottled` is raised and nothing has changed in the mailbox. Nothing
from httpx or msal leaves this module: every failure becomes :class:`MailboxUnavailable` (or
:class:`ConfigError` for a CA file that cannot be read).
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import msal
import structlog
from msal.exceptions import MsalError

from connectors.errors import ConfigError, MailboxThrottled, MailboxUnavailable

log = structlog.get_logger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_BUSY = (429, 503)
_FIRST_BACKOFF_S = 1.0
"""The pause before retrying a busy answer that names no Retry-After (then doubled each time)."""


class GraphRequestFailed(MailboxUnavailable):
    """Graph answered with an error; ``status`` and Graph's ``graph_code`` let the caller decide what it means."""

    def __init__(self, message: str, *, status: int, graph_code: str) -> None:
        super().__init__(message)
        self.status = status
        self.graph_code = graph_code


class GraphThrottled(MailboxThrottled):
    """Still throttled after the allowed wait; ``retry_after_s`` is how long Graph last asked Clerk to wait."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class GraphClient:
    def __init__(self, *, tenant_id: str, client_id: str, client_secret: str, authority_host: str, graph_url: str,
                 scope: str, ca_file: str | None, timeout_s: float, busy_max_wait_s: float) -> None:
        self.graph_url = graph_url.rstrip("/")
        self._authority = f"{authority_host.rstrip('/')}/{tenant_id}"
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope
        self._timeout_s = timeout_s
        self._busy_max_wait_s = busy_max_wait_s
        try:
            verify = ssl.create_default_context(cafile=ca_file) if ca_file else True
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot read the CA certificate {ca_file}: {exc}", key="ca_file") from exc
        self._http = httpx.Client(verify=verify, timeout=timeout_s, headers={"User-Agent": "Clerk-RPA"})
        self._app: msal.ConfidentialClientApplication | None = None
        self._app_lock = threading.Lock()
        self._closing = threading.Event()

    # --- calls ----------------------------------------------------------------------------------------
    def call(self, method: str, url: str, *, what: str, params: dict[str, str] | None = None, json: Any = None,
             headers: dict[str, str] | None = None, max_wait_s: float | None = None) -> httpx.Response:
        """One Graph call; a 2xx answer, or :class:`GraphRequestFailed` naming ``what`` Clerk was doing.

        Throttled answers are retried after ``Retry-After`` for at most ``max_wait_s`` in all (by default the
        mailbox's ``busy_max_wait_s``)."""
        limit = self._busy_max_wait_s if max_wait_s is None else max_wait_s
        waited, renew, renewed, backoff = 0.0, False, False, _FIRST_BACKOFF_S
        while True:
            token = self._token(renew=renew)
            renew = False
            try:
                response = self._http.request(method, url, params=params, json=json,
                                              headers={**(headers or {}), "Authorization": f"Bearer {token}"})
            except httpx.TimeoutException as exc:
                raise MailboxUnavailable(f"Microsoft Graph did not answer within {self._timeout_s:g} s ({what})") from exc
            except httpx.HTTPError as exc:
                raise MailboxUnavailable(f"cannot reach Microsoft Graph at {self._origin} ({what}): {exc}") from exc
            if response.status_code == 401 and not renewed:
                renew = renewed = True  # the token was revoked or expired early: one more try with a new one
                continue
            if response.status_code in _BUSY:
                delay = _retry_after(response, backoff)
                if waited + delay > limit:
                    raise GraphThrottled(f"Microsoft Graph is throttling Clerk ({what}); gave up after waiting "
                                         f"{waited:g} s of at most {limit:g} s", retry_after_s=delay)
                log.info("graph_throttled", what=what, retry_after_s=delay)
                if self._closing.wait(delay):
                    raise MailboxUnavailable(f"the Graph mailbox was closed while waiting to retry ({what})")
                waited, backoff = waited + delay, backoff * 2
                continue
            if response.is_success:
                return response
            raise _failure(response, what)

    def call_json(self, method: str, url: str, *, what: str, params: dict[str, str] | None = None, json: Any = None,
             headers: dict[str, str] | None = None, max_wait_s: float | None = None) -> dict[str, Any]:
        """A call whose answer is a JSON object (a resource, or a page of a collection)."""
        response = self.call(method, url, what=what, params=params, json=json, headers=headers, max_wait_s=max_wait_s)
        try:
            body = response.json()
        except ValueError as exc:
            raise MailboxUnavailable(f"Microsoft Graph sent something other than JSON ({what})") from exc
        if not isinstance(body, dict):
            raise MailboxUnavailable(f"Microsoft Graph sent JSON of an unexpected shape ({what})")
        return body

    def get_json(self, url: str, *, what: str, params: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None, max_wait_s: float | None = None) -> dict[str, Any]:
        return self.call_json("GET", url, what=what, params=params, headers=headers, max_wait_s=max_wait_s)

    def created_id(self, method: str, url: str, *, what: str, json: Any = None) -> str:
        """The ``id`` of what a call created or moved (a draft, a folder, a message's new place)."""
        new_id = self.call_json(method, url, what=what, json=json).get("id")
        if not isinstance(new_id, str) or not new_id:
            raise MailboxUnavailable(f"Microsoft Graph answered without an id ({what})")
        return new_id

    def pages(self, url: str, *, what: str, params: dict[str, str] | None, headers: dict[str, str] | None = None,
              limit: int | None = None) -> Iterator[dict[str, Any]]:
        """The items of a collection, following ``@odata.nextLink`` until ``limit`` items or the end."""
        count = 0
        next_url: str | None = url
        next_params: dict[str, str] | None = params
        while next_url:
            body = self.get_json(next_url, what=what, params=next_params, headers=headers)
            for item in body.get("value", []):
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
            next_url, next_params = self.own_link(body.get("@odata.nextLink"), what), None

    def own_link(self, link: str | None, what: str) -> str | None:
        """A link Graph handed back (next page, delta); refused if it points anywhere but Graph (it gets our token)."""
        if link is not None and not link.startswith(self.graph_url + "/"):
            raise MailboxUnavailable(f"Microsoft Graph returned a link outside {self.graph_url} ({what})")
        return link

    def close(self) -> None:
        self._closing.set()
        self._http.close()

    @property
    def _origin(self) -> str:
        parts = urlsplit(self.graph_url)
        return f"{parts.scheme}://{parts.netloc}"

    # --- the app's token --------------------------------------------------------------------------------
    def _token(self, renew: bool) -> str:
        app = self._application()
        if renew:
            cache = app.token_cache
            for entry in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                cache.remove_at(entry)
        try:
            result = app.acquire_token_for_client(scopes=[self._scope])
        except (httpx.HTTPError, MsalError, ValueError) as exc:
            raise MailboxUnavailable(f"cannot get a token for Microsoft Graph from {self._authority}: "
                                     f"{type(exc).__name__}") from exc
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            error = result.get("error", "no token") if isinstance(result, dict) else "no token"
            description = str(result.get("error_description", "")).splitlines()[0] if isinstance(result, dict) else ""
            raise MailboxUnavailable(f"Microsoft Entra ID refused Clerk's app {self._client_id} at {self._authority}: "
                                     f"{error}: {description}".rstrip(": "))
        return token

    def _application(self) -> msal.ConfidentialClientApplication:
        """Built on first use, not in the constructor: msal reads the tenant's OpenID configuration when built."""
        with self._app_lock:
            if self._app is None:
                try:
                    self._app = msal.ConfidentialClientApplication(
                        self._client_id, client_credential=self._client_secret, authority=self._authority,
                        http_client=self._http, instance_discovery=False)
                except (httpx.HTTPError, MsalError, ValueError) as exc:
                    raise MailboxUnavailable(f"cannot read the tenant's sign-in configuration at {self._authority} "
                                             f"(check tenant_id and authority_host): {type(exc).__name__}") from exc
            return self._app


def _retry_after(response: httpx.Response, backoff: float) -> float:
    """Graph's ``Retry-After`` in seconds (fractions accepted), else the current exponential backoff."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return backoff


def graph_error_code(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except ValueError:
        return ""
    return str(error.get("code", "")) if isinstance(error, dict) else str(error or "")


def _failure(response: httpx.Response, what: str) -> GraphRequestFailed:
    code = graph_error_code(response)
    status = response.status_code
    if status in (401, 403):
        hint = ("check that the app has the Mail.ReadWrite and Mail.Send application permissions (admin consent) "
                "and that an application access policy lets it open this mailbox")
        return GraphRequestFailed(f"Microsoft Graph refused access ({what}): {status} {code}; {hint}",
                                  status=status, graph_code=code)
    return GraphRequestFailed(f"Microsoft Graph failed ({what}): {status} {code}".rstrip(), status=status,
                              graph_code=code)
