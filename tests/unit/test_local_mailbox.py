import threading

import pytest

from connectors.errors import AlreadyClaimed
from connectors.mail.local import LocalMailbox
from sandbox.mailgen import application_email


@pytest.fixture
def mailbox(tmp_path):
    return LocalMailbox(tmp_path / "mail", "clerk@council.example.gov.uk")


def test_lists_new_mail_oldest_first_without_reading_bodies(mailbox):
    for n in range(3):
        mailbox.deliver(application_email(f"s{n}@council.example.gov.uk", b"%PDF-1.4 x", subject=f"Blue Badge {n}"))
    new = mailbox.list_new()
    assert [email.subject for email in new] == ["Blue Badge 0", "Blue Badge 1", "Blue Badge 2"]
    assert new[0].attachment_names == ()
    assert mailbox.list_new(limit=2)[-1].subject == "Blue Badge 1"


def test_claim_moves_to_processing_and_reads_the_email(mailbox):
    mailbox.deliver(application_email("Priya.Shah@Council.Example.Gov.UK", b"%PDF-1.4 form", filename="bb.pdf"))
    [new] = mailbox.list_new()
    claimed = mailbox.claim(new)
    assert claimed.sender == "priya.shah@council.example.gov.uk"
    assert claimed.attachment_names == ("bb.pdf",)
    assert mailbox.folder("inbox") == [] and len(mailbox.folder("processing")) == 1
    [attachment] = mailbox.attachments(claimed)
    assert attachment.data == b"%PDF-1.4 form" and attachment.content_type == "application/pdf"


def test_two_workers_racing_for_one_email_claim_it_once(mailbox):
    mailbox.deliver(application_email("a@council.example.gov.uk", None))
    [new] = mailbox.list_new()
    outcomes, barrier = [], threading.Barrier(8)

    def worker():
        barrier.wait()
        try:
            mailbox.claim(new)
            outcomes.append("won")
        except AlreadyClaimed:
            outcomes.append("lost")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost"] * 7 + ["won"]


def test_reply_is_threaded_and_move_finishes_the_email(mailbox):
    mailbox.deliver(application_email("a@council.example.gov.uk", None, message_id="<m1@council.example.gov.uk>"))
    claimed = mailbox.claim(mailbox.list_new()[0])
    mailbox.reply(claimed, "Received [CLK-1]", "Thanks")
    [sent] = mailbox.folder("sent")
    text = sent.read_text()
    assert "In-Reply-To: <m1@council.example.gov.uk>" in text
    assert "To: a@council.example.gov.uk" in text and "From: clerk@council.example.gov.uk" in text
    mailbox.move(claimed, "done")
    assert len(mailbox.folder("done")) == 1 and mailbox.folder("processing") == []


def test_an_email_the_email_package_cannot_read_is_listed_and_claimed_never_raised(mailbox):
    mailbox.deliver(application_email("a@council.example.gov.uk", b"%PDF-1.4 x", subject="first"))
    (mailbox.root / "inbox" / "20000101T000000000000-bad.eml").write_bytes(
        b"From: b@council.example.gov.uk\r\nSubject: Blue Badge\r\nMessage-ID: <bad@x>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nhello\r\n")
    bad, good = mailbox.list_new()
    claimed = mailbox.claim(bad)
    assert (claimed.message_id, claimed.sender, claimed.subject) == ("<bad@x>", "b@council.example.gov.uk", "Blue Badge")
    assert claimed.unreadable and "x-no-such-charset" in claimed.unreadable
    assert mailbox.move(claimed, "exceptions").id == claimed.id
    assert mailbox.claim(good).unreadable is None


def test_a_keyed_reply_is_written_once_and_a_subject_never_carries_a_line_break(mailbox):
    mailbox.deliver(application_email("a@council.example.gov.uk", None))
    email = mailbox.claim(mailbox.list_new()[0])
    mailbox.reply(email, "Received: one\r\nBcc: eve@example.net", "body", key="CLK-A/acknowledgement")
    mailbox.reply(email, "Received: one", "body", key="CLK-A/acknowledgement")
    mailbox.reply(email, "Received: two", "body", key="CLK-A/result")
    [first, second] = mailbox.folder("sent")
    assert b"Subject: Received: one Bcc: eve@example.net\r\n" in first.read_bytes()
    assert b"Received: two" in second.read_bytes()
