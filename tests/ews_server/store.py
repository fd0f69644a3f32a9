"""The loopback server's mailbox: folders, items (kept as MIME), events and subscriptions.

Everything is guarded by one lock; ``changed`` (a condition on it) wakes the streaming connections
when an event is queued or a subscription ends. Item ids change when an item moves, and the old id
stops resolving, as on Exchange; change keys change on every modification.
"""

from __future__ import annotations

import base64
import itertools
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from tests.ews_server.soap import EwsError

DISTINGUISHED = {
    "root": ("", None),
    "msgfolderroot": ("Top of Information Store", "root"),
    "inbox": ("Inbox", "msgfolderroot"),
    "drafts": ("Drafts", "msgfolderroot"),
    "sentitems": ("Sent Items", "msgfolderroot"),
    "deleteditems": ("Deleted Items", "msgfolderroot"),
}
ORGANIZATION_HEADER_PREFIX = "x-ms-exchange-organization-"


@dataclass
class StoredFolder:
    id: str
    name: str
    parent_id: str | None
    distinguished: str | None = None
    changekey: str = "AQAAABYAAAA"
    folder_class: str = "IPF.Note"


@dataclass
class StoredItem:
    id: str
    changekey: str
    folder_id: str
    mime: bytes
    is_read: bool
    received: datetime
    is_draft: bool = False

    @property
    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.mime)


@dataclass(frozen=True)
class Event:
    kind: str
    """``NewMailEvent``, ``CreatedEvent``, ``MovedEvent``, ``ModifiedEvent``, ``DeletedEvent``..."""
    watermark: str
    timestamp: datetime
    item_id: str
    parent_folder_id: str
    old_item_id: str | None = None
    old_parent_folder_id: str | None = None


@dataclass
class Subscription:
    id: str
    kind: str
    """``pull`` or ``streaming``."""
    folder_ids: frozenset[str]
    event_types: frozenset[str]
    watermark: str
    pending: list[Event] = field(default_factory=list)
    ended: str | None = None
    """Why the subscription no longer works: an EWS code such as ErrorExpiredSubscription."""
    stream: int | None = None
    """The streaming connection that currently owns the subscription."""


class MailStore:
    def __init__(self, mailbox: str) -> None:
        self.mailbox = mailbox.lower()
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.folders: dict[str, StoredFolder] = {}
        self.items: dict[str, StoredItem] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.sent: list[bytes] = []
        self._counter = itertools.count(1)
        self._watermarks = itertools.count(1)
        for name, (display, parent) in DISTINGUISHED.items():
            folder_id = self._new_id("folder")
            parent_id = self.distinguished(parent).id if parent else None
            self.folders[folder_id] = StoredFolder(folder_id, display, parent_id, distinguished=name)

    # --- folders ------------------------------------------------------------------------------------
    def distinguished(self, name: str) -> StoredFolder:
        for folder in self.folders.values():
            if folder.distinguished == name:
                return folder
        raise EwsError("ErrorFolderNotFound", f"The loopback mailbox has no distinguished folder {name!r}.")

    def folder(self, folder_id: str) -> StoredFolder:
        try:
            return self.folders[folder_id]
        except KeyError:
            raise EwsError("ErrorFolderNotFound", "The specified folder could not be found in the store.") from None

    def children(self, parent_id: str, deep: bool = False) -> list[StoredFolder]:
        found = [folder for folder in self.folders.values() if folder.parent_id == parent_id]
        if deep:
            for child in list(found):
                found.extend(self.children(child.id, deep=True))
        return found

    def create_folder(self, parent_id: str, name: str, folder_class: str) -> StoredFolder:
        with self.lock:
            self.folder(parent_id)
            if any(child.name.lower() == name.lower() for child in self.children(parent_id)):
                raise EwsError("ErrorFolderExists", "A folder with the specified name already exists.")
            folder = StoredFolder(self._new_id("folder"), name, parent_id, folder_class=folder_class or "IPF.Note")
            self.folders[folder.id] = folder
            return folder

    def folder_by_name(self, name: str) -> StoredFolder:
        """A distinguished folder by id (``inbox``) or any folder by display name."""
        for folder in self.folders.values():
            if folder.distinguished == name or folder.name.lower() == name.lower():
                return folder
        raise KeyError(name)

    # --- items --------------------------------------------------------------------------------------
    def item(self, item_id: str) -> StoredItem:
        try:
            return self.items[item_id]
        except KeyError:
            raise EwsError("ErrorItemNotFound", "The specified object was not found in the store.") from None

    def items_in(self, folder_id: str) -> list[StoredItem]:
        return [item for item in self.items.values() if item.folder_id == folder_id]

    def add_item(self, folder_id: str, mime: bytes, *, is_read: bool, is_draft: bool = False,
                 new_mail: bool = False) -> StoredItem:
        with self.lock:
            item = StoredItem(self._new_id("item"), self._new_changekey(), folder_id, mime, is_read,
                              datetime.now(UTC), is_draft)
            self.items[item.id] = item
            self._queue("CreatedEvent", item.id, folder_id)
            if new_mail:
                self._queue("NewMailEvent", item.id, folder_id)
            return item

    def deliver(self, message: EmailMessage, internal: bool = True) -> StoredItem:
        """File a message into the Inbox, unread, as Exchange's transport would.

        Mail from outside the organisation passes Exchange's header firewall: any
        ``X-MS-Exchange-Organization-*`` header it carries is removed and ``AuthAs: Anonymous`` stamped.
        Internal mail keeps its headers exactly as given."""
        message = BytesParser(policy=policy.default).parsebytes(message.as_bytes(policy=policy.SMTP))
        if not internal:
            for name in {key for key in message.keys() if key.lower().startswith(ORGANIZATION_HEADER_PREFIX)}:
                del message[name]
            message["X-MS-Exchange-Organization-AuthAs"] = "Anonymous"
        return self.add_item(self.distinguished("inbox").id, message.as_bytes(policy=policy.SMTP), is_read=False,
                             new_mail=True)

    def move_item(self, item_id: str, folder_id: str) -> StoredItem:
        """Move atomically: the item gets a new id and the old one stops resolving."""
        with self.lock:
            item = self.item(item_id)
            target = self.folder(folder_id)
            del self.items[item_id]
            moved = StoredItem(self._new_id("item"), self._new_changekey(), target.id, item.mime, item.is_read,
                               item.received, item.is_draft)
            self.items[moved.id] = moved
            self._queue("MovedEvent", moved.id, target.id, old_item_id=item_id, old_parent_folder_id=item.folder_id)
            return moved

    def update_item(self, item_id: str, *, is_read: bool | None = None, mime: bytes | None = None) -> StoredItem:
        with self.lock:
            item = self.item(item_id)
            if is_read is not None:
                item.is_read = is_read
            if mime is not None:
                item.mime = mime
            item.changekey = self._new_changekey()
            self._queue("ModifiedEvent", item.id, item.folder_id)
            return item

    def delete_item(self, item_id: str) -> None:
        with self.lock:
            item = self.items.pop(item_id)
            self._queue("DeletedEvent", item_id, item.folder_id)

    def record_sent(self, mime: bytes) -> None:
        with self.lock:
            self.sent.append(mime)

    # --- subscriptions ------------------------------------------------------------------------------
    def subscribe(self, kind: str, folder_ids: frozenset[str], event_types: frozenset[str]) -> Subscription:
        with self.lock:
            subscription = Subscription(str(uuid.uuid4()), kind, folder_ids, event_types, self._next_watermark())
            self.subscriptions[subscription.id] = subscription
            return subscription

    def subscription(self, subscription_id: str) -> Subscription:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            raise EwsError("ErrorSubscriptionNotFound", "The specified subscription was not found.")
        if subscription.ended:
            raise EwsError(subscription.ended, "The subscription is no longer valid.")
        return subscription

    def unsubscribe(self, subscription_id: str) -> None:
        with self.lock:
            self.subscription(subscription_id)
            del self.subscriptions[subscription_id]
            self.changed.notify_all()

    def end_subscriptions(self, code: str) -> None:
        """Every current subscription stops working with ``code`` (its open streams end too)."""
        with self.lock:
            for subscription in self.subscriptions.values():
                subscription.ended = code
            self.changed.notify_all()

    def forget_subscriptions(self) -> None:
        """What a restart does: subscriptions live in the server's memory, not in the mailbox."""
        with self.lock:
            self.subscriptions.clear()
            self.changed.notify_all()

    def take_events(self, subscription: Subscription) -> list[Event]:
        with self.lock:
            events, subscription.pending = subscription.pending, []
            if events:
                subscription.watermark = events[-1].watermark
            return events

    # --- internals ----------------------------------------------------------------------------------
    def _queue(self, kind: str, item_id: str, folder_id: str, **old: str) -> None:
        event = Event(kind, self._next_watermark(), datetime.now(UTC), item_id, folder_id, **old)
        folders = {folder_id, old.get("old_parent_folder_id")}
        for subscription in self.subscriptions.values():
            if kind in subscription.event_types and folders & subscription.folder_ids and not subscription.ended:
                subscription.pending.append(event)
        self.changed.notify_all()

    def _new_id(self, kind: str) -> str:
        raw = f"{kind}:{next(self._counter)}:{uuid.uuid4().hex}".encode()
        return base64.b64encode(b"AAMkA" + raw).decode()

    def _new_changekey(self) -> str:
        return base64.b64encode(f"CQAAABYAAAA{next(self._counter)}".encode()).decode()

    def _next_watermark(self) -> str:
        return base64.b64encode(f"AQAAAA{next(self._watermarks)}".encode()).decode()
