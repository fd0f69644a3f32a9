"""Process declarations: each business process Clerk runs, one YAML file in ``config/processes/``.

A declaration (``config/processes/<name>.yaml``) says what the process is, once, for every environment:

* ``flow``: its Prefect flow (``module:flow``, e.g. ``flows.blue_badge:blue_badge``);
* ``form``: the form it reads (``config/forms/<form>.yaml``) and so the model each email becomes;
* ``application``: the legacy application it keys into (``bots/<application>``, settings under
  ``applications.<application>``);
* routing (``subject_keywords``, ``recipients``, ``attachment_types``), the allow-list
  (``allowed_senders``), ``minutes_per_item`` (for the hours-freed report) and ``sla_working_days``;
* ``replies``: what the sender is told for each outcome of keying (``created``, ``already_keyed``, ...).

The settings file's ``processes.<name>`` changes any of these for one environment (an allow-list, a
mailbox alias, ``enabled: false``); naming a process with no declaration stops start-up. Whether the
flow, the form and the bot really exist is checked at start-up and by ``clerk check-config``
(``flows/registry.py``). How to add a process: runbooks/new-process.md.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors.errors import ConfigError

PROCESSES_DIR = Path(__file__).resolve().parents[1] / "config" / "processes"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDERS = {"reference", "record_reference", "title"}


class ReplyTemplate(BaseModel):
    """A reply for one outcome. ``{reference}`` (the Clerk reference), ``{record_reference}`` (the record
    in the application) and ``{title}`` (the process's title) are filled in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str
    body: str

    @field_validator("subject", "body")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        unknown = set(re.findall(r"{(\w*)}", value)) - _PLACEHOLDERS
        if unknown:
            raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}}; use {{reference}}, "
                             "{record_reference} or {title}")
        return value

    def render(self, **values: str) -> tuple[str, str]:
        return self.subject.format(**values), self.body.format(**values)


class ProcessSettings(BaseModel):
    """One process: its declaration, with the settings file's changes for this environment."""

    model_config = ConfigDict(extra="forbid")

    title: str = ""
    """What staff call it ("Blue Badge application")."""
    flow: str = Field(default="", pattern=r"^([\w.]+:\w+)?$")
    """The Prefect flow, ``module:flow``."""
    form: str = ""
    """The form definition (``config/forms/<form>.yaml``)."""
    application: str = ""
    """The legacy application (``bots/<application>``; settings ``applications.<application>``)."""
    enabled: bool = True
    subject_keywords: list[str] = Field(default_factory=list)
    """An email whose subject contains one of these (any case) is routed to this process."""
    recipients: list[str] = Field(default_factory=list)
    """An email sent to one of these aliases is routed to this process."""
    attachment_types: list[str] = Field(default_factory=list)
    """When set (``[pdf, docx]``), an email matches this process only if it also carries an attachment of
    one of these types. Leave empty where staff may forget the attachment and should be told so."""
    allowed_senders: list[str] = Field(default_factory=list)
    """Addresses (``a.person@council.gov.uk``) or whole domains (``@council.gov.uk``) allowed to trigger it."""
    minutes_per_item: float = Field(default=15, ge=0)
    """Staff minutes one item used to take by hand (for the hours-freed report)."""
    sla_working_days: int = Field(default=2, ge=0)
    """An item should be answered within this many working days of its email (weekends and England and
    Wales bank holidays do not count); the report lists the items past it."""
    replies: dict[str, ReplyTemplate] = Field(default_factory=dict)
    """What the sender is told for each outcome of keying (``created``, ``already_keyed``, ...)."""

    @field_validator("allowed_senders", "recipients", "attachment_types")
    @classmethod
    def _lower(cls, values: list[str]) -> list[str]:
        return [value.strip().lower() for value in values]


def _key(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)


@lru_cache(maxsize=32)
def _read(path: Path, mtime_ns: int) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("a process declaration is a mapping (name:, flow:, form:, application:, ...)",
                          file=str(path))
    name = data.pop("name", path.stem)
    if name != path.stem or not NAME.match(name):
        raise ConfigError(f"the name must be the file's name, {path.stem!r} (lower-case letters, digits, _)",
                          file=str(path), key="name")
    try:
        declared = ProcessSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
        raise ConfigError(message, file=str(path), key=_key(first["loc"])) from None
    for key in ("flow", "form", "application"):
        if not getattr(declared, key):
            raise ConfigError(f"a process declaration must name its {key}", file=str(path), key=key)
    return declared.model_dump(exclude_unset=True)


def declarations(directory: Path = PROCESSES_DIR) -> dict[str, dict[str, Any]]:
    """Every process declared in ``directory``, by name (raw, validated), in name order."""
    if not directory.is_dir():
        raise ConfigError("the folder of process declarations does not exist", file=str(directory))
    found = {}
    for path in sorted(directory.glob("*.yaml")):
        found[path.stem] = dict(_read(path.resolve(), path.stat().st_mtime_ns))
    return found


def merged(declared: dict[str, dict[str, Any]], overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The declarations with one environment's changes (the settings file's ``processes:``)."""
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise ConfigError(f"no process '{unknown[0]}' is declared (config/processes/{unknown[0]}.yaml; "
                          f"declared: {', '.join(declared) or 'none'})", key=f"processes.{unknown[0]}")
    result = {}
    for name, declaration in declared.items():
        change = overrides.get(name) or {}
        if isinstance(change, BaseModel):
            change = change.model_dump(exclude_unset=True)
        result[name] = {**declaration, **change}
    return result
