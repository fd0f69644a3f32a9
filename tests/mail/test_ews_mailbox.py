"""EwsMailbox against the loopback EWS server: what it asks Exchange for, and what it does with the answers.

The shared contract (tests/mail/test_contract.py) checks behaviour common to every adapter; these tests
check the EWS specifics: no discovery requests, delegate access, the fields requested, folder creation,
paging, ids that change on moves, the reply and requeue sequences.
"""

from __future__ import annotations

import threading

import pytest
from lxml import etree

from connectors.errors import AlreadyClaimed, ConfigError, MailboxUnavailable
from connectors.mail import Attachment
from tests.ews_server import EWS_PATH
from tests.ews_server.soap import M, T
from tests.mail.backends.ews import USER, ews_mailbox, ews_server
from tests.mail.messages import PDF, STAFF, message

CLERK_OPERATIONS = {"GetFolder", "FindFolder", "CreateFolder", "FindItem", "GetItem", "GetAttachment", "MoveItem",
                    "UpdateItem", "CreateItem", "CreateAttachment", "SendItem", "Subscribe", "GetStreamingEvents",
                    "Unsubscribe"}


@pytest.fixture
def server(tmp_path):
    with ews_server(tmp_path) as running:
        yield running


@pytest.fixture
def mailbox(server):
    opened = ews_mailbox(server)
    yield opened
    opened.close()


def bodies(server, operation: str) -> list[etree._Element]:
    """The operation elements of every served request for ``operation``."""
    found = []
    for request in server.requests:
        if request.operation == operation and request.status != 401:
            found.append(etree.fromstring(request.body.encode()).find(f".//{{{M}}}{operation}"))
    return found


# --- what reaches the server ----------------------------------------------------------------------------------
def test_explicit_version_and_auth_type_mean_no_discovery_or_probing_requests(server, mailbox):
    server.deliver(message("Blue Badge 1"))
    claimed = mailbox.claim(mailbox.list_new()[0])
    mailbox.attachments(claimed)
    mailbox.reply(claimed, "Received", "Thanks", [Attachment("receipt.txt", "text/plain", b"ok")])
    mailbox.move(claimed, "done")
    mailbox.watch().close()
    requests = server.requests
    assert {(r.method, r.path) for r in requests} == {("POST", EWS_PATH)}, "no autodiscover, no other URL"
    assert set(server.operations()) <= CLERK_OPERATIONS, "no ConvertId/ResolveNames probe, no version guess"
    assert requests[0].operation == "GetFolder", "the very first request is real work, not an auth-type probe"
    for request in requests:
        version = etree.fromstring(request.body.encode()).find(f".//{{{T}}}RequestServerVersion")
        assert version.get("Version") == "Exchange2016"


def test_the_shared_mailbox_is_opened_by_delegate_access(server, mailbox):
    server.deliver(message("Blue Badge delegate"))
    mailbox.claim(mailbox.list_new()[0])
    served = [r for r in server.requests if r.status == 200]
    assert {r.user for r in served} == {USER}
    assert {r.headers.get("X-AnchorMailbox") for r in served} == {server.mailbox}
    assert not any("ExchangeImpersonation" in r.body for r in served)
    mailboxes = {element.text for r in served
                 for element in etree.fromstring(r.body.encode()).iterfind(f".//{{{T}}}DistinguishedFolderId//"
                                                                            f"{{{T}}}EmailAddress")}
    assert mailboxes == {server.mailbox}


def test_an_account_without_delegate_rights_is_refused_with_a_clear_message(tmp_path):
    with ews_server(tmp_path, delegates={"COUNCIL\\someone-else"}) as server:
        mailbox = ews_mailbox(server)
        with pytest.raises(MailboxUnavailable) as raised:
            mailbox.list_new()
        mailbox.close()
    assert USER in raised.value.message and server.mailbox in raised.value.message
    assert "Full Access" in raised.value.message


def test_list_new_asks_for_unread_mail_oldest_first_and_only_the_fields_clerk_reads(server, mailbox):
    server.deliver(message("Blue Badge 1"))
    mailbox.list_new()
    [find] = bodies(server, "FindItem")
    assert find.find(f"{{{M}}}Restriction/{{{T}}}IsEqualTo/{{{T}}}FieldURI").get("FieldURI") == "message:IsRead"
    order = find.find(f"{{{M}}}SortOrder/{{{T}}}FieldOrder")
    assert (order.get("Order"), order[0].get("FieldURI")) == ("Ascending", "item:DateTimeReceived")
    [get] = bodies(server, "GetItem")
    shape = get.find(f"{{{M}}}ItemShape")
    assert shape.findtext(f"{{{T}}}BaseShape") == "IdOnly"
    assert shape.find(f"{{{T}}}IncludeMimeContent") is None
    requested = {uri.get("FieldURI") for uri in shape.iterfind(f"{{{T}}}AdditionalProperties/{{{T}}}FieldURI")}
    assert requested == {"item:Subject", "item:DateTimeReceived", "item:InternetMessageHeaders", "message:From",
                         "message:ToRecipients", "message:CcRecipients", "message:InternetMessageId"}


def test_read_mail_is_not_new_and_long_inboxes_are_paged(server, mailbox):
    for n in range(105):
        server.deliver(message(f"Blue Badge {n:03d}", pdf=None))
    opened_by_a_person = server.folder_items("inbox")[3]
    server.store.update_item(opened_by_a_person.id, is_read=True)
    listed = mailbox.list_new()
    assert len(listed) == 104 and "Blue Badge 003" not in {email.subject for email in listed}
    assert [email.subject for email in listed[:3]] == ["Blue Badge 000", "Blue Badge 001", "Blue Badge 002"]
    pages = bodies(server, "FindItem")
    assert [page.find(f"{{{M}}}IndexedPageItemView").get("Offset") for page in pages] == ["0", "100"]
    assert [email.subject for email in mailbox.list_new(limit=2)] == ["Blue Badge 000", "Blue Badge 001"]
    assert bodies(server, "FindItem")[-1].find(f"{{{M}}}IndexedPageItemView").get("MaxEntriesReturned") == "2"


# --- folders ---------------------------------------------------------------------------------------------------
def test_clerk_folders_are_created_beside_the_inbox_once(server, mailbox):
    mailbox.list_new()
    store = server.store
    inbox = store.distinguished("inbox")
    created = {folder.name: folder for folder in store.children(inbox.parent_id)}
    assert {"Processing", "Done", "Exceptions"} <= set(created)
    another_worker = ews_mailbox(server)
    another_worker.list_new()
    another_worker.close()
    assert server.operations().count("CreateFolder") == 1
    assert len([f for f in store.children(inbox.parent_id) if f.name == "Processing"]) == 1


def test_a_folder_another_worker_creates_at_the_same_moment_is_used(server):
    parent = server.store.distinguished("inbox").parent_id
    server.before("CreateFolder", lambda: server.store.create_folder(parent, "Done", "IPF.Note"))
    mailbox = ews_mailbox(server)
    server.deliver(message("Blue Badge raced folder"))
    mailbox.move(mailbox.claim(mailbox.list_new()[0]), "done")
    mailbox.close()
    assert sorted(f.name for f in server.store.children(parent) if f.name in ("Processing", "Done", "Exceptions")) == [
        "Done", "Exceptions", "Processing"]
    assert server.folder_subjects("Done") == ["Blue Badge raced folder"]
    assert server.operations()[:4] == ["GetFolder", "FindFolder", "CreateFolder", "FindFolder"]


def test_existing_folders_are_found_whatever_their_case_and_names_are_configurable(server):
    parent = server.store.distinguished("inbox").parent_id
    server.store.create_folder(parent, "processing", "IPF.Note")
    mailbox = ews_mailbox(server, folders={"done": "Clerk - Done"})
    server.deliver(message("Blue Badge named"))
    claimed = mailbox.claim(mailbox.list_new()[0])
    mailbox.move(claimed, "done")
    mailbox.close()
    names = sorted(f.name for f in server.store.children(parent))
    assert "Clerk - Done" in names and "Processing" not in names and names.count("processing") == 1
    assert server.folder_subjects("Clerk - Done") == ["Blue Badge named"]


# --- claiming and moving ---------------------------------------------------------------------------------------
def test_claim_keeps_the_new_id_the_move_returns_and_marks_the_email_read(server, mailbox):
    server.deliver(message("Blue Badge id"))
    [new] = mailbox.list_new()
    claimed = mailbox.claim(new)
    [stored] = server.folder_items("Processing")
    assert claimed.id == stored.id != new.id
    assert new.id not in server.store.items, "the old id stops resolving, as on Exchange"
    assert stored.is_read
    assert claimed.body == "Body of Blue Badge id\n" and claimed.attachment_names == ("form.pdf",)
    assert mailbox.find_claimed(claimed.id).subject == "Blue Badge id"


def test_two_workers_with_their_own_connections_claim_an_email_once(server, mailbox):
    server.deliver(message("Blue Badge race"))
    [email] = mailbox.list_new()
    workers = [ews_mailbox(server) for _ in range(3)]
    for worker in workers:
        worker.list_new()  # each opens its folders and signs in before the race
    outcomes, barrier = [], threading.Barrier(len(workers))

    def race(worker):
        barrier.wait()
        try:
            worker.claim(email)
            outcomes.append("won")
        except AlreadyClaimed:
            outcomes.append("lost")

    threads = [threading.Thread(target=race, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in workers:
        worker.close()
    assert sorted(outcomes) == ["lost", "lost", "won"]
    assert server.folder_subjects("Processing") == ["Blue Badge race"]


def test_a_claim_stands_even_if_marking_it_read_fails(server):
    mailbox = ews_mailbox(server, busy_max_wait_s=0.2)
    server.deliver(message("Blue Badge unread"))
    [email] = mailbox.list_new()
    server.busy(times=None, back_off_ms=50, operations={"UpdateItem"})
    claimed = mailbox.claim(email)
    mailbox.close()
    [stored] = server.folder_items("Processing")
    assert claimed.id == stored.id and not stored.is_read


def test_find_claimed_only_finds_emails_in_processing(server, mailbox):
    server.deliver(message("Blue Badge found"))
    claimed = mailbox.claim(mailbox.list_new()[0])
    done = mailbox.move(claimed, "done")
    with pytest.raises(MailboxUnavailable, match="not in the processing folder"):
        mailbox.find_claimed(done.id)
    with pytest.raises(MailboxUnavailable):
        mailbox.find_claimed(claimed.id)  # the id it had before the move


def test_requeue_marks_unread_before_moving_back_to_the_inbox(server, mailbox):
    server.deliver(message("Blue Badge again"))
    parked = mailbox.move(mailbox.claim(mailbox.list_new()[0]), "exceptions")
    server.clear_requests()
    requeued = mailbox.requeue(parked)
    assert [op for op in server.operations() if op in ("UpdateItem", "MoveItem")] == ["UpdateItem", "MoveItem"]
    [inbox] = server.folder_items("inbox")
    assert requeued.id == inbox.id and not inbox.is_read
    assert [email.subject for email in mailbox.list_new()] == ["Blue Badge again"]


def test_moving_an_email_that_is_gone_is_a_mailbox_error(server, mailbox):
    server.deliver(message("Blue Badge gone"))
    claimed = mailbox.claim(mailbox.list_new()[0])
    server.store.delete_item(claimed.id)
    with pytest.raises(MailboxUnavailable, match="not in the mailbox"):
        mailbox.move(claimed, "exceptions")


# --- attachments ------------------------------------------------------------------------------------------------
def test_an_attached_email_comes_back_as_an_eml_holding_its_mime(server, mailbox):
    forwarded = message("Form from Mr O'Brien / reception", pdf=PDF + b"inner")
    outer = message("FW: Blue Badge", pdf=None)
    outer.add_attachment(forwarded)
    server.deliver(outer)
    claimed = mailbox.claim(mailbox.list_new()[0])
    assert claimed.attachment_names == ("Form from Mr O'Brien _ reception.eml",)
    server.clear_requests()
    [attached] = mailbox.attachments(claimed)
    assert (attached.filename, attached.content_type) == ("Form from Mr O'Brien _ reception.eml", "message/rfc822")
    assert forwarded["Message-ID"] in attached.data.decode() and b"%PDF" not in attached.data  # base64 inside MIME
    [get] = bodies(server, "GetAttachment")
    assert get.findtext(f"{{{M}}}AttachmentShape/{{{T}}}IncludeMimeContent") == "true"
    assert server.operations() == ["GetItem", "GetAttachment"], "all attachments in one request"


# --- sending -----------------------------------------------------------------------------------------------------
def test_a_reply_is_an_exchange_reply_saved_in_sent_items(server, mailbox):
    original = message("Blue Badge thread", References="<earlier@council.example.gov.uk>")
    server.deliver(original)
    claimed = mailbox.claim(mailbox.list_new()[0])
    server.clear_requests()
    mailbox.reply(claimed, "Received [CLK-1]", "Thanks")
    [create] = bodies(server, "CreateItem")
    assert create.get("MessageDisposition") == "SendAndSaveCopy"
    assert create.find(f"{{{M}}}Items/{{{T}}}ReplyToItem") is not None
    [sent] = server.sent()
    assert str(sent["To"]) == STAFF and str(sent["From"]) == server.mailbox
    assert str(sent["In-Reply-To"]) == original["Message-ID"]
    assert str(sent["References"]).split() == ["<earlier@council.example.gov.uk>", original["Message-ID"]]
    assert server.folder_subjects("sentitems") == ["Received [CLK-1]"]


def test_a_reply_with_attachments_is_saved_attached_and_sent_once(server, mailbox):
    server.deliver(message("Blue Badge receipt"))
    claimed = mailbox.claim(mailbox.list_new()[0])
    server.clear_requests()
    files = [Attachment("receipt.pdf", "application/pdf", PDF), Attachment("notes.txt", "text/plain", b"notes")]
    mailbox.reply(claimed, "Keyed [CLK-2]", "Done", files)
    assert [op for op in server.operations() if op != "GetItem"] == ["CreateItem", "CreateAttachment", "SendItem"]
    assert bodies(server, "CreateItem")[0].get("MessageDisposition") == "SaveOnly"
    [sent] = server.sent()
    assert [(p.get_filename(), p.get_payload(decode=True)) for p in sent.iter_attachments()] == [
        ("receipt.pdf", PDF), ("notes.txt", b"notes")]
    assert server.folder_items("drafts") == [] and server.folder_subjects("sentitems") == ["Keyed [CLK-2]"]


def test_send_writes_new_mail_with_attachments_inline(server, mailbox):
    mailbox.send(["supervisor@council.example.gov.uk", "deputy@council.example.gov.uk"], "Daily report", "3 items",
                 [Attachment("report.csv", "text/csv", b"a,b\n1,2\n")])
    [create] = bodies(server, "CreateItem")
    assert create.get("MessageDisposition") == "SendAndSaveCopy"
    assert create.find(f".//{{{T}}}Attachments/{{{T}}}FileAttachment") is not None
    assert "CreateAttachment" not in server.operations()
    [sent] = server.sent()
    assert str(sent["To"]) == "supervisor@council.example.gov.uk, deputy@council.example.gov.uk"
    assert [p.get_content() for p in sent.iter_attachments()] == ["a,b\n1,2\n"]


# --- configuration and failures -------------------------------------------------------------------------------------
@pytest.mark.parametrize("override, key", [
    ({"version": "Exchange2007"}, "mailbox.ews.version"),
    ({"url": "mail.council.gov.uk"}, "mailbox.ews.url"),
    ({"auth_type": "OAuth2"}, "mailbox.ews.oauth"),
    ({"mailbox": "clerk"}, "mailbox.ews.mailbox"),
    ({"folders": {"archive": "Archive"}}, "mailbox.ews.folders"),
])
def test_bad_settings_stop_at_construction_naming_the_key(server, override, key):
    with pytest.raises(ConfigError) as raised:
        ews_mailbox(server, **override)
    assert raised.value.key == key
    assert server.requests == []


def test_an_unreachable_server_is_a_mailbox_error_not_a_library_one(server, mailbox):
    mailbox.list_new()
    server.stop()
    with pytest.raises(MailboxUnavailable, match="could not reach Exchange") as raised:
        mailbox.list_new()
    assert type(raised.value) is MailboxUnavailable
