"""Decisions that need a human: the run pauses with a typed form, a supervisor answers through Prefect's API,
and the item is finished as decided. The rest of the batch never waits."""

from __future__ import annotations

import contextvars
import random
import threading
import time

import pytest
from pydantic import ValidationError

from connectors.ledger import clerk_reference
from connectors.mail.local import LocalMailbox
from flows.bootstrap import bootstrap, use_services
from flows.intake import intake
from flows.review import answer_review, waiting_reviews
from sandbox.forms import applicant, blue_badge_pdf
from sandbox.mailgen import application_email
from tests.fakes.casebook import FakeCasebook
from tests.flow_harness import audit_events, sent_replies, settings_in

pytestmark = pytest.mark.prefect
SUPERVISOR = "Sam Supervisor"


def start_pass(tmp_path, messages, remind_after_s=3600.0):
    settings = settings_in(tmp_path)
    settings.review = settings.review.model_copy(update={"remind_after_s": remind_after_s, "timeout_s": 300})
    mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
    for message in messages:
        mailbox.deliver(message)
    casebook = FakeCasebook()
    outcome: dict = {}
    services = bootstrap(settings, mailbox=mailbox, casebook_factory=lambda _: casebook)

    def run():
        with use_services(services):
            outcome["results"] = intake()

    runner = threading.Thread(target=contextvars.copy_context().run, args=(run,), daemon=True)
    runner.start()
    return settings, mailbox, casebook, runner, outcome


def wait_until_asked(reference: str, runner: threading.Thread) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and runner.is_alive():
        if any(waiting.reference == reference for waiting in waiting_reviews()):
            return
        time.sleep(0.2)
    pytest.fail(f"{reference} never waited for a decision")


def old_and_young(seed: int):
    rng = random.Random(seed)
    old = application_email("tom.ellis@council.example.gov.uk",
                            blue_badge_pdf(applicant(rng, date_of_birth="03/04/1921")))
    young = application_email("priya.shah@council.example.gov.uk", blue_badge_pdf(applicant(rng)))
    return old, young


def test_a_supervisor_corrects_a_field_and_the_item_is_keyed_with_it(tmp_path, prefect_api):
    old, young = old_and_young(21)
    settings, mailbox, casebook, runner, outcome = start_pass(tmp_path, [old, young])
    reference = clerk_reference(old["Message-ID"])
    wait_until_asked(reference, runner)
    assert len(mailbox.folder("done")) == 1, "the rest of the batch was keyed before the pause"
    [waiting] = [w for w in waiting_reviews() if w.reference == reference]
    assert "date_of_birth" in waiting.question and "1921" not in waiting.question, "names, never values"
    with pytest.raises(ValidationError):  # an incomplete answer is refused before it reaches the run
        answer_review(reference, {"decision": "approve"})

    answer_review(reference, {"reviewer": SUPERVISOR, "decision": "correct",
                              "corrections": {"date_of_birth": "03/04/1951"}})
    runner.join(timeout=120)
    results = {r.reference: r for r in outcome["results"]}
    assert (results[reference].outcome, results[reference].folder) == ("created", "done")
    assert sorted(str(case["date_of_birth"]) for case in casebook.cases.values())[0] == "1951-04-03"
    decided = [e for e in audit_events(settings.audit.path) if e["step"] == "review" and e["reference"] == reference]
    assert [e["outcome"] for e in decided] == ["waiting", "corrected"]
    assert decided[-1]["actor"] == SUPERVISOR and decided[-1]["corrected"] == ["date_of_birth"]


def test_a_supervisor_rejects_with_a_reason_the_sender_receives_and_a_reminder_is_sent(tmp_path, prefect_api):
    old, _ = old_and_young(22)
    settings, mailbox, casebook, runner, outcome = start_pass(tmp_path, [old], remind_after_s=0.5)
    reference = clerk_reference(old["Message-ID"])
    wait_until_asked(reference, runner)
    answer_review(reference, {"reviewer": SUPERVISOR, "decision": "reject",
                              "reason": "Please confirm the applicant's date of birth with them."})
    runner.join(timeout=120)
    [result] = outcome["results"]
    assert (result.outcome, result.code, result.folder) == ("rejected", "REVIEW_REJECTED", "exceptions")
    assert casebook.cases == {}
    replies = sent_replies(mailbox)
    [rejection] = [r for r in replies if r.in_reply_to == old["Message-ID"] and r.subject.startswith("Action")]
    assert "Please confirm the applicant's date of birth with them." in rejection.body
    [reminder] = [r for r in replies if r.subject == f"Waiting for a decision: {reference}"]
    assert "the paused blue-badge run" in reminder.body, "the reminder names the process's run"
    steps = [(e["step"], e["outcome"]) for e in audit_events(settings.audit.path) if e["reference"] == reference]
    assert ("review", "reminded") in steps and ("review", "rejected") in steps


@pytest.mark.skipif(__import__("shutil").which("tesseract") is None, reason="needs Debian's tesseract-ocr")
def test_a_scanned_form_read_by_ocr_waits_for_a_supervisor_to_confirm_every_value(tmp_path, prefect_api):
    from sandbox.documents import scanned_blue_badge_pdf
    from tests.documents.test_formats_scans import _READABLE_SEED

    person = applicant(random.Random(_READABLE_SEED), badge_type="Renewal", existing_badge_number="AB12 3456 7890")
    scan = application_email("tom.ellis@council.example.gov.uk", None)
    scan.add_attachment(scanned_blue_badge_pdf(person), maintype="application", subtype="pdf", filename="scan.pdf")
    settings, mailbox, casebook, runner, outcome = start_pass(tmp_path, [scan])
    reference = clerk_reference(scan["Message-ID"])
    wait_until_asked(reference, runner)
    [waiting] = [w for w in waiting_reviews() if w.reference == reference]
    assert "OCR" in waiting.question and "surname" in waiting.question
    answer_review(reference, {"reviewer": SUPERVISOR, "decision": "approve"})
    runner.join(timeout=120)
    [result] = outcome["results"]
    assert (result.outcome, result.folder) == ("created", "done")
    [case] = casebook.cases.values()
    assert case["surname"] == person["surname"]


def test_a_resent_form_that_differs_from_the_case_held_waits_and_an_approval_keeps_the_case(tmp_path, prefect_api):
    rng = random.Random(23)
    person = applicant(rng)
    first = application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(person))
    moved = application_email("tom.ellis@council.example.gov.uk",
                              blue_badge_pdf({**person, "postcode": "LS1 4AB"}), subject="FW: Blue Badge application")
    same = application_email("priya.shah@council.example.gov.uk", blue_badge_pdf(person),
                             subject="RE: Blue Badge application")
    settings, mailbox, casebook, runner, outcome = start_pass(tmp_path, [first])
    runner.join(timeout=120)
    runner = threading.Thread(target=contextvars.copy_context().run, args=(lambda: outcome.update(
        results=_second_pass(settings, mailbox, casebook, [moved, same])),), daemon=True)
    runner.start()
    reference = clerk_reference(moved["Message-ID"])
    wait_until_asked(reference, runner)
    [waiting] = [w for w in waiting_reviews() if w.reference == reference]
    assert "postcode" in waiting.question and "LS1 4AB" not in waiting.question
    answer_review(reference, {"reviewer": SUPERVISOR, "decision": "approve"})
    runner.join(timeout=120)
    results = {r.reference: r for r in outcome["results"]}
    assert (results[reference].outcome, results[reference].folder) == ("existing_application", "done")
    assert results[clerk_reference(same["Message-ID"])].outcome == "existing_application", "no difference: no wait"
    assert len(casebook.cases) == 1
    steps = [(e["step"], e["outcome"]) for e in audit_events(settings.audit.path) if e["reference"] == reference]
    assert ("review", "approved") in steps and steps[-1] == ("finish", "existing_application")


def _second_pass(settings, mailbox, casebook, messages):
    for message in messages:
        mailbox.deliver(message)
    with use_services(bootstrap(settings, mailbox=mailbox, casebook_factory=lambda _: casebook)):
        return intake()
