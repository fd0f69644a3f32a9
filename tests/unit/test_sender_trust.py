"""Sender trust against a corpus of crafted spoofs and genuine senders (tests/mail/spoofs.py).

Every message is real RFC 5322 bytes filed into a local mailbox's Inbox, read back by the real local
adapter, and judged by the real sender check; nothing is stubbed.
"""

from __future__ import annotations

import pytest

from connectors.errors import SenderNotAllowed, SenderSpoofed, SenderUnverified
from connectors.mail import Email
from connectors.mail.headers import Unreadable, authentication_results, mailbox
from connectors.mail.local import LocalMailbox
from connectors.settings import Settings
from flows.routing import Trust, check_sender, check_trust, may_reply, sender_trust
from flows.sender_trust import assess
from tests.mail.spoofs import BOUNDARY, COUNCIL, GENUINE, SPOOFS, Case, drop, trusting

CORPUS = (*GENUINE, *SPOOFS)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return trusting(Settings())


@pytest.fixture(scope="module")
def filed(tmp_path_factory) -> dict[str, Email]:
    """Every case of the corpus, filed into one Inbox and listed by the local adapter, by case name."""
    mailbox = LocalMailbox(tmp_path_factory.mktemp("corpus"), f"clerk@{COUNCIL}")
    for index, case in enumerate(CORPUS):
        drop(mailbox, case, index)
    emails = mailbox.list_new()
    assert [email.message_id for email in emails] == [case.message_id for case in CORPUS]
    return {case.name: email for case, email in zip(CORPUS, emails, strict=True)}


def test_the_corpus_is_big_enough_and_every_case_is_named_once():
    assert len(GENUINE) >= 30 and len(SPOOFS) >= 30
    assert len({case.name for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", GENUINE, ids=lambda case: case.name)
def test_genuine_senders_are_vouched_for_and_may_trigger_the_process(case: Case, filed, settings):
    email = filed[case.name]
    verdict = assess(email, settings)
    assert verdict.trust is case.trust, verdict.why
    assert verdict.address == email.sender and verdict.address.isascii()
    check_sender(email, "blue_badge", settings)
    assert may_reply(email, settings)


@pytest.mark.parametrize("case", SPOOFS, ids=lambda case: case.name)
def test_crafted_spoofs_are_refused_with_their_code_and_never_replied_to(case: Case, filed, settings):
    email = filed[case.name]
    assert sender_trust(email, settings) is case.trust, assess(email, settings).why
    with pytest.raises(SenderNotAllowed) as caught:
        check_sender(email, "blue_badge", settings)
    assert caught.value.code == case.code
    assert type(caught.value) is (SenderSpoofed if case.trust is Trust.SPOOFED else SenderUnverified)
    assert caught.value.reasons[0] == assess(email, settings).why  # the audit trail says why
    assert not may_reply(email, settings)


def test_the_local_adapter_keeps_every_value_topmost_first_and_the_from_line_as_written(filed):
    forged = filed["partner-forged-below-a-fail"]
    assert forged.header_values("Authentication-Results") == [
        f"{BOUNDARY}; dmarc=fail action=quarantine header.from=nhs.net", f"{BOUNDARY}; dmarc=pass header.from=nhs.net"]
    assert forged.headers["Authentication-Results"].startswith(f"{BOUNDARY}; dmarc=fail")  # first values, as before
    assert filed["auth-as-anonymous-and-internal"].header_values("x-ms-exchange-organization-authas") == [
        "Anonymous", "Internal"]
    assert filed["encoded-bare-address"].header_values("From") == [f"=?utf-8?q?priya.shah=40{COUNCIL}?="]
    assert filed["kelvin-sign-domain"].header_values("From") == ["priya.shah@council.example.gov.u\u212a"]
    assert filed["folded-long-from"].header_values("From") == [
        f'"Alexandra Featherstonehaugh-Cholmondeley (Revenues and Benefits)"\t<alexandra.featherstonehaugh@{COUNCIL}>']
    assert filed["from-missing"].header_values("From") == []


def test_an_email_built_by_hand_is_judged_on_its_headers_and_sender(settings):
    from datetime import UTC, datetime

    def email(sender: str, **headers: str) -> Email:
        return Email("1.eml", "<1@x>", sender, (), "Blue Badge", datetime.now(UTC),
                     headers={name.replace("_", "-"): value for name, value in headers.items()})

    assert check_trust(email(f"priya.shah@{COUNCIL}", X_MS_Exchange_Organization_AuthAs="Internal"),
                       settings).address == f"priya.shah@{COUNCIL}"
    assert sender_trust(email(f"\u212aate.kirk@{COUNCIL}", X_MS_Exchange_Organization_AuthAs="Internal"),
                        settings) is Trust.UNVERIFIED
    assert sender_trust(email("", X_MS_Exchange_Organization_AuthAs="Internal"), settings) is Trust.UNVERIFIED


@pytest.mark.parametrize(("value", "name", "address"), [
    (f"priya.shah@{COUNCIL}", "", f"priya.shah@{COUNCIL}"),
    (f'"Smith, Jane" <Jane.Smith@{COUNCIL}>', "Smith, Jane", f"jane.smith@{COUNCIL}"),
    (f'"Say \\"hi\\"" <a@{COUNCIL}>', 'Say "hi"', f"a@{COUNCIL}"),
    (f"=?utf-8?q?Zo=C3=AB?= <zoe@{COUNCIL}>", "Zoë", f"zoe@{COUNCIL}"),
    (f"Zoë <zoe@{COUNCIL}>", "Zoë", f"zoe@{COUNCIL}"),
])
def test_a_mailbox_is_read_as_name_and_plain_address(value, name, address):
    read = mailbox(value)
    assert (read.name, read.address) == (name, address)


@pytest.mark.parametrize(("value", "words"), [
    ("", "is empty"),
    (f"a@{COUNCIL} (b)", "comment in round brackets"),
    (f"a@{COUNCIL}, b@{COUNCIL}", "more than one address"),
    (f"<a@{COUNCIL}> <b@{COUNCIL}>", "more after the address"),
    (f"<a@{COUNCIL}", "no closing >"),
    (f'"unclosed <a@{COUNCIL}>', "never closed"),
    (f"a@{COUNCIL}\r\nBcc: x@evil.example", "control characters"),
    (f"=?utf-8?q?a=0Ab?= <a@{COUNCIL}>", "control characters"),
    (f"=?x-unknown?q?a?= <a@{COUNCIL}>", "cannot be decoded"),
    (f"\uff21 <a\uff20{COUNCIL}>", "not plain ASCII"),
    (f"\u00aa@{COUNCIL}", "not plain ASCII"),  # feminine ordinal: NFKC makes it "a"
    ("a@localhost", "not a plain domain name"),
    (f"a..b@{COUNCIL}", "not plain"),
    (f"{'a' * 65}@{COUNCIL}", "longer than"),
    (f"Priya \uff20 Shah <a@{COUNCIL}>", "another email address"),  # a full-width at sign counts after NFKC
])
def test_an_address_that_could_be_read_two_ways_is_unreadable_and_says_why(value, words):
    with pytest.raises(Unreadable, match=words):
        mailbox(value)


def test_authentication_results_are_read_by_rfc_8601_with_comments_removed():
    read = authentication_results(
        f"{BOUNDARY} 1; spf=pass (sender IP is 192.0.2.1; ok) smtp.mailfrom=nhs.net;\r\n dkim/1=pass "
        'header.d=nhs.net header.b="a;b"; dmarc=fail (dmarc=pass header.from=nhs.net) header.from=NHS.net; x=none')
    assert read.authserv_id == BOUNDARY
    assert [(r.method, r.result) for r in read.results] == [("spf", "pass"), ("dkim", "pass"), ("dmarc", "fail"),
                                                            ("x", "none")]
    assert read.results[1].properties == {"header.d": "nhs.net", "header.b": "a;b"}
    assert read.results[2].properties == {"header.from": "NHS.net"}
    assert authentication_results(f"{BOUNDARY}; none").results == ()
    assert authentication_results("spf=pass smtp.mailfrom=nhs.net").authserv_id == ""  # Exchange Online's form
    for broken, words in [(f"{BOUNDARY}; dmarc=pass (unclosed", "never closed"), (f"{BOUNDARY} x y; spf=pass", "one"),
                          (f"{BOUNDARY}; dmarc=pass header.from=a header.from=b", "given twice"),
                          (f"{BOUNDARY}; dmarc", "method=result")]:
        with pytest.raises(Unreadable, match=words):
            authentication_results(broken)


def test_a_council_domain_without_the_internal_mark_counts_only_where_the_mark_is_not_required(filed, settings):
    relaxed = settings.model_copy(deep=True)
    relaxed.trust.require_internal_header = False
    assert sender_trust(filed["auth-as-missing"], relaxed) is Trust.INTERNAL
    assert sender_trust(filed["auth-as-anonymous"], relaxed) is Trust.UNVERIFIED  # Exchange said: from outside
    assert sender_trust(filed["auth-as-internal-twice"], relaxed) is Trust.UNVERIFIED


def test_partners_are_never_trusted_without_a_configured_boundary(filed, settings):
    unset = settings.model_copy(deep=True)
    unset.trust.authserv_ids = []
    verdict = assess(filed["partner"], unset)
    assert verdict.trust is Trust.UNVERIFIED and "trust.authserv_ids" in verdict.why
