"""Every other format staff send the Blue Badge form in, plus supplier invoices, for the demo and the tests.

From the same applicant values as :func:`sandbox.forms.blue_badge_pdf` (see :func:`sandbox.forms.applicant`):

* :func:`printed_blue_badge_pdf`: the form printed (or "saved as PDF") after filling it in: the same
  layout, the values as text, no fields left.
* :func:`scanned_blue_badge_pdf`: that printed page photographed by a scanner: one greyscale JPEG per page
  and no text layer.
* :func:`flattened_blue_badge_pdf`: the PDF form filled in and then flattened by pypdf, qpdf or
  pdftocairo: the boxes' appearances are part of the page, no fields left.
* :func:`means_form_pdf`: another form (a court's statement of means) asking for a name, date of birth and
  address under the same generic labels.
* :func:`blue_badge_docx`: the Word version of the form in three styles: a label/value table, content
  controls (text, drop-down, date picker, check box), or legacy form fields (FORMTEXT, FORMCHECKBOX,
  FORMDROPDOWN).
* :func:`supplier_invoice_pdf` with :func:`invoice`: a supplier's invoice with a text layer, arithmetic
  right unless told otherwise; :func:`minutes_docx`: a Word document that is not a form at all.

All people, companies and numbers are made up.
"""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

import docx
import reportlab
from docx.oxml import parse_xml
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from connectors.documents.blue_badge import DATE_FORMAT, LABELS, TITLES, BadgeType, Eligibility
from sandbox.finance.fixtures import SUPPLIERS as FINANCE_SUPPLIERS
from sandbox.forms import (
    _DECLARATION,
    _FIELD_FILL,
    _FIELD_H,
    _FIELD_X,
    _HINTS,
    _MARGIN,
    _PAGES,
    _ROW,
    COUNCIL,
    FORM_REFERENCE,
    _header,
    _heading,
    _option,
    _text,
    blue_badge_pdf,
)

_WIDTH, _HEIGHT = A4

# ---------------------------------------------------------------------------------------------------------
# The printed form, drawn on a reportlab canvas or (for scans) on an image through the same calls
# ---------------------------------------------------------------------------------------------------------


def _draw_value(canvas, values: Mapping[str, object], name: str, kind: str, width: int, x: float, y: float) -> None:
    """The value of one field where the form's box would be; ``y`` is the baseline of the label."""
    canvas.setFillColor(_FIELD_FILL)
    canvas.setStrokeColor(colors.grey)
    if kind in ("text", "title", "eligibility"):
        if kind != "text":
            options = list(TITLES) if kind == "title" else [e.value for e in Eligibility]
            _option(values, name, options)
        canvas.rect(x, y - 5, width, _FIELD_H, stroke=1, fill=1)
        canvas.setFillColor(colors.black)
        canvas.setFont("Helvetica", 10)
        canvas.drawString(x + 3, y, _text(values, name))
    elif kind == "badge_type":
        chosen = _option(values, name, [b.value for b in BadgeType])
        canvas.setStrokeColor(colors.lightgrey)  # a faint ring, so that OCR sees the cross and not the ring
        for badge in BadgeType:
            canvas.setFillColor(_FIELD_FILL)
            canvas.circle(x + 7, y + 4, 9, stroke=1, fill=1)
            canvas.setFillColor(colors.black)
            if badge.value == chosen:  # a cross OCR can read, where a printer would draw a dot
                canvas.setFont("Helvetica-Bold", 12)
                canvas.drawString(x + 3, y - 0.5, "X")
            canvas.setFont("Helvetica", 10)
            canvas.drawString(x + 20, y, badge.value)
            x += 100
    canvas.setFillColor(colors.black)


def _draw_page(canvas, values: Mapping[str, object], number: int, labels: Mapping[str, str], stacked: bool) -> None:
    """One page of the printed form. ``stacked`` puts each value on the line below its label."""
    _header(canvas, COUNCIL, number, len(_PAGES))
    y = _HEIGHT - 130
    if number == 1:
        canvas.setFont("Helvetica", 9.5)
        canvas.drawString(_MARGIN, y, "Fill in this form on screen, save it and email it back to us.")
        y -= 30
    for heading, rows in _PAGES[number - 1]:
        _heading(canvas, y, heading)
        y -= 18
        for name, kind, width, _ in rows:
            baseline = y - _FIELD_H + 5
            canvas.setFont("Helvetica", 10)
            if kind == "declaration":
                canvas.setFont("Helvetica", 9.5)
                for i, line in enumerate(_DECLARATION):
                    canvas.drawString(_MARGIN, y - 12 * i, line)
                baseline = y - 12 * len(_DECLARATION) - 20
                canvas.setFont("Helvetica", 10)
                canvas.drawString(_MARGIN, baseline, labels.get(name, LABELS[name]))
                canvas.setFillColor(_FIELD_FILL)
                canvas.setStrokeColor(colors.grey)
                canvas.rect(_FIELD_X, baseline - 4, 16, 16, stroke=1, fill=1)
                canvas.setFillColor(colors.black)
                if values.get(name):
                    canvas.setFont("Helvetica-Bold", 12)
                    canvas.drawString(_FIELD_X + 4.2, baseline, "X")
                canvas.setFont("Helvetica", 10)
                canvas.drawString(_FIELD_X + 24, baseline, "Tick to confirm you agree with the declaration")
                canvas.drawString(
                    _MARGIN, baseline - 44, "Save the completed form and email it to the Blue Badge team."
                )
                y = baseline - 64
                continue
            canvas.drawString(_MARGIN, baseline, labels.get(name, LABELS[name]))
            if stacked:
                _draw_value(canvas, values, name, kind, width, _MARGIN + 2, baseline - 16)
                y -= _ROW + 12
                continue
            if name in _HINTS:
                canvas.setFont("Helvetica-Oblique", 8)
                canvas.setFillColor(colors.dimgrey)
                canvas.drawString(_MARGIN, baseline - 10, _HINTS[name])
                canvas.setFillColor(colors.black)
            _draw_value(canvas, values, name, kind, width, _FIELD_X, baseline)
            y -= _ROW
        y -= 16


def _check_values(values: Mapping[str, object]) -> None:
    unknown = set(values) - set(LABELS)
    if unknown:
        raise KeyError(f"not fields on the form: {sorted(unknown)}")


def printed_blue_badge_pdf(
    values: Mapping[str, object], *, labels: Mapping[str, str] | None = None, stacked: bool = False
) -> bytes:
    """The filled form printed to PDF: the AcroForm's layout with the values as text and no fields.

    ``labels`` replaces printed labels by field name (another version's wording: ``{"surname": "Last
    name"}``); ``stacked`` prints each value on the line under its label instead of beside it.
    """
    _check_values(values)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle("Application for a Blue Badge")
    for number in range(1, len(_PAGES) + 1):
        _draw_page(canvas, values, number, labels or {}, stacked)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


_FONTS = Path(reportlab.__file__).parent / "fonts"
_FONT_FILES = {"Helvetica": "Vera.ttf", "Helvetica-Bold": "VeraBd.ttf", "Helvetica-Oblique": "VeraIt.ttf"}


class _ImageCanvas:
    """The few reportlab canvas calls the form uses, drawn on a greyscale page image instead (a scan)."""

    def __init__(self, dpi: int) -> None:
        self.scale = dpi / 72
        self.image = Image.new("L", (round(_WIDTH * self.scale), round(_HEIGHT * self.scale)), 255)
        self._draw = ImageDraw.Draw(self.image)
        self._fill = self._stroke = 0
        self._font = self._font_for("Helvetica", 10)

    def _font_for(self, name: str, size: float) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(str(_FONTS / _FONT_FILES[name]), round(size * self.scale))

    @staticmethod
    def _grey(color: colors.Color) -> int:
        red, green, blue = color.rgb()
        return round(255 * (0.299 * red + 0.587 * green + 0.114 * blue))

    def _xy(self, x: float, y: float) -> tuple[float, float]:
        return x * self.scale, (_HEIGHT - y) * self.scale

    def setFillColor(self, color: colors.Color) -> None:  # noqa: N802 - reportlab's names
        self._fill = self._grey(color)

    def setStrokeColor(self, color: colors.Color) -> None:  # noqa: N802
        self._stroke = self._grey(color)

    def setFont(self, name: str, size: float) -> None:  # noqa: N802
        self._font = self._font_for(name, size)

    def drawString(self, x: float, y: float, text: str) -> None:  # noqa: N802
        self._draw.text(self._xy(x, y), text, fill=self._fill, font=self._font, anchor="ls")

    def drawRightString(self, x: float, y: float, text: str) -> None:  # noqa: N802
        self._draw.text(self._xy(x, y), text, fill=self._fill, font=self._font, anchor="rs")

    def rect(self, x: float, y: float, width: float, height: float, stroke: int = 1, fill: int = 0) -> None:
        left, bottom = self._xy(x, y)
        right, top = self._xy(x + width, y + height)
        self._draw.rectangle(
            (left, top, right, bottom),
            fill=self._fill if fill else None,
            outline=self._stroke if stroke else None,
            width=max(1, round(self.scale / 2)),
        )

    def circle(self, x: float, y: float, radius: float, stroke: int = 1, fill: int = 0) -> None:
        left, bottom = self._xy(x - radius, y - radius)
        right, top = self._xy(x + radius, y + radius)
        self._draw.ellipse(
            (left, top, right, bottom),
            fill=self._fill if fill else None,
            outline=self._stroke if stroke else None,
            width=max(1, round(self.scale / 2)),
        )

    def line(self, x1: float, y1: float, x2: float, y2: float) -> None:
        self._draw.line((*self._xy(x1, y1), *self._xy(x2, y2)), fill=self._stroke, width=max(1, round(self.scale / 2)))


def scanned_blue_badge_pdf(values: Mapping[str, object], *, dpi: int = 200) -> bytes:
    """The printed form as a scanner makes it: each page one greyscale JPEG image, no text layer."""
    _check_values(values)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    for number in range(1, len(_PAGES) + 1):
        page = _ImageCanvas(dpi)
        _draw_page(page, values, number, {}, stacked=False)
        jpeg = io.BytesIO()
        page.image.save(jpeg, format="JPEG", quality=85, dpi=(dpi, dpi))
        canvas.drawImage(ImageReader(io.BytesIO(jpeg.getvalue())), 0, 0, width=_WIDTH, height=_HEIGHT)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------
# The PDF form filled in, then flattened: its boxes become part of the page
# ---------------------------------------------------------------------------------------------------------

FlattenTool = Literal["pypdf", "qpdf", "pdftocairo"]
TOOL_PACKAGES = {"qpdf": "qpdf", "pdftocairo": "poppler-utils"}
"""The Debian package of each external tool (``make pdftools`` installs them)."""


def flattened_blue_badge_pdf(values: Mapping[str, object], tool: FlattenTool = "pypdf", *,
                             ticks: Literal["drawn", "glyph"] = "drawn") -> bytes:  # fmt: skip
    """The filled-in PDF form (:func:`sandbox.forms.blue_badge_pdf`) flattened, as staff's tools do it:

    * ``pypdf``: ``update_page_form_field_values(..., flatten=True)``, then the boxes removed (their entries
      stay in the form's field list, pointing at nothing, as a script written with pypdf leaves them);
    * ``qpdf``: ``qpdf --flatten-annotations=all`` (Debian's qpdf);
    * ``pdftocairo``: ``pdftocairo -pdf``, which redraws every page (Debian's poppler-utils), as "print to
      PDF" does.

    The form's tick box and option buttons are drawn with lines and curves (``ticks="drawn"``, reportlab's
    way), or with ZapfDingbats characters as Acrobat writes them (``ticks="glyph"``: ✔ in a ticked box, ●
    in the chosen option). Raises ``FileNotFoundError`` naming the package when an external tool is missing.
    """
    data = blue_badge_pdf(values)
    if ticks == "glyph":
        data = _with_glyph_ticks(data)
    if tool == "pypdf":
        return _flatten_with_pypdf(data)
    command = {"qpdf": ["qpdf", "--flatten-annotations=all"], "pdftocairo": ["pdftocairo", "-pdf"]}[tool]
    if shutil.which(command[0]) is None:
        raise FileNotFoundError(f"{command[0]} is not installed (Debian package {TOOL_PACKAGES[tool]})")
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder, "form.pdf"), Path(folder, "flat.pdf")
        source.write_bytes(data)
        subprocess.run([*command, str(source), str(target)], check=True, capture_output=True)
        return target.read_bytes()


def _flatten_with_pypdf(data: bytes) -> bytes:
    reader = PdfReader(io.BytesIO(data))
    filled = {name: field.get("/V") for name, field in (reader.get_fields() or {}).items()}
    writer = PdfWriter(clone_from=reader)
    for page in writer.pages:
        writer.update_page_form_field_values(page, {k: v for k, v in filled.items() if v is not None},
                                             auto_regenerate=False, flatten=True)  # fmt: skip
    writer.remove_annotations(subtypes="/Widget")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _with_glyph_ticks(data: bytes) -> bytes:
    """The form with each tick box's and option button's "on" appearance replaced by a ZapfDingbats
    character, as Acrobat draws them: ✔ (character "4") in a tick box, ● ("l") in an option."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/ZapfDingbats")}))  # fmt: skip
    resources = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/ZaDb"): font})})
    for page in writer.pages:
        for annotation in page.get("/Annots", []):
            widget = annotation.get_object()
            if widget.get("/FT", widget.get("/Parent", {}).get("/FT") if "/Parent" in widget else None) != "/Btn":
                continue
            states = widget["/AP"]["/N"]
            for state in [key for key in states if key != "/Off"]:
                stream = states[state].get_object()
                box = [float(value) for value in stream["/BBox"]]
                character = b"4" if state == "/Yes" else b"l"
                stream.set_data(b"q BT 0 g /ZaDb %.1f Tf %.1f %.1f Td (%b) Tj ET Q" % (
                    (box[3] - box[1]) * 0.8, (box[2] - box[0]) * 0.15, (box[3] - box[1]) * 0.2, character))  # fmt: skip
                stream[NameObject("/Resources")] = resources
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Another form with the same generic labels: a court's statement of means
# ---------------------------------------------------------------------------------------------------------

_MEANS_ROWS = (
    ("title", "Title"), ("first_names", "First name(s)"), ("surname", "Surname"), ("date_of_birth", "Date of birth"),
    ("ni_number", "National Insurance number"), ("address_line_1", "Address"), ("town", "Town"),
    ("postcode", "Postcode"), ("phone", "Telephone"), ("email", "Email"), ("employer", "Employer"),
    ("income", "Monthly income"), ("signature", "Signature"),
)  # fmt: skip


def means_form_pdf(values: Mapping[str, object], *, fields: bool = False) -> bytes:
    """A county court's "Statement of means", filled in for the person in ``values``: it asks for a name,
    date of birth, National Insurance number, address and contact details under the same generic labels as
    the Blue Badge form, but it is not that form. ``fields``: as a PDF form whose boxes are named like the
    Blue Badge form's (``surname``...), else printed (the answers as text)."""
    answers = {**{key: _text(values, key) for key in LABELS}, "employer": "Northdale Bus Company",
               "income": "£1,850.00", "signature": f"{_text(values, 'first_names')} {_text(values, 'surname')}"}  # fmt: skip
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    canvas.setTitle("Statement of means")
    canvas.setFont("Helvetica-Bold", 18)
    canvas.drawString(_MARGIN, _HEIGHT - 70, "Statement of means")
    canvas.setFont("Helvetica", 9.5)
    canvas.drawString(_MARGIN, _HEIGHT - 90, "County Court Business Centre - reply to a claim for money (form N9A)")
    y = _HEIGHT - 130
    for key, label in _MEANS_ROWS:
        canvas.setFont("Helvetica", 10)
        canvas.drawString(_MARGIN, y, label)
        if fields:
            canvas.acroForm.textfield(name=key, value=answers[key], x=_FIELD_X, y=y - 5, width=300, height=_FIELD_H,
                                      borderWidth=1, fontSize=10)  # fmt: skip
        else:
            canvas.drawString(_FIELD_X, y, answers[key])
        y -= _ROW
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------
# The Word version of the form
# ---------------------------------------------------------------------------------------------------------

DocxStyle = Literal["table", "controls", "legacy"]

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
_NS = f'xmlns:w="{_W}" xmlns:w14="{_W14}"'
_CHECKED, _UNCHECKED = "\u2612", "\u2610"  # ☒ ☐, as Word draws a ticked and an empty box
_PLACEHOLDER = "Click or tap here to enter text."
_EMPTY_FORMTEXT = "\u2002" * 5  # Word shows an empty legacy text field as five en spaces

# Names a council's Word form gives its legacy fields (bookmarks: at most 20 characters, no spaces).
_LEGACY_NAMES = {
    "title": "Title", "first_names": "FirstNames", "surname": "Surname", "date_of_birth": "DateOfBirth",
    "ni_number": "NINumber", "address_line_1": "Address1", "address_line_2": "Address2", "town": "Town",
    "postcode": "Postcode", "phone": "Telephone", "email": "Email", "eligibility": "Eligibility",
    "badge_type": "BadgeType", "existing_badge_number": "ExistingBadgeNo", "declaration": "Declare",
}  # fmt: skip
_CHOICES = {
    "title": list(TITLES),
    "eligibility": [e.value for e in Eligibility],
    "badge_type": [b.value for b in BadgeType],
}
_UNTAGGED = {"town"}
"""Content controls the form designer left without a tag or title: found by the label beside them."""


def blue_badge_docx(values: Mapping[str, object], style: DocxStyle = "table",
                    *, labels: Mapping[str, str] | None = None) -> bytes:  # fmt: skip
    """The Word version of the Blue Badge form, filled in with ``values`` (keyed as for the PDF form).

    ``style``: ``table`` (a label cell and a value cell per field, ticks as ☒), ``controls`` (content
    controls: plain text, drop-down lists, a date picker and a check box; ``town`` has no tag, as happens)
    or ``legacy`` (FORMTEXT, FORMDROPDOWN and FORMCHECKBOX fields). ``labels`` replaces printed labels.
    """
    _check_values(values)
    document = docx.Document()
    document.core_properties.title = "Application for a Blue Badge"
    document.add_paragraph(COUNCIL)
    document.add_heading("Application for a Blue Badge", level=0)
    document.add_paragraph(f"Form {FORM_REFERENCE}")
    document.add_paragraph("Fill in this form, save it and email it back to us.")
    for sections in _PAGES:
        for heading, rows in sections:
            document.add_heading(heading, level=1)
            if heading.endswith("Declaration"):
                for line in _DECLARATION:
                    document.add_paragraph(line)
            table = document.add_table(rows=0, cols=2)
            table.style = "Table Grid"
            for name, *_ in rows:
                cells = table.add_row().cells
                cells[0].text = (labels or {}).get(name, LABELS[name])
                paragraph = cells[1].paragraphs[0]
                if style == "table":
                    paragraph.text = _table_value(values, name)
                else:
                    make = _control if style == "controls" else _legacy_field
                    for element in make(values, name):
                        paragraph._p.append(element)
    document.add_paragraph("Save the completed form and email it to the Blue Badge team.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _table_value(values: Mapping[str, object], name: str) -> str:
    if name == "declaration":
        return f"{_CHECKED if values.get(name) else _UNCHECKED} I agree"
    if name == "badge_type":
        chosen = _option(values, name, _CHOICES[name])
        return "    ".join(f"{_CHECKED if option == chosen else _UNCHECKED} {option}" for option in _CHOICES[name])
    if name in _CHOICES:
        _option(values, name, _CHOICES[name])
    return _text(values, name)


def _run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r>'


def _control(values: Mapping[str, object], name: str) -> list:
    """A content control (``w:sdt``) holding the field's value."""
    label = LABELS[name]
    text = _text(values, name)
    naming = "" if name in _UNTAGGED else f"<w:alias w:val={quoteattr(label)}/><w:tag w:val={quoteattr(name)}/>"
    if name == "declaration":
        ticked = bool(values.get(name))
        kind = (f'<w14:checkbox><w14:checked w14:val="{int(ticked)}"/>'
                '<w14:checkedState w14:val="2612" w14:font="MS Gothic"/>'
                '<w14:uncheckedState w14:val="2610" w14:font="MS Gothic"/></w14:checkbox>')  # fmt: skip
        text, placeholder = (_CHECKED if ticked else _UNCHECKED), False
    elif name in _CHOICES:
        _option(values, name, _CHOICES[name])
        items = "".join(f"<w:listItem w:displayText={quoteattr(o)} w:value={quoteattr(o)}/>" for o in _CHOICES[name])
        kind = f"<w:dropDownList>{items}</w:dropDownList>"
        placeholder = not text
    elif name == "date_of_birth":
        try:
            full = f' w:fullDate="{datetime.strptime(text, DATE_FORMAT).date().isoformat()}T00:00:00Z"'
        except ValueError:  # Word keeps what was typed, without a date, when it is not a real date
            full = ""
        kind = (f'<w:date{full}><w:dateFormat w:val="dd/MM/yyyy"/><w:lid w:val="en-GB"/>'
                '<w:storeMappedDataAs w:val="dateTime"/><w:calendar w:val="gregorian"/></w:date>')  # fmt: skip
        placeholder = not text
    else:
        kind, placeholder = "<w:text/>", not text
    shown = "<w:showingPlcHdr/>" if placeholder else ""
    content = _run(_PLACEHOLDER if placeholder else text)
    return [parse_xml(f"<w:sdt {_NS}><w:sdtPr>{naming}{shown}{kind}</w:sdtPr>"
                      f"<w:sdtContent>{content}</w:sdtContent></w:sdt>")]  # fmt: skip


def _legacy_field(values: Mapping[str, object], name: str) -> list:
    """A legacy form field (Word 97-2003 style): field-character runs around the result."""
    bookmark = f'<w:name w:val={quoteattr(_LEGACY_NAMES[name])}/><w:enabled/><w:calcOnExit w:val="0"/>'
    begin = '<w:r {ns}><w:fldChar w:fldCharType="begin"><w:ffData>{data}</w:ffData></w:fldChar></w:r>'
    end = f'<w:r {_NS}><w:fldChar w:fldCharType="end"/></w:r>'
    if name == "declaration":
        ticked = "<w:checked/>" if values.get(name) else ""
        data = f'{bookmark}<w:checkBox><w:sizeAuto/><w:default w:val="0"/>{ticked}</w:checkBox>'
        runs = [begin.format(ns=_NS, data=data), _instr("FORMCHECKBOX"), end]
    elif name in ("title", "badge_type"):
        options = [" ", *_CHOICES[name]]  # a blank first entry: "not chosen"
        chosen = _option(values, name, _CHOICES[name]) or " "
        entries = "".join(f"<w:listEntry w:val={quoteattr(option)}/>" for option in options)
        data = f'{bookmark}<w:ddList><w:result w:val="{options.index(chosen)}"/>{entries}</w:ddList>'
        runs = [begin.format(ns=_NS, data=data), _instr("FORMDROPDOWN"), end]
    else:
        if name == "eligibility":
            _option(values, name, _CHOICES[name])
        data = f"{bookmark}<w:textInput/>"
        result = f"<w:r {_NS}>" + _run(_text(values, name) or _EMPTY_FORMTEXT)[5:]
        runs = [begin.format(ns=_NS, data=data), _instr("FORMTEXT"),
                f'<w:r {_NS}><w:fldChar w:fldCharType="separate"/></w:r>', result, end]  # fmt: skip
    return [parse_xml(run) for run in runs]


def _instr(kind: str) -> str:
    return f'<w:r {_NS}><w:instrText xml:space="preserve"> {kind} </w:instrText></w:r>'


def minutes_docx() -> bytes:
    """A Word document that is not a form: the minutes of a committee meeting, with an actions table."""
    document = docx.Document()
    document.core_properties.title = "Minutes of the Parks and Open Spaces Committee"
    document.add_heading("Minutes of the Parks and Open Spaces Committee", level=0)
    document.add_paragraph(
        "Held on 4 March 2025 at the Town Hall. Present: Cllr Ackroyd (Chair), Cllr Begum, Cllr Shaw."
    )
    document.add_paragraph("1. Apologies: Cllr Nowak.")
    document.add_paragraph("2. The committee agreed the new opening hours for Victoria Park.")
    table = document.add_table(rows=1, cols=3)
    for cell, text in zip(table.rows[0].cells, ("Action", "Owner", "Due"), strict=True):
        cell.text = text
    for row in (
        ("Order new benches", "Parks manager", "30/04/2025"),
        ("Survey the pond", "Ecology officer", "31/05/2025"),
    ):
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Supplier invoices
# ---------------------------------------------------------------------------------------------------------

# The first three of the Finance sandbox's suppliers (its fixtures), so generated invoices name real ones.
_SUPPLIERS = tuple((s.name, s.address, s.vat_registration) for s in FINANCE_SUPPLIERS[:3])
_ITEMS = (
    ("A4 copier paper, box of 5 reams", Decimal("21.50")), ("Toner cartridge, black", Decimal("64.99")),
    ("Grass cutting, Victoria Park", Decimal("180.00")), ("Leaflets, 1,000 copies", Decimal("95.00")),
    ("Desk chair", Decimal("149.00")), ("Hedge trimming, per hour", Decimal("32.50")),
)  # fmt: skip
_PENNY = Decimal("0.01")


def invoice(rng: random.Random, **overrides: object) -> dict[str, object]:
    """A supplier's invoice whose arithmetic is right (deterministic for a seed); override any key.

    Keys: ``supplier``, ``supplier_address``, ``vat_registration``, ``invoice_number``, ``invoice_date``
    (DD/MM/YYYY), ``po_number``, ``lines`` (description, quantity, unit price), ``vat_rate``, and the
    amounts ``net``, ``vat``, ``total`` (Decimal) worked out from the lines unless overridden.
    """
    supplier, address, registration = rng.choice(_SUPPLIERS)
    lines = [(description, rng.randint(1, 12), price) for description, price in rng.sample(_ITEMS, rng.randint(1, 4))]
    rate = rng.choice((Decimal("0.20"), Decimal("0.20"), Decimal("0.20"), Decimal("0.05"), Decimal("0")))
    values: dict[str, object] = {
        "supplier": supplier,
        "supplier_address": address,
        "vat_registration": registration,
        "invoice_number": f"INV-{rng.randint(10_000, 99_999)}",
        "invoice_date": (date.today() - timedelta(days=rng.randint(1, 60))).strftime(DATE_FORMAT),
        "po_number": f"PO{rng.randrange(1_000_000):06d}",
        "lines": lines,
        "vat_rate": rate,
    }
    values.update(overrides)
    net = sum((quantity * price for _, quantity, price in values["lines"]), Decimal("0"))  # type: ignore[union-attr]
    vat = (net * Decimal(str(values["vat_rate"]))).quantize(_PENNY, rounding=ROUND_HALF_UP)
    amounts = {"net": net, "vat": vat, "total": net + vat}
    return {**values, **{key: overrides.get(key, amount) for key, amount in amounts.items()}}


def _money(amount: object) -> str:
    return f"£{Decimal(str(amount)):,.2f}"


def supplier_invoice_pdf(values: Mapping[str, object], *, labels: Mapping[str, str] | None = None) -> bytes:
    """The invoice as the supplier's accounts package prints it (a text layer, no fields).

    ``labels`` replaces the printed labels: ``invoice_number``, ``invoice_date``, ``po_number``, ``net``,
    ``vat``, ``total``, ``supplier``.
    """
    printed = {"supplier": "From", "invoice_number": "Invoice No.", "invoice_date": "Tax point",
               "po_number": "Your order number", "net": "Subtotal", "vat": f"VAT ({Decimal(str(values['vat_rate'])) * 100:.0f}%)",
               "total": "Total due", **(labels or {})}  # fmt: skip
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    canvas.setTitle(f"Invoice {values['invoice_number']}")
    top = _HEIGHT - 60
    canvas.setFont("Helvetica-Bold", 22)
    canvas.drawRightString(_WIDTH - 50, top, "INVOICE")
    canvas.setFont("Helvetica-Bold", 13)
    canvas.drawString(50, top, str(values["supplier"]))
    canvas.setFont("Helvetica", 9)
    canvas.drawString(50, top - 14, str(values["supplier_address"]))
    canvas.setFont("Helvetica", 10)
    rows = [
        (printed["supplier"], str(values["supplier"])),
        ("Bill to", f"Accounts Payable, {COUNCIL}"),
        (printed["invoice_number"], str(values["invoice_number"])),
        (printed["invoice_date"], str(values["invoice_date"])),
        (printed["po_number"], str(values["po_number"])),
    ]
    y = top - 50
    for label, value in rows:
        canvas.drawString(50, y, label)
        canvas.drawString(170, y, value)
        y -= 16
    y -= 20
    canvas.setFont("Helvetica-Bold", 10)
    for x, heading in ((50, "Description"), (330, "Qty"), (400, "Unit price")):
        canvas.drawString(x, y, heading)
    canvas.drawRightString(_WIDTH - 50, y, "Amount")
    canvas.line(50, y - 4, _WIDTH - 50, y - 4)
    canvas.setFont("Helvetica", 10)
    for description, quantity, price in values["lines"]:  # type: ignore[union-attr]
        y -= 16
        canvas.drawString(50, y, description)
        canvas.drawString(330, y, str(quantity))
        canvas.drawString(400, y, _money(price))
        canvas.drawRightString(_WIDTH - 50, y, _money(quantity * price))
    y -= 30
    for key in ("net", "vat", "total"):
        canvas.setFont("Helvetica-Bold" if key == "total" else "Helvetica", 10)
        canvas.drawString(380, y, printed[key])
        canvas.drawRightString(_WIDTH - 50, y, _money(values[key]))
        y -= 16
    canvas.setFont("Helvetica", 8)
    canvas.drawString(50, 60, f"VAT registration number {values['vat_registration']}")
    canvas.drawString(50, 48, "Payment terms: 30 days from the invoice date. Sort code 12-34-56, account 12345678.")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
