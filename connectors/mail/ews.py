"""Clerk's mailbox on an on-premises Exchange shared mailbox, by Exchange Web Services (exchangelib).

The shared mailbox is opened by delegate access (the service account has Full Access to it), or, with
OAuth2 client credentials, by impersonation. Clerk's folders Processing, Done and Exceptions sit beside
the Inbox (under its parent, normally the top of the information store) and are created when missing.

How each part of the port maps onto EWS:

* ``list_new`` / ``list_folder``: FindItem (unread only for the Inbox, oldest first, paged) then GetItem
  for just the fields Clerk reads, including the internet headers its sender check needs.
* ``claim``: GetItem, then MoveItem to Processing. The move is the atomic step: the item gets a new id
  and the old one stops resolving, so a worker that lost the race gets ErrorItemNotFound, which is
  :class:`AlreadyClaimed`. The email is then marked read, best effort (a human looking at the mailbox
  sees it is being handled; a failure there must not strand an email Clerk owns).
* ``reply``: CreateItem with a ReplyToItem, so Exchange threads it (In-Reply-To, References,
  conversation); with attachments the reply is saved as a draft, the files added with CreateAttachment
  and the draft sent with SendItem. ``send``: CreateItem with the files inline.
* ``requeue``: marked unread first, then moved to the Inbox, so it can never sit in the Inbox unseen.
* ``attachments``: GetAttachment for all of them in one request; an attached email (ItemAttachment) comes
  back as its MIME and becomes ``<subject>.eml``, ``message/rfc822``.

Only this module and its ``ews_*`` siblings import exchangelib; every library error is translated into
:mod:`connectors.errors` (see :mod:`connectors.mail.ews_session`).
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

import structlog
from exchangelib import ItemId, Message
from exchangelib.attachments import AttachmentId, FileAttachment, ItemAttachment
from exchangelib.errors import ErrorFolderExists, ErrorInvalidIdMalformed, ErrorItemNotFound
from exchangelib.fields import FieldPath
from exchangelib.folders import DistinguishedFolderId, Drafts, Folder, Inbox, Root, SentItems
from exchangelib.folders.queryset import SHALLOW as SHALLOW_FOLDERS
from exchangelib.items import SAVE_ONLY, SEND_AND_SAVE_COPY, SEND_TO_NONE, ReplyToItem
from exchangelib.items.base import AUTO_RESOLVE
from exchangelib.properties import Body, Mailbox, ParentItemId, ReferenceItemId
from exchangelib.queryset import QuerySet
from exchangelib.services import (
    CreateAttachment,
    CreateFolder,
    CreateItem,
    FindFolder,
    GetAttachment,
    GetFolder,
    MoveItem,
    SendItem,
    UpdateItem,
)

from connectors.errors import AlreadyClaimed, ConfigError, MailboxUnavailable
from connectors.mail import Attachment, Email, FinalFolder, address_lower, first_values, kept_headers
from connectors.mail import Folder as FolderName
from connectors.mail.ews_session import AuthType, EwsOAuth, EwsSession, EwsSettings
from connectors.mail.ews_watch import EwsWatcher

__all__ = ["DEFAULT_FOLDERS", "EwsMailbox", "EwsOAuth"]

log = structlog.get_logger(__name__)

DEFAULT_FOLDERS = {"processing": "Processing", "done": "Done", "exceptions": "Exceptions"}
_LIST_FIELDS = ("message_id", "author", "to_recipients", "cc_recipients", "subject", "datetime_received", "headers")
_FULL_FIELDS = (*_LIST_FIELDS, "text_body", "attachments", "parent_folder_id")
_KEPT_HEADERS = ("From", "Sender", "Reply-To", "Authentication-Results", "X-MS-Exchange-Organization-AuthAs",
                 "X-MS-Exchange-Organization-AuthSource", "In-Reply-To")
_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


@dataclass(frozen=True)
class _Folders:
    inbox: Folder
    processing: Folder
    done: Folder
    exceptions: Folder
    drafts: Folder
    sent: Folder

    def named(self, name: str) -> Folder:
        return getattr(self, name)


class EwsMailbox:
    """Clerk's :class:`~connectors.mail.Mailbox` on an Exchange shared mailbox, by EWS."""

    def __init__(self, *, url: str, mailbox: str, username: str = "", password: str = "",
                 auth_type: AuthType = "NTLM", version: str = "Exchange2016", ca_file: str | None = None,
                 folders: dict[str, str] | None = None, busy_max_wait_s: float = 30, timeout_s: float = 30,
                 oauth: EwsOAuth | None = None, max_connections: int = 2,
                 watch_mode: Literal["streaming", "polling"] = "streaming", poll_interval_s: float = 30,
                 watch_unreachable_s: float = 60) -> None:
        self.address = mailbox
        self._settings = EwsSettings(url=url, mailbox=mailbox, username=username, password=password,
                                     auth_type=auth_type, version=version, ca_file=ca_file, oauth=oauth,
                                     busy_max_wait_s=busy_max_wait_s, timeout_s=timeout_s)
        self._settings.validate()
        unknown = set(folders or {}) - set(DEFAULT_FOLDERS)
        if unknown:
            raise ConfigError(f"unknown folder keys {sorted(unknown)}; use {sorted(DEFAULT_FOLDERS)}",
                              key="mailbox.ews.folders")
        self._folder_names = {**DEFAULT_FOLDERS, **(folders or {})}
        self._session = EwsSession(self._settings, connections=max_connections)
        account = self._session.account
        self._root = Root(account=account, _distinguished_id=self._distinguished("root"))
        account.root = self._root  # exchangelib only needs the root to validate field names: never fetch it
        self._folders_cache: _Folders | None = None
        self._folders_lock = threading.Lock()
        self._watch_mode = watch_mode
        self._poll_interval_s = poll_interval_s
        self._watch_unreachable_s = watch_unreachable_s

    # --- reading --------------------------------------------------------------------------------------
    def list_new(self, limit: int | None = None) -> list[Email]:
        inbox = self._folders().inbox
        return self._session.call("list new mail", lambda: self._list(inbox.filter(is_read=False), limit))

    def list_folder(self, folder: FolderName, limit: int | None = None) -> list[Email]:
        target = self._folders().named(folder)
        return self._session.call(f"list the {folder} folder", lambda: self._list(target.all(), limit))

    def find_claimed(self, email_id: str) -> Email:
        folders = self._folders()

        def find() -> Email:
            item = self._get(email_id, _FULL_FIELDS, folders.processing)
            if item is None or item.parent_folder_id is None or item.parent_folder_id.id != folders.processing.id:
                raise MailboxUnavailable(f"email {_short(email_id)} is not in the processing folder")
            return _email(item, full=True)

        return self._session.call("find a claimed email", find)

    def attachments(self, email: Email) -> list[Attachment]:
        folders = self._folders()

        def fetch() -> list[Attachment]:
            item = self._get(email.id, ("attachments",), folders.processing)
            if item is None:
                raise MailboxUnavailable(f"email {_short(email.id)} is not in the mailbox any more")
            ids = [a.attachment_id for a in item.attachments or []]
            if not ids:
                return []
            found = GetAttachment(account=self._session.account).call(
                items=ids, include_mime_content=True, body_type=None, filter_html_content=None, additional_fields=None)
            return [_attachment(a) for a in _raise_first(found)]

        return self._session.call("read the attachments of an email", fetch)

    # --- moving ---------------------------------------------------------------------------------------
    def claim(self, email: Email) -> Email:
        folders = self._folders()

        def take() -> tuple[ItemId, Email]:
            item = self._get(email.id, _FULL_FIELDS, folders.inbox)
            if item is None or (item.parent_folder_id and item.parent_folder_id.id != folders.inbox.id):
                raise AlreadyClaimed(f"email {_short(email.id)} was claimed by another worker")
            moved = self._move(email.id, folders.processing)
            if moved is None:
                raise AlreadyClaimed(f"email {_short(email.id)} was claimed by another worker")
            return moved, _email(item, full=True)

        moved, claimed = self._session.call("claim an email", take)
        self._mark(moved, read=True)
        return replace(claimed, id=moved.id)

    def move(self, email: Email, folder: FinalFolder) -> Email:
        target = self._folders().named(folder)

        def run() -> ItemId:
            moved = self._move(email.id, target)
            if moved is None:
                raise MailboxUnavailable(f"email {_short(email.id)} is not in the mailbox any more")
            return moved

        moved = self._session.call(f"move an email to {folder}", run)
        return replace(email, id=moved.id)

    def requeue(self, email: Email) -> Email:
        inbox = self._folders().inbox

        def run() -> ItemId:
            self._update_read(ItemId(email.id), read=False)
            moved = self._move(email.id, inbox)
            if moved is None:
                raise MailboxUnavailable(f"email {_short(email.id)} is not in the mailbox any more")
            return moved

        moved = self._session.call("requeue an email", run)
        return replace(email, id=moved.id)

    # --- sending --------------------------------------------------------------------------------------
    def reply(self, email: Email, subject: str, body: str, attachments: list[Attachment] | None = None,
              key: str | None = None) -> None:
        folders = self._folders()
        account = self._session.account
        reference = self._session.call("prepare a reply", lambda: self._get(email.id, (), folders.processing))
        if reference is None:
            raise MailboxUnavailable(f"email {_short(email.id)} is not in the mailbox any more")
        to = [Mailbox(email_address=email.sender)] if email.sender else None  # None: Exchange replies to From
        reply = ReplyToItem(account=account, reference_item_id=ReferenceItemId(reference.id, reference.changekey),
                            subject=subject, new_body=Body(body), to_recipients=to)
        if not attachments:
            self._session.call("send a reply", lambda: self._create(reply, SEND_AND_SAVE_COPY, folders.sent))
            return
        draft = self._session.call("save a reply", lambda: self._create(reply, SAVE_ONLY, folders.drafts))
        if draft is None:
            raise MailboxUnavailable("Exchange saved the reply but did not return its id")
        changekey = self._session.call("attach files to a reply", lambda: self._attach(draft, attachments))
        self._session.call("send a reply", lambda: _raise_first(SendItem(account=account).call(
            items=[ItemId(draft.id, changekey)], saved_item_folder=folders.sent)))

    def send(self, to: list[str], subject: str, body: str, attachments: list[Attachment] | None = None) -> None:
        folders = self._folders()
        message = Message(account=self._session.account, subject=subject, body=Body(body),
                          to_recipients=[Mailbox(email_address=address) for address in to],
                          attachments=[_file_attachment(a) for a in attachments or []])
        self._session.call("send an email", lambda: self._create(message, SEND_AND_SAVE_COPY, folders.sent))

    # --- watching -------------------------------------------------------------------------------------
    def watch(self, poll_interval_s: float | None = None) -> EwsWatcher:
        """A watcher on the Inbox: a streaming subscription, or polling when the server offers none (or
        ``watch_mode`` is ``polling``). It has its own connection, so it never holds up the intake."""
        return EwsWatcher(self._settings, self._folders().inbox.id, mode=self._watch_mode,
                          interval_s=poll_interval_s or self._poll_interval_s,
                          unreachable_after_s=self._watch_unreachable_s)

    def close(self) -> None:
        self._session.close()

    # --- folders --------------------------------------------------------------------------------------
    def _distinguished(self, name: str) -> DistinguishedFolderId:
        return DistinguishedFolderId(id=name, mailbox=Mailbox(email_address=self.address))

    def _folders(self) -> _Folders:
        with self._folders_lock:
            if self._folders_cache is None:
                self._folders_cache = self._session.call("open the mailbox folders", self._open_folders)
            return self._folders_cache

    def _open_folders(self) -> _Folders:
        account = self._session.account
        fields = {FieldPath(field=Folder.get_field_by_fieldname(name)) for name in ("name", "parent_folder_id")}
        [inbox] = _raise_first(GetFolder(account=account).call(
            folders=[Inbox(root=self._root, _distinguished_id=self._distinguished("inbox"))],
            additional_fields=fields, shape="IdOnly"))
        parent = Folder(root=self._root, id=inbox.parent_folder_id.id, changekey=inbox.parent_folder_id.changekey)
        existing = self._children(parent)
        missing = [name for name in self._folder_names.values() if name.lower() not in existing]
        if missing:
            created = CreateFolder(account=account).call(
                parent_folder=parent, folders=[Folder(parent=parent, name=name) for name in missing])
            for name, result in zip(missing, created, strict=True):
                if isinstance(result, ErrorFolderExists):  # another worker created it just now
                    continue
                if isinstance(result, Exception):
                    raise result
                existing[name.lower()] = result
            if any(name.lower() not in existing for name in missing):
                existing.update(self._children(parent))
        named = {key: existing[name.lower()] for key, name in self._folder_names.items()}
        return _Folders(inbox=inbox, **named,
                        drafts=Drafts(root=self._root, _distinguished_id=self._distinguished("drafts")),
                        sent=SentItems(root=self._root, _distinguished_id=self._distinguished("sentitems")))

    def _children(self, parent: Folder) -> dict[str, Folder]:
        fields = {FieldPath(field=Folder.get_field_by_fieldname("name"))}
        found = FindFolder(account=self._session.account).call(
            folders=[parent], additional_fields=fields, restriction=None, shape="IdOnly", depth=SHALLOW_FOLDERS,
            max_items=None, offset=0)
        return {folder.name.lower(): folder for folder in _raise_first(found) if folder.name}

    # --- EWS steps (run inside EwsSession.call) ------------------------------------------------------------
    @staticmethod
    def _list(query: QuerySet, limit: int | None) -> list[Email]:
        items = query.order_by("datetime_received").only(*_LIST_FIELDS)
        return [_email(item, full=False) for item in (items[:limit] if limit else items)]

    def _get(self, item_id: str, fields: tuple[str, ...], folder: Folder) -> Message | None:
        """The item with just ``fields``, or None when the id no longer resolves (moved or deleted)."""
        [item] = self._session.account.fetch(ids=[ItemId(item_id)], folder=folder, only_fields=list(fields) or ["id"])
        if isinstance(item, ErrorItemNotFound | ErrorInvalidIdMalformed):
            return None
        if isinstance(item, Exception):
            raise item
        return item

    def _move(self, item_id: str, folder: Folder) -> ItemId | None:
        [result] = MoveItem(account=self._session.account).call(items=[ItemId(item_id)], to_folder=folder)
        if isinstance(result, ErrorItemNotFound | ErrorInvalidIdMalformed):
            return None
        if isinstance(result, Exception):
            raise result
        return ItemId(*result)

    def _update_read(self, item_id: ItemId, *, read: bool) -> None:
        message = Message(account=self._session.account, id=item_id.id, changekey=item_id.changekey, is_read=read)
        _raise_first(UpdateItem(account=self._session.account).call(
            items=[(message, ["is_read"])], conflict_resolution=AUTO_RESOLVE, message_disposition=SAVE_ONLY,
            send_meeting_invitations_or_cancellations=SEND_TO_NONE, suppress_read_receipts=True))

    def _mark(self, item_id: ItemId, *, read: bool) -> None:
        try:
            self._session.call("mark a claimed email read", lambda: self._update_read(item_id, read=read))
        except MailboxUnavailable as exc:
            log.warning("ews_mark_read_failed", error=str(exc))

    def _create(self, item: Message | ReplyToItem, disposition: str, folder: Folder) -> ItemId | None:
        """CreateItem; the new item's id when it was saved (SaveOnly), else None."""
        results = _raise_first(CreateItem(account=self._session.account).call(
            items=[item], folder=folder, message_disposition=disposition, send_meeting_invitations=SEND_TO_NONE))
        created = results[0] if results else None
        return ItemId(created.id, created.changekey) if getattr(created, "id", None) else None

    def _attach(self, draft: ItemId, attachments: list[Attachment]) -> str:
        created = _raise_first(CreateAttachment(account=self._session.account).call(
            parent_item=ParentItemId(draft.id, draft.changekey), items=[_file_attachment(a) for a in attachments]))
        changekeys = [a.attachment_id.root_changekey for a in created if isinstance(a.attachment_id, AttachmentId)]
        return changekeys[-1] if changekeys else draft.changekey


# --- mapping -----------------------------------------------------------------------------------------------
def _raise_first(results: object) -> list:
    """exchangelib returns per-item errors as values; raise the first one."""
    found = list(results)
    for result in found:
        if isinstance(result, Exception):
            raise result
    return found


def _email(item: Message, *, full: bool) -> Email:
    # In message order: the first of a repeated header is the newest, added by the server nearest Clerk.
    kept = kept_headers(((header.name or "", header.value or "") for header in item.headers or []), _KEPT_HEADERS)
    sender = address_lower(item.author.email_address or "") if item.author else ""
    recipients = [*(item.to_recipients or []), *(item.cc_recipients or [])]
    received = (datetime.fromtimestamp(item.datetime_received.timestamp(), UTC) if item.datetime_received
                else datetime.now(UTC))
    return Email(
        id=item.id,
        message_id=(item.message_id or "").strip() or _stand_in_message_id(item, sender, received),
        sender=sender,
        to=tuple(address_lower(m.email_address or "") for m in recipients if m.email_address),
        subject=item.subject or "",
        received=received,
        headers=first_values(kept),
        body=(item.text_body or "").replace("\r\n", "\n") if full else "",
        attachment_names=tuple(_attachment_name(a) for a in item.attachments or []) if full else (),
        all_headers=kept,
    )


def _stand_in_message_id(item: Message, sender: str, received: datetime) -> str:
    """For the rare item without an Internet Message-ID: stable across moves (unlike the EWS id)."""
    digest = hashlib.sha256(f"{sender}|{received.isoformat()}|{item.subject}".encode()).hexdigest()[:24]
    return f"<ews-{digest}@clerk.invalid>"


def _attachment_name(attachment: FileAttachment | ItemAttachment) -> str:
    name = _UNSAFE_NAME.sub("_", attachment.name or "").strip(" .") or "attachment"
    return f"{name}.eml" if isinstance(attachment, ItemAttachment) else name


def _attachment(attachment: FileAttachment | ItemAttachment) -> Attachment:
    if isinstance(attachment, ItemAttachment):
        item = attachment.item
        mime = getattr(item, "mime_content", None) or b""
        return Attachment(_attachment_name(attachment), "message/rfc822",
                          mime if isinstance(mime, bytes) else mime.encode())
    return Attachment(_attachment_name(attachment), attachment.content_type or "application/octet-stream",
                      attachment.content or b"")


def _file_attachment(attachment: Attachment) -> FileAttachment:
    return FileAttachment(name=attachment.filename, content_type=attachment.content_type, content=attachment.data)


def _short(item_id: str) -> str:
    """EWS ids are long; messages show their tail, enough to find the item in a trace."""
    return f"...{item_id[-12:]}" if len(item_id) > 12 else item_id
