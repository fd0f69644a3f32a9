"""The change-of-address rules, as Revenues enforces them. Pure functions: the store supplies the records.

A move closes the account's current liability at the move-out date (the last day it is liable for) and opens
one on the new property from the move-in date. Refused, each with its own message:

* a field missing, or a date that is not a real DD/MM/YYYY date;
* the account has no current liability (it is closed: there is nothing to move out of);
* a date more than ``max_future_days`` after today;
* a move-out date before the current liability started;
* a move-in date before the move-out date (the same day is allowed);
* a new property that is not in the property register, or is the property being left;
* a liability (anyone's) on the new property, or another of the account's own, that has not ended
  before the move-in date: liabilities never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sandbox.kit.values import parse_date, uk_date

NOTE_MAX = 200


@dataclass(frozen=True)
class MoveForm:
    """What was keyed on the change-of-address screen."""

    account_no: str
    move_out: str
    new_property: str
    move_in: str
    note: str = ""


@dataclass(frozen=True)
class Move:
    """A move that passed every rule, ready to be saved."""

    account_no: str
    closing: str  # the reference of the liability that ends
    move_out: date
    property_ref: str
    move_in: date
    note: str


def _date(text: str, label: str, errors: list[str]) -> date | None:
    if not text:
        errors.append(f"{label} is required.")
        return None
    day = parse_date(text)
    if day is None:
        errors.append(f"{label} must be a real date in the format DD/MM/YYYY.")
    return day


def check_move(
    form: MoveForm,
    *,
    current: dict | None,
    new_property: dict | None,
    clashes: list[dict],
    today: date,
    max_future_days: int,
) -> Move | list[str]:
    """The move to save, or every reason it is refused.

    ``current`` is the account's open liability (None: there is none); ``new_property`` the register's
    entry for ``form.new_property`` (None: not in the register); ``clashes`` every other liability on the
    account or on the new property, as store rows (``ref``, ``account_no``, ``property_ref``, ``address``,
    ``start_date``, ``end_date`` as ISO dates, ``end_date`` None while open).
    """
    errors: list[str] = []
    move_out = _date(form.move_out, "Move-out date", errors)
    move_in = _date(form.move_in, "Move-in date", errors)
    if not form.new_property:
        errors.append("New property is required: enter the new postcode, press Find (F4) and choose the property.")
    if len(form.note) > NOTE_MAX:
        errors.append(f"Note must be {NOTE_MAX} characters or fewer.")
    if current is None:
        errors.append(f"Account {form.account_no} has no current liability: there is nothing to move out of.")
    if errors:
        return errors
    assert move_out is not None and move_in is not None and current is not None
    latest = today + timedelta(days=max_future_days)
    for label, day in (("Move-out date", move_out), ("Move-in date", move_in)):
        if day > latest:
            errors.append(f"{label} must not be more than {max_future_days} days in the future (latest {uk_date(latest)}).")
    started = date.fromisoformat(current["start_date"])
    if move_out < started:
        errors.append(f"Move-out date must be on or after the start of the current liability ({uk_date(started)}).")
    if move_in < move_out:
        errors.append("Move-in date must be on or after the move-out date.")
    if new_property is None:
        errors.append(f"Property {form.new_property} is not in the property register.")
    elif new_property["ref"] == current["property_ref"]:
        errors.append("The new property is the property the account is moving out of.")
    if errors:
        return errors
    for other in clashes:
        ends = date.fromisoformat(other["end_date"]) if other["end_date"] else None
        if ends is None or ends >= move_in:
            until = f"to {uk_date(ends)}" if ends else "with no end date"
            errors.append(
                f"Liability {other['ref']} (account {other['account_no']}, {other['address']}) runs from "
                f"{uk_date(date.fromisoformat(other['start_date']))} {until}: it overlaps the move-in date."
            )
    if errors:
        return errors
    return Move(form.account_no, current["ref"], move_out, new_property["ref"], move_in, form.note)
