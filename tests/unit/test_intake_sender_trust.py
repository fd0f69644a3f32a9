"""Crafted spoofs through the whole intake, under a real local Prefect server, with Casebook faked behind its port.

A spoof must end in Exceptions with its code and get no reply at all; a genuine sender in the same pass is
acknowledged and keyed.
"""

from __future__ import annotations

import random

import pytest

from connectors.ledger import clerk_reference
from connectors.mail.local import LocalMailbox
from flows.bootstrap import bootstrap, use_services
from flows.intake import intake
from sandbox.forms import applicant, blue_badge_pdf
from tests.fakes.casebook import FakeCasebook
from tests.flow_harness import audit_events, sent_replies, settings_in
from tests.mail.spoofs import GENUINE, SPOOFS, drop, trusting

pytestmark = pytest.mark.prefect

CASES = {case.name: case for case in (*GENUINE, *SPOOFS)}
CHOSEN = [CASES[name] for name in (
    "kelvin-sign-local-part",  # each of these five was keyed and replied to before issue 10
    "bare-name-is-address",
    "sender-contains-from",
    "auth-as-internal-and-anonymous",
    "partner-pass-in-a-comment",
    "outlook-style-capitals",  # genuine: council staff
    "partner",  # genuine: a partner with the council boundary's DMARC pass
)]


def test_spoofs_end_in_exceptions_with_their_code_and_no_reply_while_genuine_senders_are_acknowledged(
        tmp_path, prefect_api):
    settings = trusting(settings_in(tmp_path))
    mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
    rng = random.Random(10)
    for index, case in enumerate(CHOSEN):
        drop(mailbox, case, index, pdf=blue_badge_pdf(applicant(rng)))
    casebook = FakeCasebook()
    with use_services(bootstrap(settings, mailbox=mailbox, casebook_factory=lambda _: casebook)):
        results = intake()

    ended = {result.reference: (result.outcome, result.folder, result.code) for result in results}
    assert ended == {clerk_reference(case.message_id): ("rejected", "exceptions", case.code) if case.code
                     else ("created", "done", None) for case in CHOSEN}
    assert len(casebook.cases) == 2
    replies = sent_replies(mailbox)
    genuine = [case for case in CHOSEN if case.code is None]
    assert {reply.in_reply_to for reply in replies} == {case.message_id for case in genuine}, "no reply to a spoof"
    for case in genuine:
        subjects = [reply.subject for reply in replies if reply.in_reply_to == case.message_id]
        assert subjects[0] == f"Received: Blue Badge application [{clerk_reference(case.message_id)}]"
    events = audit_events(settings.audit.path)
    refused = {event["reference"]: event for event in events if event["step"] == "error"}
    assert {reference: event["code"] for reference, event in refused.items()} == {
        clerk_reference(case.message_id): case.code for case in CHOSEN if case.code}
    suppressed = [event for event in events if event["step"] == "reply" and event.get("code") == "EXTERNAL_SENDER"]
    assert len(suppressed) == len(CHOSEN) - len(genuine)  # each spoof's rejection was held back, and audited
