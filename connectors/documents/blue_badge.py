"""The Blue Badge application, as Clerk understands it once a form has been read.

Field names match the AcroForm field names on the council's PDF form. Every validation message is a
sentence a member of staff can act on, and names the field as it is printed on the form.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors.errors import InvalidForm

DATE_FORMAT = "%d/%m/%Y"

# The labels printed on the form, used in every message to the sender.
LABELS: dict[str, str] = {
    "title": "Title",
    "first_names": "First name(s)",
    "surname": "Surname",
    "date_of_birth": "Date of birth",
    "ni_number": "National Insurance number",
    "address_line_1": "Address line 1",
    "address_line_2": "Address line 2",
    "town": "Town or city",
    "postcode": "Postcode",
    "phone": "Contact phone number",
    "email": "Contact email address",
    "eligibility": "Reason for applying",
    "badge_type": "New badge or renewal",
    "existing_badge_number": "Existing badge number",
    "declaration": "Declaration",
}


class Eligibility(str, Enum):
    """The eligibility routes on the form (Department for Transport criteria), as printed."""

    PIP_MOVING_AROUND = "PIP - moving around"
    PIP_PLANNING_JOURNEYS = "PIP - planning and following journeys"
    WAR_PENSIONER = "War Pensioners' Mobility Supplement"
    ARMED_FORCES = "Armed Forces Compensation Scheme"
    SEVERELY_SIGHT_IMPAIRED = "Registered severely sight impaired"
    WALKING_DIFFICULTY = "Difficulty walking"
    ARM_DISABILITY = "Disability in both arms"
    CHILD_UNDER_THREE = "Child under 3 with medical equipment"


class BadgeType(str, Enum):
    NEW = "New"
    RENEWAL = "Renewal"


TITLES = ("Mr", "Mrs", "Miss", "Ms", "Mx", "Dr", "Other")

_NI = re.compile(r"^(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$")
_POSTCODE = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^(\+44|0)\d{9,10}$")


def _blank_to_none(value):
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


class BlueBadgeApplication(BaseModel):
    """A validated application. Construct it with :func:`validate_application` to get staff-readable errors."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    title: str = Field(title=LABELS["title"])
    first_names: str = Field(title=LABELS["first_names"], min_length=1, max_length=60)
    surname: str = Field(title=LABELS["surname"], min_length=1, max_length=60)
    date_of_birth: date = Field(title=LABELS["date_of_birth"])
    ni_number: str = Field(title=LABELS["ni_number"])
    address_line_1: str = Field(title=LABELS["address_line_1"], min_length=1, max_length=80)
    address_line_2: str | None = Field(default=None, title=LABELS["address_line_2"], max_length=80)
    town: str = Field(title=LABELS["town"], min_length=1, max_length=60)
    postcode: str = Field(title=LABELS["postcode"])
    phone: str = Field(title=LABELS["phone"])
    email: str = Field(title=LABELS["email"])
    eligibility: Eligibility = Field(title=LABELS["eligibility"])
    badge_type: BadgeType = Field(default=BadgeType.NEW, title=LABELS["badge_type"])
    existing_badge_number: str | None = Field(default=None, title=LABELS["existing_badge_number"])
    declaration: bool = Field(title=LABELS["declaration"])

    @field_validator("address_line_2", "existing_badge_number", mode="before")
    @classmethod
    def _optional(cls, value):
        return _blank_to_none(value)

    @field_validator("title", "first_names", "surname", "address_line_1", "town", mode="before")
    @classmethod
    def _required_text(cls, value):
        return "" if value is None else value

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value:
            raise ValueError("is missing. Please fill it in.")
        for known in TITLES:
            if value.rstrip(".").lower() == known.lower():
                return known
        raise ValueError(f"must be one of {', '.join(TITLES)}")

    @field_validator("date_of_birth", mode="before")
    @classmethod
    def _dob(cls, value):
        if isinstance(value, date):
            return value
        text = str(value or "").strip()
        if not re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
            raise ValueError("must be written as DD/MM/YYYY, for example 07/03/1958")
        try:
            born = datetime.strptime(text, DATE_FORMAT).date()
        except ValueError:
            raise ValueError(f"'{text}' is not a real date") from None
        return born

    @field_validator("date_of_birth")
    @classmethod
    def _dob_range(cls, born: date) -> date:
        today = date.today()
        if born > today:
            raise ValueError("is in the future")
        if today.year - born.year > 120:
            raise ValueError("is more than 120 years ago")
        return born

    @field_validator("ni_number", mode="before")
    @classmethod
    def _ni(cls, value):
        text = re.sub(r"\s+", "", str(value or "")).upper()
        if not _NI.fullmatch(text):
            raise ValueError("is not in the right format (two letters, six digits and a letter A to D, like JT 12 34 56 C)")
        return text

    @field_validator("postcode", mode="before")
    @classmethod
    def _postcode(cls, value):
        text = re.sub(r"\s+", "", str(value or "")).upper()
        match = _POSTCODE.fullmatch(text)
        if not match:
            raise ValueError("is not a valid UK postcode")
        return f"{match.group(1)} {match.group(2)}"

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, value):
        text = re.sub(r"[\s()-]", "", str(value or ""))
        if not _PHONE.fullmatch(text):
            raise ValueError("is not a UK phone number (for example 01632 960123)")
        return text

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value):
        text = str(value or "").strip()
        if not _EMAIL.fullmatch(text):
            raise ValueError("is not an email address")
        return text.lower()

    @field_validator("eligibility", mode="before")
    @classmethod
    def _eligibility(cls, value):
        text = str(value or "").strip()
        for option in Eligibility:
            if text.lower() == option.value.lower() or text.upper() == option.name:
                return option
        raise ValueError("must be one of the reasons listed on the form")

    @field_validator("badge_type", mode="before")
    @classmethod
    def _badge_type(cls, value):
        text = str(value or "New").strip().capitalize()
        if text not in {option.value for option in BadgeType}:
            raise ValueError("must be New or Renewal")
        return text

    @field_validator("declaration", mode="before")
    @classmethod
    def _declaration(cls, value):
        if isinstance(value, bool):
            return value
        return str(value or "").strip().lower() in {"yes", "on", "true", "/yes", "/on", "1", "x"}

    @model_validator(mode="after")
    def _rules(self):
        problems = _declaration_and_renewal(self.declaration, self.badge_type is BadgeType.RENEWAL,
                                            self.existing_badge_number)
        if problems:
            raise ValueError(next(iter(problems.values())))
        if self.eligibility is Eligibility.CHILD_UNDER_THREE:
            age_days = (date.today() - self.date_of_birth).days
            if age_days > 3 * 365 + 1:
                raise ValueError("eligibility: 'Child under 3' was chosen but the applicant is over 3")
        return self

    @property
    def full_name(self) -> str:
        return f"{self.first_names} {self.surname}"

    @property
    def date_of_birth_text(self) -> str:
        return self.date_of_birth.strftime(DATE_FORMAT)


def _sentence(error: dict) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
    message = str(error.get("msg", "is not valid"))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if not loc and ":" in message:  # model-level rule: "field: sentence"
        field, message = message.split(":", 1)
        loc, message = [field.strip()], message.strip()
    label = LABELS.get(loc[0], loc[0].replace("_", " ").capitalize()) if loc else "The form"
    if error.get("type") == "missing":
        return f"{label} is missing. Please fill it in."
    if error.get("type") in {"string_too_short"}:
        return f"{label} is empty. Please fill it in."
    if error.get("type") in {"string_too_long"}:
        return f"{label} is too long."
    end = "" if message.endswith(".") else "."
    if message.startswith(("the ", "a ", "'")):
        return f"{label}: {message[0].upper()}{message[1:]}{end}"
    return f"{label} {message}{end}"


def _declaration_and_renewal(declared: bool, renewal: bool, badge_number: object) -> dict[str, str]:
    """The cross-field rules, as ``{field: "field: sentence"}``: used on the model and on raw values."""
    problems = {}
    if not declared:
        problems["declaration"] = "declaration: the applicant must tick the declaration"
    if renewal and not badge_number:
        problems["existing_badge_number"] = "existing_badge_number: a renewal needs the existing badge number"
    return problems


def _rules_on_raw_values(fields: dict[str, object]) -> dict[str, str]:
    """The cross-field rules on the raw values, so they are reported beside field errors."""
    return _declaration_and_renewal(
        BlueBadgeApplication._declaration(fields.get("declaration")),
        str(fields.get("badge_type") or "").strip().lower() == "renewal",
        _blank_to_none(fields.get("existing_badge_number")),
    )


def validate_application(fields: dict[str, object]) -> BlueBadgeApplication:
    """Build the application from raw form values, or raise :class:`InvalidForm` listing every problem."""
    try:
        return BlueBadgeApplication.model_validate(fields)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
    reasons = [_sentence(error) for error in errors]
    reported = {str(error["loc"][0]) for error in errors if error.get("loc")}
    reported |= {str(error.get("msg", "")).removeprefix("Value error, ").split(":", 1)[0]
                 for error in errors if not error.get("loc")}
    for field, rule in _rules_on_raw_values(fields).items():
        if field not in reported:
            reasons.append(_sentence({"loc": (), "msg": rule, "type": "value_error"}))
    raise InvalidForm("The Blue Badge application form has problems.", reasons=reasons)
