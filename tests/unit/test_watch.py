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


class HeldCasebook(FakeCasebook):
    """Casebook that holds the first keying until the test lets it go (a slow save)."""

    def __init__(self) -> None:
        super().__init__()
        self.started, self.release = threading.Event(), threading.Event()

    def key(self, application, clerk_ref):
        if not self.started.is_set():
            self.started.set()
            assert self.release.wait(120)
        return super().key(application, clerk_ref)


def test_new_mail_gets_its_own_pass_while_an_earlier_one_is_keying_and_a_resend_never_races(tmp_path, prefect_api):
    import contextvars
    import time

    from tests.flow_harness import sent_replies

    settings = settings_in(tmp_path)
    settings.mailbox = settings.mailbox.model_copy(update={"poll_interval_s": 0.05, "passes_at_once": 2})
    local = LocalMailbox(settings.mailbox.root, settings.mailbox.address, poll_interval_s=0.05)
    rng = random.Random(17)
    person, other = applicant(rng), applicant(rng)
    first = application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(person))
    resend = application_email("tom.ellis@council.example.gov.uk", blue_badge_pdf(person), subject="FW: Blue Badge")
    unrelated = application_email("priya.shah@council.example.gov.uk", blue_badge_pdf(other))
    casebook = HeldCasebook()
    stop = threading.Event()
    services = bootstrap(settings, mailbox=local, casebook_factory=lambda _: casebook)

    def acknowledged(message) -> bool:
        return any(r.in_reply_to == message["Message-ID"] and r.subject.startswith("Received")
                   for r in sent_replies(local))

    def until(condition, what):
        deadline = time.monotonic() + 120
        while not condition():
            assert time.monotonic() < deadline, what
            time.sleep(0.05)

    with use_services(services):
        runner = threading.Thread(target=contextvars.copy_context().run,
                                  args=(lambda: watch_mailbox(services, stop, intake),))
        runner.start()
        try:
            local.deliver(first)
            assert casebook.started.wait(120), "the first pass reached Casebook"
            local.deliver(resend)
            local.deliver(unrelated)
            until(lambda: acknowledged(resend) and acknowledged(unrelated), "a second pass acknowledged the new mail")
            until(lambda: len(local.folder("done")) == 1, "the unrelated form was keyed while the first was held")
            assert len(casebook.cases) == 1, "the held form is not keyed yet"
        finally:
            casebook.release.set()
            until(lambda: len(local.folder("done")) == 3, "every email was finished")
            stop.set()
            runner.join(timeout=60)
    outcomes = sorted(case["surname"] for case in casebook.cases.values())
    assert outcomes == sorted([person["surname"], other["surname"]]), "the resend did not make a second case"
    answers = {r.in_reply_to: r.subject for r in sent_replies(local) if not r.subject.startswith("Received")}
    assert answers[first["Message-ID"]].startswith("Blue Badge application keyed")
    assert answers[resend["Message-ID"]].startswith("Application already held"), "the resend waited for its original"
