"""How the sandbox apps read what a user typed: UK dates, postcodes and pounds."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

DATE_FORMAT = "%d/%m/%Y"

_POSTCODE = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?)(\d[A-Z]{2})$")
_OUTWARD = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?$")
_MONEY = re.compile(r"^£?(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?$")
PENNY = Decimal("0.01")


def parse_date(text: str) -> date | None:
    """``"7/3/2025"`` or ``"07/03/2025"`` -> that date; None for anything else (or a date that does not exist)."""
    if not re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text.strip()):
        return None
    try:
        return datetime.strptime(text.strip(), DATE_FORMAT).date()
    except ValueError:
        return None


def uk_date(day: date | None) -> str:
    return day.strftime(DATE_FORMAT) if day else ""


def normalise_postcode(text: str) -> str | None:
    """``"ls1 4ab"`` -> ``"LS1 4AB"``; None when it is not a UK postcode."""
    match = _POSTCODE.fullmatch(re.sub(r"\s+", "", text).upper())
    return f"{match.group(1)} {match.group(2)}" if match else None


def outward_code(text: str) -> str | None:
    """``"nd1"`` -> ``"ND1"``: the first half of a postcode on its own; None otherwise."""
    squeezed = re.sub(r"\s+", "", text).upper()
    return squeezed if _OUTWARD.fullmatch(squeezed) else None


def parse_money(text: object) -> Decimal | None:
    """``"£1,234.5"``, ``"1234.50"`` or ``1234.5`` -> ``Decimal("1234.50")``; None when it is not an amount."""
    raw = str(text).strip().replace(" ", "") if text is not None else ""
    if not _MONEY.fullmatch(raw):
        return None
    try:
        return Decimal(raw.replace("£", "").replace(",", "")).quantize(PENNY)
    except InvalidOperation:
        return None
