"""Graph's JSON shapes for folders, messages and attachments: rendering the store, and reading request bodies."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from tests.graph_server.odata import bad_request
from tests.graph_server.store import Attachment, Folder, Message, graph_time, html_to_text, new_id, text_to_html

MESSAGE_PROPERTIES = {
    "id", "createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "receivedDateTime", "sentDateTime",
    "hasAttachments", "internetMessageId", "subject", "bodyPreview", "importance", "parentFolderId", "conversationId",
    "isReadReceiptRequested", "isRead", "isDraft", "webLink", "body", "uniqueBody", "sender", "from", "toRecipients",
    "ccRecipients", "bccRecipients", "replyTo", "flag", "internetMessageHeaders",
}
_NOT_BY_DEFAULT = {"internetMessageHeaders", "uniqueBody"}
MESSAGE_FILTERS: dict[str, type] = {"isRead": bool, "receivedDateTime": datetime, "hasAttachments": bool, "subject": str}
MESSAGE_SORTS: dict[str, type] = {"receivedDateTime": datetime, "subject": str}
FOLDER_PROPERTIES = {"id", "displayName", "parentFolderId", "childFolderCount", "unreadItemCount", "totalItemCount",
                     "isHidden", "wellKnownName"}
FOLDER_FILTERS: dict[str, type] = {"displayName": str}
WRITABLE = {"subject", "body", "toRecipients", "ccRecipients", "replyTo", "isRead", "attachments"}
"""What this server stores when a message is written; anything else is refused rather than silently dropped."""


def _recipient(name: str, address: str) -> dict[str, Any]:
    return {"emailAddress": {"name": name or address, "address": address}}


def message_filter_record(message: Message) -> dict[str, object]:
    return {"isRead": message.is_read, "receivedDateTime": message.received, "hasAttachments": has_attachments(message),
            "subject": message.subject.lower()}


def has_attachments(message: Message) -> bool:
    return any(not attachment.is_inline for attachment in message.attachments)


def message_json(message: Message, select: list[str] | None, prefer_text: bool) -> dict[str, Any]:
    body = message.body
    body_type = message.body_type
    if prefer_text and body_type == "html":
        body, body_type = html_to_text(body), "text"
    elif not prefer_text and body_type == "text":
        body, body_type = text_to_html(body), "html"
    stamp = graph_time(message.received)
    full: dict[str, Any] = {
        "id": message.id,
        "createdDateTime": stamp,
        "lastModifiedDateTime": stamp,
        "changeKey": message.change_key,
        "categories": [],
        "receivedDateTime": stamp,
        "sentDateTime": stamp,
        "hasAttachments": has_attachments(message),
        "internetMessageId": message.internet_message_id,
        "subject": message.subject,
        "bodyPreview": html_to_text(message.body)[:255] if message.body_type == "html" else message.body[:255],
        "importance": "normal",
        "parentFolderId": message.folder_id,
        "conversationId": "AAQk" + message.internet_message_id.strip("<>")[:20],
        "isReadReceiptRequested": False,
        "isRead": message.is_read,
        "isDraft": message.is_draft,
        "webLink": f"https://outlook.office365.com/owa/?ItemID={message.id}",
        "body": {"contentType": body_type, "content": body},
        "uniqueBody": {"contentType": body_type, "content": body},
        "sender": _recipient(*message.sender),
        "from": _recipient(*message.sender),
        "toRecipients": [_recipient(*r) for r in message.to],
        "ccRecipients": [_recipient(*r) for r in message.cc],
        "bccRecipients": [],
        "replyTo": [_recipient(*r) for r in message.reply_to],
        "flag": {"flagStatus": "notFlagged"},
        "internetMessageHeaders": [{"name": name, "value": value} for name, value in message.headers],
    }
    names = select if select is not None else [name for name in full if name not in _NOT_BY_DEFAULT]
    shown = {"@odata.etag": f'W/"{message.change_key}"', "id": message.id}
    shown.update({name: full[name] for name in names})
    return shown


def folder_json(folder: Folder, children: int, items: list[Message], select: list[str] | None) -> dict[str, Any]:
    full = {
        "id": folder.id,
        "displayName": folder.display_name,
        "parentFolderId": folder.parent_id,
        "childFolderCount": children,
        "unreadItemCount": sum(1 for m in items if not m.is_read),
        "totalItemCount": len(items),
        "isHidden": False,
    }
    if select is not None:
        return {"id": folder.id} | {name: full[name] for name in select if name in full}
    return full


def attachment_json(attachment: Attachment, with_content: bool = True) -> dict[str, Any]:
    common = {
        "id": attachment.id,
        "lastModifiedDateTime": graph_time(attachment.modified),
        "name": attachment.name,
        "contentType": attachment.content_type,
        "size": len(attachment.data),
        "isInline": attachment.is_inline,
    }
    if attachment.kind == "item":
        return {"@odata.type": "#microsoft.graph.itemAttachment", **common}
    shown = {"@odata.type": "#microsoft.graph.fileAttachment", "@odata.mediaContentType": attachment.content_type,
             **common, "contentId": None, "contentLocation": None}
    if with_content:
        shown["contentBytes"] = base64.b64encode(attachment.data).decode()
    return shown


# --- request bodies ------------------------------------------------------------------------------------
def recipients(value: object, name: str) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        raise bad_request(f"'{name}' must be a collection of recipients.", code="ErrorInvalidRecipients")
    found = []
    for item in value:
        address = (item.get("emailAddress") or {}).get("address") if isinstance(item, dict) else None
        if not address or "@" not in address:
            raise bad_request(f"'{name}' holds an invalid recipient: {item!r}", code="ErrorInvalidRecipients")
        found.append(((item["emailAddress"].get("name") or ""), address))
    return found


def body(value: object) -> tuple[str, str]:
    if not isinstance(value, dict) or not isinstance(value.get("content", ""), str):
        raise bad_request("'body' must be an itemBody object.")
    kind = str(value.get("contentType", "text")).lower()
    if kind not in ("text", "html"):
        raise bad_request(f"Unknown body contentType {kind!r}.")
    return value.get("content", ""), kind


def file_attachment(value: object, limit: int) -> Attachment:
    if not isinstance(value, dict) or value.get("@odata.type") != "#microsoft.graph.fileAttachment":
        raise bad_request("Only '#microsoft.graph.fileAttachment' attachments can be added here.")
    try:
        data = base64.b64decode(value.get("contentBytes") or "", validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("contentBytes is not valid base64.") from None
    if len(data) > limit:
        raise bad_request(f"The attachment is over {limit} bytes; use an upload session.",
                          code="ErrorAttachmentSizeShouldNotBeLessThanMinimumSize")
    if not value.get("name"):
        raise bad_request("An attachment needs a name.")
    return Attachment(new_id("AAMkAtt"), "file", value["name"], value.get("contentType") or "application/octet-stream",
                      data)


def message_fields(value: object, attachment_limit: int) -> dict[str, object]:
    """The writable properties of a message in a request body, as store fields."""
    if not isinstance(value, dict):
        raise bad_request("The message must be a JSON object.")
    unknown = sorted(set(value) - WRITABLE - {"@odata.type"})
    if unknown:
        raise bad_request(f"Properties that cannot be written here: {unknown}", code="ErrorInvalidPropertySet")
    fields: dict[str, object] = {}
    if "subject" in value:
        fields["subject"] = str(value["subject"])
    if "body" in value:
        fields["body"], fields["body_type"] = body(value["body"])
    for key, store_name in (("toRecipients", "to"), ("ccRecipients", "cc"), ("replyTo", "reply_to")):
        if key in value:
            fields[store_name] = recipients(value[key], key)
    if "isRead" in value:
        if not isinstance(value["isRead"], bool):
            raise bad_request("'isRead' must be true or false.")
        fields["is_read"] = value["isRead"]
    if "attachments" in value:
        fields["attachments"] = [file_attachment(item, attachment_limit) for item in value["attachments"] or []]
    return fields
