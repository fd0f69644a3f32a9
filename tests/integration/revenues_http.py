"""Revenues over HTTP, as a person at the keyboard would use it (by the screens' stable field names)."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

from tests.integration.sandbox_http import Response, SandboxClient, Tables


def day(offset: int) -> str:
    """Today plus ``offset`` days, as Revenues wants dates typed: DD/MM/YYYY."""
    return (date.today() + timedelta(days=offset)).strftime("%d/%m/%Y")


def errors(page: Response) -> list[str]:
    """The messages in the page's error box (``#errors``), one per list item, or its whole text."""
    block = re.search(r'<div class="err" id="errors">(.*?)</div>', page.text, re.S)
    if block is None:
        return []
    items = re.findall(r"<li>(.*?)</li>", block.group(1), re.S)
    return [html.unescape(item) for item in items] or [" ".join(html.unescape(block.group(1)).split())]


def results(page: Response) -> list[dict[str, str]]:
    return Tables(page.text).rows("results")


class RevenuesClient(SandboxClient):
    def log_in(self, user: str = "clerk-bot", password: str = "revenues") -> Response:
        return self.request("/login", {"USERID": user, "PASSWD": password})

    def search(self, **fields: str) -> Response:
        """``search(SURNAME="smith", PCODE="ND1")``: the results page (or the search page with errors)."""
        return self.get("/main/results", **fields)

    def find(self, account_no: str, postcode: str, **fields: str) -> Response:
        """Press Find (F4) on the change-of-address screen."""
        return self.request("/main/move", {"ACCTNO": account_no, "NEWPCODE": postcode, "CMD": "Find", **fields})

    def move(self, account_no: str, *, move_out: str, new_property: str, move_in: str, note: str = "",
             postcode: str = "") -> Response:  # fmt: skip
        """Press Save (F10) on the change-of-address screen."""
        form = {"ACCTNO": account_no, "MOVEOUT": move_out, "NEWPCODE": postcode, "NEWPROP": new_property,
                "MOVEIN": move_in, "NOTE": note, "CMD": "Save"}  # fmt: skip
        return self.request("/main/move", form)
