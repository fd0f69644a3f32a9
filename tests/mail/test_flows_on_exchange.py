"""The flows run unchanged on Exchange: only the settings change from the local folder to EWS or Graph.

Settings are built the way a council's config file would give them, and the composition root builds the
adapter from them (no adapter is passed in); Casebook is faked behind its port to keep this fast.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter

import pytest

from connectors.settings import EwsSettings, GraphSettings, MailboxSettings, Secrets
from flows.bootstrap import bootstrap, use_services
from flows.intake import intake
from sandbox.mailgen import application_email, demo_batch
from tests.fakes.casebook import FakeCasebook
from tests.flow_harness import REPLY_SUBJECT, settings_in

pytestmark = pytest.mark.prefect
STAFF = "priya.shah@council.example.gov.uk"


@contextlib.contextmanager
def graph_backend(tmp_path):
    from tests.graph_server import GraphServer

    with GraphServer(tmp_path / "graph") as server:
        mailbox = MailboxSettings(kind="graph", address=server.mailbox, ca_file=server.ca_file, busy_max_wait_s=2,
                                  graph=GraphSettings(tenant_id=server.tenant_id, client_id=server.client_id,
                                                      authority_host=server.authority_host,
                                                      graph_url=server.graph_url))
        yield server, mailbox, Secrets(mail_client_secret=server.client_secret)


class _ExchangeDelivery:
    """Delivers as Exchange files mail: a message carrying the internal mark came from inside."""

    def __init__(self, server) -> None:
        self._server = server

    def deliver(self, message) -> None:
        self._server.deliver(message, internal="X-MS-Exchange-Organization-AuthAs" in message)

    def __getattr__(self, name):
        return getattr(self._server, name)


@contextlib.contextmanager
def ews_backend(tmp_path):
    from tests.mail.backends.ews import PASSWORD, USER, ews_server

    with ews_server(tmp_path) as server:
        mailbox = MailboxSettings(kind="ews", address=server.mailbox, ca_file=server.ca_file, busy_max_wait_s=2,
                                  folders={"processing": "Processing", "done": "Done", "exceptions": "Exceptions"},
                                  ews=EwsSettings(url=server.url, username=USER, auth_type="NTLM",
                                                  version="Exchange2016"))

        class Server(_ExchangeDelivery):
            def sent_messages(self):
                return server.sent()

            def folder_subjects(self, name):
                return server.folder_subjects(name)

        yield Server(server), mailbox, Secrets(mail_password=PASSWORD)


BACKENDS = {"ews": ews_backend, "graph": graph_backend}


@pytest.mark.parametrize("kind", sorted(BACKENDS))
def test_a_demo_batch_runs_unchanged_on_an_exchange_backend(tmp_path, prefect_api, kind):
    batch = demo_batch(seed=random.Random(kind).randrange(1000), valid=4)
    unmatched = application_email(STAFF, None, subject="Parking permit renewal", to="clerk@council.example.gov.uk")
    batch.add(unmatched, "rejected")  # no rule matches: Exceptions, with a polite reply
    casebook = FakeCasebook()
    with BACKENDS[kind](tmp_path) as (server, mailbox_settings, secrets):
        settings = settings_in(tmp_path)
        settings.mailbox = mailbox_settings
        for message in batch.messages:
            server.deliver(message)
        services = bootstrap(settings, secrets=secrets, casebook_factory=lambda _: casebook)
        with use_services(services):
            results = intake()
        sent = server.sent_messages()
        folders = {name: server.folder_subjects(name) for name in ("inbox", "Processing", "Done", "Exceptions")}

    outcomes = Counter("sender_not_allowed" if (r.code or "").startswith("SENDER_") else r.outcome for r in results)
    assert outcomes == Counter(batch.expected)
    assert {r.code for r in results if r.outcome == "rejected"} >= {"NO_ROUTE", "FORM_INVALID"}
    assert len(casebook.cases) == batch.distinct_valid
    assert folders["inbox"] == [] and folders["Processing"] == []
    assert len(folders["Done"]) + len(folders["Exceptions"]) == len(batch.messages)
    threads: dict[str, list[str]] = {}
    for reply in sent:
        threads.setdefault(str(reply["In-Reply-To"]).strip(), []).append(str(reply["Subject"]))
    for message, expected in zip(batch.messages, batch.expected, strict=True):
        subjects = threads.get(str(message["Message-ID"]), [])
        if expected == "sender_not_allowed":
            assert subjects == [], "no reply to a sender Exchange did not vouch for"
        elif expected == "duplicate_delivery":  # the second copy adds no reply to its original's
            assert len(subjects) == len({subject.split(":")[0] for subject in subjects}), subjects
        else:
            assert any(subject.startswith(REPLY_SUBJECT[expected]) for subject in subjects), (expected, subjects)
