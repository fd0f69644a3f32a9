"""Throttling: ErrorServerBusy is honoured with its BackOffMilliseconds, within a bounded total wait, after
which the adapter gives up with MailboxThrottled and the email stays where it was."""

from __future__ import annotations

import pytest

from connectors.errors import MailboxThrottled, MailboxUnavailable
from connectors.mail import Attachment
from tests.mail.backends.ews import ews_mailbox, ews_server
from tests.mail.messages import message


@pytest.fixture
def server(tmp_path):
    with ews_server(tmp_path) as running:
        yield running


def attempts(server, operation: str) -> list[float]:
    """When each request for ``operation`` arrived (monotonic seconds)."""
    return [r.at for r in server.requests if r.operation == operation and r.status != 401]


def test_a_busy_server_is_waited_for_as_long_as_it_asks(server):
    mailbox = ews_mailbox(server, busy_max_wait_s=5)
    server.deliver(message("Blue Badge busy", pdf=None))
    mailbox.list_new()  # folders open, signed in
    server.busy(times=2, back_off_ms=150, operations={"FindItem"})
    assert [email.subject for email in mailbox.list_new()] == ["Blue Badge busy"]
    mailbox.close()
    times = attempts(server, "FindItem")[1:]
    assert len(times) == 3, "two busy answers, then the one that worked"
    assert all(later - earlier >= 0.15 for earlier, later in zip(times, times[1:], strict=False)), (
        "each retry waited at least the BackOffMilliseconds the server asked for")


def test_a_server_busy_beyond_the_bounded_wait_leaves_the_email_where_it_was(server):
    mailbox = ews_mailbox(server, busy_max_wait_s=0.5)
    server.deliver(message("Blue Badge throttled", pdf=None))
    [email] = mailbox.list_new()
    server.busy(times=None, back_off_ms=100, operations={"MoveItem"})
    with pytest.raises(MailboxThrottled) as raised:
        mailbox.claim(email)
    mailbox.close()
    assert raised.value.code == "MAILBOX_THROTTLED" and isinstance(raised.value, MailboxUnavailable)
    assert "0.5 s" in raised.value.message and "stays where it was" in raised.value.message
    assert len(attempts(server, "MoveItem")) >= 2, "it retried within its budget"
    [still] = server.folder_items("inbox")
    assert still.id == email.id and not still.is_read
    assert server.folder_items("Processing") == []


def test_a_back_off_longer_than_the_budget_gives_up_at_once(server):
    mailbox = ews_mailbox(server, busy_max_wait_s=1)
    mailbox.list_new()
    server.busy(times=None, back_off_ms=60_000)
    with pytest.raises(MailboxThrottled):
        mailbox.list_new()
    mailbox.close()
    assert len(attempts(server, "FindItem")) == 2, "one normal listing, one busy answer, no pointless wait"


def test_a_busy_answer_mid_reply_retries_that_step_and_sends_once(server):
    mailbox = ews_mailbox(server, busy_max_wait_s=5)
    server.deliver(message("Blue Badge reply", pdf=None))
    claimed = mailbox.claim(mailbox.list_new()[0])
    server.busy(times=1, back_off_ms=50, operations={"CreateAttachment"})
    mailbox.reply(claimed, "Keyed", "Done", [Attachment("receipt.txt", "text/plain", b"ok")])
    mailbox.close()
    assert len(attempts(server, "CreateItem")) == 1 and len(attempts(server, "CreateAttachment")) == 2
    assert len(server.sent()) == 1 and server.folder_items("drafts") == []


def test_a_busy_subscription_is_retried_too(server):
    mailbox = ews_mailbox(server, busy_max_wait_s=5, poll_interval_s=600)
    mailbox.list_new()
    server.busy(times=1, back_off_ms=50, operations={"Subscribe"})
    watcher = mailbox.watch()
    try:
        assert watcher.mode == "streaming"
        assert server.wait_for_streams(1)
        server.deliver(message("Blue Badge after busy", pdf=None))
        assert watcher.wait(60) is True
    finally:
        watcher.close()
        mailbox.close()
    assert len(attempts(server, "Subscribe")) == 2
