"""The intake and Blue Badge flows under a real local Prefect server, with Casebook faked behind its port."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from connectors.errors import ApplicationRejected
from connectors.ledger import clerk_reference
from connectors.mail.local import LocalMailbox
from flows.bootstrap import bootstrap, use_services
from flows.intake import intake
from sandbox.forms import applicant, blue_badge_pdf
from sandbox.mailgen import application_email, demo_batch
from tests.fakes.casebook import FakeCasebook
from tests.flow_harness import assert_right_replies, audit_events, sent_replies, settings_in

pytestmark = pytest.mark.prefect



def one_pass(tmp_path, casebook: FakeCasebook, messages):
    settings = settings_in(tmp_path)
    mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
    for message in messages:
        mailbox.deliver(message)
    with use_services(bootstrap(settings, mailbox=mailbox, casebook_factory=lambda _: casebook)):
        results = intake()
    return settings, mailbox, results


def test_demo_batch_every_email_ends_in_done_or_exceptions_with_the_right_reply(tmp_path, prefect_api):
    batch = demo_batch(seed=7, valid=6)
    casebook = FakeCasebook()
    settings, mailbox, results = one_pass(tmp_path, casebook, batch.messages)

    outcomes = Counter("sender_not_allowed" if (r.code or "").startswith("SENDER_") else r.outcome for r in results)
    assert outcomes == Counter(batch.expected)
    assert len(casebook.cases) == batch.distinct_valid
    assert mailbox.folder("inbox") == [] and mailbox.folder("processing") == []
    assert len(mailbox.folder("done")) + len(mailbox.folder("exceptions")) == len(batch.messages)
    assert len(mailbox.folder("exceptions")) == sum(e in ("rejected", "sender_not_allowed") for e in batch.expected)

    replies = sent_replies(mailbox)
    assert not [r for r in replies if not r.to.endswith("@council.example.gov.uk")], "no reply to outsiders"
    assert_right_replies(mailbox, batch.messages, batch.expected)
    events = audit_events(settings.audit.path)
    finished = [e for e in events if e["step"] == "finish"]
    assert len(finished) == len(batch.messages)


def test_rejection_reply_lists_every_problem_in_staff_words(tmp_path, prefect_api):
    import random

    person = applicant(random.Random(3), date_of_birth="31/02/1980", postcode="NOT A CODE")
    message = application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(person))
    _, mailbox, [result] = one_pass(tmp_path, FakeCasebook(), [message])
    assert (result.outcome, result.code, result.folder) == ("rejected", "FORM_INVALID", "exceptions")
    [_, rejection] = sent_replies(mailbox)
    assert "Date of birth: '31/02/1980' is not a real date." in rejection.body
    assert "Postcode is not a valid UK postcode." in rejection.body


def test_system_busy_is_retried_and_keys_once(tmp_path, prefect_api):
    import random

    casebook = FakeCasebook(busy_for=2)
    message = application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(applicant(random.Random(4))))
    _, mailbox, [result] = one_pass(tmp_path, casebook, [message])
    assert (result.outcome, result.folder, casebook.calls, len(casebook.cases)) == ("created", "done", 3, 1)


@pytest.mark.parametrize("fault", [ApplicationRejected("Casebook refused the NI number"), RuntimeError("bug")])
def test_a_fault_no_retry_cures_parks_the_email_and_tells_the_sender(tmp_path, prefect_api, fault):
    import random

    casebook = FakeCasebook(broken=fault)
    message = application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(applicant(random.Random(5))))
    settings, mailbox, [result] = one_pass(tmp_path, casebook, [message])
    assert (result.outcome, result.folder, casebook.calls) == ("system_error", "exceptions", 1)
    assert [r.subject.split(":")[0] for r in sent_replies(mailbox)] == ["Received", "Delayed"]
    assert len(mailbox.folder("exceptions")) == 1


def test_an_email_delivered_again_after_it_was_done_is_filed_quietly_and_not_keyed_twice(tmp_path, prefect_api):
    import random

    casebook = FakeCasebook()
    message = application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(applicant(random.Random(6))))
    settings, mailbox, [first] = one_pass(tmp_path, casebook, [message])
    mailbox.deliver(message)
    with use_services(bootstrap(settings, mailbox=mailbox, casebook_factory=lambda _: casebook)):
        [second] = intake()
    assert (first.outcome, second.outcome, second.folder) == ("created", "duplicate_delivery", "done")
    assert second.case_reference == first.case_reference and len(casebook.cases) == 1 and casebook.calls == 1
    subjects = [r.subject.split(":")[0] for r in sent_replies(mailbox)]
    assert subjects == ["Received", "Blue Badge application keyed"], "the sender heard once, not twice"
    assert clerk_reference(str(message["Message-ID"])) == second.reference
    assert len(mailbox.folder("done")) == 2


def test_one_applicant_always_keys_in_one_lane():
    import random

    from connectors.documents.blue_badge import validate_application
    from flows.blue_badge import applicant_key
    from flows.process import lane_of

    people = [validate_application(applicant(random.Random(seed))) for seed in range(40)]
    lanes = {lane_of(applicant_key(person), 3) for person in people}
    assert lanes == {0, 1, 2}, "applicants spread over the lanes"
    resend = validate_application(applicant(random.Random(0)))
    assert lane_of(applicant_key(resend), 3) == lane_of(applicant_key(people[0]), 3)


def test_no_browser_parks_every_valid_email_for_a_supervisor(tmp_path, prefect_api):
    import random

    from connectors.errors import ConfigError

    def no_browser(_services):
        raise ConfigError("no browser found", key="CLERK_BROWSER")

    settings = settings_in(tmp_path)
    mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
    for seed in range(3):
        person = applicant(random.Random(seed))
        mailbox.deliver(application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(person)))
    with use_services(bootstrap(settings, mailbox=mailbox, casebook_factory=no_browser)):
        results = intake()
    assert [(r.outcome, r.code, r.folder) for r in results] == [("system_error", "CONFIG_INVALID", "exceptions")] * 3
    assert mailbox.folder("processing") == [] and len(mailbox.folder("exceptions")) == 3


def test_each_items_outcome_reaches_prefects_run_log(tmp_path, prefect_api):
    import random

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterParentFlowRunId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogHandler

    message = application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(applicant(random.Random(8))))
    settings = settings_in(tmp_path)
    mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
    mailbox.deliver(message)
    casebook = FakeCasebook()
    with use_services(bootstrap(settings, mailbox=mailbox, casebook_factory=lambda _: casebook)):
        state = intake(return_state=True)
    # Only the run's id is needed from the state: its result() turns into a coroutine in a thread where
    # an earlier Playwright test left an event loop, so the expected line is rebuilt from what we know.
    [case_reference] = casebook.cases
    reference = clerk_reference(str(message["Message-ID"]))
    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        intake_run = state.state_details.flow_run_id
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[intake_run])))
        assert [run.name for run in children] == ["blue-badge: 1 email"]
        flow_run_ids = [intake_run, *(run.id for run in children)]
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=flow_run_ids)))
        artifacts = client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[intake_run])))
    lines = [log.message for log in logs]
    assert f"{reference} created: {case_reference}" in lines, lines
    [review] = [artifact for artifact in artifacts if artifact.key == "intake-items"]
    [row] = json.loads(review.data)
    assert (row["clerk reference"], row["outcome"], row["case reference"]) == (reference, "created", case_reference)


def test_with_the_ledger_down_nothing_is_claimed_and_the_pass_fails_loudly(tmp_path, prefect_api):
    import random

    from connectors.ledger import LedgerUnavailable

    class BrokenLedger:
        def claim(self, *args, **kwargs):
            raise LedgerUnavailable("disk full")

        get = update = renew = release = reply_state = record_reply = claim

    settings = settings_in(tmp_path)
    mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
    mailbox.deliver(application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(applicant(random.Random(9)))))
    with use_services(bootstrap(settings, mailbox=mailbox, ledger=BrokenLedger(),
                                casebook_factory=lambda _: FakeCasebook())), pytest.raises(LedgerUnavailable):
        intake()
    assert len(mailbox.folder("inbox")) == 1, "the email waits in the inbox for the ledger to come back"
    assert mailbox.folder("processing") == [] and sent_replies(mailbox) == []


def test_staff_can_ask_for_an_items_status_by_email(tmp_path, prefect_api):
    import random

    original = application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(applicant(random.Random(6))))
    settings, mailbox, [keyed] = one_pass(tmp_path, FakeCasebook(), [original])
    reference = clerk_reference(original["Message-ID"])
    ask = application_email("tom.ellis@council.example.gov.uk", None, subject=f"status {reference}")
    outsider = application_email("eve@example.net", None, subject=f"Status {reference}")
    unknown = application_email("priya.shah@council.example.gov.uk", None, subject="RE: status CLK-AAAAAAAAAA")
    for message in (ask, outsider, unknown):
        mailbox.deliver(message)
    with use_services(bootstrap(settings, mailbox=mailbox, casebook_factory=lambda _: FakeCasebook())):
        results = intake()

    assert [(r.outcome, r.folder) for r in results] == [("status_sent", "done"), ("rejected", "exceptions"),
                                                        ("status_sent", "done")]
    answers = {reply.in_reply_to: reply for reply in sent_replies(mailbox)}
    answer = answers[ask["Message-ID"]]
    assert answer.subject == f"Status: {reference} is finished"
    assert f"Case reference: {keyed.case_reference}" in answer.body
    assert outsider["Message-ID"] not in answers, "an outsider learns nothing and gets no mail"
    assert "not found" in answers[unknown["Message-ID"]].subject


def test_a_pass_claims_in_rounds_until_the_inbox_is_empty_and_is_named_by_what_it_did(tmp_path, prefect_api):
    import random

    from prefect.client.orchestration import get_client

    settings = settings_in(tmp_path)
    settings.mailbox = settings.mailbox.model_copy(update={"max_batch": 2})
    mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
    rng = random.Random(12)
    for _ in range(5):
        mailbox.deliver(application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(applicant(rng))))
    casebook = FakeCasebook()
    with use_services(bootstrap(settings, mailbox=mailbox, casebook_factory=lambda _: casebook)):
        limited = intake(limit=3, return_state=True)
        everything = intake(return_state=True)
        nothing = intake(return_state=True)
    assert len(mailbox.folder("done")) == 5 and len(casebook.cases) == 5
    with get_client(sync_client=True) as client:
        names = [client.read_flow_run(state.state_details.flow_run_id).name for state in (limited, everything, nothing)]
    assert names == ["mail-intake: 3 done, 0 in exceptions", "mail-intake: 2 done, 0 in exceptions",
                     "mail-intake: no new mail"]
    children = [event for event in audit_events(settings.audit.path) if event["step"] == "claim"]
    assert len(children) == 5


def test_a_pass_for_one_process_leaves_the_other_mail_in_the_inbox(tmp_path, prefect_api):
    """`clerk run intake --process blue_badge`: only Blue Badge emails are claimed; the rest wait."""
    import random

    settings = settings_in(tmp_path)
    mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
    badge = application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(applicant(random.Random(8))))
    other = application_email("tom.ellis@council.example.gov.uk", None, subject="Lunch on Friday",
                              to="someone@council.example.gov.uk")
    for message in (other, badge):
        mailbox.deliver(message)
    casebook = FakeCasebook()
    with use_services(bootstrap(settings, mailbox=mailbox, casebook_factory=lambda _: casebook)):
        [result] = intake(process="blue_badge")
        assert (result.outcome, result.folder) == ("created", "done")
        assert [email.subject for email in mailbox.list_new()] == ["Lunch on Friday"]
        results = intake()
    assert [(r.code, r.folder) for r in results] == [("NO_ROUTE", "exceptions")]
    assert mailbox.folder("inbox") == []
