"""A demo batch through the whole path: local mailbox, Prefect, real Chromium, the Casebook sandbox."""

from __future__ import annotations

from collections import Counter

import pytest

from connectors.mail.local import LocalMailbox
from connectors.settings import Secrets
from flows.bootstrap import bootstrap, use_services
from flows.intake import intake
from sandbox.casebook import CasebookConfig, CasebookServer
from sandbox.mailgen import demo_batch
from tests.flow_harness import assert_right_replies, settings_in

pytestmark = [pytest.mark.browser, pytest.mark.prefect]



def test_demo_batch_ends_in_done_or_exceptions_with_one_case_per_application(tmp_path, prefect_api):
    batch = demo_batch(seed=11, valid=6)
    config = CasebookConfig(popup=True, postcode_delay_ms=150, error_rate=0.1, seed=3)
    with CasebookServer(tmp_path / "casebook.db", config, users={"clerk-bot": "pw-e2e"}) as casebook:
        settings = settings_in(tmp_path, casebook.url)
        mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
        for message in batch.messages:
            mailbox.deliver(message)
        services = bootstrap(settings, mailbox=mailbox, secrets=Secrets(casebook_password="pw-e2e"))
        with use_services(services):
            results = intake()
        # The same email processed twice more, after it was done: still one case.
        replayed = batch.messages[batch.expected.index("created")]
        mailbox.deliver(replayed)
        with use_services(bootstrap(settings, mailbox=mailbox, secrets=Secrets(casebook_password="pw-e2e"))):
            [again] = intake()
        cases = casebook.cases()

    outcomes = Counter("sender_not_allowed" if (r.code or "").startswith("SENDER_") else r.outcome for r in results)
    assert outcomes == Counter(batch.expected)
    assert len(cases) == batch.distinct_valid, "exactly one case per distinct valid application"
    assert len({case["notes"] for case in cases}) == len(cases)
    assert again.outcome == "duplicate_delivery"
    assert mailbox.folder("inbox") == [] and mailbox.folder("processing") == []
    assert len(mailbox.folder("done")) + len(mailbox.folder("exceptions")) == len(batch.messages) + 1
    assert_right_replies(mailbox, batch.messages, batch.expected)
