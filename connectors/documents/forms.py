"""Form definitions: what a form's fields are called, wherever staff may have filled them in.

One YAML file per form in ``config/forms/`` (``runbooks/forms.md`` tells the Continuous Improvement team how
to add a form, or a new version of one, without Python). A definition maps each field of the process's
model to how it appears in every format: the labels printed beside it (with the variants other versions
and other councils use), its AcroForm field names, its Word content-control tags and legacy field names,
and its type. The readers (``acroform``, ``pdf_text``, ``docx_form``, ``ocr``) are driven by it, so adding
a label variant is a change to YAML, not to code.

A definition may also list ``anchors``: phrases only that form has, without which a document is not that
form however many of its generic labels it shares. Definitions are frozen pydantic models: they pickle, so
a definition can be handed to a parser worker.
Any problem with a file raises :class:`~connectors.errors.ConfigError` naming the file and the key.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors.errors import ConfigError

FORMS_DIR = Path(__file__).resolve().parents[2] / "config" / "forms"
"""Where the shipped definitions live; ``load_form("blue_badge")`` reads ``FORMS_DIR/blue_badge.yaml``."""

FieldType = Literal["text", "date", "checkbox", "choice", "money"]


class FieldSpec(BaseModel):
    """One field of a form, as it can appear in any of the formats staff send."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: list[str] = Field(min_length=1)
    """As printed beside the field. The first is the form's own wording; the rest are variants."""
    acroform: list[str] = Field(default_factory=list)
    """AcroForm field names in the PDF form (default: the field's key)."""
    docx: list[str] = Field(default_factory=list)
    """Word content-control tags or titles and legacy form-field names (default: the field's key)."""
    hints: list[str] = Field(default_factory=list)
    """Guidance printed by the field ("DD/MM/YYYY", "Optional"): never taken for a value."""
    type: FieldType = "text"
    options: list[str] = Field(default_factory=list)
    """For ``choice``: the options as printed."""
    required: bool = False
    """Refuse the form when this field is blank, even if the model would allow it."""

    @field_validator("labels", "acroform", "docx", "hints", "options")
    @classmethod
    def _no_blanks(cls, values: list[str]) -> list[str]:
        cleaned = [" ".join(str(value).split()) for value in values]
        if any(not value for value in cleaned):
            raise ValueError("must not contain blank entries")
        return cleaned

    @model_validator(mode="after")
    def _options_only_for_choices(self) -> FieldSpec:
        if self.type == "choice" and not self.options:
            raise ValueError("a choice field needs its options")
        if self.type != "choice" and self.options:
            raise ValueError("options are only for fields of type choice")
        return self

    @property
    def label(self) -> str:
        """The label as printed on the form, for messages to staff."""
        return self.labels[0]


class FormDefinition(BaseModel):
    """A form Clerk can read, and the callable that turns what was read into the process's model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    """The file's name without ``.yaml``."""
    title: str = Field(min_length=1)
    """As printed at the top of the form; used in every message about it."""
    versions: list[str] = Field(default_factory=list)
    """Form references printed on the versions in use ("BB1 (version 3, 2024)"), to record which was sent."""
    model: str = Field(pattern=r"^[\w.]+:\w+$")
    """``module:callable`` taking the dict of field values and returning the validated model, or raising
    :class:`~connectors.errors.InvalidForm`."""
    max_pages: int = Field(ge=1, le=500)
    min_fields_found: int = Field(ge=1)
    """How many of the fields must be found for a document to count as this form."""
    anchors: list[str] = Field(default_factory=list)
    """Phrases only this form has (its title, a question no other form asks): when given, a document must
    contain at least one of them, as well as ``min_fields_found`` fields, to count as this form, so that
    another form with the same generic labels (Name, Date of birth, Address) is not taken for it."""
    fields: dict[str, FieldSpec] = Field(min_length=1)
    formats: list[Literal["pdf", "docx", "xlsx"]] = Field(default=["pdf", "docx", "xlsx"], min_length=1)
    """The file formats the form is accepted in (PDF covers form, printed and scanned copies): all by default."""
    source: str | None = Field(default=None, exclude=True)
    """The file the definition came from (set by the loader)."""

    @model_validator(mode="before")
    @classmethod
    def _names_default_to_the_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("fields"), dict):
            fields = {}
            for key, spec in data["fields"].items():
                if isinstance(spec, dict):
                    spec = {"acroform": [key], "docx": [key], **spec}
                fields[key] = spec
            data = {**data, "fields": fields}
        return data

    @field_validator("anchors")
    @classmethod
    def _anchors_have_words(cls, anchors: list[str]) -> list[str]:
        cleaned = [" ".join(str(anchor).split()) for anchor in anchors]
        for anchor in cleaned:
            if not normalise(anchor):
                raise ValueError(f"'{anchor}' has no letters or digits to look for")
        return cleaned

    def anchored(self, text: str) -> bool:
        """Whether ``text`` (a document's words, already :func:`normalise` d) has one of the anchors, or the
        definition has none."""
        return not self.anchors or any(normalise(anchor) in text for anchor in self.anchors)

    @model_validator(mode="after")
    def _consistent(self) -> FormDefinition:
        if self.min_fields_found > len(self.fields):
            raise ValueError(f"min_fields_found: is more than the {len(self.fields)} fields defined")
        seen: dict[str, str] = {}
        for key, spec in self.fields.items():
            for label in spec.labels:
                other = seen.setdefault(normalise(label), key)
                if other != key:
                    raise ValueError(f"fields.{key}.labels: '{label}' is also a label of {other}")
        return self

    @property
    def validator(self) -> Callable[[dict[str, object]], Any]:
        """The model's validating callable, imported on first use."""
        return _import(self.model)


# --- loading -------------------------------------------------------------------------------------------


def load_form(form: str | Path, directory: Path = FORMS_DIR) -> FormDefinition:
    """A definition by name (``"blue_badge"``, looked up in ``directory``) or by the path of its YAML file.

    Files are read once and cached until they change; the model's callable is imported to check it exists.
    """
    text = str(form)
    path = Path(text) if text.endswith((".yaml", ".yml")) or "/" in text else directory / f"{text}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in path.parent.glob("*.yaml"))) or "none"
        raise ConfigError(f"there is no form definition here (forms defined: {known})", file=str(path))
    return _load(str(path.resolve()), path.stat().st_mtime_ns)


def load_forms(directory: Path = FORMS_DIR) -> dict[str, FormDefinition]:
    """Every definition in ``directory``, by name."""
    return {path.stem: load_form(path) for path in sorted(directory.glob("*.yaml"))}


@lru_cache(maxsize=64)
def _load(path: str, mtime_ns: int) -> FormDefinition:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}", file=path) from None
    if not isinstance(data, dict):
        raise ConfigError("a form definition must be a mapping (name:, title:, fields: ...)", file=path)
    try:
        form = FormDefinition.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
        key = ".".join(str(part) for part in first["loc"])
        if not key and ": " in message:  # a rule across keys names its key first: "fields.x.labels: ..."
            key, message = message.split(": ", 1)
        more = len(exc.errors()) - 1
        extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(f"{message}{extra}", file=path, key=key or "(top level)") from None
    if form.name != Path(path).stem:
        raise ConfigError(f"the name must match the file name ('{Path(path).stem}')", file=path, key="name")
    try:
        _import(form.model)
    except (ImportError, AttributeError, TypeError) as exc:
        raise ConfigError(f"cannot use '{form.model}': {exc}", file=path, key="model") from None
    return form.model_copy(update={"source": path})


@lru_cache(maxsize=64)
def _import(target: str) -> Callable[[dict[str, object]], Any]:
    module_name, attribute = target.split(":", 1)
    found = getattr(importlib.import_module(module_name), attribute)
    if not callable(found):
        raise TypeError(f"{attribute} is not callable")
    return found


# --- labels ---------------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Letters and digits only, case-folded: "First name(s):" and "First Names" compare equal."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


@dataclass(frozen=True)
class LabelMatch:
    """A label found at the start of a piece of text."""

    field: str
    value: str
    """What follows the label in the same piece of text after a colon ("Surname: Holroyd"), else ""."""
    runs_on: bool = False
    """The label ran on into ``value`` without a colon (a box's options or guidance, see ``boxes_run_on``)."""


class Labels:
    """Finds a form's labels at the start of printed text, longest label first, as whole words."""

    def __init__(self, form: FormDefinition) -> None:
        pairs = {(normalise(label), key) for key, spec in form.fields.items() for label in spec.labels}
        self._labels = sorted(pairs, key=lambda pair: -len(pair[0]))
        self._hints = {normalise(hint) for spec in form.fields.values() for hint in spec.hints}
        self._boxes = {key for key, spec in form.fields.items() if spec.type in ("checkbox", "choice")}

    def is_hint(self, text: str) -> bool:
        return normalise(text) in self._hints

    def match(self, text: str, *, boxes_run_on: bool = False) -> LabelMatch | None:
        """The label ``text`` starts with, if it is the whole of ``text`` (allowing a colon, an asterisk or a
        remark in brackets after it) or is followed by a colon and the value.

        ``boxes_run_on``: a tick box's or an option's label may also run on into other words (its options, or
        guidance such as "Tick to confirm"), as a printed line reads when the box between them is drawn rather
        than written; those words are then its value."""
        tokens = text.split()
        if not tokens or not normalise(tokens[0]):
            return None
        for label, key in self._labels:
            end = _label_end(tokens, label)
            if end is not None:
                rest = _after_label(tokens, end)
                if rest is not None:
                    return LabelMatch(key, rest)
                if boxes_run_on and key in self._boxes:
                    return LabelMatch(key, " ".join(tokens[end + 1 :]), runs_on=True)
        return None


def _label_end(tokens: list[str], label: str) -> int | None:
    """The index of the token that completes ``label``, if ``tokens`` begin with it word for word."""
    joined = ""
    for index, token in enumerate(tokens):
        joined += normalise(token)
        if joined == label:
            return index
        if not label.startswith(joined):
            return None
    return None


def _after_label(tokens: list[str], end: int) -> str | None:
    """What follows the label: "" when nothing (the value is elsewhere), the value after a colon, or None
    when the text goes on without a colon (so it is not this label: "VAT registration number" is not "VAT")."""
    colon = tokens[end].endswith(":")
    rest = tokens[end + 1 :]
    while rest and not colon:
        head = rest[0]
        if head.startswith("("):  # a remark: "(DD/MM/YYYY)", "(20%):"
            while rest and not rest[0].rstrip(":").endswith(")"):
                rest = rest[1:]
            if not rest:
                return None
            colon = rest[0].endswith(":")
            rest = rest[1:]
        elif head in {":", "*", "*:"}:
            colon = head.endswith(":")
            rest = rest[1:]
        else:
            break
    if not rest:
        return ""
    return " ".join(rest) if colon else None


# --- values ---------------------------------------------------------------------------------------------

# How people, printers and OCR show a box or a radio button that is marked, and one that is not (OCR
# often reads a filled circle as ® or @, and an empty one as O).
_MARKS = {"x", "✓", "✔", "☒", "☑", "■", "●", "◉", "⊗", "®", "@", "yes", "y", "true", "ticked", "on"}
_BOX_CHARS = "[](){}|"
_UNMARKED = {"☐", "□", "○", "◯", "o", "0", "oo", "no", "n", "false", "off"}


def is_mark(token: str) -> bool:
    """A tick, a cross or a filled box, as people and printers mark a choice ("X", "[x]", "☒", "Yes")."""
    return token.strip(_BOX_CHARS + ":.").casefold() in _MARKS


def coerce(spec: FieldSpec, text: str | None) -> object:
    """The typed value of a field read as text: checkboxes become bool, choices the option as printed.

    Text that cannot be understood is passed on as written, so that the model's validation can say what
    is wrong with it in the form's own words.
    """
    value = " ".join((text or "").split())
    if spec.type == "checkbox":
        tokens = [token for token in value.split() if token.strip(_BOX_CHARS)]
        return bool(tokens) and is_mark(tokens[0])
    if spec.type == "choice":
        return choose(spec.options, value)
    if spec.type == "date":
        return re.sub(r"\s*([/.-])\s*", r"\1", value)
    if spec.type == "money":
        return value.replace(" ", "")
    return value


def choose(options: list[str], text: str) -> str:
    """The option chosen in ``text``: the text itself, or the one option marked among several printed
    ("X New Renewal", "☐ New ☒ Renewal"). "" when the options are printed with none marked."""
    wanted = normalise(text)
    if not wanted:
        return ""
    for option in options:
        if normalise(option) == wanted:
            return option
    tokens = text.split()
    found: list[tuple[int, int, str]] = []  # (first, last token, option) for each option printed in the text
    for option in sorted(options, key=lambda o: -len(normalise(o))):
        for start in range(len(tokens)):
            end = _label_end(tokens[start:], normalise(option)) if normalise(tokens[start]) else None
            if end is None:
                continue
            if not any(first <= start + end and start <= last for first, last, _ in found):
                found.append((start, start + end, option))
    if not found:
        return text
    found.sort()
    marked, previous_end = [], -1
    for start, end, option in found:
        between = [token for token in tokens[previous_end + 1 : start] if token.strip(_BOX_CHARS)]
        if any(is_mark(token) for token in between):
            marked.append(option)
        previous_end = end
    if len(marked) == 1:
        return marked[0]
    if not marked and all(
        normalise(token) == "" or token.strip(_BOX_CHARS).casefold() in _UNMARKED for token in _outside(tokens, found)
    ):
        return ""
    return text


def _outside(tokens: list[str], found: list[tuple[int, int, str]]) -> list[str]:
    inside = {index for start, end, _ in found for index in range(start, end + 1)}
    return [token for index, token in enumerate(tokens) if index not in inside]
