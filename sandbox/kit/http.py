"""Requests, replies and the routing table of a sandbox app.

A route is a method of the app's server class, registered with the class's :class:`Routes` table::

    class ShopServer(AppServer):
        routes = Routes()

        @routes.get("/", public=True)
        def get_root(self, request: Request, session: None) -> Reply: ...

A route returns a :class:`Reply`; anything below it may ``raise`` one to answer early (a login page
for an expired session, a 400 for a body that is not JSON).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs


class Reply(Exception):
    """A finished response."""

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "text/html; charset=utf-8",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(status)
        self.status, self.body, self.content_type, self.headers = status, body, content_type, headers or []


def html(text: str, status: int = HTTPStatus.OK, headers: list[tuple[str, str]] | None = None) -> Reply:
    return Reply(status, text.encode("utf-8"), headers=headers)


def json_reply(data: Any, status: int = HTTPStatus.OK, headers: list[tuple[str, str]] | None = None) -> Reply:
    return Reply(status, json.dumps(data).encode("utf-8"), "application/json; charset=utf-8", headers)


def redirect(location: str, headers: list[tuple[str, str]] | None = None) -> Reply:
    return Reply(HTTPStatus.SEE_OTHER, b"", headers=[("Location", location), *(headers or [])])


@dataclass
class Request:
    method: str
    path: str  # without the query string
    target: str  # as requested: path and query string
    query: dict[str, str]  # the last value of each parameter
    body: bytes = b""
    headers: Message = field(default_factory=Message)

    def cookie(self, name: str) -> str | None:
        jar = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie") or "")
        except Exception:  # a malformed header counts as no cookie
            return None
        morsel = jar.get(name)
        return morsel.value if morsel else None

    def form(self) -> dict[str, str]:
        """A posted HTML form: the last value of each field, blanks kept."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.body.decode("utf-8"))


Handler = Callable[[Any, Request, Any], Reply]  # (the app server, the request, its session or None)


@dataclass(frozen=True)
class Route:
    handler: Handler
    public: bool  # answered without a session (the login page, the login form)


class Routes:
    """The routing table: (method, path) -> :class:`Route`. Paths are exact; parameters go in the query."""

    def __init__(self) -> None:
        self._table: dict[tuple[str, str], Route] = {}

    def add(self, method: str, path: str, handler: Handler, *, public: bool = False) -> None:
        key = (method, path)
        if key in self._table:
            raise ValueError(f"{method} {path} is routed twice")
        self._table[key] = Route(handler, public)

    def get(self, path: str, *, public: bool = False) -> Callable[[Handler], Handler]:
        return self._register("GET", path, public)

    def post(self, path: str, *, public: bool = False) -> Callable[[Handler], Handler]:
        return self._register("POST", path, public)

    def find(self, method: str, path: str) -> Route | None:
        return self._table.get((method, path))

    def paths(self) -> list[tuple[str, str]]:
        return list(self._table)

    def _register(self, method: str, path: str, public: bool) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(method, path, handler, public=public)
            return handler

        return register
