"""The canary: plant a secret and National Insurance numbers in a batch, run it end to end through real
Chromium and a real Prefect server, and prove none of them reaches any output Clerk writes: the audit
trail, Prefect's run logs (messages and tracebacks), the console, failure screenshots (read back by OCR)
and Playwright traces."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import zipfile

import pytest

from connectors.mail.local import LocalMailbox
from connectors.settings import Secrets
from flows.bootstrap import bootstrap, use_services
from flows.intake import intake
from sandbox.casebook import CasebookConfig, CasebookServer
from sandbox.forms import applicant, blue_badge_pdf
from sandbox.mailgen import application_email
from tests.flow_harness import settings_in

pytestmark = [pytest.mark.browser, pytest.mark.prefect]
SECRET = "Canary-Pa55word-7f3e9c"


def _squash(text: str) -> str:
    return re.sub(r"[\s-]", "", text).upper()


def test_no_secret_or_personal_data_reaches_any_output(tmp_path, prefect_api, capfd):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter
    from prefect.logging.handlers import APILogHandler

    rng = random.Random(404)
    people = [applicant(rng) for _ in range(6)]
    # Half the batch is keyed; for the other half Casebook answers only "System busy" and nothing is
    # retried, so those items fail in the browser (failure screenshots, tracebacks in the run log).
    results = []
    for error_rate, batch in ((0.0, people[:3]), (1.0, people[3:])):
        config = CasebookConfig(error_rate=error_rate, seed=7, postcode_delay_ms=100)
        with CasebookServer(tmp_path / f"casebook-{error_rate}.db", config, users={"clerk-bot": SECRET}) as casebook:
            settings = settings_in(tmp_path, casebook.url)
            settings.casebook = settings.casebook.model_copy(update={"retries": 0})
            settings.browser = settings.browser.model_copy(update={"trace_dir": tmp_path / "traces"})
            mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
            for person in batch:
                note = f"Applicant NI {person['ni_number']}, call {person['phone']}"
                mailbox.deliver(application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(person),
                                                  note=note))
            with use_services(bootstrap(settings, mailbox=mailbox, secrets=Secrets(casebook_password=SECRET))):
                results += intake()
    APILogHandler().flush()
    messages: list[str] = []
    with get_client(sync_client=True) as client:
        while page := client.read_logs(LogFilter(), limit=200, offset=len(messages)):
            messages.extend(log.message for log in page)
    run_log = "\n".join(messages)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts()
    failures = {r.reference for r in results if r.outcome == "system_error"}
    published = {a.key.removeprefix("failure-").upper() for a in artifacts if a.key and a.key.startswith("failure-")}
    assert failures <= published, "each failure's masked screenshot is published for the run's review"

    outcomes = {r.outcome for r in results}
    assert "created" in outcomes and "system_error" in outcomes, outcomes  # both paths were exercised
    screenshots = list(settings.browser.screenshots_dir.glob("*.png"))
    traces = list((tmp_path / "traces").glob("*.zip"))
    assert screenshots and traces
    outputs = {
        "audit trail": "\n".join(p.read_text() for p in settings.audit.path.parent.glob("*.jsonl")),
        "Prefect run log": run_log,
        "console": "".join(capfd.readouterr()),
        "traces": "\n".join(zipfile.ZipFile(t).read(n).decode("utf-8", "replace")
                            for t in traces for n in zipfile.ZipFile(t).namelist()),
    }
    if shutil.which("tesseract"):
        outputs["screenshots (OCR)"] = "\n".join(
            subprocess.run(["tesseract", str(path), "-"], capture_output=True, text=True, timeout=60).stdout
            for path in screenshots)
    assert "APP_UNAVAILABLE" in outputs["Prefect run log"] + outputs["audit trail"]
    planted = {SECRET: "the Casebook password"}
    for person in people:
        planted[person["ni_number"]] = "an NI number"
        planted[person["email"]] = "an applicant's email"
        planted[person["date_of_birth"]] = "a date of birth"
    for where, text in outputs.items():
        squashed = _squash(text)
        for value, what in planted.items():
            assert value not in text and _squash(value) not in squashed, f"{what} reached the {where}"
