"""Every value read from a form is cleaned of invisible characters before it is validated or compared, and a
name mixing alphabets goes to a supervisor (named by its field, never quoted), not to the sender."""

from __future__ import annotations

import io
import random

import pytest
from pypdf import PdfReader, PdfWriter

from connectors.documents.blue_badge import validate_application
from connectors.documents.characters import clean, mixed_scripts
from connectors.documents.extract import extract, read_form
from sandbox.documents import blue_badge_docx
from sandbox.forms import applicant, blue_badge_pdf

INVISIBLE = {
    "zero-width space": "\u200b", "zero-width non-joiner": "\u200c", "zero-width joiner": "\u200d",
    "left-to-right override": "\u202d", "right-to-left override": "\u202e", "pop directional formatting": "\u202c",
    "left-to-right isolate": "\u2066", "right-to-left isolate": "\u2067", "first strong isolate": "\u2068",
    "pop directional isolate": "\u2069", "right-to-left mark": "\u200f", "byte-order mark": "\ufeff",
    "soft hyphen": "\u00ad", "word joiner": "\u2060",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(INVISIBLE))
def test_format_characters_are_removed(name: str) -> None:
    assert clean(f"Hol{INVISIBLE[name]}royd{INVISIBLE[name]}") == "Holroyd"


def test_text_is_composed_to_nfc() -> None:
    assert clean("Sia\u0302n Zoe\u0308") == "Siân Zoë"  # a letter and a combining accent become one letter


@pytest.mark.parametrize(
    ("text", "alphabets"),
    [("Smith", []), ("Siân Zoë O’Brien-Ó Sé", []), ("O\u02bcBrien", []), ("Пётр Иванов", []), ("山田 たろう", []),
     ("Sm\u0456th", ["Latin", "Cyrillic"]), ("\u0391nna", ["Greek", "Latin"]), ("Anna Анна", ["Latin", "Cyrillic"]),
     ("\uff21nna", []), ("12 Park Road", [])],
)  # fmt: skip
def test_mixed_alphabets_are_named(text: str, alphabets: list[str]) -> None:
    assert mixed_scripts(text) == alphabets


def _word_form(**values: object) -> bytes:
    return blue_badge_docx(applicant(random.Random(8), **values), "controls")


def _pdf_form(**values: str) -> bytes:
    """The PDF form with fields filled in as another program would, in any script."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(blue_badge_pdf(applicant(random.Random(8))))))
    for page in writer.pages:
        writer.update_page_form_field_values(page, values, auto_regenerate=False)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(("kind", "make"), [("docx", _word_form), ("pdf", _pdf_form)])
def test_invisible_characters_never_reach_the_record(kind: str, make) -> None:  # noqa: ANN001
    data = make(surname="\u202eHol\u200broyd\u202c", first_names="Mar\u00adgaret\ufeff", postcode="LS6\u200b 2AB")

    application, extracted = read_form(data, kind, "blue_badge")

    assert (application.surname, application.first_names, application.postcode) == ("Holroyd", "Margaret", "LS6 2AB")
    assert extracted.values["surname"] == "Holroyd"
    assert extracted.review == []


@pytest.mark.parametrize(("kind", "make"), [("docx", _word_form), ("pdf", _pdf_form)])
def test_a_name_mixing_alphabets_goes_to_a_supervisor_named_by_its_field(kind: str, make) -> None:  # noqa: ANN001
    data = make(surname="Sm\u0456th", first_names="\u0391nna")

    application, extracted = read_form(data, kind, "blue_badge")  # valid: not the sender's to put right

    assert application.surname == "Sm\u0456th"
    assert extracted.review == [
        "first_names: the “First name(s)” mixes letters of different alphabets (Greek and Latin), so it may not "
        "be what it looks like; check it against the form",
        "surname: the “Surname” mixes letters of different alphabets (Latin and Cyrillic), so it may not be what it "
        "looks like; check it against the form",
    ]
    assert validate_application(extracted.values) == application


def test_a_value_of_invisible_characters_only_is_missing() -> None:
    extracted = extract(_word_form(town="\u200b\u200d"), "docx", "blue_badge")

    assert extracted.values["town"] == ""
