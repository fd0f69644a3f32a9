"""The Mailbox port's contract: every adapter (local folder, EWS, Graph) behaves the same way.

Each test runs once per backend, against the real adapter and its (loopback) server.
"""

from __future__ import annotations

import threading
from datetime import datetime
from email import policy
from email.parser import BytesParser

import pytest

from connectors.errors import AlreadyClaimed
from connectors.mail import Attachment, expand_attached_messages
from connectors.settings import Settings
from flows.routing import Trust, sender_trust
from tests.mail.messages import PDF, STAFF, message
from tests.mail.spoofs import GENUINE, SPOOFS, Case, trusting


def test_new_mail_is_listed_oldest_first_with_the_headers_sender_checks_need(backend):
    sent = [message(f"Blue Badge {i}") for i in range(3)]
    for msg in sent:
        backend.deliver(msg)
    backend.deliver(message("on behalf", Sender="mallory@example.net",
                            Authentication_Results="mx.council; dmarc=pass header.from=council.example.gov.uk"))
    listed = backend.mailbox.list_new()
    assert [email.subject for email in listed] == ["Blue Badge 0", "Blue Badge 1", "Blue Badge 2", "on behalf"]
    first = listed[0]
    assert first.message_id == sent[0]["Message-ID"]
    assert first.sender == STAFF
    assert "bluebadge@council.example.gov.uk" in first.to
    assert isinstance(first.received, datetime) and first.received.tzinfo is not None
    assert first.headers.get("X-MS-Exchange-Organization-AuthAs") == "Internal"
    assert "mallory@example.net" in listed[3].headers.get("Sender", "")
    assert "dmarc=pass" in listed[3].headers.get("Authentication-Results", "")
    assert [email.subject for email in backend.mailbox.list_new(limit=2)] == ["Blue Badge 0", "Blue Badge 1"]


def test_every_value_of_a_repeated_header_is_kept_topmost_first(backend):
    council, outside = "mx.council.example.gov.uk; dmarc=pass header.from=nhs.net", "mx.evil.example; dmarc=none"
    case = Case("repeated", (("Authentication-Results", council), ("X-MS-Exchange-Organization-AuthAs", "Internal"),
                             ("X-MS-Exchange-Organization-AuthAs", "Anonymous"), ("Authentication-Results", outside),
                             ("From", f"=?utf-8?q?Zo=C3=AB?= <{STAFF}>"), ("From", "mallory@example.net")), Trust.UNVERIFIED)
    backend.deliver(BytesParser(policy=policy.default).parsebytes(case.message()))
    [email] = backend.mailbox.list_new()
    assert email.header_values("Authentication-Results") == [council, outside]
    assert email.header_values("X-MS-Exchange-Organization-AuthAs") == ["Internal", "Anonymous"]
    assert email.header_values("From") == [f"=?utf-8?q?Zo=C3=AB?= <{STAFF}>", "mallory@example.net"]  # as sent
    assert email.headers["Authentication-Results"] == council  # the first values, as before
    assert backend.mailbox.claim(email).all_headers == email.all_headers


def test_the_sender_check_reaches_the_same_verdict_on_every_adapter(backend):
    settings = trusting(Settings())
    cases = {case.message_id: case for case in (*GENUINE, *SPOOFS)}
    for case in cases.values():
        backend.deliver(BytesParser(policy=policy.default).parsebytes(case.message()))
    verdicts = {email.message_id: sender_trust(email, settings) for email in backend.mailbox.list_new()}
    assert verdicts == {message_id: case.trust for message_id, case in cases.items()}


def test_claim_moves_to_processing_and_a_lost_race_is_already_claimed(backend):
    backend.deliver(message("Blue Badge claim"))
    [email] = backend.mailbox.list_new()
    claimed = backend.mailbox.claim(email)
    assert claimed.subject == "Blue Badge claim"
    assert claimed.attachment_names == ("form.pdf",)
    assert backend.folder_subjects("processing") == ["Blue Badge claim"]
    assert backend.folder_subjects("inbox") == [] and backend.mailbox.list_new() == []
    with pytest.raises(AlreadyClaimed):
        backend.mailbox.claim(email)
    again = backend.mailbox.find_claimed(claimed.id)
    assert again.message_id == email.message_id


def test_two_workers_racing_for_one_email_exactly_one_wins(backend):
    backend.deliver(message("Blue Badge race"))
    [email] = backend.mailbox.list_new()
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def worker():
        start.wait()
        try:
            backend.mailbox.claim(email)
            outcomes.append("won")
        except AlreadyClaimed:
            outcomes.append("lost")

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost", "won"]
    assert backend.folder_subjects("processing") == ["Blue Badge race"]


def test_file_attachments_and_attached_messages(backend):
    forwarded = message("Blue Badge original", pdf=PDF + b"inner")
    outer = message("FW: Blue Badge", pdf=PDF)
    outer.add_attachment(forwarded)  # an email forwarded as an attachment (message/rfc822)
    backend.deliver(outer)
    claimed = backend.mailbox.claim(backend.mailbox.list_new()[0])
    attachments = backend.mailbox.attachments(claimed)
    files = [a for a in attachments if a.content_type != "message/rfc822"]
    messages = [a for a in attachments if a.content_type == "message/rfc822"]
    assert [(a.filename, a.data) for a in files] == [("form.pdf", PDF)]
    assert len(messages) == 1 and b"Blue Badge original" in messages[0].data
    inner = [a for a in expand_attached_messages(attachments) if a.data == PDF + b"inner"]
    assert [a.filename for a in inner] == ["form.pdf"]


def test_replies_thread_with_the_email_and_carry_attachments(backend):
    original = message("Blue Badge reply")
    backend.deliver(original)
    claimed = backend.mailbox.claim(backend.mailbox.list_new()[0])
    backend.mailbox.reply(claimed, "Received [CLK-AAAAAAAAAA]", "We have received your email.\nCLK-AAAAAAAAAA")
    backend.mailbox.reply(claimed, "Keyed [CLK-AAAAAAAAAA]", "Keyed.",
                          [Attachment("receipt.pdf", "application/pdf", PDF)])
    first, second = backend.sent()[-2:]
    assert STAFF in str(first["To"]).lower()
    assert str(first["In-Reply-To"]).strip() == original["Message-ID"]
    assert "CLK-AAAAAAAAAA" in str(first["Subject"])
    assert "CLK-AAAAAAAAAA" in first.get_body(("plain", "html")).get_content()
    assert [(p.get_filename(), p.get_payload(decode=True)) for p in second.iter_attachments()] == [("receipt.pdf", PDF)]


def test_send_writes_a_new_email_from_the_shared_mailbox(backend):
    backend.mailbox.send(["supervisor@council.example.gov.uk"], "3 items wait for review", "See clerk review.")
    [sent] = backend.sent()
    assert "supervisor@council.example.gov.uk" in str(sent["To"]).lower()
    assert str(sent["Subject"]) == "3 items wait for review"


def test_move_to_done_and_exceptions_list_them_and_requeue(backend):
    for subject in ("Blue Badge done", "Blue Badge exception"):
        backend.deliver(message(subject))
    done, failed = [backend.mailbox.claim(email) for email in backend.mailbox.list_new()]
    backend.mailbox.move(done, "done")
    parked = backend.mailbox.move(failed, "exceptions")
    assert backend.folder_subjects("done") == ["Blue Badge done"]
    assert backend.folder_subjects("exceptions") == ["Blue Badge exception"]
    assert backend.folder_subjects("processing") == []
    [listed] = backend.mailbox.list_folder("exceptions")
    assert listed.message_id == failed.message_id
    backend.mailbox.requeue(parked)
    assert [email.subject for email in backend.mailbox.list_new()] == ["Blue Badge exception"]


def test_the_watcher_wakes_within_its_timeout_when_mail_arrives(backend):
    watcher = backend.mailbox.watch()
    try:
        watcher.wait(0.5)  # settle: a first call may report mail that arrived before watching
        assert watcher.wait(0.3) is False, "nothing arrived, so the watcher should time out"
        arrived = threading.Timer(0.3, backend.deliver, [message("Blue Badge watched")])
        arrived.start()
        assert watcher.wait(10) is True
        arrived.join()
        assert [email.subject for email in backend.mailbox.list_new()] == ["Blue Badge watched"]
    finally:
        watcher.close()
