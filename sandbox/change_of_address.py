"""Council Tax change-of-address forms for the demo and the tests, about Revenues' seeded residents.

The form (CTA1) in two formats, from the same values: :func:`change_of_address_docx`, the Word version (a
label cell and a value cell per field, as :func:`sandbox.documents.blue_badge_docx` does for Blue Badge),
and :func:`change_of_address_pdf`, a PDF form whose AcroForm field names are the keys of :data:`LABELS`.

:func:`change_of_address` invents a valid move (deterministic for a seed): a resident of a live account in
:mod:`sandbox.revenues.fixtures` moving to one of its empty properties, dates in the last few weeks;
:func:`changes_of_address` a batch of them, each resident and each new home used once.
:data:`INVALID_VARIANTS` are forms filled in wrongly; :data:`REFUSED_VARIANTS` are forms that look right
but that Revenues refuses (what it says is in each variant's docstring). Values are text as typed (dates
DD/MM/YYYY) and ``declaration`` a bool.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Mapping
from datetime import date, timedelta

import docx
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from sandbox.forms import _FIELD_FILL, _FIELD_H, _FIELD_X, _MARGIN, _ROW, _header, _heading, _with
from sandbox.revenues import fixtures

COUNCIL = "Northdale District Council"
FORM_REFERENCE = "CTA1 (version 2, 2025)"
TITLE = "Council Tax: tell us you have moved"
DATE_FORMAT = "%d/%m/%Y"

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
HINTS = {"account_number": "8 digits, on your bill", "move_out_date": "DD/MM/YYYY", "move_in_date": "DD/MM/YYYY"}
DECLARATION = (
    "I declare that the information on this form is correct. I understand that giving false information",
    "to reduce the Council Tax I pay is an offence.",
)
_SECTIONS = (
    ("1. About you", ("account_number", "resident_name")),
    ("2. The address you are leaving", ("old_address", "old_postcode", "move_out_date")),
    ("3. Your new address", ("new_address", "new_postcode", "move_in_date")),
    ("4. Declaration", ("declaration",)),
)
_WIDTHS = {"account_number": 110, "old_postcode": 90, "new_postcode": 90, "move_out_date": 100, "move_in_date": 100}


def _check(values: Mapping[str, object]) -> None:
    unknown = set(values) - set(LABELS)
    if unknown:
        raise KeyError(f"not fields on the form: {sorted(unknown)}")


def _text(values: Mapping[str, object], name: str) -> str:
    value = values.get(name)
    return "" if value is None else str(value)


def change_of_address_pdf(values: Mapping[str, object], *, council: str = COUNCIL) -> bytes:
    """The filled form as a one-page PDF form; missing keys are blank fields. Latin-1 text only."""
    _check(values)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(TITLE)
    canvas.setAuthor(council)
    _header(canvas, council, 1, 1, title=TITLE, reference=FORM_REFERENCE)
    form = canvas.acroForm
    style = dict(borderColor=colors.grey, fillColor=_FIELD_FILL, textColor=colors.black, borderWidth=1)
    y = A4[1] - 130
    canvas.setFont("Helvetica", 9.5)
    canvas.drawString(_MARGIN, y, "Fill in this form on screen, save it and email it to the Council Tax team.")
    y -= 30
    for heading, names in _SECTIONS:
        _heading(canvas, y, heading)
        y -= 18
        for name in names:
            box_y = y - _FIELD_H
            canvas.setFont("Helvetica", 10)
            if name == "declaration":
                canvas.setFont("Helvetica", 9.5)
                for i, line in enumerate(DECLARATION):
                    canvas.drawString(_MARGIN, y - 12 * i, line)
                box_y = y - 12 * len(DECLARATION) - 24
                form.checkbox(name=name, checked=bool(values.get(name)), x=_FIELD_X, y=box_y, size=16,
                              tooltip=LABELS[name], buttonStyle="check", **style)  # fmt: skip
                canvas.setFont("Helvetica", 10)
                canvas.drawString(_MARGIN, box_y + 4, LABELS[name])
                canvas.drawString(_FIELD_X + 24, box_y + 4, "Tick to confirm you agree with the declaration")
                continue
            canvas.drawString(_MARGIN, box_y + 5, LABELS[name])
            if name in HINTS:
                canvas.setFont("Helvetica-Oblique", 8)
                canvas.setFillColor(colors.dimgrey)
                canvas.drawString(_MARGIN, box_y - 5, HINTS[name])
                canvas.setFillColor(colors.black)
            form.textfield(name=name, value=_text(values, name), x=_FIELD_X, y=box_y, width=_WIDTHS.get(name, 300),
                           height=_FIELD_H, maxlen=120, tooltip=LABELS[name], fontSize=10, **style)  # fmt: skip
            y -= _ROW
        y -= 16
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def change_of_address_docx(values: Mapping[str, object], *, labels: Mapping[str, str] | None = None) -> bytes:
    """The Word version: a heading per section and a two-column table (label, value); ticks as ☒ / ☐.

    ``labels`` replaces printed labels by field name (another version's wording).
    """
    _check(values)
    document = docx.Document()
    document.core_properties.title = TITLE
    document.add_paragraph(COUNCIL)
    document.add_heading(TITLE, level=0)
    document.add_paragraph(f"Form {FORM_REFERENCE}")
    for heading, names in _SECTIONS:
        document.add_heading(heading, level=1)
        if "declaration" in names:
            for line in DECLARATION:
                document.add_paragraph(line)
        table = document.add_table(rows=0, cols=2)
        table.style = "Table Grid"
        for name in names:
            cells = table.add_row().cells
            cells[0].text = (labels or {}).get(name, LABELS[name])
            cells[1].text = f"{'☒' if values.get(name) else '☐'} I agree" if name == "declaration" else _text(values, name)
    document.add_paragraph("Save the completed form and email it to the Council Tax team.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Inventing moves
# ---------------------------------------------------------------------------------------------------------


def _day(offset: int) -> str:
    return (date.today() + timedelta(days=offset)).strftime(DATE_FORMAT)


def move_values(account: fixtures.Account, target: fixtures.Property, *, out_days_ago: int, gap_days: int) -> dict:
    """The form for ``account``'s resident moving from their current property into ``target``."""
    leaving = fixtures.current_property(account.account_no)
    return {
        "account_number": account.account_no,
        "resident_name": f"{account.forenames} {account.surname}",
        "old_address": leaving.address,
        "old_postcode": leaving.postcode,
        "move_out_date": _day(-out_days_ago),
        "new_address": target.address,
        "new_postcode": target.postcode,
        "move_in_date": _day(-out_days_ago + gap_days),
        "declaration": True,
    }


def _draw(rng: random.Random, account: fixtures.Account, target: fixtures.Property) -> dict:
    out_days_ago = rng.randint(3, 25)
    return move_values(account, target, out_days_ago=out_days_ago, gap_days=rng.randint(0, min(3, out_days_ago)))


def change_of_address(rng: random.Random, **overrides: object) -> dict[str, object]:
    """A valid move of a seeded live account into a seeded empty property; ``overrides`` replace values."""
    values = _draw(rng, rng.choice(fixtures.LIVE), rng.choice(fixtures.VACANT))
    _check(overrides)
    return {**values, **overrides}


def changes_of_address(seed: int, count: int) -> list[dict[str, object]]:
    """``count`` valid moves, each of a different resident into a different empty property, so that Revenues
    accepts every one of them in any order."""
    if count > min(len(fixtures.LIVE), len(fixtures.VACANT)):
        raise ValueError(f"at most {min(len(fixtures.LIVE), len(fixtures.VACANT))} distinct moves")
    rng = random.Random(seed)
    accounts = rng.sample(fixtures.LIVE, count)
    targets = rng.sample(fixtures.VACANT, count)
    return [_draw(rng, account, target) for account, target in zip(accounts, targets, strict=True)]


# ---------------------------------------------------------------------------------------------------------
# Forms filled in wrongly, and forms Revenues refuses
# ---------------------------------------------------------------------------------------------------------


def _in_before_out(values: dict) -> dict:
    """Move-in the day before move-out."""
    out = date.today() - timedelta(days=5)
    return {**values, "move_out_date": out.strftime(DATE_FORMAT),
            "move_in_date": (out - timedelta(days=1)).strftime(DATE_FORMAT)}  # fmt: skip


INVALID_VARIANTS: dict[str, Callable[[dict], dict]] = {
    "missing_account_number": _with(account_number=""),
    "account_number_too_short": _with(account_number="6001001"),
    "missing_new_address": _with(new_address=""),
    "bad_new_postcode": _with(new_postcode="ND3 1E"),
    "bad_move_out_date": _with(move_out_date="31/09/2025"),
    "american_move_in_date": _with(move_in_date="12/31/2025"),
    "move_in_before_move_out": _in_before_out,
    "declaration_not_ticked": _with(declaration=False),
}
"""Forms a reader should refuse before anything is keyed."""


def _too_far_ahead(values: dict) -> dict:
    """Revenues: "Move-out date must not be more than 30 days in the future (latest DD/MM/YYYY)." (and move-in)."""
    return {**values, "move_out_date": _day(45), "move_in_date": _day(46)}


def _not_in_register(values: dict) -> dict:
    """Revenues' Find lists nothing at ND9 9ZZ: "-- no properties at this postcode --"."""
    return {**values, "new_address": "99 Nowhere Street, Westgate, Northdale", "new_postcode": "ND9 9ZZ"}


def _occupied(values: dict) -> dict:
    """Someone else lives there (Flat 1, 22 Station Road, or Flat 2 for Flat 1's resident): "Liability L000005
    (account 60010053, ...) runs from 15/01/2021 with no end date: it overlaps the move-in date."."""
    target = fixtures.property_by_ref("P10005" if values["account_number"] == "60010053" else "P10004")
    return {**values, "new_address": target.address, "new_postcode": target.postcode}


def _unknown_account(values: dict) -> dict:
    """Revenues: "Account 60099999 does not exist." (the search finds no such account)."""
    return {**values, "account_number": "60099999"}


def _before_liability(values: dict) -> dict:
    """Revenues: "Move-out date must be on or after the start of the current liability (DD/MM/YYYY)."."""
    return {**values, "move_out_date": "01/01/2000", "move_in_date": "02/01/2000"}


REFUSED_VARIANTS: dict[str, Callable[[dict], dict]] = {
    "too_far_ahead": _too_far_ahead,
    "new_address_not_in_register": _not_in_register,
    "new_address_occupied": _occupied,
    "unknown_account": _unknown_account,
    "move_out_before_liability_started": _before_liability,
}
"""Forms that look right but that Revenues refuses; each docstring says how."""
