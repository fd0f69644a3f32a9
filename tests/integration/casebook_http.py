"""A tiny HTTP client for Casebook (urllib + html.parser): fills forms by label, like a person would.

Used by the fast server tests and to seed cases without a browser.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from html.parser import HTMLParser

from tests.integration.sandbox_http import Response, SandboxClient


@dataclass
class Control:
    tag: str
    id: str
    name: str
    type: str = ""
    value: str = ""
    options: dict[str, str] = field(default_factory=dict)  # select: option text -> value


class Form(HTMLParser):
    """The controls of one page: hidden fields, labelled controls and submit buttons."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.controls: dict[str, Control] = {}  # by id
        self.labels: dict[str, str] = {}  # label text -> control id
        self.buttons: dict[str, Control] = {}  # button text -> control
        self._label_for: str | None = None
        self._label_text = ""
        self._select: Control | None = None
        self._option: str | None = None
        self._option_text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "label":
            self._label_for, self._label_text = a.get("for"), ""
        elif tag == "input":
            kind = a.get("type", "text")
            control = Control("input", a.get("id", ""), a.get("name", ""), kind, a.get("value", ""))
            if kind == "hidden":
                self.hidden[control.name] = control.value
            elif kind in ("submit", "button"):
                self.buttons[control.value] = control
            else:
                self.controls[control.id] = control
        elif tag in ("select", "textarea"):
            control = Control(tag, a.get("id", ""), a.get("name", ""))
            self.controls[control.id] = control
            self._select = control if tag == "select" else None
        elif tag == "option":
            self._option, self._option_text = a.get("value", ""), ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._label_for:
            self.labels[self._label_text.strip()] = self._label_for
            self._label_for = None
        elif tag == "option" and self._select is not None and self._option is not None:
            self._select.options[self._option_text.strip()] = self._option
            self._option = None

    def handle_data(self, data: str) -> None:
        if self._label_for is not None:
            self._label_text += data
        if self._option is not None:
            self._option_text += data

    def control(self, label: str) -> Control:
        return self.controls[self.labels[label]]

    def data(self, values: dict[str, str], button: str) -> dict[str, str]:
        """Posted fields: hidden ones, ``values`` by label (options by their text), the button pressed."""
        posted = dict(self.hidden)
        for label, value in values.items():
            control = self.control(label)
            if control.tag == "select":
                value = control.options[value]
            elif control.type == "radio":
                value = control.value
            posted[control.name] = value
        pressed = self.buttons[button]
        posted[pressed.name] = pressed.value
        return posted


class CasebookClient(SandboxClient):
    def submit(self, path: str, page: Response, values: dict[str, str], button: str, action: str = "") -> Response:
        return self.request(action or path, Form(page.text).data(values, button))

    def log_in(self, user: str = "clerk-bot", password: str = "casebook") -> Response:
        page = self.request("/")
        return self.submit("/", page, {"User name": user, "Password": password}, "Log in", "/login")

    def lookup(self, postcode: str) -> dict:
        return json.loads(self.request("/api/postcode?postcode=" + urllib.parse.quote(postcode)).text)

    def key_to_review(self, fields: dict[str, str]) -> Response:
        """Walk the wizard to the Review step. ``fields`` by Casebook label; the lookup is done for you."""
        page = self.request("/case/new?start=1")
        step1 = ["Title", "First name(s)", "Surname", "Date of birth", "National Insurance number"]
        page = self.submit("/case/new", page, {k: fields[k] for k in step1}, "Next")
        self.lookup(fields["Postcode"])
        step2 = ["Postcode", "Address line 1", "Address line 2", "Town"]
        page = self.submit("/case/new", page, {k: fields.get(k, "") for k in step2}, "Next")
        step3 = [
            "Reason for applying",
            "Existing badge number",
            "Contact phone number",
            "Contact email address",
            "Notes",
        ]
        values = {k: fields.get(k, "") for k in step3}
        values[fields.get("Badge type", "New")] = "on"
        return self.submit("/case/new", page, values, "Next")

    def create_case(self, fields: dict[str, str]) -> str:
        review = self.key_to_review(fields)
        saved = self.submit("/case/new", review, {}, "Save case")
        match = re.search(r"Case <b>(BB-\d{4}-\d{6})</b> has been created", saved.text)
        assert match, saved.text
        return match.group(1)


def case_fields(surname: str, date_of_birth: str, notes: str, **overrides: str) -> dict[str, str]:
    """Valid Casebook fields (by label) for seeding."""
    fields = {
        "Title": "Mr",
        "First name(s)": "Seed",
        "Surname": surname,
        "Date of birth": date_of_birth,
        "National Insurance number": "JT000001A",
        "Postcode": "LS1 4AB",
        "Address line 1": "1 Seed Street",
        "Town": "Leeds",
        "Reason for applying": "Difficulty walking",
        "Contact phone number": "01632960000",
        "Contact email address": "seed@example.org",
        "Notes": notes,
    }
    fields.update(overrides)
    return fields
