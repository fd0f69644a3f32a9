"""Realistic Blue Badge application PDFs for the demo, the tests and the benchmarks.

:func:`blue_badge_pdf` draws the council's two-page A4 form with reportlab and fills its AcroForm fields,
whose names are exactly the field names of :class:`~connectors.documents.blue_badge.BlueBadgeApplication`.
:func:`applicant` invents a valid applicant (deterministic for a seed); :data:`INVALID_VARIANTS` holds the
ways people get the form wrong; :func:`not_a_form_pdf` is a letter someone printed to PDF instead.

All names, addresses and numbers are made up: phone numbers are in Ofcom's drama ranges, email
addresses at example.org / example.com.
"""

from __future__ import annotations

import io
import random
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from enum import Enum

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from connectors.documents.blue_badge import DATE_FORMAT, LABELS, TITLES, BadgeType, Eligibility

COUNCIL = "Northdale District Council"
FORM_REFERENCE = "BB1 (version 3, 2024)"

# ---------------------------------------------------------------------------------------------------------
# Drawing the form
# ---------------------------------------------------------------------------------------------------------

_WIDTH, _HEIGHT = A4
_MARGIN = 50
_FIELD_X = 230  # fields start here; labels are printed to their left
_FIELD_H = 18
_ROW = 30
_BLUE = colors.HexColor("#1d4f91")
_FIELD_FILL = colors.HexColor("#eef3fb")

# (section heading, [(field name, kind, width, max length)]) per page. kind: text, title, eligibility,
# badge_type, declaration.
_Row = tuple[str, str, int, int]
_PAGES: list[list[tuple[str, list[_Row]]]] = [
    [
        (
            "1. About the applicant",
            [
                ("title", "title", 90, 0),
                ("first_names", "text", 300, 60),
                ("surname", "text", 300, 60),
                ("date_of_birth", "text", 110, 10),
                ("ni_number", "text", 150, 13),
            ],
        ),
        (
            "2. Address",
            [
                ("address_line_1", "text", 300, 80),
                ("address_line_2", "text", 300, 80),
                ("town", "text", 220, 60),
                ("postcode", "text", 110, 10),
            ],
        ),
        (
            "3. Contact details",
            [
                ("phone", "text", 180, 20),
                ("email", "text", 300, 80),
            ],
        ),
    ],
    [
        (
            "4. Eligibility",
            [
                ("eligibility", "eligibility", 300, 0),
                ("badge_type", "badge_type", 0, 0),
                ("existing_badge_number", "text", 220, 20),
            ],
        ),
        ("5. Declaration", [("declaration", "declaration", 0, 0)]),
    ],
]

_HINTS = {
    "date_of_birth": "DD/MM/YYYY",
    "ni_number": "For example QQ 12 34 56 C",
    "address_line_2": "Optional",
    "existing_badge_number": "Renewals only",
}

_DECLARATION = (
    "I declare that the information I have given on this form is correct and complete. I understand that",
    "the council may check it with other organisations, and that giving false information may lead to",
    "prosecution and the badge being withdrawn.",
)


def _text(values: Mapping[str, object], name: str) -> str:
    value = values.get(name)
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, date):
        return value.strftime(DATE_FORMAT)
    return str(value)


def _option(values: Mapping[str, object], name: str, options: list[str]) -> str:
    value = _text(values, name)
    if value and value not in options:
        raise ValueError(f"{name} {value!r} is not one of the options on the form: {options}")
    return value


def _header(canvas: Canvas, council: str, page: int, pages: int, *, title: str = "Application for a Blue Badge",
            reference: str = FORM_REFERENCE) -> None:  # fmt: skip
    canvas.setFillColor(_BLUE)
    canvas.rect(0, _HEIGHT - 90, _WIDTH, 90, stroke=0, fill=1)
    canvas.setFillColor(colors.white)
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawString(_MARGIN, _HEIGHT - 35, council)
    canvas.setFont("Helvetica-Bold", 20)
    canvas.drawString(_MARGIN, _HEIGHT - 65, title)
    canvas.setFont("Helvetica", 9)
    canvas.drawRightString(_WIDTH - _MARGIN, _HEIGHT - 35, f"Form {reference}")
    canvas.setFillColor(colors.black)
    canvas.setFont("Helvetica", 8)
    canvas.drawString(_MARGIN, 30, f"{council} - {title}")
    canvas.drawRightString(_WIDTH - _MARGIN, 30, f"Page {page} of {pages}")


def _heading(canvas: Canvas, y: float, text: str) -> None:
    canvas.setFillColor(_BLUE)
    canvas.setFont("Helvetica-Bold", 13)
    canvas.drawString(_MARGIN, y, text)
    canvas.setStrokeColor(_BLUE)
    canvas.line(_MARGIN, y - 5, _WIDTH - _MARGIN, y - 5)
    canvas.setFillColor(colors.black)


def _field(canvas: Canvas, values: Mapping[str, object], row: _Row, y: float) -> float:
    """Draw one labelled field whose top is at ``y``; return the y of the next row."""
    name, kind, width, maxlen = row
    form = canvas.acroForm
    style = dict(borderColor=colors.grey, fillColor=_FIELD_FILL, textColor=colors.black, borderWidth=1, fontSize=10)
    box_y = y - _FIELD_H
    canvas.setFont("Helvetica", 10)
    canvas.drawString(_MARGIN, box_y + 5, LABELS[name])
    if name in _HINTS:
        canvas.setFont("Helvetica-Oblique", 8)
        canvas.setFillColor(colors.dimgrey)
        canvas.drawString(_MARGIN, box_y - 5, _HINTS[name])
        canvas.setFillColor(colors.black)
    tip = LABELS[name]
    if kind == "text":
        form.textfield(
            name=name, value=_text(values, name), x=_FIELD_X, y=box_y, width=width, height=_FIELD_H,
            maxlen=maxlen, tooltip=tip, **style,
        )  # fmt: skip
    elif kind in ("title", "eligibility"):
        # the value goes in a list: reportlab 5.1 fails on a blank (falsy) choice value
        options = list(TITLES) if kind == "title" else [e.value for e in Eligibility]
        form.choice(
            name=name, value=[_option(values, name, options)], options=[""] + options, x=_FIELD_X, y=box_y,
            width=width, height=_FIELD_H, tooltip=tip, **style,
        )  # fmt: skip
    elif kind == "badge_type":
        chosen = _option(values, name, [b.value for b in BadgeType])
        x = _FIELD_X
        for badge in BadgeType:
            form.radio(
                name=name, value=badge.value, selected=badge.value == chosen, x=x, y=box_y + 2, size=14,
                tooltip=tip, buttonStyle="circle", shape="circle", borderColor=colors.grey,
                fillColor=_FIELD_FILL, textColor=colors.black, borderWidth=1,
            )  # fmt: skip
            canvas.drawString(x + 20, box_y + 5, badge.value)
            x += 100
    else:  # the declaration: its wording, then the tick box
        canvas.setFont("Helvetica", 9.5)
        for i, line in enumerate(_DECLARATION):
            canvas.drawString(_MARGIN, y - 12 * i, line)
        box_y = y - 12 * len(_DECLARATION) - 24
        ticked = bool(values.get(name))
        form.checkbox(
            name=name, checked=ticked, x=_FIELD_X, y=box_y, size=16, tooltip=tip, buttonStyle="check",
            borderColor=colors.grey, fillColor=_FIELD_FILL, textColor=colors.black, borderWidth=1,
        )  # fmt: skip
        canvas.setFont("Helvetica", 10)
        canvas.drawString(_MARGIN, box_y + 4, LABELS[name])
        canvas.drawString(_FIELD_X + 24, box_y + 4, "Tick to confirm you agree with the declaration")
        canvas.drawString(_MARGIN, box_y - 40, "Save the completed form and email it to the Blue Badge team.")
        return box_y - 60
    return y - _ROW


def blue_badge_pdf(values: Mapping[str, object], *, council: str = COUNCIL) -> bytes:
    """The filled form as PDF bytes. ``values`` is keyed by field name; missing keys are blank fields.

    Text is written as typed (dates as DD/MM/YYYY), in Latin-1; ``declaration`` is a bool. ``title``,
    ``eligibility`` and ``badge_type`` must be blank or one of the options printed on the form.
    """
    unknown = set(values) - set(LABELS)
    if unknown:
        raise KeyError(f"not fields on the form: {sorted(unknown)}")
    for name in values:
        try:  # reportlab draws field appearances with the standard PDF fonts, which cover Latin-1 only
            _text(values, name).encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(f"{name} {values[name]!r}: the generator can only write Latin-1 text") from None
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle("Application for a Blue Badge")
    canvas.setAuthor(council)
    for number, sections in enumerate(_PAGES, start=1):
        _header(canvas, council, number, len(_PAGES))
        y = _HEIGHT - 130
        if number == 1:
            canvas.setFont("Helvetica", 9.5)
            canvas.drawString(_MARGIN, y, "Fill in this form on screen, save it and email it back to us.")
            y -= 30
        for heading, rows in sections:
            _heading(canvas, y, heading)
            y -= 18
            for row in rows:
                y = _field(canvas, values, row, y)
            y -= 16
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def not_a_form_pdf() -> bytes:
    """A valid PDF with text only and no form fields: a covering letter someone printed to PDF."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    canvas.setFont("Helvetica", 11)
    lines = [
        "14 Park Road",
        "Leeds LS6 2AB",
        "",
        "Dear Sir or Madam,",
        "",
        "Please find my application for a Blue Badge attached. I have had to print the form and",
        "sign it by hand, as I could not get the boxes to work on my computer.",
        "",
        "Yours faithfully,",
        "Margaret Holroyd",
    ]
    for i, line in enumerate(lines):
        canvas.drawString(72, _HEIGHT - 100 - 16 * i, line)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Inventing applicants
# ---------------------------------------------------------------------------------------------------------

_MEN = (
    "David", "John", "Michael", "Peter", "Robert", "James", "William", "Stephen", "Paul", "Andrew", "Gareth",
    "Dafydd", "Iain", "Callum", "Mohammed", "Imran", "Rajesh", "Kwame", "Tomasz", "Sean", "Oliver", "Harry",
)  # fmt: skip
_WOMEN = (
    "Margaret", "Susan", "Patricia", "Elizabeth", "Sarah", "Helen", "Karen", "Janet", "Joan", "Siân",
    "Bethan", "Fiona", "Morag", "Aoife", "Zoë", "Fatima", "Priya", "Aisha", "Agnieszka", "Grace", "Olivia",
)  # fmt: skip
_MIDDLE_WOMEN = ("Ann", "Mary", "Louise", "Jane", "Rose", "Elaine")
_MIDDLE_MEN = ("James", "John", "Edward", "Thomas", "Alan", "Rhys")
_SURNAMES = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Roberts",
    "Johnson", "Wright", "Walker", "Robinson", "Thompson", "Holroyd", "Ackroyd", "Patel", "Khan", "Begum",
    "Hussain", "Singh", "O'Brien", "O'Neill", "McDonald", "MacLeod", "Campbell", "Hughes", "Lewis", "Murphy",
    "Kowalski", "Nowak", "Mensah", "Okafor", "Clarke-Jones", "Fitzgerald", "Ellis", "Price", "Shaw",
)  # fmt: skip
_STREETS = (
    "Park Road", "Church Street", "Station Road", "Victoria Street", "Manor Way", "Mill Lane", "Queens Road",
    "The Crescent", "Albert Terrace", "Oak Avenue", "Highfield Close", "Chapel Lane", "Windsor Drive",
)  # fmt: skip
_HOUSE_NAMES = ("Rose Cottage", "The Willows", "Fairview", "Ty Gwyn", "Hillcrest")
# Town, its outward codes, and places within it for address line 2.
_TOWNS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Leeds", ("LS1", "LS6", "LS8", "LS11", "LS17"), ("Headingley", "Roundhay", "Beeston", "Moortown")),
    ("Manchester", ("M1", "M14", "M20", "M21"), ("Didsbury", "Fallowfield", "Chorlton", "Rusholme")),
    ("Birmingham", ("B1", "B13", "B15", "B29"), ("Edgbaston", "Moseley", "Selly Oak", "Harborne")),
    ("Sheffield", ("S1", "S7", "S10", "S11"), ("Nether Edge", "Crookes", "Ecclesall", "Walkley")),
    ("Bristol", ("BS1", "BS6", "BS8", "BS16"), ("Redland", "Clifton", "Fishponds", "Cotham")),
    ("Cardiff", ("CF10", "CF14", "CF24"), ("Cathays", "Roath", "Whitchurch", "Llandaff")),
    ("Glasgow", ("G1", "G12", "G41"), ("Hillhead", "Partick", "Shawlands", "Dennistoun")),
    ("Edinburgh", ("EH1", "EH6", "EH10"), ("Leith", "Morningside", "Bruntsfield", "Stockbridge")),
    ("Newcastle upon Tyne", ("NE1", "NE2", "NE6"), ("Jesmond", "Heaton", "Byker", "Gosforth")),
    ("Liverpool", ("L1", "L8", "L17", "L18"), ("Aigburth", "Toxteth", "Allerton", "Wavertree")),
    ("Nottingham", ("NG1", "NG5", "NG7"), ("Sherwood", "Lenton", "Radford", "Arnold")),
    ("York", ("YO1", "YO10", "YO31"), ("Heworth", "Fulford", "Clifton", "Acomb")),
    ("Norwich", ("NR1", "NR2", "NR3"), ("Eaton", "Thorpe Hamlet", "Earlham", "Lakenham")),
    ("Belfast", ("BT1", "BT7", "BT9"), ("Malone", "Ormeau", "Stranmillis", "Ballyhackamore")),
    ("London", ("SW1A", "E1", "N1", "SE15", "NW3", "W1A"), ("Islington", "Peckham", "Hampstead", "Bow")),
)
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # inward codes never use C, I, K, M, O or V
# National Insurance prefixes: no D, F, I, Q, U, V; second letter not O; some pairs are never issued.
_NI_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
_NI_SECOND = "ABCEGHJKLMNPRSTWXYZ"
_NI_NEVER = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
# Adults only: a child under 3 is only chosen on request, as the date of birth must then follow today's date.
_ADULT_ROUTES = [e for e in Eligibility if e is not Eligibility.CHILD_UNDER_THREE]


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum() or c == "-")


def _ni_number(rng: random.Random) -> str:
    while (prefix := rng.choice(_NI_FIRST) + rng.choice(_NI_SECOND)) in _NI_NEVER:
        pass
    digits = f"{rng.randrange(1_000_000):06d}"
    suffix = rng.choice("ABCD")
    if rng.random() < 0.3:  # some people type the spaces printed on their NI card
        return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
    return f"{prefix}{digits}{suffix}"


def _date_of_birth(rng: random.Random) -> date:
    first, last = date(1935, 1, 1).toordinal(), date(2005, 12, 31).toordinal()
    return date.fromordinal(rng.randint(first, last))


def applicant(rng: random.Random, **overrides: object) -> dict[str, object]:
    """A realistic, valid applicant keyed by field name, as typed on the form. Deterministic for a seed.

    ``overrides`` replace generated values (same keys). Asking for ``eligibility`` "Child under 3 with
    medical equipment" without a ``date_of_birth`` gives a child born in the last three years (so that
    one case depends on today's date).
    """
    unknown = set(overrides) - set(LABELS)
    if unknown:
        raise KeyError(f"not fields on the form: {sorted(unknown)}")
    woman = rng.random() < 0.55
    first = rng.choice(_WOMEN if woman else _MEN)
    first_names = f"{first} {rng.choice(_MIDDLE_WOMEN if woman else _MIDDLE_MEN)}" if rng.random() < 0.3 else first
    surname = rng.choice(_SURNAMES)
    if rng.random() < 0.08:
        title = rng.choice(("Dr", "Mx"))
    else:
        title = rng.choice(("Mrs", "Miss", "Ms")) if woman else "Mr"
    town, outwards, districts = rng.choice(_TOWNS)
    if rng.random() < 0.15:
        line_1 = rng.choice(_HOUSE_NAMES)
        line_2 = f"{rng.randint(1, 200)} {rng.choice(_STREETS)}"
    else:
        line_1 = f"{rng.randint(1, 250)} {rng.choice(_STREETS)}"
        line_2 = rng.choice(districts) if rng.random() < 0.6 else ""
        if rng.random() < 0.15:
            line_1, line_2 = f"Flat {rng.randint(1, 40)}", f"{line_1}, {line_2}".rstrip(", ")
    postcode = f"{rng.choice(outwards)} {rng.randint(0, 9)}{rng.choice(_INWARD_LETTERS)}{rng.choice(_INWARD_LETTERS)}"
    if rng.random() < 0.5:  # Ofcom's ranges for drama: 01632 960000-960999 and 07700 900000-900999
        phone = f"01632 960{rng.randrange(1000):03d}"
    else:
        phone = f"07700 900{rng.randrange(1000):03d}"
    email = f"{_ascii(first)}.{_ascii(surname)}{rng.choice(('', str(rng.randint(1, 99))))}"
    email += rng.choice(("@example.org", "@example.com"))
    renewal = rng.random() < 0.25
    badge_number = ""
    if renewal:
        letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2))
        badge_number = f"{letters}{rng.randrange(100):02d} {rng.randrange(10_000):04d} {rng.randrange(10_000):04d}"
    values: dict[str, object] = {
        "title": title,
        "first_names": first_names,
        "surname": surname,
        "date_of_birth": _date_of_birth(rng).strftime(DATE_FORMAT),
        "ni_number": _ni_number(rng),
        "address_line_1": line_1,
        "address_line_2": line_2,
        "town": town,
        "postcode": postcode,
        "phone": phone,
        "email": email,
        "eligibility": rng.choice(_ADULT_ROUTES).value,
        "badge_type": BadgeType.RENEWAL.value if renewal else BadgeType.NEW.value,
        "existing_badge_number": badge_number,
        "declaration": True,
    }
    child_days = rng.randint(30, 3 * 365 - 30)  # drawn always, so overrides never shift the sequence
    values.update(overrides)
    eligibility = _text(values, "eligibility")
    if eligibility == Eligibility.CHILD_UNDER_THREE.value and "date_of_birth" not in overrides:
        values["date_of_birth"] = (date.today() - timedelta(days=child_days)).strftime(DATE_FORMAT)
    return values


# ---------------------------------------------------------------------------------------------------------
# Ways people get the form wrong
# ---------------------------------------------------------------------------------------------------------


def _with(**changes: object) -> Callable[[dict], dict]:
    def variant(values: dict) -> dict:
        return {**values, **changes}

    return variant


def _future_date_of_birth(values: dict) -> dict:
    return {**values, "date_of_birth": f"01/06/{date.today().year + 1}"}


INVALID_VARIANTS: dict[str, Callable[[dict], dict]] = {
    "missing_title": _with(title=""),
    "missing_surname": _with(surname=""),
    "missing_address": _with(address_line_1=""),
    "bad_date_of_birth": _with(date_of_birth="31/02/1980"),
    "american_date": _with(date_of_birth="12/31/1980"),
    "date_with_dashes": _with(date_of_birth="07-03-1958"),
    "future_date_of_birth": _future_date_of_birth,
    "bad_ni_number": _with(ni_number="QQ 12 34 56 E"),
    "bad_postcode": _with(postcode="LS1 4A"),
    "phone_without_area_code": _with(phone="960123"),
    "bad_email": _with(email="margaret.holroyd.example.org"),
    "no_reason_chosen": _with(eligibility=""),
    "child_route_for_an_adult": _with(eligibility=Eligibility.CHILD_UNDER_THREE.value, date_of_birth="07/03/1958"),
    "renewal_without_badge_number": _with(badge_type=BadgeType.RENEWAL.value, existing_badge_number=""),
    "declaration_not_ticked": _with(declaration=False),
}
