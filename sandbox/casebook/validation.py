"""Casebook's own server-side rules, written the way a 2000s system would (stricter here, looser there).

Messages never repeat the value that was keyed, only the field's label.
"""

from __future__ import annotations

import re
from datetime import date

from sandbox.kit.values import normalise_postcode, parse_date

TITLES = ("Mr", "Mrs", "Miss", "Ms", "Mx", "Dr", "Other")

# "Reason for applying": option value (Casebook's code) -> option text (as printed on the paper form).
ELIGIBILITY = {
    "PIPM": "PIP - moving around",
    "PIPJ": "PIP - planning and following journeys",
    "WPMS": "War Pensioners' Mobility Supplement",
    "AFCS": "Armed Forces Compensation Scheme",
    "SSI": "Registered severely sight impaired",
    "WALK": "Difficulty walking",
    "ARMS": "Disability in both arms",
    "CU3": "Child under 3 with medical equipment",
}

BADGE_TYPES = ("New", "Renewal")

_NI = re.compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?\d{10,13}$")

# Postcode area -> post town, for the simulated address lookup. Anything else is "Anytown".
_TOWNS = {
    "B": "Birmingham",
    "BD": "Bradford",
    "BS": "Bristol",
    "CF": "Cardiff",
    "E": "London",
    "EC": "London",
    "HD": "Huddersfield",
    "HX": "Halifax",
    "L": "Liverpool",
    "LS": "Leeds",
    "M": "Manchester",
    "N": "London",
    "NE": "Newcastle upon Tyne",
    "NG": "Nottingham",
    "NW": "London",
    "S": "Sheffield",
    "SE": "London",
    "SW": "London",
    "W": "London",
    "WC": "London",
    "WF": "Wakefield",
    "YO": "York",
}


def town_for(postcode: str) -> str:
    area = re.match(r"[A-Z]+", postcode.upper())
    return _TOWNS.get(area.group(0), "Anytown") if area else "Anytown"


def normalise_ni(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def required(values: dict[str, str], labels: dict[str, str]) -> list[str]:
    return [f"{label} is required." for key, label in labels.items() if not values.get(key)]


def applicant(values: dict[str, str]) -> list[str]:
    errors = required(
        values,
        {
            "title": "Title",
            "first_names": "First name(s)",
            "surname": "Surname",
            "date_of_birth": "Date of birth",
            "ni_number": "National Insurance number",
        },
    )
    if values.get("title") and values["title"] not in TITLES:
        errors.append("Title is not one of the listed titles.")
    if values.get("date_of_birth"):
        born = parse_date(values["date_of_birth"])
        if born is None:
            errors.append("Date of birth must be a real date in the format DD/MM/YYYY.")
        elif born > date.today():
            errors.append("Date of birth must not be in the future.")
    if values.get("ni_number") and not _NI.fullmatch(normalise_ni(values["ni_number"])):
        errors.append("National Insurance number is not in the correct format (for example QQ123456C).")
    for key, label in (("first_names", "First name(s)"), ("surname", "Surname")):
        if len(values.get(key, "")) > 60:
            errors.append(f"{label} must be 60 characters or fewer.")
    return errors


def address(values: dict[str, str], looked_up: set[str]) -> list[str]:
    errors = required(values, {"postcode": "Postcode", "address_line_1": "Address line 1", "town": "Town"})
    if values.get("postcode"):
        postcode = normalise_postcode(values["postcode"])
        if postcode is None:
            errors.append("Postcode is not a valid UK postcode.")
        elif postcode not in looked_up:
            errors.append("Please use Find address to check the postcode.")
    return errors


def eligibility(values: dict[str, str]) -> list[str]:
    errors = required(
        values,
        {
            "eligibility": "Reason for applying",
            "badge_type": "Badge type",
            "phone": "Contact phone number",
            "email": "Contact email address",
        },
    )
    if values.get("eligibility") and values["eligibility"] not in ELIGIBILITY:
        errors.append("Reason for applying is not one of the listed reasons.")
    if values.get("badge_type") and values["badge_type"] not in BADGE_TYPES:
        errors.append("Badge type must be New or Renewal.")
    if values.get("badge_type") == "Renewal" and not values.get("existing_badge_number"):
        errors.append("Existing badge number is required for a renewal.")
    if values.get("phone") and not _PHONE.fullmatch(re.sub(r"[\s()-]", "", values["phone"])):
        errors.append("Contact phone number must be 10 to 13 digits.")
    if values.get("email") and not _EMAIL.fullmatch(values["email"]):
        errors.append("Contact email address is not a valid email address.")
    if len(values.get("notes", "")) > 2000:
        errors.append("Notes must be 2000 characters or fewer.")
    return errors
