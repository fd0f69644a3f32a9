"""Opt-in: the Graph adapter against a real Exchange Online mailbox.

Skipped unless CLERK_TEST_GRAPH_TENANT, CLERK_TEST_GRAPH_CLIENT_ID, CLERK_TEST_GRAPH_CLIENT_SECRET and
CLERK_TEST_GRAPH_MAILBOX are set. Use a test mailbox: the test sends mail to the mailbox itself, and works
only on that mail, in its own folders ("Clerk test Processing", "Clerk test Done", "Clerk test
Exceptions"), so Clerk's real folders are never touched. The app needs Mail.ReadWrite and Mail.Send
(application permissions) on the mailbox.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

from connectors.errors import AlreadyClaimed
from connectors.mail import Attachment, Email
from connectors.mail.graph import GraphMailbox

_ENV = ("CLERK_TEST_GRAPH_TENANT", "CLERK_TEST_GRAPH_CLIENT_ID", "CLERK_TEST_GRAPH_CLIENT_SECRET",
        "CLERK_TEST_GRAPH_MAILBOX")
pytestmark = pytest.mark.skipif(not all(os.environ.get(name) for name in _ENV),
                                reason="set " + ", ".join(_ENV) + " to run against Exchange Online")
_FOLDERS = {"processing": "Clerk test Processing", "done": "Clerk test Done", "exceptions": "Clerk test Exceptions"}
_ARRIVAL_S = 180


@pytest.fixture
def mailbox():
    opened = GraphMailbox(mailbox=os.environ["CLERK_TEST_GRAPH_MAILBOX"], tenant_id=os.environ["CLERK_TEST_GRAPH_TENANT"],
                          client_id=os.environ["CLERK_TEST_GRAPH_CLIENT_ID"],
                          client_secret=os.environ["CLERK_TEST_GRAPH_CLIENT_SECRET"], folders=_FOLDERS)
    yield opened
    opened.close()


def _arrival(mailbox: GraphMailbox, marker: str) -> Email:
    """Wait, by the watcher, for the unread email whose subject carries ``marker``."""
    watcher = mailbox.watch()
    try:
        deadline = time.monotonic() + _ARRIVAL_S
        while time.monotonic() < deadline:
            found = [email for email in mailbox.list_new() if marker in email.subject]
            if found:
                return found[0]
            watcher.wait(min(10.0, deadline - time.monotonic()))
    finally:
        watcher.close()
    pytest.fail(f"the email marked {marker} did not arrive within {_ARRIVAL_S} s")


def test_the_whole_path_of_one_email_on_exchange_online(mailbox):
    address = os.environ["CLERK_TEST_GRAPH_MAILBOX"].lower()
    marker = f"clerk-live-{uuid.uuid4().hex[:10]}"
    pdf = b"%PDF-1.4\n% Clerk live test\n%%EOF\n"
    mailbox.send([address], f"Blue Badge application {marker}", "Form attached.",
                 [Attachment("form.pdf", "application/pdf", pdf)])
    email = _arrival(mailbox, marker)
    assert email.sender == address and address in email.to
    assert "X-MS-Exchange-Organization-AuthAs" in email.headers, "Clerk's sender check needs this header"

    claimed = mailbox.claim(email)
    with pytest.raises(AlreadyClaimed):
        mailbox.claim(email)
    assert claimed.attachment_names == ("form.pdf",) and "Form attached." in claimed.body
    assert [(a.filename, a.data) for a in mailbox.attachments(claimed)] == [("form.pdf", pdf)]
    assert mailbox.find_claimed(claimed.id).message_id == email.message_id

    mailbox.reply(claimed, f"Received {marker}-reply", "Thank you.", [Attachment("receipt.txt", "text/plain", b"ok")])
    parked = mailbox.move(claimed, "exceptions")
    assert email.message_id in [e.message_id for e in mailbox.list_folder("exceptions")]
    requeued = mailbox.requeue(parked)
    assert requeued.id in [e.id for e in mailbox.list_new()]
    mailbox.move(mailbox.claim(requeued), "done")

    reply = _arrival(mailbox, f"{marker}-reply")  # the reply went to the sender: the mailbox itself
    mailbox.move(mailbox.claim(reply), "done")
