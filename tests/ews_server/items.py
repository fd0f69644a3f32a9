"""How the loopback server shows a stored MIME message as an EWS item, and builds MIME from EWS items.

Items are kept as MIME, as Exchange keeps the original message: every EWS property (Subject, From,
InternetMessageHeaders, Attachments, TextBody...) is read from it, and messages the client creates
(new mail, replies, drafts) are composed as MIME here.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, getaddresses, make_msgid, parsedate_to_datetime
from functools import cached_property

from tests.ews_server.soap import Element, EwsError, el, find, findall, local_name, text_of
from tests.ews_server.store import MailStore, StoredItem


@dataclass(frozen=True)
class MimeAttachment:
    index: int
    kind: str
    """``file`` or ``item`` (an attached message)."""
    name: str
    content_type: str
    data: bytes
    inline: bool


def attachments_of(message: EmailMessage) -> list[MimeAttachment]:
    found = []
    for index, part in enumerate(message.iter_attachments()):
        content_type = part.get_content_type()
        inline = part.get_content_disposition() == "inline"
        if content_type == "message/rfc822":
            inner = part.get_content()
            name = str(inner.get("Subject", "")) or (part.get_filename() or "message").removesuffix(".eml")
            found.append(MimeAttachment(index, "item", name, content_type, inner.as_bytes(policy=policy.SMTP), inline))
        elif part.get_content_maintype() != "multipart":
            found.append(MimeAttachment(index, "file", part.get_filename() or "attachment", content_type,
                                        part.get_payload(decode=True) or b"", inline))
    return found


def attachment_id(item_id: str, index: int) -> str:
    return base64.b64encode(f"{item_id}\x00{index}".encode()).decode()


def parse_attachment_id(value: str) -> tuple[str, int]:
    try:
        item_id, _, index = base64.b64decode(value).decode().rpartition("\x00")
        return item_id, int(index)
    except (ValueError, UnicodeDecodeError):
        raise EwsError("ErrorInvalidIdMalformed", "The attachment id is malformed.") from None


def body_text(message: EmailMessage) -> tuple[str, str]:
    """(body type, content): the plain-text body if there is one, else the HTML body."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return "Text", ""
    content = part.get_content()
    return ("HTML", content) if part.get_content_subtype() == "html" else ("Text", content)


def plain_text(message: EmailMessage) -> str:
    kind, content = body_text(message)
    return re.sub(r"<[^>]+>", "", content) if kind == "HTML" else content


def _mailbox(name: str, address: str) -> Element:
    children = [el("t:Name", name or address), el("t:EmailAddress", address), el("t:RoutingType", "SMTP"),
                el("t:MailboxType", "OneOff")]
    return el("t:Mailbox", children=children)


def as_transported(value: str) -> str:
    """A raw header value unfolded, with 8-bit bytes (RFC 6532) read as UTF-8."""
    return re.sub(r"\r?\n(?=[ \t])", "", value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _addresses(message: EmailMessage, header: str) -> list[tuple[str, str]]:
    return [(name, address) for name, address in getaddresses([str(v) for v in message.get_all(header, [])])
            if address]


class ItemView:
    """One stored item, read for rendering (the MIME is parsed once)."""

    def __init__(self, store: MailStore, item: StoredItem) -> None:
        self.store = store
        self.item = item

    @cached_property
    def message(self) -> EmailMessage:
        return self.item.message

    def element(self, fields: set[str], *, mime: bool = False) -> Element:
        message = el("t:Message")
        if mime:
            message.append(mime_content(self.item.mime))
        message.append(el("t:ItemId", attrs={"Id": self.item.id, "ChangeKey": self.item.changekey}))
        for uri, render in _RENDERERS:
            if uri in fields:
                rendered = render(self)
                if rendered is not None:
                    message.append(rendered)
        return message

    # --- values, also used by restrictions and sort orders -------------------------------------------
    def value(self, uri: str) -> str:
        values: dict[str, Callable[[], str]] = {
            "message:IsRead": lambda: "true" if self.item.is_read else "false",
            "item:Subject": lambda: str(self.message.get("Subject", "")),
            "item:DateTimeReceived": lambda: self.item.received.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "message:InternetMessageId": lambda: str(self.message.get("Message-ID", "")).strip(),
        }
        if uri not in values:
            raise KeyError(uri)
        return values[uri]()

    def _header_mailbox(self, tag: str, header: str) -> Element | None:
        found = _addresses(self.message, header)
        return el(tag, children=[_mailbox(*found[0])]) if found else None

    def _recipients(self, tag: str, header: str) -> Element | None:
        found = _addresses(self.message, header)
        return el(tag, children=[_mailbox(*pair) for pair in found]) if found else None

    def _attachments(self) -> Element | None:
        found = attachments_of(self.message)
        if not found:
            return None
        return el("t:Attachments", children=[attachment_element(self.item.id, a, content=False) for a in found])

    def _headers(self) -> Element:
        """Every header in message order, values as transported (unfolded, RFC 2047 words not decoded), as
        Exchange reports the transport headers: a value re-rendered by a parser would hide what was sent."""
        return el("t:InternetMessageHeaders", children=[
            el("t:InternetMessageHeader", as_transported(value), attrs={"HeaderName": name})
            for name, value in self.message.raw_items()
        ])

    def _date_sent(self) -> Element | None:
        try:
            return el("t:DateTimeSent", parsedate_to_datetime(str(self.message["Date"])))
        except (TypeError, ValueError):
            return None

    def _body(self) -> Element:
        kind, content = body_text(self.message)
        return el("t:Body", content, attrs={"BodyType": kind})


def _optional(tag: str, value: object) -> Element | None:
    return el(tag, value) if value not in (None, "") else None


_RENDERERS: list[tuple[str, Callable[[ItemView], Element | None]]] = [
    ("item:ParentFolderId", lambda v: el("t:ParentFolderId", attrs={
        "Id": v.item.folder_id, "ChangeKey": v.store.folders[v.item.folder_id].changekey})),
    ("item:ItemClass", lambda v: el("t:ItemClass", "IPM.Note")),
    ("item:Subject", lambda v: el("t:Subject", str(v.message.get("Subject", "")))),
    ("item:Body", ItemView._body),
    ("item:Attachments", ItemView._attachments),
    ("item:DateTimeReceived", lambda v: el("t:DateTimeReceived", v.item.received)),
    ("item:Size", lambda v: el("t:Size", len(v.item.mime))),
    ("item:InReplyTo", lambda v: _optional("t:InReplyTo", str(v.message.get("In-Reply-To", "")).strip())),
    ("item:IsDraft", lambda v: el("t:IsDraft", v.item.is_draft)),
    ("item:InternetMessageHeaders", ItemView._headers),
    ("item:DateTimeSent", ItemView._date_sent),
    ("item:DateTimeCreated", lambda v: el("t:DateTimeCreated", v.item.received)),
    ("item:HasAttachments", lambda v: el("t:HasAttachments", bool(attachments_of(v.message)))),
    ("item:TextBody", lambda v: el("t:TextBody", plain_text(v.message), attrs={"BodyType": "Text"})),
    ("message:Sender", lambda v: v._header_mailbox("t:Sender", "Sender") or v._header_mailbox("t:Sender", "From")),
    ("message:ToRecipients", lambda v: v._recipients("t:ToRecipients", "To")),
    ("message:CcRecipients", lambda v: v._recipients("t:CcRecipients", "Cc")),
    ("message:From", lambda v: v._header_mailbox("t:From", "From")),
    ("message:InternetMessageId", lambda v: _optional("t:InternetMessageId", v.value("message:InternetMessageId"))),
    ("message:IsRead", lambda v: el("t:IsRead", v.item.is_read)),
    ("message:References", lambda v: _optional("t:References", str(v.message.get("References", "")).strip())),
    ("message:ReplyTo", lambda v: v._recipients("t:ReplyTo", "Reply-To")),
]
ALL_FIELDS = frozenset(uri for uri, _ in _RENDERERS)
DEFAULT_FIELDS = frozenset({
    "item:ParentFolderId", "item:ItemClass", "item:Subject", "item:Attachments", "item:DateTimeReceived", "item:Size",
    "item:HasAttachments", "item:IsDraft", "message:Sender", "message:From", "message:IsRead",
    "message:ToRecipients", "message:CcRecipients",
})


def mime_content(mime: bytes) -> Element:
    return el("t:MimeContent", base64.b64encode(mime).decode(), attrs={"CharacterSet": "UTF-8"})


def attachment_element(item_id: str, attachment: MimeAttachment, *, content: bool, include_mime: bool = False,
                       ) -> Element:
    children = [
        el("t:AttachmentId", attrs={"Id": attachment_id(item_id, attachment.index)}),
        el("t:Name", attachment.name),
        el("t:ContentType", attachment.content_type),
        el("t:Size", len(attachment.data)),
        el("t:IsInline", attachment.inline),
    ]
    if attachment.kind == "file":
        if content:
            children.append(el("t:Content", base64.b64encode(attachment.data).decode()))
        return el("t:FileAttachment", children=children)
    if content:
        inner = BytesParser(policy=policy.default).parsebytes(attachment.data)
        message = el("t:Message")
        if include_mime:
            message.append(mime_content(attachment.data))
        message.append(el("t:Subject", str(inner.get("Subject", ""))))
        children.append(message)
    return el("t:ItemAttachment", children=children)


# --- composing MIME from what the client sends -----------------------------------------------------------
def _recipient_addresses(element: Element, path: str) -> list[str]:
    addresses = []
    for mailbox in findall(element, f"{path}/t:Mailbox"):
        address = text_of(mailbox, "t:EmailAddress")
        if address:
            name = text_of(mailbox, "t:Name")
            addresses.append(str(Address(display_name=name or "", addr_spec=address)) if name else address)
    return addresses


def _set_body(message: EmailMessage, body: Element | None) -> None:
    text = body.text if body is not None and body.text else ""
    if body is not None and body.get("BodyType") == "HTML":
        message.set_content(text, subtype="html")
    else:
        message.set_content(text)


def add_attachments(message: EmailMessage, container: Element | None) -> int:
    """Attach the ``t:FileAttachment`` / ``t:ItemAttachment`` children of ``container``; return how many."""
    added = 0
    for attachment in list(container) if container is not None else []:
        name = text_of(attachment, "t:Name") or "attachment"
        if local_name(attachment) == "FileAttachment":
            data = base64.b64decode(text_of(attachment, "t:Content", "") or "")
            maintype, _, subtype = (text_of(attachment, "t:ContentType") or "application/octet-stream").partition("/")
            message.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=name)
        elif local_name(attachment) == "ItemAttachment":
            inner = find(attachment, "t:Message")
            if inner is None:
                raise EwsError("ErrorInvalidAttachment", "An item attachment must contain a Message.")
            message.add_attachment(parse_mime(compose_message("", inner).as_bytes(policy=policy.SMTP)))
        else:
            raise EwsError("ErrorInvalidAttachment", f"Unsupported attachment type {local_name(attachment)}.")
        added += 1
    return added


def parse_mime(data: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(data)


def _new_message(sender: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    if sender:
        message["From"] = sender
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "loopback.invalid")
    return message


def compose_message(sender: str, element: Element) -> EmailMessage:
    """MIME for a ``t:Message`` the client created (its MimeContent, or its properties)."""
    mime = text_of(element, "t:MimeContent")
    if mime:
        return parse_mime(base64.b64decode(mime))
    message = _new_message(sender, text_of(element, "t:Subject", "") or "")
    for header, path in (("To", "t:ToRecipients"), ("Cc", "t:CcRecipients")):
        addresses = _recipient_addresses(element, path)
        if addresses:
            message[header] = ", ".join(addresses)
    for header, path in (("In-Reply-To", "t:InReplyTo"), ("References", "t:References")):
        value = text_of(element, path)
        if value:
            message[header] = value
    _set_body(message, find(element, "t:Body"))
    add_attachments(message, find(element, "t:Attachments"))
    return message


def compose_reply(sender: str, element: Element, original: EmailMessage) -> EmailMessage:
    """MIME for a ``t:ReplyToItem``: threaded on the original as Exchange does (In-Reply-To, References)."""
    subject = text_of(element, "t:Subject") or f"RE: {original.get('Subject', '')}"
    message = _new_message(sender, subject)
    to = _recipient_addresses(element, "t:ToRecipients")
    if not to:
        to = [str(value) for value in (original.get_all("Reply-To") or original.get_all("From") or [])]
    message["To"] = ", ".join(to)
    original_id = str(original.get("Message-ID", "")).strip()
    if original_id:
        message["In-Reply-To"] = original_id
        message["References"] = " ".join(part for part in (str(original.get("References", "")).strip(), original_id)
                                          if part)
    _set_body(message, find(element, "t:NewBodyContent"))
    return message
