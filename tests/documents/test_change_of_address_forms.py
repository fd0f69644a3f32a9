"""The generated Council Tax change-of-address forms: Clerk's readers read them back, and their moves fit the
Revenues sandbox's seeded records (the valid ones are accepted, the refused ones refused as documented)."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest

from connectors.documents import extract
from connectors.documents.forms import FormDefinition
from sandbox.change_of_address import (
    INVALID_VARIANTS,
    LABELS,
    REFUSED_VARIANTS,
    change_of_address,
    change_of_address_docx,
    change_of_address_pdf,
    changes_of_address,
)
from sandbox.revenues import fixtures
from sandbox.revenues.rules import MoveForm
from sandbox.revenues.store import RevenuesStore

# What a definition in config/forms/ would say about the form (the model is not used by extract).
DEFINITION = FormDefinition.model_validate({
    "name": "change_of_address",
    "title": "Council Tax: tell us you have moved",
    "model": "builtins:dict",
    "max_pages": 2,
    "min_fields_found": 6,
    "fields": {
        name: {"labels": [label], **({"type": "checkbox"} if name == "declaration" else {})}
        for name, label in LABELS.items()
    },
})  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", ["pdf", "docx"])
def test_the_form_reads_back_to_what_was_filled_in(kind: str, seed: int) -> None:
    values = change_of_address(random.Random(seed))
    data = change_of_address_pdf(values) if kind == "pdf" else change_of_address_docx(values)
    read = extract(data, kind, DEFINITION)
    assert read.values == values
    assert read.method == ("acroform" if kind == "pdf" else "docx")


def test_an_unticked_declaration_and_blank_fields_read_as_such() -> None:
    values = INVALID_VARIANTS["declaration_not_ticked"](change_of_address(random.Random(1), new_address=""))
    for kind, data in (("pdf", change_of_address_pdf(values)), ("docx", change_of_address_docx(values))):
        read = extract(data, kind, DEFINITION).values
        assert (read["declaration"], read["new_address"]) == (False, ""), kind


def test_a_move_is_a_seeded_resident_going_to_a_seeded_empty_property() -> None:
    values = change_of_address(random.Random(5))
    account = next(a for a in fixtures.LIVE if a.account_no == values["account_number"])
    assert values["resident_name"] == f"{account.forenames} {account.surname}"
    assert values["old_address"] == fixtures.current_property(account.account_no).address
    assert (values["new_address"], values["new_postcode"]) in {(p.address, p.postcode) for p in fixtures.VACANT}
    assert values == change_of_address(random.Random(5))  # deterministic for a seed
    with pytest.raises(KeyError, match="not fields on the form"):
        change_of_address(random.Random(5), council_tax_band="C")


def _key(store: RevenuesStore, values: dict) -> object:
    """Key one form as a person would: find the new property by its postcode and address, then save."""
    matches = [p for p in store.properties(postcode=str(values["new_postcode"]))
               if f"{p['address_1']}, {p['address_2']}, {p['town']}" == values["new_address"]]  # fmt: skip
    form = MoveForm(str(values["account_number"]), str(values["move_out_date"]), matches[0]["ref"] if matches else "",
                    str(values["move_in_date"]), "Clerk ref: CLK-GENERATED")  # fmt: skip
    return store.move(form, user="clerk-bot", today=date.today(), max_future_days=30)


def test_a_batch_of_moves_is_accepted_by_revenues_in_any_order(tmp_path: Path) -> None:
    batch = changes_of_address(seed=11, count=12)
    assert len({v["account_number"] for v in batch}) == len({v["new_address"] for v in batch}) == 12
    store = RevenuesStore(tmp_path / "revenues.db")
    try:
        for values in reversed(batch):
            assert not isinstance(_key(store, values), list), values
    finally:
        store.close()
    with pytest.raises(ValueError, match="at most 12 distinct moves"):
        changes_of_address(seed=11, count=13)


@pytest.mark.parametrize(
    ("variant", "refusal"),
    [
        ("too_far_ahead", "must not be more than 30 days in the future"),
        ("new_address_not_in_register", "New property is required"),
        ("new_address_occupied", "with no end date: it overlaps the move-in date."),
        ("unknown_account", "Account 60099999 has no current liability"),
        ("move_out_before_liability_started", "Move-out date must be on or after the start of the current liability"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("seed", [3, 5])  # seed 3 moves Flat 1, 22 Station Road's resident, 5 another
def test_refused_variants_are_refused_by_revenues(tmp_path: Path, variant: str, refusal: str, seed: int) -> None:
    values = REFUSED_VARIANTS[variant](change_of_address(random.Random(seed)))
    store = RevenuesStore(tmp_path / "revenues.db")
    try:
        refused = _key(store, values)
    finally:
        store.close()
    assert isinstance(refused, list) and any(refusal in reason for reason in refused), refused


@pytest.mark.parametrize("variant", sorted(INVALID_VARIANTS))
def test_each_invalid_variant_changes_the_form(variant: str) -> None:
    values = change_of_address(random.Random(2))
    wrong = INVALID_VARIANTS[variant](values)
    assert set(wrong) == set(values) and wrong != values
    assert extract(change_of_address_docx(wrong), "docx", DEFINITION).values == wrong
