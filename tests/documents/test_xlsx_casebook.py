"""An Excel Blue Badge form emailed in, read through the guard and keyed into the Casebook sandbox by real
Chromium: every field of the case as the applicant wrote it, the date of birth from a real Excel date."""

from __future__ import annotations

import random

import pytest

from connectors.ledger import clerk_reference
from connectors.mail.local import LocalMailbox
from connectors.settings import Secrets
from flows.bootstrap import bootstrap, use_services
from flows.intake import intake
from sandbox.casebook import CasebookConfig, CasebookServer
from sandbox.forms import applicant
from sandbox.mailgen import application_email
from sandbox.workbooks import blue_badge_xlsx
from tests.flow_harness import sent_replies, settings_in

pytestmark = [pytest.mark.browser, pytest.mark.prefect]
STAFF = "tom.ellis@council.example.gov.uk"
FIELDS = ("title", "first_names", "surname", "date_of_birth", "ni_number", "address_line_1", "town", "postcode",
          "phone", "email")  # fmt: skip


def test_an_excel_form_is_keyed_into_casebook_with_every_field(tmp_path, prefect_api):
    person = applicant(random.Random(41), badge_type="New")
    message = application_email(STAFF, None)
    message.add_attachment(blue_badge_xlsx(person, dates="excel", tick="true"), maintype="application",
                           subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                           filename="Blue Badge application.xlsx")  # fmt: skip
    with CasebookServer(tmp_path / "casebook.db", CasebookConfig(seed=5), users={"clerk-bot": "pw-xlsx"}) as casebook:
        settings = settings_in(tmp_path, casebook.url)
        mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
        mailbox.deliver(message)
        with use_services(bootstrap(settings, mailbox=mailbox, secrets=Secrets(casebook_password="pw-xlsx"))):
            [result] = intake()
        cases = casebook.cases()

    assert (result.reference, result.outcome, result.folder) == (clerk_reference(message["Message-ID"]), "created",
                                                                 "done")  # fmt: skip
    [case] = cases
    def unspaced(text: str) -> str:  # Casebook keeps NI numbers and phone numbers without their spaces
        return text.replace(" ", "")

    assert {name: unspaced(case[name]) for name in FIELDS} == {name: unspaced(str(person[name])) for name in FIELDS}
    assert result.reference in case["notes"]
    replies = [r for r in sent_replies(mailbox) if r.in_reply_to == message["Message-ID"]]
    [keyed] = [r for r in replies if r.subject.startswith("Blue Badge application keyed")]  # after the acknowledgement
    assert case["case_reference"] in keyed.body
