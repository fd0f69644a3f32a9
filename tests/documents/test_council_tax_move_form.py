"""The Council Tax change-of-address form (config/forms/council_tax_move.yaml): the PDF form and its Word
version read into a validated move, and every wrongly filled form refused with reasons naming the field."""

from __future__ import annotations

import random
from datetime import date

import pytest

from connectors.documents import read_form
from connectors.errors import FormNotRecognised, InvalidForm
from sandbox.change_of_address import (
    INVALID_VARIANTS,
    change_of_address,
    change_of_address_docx,
    change_of_address_pdf,
)
from sandbox.forms import applicant, blue_badge_pdf

FORM = "council_tax_move"
MAKERS = {"pdf": change_of_address_pdf, "docx": change_of_address_docx}

# Each wrongly filled variant (sandbox/change_of_address.py) and the label its reason must name.
REFUSED_FOR = {
    "missing_account_number": "Council Tax account number is missing",
    "account_number_too_short": "Council Tax account number must be the 8 digits",
    "missing_new_address": "Your new address is missing",
    "bad_new_postcode": "Postcode of your new address is not a valid UK postcode",
    "bad_move_out_date": "Date you moved out: '31/09/2025' is not a real date",
    "american_move_in_date": "Date you moved in: '12/31/2025' is not a real date",
    "move_in_before_move_out": "Date you moved in: The date you moved in is before the date you moved out",
    "declaration_not_ticked": "Declaration: The resident must tick the declaration",
}


def _read(values: dict, kind: str):
    return read_form(MAKERS[kind](values), kind, FORM)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kind", ["pdf", "docx"])
def test_the_form_reads_into_a_validated_move(kind: str, seed: int) -> None:
    values = change_of_address(random.Random(seed))
    move, extracted = _read(values, kind)
    assert extracted.method == ("acroform" if kind == "pdf" else "docx")
    assert move.account_number == values["account_number"]
    assert (move.resident_name, move.old_address, move.new_address) == (
        values["resident_name"], values["old_address"], values["new_address"])
    assert (move.old_postcode, move.new_postcode) == (values["old_postcode"], values["new_postcode"])
    assert (move.move_out_text, move.move_in_text) == (values["move_out_date"], values["move_in_date"])
    assert move.declaration is True and extracted.review == []


def test_values_are_tidied_as_staff_type_them() -> None:
    values = change_of_address(random.Random(1), account_number="6001 0029", new_postcode="nd31ef",
                               move_out_date="1/2/2025", move_in_date="01/02/2025")
    move, _ = _read(values, "docx")
    assert (move.account_number, move.new_postcode) == ("60010029", "ND3 1EF")
    assert move.move_out_date == move.move_in_date == date(2025, 2, 1)


@pytest.mark.parametrize("variant", sorted(REFUSED_FOR))
@pytest.mark.parametrize("kind", ["pdf", "docx"])
def test_a_wrongly_filled_form_is_refused_naming_the_field(kind: str, variant: str) -> None:
    values = INVALID_VARIANTS[variant](change_of_address(random.Random(2)))
    with pytest.raises(InvalidForm) as refused:
        _read(values, kind)
    assert refused.value.code == "FORM_INVALID"
    assert len(refused.value.reasons) == 1 and refused.value.reasons[0].startswith(REFUSED_FOR[variant]), \
        refused.value.reasons


def test_every_problem_is_listed_at_once() -> None:
    values = change_of_address(random.Random(4), account_number="123", old_postcode="", declaration=False)
    values = INVALID_VARIANTS["move_in_before_move_out"](values)
    with pytest.raises(InvalidForm) as refused:
        _read(values, "pdf")
    reasons = refused.value.reasons
    assert len(reasons) == 4, reasons
    for label in ("Council Tax account number", "Postcode of the address you are leaving", "Declaration",
                  "Date you moved in"):
        assert sum(reason.startswith(label) for reason in reasons) == 1, (label, reasons)


def test_a_new_address_that_is_the_address_being_left_is_refused() -> None:
    values = change_of_address(random.Random(5))
    values = {**values, "new_address": values["old_address"].upper(), "new_postcode": values["old_postcode"]}
    with pytest.raises(InvalidForm) as refused:
        _read(values, "docx")
    assert refused.value.reasons == ["Your new address: The new address is the address being left."]


def test_another_wording_of_the_labels_is_read_too() -> None:
    values = change_of_address(random.Random(6))
    wording = {"account_number": "Account number", "move_out_date": "Move-out date", "move_in_date": "Move-in date",
               "new_address": "New address", "old_address": "Previous address"}
    move, _ = read_form(change_of_address_docx(values, labels=wording), "docx", FORM)
    assert (move.account_number, move.move_in_text) == (values["account_number"], values["move_in_date"])


def test_a_blue_badge_form_is_not_taken_for_a_change_of_address() -> None:
    with pytest.raises(FormNotRecognised):
        read_form(blue_badge_pdf(applicant(random.Random(1))), "pdf", FORM)
