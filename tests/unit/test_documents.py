"""Reading Blue Badge forms from real PDFs made by ``sandbox.forms``: what round-trips, what is refused, and why."""

from __future__ import annotations

import io
import random
import re
from datetime import date, datetime

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.errors import DependencyError, PyPdfError
from reportlab.pdfgen.canvas import Canvas

from connectors.documents import pdf_form, read_blue_badge, read_form_fields
from connectors.documents.blue_badge import (
    DATE_FORMAT,
    LABELS,
    BadgeType,
    BlueBadgeApplication,
    Eligibility,
    validate_application,
)
from connectors.errors import BusinessError, ConfigError, InvalidForm, UnreadableAttachment
from sandbox.forms import INVALID_VARIANTS, applicant, blue_badge_pdf, not_a_form_pdf

# The label each invalid variant must be blamed on; a new variant needs an entry here.
BLAMED = {
    "missing_title": "Title",
    "missing_surname": "Surname",
    "missing_address": "Address line 1",
    "bad_date_of_birth": "Date of birth",
    "american_date": "Date of birth",
    "date_with_dashes": "Date of birth",
    "future_date_of_birth": "Date of birth",
    "bad_ni_number": "National Insurance number",
    "bad_postcode": "Postcode",
    "phone_without_area_code": "Contact phone number",
    "bad_email": "Contact email address",
    "no_reason_chosen": "Reason for applying",
    "child_route_for_an_adult": "Reason for applying",
    "renewal_without_badge_number": "Existing badge number",
    "declaration_not_ticked": "Declaration",
}


def _person(seed: int = 7, **overrides: object) -> dict[str, object]:
    return applicant(random.Random(seed), **overrides)


def _unreadable(data: bytes) -> UnreadableAttachment:
    with pytest.raises(UnreadableAttachment) as caught:
        read_blue_badge(data)
    return caught.value


def _encrypted(pdf: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user_password, owner_password="council-owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- round trips --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_a_valid_form_reads_back_as_typed_and_validates_to_the_same_application(seed: int) -> None:
    person = _person(seed)
    pdf = blue_badge_pdf(person)

    assert read_form_fields(pdf) == person
    assert read_blue_badge(pdf) == validate_application(person)


def test_every_field_of_a_renewal_arrives_in_the_model() -> None:
    person = _person(
        title="Dr", first_names="Siân Zoë", surname="O'Brien-Ó Sé", date_of_birth="07/03/1958",
        ni_number="jt 12 34 56 c", address_line_1="Flat 3", address_line_2="12 Mill Lane", town="Leeds",
        postcode="ls6 2ab", phone="01632 960123", email="Sian.OBrien@Example.org",
        eligibility=Eligibility.PIP_PLANNING_JOURNEYS.value, badge_type="Renewal",
        existing_badge_number="AB12 3456 7890", declaration=True,
    )  # fmt: skip

    application = read_blue_badge(blue_badge_pdf(person))

    assert application.model_dump() == {
        "title": "Dr",
        "first_names": "Siân Zoë",
        "surname": "O'Brien-Ó Sé",
        "date_of_birth": date(1958, 3, 7),
        "ni_number": "JT123456C",
        "address_line_1": "Flat 3",
        "address_line_2": "12 Mill Lane",
        "town": "Leeds",
        "postcode": "LS6 2AB",
        "phone": "01632960123",
        "email": "sian.obrien@example.org",
        "eligibility": Eligibility.PIP_PLANNING_JOURNEYS,
        "badge_type": BadgeType.RENEWAL,
        "existing_badge_number": "AB12 3456 7890",
        "declaration": True,
    }


def test_a_blank_form_reads_as_empty_text_no_radio_choice_and_an_unticked_box() -> None:
    fields = read_form_fields(blue_badge_pdf({}))

    assert set(fields) == set(LABELS)
    assert fields["badge_type"] is None
    assert fields["declaration"] is False
    assert {name: value for name, value in fields.items() if value != ""} == {
        "badge_type": None,
        "declaration": False,
    }


def test_a_form_filled_in_by_another_program_reads_unicode_values() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(blue_badge_pdf(_person()))))
    writer.update_page_form_field_values(writer.pages[0], {"surname": "Wałęsa"}, auto_regenerate=False)
    out = io.BytesIO()
    writer.write(out)

    assert read_blue_badge(out.getvalue()).surname == "Wałęsa"


def test_filled_values_are_drawn_on_the_form_not_only_stored() -> None:
    pdf = blue_badge_pdf(_person(surname="Holroyd", declaration=True))
    widgets = {
        str(annot["/T"]): annot
        for page in PdfReader(io.BytesIO(pdf)).pages
        for annot in (ref.get_object() for ref in page["/Annots"])
        if "/T" in annot
    }

    assert b"(Holroyd) Tj" in widgets["surname"]["/AP"]["/N"].get_data()
    assert widgets["declaration"]["/AS"] == "/Yes"


def test_the_form_prints_every_label_and_section() -> None:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(blue_badge_pdf({}))).pages)

    for label in [*LABELS.values(), "Application for a Blue Badge", "Council", "About the applicant",
                  "Address", "Contact details", "Eligibility", "Declaration"]:  # fmt: skip
        assert label in text


# --- forms filled in wrongly ----------------------------------------------------------------------------


def test_every_invalid_variant_has_an_expected_label() -> None:
    assert set(BLAMED) == set(INVALID_VARIANTS)


@pytest.mark.parametrize("variant", sorted(INVALID_VARIANTS))
def test_each_invalid_variant_is_refused_naming_the_field_on_the_form(variant: str) -> None:
    pdf = blue_badge_pdf(INVALID_VARIANTS[variant](_person(3)))

    with pytest.raises(InvalidForm) as caught:
        read_blue_badge(pdf)

    assert len(caught.value.reasons) == 1, caught.value.reasons
    assert caught.value.reasons[0].startswith(BLAMED[variant]), caught.value.reasons


@pytest.mark.parametrize("variant", sorted(INVALID_VARIANTS))
def test_invalid_variants_do_not_change_the_applicant_they_are_given(variant: str) -> None:
    person = _person(3)
    INVALID_VARIANTS[variant](person)

    assert person == _person(3)


@pytest.mark.parametrize("declaration", [False, None])
def test_an_unticked_declaration_is_the_reason_given(declaration: object) -> None:
    values = {**_person(), "declaration": declaration}

    with pytest.raises(InvalidForm) as caught:
        read_blue_badge(blue_badge_pdf(values))

    assert caught.value.reasons == ["Declaration: The applicant must tick the declaration."]


# --- attachments that are not a readable form ----------------------------------------------------------


def test_a_pdf_without_form_fields_is_unreadable() -> None:
    error = _unreadable(not_a_form_pdf())

    assert isinstance(error, BusinessError)
    assert "not the Blue Badge application form" in error.message
    assert "no fields" in error.message


def test_a_text_file_is_unreadable() -> None:
    assert "not a PDF" in _unreadable(b"Dear Sir or Madam,\nI enclose my application.\n").message


def test_a_file_with_the_pdf_header_after_the_first_kilobyte_is_not_taken_for_a_pdf() -> None:
    assert "not a PDF" in _unreadable(b" " * 1024 + blue_badge_pdf(_person())).message


def test_a_pdf_header_within_the_first_kilobyte_is_found() -> None:
    person = _person()

    assert read_form_fields(b"\r\n" * 100 + blue_badge_pdf(person)) == person


def test_an_empty_file_is_unreadable() -> None:
    assert "empty" in _unreadable(b"").message


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_a_truncated_pdf_is_unreadable_and_keeps_pypdfs_error_as_the_cause(keep: float) -> None:
    pdf = blue_badge_pdf(_person())

    error = _unreadable(pdf[: int(len(pdf) * keep)])

    assert "damaged" in error.message
    assert isinstance(error.__cause__, PyPdfError)


def test_a_pdf_that_needs_a_password_is_unreadable() -> None:
    error = _unreadable(_encrypted(blue_badge_pdf(_person()), user_password="letmein"))

    assert "password" in error.message
    assert isinstance(error.__cause__, PyPdfError)


def test_a_pdf_locked_only_against_changes_opens_without_a_password() -> None:
    person = _person()

    assert read_form_fields(_encrypted(blue_badge_pdf(person), user_password="")) == person


def test_a_missing_decryption_package_is_our_fault_not_the_applicants(monkeypatch: pytest.MonkeyPatch) -> None:
    def reader_without_cryptography(stream: object) -> None:
        raise DependencyError("cryptography is required for AES algorithm")

    monkeypatch.setattr(pdf_form, "PdfReader", reader_without_cryptography)

    with pytest.raises(ConfigError) as caught:
        read_blue_badge(blue_badge_pdf(_person()))
    assert not isinstance(caught.value, BusinessError)


def test_a_different_pdf_form_is_not_taken_for_the_blue_badge_form() -> None:
    out = io.BytesIO()
    canvas = Canvas(out)
    canvas.acroForm.textfield(name="planning_reference", value="24/01234/FUL")
    canvas.showPage()
    canvas.save()

    assert read_form_fields(out.getvalue()) == {"planning_reference": "24/01234/FUL"}
    assert "not the Blue Badge application form" in _unreadable(out.getvalue()).message


# --- the generator ---------------------------------------------------------------------------------------


def test_applicant_is_deterministic_for_a_seed() -> None:
    assert _person(42) == _person(42)
    assert _person(42) != _person(43)


def test_applicants_are_valid_and_realistic_across_many_seeds() -> None:
    people = [_person(seed) for seed in range(200)]

    for person in people:
        application = validate_application(person)  # raises InvalidForm if not
        assert isinstance(application, BlueBadgeApplication)
        assert date(1935, 1, 1) <= datetime.strptime(str(person["date_of_birth"]), DATE_FORMAT).date()
        assert application.date_of_birth <= date(2005, 12, 31)
        assert re.fullmatch(r"01632 960\d{3}|07700 900\d{3}", str(person["phone"]))
        assert str(person["email"]).endswith(("@example.org", "@example.com"))
        assert person["declaration"] is True
        assert (person["badge_type"] == "Renewal") == bool(person["existing_badge_number"])
    assert {p["badge_type"] for p in people} == {"New", "Renewal"}
    assert sum(p["badge_type"] == "New" for p in people) > 100
    assert len({p["eligibility"] for p in people}) >= 6
    assert len({p["surname"] for p in people}) >= 20


def test_a_child_applicant_is_born_within_the_last_three_years() -> None:
    child = _person(eligibility=Eligibility.CHILD_UNDER_THREE.value)

    assert (date.today() - validate_application(child).date_of_birth).days < 3 * 365


def test_the_generator_refuses_what_the_form_cannot_hold() -> None:
    with pytest.raises(KeyError):
        applicant(random.Random(1), shoe_size="9")
    with pytest.raises(KeyError):
        blue_badge_pdf({"shoe_size": "9"})
    with pytest.raises(ValueError, match="not one of the options"):
        blue_badge_pdf({"title": "Sir"})
    with pytest.raises(ValueError, match="Latin-1"):
        blue_badge_pdf({"surname": "Wałęsa"})
