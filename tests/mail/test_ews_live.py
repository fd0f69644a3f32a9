"""Opt-in: the EWS adapter against a real on-premises Exchange server.

Runs only when CLERK_TEST_EWS_URL, CLERK_TEST_EWS_MAILBOX, CLERK_TEST_EWS_USERNAME and
CLERK_TEST_EWS_PASSWORD are set (optionally CLERK_TEST_EWS_AUTH_TYPE, default NTLM; CLERK_TEST_EWS_VERSION,
default Exchange2016; CLERK_TEST_EWS_CA_FILE for an internal CA). Point it at a test mailbox the account
has Full Access to: the test mails the mailbox itself and handles only that mail, in folders of its own
("Clerk test Processing", "... Done", "... Exceptions"), so a live Clerk's folders are never touched.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

from connectors.errors import AlreadyClaimed
from connectors.mail import Attachment, Email
from connectors.mail.ews import EwsMailbox

_REQUIRED = ("CLERK_TEST_EWS_URL", "CLERK_TEST_EWS_MAILBOX", "CLERK_TEST_EWS_USERNAME", "CLERK_TEST_EWS_PASSWORD")
pytestmark = pytest.mark.skipif(any(not os.environ.get(name) for name in _REQUIRED),
                                reason=f"set {', '.join(_REQUIRED)} to test against a real Exchange server")
_TEST_FOLDERS = {"processing": "Clerk test Processing", "done": "Clerk test Done",
                 "exceptions": "Clerk test Exceptions"}
_DELIVERY_S = 120


@pytest.fixture
def mailbox():
    opened = EwsMailbox(
        url=os.environ["CLERK_TEST_EWS_URL"], mailbox=os.environ["CLERK_TEST_EWS_MAILBOX"],
        username=os.environ["CLERK_TEST_EWS_USERNAME"], password=os.environ["CLERK_TEST_EWS_PASSWORD"],
        auth_type=os.environ.get("CLERK_TEST_EWS_AUTH_TYPE", "NTLM"),  # type: ignore[arg-type]
        version=os.environ.get("CLERK_TEST_EWS_VERSION", "Exchange2016"),
        ca_file=os.environ.get("CLERK_TEST_EWS_CA_FILE") or None, folders=_TEST_FOLDERS, poll_interval_s=10,
    )
    yield opened
    opened.close()


def _delivered(mailbox: EwsMailbox, marker: str) -> Email:
    """The new email whose subject carries ``marker``, waiting for it with the mailbox's watcher."""
    watcher = mailbox.watch()
    try:
        give_up = time.monotonic() + _DELIVERY_S
        while time.monotonic() < give_up:
            matching = [email for email in mailbox.list_new() if marker in email.subject]
            if matching:
                return matching[0]
            watcher.wait(min(15.0, max(give_up - time.monotonic(), 0.1)))
    finally:
        watcher.close()
    pytest.fail(f"no email marked {marker} arrived within {_DELIVERY_S} s")


def test_one_email_from_arrival_to_done_on_a_real_exchange(mailbox):
    address = os.environ["CLERK_TEST_EWS_MAILBOX"].lower()
    marker = f"clerk-ews-live-{uuid.uuid4().hex[:8]}"
    form = b"%PDF-1.4\n% Clerk EWS live test\n%%EOF\n"
    mailbox.send([address], f"Blue Badge application {marker}", "Form attached.",
                 [Attachment("form.pdf", "application/pdf", form)])

    email = _delivered(mailbox, marker)
    assert email.sender == address and address in email.to
    assert email.headers.get("X-MS-Exchange-Organization-AuthAs"), "the sender check relies on this header"

    claimed = mailbox.claim(email)
    with pytest.raises(AlreadyClaimed):
        mailbox.claim(email)
    assert claimed.attachment_names == ("form.pdf",) and "Form attached." in claimed.body
    assert [(a.filename, a.data) for a in mailbox.attachments(claimed)] == [("form.pdf", form)]
    assert mailbox.find_claimed(claimed.id).message_id == email.message_id

    mailbox.reply(claimed, f"Received {marker}-ack", "Thank you.")
    mailbox.reply(claimed, f"Keyed {marker}-result", "Done.", [Attachment("receipt.txt", "text/plain", b"ok")])
    parked = mailbox.move(claimed, "exceptions")
    assert email.message_id in {e.message_id for e in mailbox.list_folder("exceptions")}
    requeued = mailbox.requeue(parked)
    assert requeued.id in {e.id for e in mailbox.list_new()}
    mailbox.move(mailbox.claim(requeued), "done")

    for suffix in ("-ack", "-result"):  # the replies went to the sender, which is the mailbox itself
        reply = _delivered(mailbox, marker + suffix)
        assert reply.headers.get("In-Reply-To", "").strip() == email.message_id
        mailbox.move(mailbox.claim(reply), "done")
