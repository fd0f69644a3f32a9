"""Two workers on two "hosts" race for one applicant's emails and still key each applicant once.

Everything is real and separate, as two worker hosts of one install would be: two checkouts of the repository
(each its own working directory, CLERK_HOME and settings file), one shared mailbox folder, one PostgreSQL ledger
and audit trail (a fresh schema of the test database, dropped afterwards), one Casebook sandbox keyed by real
Chromium, and one Prefect server. Each host runs ``clerk watch`` (an intake pass whenever mail arrives, a small
``mailbox.max_batch`` so both share the inbox); once both are watching, every applicant's original email, a
resend of the same form in a new email, and the mail server's redelivery of the original (same Message-ID) land
in the inbox at once.

Then, from Casebook, the mailbox, the ledger and the audit trail: one case per applicant, one acknowledgement and
one answer per email (none for the redelivery), nothing left behind or lost, both hosts did some of the work,
and the shared trail verifies with the checkpoint key both hosts sign with.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from email import policy
from email.parser import BytesParser
from pathlib import Path

import psycopg
import pytest

from connectors import audit_store
from connectors.ledger import clerk_reference
from connectors.mail.local import LocalMailbox
from connectors.settings import load_settings
from sandbox.casebook import CasebookConfig, CasebookServer
from sandbox.forms import applicant, blue_badge_pdf
from sandbox.mailgen import application_email, staff_address
from tests.deploy.test_deployment import checkout, host_env, tail
from tests.flow_harness import REPLY_SUBJECT, sent_replies
from tests.ledger.conftest import POSTGRES_URL

pytestmark = [pytest.mark.prefect, pytest.mark.browser, pytest.mark.timeout(1500)]

APPLICANTS = 4
HOSTS = ("host-a", "host-b")
# A busy shared host can take minutes to start a worker or key a batch; these bound the waits, they are not timings.
READY_WITHIN_S = 300
SETTLED_WITHIN_S = 900
ACKNOWLEDGED = "Received"
ANSWERS = {REPLY_SUBJECT["created"]: "created", REPLY_SUBJECT["existing_application"]: "existing_application",
           REPLY_SUBJECT["already_keyed"]: "already_keyed", REPLY_SUBJECT["rejected"]: "rejected"}


@pytest.fixture
def shared_schema() -> str:
    """A fresh schema of the test database for the shared ledger and audit trail, dropped afterwards."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=5) as db:
            db.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL does not answer at {POSTGRES_URL} ({' '.join(str(exc).split())}); start it with "
                    f"`make postgres`", pytrace=False)
    name = f"clerk_two_{secrets.token_hex(6)}"
    yield name
    with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def host_config(host: Path, mailbox_root: Path, casebook_url: str, schema: str) -> Path:
    config = host / "clerk.yaml"
    config.write_text(json.dumps({  # JSON is YAML
        "mailbox": {"root": str(mailbox_root), "poll_interval_s": 0.2, "sweep_interval_s": 2, "max_batch": 2,
                    "passes_at_once": 1},
        "ledger": {"kind": "postgres", "url": POSTGRES_URL, "schema": schema, "lease_s": 60},
        "audit": {"kind": "postgres"},
        "browser": {"screenshots_dir": str(host / "screenshots")},
        "casebook": {"url": casebook_url, "retry_delay_s": 0.5, "lanes": 1},
    }, indent=2))
    return config


def message_id_counts(mailbox: LocalMailbox, folder: str) -> Counter:
    return Counter(str(BytesParser(policy=policy.default).parsebytes(path.read_bytes(), headersonly=True)["Message-ID"])
                   for path in mailbox.folder(folder))


def wait_until(what: str, probe, within_s: float, diagnostics) -> None:
    deadline = time.monotonic() + within_s
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {within_s} s.\n{diagnostics()}", pytrace=False)
        time.sleep(0.5)  # watching other processes' folders and logs: there is nothing to auto-wait on


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C the watcher (passes under way finish), then make sure nothing it started is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_two_workers_racing_an_applicants_original_resend_and_redelivery_key_once_and_answer_once(
        tmp_path, prefect_api, shared_schema):
    rng = random.Random(20261203)
    people = [applicant(rng) for _ in range(APPLICANTS)]
    originals = [application_email(staff_address(rng), blue_badge_pdf(person)) for person in people]
    resends = [application_email(staff_address(rng), blue_badge_pdf(person), subject="FW: Blue Badge application")
               for person in people]
    # Each applicant's three emails side by side, so the two hosts' first rounds take one applicant's emails apart.
    arriving = [email for trio in zip(originals, resends, originals, strict=True) for email in trio]

    password = secrets.token_urlsafe(12)
    hmac_key = secrets.token_hex(16)
    mailbox_root = tmp_path / "shared" / "mailbox"
    mailbox = LocalMailbox(mailbox_root, "clerk@council.example.gov.uk")
    with CasebookServer(tmp_path / "shared" / "casebook.db",
                        CasebookConfig(popup=True, postcode_delay_ms=300, latency_ms=50, seed=5),
                        users={"clerk-bot": password}) as casebook:
        watchers: dict[str, subprocess.Popen] = {}
        configs = {}
        logs = {}
        try:
            for name in HOSTS:
                host = tmp_path / name
                home = checkout(host / "clerk")
                configs[name] = host_config(host, mailbox_root, casebook.url, shared_schema)
                logs[name] = host / "watch.log"
                env = host_env(PREFECT_API_URL=prefect_api, PREFECT_LOGGING_LEVEL="WARNING", CLERK_HOME=str(home),
                               CLERK_CONFIG=str(configs[name]), CLERK_CASEBOOK_PASSWORD=password,
                               CLERK_AUDIT_HMAC_KEY=hmac_key)
                with open(logs[name], "wb") as log:
                    watchers[name] = subprocess.Popen([sys.executable, "-m", "flows.cli", "watch"], cwd=home, env=env,
                                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

            def diagnostics() -> str:
                folders = {f: len(mailbox.folder(f)) for f in ("inbox", "processing", "done", "exceptions", "sent")}
                return f"mailbox: {folders}\n" + "\n".join(
                    f"--- {name} (exit {watchers[name].poll()}) ---\n{tail(logs[name])}" for name in HOSTS)

            wait_until("both hosts were not watching",
                       lambda: all(b"Watching" in logs[name].read_bytes() or watchers[name].poll() is not None
                                   for name in HOSTS), READY_WITHIN_S, diagnostics)
            assert all(watchers[name].poll() is None for name in HOSTS), diagnostics()
            for email in arriving:
                mailbox.deliver(email)

            wait_until("the shared mailbox did not settle",
                       lambda: (len(mailbox.folder("done")) + len(mailbox.folder("exceptions")) == len(arriving)
                                and not mailbox.folder("inbox") and not mailbox.folder("processing")),
                       SETTLED_WITHIN_S, diagnostics)
        finally:
            for process in watchers.values():
                stop(process)
        cases = casebook.cases()

    # One Casebook case per applicant, whichever host keyed it and whichever of the two emails came first.
    keyed = Counter((case["surname"].lower(), case["date_of_birth"]) for case in cases)
    wanted = Counter((str(person["surname"]).lower(), person["date_of_birth"]) for person in people)
    assert keyed == wanted, f"cases per applicant: {keyed}"

    # Nothing lost: every copy delivered is in Done or Exceptions, and nothing was left anywhere else.
    finished = message_id_counts(mailbox, "done") + message_id_counts(mailbox, "exceptions")
    assert finished == Counter(str(email["Message-ID"]) for email in arriving)
    assert not mailbox.folder("inbox") and not mailbox.folder("processing")

    # One acknowledgement and one answer per email; the redelivered copy got nothing more.
    threads: dict[str, list[str]] = {}
    for reply in sent_replies(mailbox):
        threads.setdefault(reply.in_reply_to, []).append(reply.subject)
    for person, original, resend in zip(people, originals, resends, strict=True):
        answers = []
        for email in (original, resend):
            subjects = threads.pop(str(email["Message-ID"]), [])
            acknowledgements = [s for s in subjects if s.startswith(ACKNOWLEDGED)]
            outcomes = [kind for s in subjects for prefix, kind in ANSWERS.items() if s.startswith(prefix)]
            assert len(acknowledgements) == 1 and len(outcomes) == 1 and len(subjects) == 2, subjects
            answers.extend(outcomes)
        # Keyed by whichever email got there first; the other found the application already held.
        assert sorted(answers) == ["created", "existing_application"], (person["surname"], answers)
    assert threads == {}, f"replies to emails nobody sent: {threads}"

    # The shared ledger: every item finished, and both hosts claimed some of the mail.
    settings = load_settings(configs["host-a"])
    references = {clerk_reference(str(email["Message-ID"])) for email in arriving}
    with psycopg.connect(POSTGRES_URL) as db:
        states = dict(db.execute(f'SELECT reference, state FROM "{shared_schema}".work_items').fetchall())
        claimers = {row[0] for row in db.execute(
            f"""SELECT split_part(owner, '/', 2)::int FROM "{shared_schema}".item_history WHERE change = 'claimed'"""
        ).fetchall()}
    assert states == dict.fromkeys(references, "done"), states
    assert claimers == {watchers[name].pid for name in HOSTS}, "each host's worker claimed some of the mail"

    # The one audit trail both hosts wrote verifies, every checkpoint signed with the install's key.
    report = audit_store.verify(settings, hmac_key.encode())
    assert report.ok and report.failure is None, report.failure
    assert report.checkpoints_authenticated > 0
    claims = [event for event in audit_store.events(settings) if event["step"] == "claim"]
    assert {event["reference"] for event in claims} == references
