"""`clerk watch`: every email delivered while it runs is processed once, and mailbox faults do not stop it."""

from __future__ import annotations

import random
import threading

import pytest

from connectors.errors import MailboxUnavailable
from connectors.mail.local import LocalMailbox
from flows.bootstrap import bootstrap, use_services
from flows.intake import intake
from flows.watch import watch_mailbox
from sandbox.forms import applicant, blue_badge_pdf
from sandbox.mailgen import application_email
from tests.fakes.casebook import FakeCasebook
from tests.flow_harness import settings_in

pytestmark = pytest.mark.prefect


class FlakyMailbox:
    """The local mailbox behind our own port, whose watcher drops its connection ``drops`` times."""

    def __init__(self, inner: LocalMailbox, drops: int) -> None:
        self._inner = inner
        self.drops = drops
        self.watchers = 0

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def watch(self):
        self.watchers += 1
        watcher = self._inner.watch()
        flaky = self

        class Dropping:
            mode = watcher.mode

            def wait(self, timeout):
                if flaky.drops:
                    flaky.drops -= 1
                    raise MailboxUnavailable("connection reset by peer")
                return watcher.wait(timeout)

            def close(self):
                watcher.close()

        return Dropping()


def test_watch_processes_each_email_once_and_survives_dropped_connections(tmp_path, prefect_api):
    settings = settings_in(tmp_path)
    settings.mailbox = settings.mailbox.model_copy(update={"poll_interval_s": 0.05})
    local = LocalMailbox(settings.mailbox.root, settings.mailbox.address, poll_interval_s=0.05)
    mailbox = FlakyMailbox(local, drops=2)
    rng = random.Random(9)
    early = application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(applicant(rng)))
    later = [application_email("priya.shah@council.example.gov.uk", blue_badge_pdf(applicant(rng))) for _ in range(3)]
    local.deliver(early)  # arrived before the watcher started: the first look finds it

    stop = threading.Event()
    casebook = FakeCasebook()
    done_count = threading.Semaphore(0)

    def run_pass():
        results = intake()
        for _ in results:
            done_count.release()

    services = bootstrap(settings, mailbox=mailbox, casebook_factory=lambda _: casebook)
    with use_services(services):
        import contextvars

        runner = threading.Thread(target=contextvars.copy_context().run,
                                  args=(lambda: watch_mailbox(services, stop, run_pass),))
        runner.start()
        try:
            assert done_count.acquire(timeout=120)
            for message in later:
                local.deliver(message)
            for _ in later:
                assert done_count.acquire(timeout=120), "an email delivered while watching was not processed"
        finally:
            stop.set()
            runner.join(timeout=60)
    assert not runner.is_alive()
    assert mailbox.drops == 0 and mailbox.watchers >= 2, "the watcher is re-created after a dropped connection"
    assert len(local.folder("done")) == 4 and local.folder("inbox") == [] and local.folder("processing") == []
    assert len(casebook.cases) == 4


def test_emails_a_stopped_worker_left_in_processing_go_back_to_the_inbox(tmp_path):
    from datetime import UTC, datetime, timedelta

    from connectors.ledger import clerk_reference
    from flows.watch import requeue_stranded

    settings = settings_in(tmp_path)
    local = LocalMailbox(settings.mailbox.root, settings.mailbox.address)
    rng = random.Random(10)
    messages = [application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(applicant(rng))) for _ in range(3)]
    services = bootstrap(settings, mailbox=local)
    for message, state in zip(messages, ("keying", "waiting", "done"), strict=True):
        local.deliver(message)
        local.claim(local.list_new()[0])
        reference = clerk_reference(message["Message-ID"])
        services.ledger.open(reference, message["Message-ID"], "blue_badge")
        services.ledger.update(reference, state)
    keying, waiting, _ = (clerk_reference(m["Message-ID"]) for m in messages)

    assert requeue_stranded(services) == [], "a worker may still be busy with them"
    later = datetime.now(UTC) + timedelta(seconds=settings.mailbox.stranded_after_s + 1)
    assert requeue_stranded(services, now=later) == [keying]
    much_later = later + timedelta(seconds=settings.review.timeout_s)
    assert requeue_stranded(services, now=much_later) == [waiting], "a waiting item gets the review time too"
    assert len(local.folder("inbox")) == 2 and len(local.folder("processing")) == 1
    services.close()
