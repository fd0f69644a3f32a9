"""The Graph watcher: delta queries on the Inbox, polling where delta is refused, and surviving what a
long-running watcher meets (a restarted server, a forgotten delta token, throttling, an outage)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from connectors.errors import MailboxUnavailable
from connectors.mail.graph import GraphMailbox
from tests.graph_server import GraphServer
from tests.mail.backends.graph import graph_mailbox
from tests.mail.messages import message


@pytest.fixture
def server(tmp_path) -> Iterator[GraphServer]:
    with GraphServer(tmp_path) as running:
        yield running


@pytest.fixture
def mailbox(server) -> Iterator[GraphMailbox]:
    opened = graph_mailbox(server)
    yield opened
    opened.close()


def deltas(server: GraphServer) -> list:
    return [r for r in server.graph_requests() if r.path.endswith("/messages/delta")]


def test_delta_wakes_for_new_mail_but_not_for_mail_leaving_or_being_read(server, mailbox):
    server.deliver(message("already there", pdf=None))
    watcher = mailbox.watch()
    try:
        assert watcher.mode == "delta"
        assert watcher.wait(0.2) is False  # mail from before watching is the baseline, not news
        [old] = mailbox.list_new()
        mailbox.claim(old)
        assert watcher.wait(0.2) is False
        server.deliver(message("new", pdf=None))
        assert watcher.wait(5) is True
        server.store.update(mailbox.list_new()[0].id, is_read=True)  # someone opened it in Outlook
        assert watcher.wait(0.2) is False
    finally:
        watcher.close()
    first = deltas(server)[0].query
    assert first == {"$select": "id,isRead"} and "odata.maxpagesize" in deltas(server)[0].prefer


def test_delta_rounds_spanning_pages_are_followed_to_their_delta_link(server, mailbox):
    server.page_size_cap = 1
    for n in range(3):
        server.deliver(message(f"before {n}", pdf=None))
    watcher = mailbox.watch()
    try:
        assert len(deltas(server)) == 3  # the baseline round, one message a page
        assert watcher.wait(0.2) is False
        server.deliver(message("new 1", pdf=None))
        server.deliver(message("new 2", pdf=None))
        assert watcher.wait(5) is True
        assert all("$skiptoken" in r.query for r in deltas(server)[1:3])
    finally:
        watcher.close()


def test_a_requeued_email_wakes_the_watcher(server, mailbox):
    server.deliver(message("parked", pdf=None))
    parked = mailbox.move(mailbox.claim(mailbox.list_new()[0]), "exceptions")
    watcher = mailbox.watch()
    try:
        assert watcher.wait(0.2) is False
        mailbox.requeue(parked)
        assert watcher.wait(5) is True
    finally:
        watcher.close()


def test_asks_at_most_once_per_interval_however_often_it_is_called(server):
    mailbox = graph_mailbox(server, poll_interval_s=60)
    watcher = mailbox.watch()
    for _ in range(20):
        assert watcher.wait(0) is False
    assert len(deltas(server)) == 1  # the baseline round only
    watcher.close()


def test_a_forgotten_delta_token_starts_a_new_round_and_reports_true(server, mailbox):
    watcher = mailbox.watch()
    try:
        assert watcher.wait(0.2) is False
        server.invalidate_delta_tokens()
        assert watcher.wait(5) is True  # changes since the lost token are unknown
        assert [r.status for r in deltas(server)].count(410) == 1
        assert watcher.wait(0.2) is False
        server.deliver(message("after the new round", pdf=None))
        assert watcher.wait(5) is True
    finally:
        watcher.close()


def test_a_restarted_server_is_survived_and_reported(server, mailbox):
    watcher = mailbox.watch()
    try:
        server.stop()
        assert watcher.wait(0.3) is False  # unreachable for a moment: keep waiting, do not raise
        server.start()
        assert watcher.wait(5) is True  # nothing new in the delta, but mail may have come and gone meanwhile
        assert watcher.wait(0.2) is False
        server.restart()
        server.deliver(message("after the restart", pdf=None))
        assert watcher.wait(5) is True
    finally:
        watcher.close()


def test_an_outage_longer_than_the_allowance_raises(server):
    mailbox = graph_mailbox(server, watch_unreachable_s=0.2)
    watcher = mailbox.watch()
    server.stop()
    with pytest.raises(MailboxUnavailable, match="unreachable"):
        watcher.wait(5)
    watcher.close()


def test_throttling_while_watching_is_waited_out_without_raising(server, mailbox):
    watcher = mailbox.watch()
    try:
        server.throttle(2, retry_after=0.1)
        assert watcher.wait(0.05) is False
        server.deliver(message("after the busy spell", pdf=None))
        assert watcher.wait(5) is True
        assert 429 in [r.status for r in deltas(server)]
    finally:
        watcher.close()


def test_falls_back_to_polling_where_delta_is_refused(server, mailbox):
    server.delta_supported = False
    watcher = mailbox.watch()
    try:
        assert watcher.mode == "polling"
        assert watcher.wait(0.2) is False
        server.deliver(message("polled", pdf=None))
        assert watcher.wait(5) is True
    finally:
        watcher.close()


def test_polling_only_when_configured(server):
    mailbox = graph_mailbox(server, watch_mode="polling")
    watcher = mailbox.watch()
    try:
        assert watcher.mode == "polling"
        server.deliver(message("polled", pdf=None))
        assert watcher.wait(5) is True
        assert watcher.wait(0.2) is False
        assert deltas(server) == []
    finally:
        watcher.close()


def test_close_ends_a_wait_in_progress(server, mailbox):
    watcher = mailbox.watch()
    results: list[bool] = []
    waiting = threading.Thread(target=lambda: results.append(watcher.wait(30)))
    waiting.start()
    watcher.close()
    waiting.join()
    assert results == [False]
