"""Reading a form from an Excel workbook: labels and answers beside or below them, real and typed dates,
numbers, ticks, options, several sheets, cached formula values (never evaluated), and the refusals a sender
can act on. The matrix shared with the other formats is in test_formats_blue_badge.py."""

from __future__ import annotations

import io
import random
import re
from datetime import datetime

import openpyxl
import pytest

from connectors.documents import extract, read_form
from connectors.documents.blue_badge import LABELS, validate_application
from connectors.documents.forms import load_form
from connectors.errors import AttachmentTooManyPages, AttachmentWrongType, FormNotRecognised, InvalidForm
from sandbox.forms import applicant
from sandbox.workbooks import blue_badge_xlsx, members, repack, uncalculated_formula_xlsx


def _person(seed: int = 11, **overrides: object) -> dict[str, object]:
    return applicant(random.Random(seed), **overrides)


def _saved(workbook: openpyxl.Workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _edited(data: bytes, edit) -> bytes:
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    edit(workbook["Application"])
    return _saved(workbook)


def _answer_cell(sheet, field: str):
    """The answer cell beside a label on the columns layout."""
    for row in sheet.iter_rows(min_col=1, max_col=2):
        if row[0].value == LABELS[field]:
            return row[1]
    raise AssertionError(f"no {field} row")


def _reasons(data: bytes) -> list[str]:
    with pytest.raises(InvalidForm) as caught:
        read_form(data, "xlsx", "blue_badge")
    return caught.value.reasons


# --- valid forms -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dates", ["excel", "text"])
@pytest.mark.parametrize("layout", ["columns", "headings"])
def test_a_filled_in_workbook_reads_to_the_application(layout: str, dates: str) -> None:
    person = _person()
    data = blue_badge_xlsx(person, layout=layout, dates=dates)

    application, extracted = read_form(data, "xlsx", "blue_badge")

    assert application == validate_application(person)
    assert (extracted.method, extracted.pages, extracted.version) == ("xlsx", 1, "BB1 (version 3, 2024)")
    assert extracted.values["date_of_birth"] == person["date_of_birth"]


def test_a_number_in_a_cell_formatted_as_a_date_is_that_date() -> None:
    def serial(sheet) -> None:
        cell = _answer_cell(sheet, "date_of_birth")
        cell.value = 21000  # Excel's day number for 29/06/1957; the cell keeps its dd/mm/yyyy format

    data = _edited(blue_badge_xlsx(_person()), serial)

    assert extract(data, "xlsx", "blue_badge").values["date_of_birth"] == "29/06/1957"


def test_a_real_excel_date_is_given_as_day_month_year() -> None:
    person = _person(date_of_birth="07/03/1958")
    data = blue_badge_xlsx(person, dates="excel")
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Application"]
    assert _answer_cell(sheet, "date_of_birth").value == datetime(1958, 3, 7)  # stored as a date, not text

    assert extract(data, "xlsx", "blue_badge").values["date_of_birth"] == "07/03/1958"


@pytest.mark.parametrize("tick", ["true", "x", "yes"])
def test_the_declaration_is_ticked_by_true_x_or_yes(tick: str) -> None:
    data = blue_badge_xlsx(_person(), tick=tick)

    assert extract(data, "xlsx", "blue_badge").values["declaration"] is True


@pytest.mark.parametrize("tick", ["true", "x", "yes"])
def test_an_unticked_declaration_is_refused_with_the_forms_reason(tick: str) -> None:
    data = blue_badge_xlsx(_person(declaration=False), tick=tick)

    assert _reasons(data) == ["Declaration: The applicant must tick the declaration."]


def test_a_sheet_protected_against_changes_is_read_like_any_other() -> None:
    data = blue_badge_xlsx(_person(), protect=True)
    assert openpyxl.load_workbook(io.BytesIO(data))["Application"].protection.sheet  # really protected

    application, _ = read_form(data, "xlsx", "blue_badge")
    assert application.surname == _person()["surname"]


def test_a_number_keeps_its_leading_zero_where_the_cell_is_formatted_to_show_it() -> None:
    def phone_as_number(sheet) -> None:
        cell = _answer_cell(sheet, "phone")
        cell.value = 7700900123
        cell.number_format = "00000000000"

    data = _edited(blue_badge_xlsx(_person()), phone_as_number)

    assert extract(data, "xlsx", "blue_badge").values["phone"] == "07700900123"


def test_a_whole_number_is_read_without_a_decimal_point() -> None:
    data = _edited(blue_badge_xlsx(_person()), lambda sheet: setattr(_answer_cell(sheet, "address_line_1"), "value", 42))

    assert extract(data, "xlsx", "blue_badge").values["address_line_1"] == "42"


def test_an_answer_written_in_the_label_cell_is_read() -> None:
    person = _person()

    def one_cell(sheet) -> None:
        cell = _answer_cell(sheet, "surname")
        sheet.cell(row=cell.row, column=1).value = f"Surname: {person['surname']}"
        cell.value = None

    data = _edited(blue_badge_xlsx(person), one_cell)

    assert extract(data, "xlsx", "blue_badge").values["surname"] == person["surname"]


def test_an_option_marked_among_several_printed_across_cells_is_chosen() -> None:
    def ticks_across(sheet) -> None:
        cell = _answer_cell(sheet, "badge_type")
        sheet.cell(row=cell.row, column=2).value = "New"
        sheet.cell(row=cell.row, column=3).value = None
        sheet.cell(row=cell.row, column=4).value = "X"
        sheet.cell(row=cell.row, column=5).value = "Renewal"

    data = _edited(blue_badge_xlsx(_person(badge_type="New")), ticks_across)

    assert extract(data, "xlsx", "blue_badge").values["badge_type"] == "Renewal"


def test_a_blank_answer_on_a_two_column_form_stays_blank_rather_than_taking_the_heading_below() -> None:
    person = _person(address_line_2="")
    values = extract(blue_badge_xlsx(person), "xlsx", "blue_badge").values

    assert values["address_line_2"] == ""
    assert values["existing_badge_number"] == ""  # the last label of its section: a heading follows below


def test_hidden_sheets_are_not_read_and_a_later_visible_sheet_is() -> None:
    person = _person()
    workbook = openpyxl.load_workbook(io.BytesIO(blue_badge_xlsx(person)))
    guidance = workbook.create_sheet("Guidance", 0)  # a first sheet of notes, the form on the second
    guidance["A1"] = "How to fill in the Blue Badge workbook"
    decoy = workbook.create_sheet("Old answers")
    decoy["A1"], decoy["B1"] = "Surname", "Nobody"
    decoy.sheet_state = "hidden"

    application, extracted = read_form(_saved(workbook), "xlsx", "blue_badge")

    assert application.surname == person["surname"]
    assert extracted.pages == 2  # visible sheets


# --- formulas: the saved value, never a calculation --------------------------------------------------------


def test_a_formulas_saved_value_is_read_and_the_formula_never_evaluated() -> None:
    person = _person()
    data = blue_badge_xlsx(person, protect=False)
    parts = members(data)
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    surname = re.escape(str(person["surname"]))
    # As Excel saves =UPPER(E1): the formula and, beside it, the value it last worked out.
    sheet, count = re.subn(rf'<c r="(B\d+)"([^>]*) t="inlineStr"><is><t>{surname}</t></is></c>',
                           rf'<c r="\1"\2 t="str"><f>PROPER(E1)</f><v>{person["surname"]}</v></c>', sheet)  # fmt: skip
    assert count == 1
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()

    values = extract(repack(parts), "xlsx", "blue_badge").values

    assert values["surname"] == person["surname"]  # E1 is empty: evaluating the formula would give ""


def test_a_formula_saved_without_its_value_is_refused_asking_for_excel_to_save_it() -> None:
    reasons = _reasons(uncalculated_formula_xlsx(_person(), "surname"))

    assert len(reasons) == 1
    assert reasons[0].startswith("Surname: the answer is a formula saved without its result")
    assert "open the file in Excel, save it" in reasons[0]


# --- wrong answers and missing fields ----------------------------------------------------------------------


def test_a_missing_answer_is_named_by_its_label() -> None:
    assert _reasons(blue_badge_xlsx(_person(surname=""))) == ["Surname is empty. Please fill it in."]


def test_a_date_that_is_not_a_date_is_refused_in_the_forms_words() -> None:
    reasons = _reasons(blue_badge_xlsx(_person(date_of_birth="31/02/1980")))

    assert len(reasons) == 1 and reasons[0].startswith("Date of birth")


def test_a_number_where_a_date_belongs_is_refused_not_guessed() -> None:
    def number(sheet) -> None:
        cell = _answer_cell(sheet, "date_of_birth")
        cell.value, cell.number_format = 21000, "General"  # a number typed, not a cell formatted as a date

    reasons = _reasons(_edited(blue_badge_xlsx(_person()), number))

    assert len(reasons) == 1 and reasons[0].startswith("Date of birth")


def test_an_option_not_on_the_list_is_refused() -> None:
    data = _edited(blue_badge_xlsx(_person()), lambda sheet: setattr(_answer_cell(sheet, "title"), "value", "Lord"))

    reasons = _reasons(data)
    assert len(reasons) == 1 and reasons[0].startswith("Title")


# --- not the form, or not accepted ---------------------------------------------------------------------------


def test_another_spreadsheet_is_not_the_form() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Ward", "Councillor", "Surgery date"])
    sheet.append(["Northgate", "A. Example", datetime(2026, 1, 5)])

    with pytest.raises(FormNotRecognised) as caught:
        extract(_saved(workbook), "xlsx", "blue_badge")
    assert "spreadsheet beginning" in caught.value.message and "Application for a Blue Badge" in caught.value.message


def test_more_sheets_than_the_form_has_pages_are_refused() -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(blue_badge_xlsx(_person())))
    for number in range(4):
        workbook.create_sheet(f"Extra {number}")

    with pytest.raises(AttachmentTooManyPages):
        extract(_saved(workbook), "xlsx", "blue_badge")


def test_a_form_that_lists_its_formats_refuses_a_workbook() -> None:
    definition = load_form("blue_badge").model_copy(update={"formats": ["pdf", "docx"]})

    with pytest.raises(AttachmentWrongType) as caught:
        extract(blue_badge_xlsx(_person()), "xlsx", definition)
    assert "not accepted as an Excel (.xlsx) workbook" in caught.value.message
    assert "a PDF or a Word (.docx) document" in caught.value.message


def test_the_try_it_command_reads_a_workbook(tmp_path, capsys) -> None:
    from connectors.documents.__main__ import main

    sample = tmp_path / "sample.xlsx"
    sample.write_bytes(blue_badge_xlsx(_person(surname="Holroyd")))

    assert main(["blue_badge", str(sample)]) == 0
    shown = capsys.readouterr().out
    assert "read by xlsx" in shown and "'Holroyd'" in shown
    assert shown.rstrip().endswith("Valid.")


def test_a_tick_box_worded_in_its_label_cell_is_answered_in_the_cell_beside_it() -> None:
    def worded(sheet) -> None:
        cell = _answer_cell(sheet, "declaration")
        sheet.cell(row=cell.row, column=1).value = "Declaration: I confirm the information I have given is correct"
        sheet.cell(row=cell.row, column=3).value = None

    assert extract(_edited(blue_badge_xlsx(_person(), tick="true"), worded), "xlsx", "blue_badge").values[
        "declaration"] is True
    assert extract(_edited(blue_badge_xlsx(_person(declaration=False), tick="true"), worded), "xlsx",
                   "blue_badge").values["declaration"] is False  # fmt: skip


def test_only_the_first_rows_of_a_sheet_are_read() -> None:
    from connectors.documents.xlsx_form import MAX_ROWS

    def moved_down(sheet) -> None:
        cell = _answer_cell(sheet, "surname")
        label = sheet.cell(row=cell.row, column=1)
        sheet.cell(row=MAX_ROWS + 1, column=1).value, sheet.cell(row=MAX_ROWS + 1, column=2).value = "Surname", "Far"
        label.value = cell.value = None

    values = extract(_edited(blue_badge_xlsx(_person()), moved_down), "xlsx", "blue_badge").values

    assert "surname" not in values
