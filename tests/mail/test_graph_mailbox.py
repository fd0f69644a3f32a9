"""GraphMailbox against the loopback Graph server: sign-in, the exact requests it makes, and every failure.

The behaviour every adapter shares (listing, claiming, replies, moves) is in ``test_contract.py``; these
tests cover what is particular to Graph: msal's token, paging, the fields asked for, folder creation,
item attachments, the draft path for replies, throttling and error translation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from connectors.errors import AlreadyClaimed, ConfigError, MailboxThrottled, MailboxUnavailable
from connectors.mail import Attachment
from connectors.mail.graph import GraphMailbox
from tests.graph_server import GraphServer
from tests.mail.backends.graph import graph_mailbox

STAFF = "priya.shah@council.example.gov.uk"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


def message(subject: str, *, html: str | None = None, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Priya Shah <{STAFF}>"
    msg["To"] = "bluebadge@council.example.gov.uk"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '-')}@council.example.gov.uk>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    if html is not None:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(f"Body of {subject}")
    return msg


@pytest.fixture
def server(tmp_path) -> Iterator[GraphServer]:
    with GraphServer(tmp_path) as running:
        yield running


@pytest.fixture
def mailbox(server) -> Iterator[GraphMailbox]:
    opened = graph_mailbox(server)
    yield opened
    opened.close()


def graph_calls(server: GraphServer, method: str, suffix: str) -> list:
    return [r for r in server.graph_requests() if r.method == method and r.path.endswith(suffix)]


# --- sign-in ------------------------------------------------------------------------------------------
def test_signs_in_at_the_configured_authority_and_reuses_its_token(server, mailbox):
    for _ in range(5):
        mailbox.list_new()
    identity = [r.path for r in server.requests if not r.path.startswith("/v1.0/")]
    assert identity == [f"/{server.tenant_id}/v2.0/.well-known/openid-configuration",
                        f"/{server.tenant_id}/oauth2/v2.0/token"]  # no instance discovery, one token for all calls
    assert all(r.status == 200 for r in server.graph_requests())


def test_a_token_revoked_or_expired_early_is_replaced_once(server, mailbox):
    mailbox.list_new()
    server.expire_tokens()
    server.deliver(message("after expiry"))
    assert [e.subject for e in mailbox.list_new()] == ["after expiry"]
    assert len(server.token_requests()) == 2
    assert [r.status for r in server.graph_requests()][-2:] == [401, 200]


def test_a_token_near_its_expiry_is_renewed_before_graph_would_refuse_it(server, mailbox):
    server.token_lifetime_s = 120  # inside msal's five-minute renewal margin: never reused
    for _ in range(3):
        mailbox.list_new()
    assert len(server.token_requests()) == 3
    assert [r.status for r in server.graph_requests()] == [200, 200, 200]


def test_a_wrong_secret_is_a_clear_failure_that_never_shows_the_secret(server):
    wrong = graph_mailbox(server, client_secret="wrong-secret-value")
    with pytest.raises(MailboxUnavailable) as raised:
        wrong.list_new()
    text = str(raised.value)
    assert "AADSTS7000215" in text and server.client_id in text and "wrong-secret-value" not in text
    assert server.graph_requests() == []


def test_a_wrong_tenant_or_an_untrusted_certificate_is_mailbox_unavailable(server):
    with pytest.raises(MailboxUnavailable, match="tenant"):
        graph_mailbox(server, tenant_id="00000000-0000-0000-0000-000000000000").list_new()
    with pytest.raises(MailboxUnavailable):
        graph_mailbox(server, ca_file=None).list_new()  # the system's CAs do not know the test CA: verification is on


def test_an_unreadable_ca_file_is_a_configuration_error(server, tmp_path):
    with pytest.raises(ConfigError, match="ca_file"):
        graph_mailbox(server, ca_file=str(tmp_path / "missing.pem"))


# --- reading --------------------------------------------------------------------------------------------
def test_new_mail_asks_only_for_clerks_fields_and_follows_next_links(server, mailbox):
    server.page_size_cap = 2
    for n in range(5):
        server.deliver(message(f"Blue Badge {n}"))
    assert [e.subject for e in mailbox.list_new()] == [f"Blue Badge {n}" for n in range(5)]
    lists = graph_calls(server, "GET", "/mailFolders/inbox/messages")
    assert len(lists) == 3
    first = lists[0].query
    assert "isRead eq false" in first["$filter"] and first["$orderby"] == "receivedDateTime asc"
    assert set(first["$select"].split(",")) == {"id", "internetMessageId", "from", "toRecipients", "ccRecipients",
                                                "subject", "receivedDateTime", "internetMessageHeaders"}
    assert [e.subject for e in mailbox.list_new(limit=3)] == ["Blue Badge 0", "Blue Badge 1", "Blue Badge 2"]
    assert len(graph_calls(server, "GET", "/mailFolders/inbox/messages")) == 5  # two more pages, not three


def test_keeps_the_headers_sender_checks_need_and_no_others(server, mailbox):
    server.deliver(message("checked", Sender="mallory@example.net", X_MS_Exchange_Organization_AuthAs="Anonymous",
                           Authentication_Results="spf=fail", X_Mailer="Outlook"))
    [email] = mailbox.list_new()
    assert email.sender == STAFF and email.body == "" and email.attachment_names == ()
    assert email.headers == {"From": f"Priya Shah <{STAFF}>", "Sender": "mallory@example.net",
                             "Authentication-Results": "spf=fail", "X-MS-Exchange-Organization-AuthAs": "Anonymous"}


def test_a_claimed_email_has_its_body_as_text_and_its_attachment_names(server, mailbox):
    msg = message("html", html="<p>Dear team,</p><p>Form <b>attached</b>.</p>")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="form.pdf")
    msg.add_attachment(message("Original request"))
    server.deliver(msg)
    claimed = mailbox.claim(mailbox.list_new()[0])
    assert "Form attached." in claimed.body and "<b>" not in claimed.body
    assert claimed.attachment_names == ("form.pdf", "Original request.eml")
    assert graph_calls(server, "GET", claimed.id)[-1].prefer == 'outlook.body-content-type="text"'


def test_an_attached_message_is_fetched_as_mime(server, mailbox):
    msg = message("FW: request")
    msg.add_attachment(message("Original request"))
    server.deliver(msg)
    claimed = mailbox.claim(mailbox.list_new()[0])
    [attached] = mailbox.attachments(claimed)
    assert (attached.filename, attached.content_type) == ("Original request.eml", "message/rfc822")
    assert b"Message-ID: <Original-request@council.example.gov.uk>" in attached.data
    assert graph_calls(server, "GET", "/$value")


# --- folders and moves -------------------------------------------------------------------------------------
def test_folders_are_created_once_and_existing_ones_are_reused(server):
    server.store.create_folder(server.store.root.id, "Done")
    server.deliver(message("one"))
    first = graph_mailbox(server, folders={"processing": "Clerk Processing"})
    first.claim(first.list_new()[0])
    created = [r.body["displayName"] for r in graph_calls(server, "POST", "/mailFolders")]
    assert sorted(created) == ["Clerk Processing", "Exceptions"]
    second = graph_mailbox(server, folders={"processing": "Clerk Processing"})
    server.deliver(message("two"))
    second.claim(second.list_new()[0])
    assert len(graph_calls(server, "POST", "/mailFolders")) == 2
    assert server.folder_subjects("Clerk Processing") == ["one", "two"]


def test_workers_starting_together_share_one_set_of_folders(server):
    for n in range(6):
        server.deliver(message(f"Blue Badge {n}"))
    emails = graph_mailbox(server).list_new()
    workers = [graph_mailbox(server) for _ in emails]
    errors: list[Exception] = []
    start = threading.Barrier(len(workers))

    def claim(worker: GraphMailbox, email) -> None:
        start.wait()
        try:
            worker.claim(email)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=pair) for pair in zip(workers, emails, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [f.display_name for f in server.store.children(server.store.root.id)].count("Processing") == 1
    assert len(server.folder_subjects("Processing")) == 6


def test_a_stale_id_cannot_be_claimed_and_find_claimed_looks_only_in_processing(server, mailbox):
    server.deliver(message("parked"))
    [email] = mailbox.list_new()
    claimed = mailbox.claim(email)
    done = mailbox.move(claimed, "done")
    assert done.id != claimed.id and done.subject == "parked"
    with pytest.raises(AlreadyClaimed):
        mailbox.claim(email)
    with pytest.raises(MailboxUnavailable, match="not in processing"):
        mailbox.find_claimed(done.id)
    with pytest.raises(MailboxUnavailable, match="not in processing"):
        mailbox.find_claimed(claimed.id)  # the id it had in processing is no longer valid


def test_a_deleted_processing_folder_is_not_mistaken_for_a_lost_race_and_is_made_again(server, mailbox):
    server.deliver(message("first"))
    server.deliver(message("second"))
    first, second = mailbox.list_new()
    mailbox.claim(first)
    server.store.delete_folder(server.store.folder_named("Processing").id)
    with pytest.raises(MailboxUnavailable, match="Processing folder was not found") as raised:
        mailbox.claim(second)
    assert not isinstance(raised.value, AlreadyClaimed)
    mailbox.claim(second)
    assert server.folder_subjects("Processing") == ["second"]


def test_a_requeued_email_is_unread_again_even_if_someone_opened_it(server, mailbox):
    server.deliver(message("opened in Outlook"))
    parked = mailbox.move(mailbox.claim(mailbox.list_new()[0]), "exceptions")
    server.store.update(parked.id, is_read=True)
    requeued = mailbox.requeue(parked)
    assert [e.id for e in mailbox.list_new()] == [requeued.id]
    assert server.folder_subjects("inbox") == ["opened in Outlook"]


# --- writing ---------------------------------------------------------------------------------------------
def test_a_reply_goes_to_from_not_reply_to_and_without_attachments_is_one_call(server, mailbox):
    server.deliver(message("Blue Badge", Reply_To="elsewhere@example.net"))
    claimed = mailbox.claim(mailbox.list_new()[0])
    mailbox.reply(claimed, "Received [CLK-1]", "Thank you.")
    [sent] = server.sent_messages()
    assert sent["To"] == STAFF and sent["Subject"] == "Received [CLK-1]"
    assert sent["In-Reply-To"] == "<Blue-Badge@council.example.gov.uk>"
    assert len(graph_calls(server, "POST", "/reply")) == 1 and not graph_calls(server, "POST", "/createReply")


def test_a_reply_with_attachments_is_a_draft_with_its_attachments_then_sent(server, mailbox):
    server.deliver(message("Blue Badge"))
    claimed = mailbox.claim(mailbox.list_new()[0])
    mailbox.reply(claimed, "Keyed [CLK-1]", "Keyed.", [Attachment("receipt.pdf", "application/pdf", PDF),
                                                       Attachment("notes.txt", "text/plain", b"notes")])
    [sent] = server.sent_messages()
    assert sent["To"] == STAFF and sent["In-Reply-To"] == "<Blue-Badge@council.example.gov.uk>"
    assert [(p.get_filename(), p.get_payload(decode=True)) for p in sent.iter_attachments()] == [
        ("receipt.pdf", PDF), ("notes.txt", b"notes")]
    assert len(graph_calls(server, "POST", "/createReply")) == 1 and len(graph_calls(server, "POST", "/send")) == 1
    assert server.folder_subjects("drafts") == []


def test_a_reply_whose_attachment_is_refused_leaves_no_draft_behind(server, mailbox):
    server.deliver(message("Blue Badge"))
    claimed = mailbox.claim(mailbox.list_new()[0])
    server.attachment_limit = 10  # smaller than the receipt: Graph would want an upload session
    with pytest.raises(MailboxUnavailable):
        mailbox.reply(claimed, "Keyed [CLK-1]", "Keyed.", [Attachment("receipt.pdf", "application/pdf", PDF)])
    assert server.sent_messages() == [] and server.folder_subjects("drafts") == []
    assert len(graph_calls(server, "DELETE", "")) == 1


def test_send_writes_new_mail_with_attachments_from_the_shared_mailbox(server, mailbox):
    mailbox.send(["supervisor@council.example.gov.uk", "deputy@council.example.gov.uk"], "Weekly report", "Attached.",
                 [Attachment("report.csv", "text/csv", b"a,b\n1,2\n")])
    [sent] = server.sent_messages()
    assert sent["From"].addresses[0].addr_spec == server.mailbox
    assert [a.addr_spec for a in sent["To"].addresses] == ["supervisor@council.example.gov.uk",
                                                           "deputy@council.example.gov.uk"]
    assert [(p.get_filename(), p.get_payload(decode=True)) for p in sent.iter_attachments()] == [
        ("report.csv", b"a,b\n1,2\n")]


# --- throttling and failures ---------------------------------------------------------------------------------
def test_throttling_is_waited_out_within_the_bound(server, mailbox):
    server.deliver(message("busy day"))
    server.throttle(3, retry_after=0.05)
    assert [e.subject for e in mailbox.list_new()] == ["busy day"]
    assert [r.status for r in server.graph_requests()] == [429, 429, 429, 200]


def test_throttling_past_the_bound_is_mailbox_throttled_and_the_email_stays_put(server):
    server.deliver(message("stays in the inbox"))
    mailbox = graph_mailbox(server, busy_max_wait_s=0.25)
    [email] = mailbox.list_new()
    mailbox.list_folder("processing")  # Clerk's folders are known: the throttled call below is the move itself
    server.throttle(3, retry_after=0.1)
    with pytest.raises(MailboxThrottled):
        mailbox.claim(email)
    assert [r.status for r in graph_calls(server, "POST", "/move")] == [429, 429, 429]
    assert server.folder_subjects("inbox") == ["stays in the inbox"]


def test_a_retry_after_beyond_the_bound_or_a_busy_answer_without_one_is_not_waited_for(server):
    mailbox = graph_mailbox(server, busy_max_wait_s=0.5)
    server.throttle(1, retry_after=60)
    with pytest.raises(MailboxThrottled):
        mailbox.list_new()
    server.throttle(1, retry_after=None, status=503)  # no Retry-After: backing off starts at a second
    with pytest.raises(MailboxThrottled):
        mailbox.list_new()
    assert [r.status for r in server.graph_requests()] == [429, 503]
    assert mailbox.list_new() == []


def test_a_server_error_an_access_denied_and_a_stopped_server_are_mailbox_unavailable(server, mailbox):
    server.fail(1, status=500)
    with pytest.raises(MailboxUnavailable) as raised:
        mailbox.list_new()
    assert not isinstance(raised.value, MailboxThrottled) and "InternalServerError" in str(raised.value)
    server.deny_access = True
    with pytest.raises(MailboxUnavailable, match="application access policy"):
        mailbox.list_new()
    server.deny_access = False
    server.stop()
    with pytest.raises(MailboxUnavailable, match="cannot reach Microsoft Graph"):
        mailbox.list_new()


def test_an_unknown_mailbox_is_mailbox_unavailable(server):
    with pytest.raises(MailboxUnavailable, match="ErrorInvalidUser"):
        graph_mailbox(server, mailbox="nobody@council.example.gov.uk").list_new()
