"""The EWS watcher: pushed notifications on a streaming subscription, its fall-backs, and what it survives.

Polling intervals are set far beyond every ``wait`` here unless a test is about polling, so a wake-up can
only come from a notification the server pushed.
"""

from __future__ import annotations

import threading

import pytest

from connectors.errors import MailboxUnavailable
from tests.mail.backends.ews import ews_mailbox, ews_server
from tests.mail.messages import message

PUSH_ONLY = 600.0


@pytest.fixture
def server(tmp_path):
    # A streaming "minute" of 0.3 s: connections end (ConnectionTimeout) and are renewed many times per test.
    with ews_server(tmp_path, minute_s=0.3, heartbeat_s=0.1) as running:
        yield running


@pytest.fixture
def mailbox(server):
    opened = ews_mailbox(server, poll_interval_s=PUSH_ONLY, watch_unreachable_s=5)
    yield opened
    opened.close()


@pytest.fixture
def watcher(server, mailbox):
    opened = mailbox.watch()
    assert server.wait_for_streams(1)
    yield opened
    opened.close()


def test_a_streaming_subscription_wakes_the_watcher_when_mail_arrives(server, mailbox, watcher):
    assert watcher.mode == "streaming"
    assert watcher.wait(0.2) is False, "nothing arrived yet"
    server.deliver(message("Blue Badge pushed", pdf=None))
    assert watcher.wait(PUSH_ONLY / 10) is True
    assert watcher.wait(0.2) is False, "one arrival, one wake-up"
    assert [email.subject for email in mailbox.list_new()] == ["Blue Badge pushed"]
    ops = server.operations()
    assert ops.count("Subscribe") == 1 and "GetEvents" not in ops


def test_mail_arriving_while_the_caller_is_busy_is_reported_at_the_next_wait(server, watcher):
    server.deliver(message("Blue Badge early", pdf=None))
    server.deliver(message("Blue Badge early 2", pdf=None))
    assert server.wait_for_streams(1)
    assert watcher.wait(PUSH_ONLY / 10) is True


def test_clerks_own_moves_out_of_the_inbox_do_not_wake_it_but_a_requeue_does(server, mailbox, watcher):
    server.deliver(message("Blue Badge moved", pdf=None))
    assert watcher.wait(PUSH_ONLY / 10) is True
    claimed = mailbox.claim(mailbox.list_new()[0])
    parked = mailbox.move(claimed, "exceptions")
    assert watcher.wait(0.5) is False, "claims and moves elsewhere are not new mail"
    mailbox.requeue(parked)
    assert watcher.wait(PUSH_ONLY / 10) is True


def test_connections_that_end_after_their_timeout_are_renewed_on_the_same_subscription(server, watcher):
    streams_before = server.operations().count("GetStreamingEvents")
    assert watcher.wait(1.2) is False, "several ConnectionTimeouts pass quietly"
    assert server.operations().count("GetStreamingEvents") >= streams_before + 2
    assert server.operations().count("Subscribe") == 1
    server.deliver(message("Blue Badge later", pdf=None))
    assert watcher.wait(PUSH_ONLY / 10) is True


def test_a_dropped_connection_means_subscribing_again_and_reporting_true(server, watcher):
    server.drop_streams()
    assert watcher.wait(PUSH_ONLY / 10) is True, "mail may have arrived while it was not listening"
    assert server.operations().count("Subscribe") == 2
    assert server.wait_for_streams(1)
    server.deliver(message("Blue Badge after drop", pdf=None))
    assert watcher.wait(PUSH_ONLY / 10) is True


def test_a_restarted_server_that_forgot_the_subscription(server, watcher):
    server.restart()
    assert watcher.wait(PUSH_ONLY / 10) is True
    assert server.wait_for_streams(1)
    server.deliver(message("Blue Badge after restart", pdf=None))
    assert watcher.wait(PUSH_ONLY / 10) is True


@pytest.mark.parametrize("code", ["ErrorExpiredSubscription", "ErrorSubscriptionNotFound"])
def test_an_expired_subscription_is_replaced(server, watcher, code):
    server.expire_subscriptions(code)
    assert watcher.wait(PUSH_ONLY / 10) is True
    assert server.operations().count("Subscribe") == 2
    assert server.wait_for_streams(1)
    server.deliver(message("Blue Badge after expiry", pdf=None))
    assert watcher.wait(PUSH_ONLY / 10) is True


def test_a_server_that_stays_down_is_reported_as_unavailable(server, tmp_path):
    mailbox = ews_mailbox(server, poll_interval_s=PUSH_ONLY, watch_unreachable_s=0.5)
    watcher = mailbox.watch()
    try:
        assert server.wait_for_streams(1)
        server.stop()
        with pytest.raises(MailboxUnavailable, match="unreachable"):
            while True:  # returns True once (it lost its connection), then raises when the limit passes
                watcher.wait(PUSH_ONLY / 10)
    finally:
        watcher.close()
        mailbox.close()


def test_close_unsubscribes_and_ends_the_stream(server, mailbox):
    watcher = mailbox.watch()
    assert server.wait_for_streams(1)
    watcher.close()
    assert "Unsubscribe" in server.operations()
    assert server.store.subscriptions == {}
    assert server.wait_for_streams(0)
    assert watcher.wait(0.1) is False


def test_the_stream_has_its_own_connection_so_the_intake_is_never_held_up(server):
    mailbox = ews_mailbox(server, max_connections=1, poll_interval_s=PUSH_ONLY, timeout_s=3)
    watcher = mailbox.watch()
    try:
        assert server.wait_for_streams(1)
        server.deliver(message("Blue Badge while streaming", pdf=None))
        assert [email.subject for email in mailbox.list_new()] == ["Blue Badge while streaming"]
    finally:
        watcher.close()
        mailbox.close()


def test_without_streaming_it_polls_a_pull_subscription(tmp_path):
    with ews_server(tmp_path, subscriptions=("pull",)) as server:
        mailbox = ews_mailbox(server, poll_interval_s=0.05)
        watcher = mailbox.watch()
        try:
            assert watcher.mode == "polling"
            assert watcher.wait(0.3) is False, "the pull subscription reports no events: no wake-up"
            server.deliver(message("Blue Badge pulled", pdf=None))
            assert watcher.wait(PUSH_ONLY / 10) is True
            assert server.operations().count("GetEvents") >= 2
            server.expire_subscriptions()
            assert watcher.wait(PUSH_ONLY / 10) is True, "a new pull subscription: mail may have arrived"
            assert server.operations().count("Subscribe") == 3  # streaming refused, pull, pull again
        finally:
            watcher.close()
            mailbox.close()


def test_without_any_subscription_it_wakes_every_interval(tmp_path):
    with ews_server(tmp_path, subscriptions=()) as server:
        mailbox = ews_mailbox(server, poll_interval_s=0.05)
        watcher = mailbox.watch()
        try:
            assert watcher.mode == "polling"
            assert watcher.wait(PUSH_ONLY / 10) is True
        finally:
            watcher.close()
            mailbox.close()


def test_polling_can_be_chosen(server):
    mailbox = ews_mailbox(server, watch_mode="polling", poll_interval_s=0.05)
    watcher = mailbox.watch()
    try:
        assert watcher.mode == "polling"
        arrived = threading.Timer(0.2, server.deliver, [message("Blue Badge polled", pdf=None)])
        arrived.start()
        assert watcher.wait(PUSH_ONLY / 10) is True
        arrived.join()
        assert "GetStreamingEvents" not in server.operations()
    finally:
        watcher.close()
        mailbox.close()
