from datetime import UTC, datetime

import pytest

from connectors.errors import NoRoute, SenderNotAllowed, SenderSpoofed, SenderUnverified
from connectors.mail import Email
from connectors.settings import Settings
from flows.routing import Trust, check_sender, is_internal, may_reply, route, sender_trust

INTERNAL = {"X-MS-Exchange-Organization-AuthAs": "Internal"}


def email(sender="priya.shah@council.example.gov.uk", subject="Blue Badge application", to=("clerk@x",),
          attachments=("form.pdf",), headers=None, **more):
    return Email(id="1.eml", message_id="<1@x>", sender=sender, to=tuple(to), subject=subject,
                 received=datetime.now(UTC), headers=dict(INTERNAL if headers is None else headers, **more),
                 attachment_names=tuple(attachments))


def test_subject_keyword_or_recipient_alias_picks_the_process():
    settings = Settings()
    assert route(email(subject="FW: BLUE BADGE form"), settings) == "blue_badge"
    assert route(email(subject="form", to=("bluebadge@council.example.gov.uk",)), settings) == "blue_badge"
    with pytest.raises(NoRoute):
        route(email(subject="Parking permit"), settings)


def test_a_recipient_alias_wins_over_another_process_s_subject_keyword():
    settings = Settings()
    invoices = ("invoices@council.example.gov.uk",)
    assert route(email(subject="FW: Invoice for Blue Badge printing", to=invoices), settings) == "supplier_invoice"
    assert route(email(subject="FW: Invoice for Blue Badge printing"), settings) == "blue_badge"  # no alias: keyword
    assert route(email(subject="FW: Invoice INV-1", to=invoices), settings) == "supplier_invoice"
    with pytest.raises(NoRoute):  # supplier invoices need a PDF, and no other process's keyword is in the subject
        route(email(subject="FW: Invoice INV-1", to=invoices, attachments=("invoice.docx",)), settings)


def test_attachment_types_narrow_a_route():
    settings = Settings()
    settings.processes["blue_badge"].attachment_types = ["pdf", "docx"]
    assert route(email(attachments=("Form.DOCX",)), settings) == "blue_badge"
    with pytest.raises(NoRoute):
        route(email(attachments=("photo.jpg",)), settings)
    with pytest.raises(NoRoute):
        route(email(attachments=()), settings)


def test_only_listed_internal_senders_may_trigger_a_process():
    settings = Settings()
    check_sender(email(), "blue_badge", settings)
    with pytest.raises(SenderUnverified):  # an outside address
        check_sender(email(sender="j.bloggs@example.net", headers={}), "blue_badge", settings)
    with pytest.raises(SenderUnverified):  # a council From that Exchange did not mark internal: forged
        check_sender(email(headers={}), "blue_badge", settings)
    with pytest.raises(SenderUnverified):  # outsiders cannot mark themselves internal: the domain must be ours
        check_sender(email(sender="eve@example.net"), "blue_badge", settings)
    with pytest.raises(SenderSpoofed):  # From a listed address, but sent by someone else
        check_sender(email(Sender="mallory@example.net"), "blue_badge", settings)
    settings.processes["blue_badge"].allowed_senders = ["tom.ellis@council.example.gov.uk"]
    with pytest.raises(SenderNotAllowed) as caught:  # vouched for, but not on the list
        check_sender(email(), "blue_badge", settings)
    assert caught.type is SenderNotAllowed


def test_partner_domains_need_a_dmarc_pass_for_their_own_domain_from_the_councils_boundary():
    settings = Settings()
    settings.trust.partner_domains = ["nhs.net"]
    settings.trust.authserv_ids = ["mx.council.example.gov.uk"]
    settings.processes["blue_badge"].allowed_senders.append("@nhs.net")
    passed = {"Authentication-Results": "mx.council.example.gov.uk; spf=pass smtp.mailfrom=nhs.net; "
                                        "dkim=pass header.d=nhs.net; dmarc=pass action=none header.from=nhs.net"}
    check_sender(email(sender="a.nurse@nhs.net", headers=passed), "blue_badge", settings)
    assert may_reply(email(sender="a.nurse@nhs.net", headers=passed), settings)
    failed = {"Authentication-Results": "mx.council.example.gov.uk; dmarc=fail action=quarantine header.from=nhs.net"}
    other = {"Authentication-Results": "mx.council.example.gov.uk; dmarc=pass header.from=evil.example"}
    not_ours = {"Authentication-Results": "mx.nhs.net; dmarc=pass header.from=nhs.net"}
    for headers in ({}, failed, other, not_ours):
        assert sender_trust(email(sender="a.nurse@nhs.net", headers=headers), settings) is Trust.UNVERIFIED
        with pytest.raises(SenderUnverified):
            check_sender(email(sender="a.nurse@nhs.net", headers=headers), "blue_badge", settings)


def test_only_vouched_for_senders_get_replies():
    settings = Settings()
    assert may_reply(email(), settings)
    assert not may_reply(email(headers={}), settings)
    assert not may_reply(email(Sender="mallory@example.net"), settings)
    assert not may_reply(email(sender="j.bloggs@example.net"), settings)
    settings.trust.require_internal_header = False  # a mailbox no outsider can write to
    assert may_reply(email(headers={}), settings)


def test_only_council_addresses_count_as_internal():
    settings = Settings()
    assert is_internal("a@council.example.gov.uk", settings)
    assert not is_internal("a@council.example.gov.uk.evil.example", settings)
