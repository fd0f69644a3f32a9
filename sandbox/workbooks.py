"""Blue Badge applications as Excel workbooks, as councils send them, and hostile workbooks for the guard's tests.

:func:`blue_badge_xlsx` builds the spreadsheet version of the form with openpyxl: the council's heading and
form reference, one section after another with the label in column A, the answer in column B and guidance in
column C, drop-down lists (data validation) for the title, the reason and the badge type drawn from a hidden
"Lists" sheet, a date of birth as a real Excel date (or text), the declaration ticked as TRUE (a linked check
box) or "X", and the sheet protected so that only the answer cells can be changed, as councils lock their
templates. ``layout="headings"`` puts the labels in one row as column headings with the answers underneath, as
a spreadsheet exported from a list would.

The hostile ones start from a valid workbook and change its package: a macro-enabled workbook (a VBA project),
an Excel 4.0 macro sheet, a link to another workbook, a DDE formula, a data connection, a password to open it
(with msoffcrypto-tool, a test dependency), a zip bomb, too many parts, an XML entity bomb, a binary workbook,
and a formula saved without its value (as any program that does not calculate writes it).

All names, addresses and numbers come from :func:`sandbox.forms.applicant`: made up.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

import openpyxl
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.worksheet.datavalidation import DataValidation

from connectors.documents.blue_badge import DATE_FORMAT, LABELS, TITLES, Eligibility
from sandbox.forms import COUNCIL, FORM_REFERENCE, _text

Layout = Literal["columns", "headings"]
Dates = Literal["excel", "text"]
Tick = Literal["true", "x", "yes"]

_SECTIONS: list[tuple[str, list[str]]] = [
    ("1. About the applicant", ["title", "first_names", "surname", "date_of_birth", "ni_number"]),
    ("2. Address", ["address_line_1", "address_line_2", "town", "postcode"]),
    ("3. Contact details", ["phone", "email"]),
    ("4. About the application", ["eligibility", "badge_type", "existing_badge_number"]),
    ("5. Declaration", ["declaration"]),
]
_GUIDANCE = {"date_of_birth": "DD/MM/YYYY", "ni_number": "For example QQ 12 34 56 C", "address_line_2": "Optional",
             "existing_badge_number": "Renewals only", "declaration": "Tick (TRUE) or put X to agree"}  # fmt: skip
_LISTS = {"title": list(TITLES), "eligibility": [e.value for e in Eligibility], "badge_type": ["New", "Renewal"]}
_BLUE = "1D4F91"
_ANSWER_FILL = PatternFill("solid", fgColor="EEF3FB")
_SHEET = "xl/worksheets/sheet1.xml"  # the form's sheet in the package openpyxl writes


def blue_badge_xlsx(values: Mapping[str, object], *, layout: Layout = "columns", dates: Dates = "excel",
                    tick: Tick = "true", labels: Mapping[str, str] | None = None,
                    protect: bool = True) -> bytes:  # fmt: skip
    """The Blue Badge form as an Excel workbook, filled in with ``values`` (keyed as for the PDF form).

    ``dates``: the date of birth as a real Excel date (formatted DD/MM/YYYY) or as text typed in the cell;
    ``tick``: the declaration as TRUE, "X" or "Yes" (unticked is FALSE, or left blank); ``labels`` replaces
    printed labels; ``protect`` locks every cell but the answers, as councils lock their templates."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Application"
    workbook.properties.title = "Application for a Blue Badge"
    workbook.properties.creator = COUNCIL
    sheet["A1"] = COUNCIL
    sheet["A2"] = "Application for a Blue Badge"
    sheet["A2"].font = Font(size=16, bold=True, color=_BLUE)
    sheet["A3"] = f"Form {FORM_REFERENCE}"
    sheet["A4"] = "Fill in the blue cells, save the workbook and email it back to us."
    lists = workbook.create_sheet("Lists")
    lists.sheet_state = "hidden"
    ranges = {}
    for column, (name, options) in enumerate(_LISTS.items(), start=1):
        letter = openpyxl.utils.get_column_letter(column)
        lists.cell(row=1, column=column, value=LABELS[name])
        for row, option in enumerate(options, start=2):
            lists.cell(row=row, column=column, value=option)
        ranges[name] = f"Lists!${letter}$2:${letter}${len(options) + 1}"
    printed = {**LABELS, **(labels or {})}
    answers = []  # (field, cell)
    if layout == "columns":
        row = 6
        for heading, names in _SECTIONS:
            sheet.cell(row=row, column=1, value=heading).font = Font(bold=True, color=_BLUE)
            row += 1
            for name in names:
                sheet.cell(row=row, column=1, value=printed[name])
                answers.append((name, sheet.cell(row=row, column=2)))
                if name in _GUIDANCE:
                    sheet.cell(row=row, column=3, value=_GUIDANCE[name]).font = Font(italic=True, color="666666")
                row += 1
            row += 1
        sheet.column_dimensions["A"].width = 34
        sheet.column_dimensions["B"].width = 40
        sheet.column_dimensions["C"].width = 30
    else:
        names = [name for _, section in _SECTIONS for name in section]
        for column, name in enumerate(names, start=1):
            sheet.cell(row=6, column=column, value=printed[name]).font = Font(bold=True)
            answers.append((name, sheet.cell(row=7, column=column)))
            sheet.column_dimensions[openpyxl.utils.get_column_letter(column)].width = 22
    for name, cell in answers:
        _answer(cell, name, values, dates, tick)
        cell.fill = _ANSWER_FILL
        cell.protection = Protection(locked=False)
        cell.alignment = Alignment(wrap_text=True)
        if name in ranges:
            validation = DataValidation(type="list", formula1=f"={ranges[name]}", allow_blank=True)
            sheet.add_data_validation(validation)
            validation.add(cell)
    if protect:
        sheet.protection.sheet = True  # editing protection only: the contents are not encrypted
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _answer(cell, name: str, values: Mapping[str, object], dates: Dates, tick: Tick) -> None:
    if name == "declaration":
        ticked = bool(values.get(name))
        cell.value = {"true": ticked, "x": "X" if ticked else None, "yes": "Yes" if ticked else "No"}[tick]
        return
    text = _text(values, name)
    if name == "date_of_birth" and dates == "excel" and text:
        try:
            cell.value = datetime.strptime(text, DATE_FORMAT)
            cell.number_format = "dd/mm/yyyy"
            return
        except ValueError:
            pass  # an invalid date (31/02/1980) can only be typed as text
    cell.value = text or None


# --- hostile workbooks -------------------------------------------------------------------------------------


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return {name: package.read(name) for name in package.namelist()}


def repack(parts: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name, content in parts.items():
            package.writestr(name, content)
    return out.getvalue()


def _sample() -> bytes:
    import random

    from sandbox.forms import applicant

    return blue_badge_xlsx(applicant(random.Random(7)))


def _add_content_type(parts: dict[str, bytes], xml: str) -> None:
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(b"</Types>", xml.encode() + b"</Types>")


def _add_relationship(parts: dict[str, bytes], rels: str, kind: str, target: str, *, external: bool = False) -> None:
    mode = ' TargetMode="External"' if external else ""
    rel = (f'<Relationship Id="rIdX{len(parts)}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
           f'relationships/{kind}" Target="{target}"{mode}/>')  # fmt: skip
    parts[rels] = parts[rels].replace(b"</Relationships>", rel.encode() + b"</Relationships>")


def macro_enabled_xlsx() -> bytes:
    """A macro-enabled workbook (.xlsm): the macro-enabled main part and a VBA project."""
    parts = members(_sample())
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"spreadsheetml.sheet.main+xml", b"spreadsheetml.sheet.main+xml_"
    ).replace(b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml_",
              b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")  # fmt: skip
    _add_content_type(parts, '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>')
    parts["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    _add_relationship(parts, "xl/_rels/workbook.xml.rels", "vbaProject", "vbaProject.bin")
    return repack(parts)


def vba_part_only_xlsx() -> bytes:
    """An ordinary .xlsx main part with a vbaProject.bin slipped in, undeclared."""
    parts = members(_sample())
    parts["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    return repack(parts)


def macro_sheet_xlsx() -> bytes:
    """An Excel 4.0 (XLM) macro sheet, the old macro language still used to deliver malware."""
    parts = members(_sample())
    _add_content_type(parts, '<Override PartName="/xl/macrosheets/sheet1.xml" '
                             'ContentType="application/vnd.ms-excel.macrosheet+xml"/>')  # fmt: skip
    parts["xl/macrosheets/sheet1.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8"?><xm:macrosheet xmlns:xm="http://schemas.microsoft.com/office/'
        b'excel/2006/main"><sheetData><row r="1"><c r="A1"><f>EXEC("calc.exe")</f></c></row></sheetData>'
        b"</xm:macrosheet>"
    )
    _add_relationship(parts, "xl/_rels/workbook.xml.rels", "xlMacrosheet", "macrosheets/sheet1.xml")
    return repack(parts)


def external_link_xlsx() -> bytes:
    """A workbook linked to another workbook on a file share (an externalLink part, its target outside)."""
    parts = members(_sample())
    _add_content_type(parts, '<Override PartName="/xl/externalLinks/externalLink1.xml" ContentType="application/'
                             'vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"/>')  # fmt: skip
    parts["xl/externalLinks/externalLink1.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8"?><externalLink xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main"><externalBook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships" r:id="rId1"><sheetNames><sheetName val="Rates"/></sheetNames></externalBook></externalLink>'
    )
    parts["xl/externalLinks/_rels/externalLink1.xml.rels"] = (
        b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/externalLinkPath" Target="file:///\\\\fileserver\\finance\\rates.xlsx" '
        b'TargetMode="External"/></Relationships>'
    )
    _add_relationship(parts, "xl/_rels/workbook.xml.rels", "externalLink", "externalLinks/externalLink1.xml")
    return repack(parts)


def remote_relationship_xlsx() -> bytes:
    """A picture or object fetched from a web address (a relationship to an outside target, not a hyperlink)."""
    parts = members(_sample())
    _add_relationship(parts, "xl/worksheets/_rels/sheet1.xml.rels" if "xl/worksheets/_rels/sheet1.xml.rels" in parts
                      else "xl/_rels/workbook.xml.rels", "image", "http://tracker.example.com/pixel.png",
                      external=True)  # fmt: skip
    return repack(parts)


def connection_xlsx() -> bytes:
    """A data connection (connections.xml) to a database, refreshed when the file opens."""
    parts = members(_sample())
    _add_content_type(parts, '<Override PartName="/xl/connections.xml" ContentType="application/vnd.openxmlformats-'
                             'officedocument.spreadsheetml.connections+xml"/>')  # fmt: skip
    parts["xl/connections.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8"?><connections xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        b'2006/main"><connection id="1" name="payroll" type="1" refreshOnLoad="1"><dbPr connection="DSN=payroll;" '
        b'command="SELECT * FROM staff"/></connection></connections>'
    )
    _add_relationship(parts, "xl/_rels/workbook.xml.rels", "connections", "connections.xml")
    return repack(parts)


def dde_formula_xlsx(formula: str = "cmd|' /C calc'!A0") -> bytes:
    """A cell whose formula starts a program by DDE, the classic spreadsheet attack."""
    workbook = openpyxl.load_workbook(io.BytesIO(_sample()))
    workbook["Application"]["E1"] = f"={formula}"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def encrypted_xlsx(password: str = "council") -> bytes:
    """A workbook with a password to open it, as Excel writes it: an [MS-OFFCRYPTO] agile-encrypted package in a
    compound file (made by msoffcrypto-tool, a test dependency)."""
    import msoffcrypto.format.ooxml

    out = io.BytesIO()
    msoffcrypto.format.ooxml.OOXMLFile(io.BytesIO(_sample())).encrypt(password, out)
    return out.getvalue()


def bomb_xlsx(size: int = 64 * 1024 * 1024) -> bytes:
    """A workbook whose sheet is followed by ``size`` bytes of blanks (inflating about 1000:1)."""
    parts = members(_sample())
    parts[_SHEET] += b" " * size
    return repack(parts)


def many_parts_xlsx(count: int = 600) -> bytes:
    """A workbook padded with ``count`` extra (empty) parts."""
    parts = members(_sample())
    for number in range(count):
        parts[f"customXml/item{number}.xml"] = b"<a/>"
    return repack(parts)


def entity_bomb_xlsx() -> bytes:
    """A sheet that starts an XML entity bomb ("billion laughs")."""
    parts = members(_sample())
    dtd = ('<!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
           '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>')  # fmt: skip
    sheet = re.sub(rb"^(<\?xml[^>]*\?>)?", b'<?xml version="1.0"?>' + dtd.encode(), parts[_SHEET], count=1)
    parts[_SHEET] = sheet.replace(b"<t>Surname</t>", b"<t>&c;</t>", 1)
    return repack(parts)


def binary_workbook_xlsb() -> bytes:
    """The package of an Excel Binary Workbook (.xlsb)."""
    types = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Override PartName="/xl/workbook.bin" ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.'
             'main"/></Types>')  # fmt: skip
    return repack({"[Content_Types].xml": types.encode(), "xl/workbook.bin": bytes(64)})


def uncalculated_formula_xlsx(values: Mapping[str, object], field: str = "surname") -> bytes:
    """The form with one answer written as a formula and saved without its value, as openpyxl (and any
    program that does not calculate) saves formulas."""
    data = blue_badge_xlsx(values, protect=False)
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook["Application"]
    for row in sheet.iter_rows(min_col=1, max_col=2):
        if row[0].value == LABELS[field]:
            sheet["E1"] = _text(values, field)
            row[1].value = "=E1"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
