"""A Council Tax change of address (form CTA1), as Clerk understands it once the form has been read.

Field names match the AcroForm field names of the council's PDF form and the fields of its Word version
(``sandbox/change_of_address.py`` makes both). Every message names the field as printed on the form and is
a sentence a member of staff can act on. Whether Revenues will accept the move (the account, its address,
the new property, how far ahead) is Revenues' to say: the bot turns its answers into business errors.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors.errors import InvalidForm

DATE_FORMAT = "%d/%m/%Y"

# The labels printed on the form, used in every message to the sender.
LABELS: dict[str, str] = {
    "account_number": "Council Tax account number",
    "resident_name": "Full name",
    "old_address": "Address you are leaving",
    "old_postcode": "Postcode of the address you are leaving",
    "move_out_date": "Date you moved out",
    "new_address": "Your new address",
    "new_postcode": "Postcode of your new address",
    "move_in_date": "Date you moved in",
    "declaration": "Declaration",
}

_POSTCODE = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})$")
_TICKED = {"yes", "on", "true", "/yes", "/on", "1", "x", "☒"}


def _text(value: object) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _uk_date(value: object) -> date:
    if isinstance(value, date):
        return value
    text = _text(value)
    if not text:
        raise ValueError("is missing. Please fill it in.")
    if not re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
        raise ValueError("must be written as DD/MM/YYYY, for example 07/03/2025")
    try:
        return datetime.strptime(text, DATE_FORMAT).date()
    except ValueError:
        raise ValueError(f"'{text}' is not a real date (DD/MM/YYYY)") from None


def _postcode(value: object) -> str:
    text = re.sub(r"\s+", "", _text(value)).upper()
    if not text:
        raise ValueError("is missing. Please fill it in.")
    match = _POSTCODE.fullmatch(text)
    if not match:
        raise ValueError("is not a valid UK postcode")
    return f"{match.group(1)} {match.group(2)}"


def _squash(text: str) -> str:
    """An address for comparing: lower case, letters and digits only, single spaces."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.casefold()).split())


class CouncilTaxMove(BaseModel):
    """A validated change of address. Build it with :func:`validate_move` to get staff-readable errors."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    account_number: str = Field(title=LABELS["account_number"])
    resident_name: str = Field(title=LABELS["resident_name"], max_length=100)
    old_address: str = Field(title=LABELS["old_address"], max_length=120)
    old_postcode: str = Field(title=LABELS["old_postcode"])
    move_out_date: date = Field(title=LABELS["move_out_date"])
    new_address: str = Field(title=LABELS["new_address"], max_length=120)
    new_postcode: str = Field(title=LABELS["new_postcode"])
    move_in_date: date = Field(title=LABELS["move_in_date"])
    declaration: bool = Field(title=LABELS["declaration"])

    @field_validator("account_number", mode="before")
    @classmethod
    def _account(cls, value):
        text = re.sub(r"\s+", "", _text(value))
        if not text:
            raise ValueError("is missing. Please fill it in.")
        if not (text.isdigit() and len(text) == 8):
            raise ValueError("must be the 8 digits printed on the Council Tax bill")
        return text

    @field_validator("resident_name", "old_address", "new_address", mode="before")
    @classmethod
    def _required_text(cls, value):
        text = _text(value)
        if not text:
            raise ValueError("is missing. Please fill it in.")
        return text

    @field_validator("old_postcode", "new_postcode", mode="before")
    @classmethod
    def _postcodes(cls, value):
        return _postcode(value)

    @field_validator("move_out_date", "move_in_date", mode="before")
    @classmethod
    def _dates(cls, value):
        return _uk_date(value)

    @field_validator("declaration", mode="before")
    @classmethod
    def _declaration(cls, value):
        if isinstance(value, bool):
            return value
        return _text(value).lower() in _TICKED

    @model_validator(mode="after")
    def _rules(self):
        problems = _cross_field(self.declaration, self.move_out_date, self.move_in_date,
                                (self.old_address, self.old_postcode), (self.new_address, self.new_postcode))
        if problems:
            raise ValueError(next(iter(problems.values())))
        return self

    @property
    def move_out_text(self) -> str:
        return self.move_out_date.strftime(DATE_FORMAT)

    @property
    def move_in_text(self) -> str:
        return self.move_in_date.strftime(DATE_FORMAT)


def _cross_field(declared: bool, move_out: object, move_in: object, old: tuple[str, str],
                 new: tuple[str, str]) -> dict[str, str]:
    """The rules across fields, as ``{field: "field: sentence"}`` (on the model and on raw values)."""
    problems = {}
    if not declared:
        problems["declaration"] = "declaration: the resident must tick the declaration"
    if isinstance(move_out, date) and isinstance(move_in, date) and move_in < move_out:
        problems["move_in_date"] = ("move_in_date: the date you moved in is before the date you moved out; "
                                    "it must be the same day or later")
    if old[0] and new[0] and _squash(old[0]) == _squash(new[0]) and _squash(old[1]) == _squash(new[1]):
        problems["new_address"] = "new_address: the new address is the address being left"
    return problems


def _sentence(error: dict) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    if not loc and ":" in message:  # a rule across fields: "field: sentence"
        field, message = message.split(":", 1)
        loc, message = [field.strip()], message.strip()
    label = LABELS.get(loc[0], loc[0].replace("_", " ").capitalize()) if loc else "The form"
    kind = error.get("type")
    if kind == "missing":
        return f"{label} is missing. Please fill it in."
    if kind == "string_too_long":
        return f"{label} is too long."
    end = "" if message.endswith(".") else "."
    if message.startswith(("the ", "'")):
        return f"{label}: {message[0].upper()}{message[1:]}{end}"
    return f"{label} {message}{end}"


def _raw_rules(fields: dict[str, object]) -> dict[str, str]:
    def day(name: str) -> date | None:
        try:
            return _uk_date(fields.get(name))
        except ValueError:
            return None

    def postcode(name: str) -> str:
        try:
            return _postcode(fields.get(name))
        except ValueError:
            return _text(fields.get(name))

    return _cross_field(CouncilTaxMove._declaration(fields.get("declaration")), day("move_out_date"),
                        day("move_in_date"), (_text(fields.get("old_address")), postcode("old_postcode")),
                        (_text(fields.get("new_address")), postcode("new_postcode")))


def validate_move(fields: dict[str, object]) -> CouncilTaxMove:
    """The move from raw form values, or :class:`InvalidForm` listing every problem, each naming its field."""
    try:
        return CouncilTaxMove.model_validate(fields)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
    reasons = [_sentence(error) for error in errors]
    reported = {str(error["loc"][0]) for error in errors if error.get("loc")}
    reported |= {str(error.get("msg", "")).removeprefix("Value error, ").split(":", 1)[0]
                 for error in errors if not error.get("loc")}
    for field, rule in _raw_rules(fields).items():
        if field not in reported:
            reasons.append(_sentence({"loc": (), "msg": rule, "type": "value_error"}))
    raise InvalidForm("The Council Tax change of address form has problems.", reasons=reasons)
