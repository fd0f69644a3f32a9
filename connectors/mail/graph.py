"""Exchange Online by Microsoft Graph: the shared mailbox Clerk reads when EWS is switched off (April 2027).

Clerk signs in as an app (client credentials, application permissions ``Mail.ReadWrite`` and
``Mail.Send``, limited to the one shared mailbox by an application access policy) and uses only REST
calls on ``/users/{mailbox}``:

* new mail is the Inbox's unread messages, oldest first, asking only for the fields Clerk uses
  (the internet headers included, for the sender checks);
* claiming is ``POST /messages/{id}/move`` to Processing. Exchange gives a moved message a new id and
  the old id stops working, so of two workers moving one email, the second gets 404
  (``ErrorItemNotFound``) and is told :class:`AlreadyClaimed`. Clerk therefore never asks for immutable
  ids (``Prefer: IdType="ImmutableId"``), which would let a second move succeed;
* Processing, Done and Exceptions are found, or created, under the mailbox's top folder;
* an attached message (``itemAttachment``) is fetched as MIME (``/attachments/{id}/$value``);
* replies without attachments are one ``/reply`` call; with attachments they are a draft
  (``createReply``), its attachments, then ``/send``. New mail is ``/sendMail``.

Everything goes through :class:`~connectors.mail.graph_client.GraphClient` (token, throttling, error
translation); :mod:`connectors.mail.graph_watch` tells the intake when mail arrives.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import threading
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import structlog

from connectors.errors import AlreadyClaimed, MailboxUnavailable
from connectors.mail import Attachment, Email, FinalFolder, Folder, address_lower, first_values, kept_headers
from connectors.mail.graph_client import GRAPH_SCOPE, GraphClient, GraphRequestFailed
from connectors.mail.graph_watch import GraphWatcher

log = structlog.get_logger(__name__)

DEFAULT_FOLDERS = {"processing": "Processing", "done": "Done", "exceptions": "Exceptions"}
_LIST_FIELDS = "id,internetMessageId,from,toRecipients,ccRecipients,subject,receivedDateTime,internetMessageHeaders"
_FULL_FIELDS = _LIST_FIELDS + ",body,parentFolderId"
_KEPT_HEADERS = ("From", "Sender", "Reply-To", "Authentication-Results", "X-MS-Exchange-Organization-AuthAs",
                 "In-Reply-To")
_EVER = "1900-01-01T00:00:00Z"
"""Exchange sorts a filtered list only by a property the filter names first, hence ``receivedDateTime ge`` this."""
_PREFER_TEXT = {"Prefer": 'outlook.body-content-type="text"'}
_PAGE = 100


class GraphMailbox:
    """Clerk's :class:`~connectors.mail.Mailbox` on an Exchange Online shared mailbox, by Microsoft Graph."""

    def __init__(self, *, mailbox: str, tenant_id: str, client_id: str, client_secret: str,
                 authority_host: str = "https://login.microsoftonline.com",
                 graph_url: str = "https://graph.microsoft.com/v1.0", scope: str = GRAPH_SCOPE,
                 ca_file: str | None = None, folders: dict[str, str] | None = None, busy_max_wait_s: float = 30,
                 timeout_s: float = 30, watch_mode: Literal["auto", "polling"] = "auto", poll_interval_s: float = 1.0,
                 watch_unreachable_s: float = 60) -> None:
        self.address = mailbox
        self._client = GraphClient(tenant_id=tenant_id, client_id=client_id, client_secret=client_secret,
                                   authority_host=authority_host, graph_url=graph_url, scope=scope, ca_file=ca_file,
                                   timeout_s=timeout_s, busy_max_wait_s=busy_max_wait_s)
        self._user = f"{self._client.graph_url}/users/{quote(mailbox, safe='@')}"
        self._folder_names = {**DEFAULT_FOLDERS, **(folders or {})}
        self._folder_ids: dict[str, str] = {}
        self._folders_lock = threading.Lock()
        self._watch_mode = watch_mode
        self._poll_interval_s = poll_interval_s
        self._watch_unreachable_s = watch_unreachable_s

    # --- reading --------------------------------------------------------------------------------------
    def list_new(self, limit: int | None = None) -> list[Email]:
        params = {"$filter": f"receivedDateTime ge {_EVER} and isRead eq false", "$orderby": "receivedDateTime asc",
                  "$select": _LIST_FIELDS, "$top": str(min(limit or _PAGE, _PAGE))}
        items = self._client.pages(f"{self._user}/mailFolders/inbox/messages", what="listing new mail",
                                   params=params, limit=limit)
        return [_email(item) for item in items]

    def list_folder(self, folder: Folder, limit: int | None = None) -> list[Email]:
        key = "inbox" if folder == "inbox" else self._folder_id(folder)
        params = {"$orderby": "receivedDateTime asc", "$select": _LIST_FIELDS, "$top": str(min(limit or _PAGE, _PAGE))}
        items = self._client.pages(f"{self._user}/mailFolders/{key}/messages", what=f"listing {folder}",
                                   params=params, limit=limit)
        return [_email(item) for item in items]

    def find_claimed(self, email_id: str) -> Email:
        try:
            email = self._read(email_id, processing_only=True)
        except GraphRequestFailed as exc:
            if exc.status == 404:
                raise MailboxUnavailable(f"email {email_id} is not in processing") from None
            raise
        return email

    def attachments(self, email: Email) -> list[Attachment]:
        url = f"{self._message_url(email.id)}/attachments"
        found = []
        for item in self._client.pages(url, what="reading attachments", params={"$top": str(_PAGE)}):
            kind = item.get("@odata.type", "")
            if kind == "#microsoft.graph.fileAttachment":
                found.append(Attachment(item.get("name") or "attachment",
                                        item.get("contentType") or "application/octet-stream",
                                        self._file_bytes(url, item)))
            elif kind == "#microsoft.graph.itemAttachment":
                mime = self._client.call("GET", f"{url}/{quote(item['id'], safe='')}/$value",
                                         what="reading an attached message").content
                found.append(Attachment(_eml_name(item.get("name")), "message/rfc822", mime))
            else:  # a link to a file in OneDrive or SharePoint: there is nothing in the email to read
                log.info("graph_attachment_skipped", kind=kind)
        return found

    # --- moving -------------------------------------------------------------------------------------------
    def claim(self, email: Email) -> Email:
        processing = self._folder_id("processing")
        try:
            moved = self._move(email.id, processing, "claiming an email")
        except GraphRequestFailed as exc:
            if exc.graph_code != "ErrorItemNotFound":
                raise
            if not self._exists(email.id):
                raise AlreadyClaimed(f"email {email.id} was claimed by another worker") from None
            self._forget_folders()  # the email is still there, so the Processing folder is what went missing
            raise MailboxUnavailable("the Processing folder was not found; it is looked up (or created) again on "
                                     "the next try") from None
        return self._read(moved)

    def move(self, email: Email, folder: FinalFolder) -> Email:
        try:
            new_id = self._move(email.id, self._folder_id(folder), f"moving an email to {folder}")
        except GraphRequestFailed as exc:
            if exc.graph_code == "ErrorItemNotFound":
                self._forget_folders()  # in case the folder, not the email, is missing: look again next time
            raise
        return dataclasses.replace(email, id=new_id)

    def requeue(self, email: Email) -> Email:
        """Back to the Inbox, and unread again (someone may have opened it in Exceptions), so it is listed as new."""
        new_id = self._move(email.id, "inbox", "requeueing an email")
        self._client.call("PATCH", self._message_url(new_id), what="marking a requeued email unread",
                          json={"isRead": False})
        return dataclasses.replace(email, id=new_id)

    # --- writing ------------------------------------------------------------------------------------------
    def reply(self, email: Email, subject: str, body: str, attachments: list[Attachment] | None = None,
              key: str | None = None) -> None:
        """To the email's ``From`` address (not a ``Reply-To``), threaded by Exchange with In-Reply-To."""
        message = {"subject": subject, "body": {"contentType": "Text", "content": body},
                   "toRecipients": _recipients([email.sender])}
        url = self._message_url(email.id)
        if not attachments:
            self._client.call("POST", f"{url}/reply", what="replying", json={"message": message})
            return
        draft = self._client.created_id("POST", f"{url}/createReply", what="drafting a reply",
                                        json={"message": message})
        draft_url = self._message_url(draft)
        try:
            for attachment in attachments:
                self._client.call("POST", f"{draft_url}/attachments", what="attaching a file to a reply",
                                  json=_file_attachment(attachment))
            self._client.call("POST", f"{draft_url}/send", what="sending a reply")
        except MailboxUnavailable:
            self._discard_draft(draft_url)
            raise

    def send(self, to: list[str], subject: str, body: str, attachments: list[Attachment] | None = None) -> None:
        message: dict[str, Any] = {"subject": subject, "body": {"contentType": "Text", "content": body},
                                   "toRecipients": _recipients(to)}
        if attachments:
            message["attachments"] = [_file_attachment(attachment) for attachment in attachments]
        self._client.call("POST", f"{self._user}/sendMail", what="sending an email",
                          json={"message": message, "saveToSentItems": True})

    def watch(self) -> GraphWatcher:
        return GraphWatcher(self._client, f"{self._user}/mailFolders/inbox/messages", mode=self._watch_mode,
                            interval_s=self._poll_interval_s, unreachable_after_s=self._watch_unreachable_s)

    def close(self) -> None:
        """Release the HTTPS connections (and cut short any wait for a throttled call)."""
        self._client.close()

    # --- internals ------------------------------------------------------------------------------------------
    def _message_url(self, message_id: str) -> str:
        return f"{self._user}/messages/{quote(message_id, safe='')}"

    def _move(self, message_id: str, destination: str, what: str) -> str:
        return self._client.created_id("POST", f"{self._message_url(message_id)}/move", what=what,
                                       json={"destinationId": destination})

    def _read(self, message_id: str, processing_only: bool = False) -> Email:
        item = self._client.get_json(self._message_url(message_id), what="reading an email",
                                     params={"$select": _FULL_FIELDS}, headers=_PREFER_TEXT)
        if processing_only and item.get("parentFolderId") != self._folder_id("processing"):
            raise MailboxUnavailable(f"email {message_id} is not in processing")
        names = [
            _eml_name(a.get("name")) if a.get("@odata.type") == "#microsoft.graph.itemAttachment"
            else a.get("name") or "attachment"
            for a in self._client.pages(f"{self._message_url(message_id)}/attachments", what="listing attachments",
                                        params={"$select": "id,name", "$top": str(_PAGE)})
            if a.get("@odata.type") != "#microsoft.graph.referenceAttachment"
        ]
        return _email(item, body=(item.get("body") or {}).get("content", ""), attachment_names=tuple(names))

    def _exists(self, message_id: str) -> bool:
        try:
            self._client.call("GET", self._message_url(message_id), what="checking an email",
                              params={"$select": "id"})
        except GraphRequestFailed as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _file_bytes(self, attachments_url: str, item: dict[str, Any]) -> bytes:
        if item.get("contentBytes") is None:  # very large files come without their content inline
            return self._client.call("GET", f"{attachments_url}/{quote(item['id'], safe='')}/$value",
                                     what="reading an attachment").content
        try:
            return base64.b64decode(item["contentBytes"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MailboxUnavailable(f"Microsoft Graph sent an attachment that is not valid base64 ({item.get('name')})"
                                     ) from exc

    def _folder_id(self, folder: str) -> str:
        """The id of Processing, Done or Exceptions, found under the mailbox's top folder or created there."""
        with self._folders_lock:
            if not self._folder_ids:
                self._folder_ids = self._ensure_folders()
            return self._folder_ids[folder]

    def _forget_folders(self) -> None:
        with self._folders_lock:
            self._folder_ids = {}

    def _ensure_folders(self) -> dict[str, str]:
        url = f"{self._user}/mailFolders"
        existing = {item.get("displayName", "").lower(): item["id"] for item in self._client.pages(
            url, what="finding Clerk's folders", params={"$select": "id,displayName", "$top": str(_PAGE)})}
        ids = {}
        for key, name in self._folder_names.items():
            if name.lower() in existing:
                ids[key] = existing[name.lower()]
                continue
            try:
                ids[key] = self._client.created_id("POST", url, what=f"creating the {name} folder",
                                                   json={"displayName": name})
                log.info("graph_folder_created", folder=name)
            except GraphRequestFailed as exc:
                if exc.graph_code != "ErrorFolderExists":
                    raise
                ids[key] = self._find_folder(url, name)  # another worker created it a moment ago
        return ids

    def _find_folder(self, url: str, name: str) -> str:
        quoted = name.replace("'", "''")
        for item in self._client.pages(url, what=f"finding the {name} folder",
                                       params={"$filter": f"displayName eq '{quoted}'", "$select": "id,displayName"}):
            return item["id"]
        raise MailboxUnavailable(f"the {name} folder exists but Microsoft Graph does not list it")

    def _discard_draft(self, draft_url: str) -> None:
        try:
            self._client.call("DELETE", draft_url, what="discarding an unsent reply")
        except MailboxUnavailable as exc:  # the reply failed already; a leftover draft is harmless
            log.info("graph_draft_left", error=str(exc))


def _email(item: dict[str, Any], body: str = "", attachment_names: tuple[str, ...] = ()) -> Email:
    try:
        return _parse_email(item, body, attachment_names)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MailboxUnavailable(f"Microsoft Graph sent a message Clerk cannot read: {type(exc).__name__} {exc}") from exc


def _parse_email(item: dict[str, Any], body: str, attachment_names: tuple[str, ...]) -> Email:
    # In message order: the first of a repeated header is the newest, added by the server nearest Clerk.
    kept = kept_headers(((str(header.get("name") or ""), str(header.get("value") or ""))
                         for header in item.get("internetMessageHeaders") or []), _KEPT_HEADERS)
    recipients = (item.get("toRecipients") or []) + (item.get("ccRecipients") or [])
    return Email(
        id=item["id"],
        message_id=item.get("internetMessageId") or f"<graph-{item['id']}>",
        sender=_address(item.get("from")),
        to=tuple(address for address in (_address(r) for r in recipients) if address),
        subject=item.get("subject") or "",
        received=datetime.fromisoformat(item["receivedDateTime"]),
        headers=first_values(kept),
        body=body,
        attachment_names=attachment_names,
        all_headers=kept,
    )


def _address(recipient: dict[str, Any] | None) -> str:
    return address_lower(str(((recipient or {}).get("emailAddress") or {}).get("address") or ""))


def _recipients(addresses: list[str]) -> list[dict[str, Any]]:
    return [{"emailAddress": {"address": address}} for address in addresses]


def _eml_name(name: str | None) -> str:
    name = (name or "attached message").strip()
    return name if name.lower().endswith(".eml") else f"{name}.eml"


def _file_attachment(attachment: Attachment) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.fileAttachment", "name": attachment.filename,
            "contentType": attachment.content_type, "contentBytes": base64.b64encode(attachment.data).decode()}
