from datetime import UTC, datetime

import pytest

from connectors.errors import NoRoute, SenderNotAllowed
from connectors.mail import Email
from connectors.settings import Settings
from flows.routing import check_sender, is_internal, route


def email(sender="priya.shah@council.example.gov.uk", subject="Blue Badge application", to=("clerk@x",), **headers):
    return Email(id="1.eml", message_id="<1@x>", sender=sender, to=tuple(to), subject=subject,
                 received=datetime.now(UTC), headers=headers)


def test_subject_keyword_or_recipient_alias_picks_the_process():
    settings = Settings()
    assert route(email(subject="FW: BLUE BADGE form"), settings) == "blue_badge"
    assert route(email(subject="form", to=("bluebadge@council.example.gov.uk",)), settings) == "blue_badge"
    with pytest.raises(NoRoute):
        route(email(subject="Parking permit"), settings)


def test_only_listed_senders_may_trigger_a_process():
    settings = Settings()
    check_sender(email(), "blue_badge", settings)
    with pytest.raises(SenderNotAllowed):
        check_sender(email(sender="j.bloggs@example.net"), "blue_badge", settings)
    with pytest.raises(SenderNotAllowed):  # From a listed address, but sent by someone else
        check_sender(email(Sender="mallory@example.net"), "blue_badge", settings)


def test_only_council_addresses_count_as_internal():
    settings = Settings()
    assert is_internal("a@council.example.gov.uk", settings)
    assert not is_internal("a@council.example.gov.uk.evil.example", settings)
