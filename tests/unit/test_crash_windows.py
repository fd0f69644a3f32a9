"""Nothing dropped, nothing repeated: a worker killed between any two steps, a poisoned batch, a bug in one
email, a worker that stopped holding mail. Every email ends in Done or Exceptions, once, with one reply
of each kind, and no case is keyed twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import Counter
from email import policy
from pathlib import Path

import pytest

from connectors.ledger import clerk_reference
from connectors.mail.local import LocalMailbox
from flows.bootstrap import bootstrap, use_services
from flows.intake import intake
from sandbox.forms import applicant, blue_badge_pdf
from sandbox.mailgen import application_email
from tests.crash_points import POINTS
from tests.fakes.casebook import FakeCasebook, FileCasebook
from tests.flow_harness import audit_events, sent_replies, settings_in

pytestmark = pytest.mark.prefect

REPO = Path(__file__).resolve().parents[2]
STAFF = "tom.ellis@council.example.gov.uk"


def reply_kinds(mailbox: LocalMailbox) -> Counter:
    return Counter(reply.subject.split(":")[0] for reply in sent_replies(mailbox))


def run_pass(settings, mailbox, casebook):
    with use_services(bootstrap(settings, mailbox=mailbox, casebook_factory=lambda _: casebook)):
        return intake()


@pytest.mark.parametrize("point", POINTS)
def test_a_worker_killed_at_any_step_loses_nothing_and_repeats_nothing(tmp_path, prefect_api, point):
    settings = settings_in(tmp_path)
    mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
    mailbox.deliver(application_email(STAFF, blue_badge_pdf(applicant(random.Random(31)))))

    worker = subprocess.run([sys.executable, "-m", "tests.crash_points", str(tmp_path), point], cwd=REPO,
                            env={**os.environ, "PREFECT_API_URL": prefect_api}, capture_output=True, text=True,
                            timeout=240)
    assert worker.returncode == -signal.SIGKILL, f"the worker was not killed at {point}: {worker.stderr[-3000:]}"

    casebook = FileCasebook(tmp_path / "casebook.json")
    results = run_pass(settings, mailbox, casebook)

    assert mailbox.folder("inbox") == [] and mailbox.folder("processing") == []
    assert len(mailbox.folder("done")) == 1 and mailbox.folder("exceptions") == []
    assert len(casebook.cases) == 1, "keyed once"
    kinds = reply_kinds(mailbox)
    assert kinds["Received"] == 1, kinds
    assert kinds["Blue Badge application keyed"] + kinds["Already keyed"] == 1, kinds
    assert sum(kinds.values()) == 2, kinds
    if point in ("after-finish-recorded", "after-move-to-done"):
        assert results == [], "only the move was left to do: no flow work, no reply"


def test_a_poisoned_batch_parks_the_unreadable_email_and_keys_the_rest(tmp_path, prefect_api):
    settings = settings_in(tmp_path)
    mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
    rng = random.Random(32)
    first = application_email(STAFF, blue_badge_pdf(applicant(rng)))
    mailbox.deliver(first)
    poisoned = (b"From: " + STAFF.encode() + b"\r\nTo: bluebadge@council.example.gov.uk\r\n"
                b"Subject: Blue Badge application\r\nMessage-ID: <poisoned@council.example.gov.uk>\r\n"
                b"X-MS-Exchange-Organization-AuthAs: Internal\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nHello\r\n")
    (settings.mailbox.root / "inbox" / "20000101T000000000000-poison.eml").write_bytes(poisoned)
    crlf = application_email(STAFF, blue_badge_pdf(applicant(rng)))  # its subject decodes to two lines:
    raw = crlf.as_bytes(policy=policy.SMTP).replace(  # "Blue Badge application\r\nBcc: eve@example.net"
        b"Subject: Blue Badge application", b"Subject: Blue Badge =?utf-8?q?application=0D=0ABcc=3A_eve=40example.net?=")
    (settings.mailbox.root / "inbox" / "20000101T000000000001-crlf.eml").write_bytes(raw)

    results = run_pass(settings, mailbox, FakeCasebook())

    by_reference = {result.reference: result for result in results}
    bad = by_reference[clerk_reference("<poisoned@council.example.gov.uk>")]
    assert (bad.outcome, bad.code, bad.folder) == ("rejected", "MAIL_UNREADABLE", "exceptions")
    assert sorted(r.outcome for r in results if r is not bad) == ["created", "created"]
    assert mailbox.folder("processing") == [] and mailbox.folder("inbox") == []
    rejection = [r for r in sent_replies(mailbox) if r.in_reply_to == "<poisoned@council.example.gov.uk>"]
    assert [r.subject.split(":")[0] for r in rejection] == ["Action needed"]
    [acknowledged] = [r.subject.strip() for r in sent_replies(mailbox)
                      if r.in_reply_to == crlf["Message-ID"] and r.subject.strip().startswith("Received")]
    assert acknowledged == f"Received: Blue Badge application Bcc: eve@example.net [{clerk_reference(crlf['Message-ID'])}]"
    assert all(b"\nBcc" not in path.read_bytes() for path in mailbox.folder("sent")), "no header of the sender's making"


class BuggyMailbox(LocalMailbox):
    """The local mailbox, with a bug in replying to one sender (an unexpected exception, not a ClerkError)."""

    def reply(self, email, subject, body, attachments=None, key=None):
        if email.sender == "priya.shah@council.example.gov.uk":
            raise ValueError("a bug in composing this reply")
        return super().reply(email, subject, body, attachments, key=key)


def test_a_bug_in_one_email_parks_it_alone(tmp_path, prefect_api):
    settings = settings_in(tmp_path)
    mailbox = BuggyMailbox(settings.mailbox.root, settings.mailbox.address)
    rng = random.Random(33)
    for sender in (STAFF, "priya.shah@council.example.gov.uk", STAFF):
        mailbox.deliver(application_email(sender, blue_badge_pdf(applicant(rng))))
    results = run_pass(settings, mailbox, FakeCasebook())
    assert sorted((r.outcome, r.code) for r in results) == [("created", None), ("created", None),
                                                            ("system_error", "UNEXPECTED")]
    assert mailbox.folder("processing") == [] and len(mailbox.folder("exceptions")) == 1


def claim_as(settings, mailbox, message, owner: str, lease_until: float) -> str:
    """Leave ``message`` in Processing held by ``owner`` (a worker that is busy, or stopped)."""
    from connectors.ledger import SqliteLedger

    mailbox.deliver(message)
    [email] = mailbox.list_new()
    reference = clerk_reference(email.message_id)
    ledger = SqliteLedger(settings.ledger.path)
    claim = ledger.claim(reference, email.message_id, owner, lease_s=60)
    ledger._db.execute("UPDATE work_items SET lease_until = ? WHERE reference = ?", (lease_until, reference))
    ledger.update(reference, "keying", fence=claim.fence, process="blue_badge")
    ledger.close()
    mailbox.claim(email)
    return reference


@pytest.mark.parametrize("owner", ["live-on-this-host", "on-another-host"])
def test_mail_a_live_worker_holds_is_left_alone_until_its_lease_runs_out(tmp_path, prefect_api, owner):
    import socket
    import time

    from connectors.ledger import SqliteLedger

    settings = settings_in(tmp_path)
    mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
    holder = (f"{socket.gethostname()}/{os.getpid()}/busy" if owner == "live-on-this-host"
              else "worker-2.council.example/4242/busy")
    reference = claim_as(settings, mailbox, application_email(STAFF, blue_badge_pdf(applicant(random.Random(34)))),
                         holder, time.time() + 600)
    casebook = FakeCasebook()

    assert run_pass(settings, mailbox, casebook) == []
    assert len(mailbox.folder("processing")) == 1 and casebook.calls == 0, "a live worker's email is not touched"

    ledger = SqliteLedger(settings.ledger.path)
    ledger._db.execute("UPDATE work_items SET lease_until = 0 WHERE reference = ?", (reference,))
    ledger.close()
    [result] = run_pass(settings, mailbox, casebook)
    assert (result.reference, result.outcome, result.folder) == (reference, "created", "done")
    steps = [(e["step"], e["outcome"]) for e in audit_events(settings.audit.path) if e.get("reference") == reference]
    assert ("recover", "taken_over") in steps


def test_a_dead_workers_mail_on_this_host_is_taken_over_at_once(tmp_path, prefect_api):
    import socket
    import time

    settings = settings_in(tmp_path)
    mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    claim_as(settings, mailbox, application_email(STAFF, blue_badge_pdf(applicant(random.Random(35)))),
             f"{socket.gethostname()}/{dead.pid}/gone", time.time() + 600)
    [result] = run_pass(settings, mailbox, FakeCasebook())
    assert (result.outcome, result.folder) == ("created", "done"), "no waiting for a dead process's lease"


def test_mail_in_processing_with_no_ledger_item_goes_back_and_is_processed(tmp_path, prefect_api):
    settings = settings_in(tmp_path)
    mailbox = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
    mailbox.deliver(application_email(STAFF, blue_badge_pdf(applicant(random.Random(36)))))
    [email] = mailbox.list_new()
    mailbox.claim(email)  # as an older Clerk did: the move, with no ledger row first
    [result] = run_pass(settings, mailbox, FakeCasebook())
    assert (result.outcome, result.folder) == ("created", "done")
    assert mailbox.folder("processing") == [] and mailbox.folder("inbox") == []


def test_listing_a_folder_skips_an_email_that_vanished_meanwhile(tmp_path):
    mailbox = LocalMailbox(tmp_path / "mail", "clerk@council.example.gov.uk")
    mailbox.deliver(application_email(STAFF, None))
    [present] = mailbox.folder("inbox")
    assert [email.id for email in mailbox._read_all([present.with_name("gone.eml"), present])] == [present.name]
