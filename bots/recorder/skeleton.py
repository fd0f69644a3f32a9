"""A recorded action list as the source of a page-object skeleton. Pure: actions in, Python source out.

The skeleton follows the house rules for bots (DESIGN.md, rule 4) as far as a recording can:

* one class per screen visited: a screen is a document (top of the window or an iframe) known by its
  heading, so the class is named after it and its ``marker`` is that heading;
* every locator the recorder gave (role, label or text) is built once, in ``__init__``; one built from a
  value typed earlier (a link named after the reference that was searched for) is built in the method
  from that method's parameter;
* one method per recorded sequence: the fields filled on a screen and the click (or Enter) that ended
  them. The method is named after what was clicked ("Log in" -> ``log_in``; a link -> ``open_...``),
  and marked TODO where a person has to name its intent. A sequence that led to another screen returns
  that screen's object, once its marker shows;
* typed values are parameters, never literals; a secret (a password) is read from the settings; no
  sleeps, and the one wait (``navigation_ms``) is a named setting.

What only a person knows is left as TODO: intent names, what each screen returns as data, and which
locators need ``exact=True``.
"""

from __future__ import annotations

import json
import keyword
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bots.recorder.actions import RecordedAction, Screen, Step, Text, Typed, text_label

BASE_CLASS = "RecordedScreen"
SETTINGS_CLASS = "RecordedSettings"
NAVIGATION_MS = 15_000  # the default for settings.navigation_ms, as in Casebook's Patience
_ROLE_SUFFIX = {
    "textbox": "field", "searchbox": "field", "spinbutton": "field", "combobox": "list", "listbox": "list",
    "checkbox": "checkbox", "radio": "option", "option": "option", "menuitem": "item", "tab": "tab",
    "switch": "switch", "slider": "slider", "cell": "cell", "gridcell": "cell", "row": "row",
}
_KIND_SUFFIX = {"label": "field", "placeholder": "field", "text": "text", "title": "element", "alt": "image"}
_RESERVED = {"page", "settings", "frame", "marker", "wait", "open", "self"}
_OPEN_WORDS = ("open", "go", "view", "show", "back")
_MAX_WORDS = 6


@dataclass(frozen=True)
class Skeleton:
    source: str
    classes: tuple[str, ...]  # the screens' classes, in the order they were first visited
    methods: int


@dataclass
class _Method:
    name: str
    guessed: bool
    params: list[str]  # "name: str"
    lines: list[str]
    recorded: list[str]
    returns: _Screen | None = None

    def body(self) -> tuple[str, ...]:
        return (*self.params, *self.lines, self.returns.name if self.returns else "")


@dataclass
class _Screen:
    name: str
    frame: tuple[Step, ...]
    screen: Screen | None
    opened_at: str = ""
    locators: dict[tuple[Step, ...], str] = field(default_factory=dict)  # target chain -> attribute
    fallbacks: dict[Text, str] = field(default_factory=dict)  # recorder selector -> attribute
    methods: list[_Method] = field(default_factory=list)
    names: set[str] = field(default_factory=lambda: set(_RESERVED))


def skeleton(actions: Sequence[RecordedAction], *, app: str, url: str = "", recorded_on: str = "") -> Skeleton:
    """The skeleton of ``bots/<app>/pages/recorded_<n>.py`` for ``actions``, recorded from ``url``."""
    screens, visits = _visits(actions)
    secrets: dict[tuple[Step, ...], str] = {}
    for action in actions:
        if action.secret and action.kind == "fill":
            _secret_setting(action.frame + action.target, secrets)
    count = 0
    for index, (screen, sequence_actions) in enumerate(visits):
        following = visits[index + 1][0] if index + 1 < len(visits) else None
        sequences = _sequences(sequence_actions)
        for position, sequence in enumerate(sequences):
            last = position == len(sequences) - 1
            returns = following if last and following is not screen else None
            method = _method(screen, sequence, returns, secrets)
            if last and following is None and sequence[-1].kind in {"click", "press"}:
                method.lines.append("# TODO: the recording ended here: wait for the screen this leads to, and return it")
            if _add_method(screen, method):
                count += 1
    lines = _module_header(app, url, recorded_on, screens, actions, secrets)
    lines += _settings_class(secrets)
    lines += _base_class()
    for screen in screens:
        lines += _screen_class(screen, secrets)
    source = "\n".join(lines).rstrip() + "\n"
    return Skeleton(source, tuple(screen.name for screen in screens), count)


# --- grouping the actions -------------------------------------------------------------------------------


def _visits(actions: Sequence[RecordedAction]) -> tuple[list[_Screen], list[tuple[_Screen, list[RecordedAction]]]]:
    """The screens (one per document known by its heading) and the runs of actions made on each in turn."""
    screens: dict[tuple, _Screen] = {}
    visits: list[tuple[_Screen, list[RecordedAction]]] = []
    opened_at = ""
    class_names: set[str] = {BASE_CLASS, SETTINGS_CLASS}
    for action in actions:
        if action.kind == "open":
            opened_at = action.path
            continue
        current = visits[-1][0] if visits else None
        if action.screen is None and current is not None and current.frame == action.frame:
            screen = current  # no heading seen: the screen the last action was on, if in the same frame
        else:
            key = (action.frame, action.screen) if action.screen else (action.frame, None, len(visits))
            if key not in screens:
                screens[key] = _Screen(_class_name(action.screen, len(screens) + 1, class_names), action.frame,
                                       action.screen)
            screen = screens[key]
        if opened_at and not action.frame and not screen.opened_at:
            screen.opened_at = opened_at
        opened_at = ""
        if screen is current:
            visits[-1][1].append(action)
        else:
            visits.append((screen, [action]))
    return list(screens.values()), visits


def _sequences(actions: list[RecordedAction]) -> list[list[RecordedAction]]:
    """Split a visit after each click and each Enter: each part is one method."""
    sequences: list[list[RecordedAction]] = [[]]
    for action in actions:
        sequences[-1].append(action)
        if action.kind == "click" or (action.kind == "press" and action.key == "Enter"):
            sequences.append([])
    return [sequence for sequence in sequences if sequence]


def _add_method(screen: _Screen, method: _Method) -> bool:
    """Add ``method`` unless the screen has one doing exactly the same; a clash of names gets a number."""
    if any(existing.body() == method.body() for existing in screen.methods):
        return False
    method.name = _unique(method.name, screen.names)
    screen.methods.append(method)
    return True


# --- one method ---------------------------------------------------------------------------------------------


def _method(screen: _Screen, actions: list[RecordedAction], returns: _Screen | None,
            secrets: Mapping[tuple[Step, ...], str]) -> _Method:
    params: dict[tuple[Step, ...], str] = {}  # typed field -> parameter name
    used: set[str] = {"self"}

    def param(chain: tuple[Step, ...], suffix: str = "") -> str:
        if chain not in params:
            params[chain] = _unique(_identifier(_words(_element_name(chain)) + ([suffix] if suffix else []), "value"), used)
        return params[chain]

    def typed(part: Typed) -> str:
        if part.secret:
            return f"self.settings.{_secret_setting(part.field, secrets)}"
        return param(part.field)

    lines: list[str] = []
    recorded: list[str] = []
    for action in actions:
        locator = _locator(screen, action, typed)
        chain = action.frame + action.target
        recorded.append(_recorded(action, typed))
        for signal in action.signals:
            lines.append(_SIGNAL_TODO[signal])
        if action.kind == "fill":
            value = f"self.settings.{_secret_setting(chain, secrets)}" if action.secret else param(chain)
            lines.append(f"{locator}.fill({value})")
        elif action.kind == "clear":
            lines.append(f"{locator}.clear()")
        elif action.kind == "select":
            lines.append(f"{locator}.select_option({param(chain)})")
        elif action.kind in {"check", "uncheck"}:
            lines.append(f"{locator}.{action.kind}()")
        elif action.kind == "upload":
            lines.append(f"{locator}.set_input_files({param(chain, 'file')})")
        elif action.kind == "press":
            lines.append(f"{locator}.press({_quote(action.key)})")
        elif action.kind == "click":
            lines.append(f"{locator}.{_click(action)}")
    if returns is not None:
        lines.append(f"return {returns.name}(self.page, self.settings).wait()")
    name, guessed = _method_name(actions, params)
    return _Method(name, guessed, [f"{parameter}: str" for parameter in params.values()], lines, recorded, returns)


_SIGNAL_TODO = {
    "popup": "# TODO: the next step opened a new window: wrap it in `with self.page.expect_popup() as popup:`",
    "download": "# TODO: the next step started a download: wrap it in `with self.page.expect_download() as download:`",
    "dialog": "# TODO: the next step raised a dialog (alert or confirm): answer it with `self.page.once(\"dialog\", ...)`",
}


def _click(action: RecordedAction) -> str:
    options = []
    if action.button != "left":
        options.append(f"button={_quote(action.button)}")
    if action.modifiers:
        options.append(f"modifiers=[{', '.join(_quote(modifier) for modifier in action.modifiers)}]")
    verb = "dblclick" if action.clicks == 2 else "click"
    if action.clicks > 2:
        options.append(f"click_count={action.clicks}")
    return f"{verb}({', '.join(options)})"


def _method_name(actions: list[RecordedAction], params: Mapping[tuple[Step, ...], str]) -> tuple[str, bool]:
    """A name for what the sequence does, and whether it is only a guess (then the method says TODO)."""
    last = actions[-1]
    if last.kind == "click":
        step = _naming_step(last.target)
        if step is not None and step.kind == "role" and step.value:
            words = _text_words(step.value, params)
            if step.role in {"link", "tab", "menuitem", "treeitem"} and (not words or words[0] not in _OPEN_WORDS):
                words = ["open", *words]
            if words:
                return _identifier(words, "click"), step.role not in {"button", "link", "menuitem", "tab"}
        words = _text_words(step.value, params) if step is not None else []
        return _identifier(["click", *words], "click"), True
    if last.kind == "press" and last.key == "Enter":
        return "submit", True
    filled = [action for action in actions if action.kind in {"fill", "select", "upload"} and not action.secret]
    if len(filled) == 1:
        return _identifier(["fill", *_words(_element_name(filled[0].frame + filled[0].target))], "fill_form"), True
    return ("fill_form" if filled else "choose"), True


def _text_words(text: Text, params: Mapping[tuple[Step, ...], str]) -> list[str]:
    """Words of a name; a typed value in it stands as its parameter's name (never as what was typed)."""
    words: list[str] = []
    for part in text:
        words += _words(part) if isinstance(part, str) else params.get(part.field, "value").split("_")
    return words


def _recorded(action: RecordedAction, typed) -> str:
    """What the person did, for the docstring: a typed value in a name shows as <its parameter>."""
    step = _naming_step(action.target)
    label = "".join(part if isinstance(part, str) else f"<{typed(part)}>" for part in step.value) if step else ""
    name = label or _element_name(action.target) or "an element"
    describe = {
        "fill": f'fill "{name}"' + (" (a secret: from the settings)" if action.secret else ""),
        "clear": f'clear "{name}"', "select": f'choose in "{name}"', "check": f'tick "{name}"',
        "uncheck": f'untick "{name}"', "upload": f'attach a file to "{name}"', "press": f'press {action.key} in "{name}"',
    }
    if action.kind == "click":
        role = f" {step.role}" if step is not None and step.kind == "role" else ""
        return f'click "{name}"{role}'
    return describe[action.kind]


# --- locators -------------------------------------------------------------------------------------------


def _locator(screen: _Screen, action: RecordedAction, typed) -> str:
    """The expression for the action's element: an attribute built in ``__init__``, or built here when it
    depends on a typed value."""
    root = "self.frame" if screen.frame else "self.page"
    if action.selector:
        if _has_typed(action.selector):
            return f"{root}.locator({_literal(action.selector, typed)})"
        if action.selector not in screen.fallbacks:
            screen.fallbacks[action.selector] = _unique(_identifier(["element"], "element"), screen.names)
        return f"self.{screen.fallbacks[action.selector]}"
    if any(_has_typed(step.value) or any(_has_typed(inner.value) for inner in step.inner) for step in action.target):
        return _chain(root, action.target, typed)
    if action.target not in screen.locators:
        screen.locators[action.target] = _unique(_attribute_name(action.target), screen.names)
    return f"self.{screen.locators[action.target]}"


def _has_typed(text: Text) -> bool:
    return any(isinstance(part, Typed) for part in text)


def _chain(base: str, steps: Sequence[Step], typed=None) -> str:
    return base + "".join(_step(step, base, typed) for step in steps)


def _step(step: Step, base: str, typed) -> str:
    kind = step.kind
    if kind == "role":
        options = [_quote(step.role)]
        if step.value:
            options.append(f"name={_literal(step.value, typed)}")
        if step.exact:
            options.append("exact=True")
        for name, value in step.attrs:
            options.append(f"{_snake(name)}={_python_value(value)}")
        return f".get_by_role({', '.join(options)})"
    method = {"label": "get_by_label", "text": "get_by_text", "placeholder": "get_by_placeholder",
              "alt": "get_by_alt_text", "title": "get_by_title"}.get(kind)
    if method:
        return f".{method}({_literal(step.value, typed)}{', exact=True' if step.exact else ''})"
    if kind == "test-id":
        return f".get_by_test_id({_literal(step.value, typed)})"
    if kind == "default":
        return f".locator({_literal(step.value, typed)})"
    if kind == "frame":
        return ".content_frame"
    if kind == "nth":
        return f".nth({step.index})"
    if kind in {"first", "last"}:
        return f".{kind}"
    if kind in {"visible", "filter-visible"}:
        return f".filter(visible={kind == 'visible' or step.exact})"
    if kind in {"has-text", "has-not-text"}:
        return f".filter({kind.replace('-', '_')}={_literal(step.value, typed)})"
    inner = _chain(base, step.inner, typed)
    return {"has": f".filter(has={inner})", "hasNot": f".filter(has_not={inner})", "and": f".and_({inner})",
            "or": f".or_({inner})"}.get(kind, f".locator({inner})")


def _user_facing(steps: Sequence[Step]) -> bool:
    """Whether a chain finds its element as a person would (role, label, text...), not by CSS or XPath."""
    return all(step.kind != "default" and _user_facing(step.inner) for step in steps)


def _marker(screen: _Screen, root: str) -> tuple[str, str]:
    """The locator that shows the screen is there, and a TODO when it could not be a plain heading."""
    seen = screen.screen
    if seen is None:
        return f"{root}.locator(\"body\")", "# TODO: no heading was seen: choose what shows this screen has loaded"
    if _has_typed(seen.name):
        level = f", level={seen.level}" if seen.level else ""
        return (f"{root}.get_by_role({_quote(seen.role)}{level})",
                "# TODO: the heading showed a typed value: check this finds this screen's heading")
    return f"{root}.get_by_role({_quote(seen.role)}, name={_literal(seen.name)}, exact=True)", ""


# --- naming ---------------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.findall(r"[a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", ascii_text).lower())[:_MAX_WORDS]


def _identifier(words: list[str], fallback: str) -> str:
    name = "_".join(words) or fallback
    if name[0].isdigit():
        name = f"{fallback}_{name}"
    return f"{name}_" if keyword.iskeyword(name) else name


def _unique(name: str, used: set[str]) -> str:
    candidate, number = name, 2
    while candidate in used:
        candidate, number = f"{name}_{number}", number + 1
    used.add(candidate)
    return candidate


def _naming_step(target: Sequence[Step]) -> Step | None:
    for step in reversed(target):
        if step.kind in {"role", "label", "placeholder", "text", "title", "alt", "test-id"}:
            return step
    return None


def _element_name(chain: Sequence[Step]) -> str:
    step = _naming_step(chain)
    if step is None:
        return ""
    return "".join(part for part in step.value if isinstance(part, str)) or (step.role if step.kind == "role" else "")


def _attribute_name(target: tuple[Step, ...]) -> str:
    step = _naming_step(target)
    if step is None:
        return "element"
    words = _words(_element_name(target))
    if step.kind == "role":
        suffix = _ROLE_SUFFIX.get(step.role, step.role.replace("-", "_"))
        return _identifier(words + [suffix] if words and words[-1] != suffix else words or [suffix], "element")
    if step.kind == "test-id":
        return _identifier(words, "element")
    suffix = _KIND_SUFFIX.get(step.kind, "element")
    return _identifier(words + [suffix] if words and words[-1] != suffix else words or [suffix], "element")


def _class_name(screen: Screen | None, number: int, used: set[str]) -> str:
    words = _words(" ".join(part for part in screen.name if isinstance(part, str))) if screen else []
    if words and words[-1] in {"page", "screen"}:
        words = words[:-1]
    name = "".join(word.capitalize() for word in words)
    if not name or name[0].isdigit():
        name = f"Screen{number}{name}"
    return _unique(f"{name}Page", used)


def _secret_setting(chain: tuple[Step, ...], secrets: dict[tuple[Step, ...], str]) -> str:
    """The settings field that holds the secret typed into ``chain`` (``password``, ``memorable_word``)."""
    if chain not in secrets:
        secrets[chain] = _unique(_identifier(_words(_element_name(chain)), "secret"),
                                 set(secrets.values()) | {"navigation_ms"})
    return secrets[chain]


def _snake(name: str) -> str:
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


# --- source text ----------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _literal(text: Text, typed=None) -> str:
    """A Python expression for ``text``: a string literal, or an f-string around the typed values."""
    if not _has_typed(text):
        return _quote("".join(text))  # type: ignore[arg-type]
    if typed is None:  # only a frame's CSS could get here: marked TODO where the frame is built
        return _quote(text_label(text))
    if len(text) == 1:
        return typed(text[0])
    inside = "".join(part.replace("{", "{{").replace("}", "}}") if isinstance(part, str) else "{" + typed(part) + "}"
                     for part in text)
    return "f" + _quote(inside)


def _python_value(value) -> str:
    if isinstance(value, bool | int):
        return repr(value)
    return _quote(str(value))


def _doc(text: str) -> str:
    """Safe inside a triple-quoted docstring."""
    return text.replace("\\", "/").replace('"""', "'''")


def _shown_url(url: str) -> str:
    """The recorded address without user, password or query (they may hold secrets or personal data)."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else parts.path


def _module_header(app: str, url: str, recorded_on: str, screens: list[_Screen], actions: Sequence[RecordedAction],
                   secrets: Mapping[tuple[Step, ...], str]) -> list[str]:
    where = f" from {_shown_url(url)}" if url else ""
    when = f" on {recorded_on}" if recorded_on else ""
    secret_note = (" Secrets typed into "
                   + ", ".join(f'"{_element_name(chain)}"' for chain in secrets)
                   + " are read from the settings." if secrets else "")
    lines = [
        f'"""Screens of {_doc(app)} recorded by `clerk record`{_doc(where)}{_doc(when)}: a skeleton to finish by hand.',
        "",
        f"{len(screens)} screens, {sum(action.kind != 'open' for action in actions)} recorded actions. Nothing typed "
        f"while recording is written here: each typed value is a method parameter.{_doc(secret_note)}",
        "",
        'TODO (runbooks/getting-started.md, "Writing a bot for a new application"):',
        f"- move each class into bots/{_doc(app)}/pages/<screen>.py, derived from the app's own Screen (pages/common.py);",
        "- name each method marked TODO for its intent, and make methods return the data they read;",
        "- check each locator finds one element (exact=True where a name is part of another);",
        f"- fold {SETTINGS_CLASS} into the bot's settings (bots/{_doc(app)}/bot.py); secrets come from the environment.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
    ]
    lines.append("from dataclasses import dataclass, field" if secrets else "from dataclasses import dataclass")
    lines += ["from typing import Self", "", "from playwright.sync_api import Locator, Page", "", ""]
    return lines


def _settings_class(secrets: Mapping[tuple[Step, ...], str]) -> list[str]:
    lines = ["@dataclass(frozen=True)", f"class {SETTINGS_CLASS}:",
             '    """What these screens need besides the page. TODO: fold into the bot\'s settings."""', ""]
    for chain, name in secrets.items():
        lines.append(f"    {name}: str = field(repr=False)  # typed into \"{_doc(_element_name(chain))}\": from the "
                     "environment, never in code")
    lines += [f"    navigation_ms: int = {NAVIGATION_MS:_}  # how long a screen may take to appear", "", ""]
    return lines


def _base_class() -> list[str]:
    return [
        f"class {BASE_CLASS}:",
        '    """What every recorded screen shares: the page, the settings, and waiting for its marker."""',
        "",
        "    marker: Locator",
        "",
        f"    def __init__(self, page: Page, settings: {SETTINGS_CLASS}) -> None:",
        "        self.page = page",
        "        self.settings = settings",
        "",
        "    def wait(self) -> Self:",
        '        """Wait until this screen shows (its marker is visible), up to settings.navigation_ms."""',
        "        self.marker.wait_for(timeout=self.settings.navigation_ms)",
        "        return self",
        "",
        "",
    ]


def _screen_class(screen: _Screen, secrets: Mapping[tuple[Step, ...], str]) -> list[str]:
    known = f'headed "{_doc(text_label(screen.screen.name))}"' if screen.screen and screen.screen.role == "heading" else (
        f'showing the {screen.screen.role} "{_doc(text_label(screen.screen.name))}"' if screen.screen else "with no heading")
    inside = " inside a frame" if screen.frame else ""
    lines = [f"class {screen.name}({BASE_CLASS}):", f'    """The screen {known}{inside}."""', "",
             f"    def __init__(self, page: Page, settings: {SETTINGS_CLASS}) -> None:",
             "        super().__init__(page, settings)"]
    root = "page"
    if screen.frame:
        if any(_has_typed(step.value) for step in screen.frame):
            lines.append("        # TODO: the frame's selector held a typed value (shown as <typed>): rewrite it")
        if not _user_facing(screen.frame):
            lines.append("        # TODO: find the frame by its title if it has one: page.get_by_title(...).content_frame")
        lines.append(f"        self.frame = {_chain('page', screen.frame)}")
        root = "self.frame"
    marker, todo = _marker(screen, root)
    if todo:
        lines.append(f"        {todo}")
    lines.append(f"        self.marker = {marker}")
    for target, name in screen.locators.items():
        if not _user_facing(target):
            lines.append("        # TODO: the recorder found no role, label or text for this: give it one if you can")
        lines.append(f"        self.{name} = {_chain(root, target)}")
    for selector, name in screen.fallbacks.items():
        lines.append("        # TODO: the recorder's locator used a regular expression: rewrite with get_by_role/label/text")
        lines.append(f"        self.{name} = {root}.locator({_literal(selector)})")
    if screen.opened_at:
        lines += ["", "    def open(self, url: str) -> Self:",
                  f'        """Load the application at ``url`` (recorded at "{_doc(screen.opened_at)}") and wait for this screen."""',
                  "        self.page.goto(url, timeout=self.settings.navigation_ms)",
                  "        return self.wait()"]
    for method in screen.methods:
        params = "".join(f", {param}" for param in method.params)
        returns = method.returns.name if method.returns else "None"
        lines += ["", f"    def {method.name}(self{params}) -> {returns}:"]
        recorded = f'        """Recorded: {_doc(", ".join(method.recorded))}.'
        if method.guessed:
            lines += [recorded, "",
                      "        TODO: name this method for its intent (what the person was doing), not its clicks.",
                      '        """']
        else:
            lines.append(f'{recorded}"""')
        lines += [f"        {line}" for line in method.lines]
    return [*lines, "", ""]
