"""The Council Tax change-of-address process's own parts: what one record is about, and when a person must
confirm a valid form before it is keyed."""

from __future__ import annotations

import random
from datetime import date, timedelta

from connectors.documents import read_form
from connectors.documents.attachments import FormRead
from flows.council_tax_move import COUNCIL_TAX_MOVE, account_key, review_reasons
from sandbox.change_of_address import change_of_address, change_of_address_pdf
from sandbox.council_tax_mail import council_tax_batch


def _read(**overrides) -> FormRead:
    move, extracted = read_form(change_of_address_pdf(change_of_address(random.Random(1), **overrides)), "pdf",
                                "council_tax_move")
    return FormRead("change-of-address.pdf", move, extracted)


def test_one_account_is_one_subject() -> None:
    form = _read(account_number="60010029")
    assert COUNCIL_TAX_MOVE.subject is account_key and account_key(form.record) == "60010029"


def test_a_recent_move_is_keyed_without_review() -> None:
    form = _read()
    assert review_reasons(form.record, form) == []


def test_a_move_backdated_by_more_than_a_year_waits_for_a_supervisor() -> None:
    long_ago = (date.today() - timedelta(days=400)).strftime("%d/%m/%Y")
    form = _read(move_out_date=long_ago, move_in_date=long_ago)
    [reason] = review_reasons(form.record, form)
    assert reason.startswith("move_out_date: the move is backdated by more than a year") and long_ago not in reason


def test_the_demo_batch_has_every_kind_of_email() -> None:
    batch = council_tax_batch(seed=1, valid=6)
    assert 12 <= len(batch.messages) <= 20
    assert batch.expected.count("created") == 6
    assert {"rejected", "already_held", "duplicate_delivery"} <= set(batch.expected)
    kinds = {part.get_filename().rpartition(".")[2] for message in batch.messages for part in message.iter_attachments()}
    assert kinds == {"pdf", "docx"}
    assert batch.expected == council_tax_batch(seed=1, valid=6).expected  # deterministic for a seed


def test_revenues_settings_are_validated_and_its_password_comes_from_the_environment(monkeypatch) -> None:
    import pytest

    from bots.revenues.application import RevenuesSettings
    from connectors.errors import ConfigError
    from connectors.settings import Secrets, Settings

    settings = Settings.model_validate({"applications": {"revenues": {"url": "https://revenues.council.local/",
                                                                      "busy_retries": 4}}})
    revenues = settings.application("revenues")
    assert isinstance(revenues, RevenuesSettings) and (revenues.url, revenues.busy_retries) == (
        "https://revenues.council.local", 4)
    with pytest.raises(ConfigError) as wrong:
        Settings.model_validate({"applications": {"revenues": {"busy_retries": -1}}})
    assert wrong.value.key == "applications.revenues.busy_retries"
    monkeypatch.setenv("CLERK_REVENUES_PASSWORD", "from-the-environment")
    assert Secrets().application_password("revenues").get_secret_value() == "from-the-environment"
