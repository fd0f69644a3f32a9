"""What Playwright's recorder reports, reduced to what a page-object skeleton needs. Pure: no Playwright here.

For each action the recorder gives a JSON entry in its "jsonl" language (the action, and its locator as a
chain of steps: ``{"kind": "role", "body": "button", "options": {"name": "Log in"}, "next": ...}``) and the
aria snapshot of the document the action was made in. :func:`screen_from_snapshot` reads the screen's
heading off the snapshot, which is then dropped: it holds every value on the screen, passwords included.

:func:`recorded_actions` turns the entries into :class:`RecordedAction` s and drops what was typed. A
field is secret when a password field took the value (``secret_values``, reported by the page) or when its
name says so (Password, PIN, memorable word...). A value typed earlier that shows up again in a locator (a
link named after the case reference that was searched for) becomes a :class:`Typed` reference to the
field it was typed into, so the skeleton can make it a parameter instead of writing it down.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Typed:
    """A value typed into ``field`` (the full locator chain of that field), seen again in a name or text."""

    field: tuple[Step, ...]
    secret: bool = False


Text = tuple["str | Typed", ...]
"""A name or text as literal parts and typed values: ``("Case ", Typed(...))``."""


@dataclass(frozen=True)
class Step:
    """One step of a Playwright locator chain, in the recorder's own kinds.

    ``role``: ``role`` and its accessible name in ``value``; ``label``, ``text``, ``placeholder``, ``alt``,
    ``title``, ``test-id``: the text in ``value``; ``default``: a CSS or XPath selector in ``value``;
    ``frame``: into an iframe's document; ``nth`` (``index``), ``first``, ``last``; ``has-text`` and
    ``has-not-text`` filters (``value``); ``has``, ``hasNot``, ``and``, ``or``, ``chain`` (``inner``).
    """

    kind: str
    value: Text = ()
    role: str = ""
    exact: bool = False
    attrs: tuple[tuple[str, Any], ...] = ()
    index: int | None = None
    inner: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Screen:
    """What a screen is known by: its heading (``role`` "heading") or else its first named landmark."""

    role: str
    name: Text
    level: int | None = None

    @property
    def label(self) -> str:
        return text_label(self.name)


@dataclass(frozen=True)
class RecordedAction:
    """One thing the person did, without what they typed.

    ``kind``: ``open`` (a page was loaded: ``path``), ``click``, ``fill`` (a value was typed), ``clear`` (a
    field was emptied), ``select``, ``check``, ``uncheck``, ``upload``, ``press`` (``key``, such as
    "Enter" or "Control+S"). ``frame`` is the chain into the iframe the element is in (empty at the top
    of the page), ``target`` the chain to the element from there. ``selector`` is the recorder's own
    selector, used when its locator cannot be written as Python (a regular expression).
    """

    kind: str
    frame: tuple[Step, ...] = ()
    target: tuple[Step, ...] = ()
    screen: Screen | None = None
    secret: bool = False
    key: str = ""
    path: str = ""
    button: str = "left"
    clicks: int = 1
    modifiers: tuple[str, ...] = ()
    selector: Text = ()
    """The recorder's own selector, only when its locator could not be read (a regular expression, which
    its JSON loses): then the skeleton uses this instead, marked TODO."""
    signals: tuple[str, ...] = ()
    """What else the action caused: "popup" (a new window), "download", "dialog" (an alert or confirm)."""

    def describe(self) -> str:
        """For the terminal while recording: never a typed value."""
        what = {"fill": "fill", "clear": "clear", "select": "choose in", "check": "tick", "uncheck": "untick",
                "upload": "attach a file to", "click": "click", "press": f"press {self.key} in"}.get(self.kind, self.kind)
        if self.kind == "open":
            return f"open {self.path}"
        name = element_label(self.target) or "an element"
        secret = " (a secret: kept out of the skeleton)" if self.secret else ""
        on = f' on "{self.screen.label}"' if self.screen else ""
        return f"{what} {name}{secret}{on}"


_MODIFIERS = ((1, "Alt"), (2, "Control"), (4, "Meta"), (8, "Shift"))
_SECRET_NAME = re.compile(
    r"\bpass(?:word|code|phrase)|\bpin\b|\bsecret|\bmemorable\b|\bsecurity (?:answer|code|word)|\botp\b", re.I
)
_ENTER_FRAME = " >> internal:control=enter-frame >> "
_IGNORED_KEYS = {"Tab", "Shift+Tab"}  # moving between fields is not part of the task
_TYPED_MIN_INSIDE = 4  # a typed value this long or longer is also found inside a longer name
_HEADING = re.compile(r'^\s*- heading "((?:[^"\\]|\\.)*)"(?: \[[^\]]*\])*?(?: \[level=(\d)\])', re.M)
_LANDMARK = re.compile(r'^\s*- (navigation|main|form|region|search|complementary) "((?:[^"\\]|\\.)*)"', re.M)


def screen_from_snapshot(snapshot: str | None) -> Screen | None:
    """The screen an aria snapshot shows: its first level-1 heading, else its first heading, else its
    first named landmark (a navigation "Main menu"), else None."""
    if not snapshot:
        return None
    headings = [(int(level), _unquote(name)) for name, level in _HEADING.findall(snapshot) if _unquote(name).strip()]
    if headings:
        level, name = min(headings, key=lambda heading: heading[0])  # the first of the highest level
        return Screen("heading", (name.strip(),), level)
    for role, name in _LANDMARK.findall(snapshot):
        if _unquote(name).strip():
            return Screen(role, (_unquote(name).strip(),))
    return None


def element_name_from_snapshot(snapshot: str | None, ref: str | None) -> str | None:
    """The full accessible name of the element ``ref`` in an aria snapshot (the recorder may have shortened it
    to a unique prefix in its locator: "BB-2026-" for a link "BB-2026-000001")."""
    if not snapshot or not ref:
        return None
    found = re.search(rf'^\s*- [\w-]+ "((?:[^"\\]|\\.)*)"[^\n]*\[ref={re.escape(ref)}\]', snapshot, re.M)
    return _unquote(found.group(1)) if found else None


def _unquote(quoted: str) -> str:
    try:
        return json.loads(f'"{quoted}"')
    except json.JSONDecodeError:
        return quoted


def is_secret_name(name: str) -> bool:
    """Whether a field's name says it takes a secret (Password, PIN, passcode, memorable word...)."""
    return bool(_SECRET_NAME.search(name))


def text_label(text: Text) -> str:
    """A name for people: typed values shown as <typed>."""
    return "".join(part if isinstance(part, str) else "<typed>" for part in text)


def element_label(target: Sequence[Step]) -> str:
    """How a person would name the element: 'the "Log in" button', '"Surname"'."""
    for step in reversed(target):
        if step.kind == "role":
            name = text_label(step.value)
            return f'the "{name}" {step.role}' if name else f"a {step.role}"
        if step.kind in {"label", "placeholder", "text", "title", "alt", "test-id"}:
            return f'"{text_label(step.value)}"'
    return ""


@dataclass
class _Typing:
    """Values typed so far, longest first, each with the field it went into."""

    values: list[tuple[str, Typed]] = field(default_factory=list)

    def add(self, value: str, chain: tuple[Step, ...], secret: bool) -> None:
        value = value.strip()
        if value and all(value != known for known, _ in self.values):
            self.values.append((value, Typed(chain, secret)))
            self.values.sort(key=lambda item: -len(item[0]))

    def scan(self, text: str) -> Text:
        """``text`` with every typed value in it replaced by its :class:`Typed`: a whole name equal to one
        whatever the case (typed "smith", a link "SMITH"), or one of at least four characters inside it as
        typed (a heading "Case BB-2026-000123"; "casebook" is not in "Casebook log in")."""
        parts: list[str | Typed] = [text]
        for value, typed in self.values:
            split: list[str | Typed] = []
            for part in parts:
                if not isinstance(part, str):
                    split.append(part)
                elif part.strip().casefold() == value.casefold():
                    split.append(typed)
                elif len(value) >= _TYPED_MIN_INSIDE and value in part:
                    pieces = part.split(value)
                    for index, piece in enumerate(pieces):
                        if index:
                            split.append(typed)
                        if piece:
                            split.append(piece)
                else:
                    split.append(part)
            parts = split
        return tuple(parts)


def recorded_actions(
    entries: Iterable[tuple[dict[str, Any], Screen | None]], secret_values: Collection[str] = ()
) -> list[RecordedAction]:
    """The recorder's entries (each with the screen read off its snapshot) as :class:`RecordedAction` s.

    ``secret_values`` are the values typed into password fields during the recording: a field that took
    one is secret whatever its name. Nothing typed is kept in what is returned.
    """
    typing = _Typing()
    actions: list[RecordedAction] = []
    for entry, screen in entries:
        action = _recorded_action(entry, screen, secret_values, typing)
        if action is not None:
            actions.append(action)
    return actions


def _recorded_action(
    entry: dict[str, Any], screen: Screen | None, secret_values: Collection[str], typing: _Typing
) -> RecordedAction | None:
    name = entry.get("name", "")
    if name in {"openPage", "navigate"}:
        url = entry.get("url") or ""
        if not url or url.startswith(("about:", "chrome:", "data:")):
            return None
        return RecordedAction("open", path=urlsplit(url).path or "/")  # never the query: it may hold data
    if "selector" not in entry:
        return None  # closePage, and anything else with no element
    chain = _chain(entry.get("locator"), typing)
    if chain:
        chain = _typed_in_full(chain, entry.get("elementName"), typing)
    selector: Text = ()
    if chain is None:  # the recorder's selector stands in: its frames as steps, then the rest as it is
        *frames, inside = str(entry["selector"]).split(_ENTER_FRAME)
        chain = tuple(step for css in frames for step in (Step("default", typing.scan(css)), Step("frame")))
        selector = typing.scan(inside)
    cut = max((index + 1 for index, step in enumerate(chain) if step.kind == "frame"), default=0)
    frame, target = chain[:cut], chain[cut:]
    if screen is not None:
        screen = Screen(screen.role, typing.scan(text_label(screen.name)), screen.level)
    signals = tuple(dict.fromkeys(
        signal.get("name", "") for signal in entry.get("signals") or () if signal.get("name") in {"popup", "download", "dialog"}
    ))
    common = {"frame": frame, "target": target, "screen": screen, "selector": selector, "signals": signals}
    if name == "fill":
        text = str(entry.get("text") or "")
        secret = bool(text and text in secret_values) or is_secret_name(_field_name(target))
        typing.add(text, chain, secret)
        return RecordedAction("fill" if text else "clear", secret=secret, **common)
    if name == "select":
        for value in entry.get("options") or ():
            typing.add(str(value), chain, False)
        return RecordedAction("select", **common)
    if name in {"check", "uncheck"}:
        return RecordedAction(name, **common)
    if name == "setInputFiles":
        return RecordedAction("upload", **common)
    modifiers = tuple(label for bit, label in _MODIFIERS if int(entry.get("modifiers") or 0) & bit)
    if name == "click":
        return RecordedAction("click", button=str(entry.get("button") or "left"), clicks=int(entry.get("clickCount") or 1),
                              modifiers=modifiers, **common)
    if name == "press":
        key = "+".join((*modifiers, str(entry.get("key") or "")))
        return None if key in _IGNORED_KEYS else RecordedAction("press", key=key, modifiers=modifiers, **common)
    return None  # assertions and anything newer: not part of a page object's actions


def _typed_in_full(chain: tuple[Step, ...], full_name: Any, typing: _Typing) -> tuple[Step, ...]:
    """When the element's full name is a typed value and the recorder's locator shortened it ("BB-2026-"),
    stand the typed value in for the whole name, not for nothing."""
    last = chain[-1]
    if not isinstance(full_name, str) or last.kind != "role" or last.exact or not last.value:
        return chain
    if any(not isinstance(part, str) for part in last.value) or "".join(last.value) not in full_name:
        return chain
    typed = typing.scan(full_name)
    if len(typed) != 1 or isinstance(typed[0], str):
        return chain
    return (*chain[:-1], replace(last, value=typed))


def _field_name(target: Sequence[Step]) -> str:
    for step in reversed(target):
        if step.kind in {"role", "label", "placeholder", "title", "test-id", "text"}:
            return text_label(step.value)
    return ""


def _chain(locator: Any, typing: _Typing) -> tuple[Step, ...] | None:
    """The steps of a recorder locator, or None when one cannot be read (a regular expression, which the
    recorder's JSON loses, or a kind this version does not know)."""
    steps: list[Step] = []
    while isinstance(locator, dict):
        step = _step(locator.get("kind"), locator.get("body"), locator.get("options") or {}, typing)
        if step is None:
            return None
        steps.append(step)
        locator = locator.get("next")
    return tuple(steps) if steps else None


def _step(kind: Any, body: Any, options: dict[str, Any], typing: _Typing) -> Step | None:
    exact = bool(options.get("exact"))
    if kind == "role":
        name = options.get("name")
        if not isinstance(body, str) or (name is not None and not isinstance(name, str)):
            return None
        attrs = tuple((str(attr["name"]), attr["value"]) for attr in options.get("attrs") or ())
        return Step("role", typing.scan(name) if name else (), role=body, exact=exact and bool(name), attrs=attrs)
    if kind in {"label", "text", "placeholder", "alt", "title", "test-id", "has-text", "has-not-text"}:
        return Step(kind, typing.scan(body), exact=exact) if isinstance(body, str) else None
    if kind == "default":
        if not isinstance(body, str) or any(key in options for key in ("hasText", "hasNotText")):
            return None
        return Step("default", typing.scan(body))
    if kind == "nth":
        try:
            return Step("nth", index=int(body))
        except (TypeError, ValueError):
            return None
    if kind in {"frame", "first", "last", "visible"}:
        return Step(kind)
    if kind == "filter-visible":
        return Step("filter-visible", exact=body == "true")
    if kind in {"has", "hasNot", "and", "or", "chain"} and isinstance(body, str):
        try:
            inner = _chain(json.loads(body), typing)
        except json.JSONDecodeError:
            return None
        return Step(kind, inner=inner) if inner else None
    return None
