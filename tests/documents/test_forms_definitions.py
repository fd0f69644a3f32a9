"""Form definitions in config/forms: the shipped ones agree with their models, bad files name file and key,
and the label and value rules the readers share behave as the runbook says."""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path

import pytest
import yaml

from connectors.documents import __main__ as cli
from connectors.documents import blue_badge, council_tax_move, invoice
from connectors.documents.forms import (
    FORMS_DIR,
    FieldSpec,
    Labels,
    choose,
    coerce,
    load_form,
    load_forms,
    normalise,
)
from connectors.errors import ConfigError
from sandbox.documents import blue_badge_docx, flattened_blue_badge_pdf, printed_blue_badge_pdf
from sandbox.forms import applicant

_MINIMAL = {
    "name": "parking_permit",
    "title": "Parking permit application",
    "model": "connectors.documents.blue_badge:validate_application",
    "max_pages": 2,
    "min_fields_found": 1,
    "fields": {"surname": {"labels": ["Surname", "Last name"]}},
}


def _write(directory: Path, data: object, name: str = "parking_permit") -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _config_error(directory: Path, data: object) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_form(_write(directory, data))
    return caught.value


# --- the shipped definitions -----------------------------------------------------------------------------


def test_the_shipped_definitions_load() -> None:
    forms = load_forms()

    assert set(forms) == {"blue_badge", "council_tax_move", "supplier_invoice"}
    assert forms["blue_badge"].source == str(FORMS_DIR / "blue_badge.yaml")
    assert forms["blue_badge"].validator is blue_badge.validate_application
    assert forms["supplier_invoice"].validator is invoice.validate_invoice
    assert forms["council_tax_move"].validator is council_tax_move.validate_move


@pytest.mark.parametrize(("name", "module"), [("blue_badge", blue_badge), ("supplier_invoice", invoice),
                                              ("council_tax_move", council_tax_move)])
def test_each_fields_printed_label_is_the_one_the_models_messages_use(name: str, module: object) -> None:
    form = load_form(name)

    assert {key: spec.label for key, spec in form.fields.items()} == module.LABELS  # type: ignore[attr-defined]


def test_the_blue_badge_choices_are_the_models_options() -> None:
    fields = load_form("blue_badge").fields

    assert fields["title"].options == list(blue_badge.TITLES)
    assert fields["eligibility"].options == [option.value for option in blue_badge.Eligibility]
    assert fields["badge_type"].options == [option.value for option in blue_badge.BadgeType]


def test_a_definition_pickles_for_the_parser_workers() -> None:
    form = load_form("blue_badge")

    assert pickle.loads(pickle.dumps(form)) == form


def test_names_default_to_the_field_key(tmp_path: Path) -> None:
    form = load_form(_write(tmp_path, _MINIMAL))

    assert form.fields["surname"].acroform == ["surname"]
    assert form.fields["surname"].docx == ["surname"]


# --- bad definition files ----------------------------------------------------------------------------------


def test_an_unknown_key_is_named_with_its_file(tmp_path: Path) -> None:
    data = {**_MINIMAL, "fields": {"surname": {"labels": ["Surname"], "lables": ["Last name"]}}}

    error = _config_error(tmp_path, data)

    assert error.file == str(tmp_path / "parking_permit.yaml")
    assert error.key == "fields.surname.lables"
    assert "unknown key" in error.message
    assert "parking_permit.yaml" in str(error) and "fields.surname.lables" in str(error)


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        ({"max_pages": 0}, "max_pages", "greater than or equal to 1"),
        ({"min_fields_found": 5}, "min_fields_found", "more than the 1 fields"),
        ({"fields": {"surname": {"labels": []}}}, "fields.surname.labels", "at least 1"),
        ({"fields": {"surname": {"labels": ["Surname"], "type": "number"}}}, "fields.surname.type", "'text'"),
        ({"fields": {"surname": {"labels": ["Surname"], "type": "choice"}}}, "fields.surname", "needs its options"),
        ({"fields": {"surname": {"labels": ["Surname"], "options": ["A"]}}}, "fields.surname", "only for fields"),
        ({"fields": {"surname": {"labels": ["Surname", " "]}}}, "fields.surname.labels", "blank"),
        ({"fields": {"surname": {"labels": ["Surname"]}, "last": {"labels": ["SURNAME:"]}}},
         "fields.last.labels", "also a label of surname"),
        ({"model": "connectors.documents.blue_badge:no_such_function"}, "model", "cannot use"),
        ({"model": "validate_application"}, "model", "should match pattern"),
        ({"name": "permit"}, "name", "match the file name"),
        ({"title": None}, "title", "valid string"),
        ({"anchors": ["Parking permit", " - "]}, "anchors", "no letters or digits"),
        ({"anchors": "Parking permit"}, "anchors", "valid list"),
    ],
)  # fmt: skip
def test_each_kind_of_mistake_names_the_key(tmp_path: Path, change: dict, key: str, words: str) -> None:
    error = _config_error(tmp_path, {**_MINIMAL, **change})

    assert error.key == key, str(error)
    assert words in error.message
    assert error.file == str(tmp_path / "parking_permit.yaml")


def test_yaml_that_does_not_parse_names_the_line(tmp_path: Path) -> None:
    error = _config_error(tmp_path, "name: parking_permit\nfields: [Invoice #, x\n")

    assert "not valid YAML at line" in error.message


def test_a_definition_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    assert "must be a mapping" in _config_error(tmp_path, "- a list\n").message


def test_an_unknown_form_name_lists_the_forms_there_are(tmp_path: Path) -> None:
    _write(tmp_path, _MINIMAL)

    with pytest.raises(ConfigError) as caught:
        load_form("parking", directory=tmp_path)

    assert "parking_permit" in caught.value.message
    assert caught.value.file == str(tmp_path / "parking.yaml")


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = _write(tmp_path, _MINIMAL)
    assert load_form(path).title == "Parking permit application"

    _write(tmp_path, {**_MINIMAL, "title": "Resident parking permit"})
    os.utime(path, ns=(1, path.stat().st_mtime_ns + 1_000_000_000))

    assert load_form(path).title == "Resident parking permit"


# --- labels and values ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def labels() -> Labels:
    return Labels(load_form("blue_badge"))


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("Surname", "surname", ""),
        ("SURNAME:", "surname", ""),
        ("Last name", "surname", ""),
        ("Family name *", "surname", ""),
        ("Surname: Holroyd", "surname", "Holroyd"),
        ("First name(s)", "first_names", ""),
        ("First Names", "first_names", ""),
        ("Date of birth (DD/MM/YYYY)", "date_of_birth", ""),
        ("Date of birth (DD/MM/YYYY): 07/03/1958", "date_of_birth", "07/03/1958"),
        ("Post code", "postcode", ""),
        ("E-mail", "email", ""),
        ("Address line 2", "address_line_2", ""),
        ("Address", "address_line_1", ""),
    ],
)
def test_labels_are_found_with_their_variants(labels: Labels, text: str, field: str, value: str) -> None:
    match = labels.match(text)

    assert match is not None and (match.field, match.value) == (field, value)


@pytest.mark.parametrize(
    "text",
    ["2. Address", "Surnames of other people", "Title of the scheme", "Townsend", "", "Application for a Blue Badge"],
)
def test_text_that_only_begins_like_a_label_is_not_one(labels: Labels, text: str) -> None:
    assert labels.match(text) is None


def test_anchors_are_looked_for_as_labels_are_compared(tmp_path: Path) -> None:
    form = load_form(_write(tmp_path, {**_MINIMAL, "anchors": ["Parking permit", "PP1"]}))

    assert form.anchors == ["Parking permit", "PP1"]
    assert form.anchored(normalise("Apply for a PARKING-PERMIT here"))
    assert not form.anchored(normalise("Statement of means"))
    assert load_form(_write(tmp_path, _MINIMAL)).anchored("")  # no anchors: nothing more is asked


def test_a_boxs_label_may_run_on_into_its_options_where_a_printed_line_joins_them() -> None:
    labels = Labels(load_form("blue_badge"))

    assert labels.match("New badge or renewal New Renewal") is None  # not by default...
    run_on = labels.match("New badge or renewal New Renewal", boxes_run_on=True)
    assert run_on is not None and (run_on.field, run_on.value, run_on.runs_on) == ("badge_type", "New Renewal", True)
    assert labels.match("Surname Holroyd", boxes_run_on=True) is None  # ...and never for a text field


def test_a_label_followed_by_words_without_a_colon_is_not_that_label() -> None:
    vat = Labels(load_form("supplier_invoice"))

    assert vat.match("VAT registration number GB 123 4567 89") is None
    assert vat.match("VAT (20%)").field == "vat"  # type: ignore[union-attr]
    assert vat.match("VAT (20%): £40.00").value == "£40.00"  # type: ignore[union-attr]
    assert vat.match("Total VAT").field == "vat"  # type: ignore[union-attr]
    assert vat.match("Total").field == "total"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "chosen"),
    [
        ("Renewal", "Renewal"),
        ("renewal", "Renewal"),
        ("X New Renewal", "New"),
        ("New X Renewal", "Renewal"),
        ("☐ New ☒ Renewal", "Renewal"),
        ("[ ] New [x] Renewal", "Renewal"),
        ("O New @ Renewal", "Renewal"),
        ("New Renewal", ""),
        ("○ New ○ Renewal", ""),
        ("", ""),
        ("X New X Renewal", "X New X Renewal"),
        ("Replacement", "Replacement"),
    ],
)
def test_the_marked_option_is_chosen(text: str, chosen: str) -> None:
    assert choose(["New", "Renewal"], text) == chosen


def test_options_compare_without_punctuation() -> None:
    options = load_form("blue_badge").fields["eligibility"].options

    assert choose(options, "PIP – moving around") == "PIP - moving around"
    assert choose(options, "War Pensioners Mobility Supplement") == "War Pensioners' Mobility Supplement"


@pytest.mark.parametrize(
    ("text", "ticked"),
    [("X", True), ("[x]", True), ("☒ I agree", True), ("Yes", True), ("✓", True), ("☐ I agree", False),
     ("", False), ("No", False), ("Tick to confirm you agree with the declaration", False),
     ("X Tick to confirm you agree with the declaration", True), ("| x |", True)],
)  # fmt: skip
def test_a_checkbox_read_as_text(text: str, ticked: bool) -> None:
    assert coerce(FieldSpec(labels=["Declaration"], type="checkbox"), text) is ticked


def test_dates_and_money_lose_the_spaces_ocr_adds() -> None:
    assert coerce(FieldSpec(labels=["Date of birth"], type="date"), " 07 / 03 /1958 ") == "07/03/1958"
    assert coerce(FieldSpec(labels=["Total"], type="money"), "£ 1,234.50") == "£1,234.50"
    assert coerce(FieldSpec(labels=["Surname"]), "  Siân   Holroyd ") == "Siân Holroyd"


# --- trying a definition on a sample (runbooks/forms.md) -----------------------------------------------------


def test_the_try_it_command_shows_each_field_and_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sample = tmp_path / "sample.docx"
    sample.write_bytes(blue_badge_docx(applicant(random.Random(1), surname="Holroyd"), "legacy"))

    assert cli.main(["blue_badge", str(sample)]) == 0
    shown = capsys.readouterr().out
    assert "read by docx" in shown
    assert "Surname" in shown and "'Holroyd'" in shown
    assert shown.rstrip().endswith("Valid.")


def test_the_try_it_command_shows_boxes_it_could_not_read(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sample = tmp_path / "flattened.pdf"
    sample.write_bytes(flattened_blue_badge_pdf(applicant(random.Random(2))))

    assert cli.main(["blue_badge", str(sample)]) == 0
    shown = capsys.readouterr().out
    assert "read by text" in shown
    assert any(line.startswith("  Declaration") and line.endswith("(could not read)") for line in shown.splitlines())
    assert "  For a supervisor: declaration: could not read the “Declaration” tick box" in shown


def test_the_try_it_command_lists_the_reasons_and_refusals(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sample = tmp_path / "sample.pdf"
    sample.write_bytes(printed_blue_badge_pdf(applicant(random.Random(1), postcode="LS1 4A")))

    assert cli.main(["blue_badge", str(sample)]) == 1
    assert "  - Postcode is not a valid UK postcode." in capsys.readouterr().out
    assert cli.main(["supplier_invoice", str(sample)]) == 2
    assert "FORM_NOT_RECOGNISED" in capsys.readouterr().err
