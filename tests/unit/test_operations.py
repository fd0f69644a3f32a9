"""Supervisors' commands: `clerk exceptions`, `clerk retry REF` and `clerk status REF` on a real flow's output."""

from __future__ import annotations

import random

import pytest
import yaml
from typer.testing import CliRunner

from connectors.errors import ApplicationUnavailable
from connectors.ledger import clerk_reference
from connectors.mail.local import LocalMailbox
from flows.bootstrap import bootstrap, use_services
from flows.cli import app
from flows.intake import intake
from sandbox.forms import INVALID_VARIANTS, applicant, blue_badge_pdf
from sandbox.mailgen import application_email
from tests.fakes.casebook import FakeCasebook
from tests.flow_harness import settings_in

pytestmark = pytest.mark.prefect
runner = CliRunner()


class SavesThenTimesOut(FakeCasebook):
    """Casebook saves the case, then the connection drops before the bot sees the confirmation."""

    def _key(self, application, clerk_ref):
        result = super()._key(application, clerk_ref)
        if self.calls == 1:
            raise ApplicationUnavailable("Casebook did not answer within 15 s")
        return result


def test_a_system_exception_is_listed_retried_and_keyed_once(tmp_path, prefect_api, monkeypatch):
    from rich.console import Console

    import flows.cli

    monkeypatch.setattr(flows.cli, "console", Console(width=250))  # tables unwrapped, for the asserts
    settings = settings_in(tmp_path)
    settings.casebook = settings.casebook.model_copy(update={"retries": 0})
    config = tmp_path / "clerk.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json", exclude={"source"})))
    mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
    rng = random.Random(12)
    timed_out = application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(applicant(rng)))
    wrong = application_email("priya.shah@council.example.gov.uk",
                              blue_badge_pdf(INVALID_VARIANTS["bad_ni_number"](applicant(rng))))
    for message in (timed_out, wrong):
        mailbox.deliver(message)
    casebook = SavesThenTimesOut()
    with use_services(bootstrap(settings, mailbox=mailbox, casebook_factory=lambda _: casebook)):
        first = intake()
    assert sorted(r.code for r in first) == ["APP_UNAVAILABLE", "FORM_INVALID"]
    system_ref, business_ref = clerk_reference(timed_out["Message-ID"]), clerk_reference(wrong["Message-ID"])

    listed = runner.invoke(app, ["exceptions", "-c", str(config)])
    assert listed.exit_code == 0, listed.output
    assert system_ref in listed.output and "APP_UNAVAILABLE" in listed.output
    assert "runbooks/blue-badge.md" in listed.output
    refused = runner.invoke(app, ["retry", business_ref, "-c", str(config)])
    assert refused.exit_code == 1 and "business reason" in refused.output.replace("\n", " ")

    retried = runner.invoke(app, ["retry", system_ref, "-c", str(config), "--by", "Sam Supervisor"])
    assert retried.exit_code == 0, retried.output
    assert len(mailbox.folder("inbox")) == 1
    with use_services(bootstrap(settings, mailbox=mailbox, casebook_factory=lambda _: casebook)):
        [second] = intake()
    assert (second.reference, second.outcome, second.folder) == (system_ref, "already_keyed", "done")
    assert len(casebook.cases) == 1, "the retry found the case the timed-out attempt saved"

    shown = runner.invoke(app, ["status", system_ref, "-c", str(config)])
    assert shown.exit_code == 0, shown.output
    assert "done" in shown.output and "Sam Supervisor" in shown.output and "requeued" in shown.output
    assert shown.output.count("claimed") == 2, "the ledger's record: claimed by the first pass, then the retry's"
    assert runner.invoke(app, ["status", "CLK-AAAAAAAAAA", "-c", str(config)]).exit_code == 1


def test_a_code_every_process_can_raise_is_explained_by_the_item_s_own_process_runbook(tmp_path, monkeypatch):
    from flows import operations

    (tmp_path / "blue-badge.md").write_text("## Refused\n- **FORM_INVALID**: the form is wrong.\n")
    (tmp_path / "parking-permit.md").write_text("# Permits\n## Replies\n- **FORM_INVALID**: a box is wrong.\n")
    monkeypatch.setattr(operations, "RUNBOOKS", tmp_path)
    operations.runbook_for.cache_clear()  # the answers are kept: the runbooks do not change while Clerk runs
    assert operations.runbook_for("FORM_INVALID", "parking_permit") == "runbooks/parking-permit.md: Replies"
    assert operations.runbook_for("FORM_INVALID", "blue_badge") == "runbooks/blue-badge.md: Refused"
    assert operations.runbook_for("FORM_INVALID") == "runbooks/blue-badge.md: Refused"
    assert operations.runbook_for("NO_SUCH_CODE", "parking_permit") is None
    operations.runbook_for.cache_clear()
