"""The state behind the loopback Graph server: one mailbox's folders, messages, attachments and change log.

It behaves like Exchange Online where Clerk depends on it: a message gets a new id when it moves (so a
second move of the old id fails, which is how two workers racing for one email are told apart); messages
keep their internet headers (in order, values as transported: unfolded, RFC 2047 words not decoded);
replies and new mail are recorded as MIME, as a recipient would get them; and every change to a folder is
logged so that delta queries can report it.
"""

from __future__ import annotations

import base64
import html
import itertools
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, getaddresses, make_msgid, parseaddr

WELL_KNOWN = {
    "inbox": "Inbox",
    "drafts": "Drafts",
    "sentitems": "Sent Items",
    "deleteditems": "Deleted Items",
    "junkemail": "Junk Email",
    "archive": "Archive",
    "outbox": "Outbox",
}


class GraphError(Exception):
    """An error the server answers in Graph's JSON shape: ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def not_found(what: str = "item") -> GraphError:
    return GraphError(404, "ErrorItemNotFound", f"The specified object was not found in the store. ({what})")


def new_id(prefix: str = "AAMk") -> str:
    """An opaque id in the style of Exchange's (URL-safe base64)."""
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(33)).decode()


def graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Folder:
    id: str
    display_name: str
    parent_id: str | None
    well_known: str | None = None


@dataclass
class Attachment:
    id: str
    kind: str  # "file" or "item"
    name: str
    content_type: str
    data: bytes
    """A file's bytes, or an attached message's MIME."""
    is_inline: bool = False
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Message:
    id: str
    folder_id: str
    seq: int
    subject: str
    sender: tuple[str, str]
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    reply_to: list[tuple[str, str]]
    internet_message_id: str
    received: datetime
    headers: list[tuple[str, str]]
    body: str
    body_type: str  # "text" or "html"
    attachments: list[Attachment]
    is_read: bool = False
    is_draft: bool = False
    in_reply_to: str | None = None
    references: str | None = None
    mime: bytes | None = None
    """The MIME as delivered; messages written through the API build theirs from their fields."""
    change_key: str = field(default_factory=lambda: secrets.token_urlsafe(8))

    def to_mime(self) -> bytes:
        return self.mime if self.mime is not None else build_mime(self).as_bytes(policy=policy.SMTP)


@dataclass(frozen=True)
class Change:
    number: int
    folder_id: str
    message_id: str


def as_transported(value: str) -> str:
    """A raw header value unfolded, with 8-bit bytes (RFC 6532) read as UTF-8: what Exchange reports, where a
    value re-rendered by a parser would hide what was sent."""
    return re.sub(r"\r?\n(?=[ \t])", "", value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    return [(name, address) for name, address in getaddresses(values) if address]


def html_to_text(markup: str) -> str:
    text = re.sub(r"(?is)<(script|style).*?</\1>", "", markup)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def text_to_html(text: str) -> str:
    return f"<html><body><div>{html.escape(text).replace(chr(10), '<br>')}</div></body></html>"


def build_mime(message: Message) -> EmailMessage:
    """The message as the recipient's server would receive it (for sent mail and ``$value`` of drafts)."""
    mime = EmailMessage()
    name, address = message.sender
    mime["From"] = f"{name} <{address}>" if name else address
    if message.to:
        mime["To"] = ", ".join(address for _, address in message.to)
    if message.cc:
        mime["Cc"] = ", ".join(address for _, address in message.cc)
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(message.received.timestamp())
    mime["Message-ID"] = message.internet_message_id
    if message.in_reply_to:
        mime["In-Reply-To"] = message.in_reply_to
        mime["References"] = message.references or message.in_reply_to
    if message.body_type == "html":
        mime.set_content(message.body, subtype="html")
    else:
        mime.set_content(message.body)
    for attachment in message.attachments:
        if attachment.kind == "item":
            inner = BytesParser(policy=policy.default).parsebytes(attachment.data)
            mime.add_attachment(inner)
        else:
            maintype, _, subtype = attachment.content_type.partition("/")
            mime.add_attachment(attachment.data, maintype=maintype or "application", subtype=subtype or "octet-stream",
                                filename=attachment.name)
    return mime


class MailStore:
    """One shared mailbox. Every public method takes the store's lock, so each call is atomic."""

    def __init__(self, address: str, display_name: str = "Clerk") -> None:
        self.address = address
        self.display_name = display_name
        self.lock = threading.RLock()
        self.root = Folder(new_id("AQMk"), "Top of Information Store", None, "msgfolderroot")
        self.folders: dict[str, Folder] = {self.root.id: self.root}
        for well_known, name in WELL_KNOWN.items():
            folder = Folder(new_id("AQMk"), name, self.root.id, well_known)
            self.folders[folder.id] = folder
        self.messages: dict[str, Message] = {}
        self.changes: list[Change] = []
        self.sent: list[bytes] = []
        self._seq = itertools.count(1)
        self._change_numbers = itertools.count(1)
        self._last_received = datetime.now(UTC) - timedelta(days=1)

    # --- folders --------------------------------------------------------------------------------------
    def folder(self, key: str) -> Folder:
        with self.lock:
            if key in self.folders:
                return self.folders[key]
            lowered = key.lower()
            if lowered == "msgfolderroot":
                return self.root
            for folder in self.folders.values():
                if folder.well_known == lowered:
                    return folder
            raise not_found("folder")

    def folder_named(self, display_name: str) -> Folder:
        with self.lock:
            for folder in self.folders.values():
                if folder.display_name.lower() == display_name.lower():
                    return folder
            raise not_found(f"folder {display_name}")

    def children(self, parent_id: str) -> list[Folder]:
        with self.lock:
            return [folder for folder in self.folders.values() if folder.parent_id == parent_id]

    def create_folder(self, parent_id: str, display_name: str) -> Folder:
        with self.lock:
            if any(child.display_name.lower() == display_name.lower() for child in self.children(parent_id)):
                raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
            folder = Folder(new_id("AQMk"), display_name, parent_id)
            self.folders[folder.id] = folder
            return folder

    def delete_folder(self, folder_id: str) -> None:
        """Delete a folder and what is in it (an administrator tidying the mailbox)."""
        with self.lock:
            for message in self.in_folder(folder_id):
                self._remove(message)
            del self.folders[folder_id]

    def in_folder(self, folder_id: str) -> list[Message]:
        with self.lock:
            return sorted((m for m in self.messages.values() if m.folder_id == folder_id),
                          key=lambda m: (m.received, m.seq))

    # --- messages -------------------------------------------------------------------------------------
    def get(self, message_id: str) -> Message:
        with self.lock:
            try:
                return self.messages[message_id]
            except KeyError:
                raise not_found() from None

    def deliver(self, mime: EmailMessage, folder_key: str = "inbox") -> Message:
        """File a message that arrived from outside, unread, with its headers kept as internet headers."""
        raw = mime.as_bytes(policy=policy.SMTP)
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        body_part = parsed.get_body(preferencelist=("html", "plain"))
        body = body_part.get_content() if body_part is not None else ""
        attachments = []
        for part in parsed.iter_attachments():
            if part.get_content_type() == "message/rfc822":
                inner = part.get_content()
                attachments.append(Attachment(new_id("AAMkAtt"), "item", str(inner.get("Subject", "Attached message")),
                                              "message/rfc822", inner.as_bytes(policy=policy.SMTP)))
            elif part.get_content_maintype() != "multipart":
                attachments.append(Attachment(new_id("AAMkAtt"), "file", part.get_filename() or "attachment",
                                              part.get_content_type(), part.get_payload(decode=True) or b"",
                                              is_inline=part.get_content_disposition() == "inline"))
        name, address = parseaddr(str(parsed.get("From", "")))
        with self.lock:
            # Strictly increasing, so delivery order is receivedDateTime order even within one second.
            received = max(datetime.now(UTC), self._last_received + timedelta(microseconds=1))
            self._last_received = received
            message = Message(
                id=new_id(), folder_id=self.folder(folder_key).id, seq=next(self._seq),
                subject=str(parsed.get("Subject", "")), sender=(name, address),
                to=_addresses([str(v) for v in parsed.get_all("To", [])]),
                cc=_addresses([str(v) for v in parsed.get_all("Cc", [])]),
                reply_to=_addresses([str(v) for v in parsed.get_all("Reply-To", [])]),
                internet_message_id=str(parsed.get("Message-ID", "")).strip() or make_msgid(),
                received=received, headers=[(key, as_transported(value)) for key, value in parsed.raw_items()],
                body=body, body_type="html" if body_part is not None and body_part.get_content_subtype() == "html"
                else "text", attachments=attachments, mime=raw,
                in_reply_to=str(parsed["In-Reply-To"]) if parsed["In-Reply-To"] else None,
            )
            self._add(message)
            return message

    def new_draft(self, **fields: object) -> Message:
        """A message written through the API, saved in Drafts until it is sent."""
        with self.lock:
            message = Message(
                id=new_id(), folder_id=self.folder("drafts").id, seq=next(self._seq), subject="",
                sender=(self.display_name, self.address), to=[], cc=[], reply_to=[],
                internet_message_id=make_msgid(domain=self.address.partition("@")[2] or None),
                received=datetime.now(UTC), headers=[], body="", body_type="text", attachments=[],
                is_read=True, is_draft=True,
            )
            for name, value in fields.items():
                setattr(message, name, value)
            self._add(message)
            return message

    def move(self, message_id: str, destination_key: str) -> Message:
        """Move under a new id: the old id stops working, as in Exchange without immutable ids."""
        with self.lock:
            message = self.get(message_id)
            destination = self.folder(destination_key)
            self._remove(message)
            message.id = new_id()
            message.folder_id = destination.id
            message.change_key = secrets.token_urlsafe(8)
            self._add(message)
            return message

    def update(self, message_id: str, **fields: object) -> Message:
        with self.lock:
            message = self.get(message_id)
            for name, value in fields.items():
                setattr(message, name, value)
            message.change_key = secrets.token_urlsafe(8)
            self._log(message)
            return message

    def delete(self, message_id: str) -> None:
        with self.lock:
            self._remove(self.get(message_id))

    def send(self, message: Message, save_copy: bool = True) -> None:
        """Record a message as sent (its MIME, as the recipient gets it) and file it in Sent Items."""
        with self.lock:
            message.is_draft = False
            message.received = datetime.now(UTC)
            self.sent.append(build_mime(message).as_bytes(policy=policy.SMTP))
            if message.id in self.messages:
                self._remove(message)
            if save_copy:
                message.id = new_id()
                message.folder_id = self.folder("sentitems").id
                self._add(message)

    # --- change log (for delta queries) -----------------------------------------------------------------
    def changes_since(self, number: int, folder_id: str) -> tuple[list[str], int]:
        """Ids of the messages added, changed or removed in the folder after change ``number``, and the latest number."""
        with self.lock:
            latest = self.changes[-1].number if self.changes else 0
            ids = list(dict.fromkeys(c.message_id for c in self.changes if c.number > number and c.folder_id == folder_id))
            return ids, latest

    def latest_change(self) -> int:
        with self.lock:
            return self.changes[-1].number if self.changes else 0

    def _add(self, message: Message) -> None:
        self.messages[message.id] = message
        self._log(message)

    def _remove(self, message: Message) -> None:
        del self.messages[message.id]
        self._log(message)

    def _log(self, message: Message) -> None:
        self.changes.append(Change(next(self._change_numbers), message.folder_id, message.id))
