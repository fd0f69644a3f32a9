"""A PDF form filled in and then flattened (pypdf, qpdf, pdftocairo) is read from what is drawn on its pages:
the text inside the boxes' flattened appearances, ticks written as characters, and, where a tick box or an
option holds a drawing Clerk cannot read, the fact that it could not read it, for a supervisor, never
"the applicant must tick the declaration"."""

from __future__ import annotations

import io
import random
import shutil

import pytest
from pypdf import PdfReader

from connectors.documents.acroform import _fields_skipping_broken, _value, field_values
from connectors.documents.blue_badge import validate_application
from connectors.documents.extract import extract, validate
from connectors.documents.forms import load_form
from connectors.documents.pdf_text import read_pages
from connectors.errors import InvalidForm
from sandbox.documents import TOOL_PACKAGES, flattened_blue_badge_pdf
from sandbox.forms import applicant, blue_badge_pdf

FORM = load_form("blue_badge")
TOOLS = [
    pytest.param(tool, marks=pytest.mark.skipif(
        tool != "pypdf" and shutil.which(tool) is None, reason=f"needs Debian's {TOOL_PACKAGES.get(tool)} (make pdftools)"))
    for tool in ("pypdf", "qpdf", "pdftocairo")
]  # fmt: skip
BOXES = {"badge_type", "declaration"}


def renewal(seed: int, **changes: object) -> dict[str, object]:
    return applicant(random.Random(seed), badge_type="Renewal", existing_badge_number="AB12 3456 7890", **changes)


def read_as_written(values: dict[str, object], person: dict[str, object], unreadable: list[str]) -> None:
    """Every value Clerk says it read is the one on the form."""
    for key, value in person.items():
        if key not in unreadable:
            assert values[key] == value, key


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("tool", TOOLS)
def test_the_text_in_the_boxes_is_read_and_drawn_ticks_are_put_to_a_supervisor(tool: str, seed: int) -> None:
    person = renewal(seed)
    extracted = extract(flattened_blue_badge_pdf(person, tool), "pdf", FORM)

    assert extracted.method == "text"
    assert sorted(extracted.unreadable) == ["badge_type", "declaration"]  # a tick and a dot, drawn with curves
    assert extracted.values["declaration"] is None and extracted.values["badge_type"] is None
    read_as_written(extracted.values, person, extracted.unreadable)  # title and reason were in appearance streams
    assert [reason.split(":")[0] for reason in extracted.review] == ["badge_type", "declaration"]
    assert "could not read the “Declaration” tick box" in extracted.review[1]
    record = validate(FORM, extracted.values, extracted.unreadable)  # let through, not "tick the declaration"
    assert record.declaration is True and record.surname == person["surname"]


@pytest.mark.parametrize("tool", TOOLS)
def test_ticks_written_as_characters_are_read(tool: str) -> None:
    person = renewal(3)
    extracted = extract(flattened_blue_badge_pdf(person, tool, ticks="glyph"), "pdf", FORM)

    assert "declaration" not in extracted.unreadable and extracted.values["declaration"] is True
    read_as_written(extracted.values, person, extracted.unreadable)
    # Which option a ● belongs to is only known where the tool kept the option words apart (qpdf); pypdf
    # draws both buttons alike and pdftocairo runs the words together, so there it is put to a supervisor.
    assert extracted.unreadable == ([] if tool == "qpdf" else ["badge_type"])
    assert validate(FORM, extracted.values, extracted.unreadable) == (
        validate_application(person) if tool == "qpdf" else validate_application({**person, "badge_type": None}))


@pytest.mark.parametrize("ticks", ["drawn", "glyph"])
@pytest.mark.parametrize("tool", TOOLS)
def test_an_empty_box_is_read_as_empty_and_that_is_the_senders_to_fix(tool: str, ticks: str) -> None:
    person = renewal(4, declaration=False)
    extracted = extract(flattened_blue_badge_pdf(person, tool, ticks=ticks), "pdf", FORM)

    assert extracted.values["declaration"] is False and "declaration" not in extracted.unreadable
    with pytest.raises(InvalidForm) as caught:
        validate(FORM, extracted.values, extracted.unreadable)
    assert caught.value.reasons == ["Declaration: The applicant must tick the declaration."]


def test_what_a_supervisor_is_told_names_fields_never_values() -> None:
    person = renewal(5, surname="Featherstonehaugh")
    extracted = extract(flattened_blue_badge_pdf(person), "pdf", FORM)

    assert extracted.review
    text = " ".join(extracted.review)
    assert not any(str(value) in text for key, value in person.items() if isinstance(value, str) and len(value) > 3
                   and key not in ("badge_type",))  # fmt: skip


def test_text_inside_a_flattened_box_is_placed_where_the_box_was() -> None:
    person = renewal(6)
    [first, _] = read_pages(PdfReader(io.BytesIO(flattened_blue_badge_pdf(person, "pypdf"))))
    title = next(segment for segment in first.segments if segment.text == person["title"])
    label = next(segment for segment in first.segments if segment.text == "Title")

    assert abs(title.y - label.y) < 5 and title.x > label.x + 100  # beside its label, not at the page's corner


def test_a_form_field_list_left_pointing_at_removed_boxes_is_walked_not_refused() -> None:
    data = flattened_blue_badge_pdf(renewal(7), "pypdf")
    with pytest.raises(TypeError):  # what pypdf itself does with the null fields left behind
        PdfReader(io.BytesIO(data)).get_fields()
    # The boxes are gone; only the option group, a field of its own, is still listed, with its value.
    assert field_values(PdfReader(io.BytesIO(data))) == {"badge_type": "Renewal"}

    form = PdfReader(io.BytesIO(blue_badge_pdf(renewal(7))))  # on a sound form the walk finds what pypdf finds
    assert {name: _value(field) for name, field in _fields_skipping_broken(form).items()} == field_values(form)
