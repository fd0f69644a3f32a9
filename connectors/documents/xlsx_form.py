"""Reading a form from an Excel workbook (.xlsx), by its printed labels, as councils build spreadsheet forms.

A label is a cell holding one of a field's ``labels`` (compared as everywhere: capitals, spaces and
punctuation ignored; "Surname: Holroyd" in one cell works too). Its answer is in the next filled cell to the
right on the same row, or, on a sheet laid out with the labels as column headings, in the cell below. Which of
the two a sheet uses is decided by most of its labels, so on a two-column form a blank answer stays blank
rather than taking the next heading below it. Guidance cells (a field's ``hints``) are never answers.

Every visible sheet is read, in order; the first sheet that answers a field wins. Hidden sheets are not read
(they hold drop-down lists, not answers). Values are what Excel saved:

* text as written; a number as Excel shows it without its thousands separators (``7700900123`` stays whole, a
  cell formatted ``00000000000`` keeps its leading zero, money has two decimals);
* a date, whether a real Excel date (given as DD/MM/YYYY) or typed as text;
* a tick box: TRUE (a check box linked to the cell), "Yes", "X", "✓", "☒" and the like;
* an option: the option written (a drop-down list) or the one marked among several.

Formulas are never evaluated: a formula's value is the one Excel saved with it. A formula saved without one
(a workbook written by a program that does not calculate) is not taken as a blank answer: the sender is
asked to open and save the file in Excel (:attr:`XlsxReading.uncalculated`).

openpyxl opens the workbook read-only, with links to other workbooks not loaded; the guard
(``connectors.documents.xlsx_guard``) has already refused macros, outside links and XML declarations.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time

import openpyxl
from openpyxl.workbook.workbook import Workbook

from connectors.documents.forms import (
    FieldSpec,
    FormDefinition,
    LabelMatch,
    Labels,
    choose,
    coerce,
    is_mark,
    normalise,
)
from connectors.documents.pdf_text import quoted
from connectors.errors import AttachmentDamaged

MAX_ROWS = 1000
"""Rows read on each sheet: a form fits in far fewer; a sheet of data below it is not the form."""
MAX_COLUMNS = 52
"""Columns read on each sheet (A to AZ)."""
DATE_FORMAT = "%d/%m/%Y"

Cell = tuple[int, int]  # (row, column), from 1


@dataclass(frozen=True)
class XlsxReading:
    """The fields found in a workbook, typed, and what the workbook says about itself."""

    values: dict[str, object]
    version: str | None
    looks_like: str | None
    pages: int
    """Visible sheets."""
    words: str = ""
    """All its text, its sheets' names and its title property, :func:`normalise` d, for a definition's anchors."""
    uncalculated: list[str] = field(default_factory=list)
    """Fields whose answer is a formula saved without its value: Clerk does not calculate, the sender must."""


@dataclass(frozen=True)
class _Sheet:
    title: str
    cells: dict[Cell, object]
    """Every filled cell's value as read (text, bool, or a number or date already written as text)."""


def open_xlsx(data: bytes, title: str, *, formulas: bool = False) -> Workbook:
    """The workbook (read-only, cached values unless ``formulas``), or :class:`AttachmentDamaged`."""
    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=not formulas, keep_links=False,
                                      keep_vba=False)  # fmt: skip
    except Exception as exc:  # a zip without a workbook, broken XML, a sheet openpyxl cannot follow
        raise AttachmentDamaged(
            "The Excel workbook is damaged and cannot be opened (it may not have been saved or sent completely). "
            f"Please send the “{title}” form again."
        ) from exc


def read_xlsx(workbook: Workbook, form: FormDefinition, data: bytes | None = None) -> XlsxReading:
    """The definition's fields found in the workbook, typed as the definition says. With ``data`` (the file
    itself), answers left blank are looked at again as formulas, to tell an unanswered question from a
    formula saved without its value."""
    labels = Labels(form)
    sheets = list(_sheets(workbook))
    found: dict[str, tuple[object, str, Cell | None]] = {}  # key -> (value, sheet, the answer's cell)
    for sheet in sheets:
        for key, (value, cell) in _answers(sheet, labels, form).items():
            if key not in found or (_blank(found[key][0]) and not _blank(value)):
                found[key] = (value, sheet.title, cell)
    values = {key: _typed(form.fields[key], value) for key, (value, _, _) in found.items()}
    blank = {(title, cell): key for key, (value, title, cell) in found.items() if cell is not None and _blank(value)}
    uncalculated = _formulas_among(data, form.title, blank) if data is not None and blank else []
    text = " ".join(str(value) for sheet in sheets for value in sheet.cells.values() if isinstance(value, str))
    title = (workbook.properties.title or "").strip() if workbook.properties is not None else ""
    words = normalise(" ".join([text, title, *(sheet.title for sheet in sheets)]))
    return XlsxReading(
        values=values,
        version=next((v for v in form.versions if normalise(v) in words), None),
        looks_like=quoted(title) if title else _beginning(sheets),
        pages=len(sheets),
        words=words,
        uncalculated=sorted(uncalculated, key=list(form.fields).index),
    )


def visible_sheets(workbook: Workbook) -> list:
    """The sheets a person sees, in order (hidden and "very hidden" ones left out), from the workbook's index
    alone: none of them has been read yet."""
    return [sheet for sheet in workbook.worksheets if getattr(sheet, "sheet_state", "visible") == "visible"]


# --- the grid --------------------------------------------------------------------------------------------


def _sheets(workbook: Workbook) -> Iterator[_Sheet]:
    for sheet in visible_sheets(workbook):
        cells: dict[Cell, object] = {}
        for row in sheet.iter_rows(max_row=MAX_ROWS, max_col=MAX_COLUMNS):
            for cell in row:
                value = getattr(cell, "value", None)
                if value is None or (isinstance(value, str) and not value.strip()):
                    continue
                cells[(cell.row, cell.column)] = _as_text(value, getattr(cell, "number_format", "General"))
        yield _Sheet(sheet.title, cells)


def _as_text(value: object, number_format: str) -> object:
    """A cell's value as a person reads it: text and ticks as they are, numbers and dates written out."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, datetime):
        return value.strftime(DATE_FORMAT)
    if isinstance(value, date):
        return value.strftime(DATE_FORMAT)
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, int | float):
        if re.fullmatch(r"0+", number_format or ""):  # "00000000000": a number kept with its leading zeros
            return f"{int(value):0{len(number_format)}d}"
        if "0.00" in (number_format or "") or "£" in (number_format or ""):
            return f"{value:.2f}"
        if float(value).is_integer():
            return str(int(value))
        return f"{value:.15g}"
    return str(value)


def _answers(sheet: _Sheet, labels: Labels, form: FormDefinition) -> dict[str, tuple[object, Cell | None]]:
    """Each field labelled on the sheet: its answer and the answer's cell (None when written in the label's)."""
    matches: dict[Cell, LabelMatch] = {}
    for cell, value in sheet.cells.items():
        if isinstance(value, str) and (match := labels.match(value)) is not None:
            matches[cell] = match
    answers: dict[Cell, tuple[list[object], list[object]]] = {}  # label cell -> (cells to its right, below)
    for row, column in matches:
        right = []
        for next_column in range(column + 1, MAX_COLUMNS + 1):
            if (row, next_column) in matches:
                break
            value = sheet.cells.get((row, next_column))
            if value is not None and not (isinstance(value, str) and labels.is_hint(value)):
                right.append(value)
        below = sheet.cells.get((row + 1, column))
        usable = below is not None and (row + 1, column) not in matches and not (isinstance(below, str)
                                                                                and labels.is_hint(below))  # fmt: skip
        answers[(row, column)] = (right, [below] if usable else [])
    unanswered = [answer for cell, answer in answers.items() if not matches[cell].value]
    to_the_right = sum(1 for right, _ in unanswered if right)
    underneath = sum(1 for right, below in unanswered if below and not right)
    headings = underneath > to_the_right  # a sheet with its labels as column headings
    found: dict[str, tuple[object, Cell | None]] = {}
    for cell, match in sorted(matches.items()):
        spec = form.fields[match.field]
        right, below = answers[cell]
        if match.value and not (spec.type in ("checkbox", "choice") and right):
            # "Surname: Holroyd" in one cell; but "Declaration: I confirm ..." with the tick in the next cell
            # is a tick box's wording, its answer beside it
            answer: object = match.value
            where: Cell | None = None
        else:
            chosen = below if headings and below else right
            answer = _answer(spec, chosen)
            where = (cell[0] + 1, cell[1]) if chosen is below and below else (cell[0], cell[1] + 1)
        if match.field not in found or (_blank(found[match.field][0]) and not _blank(answer)):
            found[match.field] = (answer, where)
    return found


def _answer(spec: FieldSpec, cells: list[object]) -> object:
    """The answer from the cells beside (or under) a label: the first for text, dates and money; for a tick
    box, whether any is ticked; for an option, the one written or marked."""
    if not cells:
        return ""
    if spec.type == "checkbox":
        return any(value is True or (isinstance(value, str) and coerce(spec, value) is True) for value in cells)
    if spec.type == "choice":
        joined = " ".join("X" if value is True else str(value) for value in cells if value is not False)
        chosen = choose(spec.options, joined)
        first = choose(spec.options, str(cells[0]))
        return chosen if chosen in spec.options or first not in spec.options else first
    return cells[0]


def _typed(spec: FieldSpec, value: object) -> object:
    if isinstance(value, bool):
        if spec.type == "checkbox":
            return value
        value = "Yes" if value else "No"
    if spec.type == "checkbox" and isinstance(value, str) and is_mark(value.strip()):
        return True
    return coerce(spec, str(value) if value is not None else "")


def _blank(value: object) -> bool:
    return value is None or value is False or (isinstance(value, str) and not value.strip())


def _formulas_among(data: bytes, title: str, blank: dict[tuple[str, Cell], str]) -> list[str]:
    """The fields whose blank answer is in fact a formula saved without its value."""
    workbook = open_xlsx(data, title, formulas=True)
    try:
        fields = []
        for (sheet_title, (row, column)), key in blank.items():
            value = workbook[sheet_title].cell(row=row, column=column).value
            if isinstance(value, str) and value.startswith("="):
                fields.append(key)
        return fields
    finally:
        workbook.close()


def _beginning(sheets: list[_Sheet]) -> str | None:
    for sheet in sheets:
        for cell in sorted(sheet.cells):
            value = sheet.cells[cell]
            if isinstance(value, str) and normalise(value):
                return f"a spreadsheet beginning {quoted(value)}"
    return None
