"""A morning's Council Tax change-of-address mail through the whole path: local mailbox, the intake, Prefect,
real Chromium, the Revenues sandbox."""

from __future__ import annotations

from collections import Counter

import pytest

from connectors.documents import read_form
from connectors.mail.local import LocalMailbox
from flows.bootstrap import bootstrap, use_services
from flows.intake import intake
from sandbox.council_tax_mail import council_tax_batch
from sandbox.revenues import RevenuesConfig, RevenuesServer, fixtures
from tests.flow_harness import assert_right_replies, sent_replies, settings_in

pytestmark = [pytest.mark.browser, pytest.mark.prefect]

PASSWORD = "pw-ctax-e2e"
REPLY_SUBJECT = {
    "created": "Change of address keyed",
    "already_keyed": "Already keyed",
    "already_held": "Move already recorded",
    "rejected": "Action needed",
}


def _form(message):
    """The move an email carries (None for one without a form), read as Clerk reads it."""
    for part in message.iter_attachments():
        kind = "pdf" if part.get_filename().endswith(".pdf") else "docx"
        return read_form(part.get_content(), kind, "council_tax_move")[0]
    return None


def test_a_batch_of_moves_ends_in_done_or_exceptions_with_one_move_per_valid_form(tmp_path, prefect_api,
                                                                                 monkeypatch) -> None:
    batch = council_tax_batch(seed=3, valid=6)
    assert 12 <= len(batch.messages) <= 20
    monkeypatch.setenv("CLERK_REVENUES_PASSWORD", PASSWORD)
    config = RevenuesConfig(error_rate=0.05, seed=5)
    with RevenuesServer(tmp_path / "revenues.db", config, users={"clerk-bot": PASSWORD}) as revenues:
        settings = settings_in(tmp_path, revenues=revenues.url)
        mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
        for message in batch.messages:
            mailbox.deliver(message)
        with use_services(bootstrap(settings, mailbox=mailbox)):
            results = intake()
        liabilities = revenues.liabilities()
        accounts = {account["account_no"]: account["notes"] for account in revenues.accounts()}

    assert Counter(result.outcome for result in results) == Counter(batch.expected)
    assert all(result.process in (None, "council_tax_move") for result in results)
    codes = Counter(result.code for result in results if result.outcome == "rejected")
    assert codes == Counter({"ACCOUNT_NOT_AT_ADDRESS": 1, "ACCOUNT_CLOSED": 1, "MOVE_TOO_FAR_AHEAD": 1,
                             "PROPERTY_OCCUPIED": 1, "ACCOUNT_NOT_FOUND": 1, "FORM_INVALID": 2,
                             "ATTACHMENT_MISSING": 1})
    # Revenues: for each valid move one liability ended on the move-out date and one opened on the move-in
    # date at the new property, carrying the Clerk reference; nothing else changed, nothing twice.
    valid = [_form(message) for message, outcome in zip(batch.messages, batch.expected, strict=True)
             if outcome == "created"]
    created = {result.reference: result.case_reference for result in results if result.outcome == "created"}
    seeded = {liability.ref: liability for liability in fixtures.LIABILITIES}
    opened = [li for li in liabilities if li["ref"] not in seeded]
    assert len(opened) == len(valid) == len(created) == 6
    for move in valid:
        mine = [li for li in liabilities if li["account_no"] == move.account_number]
        ended = [li for li in mine if li["ref"] in seeded and seeded[li["ref"]].end is None and li["end_date"]]
        new = [li for li in mine if li["ref"] not in seeded]
        assert [li["end_date"] for li in ended] == [move.move_out_date.isoformat()]
        assert [(li["start_date"], li["end_date"], li["postcode"]) for li in new] == [
            (move.move_in_date.isoformat(), None, move.new_postcode)]
        assert f"{move.account_number}/{new[0]['ref']}" in created.values()
    changed = {li["ref"] for li in liabilities if li["ref"] in seeded and
               (li["end_date"] or None) != (seeded[li["ref"]].end.isoformat() if seeded[li["ref"]].end else None)}
    assert len(changed) == 6
    for reference, record in created.items():
        assert f"Clerk ref: {reference} moved to" in accounts[record.split("/")[0]]
    held = next(result for result in results if result.outcome == "already_held")
    assert held.case_reference in created.values()

    # Every email ended in Done or Exceptions, with the right replies.
    assert mailbox.folder("inbox") == [] and mailbox.folder("processing") == []
    assert len(mailbox.folder("done")) + len(mailbox.folder("exceptions")) == len(batch.messages)
    assert all(result.folder in ("done", "exceptions") for result in results)
    assert_right_replies(mailbox, batch.messages, batch.expected, REPLY_SUBJECT)
    replies = sent_replies(mailbox)
    refusals = [reply.body for reply in replies if reply.subject.startswith("Action needed")]
    assert len(refusals) == batch.expected.count("rejected")
    # Nobody is told about another resident: not the namesake at 14 Park Road, not the occupiers of 5 Albert Terrace.
    assert not [body for body in refusals if any(number in body for number in ("60010011", "60010079", "60010087"))]
    keyed = [reply for reply in replies if reply.subject.startswith("Change of address keyed")]
    assert sorted(reply.subject.split(": ")[1].split(" [")[0] for reply in keyed) == sorted(created.values())
