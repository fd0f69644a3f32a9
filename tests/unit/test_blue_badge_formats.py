"""The Blue Badge flow reads every format staff send (AcroForm PDF, printed PDF, Word) through the guard,
and answers a hostile or unreadable file with its code, in a reply the sender can act on."""

from __future__ import annotations

import random

import pytest

from connectors.ledger import clerk_reference
from sandbox.documents import blue_badge_docx, printed_blue_badge_pdf
from sandbox.forms import applicant
from sandbox.mailgen import application_email
from tests.documents.hostile import docm_renamed, encrypted_pdf
from tests.fakes.casebook import FakeCasebook
from tests.flow_harness import sent_replies
from tests.unit.test_intake_flow import one_pass

pytestmark = pytest.mark.prefect
STAFF = "tom.ellis@council.example.gov.uk"


def with_attachment(data: bytes, filename: str, subtype: str):
    message = application_email(STAFF, None)
    message.add_attachment(data, maintype="application", subtype=subtype, filename=filename)
    return message


def test_word_and_printed_forms_are_keyed_and_hostile_files_refused_with_their_code(tmp_path, prefect_api):
    rng = random.Random(31)
    people = [applicant(rng) for _ in range(3)]
    docx = "vnd.openxmlformats-officedocument.wordprocessingml.document"
    messages = {
        "table docx": with_attachment(blue_badge_docx(people[0], "table"), "application.docx", docx),
        "controls docx": with_attachment(blue_badge_docx(people[1], "controls"), "form.docx", docx),
        "printed pdf": with_attachment(printed_blue_badge_pdf(people[2]), "scan-free.pdf", "pdf"),
        "encrypted": with_attachment(encrypted_pdf("AES-256"), "application.pdf", "pdf"),
        "macros": with_attachment(docm_renamed(), "application.docx", docx),
        "text called pdf": with_attachment(b"Please see the form below.\n" * 20, "application.pdf", "pdf"),
    }
    casebook = FakeCasebook()
    _, mailbox, results = one_pass(tmp_path, casebook, list(messages.values()))

    by_reference = {r.reference: r for r in results}
    outcome = {name: by_reference[clerk_reference(m["Message-ID"])] for name, m in messages.items()}
    assert {name: r.outcome for name, r in outcome.items() if r.folder == "done"} == {
        "table docx": "created", "controls docx": "created", "printed pdf": "created"}
    assert {name: r.code for name, r in outcome.items() if r.folder == "exceptions"} == {
        "encrypted": "ATTACHMENT_ENCRYPTED", "macros": "ATTACHMENT_ACTIVE_CONTENT",
        "text called pdf": "ATTACHMENT_WRONG_TYPE"}
    assert sorted(case["surname"] for case in casebook.cases.values()) == sorted(p["surname"] for p in people)
    replies = {r.in_reply_to: r for r in sent_replies(mailbox) if r.subject.startswith("Action needed")}
    assert "password" in replies[messages["encrypted"]["Message-ID"]].body.lower()


def test_a_flattened_form_whose_tick_cannot_be_read_goes_to_a_supervisor_not_back_to_the_sender(tmp_path, prefect_api):
    from flows.review import answer_review, waiting_reviews
    from sandbox.documents import flattened_blue_badge_pdf
    from tests.flow_harness import audit_events
    from tests.unit.test_review import SUPERVISOR, start_pass, wait_until_asked

    person = applicant(random.Random(32), badge_type="New")
    flattened = with_attachment(flattened_blue_badge_pdf(person), "application.pdf", "pdf")
    settings, mailbox, casebook, runner, outcome = start_pass(tmp_path, [flattened])
    reference = clerk_reference(flattened["Message-ID"])
    wait_until_asked(reference, runner)

    [waiting] = [w for w in waiting_reviews() if w.reference == reference]
    assert "could not read the “Declaration” tick box" in waiting.question
    assert "badge_type" in waiting.question and person["surname"] not in waiting.question  # names, never values
    assert not [r for r in sent_replies(mailbox) if r.subject.startswith("Action needed")], "the sender is not blamed"
    answer_review(reference, {"reviewer": SUPERVISOR, "decision": "approve"})  # the box is ticked on the form
    runner.join(timeout=120)

    [result] = outcome["results"]
    assert (result.outcome, result.folder) == ("created", "done")
    [case] = casebook.cases.values()
    assert case["surname"] == person["surname"]
    reviewed = [e for e in audit_events(settings.audit.path) if e["step"] == "review" and e["reference"] == reference]
    assert [e["outcome"] for e in reviewed] == ["waiting", "approved"]


def test_excel_forms_are_keyed_and_hostile_workbooks_refused_with_their_code(tmp_path, prefect_api):
    from sandbox.workbooks import blue_badge_xlsx, encrypted_xlsx, external_link_xlsx, macro_enabled_xlsx

    rng = random.Random(33)
    people = [applicant(rng) for _ in range(2)]
    xlsx = "vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    messages = {
        "xlsx columns": with_attachment(blue_badge_xlsx(people[0]), "blue-badge.xlsx", xlsx),
        # a mail client that knows no better: a generic type and no extension; the content says what it is
        "xlsx headings, unnamed": with_attachment(blue_badge_xlsx(people[1], layout="headings", dates="text"),
                                                  "attachment", "octet-stream"),
        "macros": with_attachment(macro_enabled_xlsx(), "blue-badge.xlsm", "vnd.ms-excel.sheet.macroEnabled.12"),
        "external link": with_attachment(external_link_xlsx(), "blue-badge.xlsx", xlsx),
        "password": with_attachment(encrypted_xlsx(), "blue-badge.xlsx", xlsx),
    }  # fmt: skip
    casebook = FakeCasebook()
    _, mailbox, results = one_pass(tmp_path, casebook, list(messages.values()))

    by_reference = {r.reference: r for r in results}
    outcome = {name: by_reference[clerk_reference(m["Message-ID"])] for name, m in messages.items()}
    assert {name: r.outcome for name, r in outcome.items() if r.folder == "done"} == {
        "xlsx columns": "created", "xlsx headings, unnamed": "created"}
    assert {name: r.code for name, r in outcome.items() if r.folder == "exceptions"} == {
        "macros": "ATTACHMENT_ACTIVE_CONTENT", "external link": "ATTACHMENT_EXTERNAL_LINK",
        "password": "ATTACHMENT_ENCRYPTED"}
    cases = sorted(casebook.cases.values(), key=lambda case: case["surname"])
    assert [case["surname"] for case in cases] == sorted(p["surname"] for p in people)
    born = {p["surname"]: p["date_of_birth"] for p in people}
    assert all(case["date_of_birth"].strftime("%d/%m/%Y") == born[case["surname"]] for case in cases)
    replies = {r.in_reply_to: r for r in sent_replies(mailbox) if r.subject.startswith("Action needed")}
    assert "Excel workbook is protected by a password" in replies[messages["password"]["Message-ID"]].body
    assert "macros" in replies[messages["macros"]["Message-ID"]].body
