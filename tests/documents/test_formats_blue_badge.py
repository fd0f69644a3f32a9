"""The Blue Badge form in every format staff send reads to the same application as the PDF form itself.

Formats: the AcroForm PDF (``sandbox.forms``), the same form printed to PDF (values on the text layer, no
fields), printed with each value under its label, and the Word version as a label/value table, with
content controls and with legacy form fields (``sandbox.documents``), and the Excel version with the answers
beside the labels or under them as column headings (``sandbox.workbooks``; more in test_xlsx_reading.py).
Scans are in test_formats_scans.py.
"""

from __future__ import annotations

import functools
import io
import pickle
import random
import zipfile
from collections.abc import Callable

import docx
import pytest
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen.canvas import Canvas

from connectors.documents import extract, read_blue_badge, read_form
from connectors.documents.blue_badge import LABELS, BlueBadgeApplication, validate_application
from connectors.documents.extract import Extracted
from connectors.documents.forms import load_form
from connectors.errors import (
    AttachmentDamaged,
    AttachmentEmpty,
    AttachmentEncrypted,
    AttachmentTooManyPages,
    FormNotRecognised,
    InvalidForm,
)
from sandbox.documents import (
    blue_badge_docx,
    invoice,
    means_form_pdf,
    minutes_docx,
    printed_blue_badge_pdf,
    supplier_invoice_pdf,
)
from sandbox.forms import INVALID_VARIANTS, applicant, blue_badge_pdf, not_a_form_pdf
from sandbox.workbooks import blue_badge_xlsx

Make = Callable[[dict], tuple[str, bytes]]
FORMATS: dict[str, tuple[Make, str]] = {
    "acroform": (lambda v: ("pdf", blue_badge_pdf(v)), "acroform"),
    "printed": (lambda v: ("pdf", printed_blue_badge_pdf(v)), "text"),
    "printed-stacked": (lambda v: ("pdf", printed_blue_badge_pdf(v, stacked=True)), "text"),
    "docx-table": (lambda v: ("docx", blue_badge_docx(v, "table")), "docx"),
    "docx-controls": (lambda v: ("docx", blue_badge_docx(v, "controls")), "docx"),
    "docx-legacy": (lambda v: ("docx", blue_badge_docx(v, "legacy")), "docx"),
    "xlsx-columns": (lambda v: ("xlsx", blue_badge_xlsx(v)), "xlsx"),
    "xlsx-headings": (lambda v: ("xlsx", blue_badge_xlsx(v, layout="headings", dates="text", tick="x")), "xlsx"),
}


def _person(seed: int, **overrides: object) -> dict[str, object]:
    return applicant(random.Random(seed), **overrides)


def _reasons(read: Callable[[], object]) -> list[str]:
    with pytest.raises(InvalidForm) as caught:
        read()
    return caught.value.reasons


# --- the same application from every format -------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_reads_to_the_same_application_as_the_pdf_form(fmt: str, seed: int) -> None:
    person = _person(seed)
    make, method = FORMATS[fmt]
    kind, data = make(person)

    application, extracted = read_form(data, kind, "blue_badge")

    assert application == read_blue_badge(blue_badge_pdf(person)) == validate_application(person)
    assert extracted.method == method
    assert extracted.needs_confirmation == []
    assert extracted.version == "BB1 (version 3, 2024)"


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_field_of_a_renewal_with_accents_arrives(fmt: str) -> None:
    person = _person(
        1, title="Dr", first_names="Siân Zoë", surname="O'Brien-Ó Sé", address_line_2="",
        eligibility="Child under 3 with medical equipment", badge_type="Renewal",
        existing_badge_number="AB12 3456 7890",
    )  # fmt: skip
    kind, data = FORMATS[fmt][0](person)

    application, _ = read_form(data, kind, "blue_badge")

    assert isinstance(application, BlueBadgeApplication)
    assert application == validate_application(person)
    assert application.address_line_2 is None
    assert application.badge_type.value == "Renewal"


@functools.cache
def _pdf_form_reasons(variant: str) -> list[str]:
    return _reasons(lambda: read_blue_badge(blue_badge_pdf(INVALID_VARIANTS[variant](_person(3)))))


@pytest.mark.parametrize("variant", sorted(INVALID_VARIANTS))
@pytest.mark.parametrize("fmt", ["printed", "docx-controls", "xlsx-columns"])
def test_a_wrongly_filled_form_gets_the_same_reasons_in_every_format(fmt: str, variant: str) -> None:
    kind, data = FORMATS[fmt][0](INVALID_VARIANTS[variant](_person(3)))

    assert _reasons(lambda: read_form(data, kind, "blue_badge")) == _pdf_form_reasons(variant)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_blank_form_is_recognised_and_every_missing_answer_listed(fmt: str) -> None:
    kind, data = FORMATS[fmt][0]({})

    reasons = _reasons(lambda: read_form(data, kind, "blue_badge"))

    assert reasons == _reasons(lambda: read_blue_badge(blue_badge_pdf({})))
    assert reasons[0] == "Title is missing. Please fill it in."
    assert reasons[-1] == "Declaration: The applicant must tick the declaration."


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_the_raw_values_are_typed_as_the_definition_says(fmt: str) -> None:
    person = _person(5, badge_type="Renewal", existing_badge_number="AB12 3456 7890")
    kind, data = FORMATS[fmt][0](person)

    values = extract(data, kind, "blue_badge").values

    assert values["declaration"] is True
    assert values["badge_type"] == "Renewal"
    assert values["title"] == person["title"]
    assert values["eligibility"] == person["eligibility"]
    assert values["date_of_birth"] == person["date_of_birth"]


def test_an_unticked_box_and_no_choice_read_as_such_from_every_format() -> None:
    person = _person(2, declaration=False, badge_type="")
    for fmt, (make, _) in sorted(FORMATS.items()):
        kind, data = make(person)
        values = extract(data, kind, "blue_badge").values
        assert values["declaration"] is False, fmt
        assert not values["badge_type"], fmt


# --- label variants and layouts ---------------------------------------------------------------------------

_VARIANT_LABELS = {
    "first_names": "Forename(s)", "surname": "Last name", "date_of_birth": "Date of Birth:",
    "ni_number": "NI number", "town": "Town/city", "postcode": "Post code", "phone": "Telephone",
    "email": "E-mail address", "eligibility": "Reason for application", "badge_type": "Application type",
    "existing_badge_number": "Current badge number", "declaration": "Declaration agreed",
}  # fmt: skip


@pytest.mark.parametrize("stacked", [False, True])
def test_a_printed_form_with_another_versions_labels_reads_the_same(stacked: bool) -> None:
    person = _person(8)

    application, extracted = read_form(
        printed_blue_badge_pdf(person, labels=_VARIANT_LABELS, stacked=stacked), "pdf", "blue_badge"
    )

    assert application == validate_application(person)
    assert extracted.method == "text"


@pytest.mark.parametrize("style", ["table", "controls", "legacy"])
def test_a_word_form_with_another_versions_labels_reads_the_same(style: str) -> None:
    person = _person(9)

    application, _ = read_form(blue_badge_docx(person, style, labels=_VARIANT_LABELS), "docx", "blue_badge")  # type: ignore[arg-type]

    assert application == validate_application(person)


def test_an_untagged_content_control_is_found_by_the_label_beside_it() -> None:
    person = _person(4, town="Hebden Bridge")
    document = blue_badge_docx(person, "controls")
    with zipfile.ZipFile(io.BytesIO(document)) as package:
        body = package.read("word/document.xml").decode()
    assert 'w:val="town"' not in body and "Hebden Bridge" in body  # the generator leaves town untagged

    assert extract(document, "docx", "blue_badge").values["town"] == "Hebden Bridge"


def test_a_control_named_in_the_definition_wins_over_the_label_beside_it() -> None:
    person = _person(4)
    labels = {"surname": "First name(s)"}  # a mislabelled row: the control's tag still says surname

    values = extract(blue_badge_docx(person, "controls", labels=labels), "docx", "blue_badge").values

    assert values["surname"] == person["surname"]
    assert values["first_names"] == person["first_names"]


def test_an_unknown_label_loses_the_field_and_the_model_says_it_is_missing() -> None:
    person = _person(6)

    reasons = _reasons(lambda: read_form(printed_blue_badge_pdf(person, labels={"surname": "Maiden name"}), "pdf",
                                         "blue_badge"))  # fmt: skip

    assert reasons == ["Surname is missing. Please fill it in."]


def _typed_lines(person: dict[str, object]) -> list[str]:
    """The form's questions typed out one per line, as someone without the form might send them."""
    lines = [f"{label}: {person[name]}" for name, label in LABELS.items() if name != "declaration"]
    return [*lines, f"Declaration: {'Yes' if person['declaration'] else 'No'}"]


def test_a_word_document_of_label_colon_value_paragraphs_reads_the_same() -> None:
    person = _person(10)
    document = docx.Document()
    document.add_heading("Blue Badge application", level=1)
    for line in _typed_lines(person):
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)

    assert read_form(out.getvalue(), "docx", "blue_badge")[0] == validate_application(person)


@pytest.mark.parametrize("separator", [": ", "        "])
def test_a_pdf_with_label_and_value_in_one_piece_of_text_reads_the_same(separator: str) -> None:
    person = _person(11)
    out = io.BytesIO()
    canvas = Canvas(out)
    for row, line in enumerate(_typed_lines(person)):
        canvas.drawString(72, 780 - 20 * row, line.replace(": ", separator, 1))
    canvas.showPage()
    canvas.save()

    assert read_form(out.getvalue(), "pdf", "blue_badge")[0] == validate_application(person)


# --- documents that are not the form ----------------------------------------------------------------------


def test_a_word_document_that_is_something_else_is_not_recognised_and_says_what_it_looks_like() -> None:
    with pytest.raises(FormNotRecognised) as caught:
        extract(minutes_docx(), "docx", "blue_badge")

    assert "not the “Application for a Blue Badge” form" in caught.value.message
    assert "Minutes of the Parks and Open Spaces Committee" in caught.value.message


def test_another_defined_form_is_named() -> None:
    data = supplier_invoice_pdf(invoice(random.Random(1)))

    with pytest.raises(FormNotRecognised) as caught:
        extract(data, "pdf", "blue_badge")

    assert "It looks like “Supplier invoice”" in caught.value.message


def test_the_blue_badge_form_sent_as_an_invoice_is_named_too() -> None:
    with pytest.raises(FormNotRecognised) as caught:
        extract(blue_badge_docx(_person(1)), "docx", "supplier_invoice")

    assert "It looks like “Application for a Blue Badge”" in caught.value.message


def test_a_letter_printed_to_pdf_is_not_recognised() -> None:
    with pytest.raises(FormNotRecognised) as caught:
        extract(not_a_form_pdf(), "pdf", "blue_badge")

    assert "a document beginning “14 Park Road”" in caught.value.message


def test_a_different_pdf_form_is_not_recognised_and_its_fields_are_named() -> None:
    out = io.BytesIO()
    canvas = Canvas(out)
    canvas.acroForm.textfield(name="planning_reference", value="24/01234/FUL")
    canvas.showPage()
    canvas.save()

    with pytest.raises(FormNotRecognised) as caught:
        extract(out.getvalue(), "pdf", "blue_badge")

    assert "planning_reference" in caught.value.message


@pytest.mark.parametrize("fields", [False, True])
def test_another_form_asking_the_same_generic_questions_is_not_the_form(fields: bool) -> None:
    data = means_form_pdf(_person(12), fields=fields)
    assert len(extract_layout_fields(data)) >= load_form("blue_badge").min_fields_found  # enough generic labels

    with pytest.raises(FormNotRecognised) as caught:  # none of the Blue Badge form's own phrases
        extract(data, "pdf", "blue_badge")

    assert "It looks like “Statement of means”" in caught.value.message


def test_a_word_document_asking_the_same_generic_questions_is_not_the_form() -> None:
    person = _person(13)
    document = docx.Document()
    document.add_heading("Statement of means", level=1)
    table = document.add_table(rows=0, cols=2)
    for label in ("Title", "First name(s)", "Surname", "Date of birth", "National Insurance number", "Address",
                  "Town or city", "Postcode", "Telephone", "Email"):  # fmt: skip
        cells = table.add_row().cells
        cells[0].text = label
        cells[1].text = str(person[{"Address": "address_line_1", "Town or city": "town", "Telephone": "phone",
                                    "Email": "email"}.get(label) or next(k for k, v in LABELS.items() if v == label)])  # fmt: skip
    out = io.BytesIO()
    document.save(out)

    with pytest.raises(FormNotRecognised) as caught:
        extract(out.getvalue(), "docx", "blue_badge")

    assert "It looks like “Statement of means”" in caught.value.message


def extract_layout_fields(data: bytes) -> dict[str, str]:
    from pypdf import PdfReader

    from connectors.documents.acroform import field_values, read_acroform
    from connectors.documents.pdf_text import read_layout, read_pages

    reader = PdfReader(io.BytesIO(data))
    form = load_form("blue_badge")
    return {**read_layout([page.segments for page in read_pages(reader)], form).values,
            **read_acroform(field_values(reader), form)}  # fmt: skip


def test_a_document_with_only_a_few_of_the_forms_labels_is_not_the_form() -> None:
    document = docx.Document()
    document.add_heading("Change of address", level=1)
    table = document.add_table(rows=0, cols=2)
    for label, value in (("Surname", "Holroyd"), ("Address line 1", "14 Park Road"), ("Postcode", "LS6 2AB")):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, value
    out = io.BytesIO()
    document.save(out)

    with pytest.raises(FormNotRecognised) as caught:
        extract(out.getvalue(), "docx", "blue_badge")

    assert "It looks like “Change of address”" in caught.value.message


# --- documents that cannot be read -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["pdf", "docx"])
def test_an_empty_attachment(kind: str) -> None:
    with pytest.raises(AttachmentEmpty):
        extract(b"", kind, "blue_badge")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("pdf", printed_blue_badge_pdf({})[:2000]),
        ("pdf", b"%PDF-1.7\nnot really"),
        ("docx", blue_badge_docx({})[:3000]),
        ("docx", b"PK\x03\x04 not really a zip"),
        ("docx", printed_blue_badge_pdf({})),
    ],
)
def test_a_damaged_attachment_keeps_the_library_error_as_its_cause(kind: str, data: bytes) -> None:
    with pytest.raises(AttachmentDamaged) as caught:
        extract(data, kind, "blue_badge")  # type: ignore[arg-type]

    assert "damaged" in caught.value.message
    assert caught.value.__cause__ is not None


def test_a_pdf_that_needs_a_password() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(printed_blue_badge_pdf(_person(1)))))
    writer.encrypt(user_password="letmein", owner_password="owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)

    with pytest.raises(AttachmentEncrypted) as caught:
        extract(out.getvalue(), "pdf", "blue_badge")

    assert "password" in caught.value.message


def test_more_pages_than_the_form_has_is_refused() -> None:
    writer = PdfWriter()
    for _ in range(3):
        writer.append(PdfReader(io.BytesIO(printed_blue_badge_pdf(_person(1)))))
    out = io.BytesIO()
    writer.write(out)

    with pytest.raises(AttachmentTooManyPages) as caught:
        extract(out.getvalue(), "pdf", "blue_badge")

    assert "6 pages" in caught.value.message and "at most 4" in caught.value.message


def test_a_word_document_counts_its_pages_from_its_properties() -> None:
    document = blue_badge_docx(_person(1))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(document)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "docProps/app.xml":
                data = data.replace(b"<Pages>1</Pages>", b"<Pages>9</Pages>")
            target.writestr(item, data)

    with pytest.raises(AttachmentTooManyPages):
        extract(out.getvalue(), "docx", "blue_badge")
    assert extract(document, "docx", "blue_badge").pages == 1


# --- running in a parser worker ----------------------------------------------------------------------------


def test_what_extract_takes_and_returns_pickles() -> None:
    form = load_form("blue_badge")
    extracted = extract(blue_badge_docx(_person(1), "controls"), "docx", form)

    assert pickle.loads(pickle.dumps(extracted)) == extracted
    assert isinstance(extracted, Extracted)


def test_extract_runs_in_the_guards_parser_workers(pool) -> None:  # noqa: ANN001 - the guard's fixture
    person = _person(2)

    extracted = pool.call(extract, printed_blue_badge_pdf(person), "pdf", "blue_badge")

    assert extracted == extract(printed_blue_badge_pdf(person), "pdf", "blue_badge")
    assert validate_application(extracted.values) == validate_application(person)
