"""A tiny HTTP client for the sandbox apps (urllib, a cookie jar), and readers for the HTML they answer.

Used by the fast server tests of every sandbox app, without a browser.
"""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any


@dataclass
class Response:
    status: int
    url: str
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class SandboxClient:
    """One user's browser: cookies kept between requests, redirects followed."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def request(self, path: str, data: dict[str, str] | None = None) -> Response:
        """GET ``path``, or POST ``data`` to it as a form."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        return self._open(urllib.request.Request(self.base_url + path, body))

    def get(self, path: str, **params: object) -> Response:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return self.request(path + query)

    def post_json(self, path: str, data: object) -> Response:
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        return self._open(urllib.request.Request(self.base_url + path, raw, {"Content-Type": "application/json"}))

    def _open(self, request: urllib.request.Request) -> Response:
        try:
            with self._opener.open(request, timeout=10) as reply:
                return Response(reply.status, reply.geturl(), reply.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            return Response(error.code, error.geturl(), error.read().decode("utf-8"))


class Tables(HTMLParser):
    """Every ``<table id=...>`` of a page as rows of cell texts (header rows included), and the text of
    every other element with an id."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.texts: dict[str, str] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._open: list[tuple[str, str]] = []  # (tag, id) of elements with an id being read
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif a.get("id") and tag not in ("input", "select", "option", "br"):
            self._open.append((tag, a["id"]))
            self.texts[a["id"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None
        elif self._open and self._open[-1][0] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        for _, element_id in self._open:
            self.texts[element_id] += data

    def rows(self, table_id: str) -> list[dict[str, str]]:
        """The table's data rows, keyed by its header row."""
        header, *rows = self.tables[table_id]
        return [dict(zip(header, row, strict=True)) for row in rows]

    def text(self, element_id: str) -> str:
        return " ".join(self.texts[element_id].split())
