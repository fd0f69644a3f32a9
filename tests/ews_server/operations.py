"""The EWS operations the loopback server speaks, one function each.

Only what Clerk's adapter needs is implemented, but honestly: an operation, view, restriction or update
this server does not know answers ``ErrorSchemaValidation`` naming what is missing, so a change in what
the adapter sends shows up as a failing test rather than as a silently wrong answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy

from tests.ews_server.items import (
    ALL_FIELDS,
    DEFAULT_FIELDS,
    ItemView,
    add_attachments,
    attachment_element,
    attachment_id,
    attachments_of,
    compose_message,
    compose_reply,
    parse_attachment_id,
)
from tests.ews_server.soap import (
    Element,
    EwsError,
    SoapFault,
    el,
    find,
    findall,
    local_name,
    response,
    response_message,
    text_of,
    xs_bool,
)
from tests.ews_server.store import Event, MailStore, StoredFolder, Subscription


@dataclass
class Context:
    store: MailStore
    impersonated: str | None = None
    minute_s: float = 60.0
    """How long one "minute" of a streaming ConnectionTimeout lasts here (tests shorten it)."""
    heartbeat_s: float = 30.0
    """How often an idle streaming connection gets a keep-alive message (ConnectionStatus OK)."""
    subscriptions: tuple[str, ...] = ("pull", "streaming")
    """The kinds of subscription this server offers (Exchange 2007 had no streaming ones)."""


def unsupported(what: str) -> SoapFault:
    return SoapFault("ErrorSchemaValidation", f"The loopback EWS server does not implement {what}.")


# --- ids -----------------------------------------------------------------------------------------------------
def resolve_folder(ctx: Context, element: Element) -> StoredFolder:
    kind = local_name(element)
    if kind == "FolderId":
        return ctx.store.folder(element.get("Id", ""))
    if kind == "DistinguishedFolderId":
        address = (text_of(element, "t:Mailbox/t:EmailAddress") or ctx.impersonated or "").lower()
        if not address:
            raise EwsError("ErrorNonExistentMailbox",
                           f"The request named no mailbox, so it opened the signed-in account's own mailbox; this "
                           f"server hosts only {ctx.store.mailbox}.")
        if address != ctx.store.mailbox:
            raise EwsError("ErrorNonExistentMailbox", f"No mailbox with address {address}.")
        return ctx.store.distinguished(element.get("Id", ""))
    raise unsupported(f"folder ids of type {kind}")


def folder_ids(container: Element | None) -> list[Element]:
    if container is None or len(container) == 0:
        raise SoapFault("ErrorSchemaValidation", "The request names no folder.")
    return list(container)


def folder_element(ctx: Context, folder: StoredFolder) -> Element:
    items = ctx.store.items_in(folder.id)
    children = [el("t:FolderId", attrs={"Id": folder.id, "ChangeKey": folder.changekey})]
    if folder.parent_id:
        parent = ctx.store.folders[folder.parent_id]
        children.append(el("t:ParentFolderId", attrs={"Id": parent.id, "ChangeKey": parent.changekey}))
    children += [
        el("t:FolderClass", folder.folder_class),
        el("t:DisplayName", folder.name),
        el("t:TotalCount", len(items)),
        el("t:ChildFolderCount", len(ctx.store.children(folder.id))),
        el("t:UnreadCount", sum(1 for item in items if not item.is_read)),
    ]
    return el("t:Folder", children=children)


# --- shapes, restrictions, paging ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Shape:
    fields: frozenset[str]
    mime: bool


def parse_shape(element: Element | None) -> Shape:
    if element is None:
        raise SoapFault("ErrorSchemaValidation", "The request has no ItemShape.")
    base = text_of(element, "t:BaseShape", "IdOnly")
    fields = {"IdOnly": frozenset(), "Default": DEFAULT_FIELDS, "AllProperties": ALL_FIELDS}.get(base)
    if fields is None:
        raise unsupported(f"BaseShape {base}")
    requested = {uri.get("FieldURI") for uri in findall(element, "t:AdditionalProperties/t:FieldURI")}
    mime = xs_bool(text_of(element, "t:IncludeMimeContent")) or "item:MimeContent" in requested
    return Shape(frozenset(fields | requested), mime)


_BOOLEANS = {"0": "false", "1": "true"}
_COMPARISONS: dict[str, Callable[[str, str], bool]] = {
    "IsEqualTo": lambda a, b: a.lower() == b.lower(),
    "IsNotEqualTo": lambda a, b: a.lower() != b.lower(),
    "IsGreaterThan": lambda a, b: a > b,
    "IsGreaterThanOrEqualTo": lambda a, b: a >= b,
    "IsLessThan": lambda a, b: a < b,
    "IsLessThanOrEqualTo": lambda a, b: a <= b,
}


def matches(condition: Element, value_of: Callable[[str], str]) -> bool:
    kind = local_name(condition)
    if kind == "And":
        return all(matches(child, value_of) for child in condition)
    if kind == "Or":
        return any(matches(child, value_of) for child in condition)
    if kind == "Not":
        return not matches(condition[0], value_of)
    if kind in _COMPARISONS:
        uri = condition[0].get("FieldURI", "")
        constant = find(condition, "t:FieldURIOrConstant/t:Constant")
        if constant is None:
            raise unsupported("restrictions comparing two properties")
        try:
            actual = value_of(uri)
        except KeyError:
            raise unsupported(f"restrictions on {uri}") from None
        return _COMPARISONS[kind](actual, _BOOLEANS.get(constant.get("Value", ""), constant.get("Value", "")))
    raise unsupported(f"the {kind} restriction")


def _page(element: Element, total: int, view_tag: str) -> tuple[int, int]:
    view = find(element, view_tag)
    if view is None:
        others = [local_name(child) for child in element if local_name(child).endswith("View")]
        if others:
            raise unsupported(others[0])
        return 0, total
    offset = int(view.get("Offset", "0"))
    limit = int(view.get("MaxEntriesReturned", str(total)) or total)
    if view.get("BasePoint", "Beginning") != "Beginning":
        raise unsupported("paging from the end (BasePoint End)")
    return offset, limit


def _root_folder(children_tag: str, children: list[Element], offset: int, total: int) -> Element:
    end = offset + len(children)
    return el("m:RootFolder", attrs={
        "IndexedPagingOffset": end, "TotalItemsInView": total, "IncludesLastItemInRange": end >= total,
    }, children=[el(children_tag, children=children)])


# --- folders ---------------------------------------------------------------------------------------------------
def get_folder(ctx: Context, body: Element) -> Element:
    messages = []
    for folder_id in folder_ids(find(body, "m:FolderIds")):
        try:
            folder = resolve_folder(ctx, folder_id)
            messages.append(response_message("GetFolder", [el("m:Folders", children=[folder_element(ctx, folder)])]))
        except EwsError as error:
            messages.append(response_message("GetFolder", error=error))
    return response("GetFolder", messages)


def find_folder(ctx: Context, body: Element) -> Element:
    deep = body.get("Traversal", "Shallow") == "Deep"
    restriction = find(body, "m:Restriction")
    messages = []
    for parent_id in folder_ids(find(body, "m:ParentFolderIds")):
        try:
            parent = resolve_folder(ctx, parent_id)
        except EwsError as error:
            messages.append(response_message("FindFolder", error=error))
            continue
        folders = ctx.store.children(parent.id, deep=deep)
        if restriction is not None and len(restriction):
            folders = [f for f in folders if matches(restriction[0], lambda uri, f=f: _folder_value(f, uri))]
        offset, limit = _page(body, len(folders), "m:IndexedPageFolderView")
        page = [folder_element(ctx, f) for f in folders[offset:offset + limit]]
        messages.append(response_message("FindFolder", [_root_folder("t:Folders", page, offset, len(folders))]))
    return response("FindFolder", messages)


def _folder_value(folder: StoredFolder, uri: str) -> str:
    if uri == "folder:DisplayName":
        return folder.name
    raise KeyError(uri)


def create_folder(ctx: Context, body: Element) -> Element:
    parent_container = find(body, "m:ParentFolderId")
    parent = resolve_folder(ctx, folder_ids(parent_container)[0])
    messages = []
    for folder in list(find(body, "m:Folders") if find(body, "m:Folders") is not None else []):
        try:
            created = ctx.store.create_folder(parent.id, text_of(folder, "t:DisplayName", "") or "",
                                              text_of(folder, "t:FolderClass", "IPF.Note") or "IPF.Note")
            messages.append(response_message("CreateFolder", [el("m:Folders", children=[
                el("t:Folder", children=[el("t:FolderId", attrs={"Id": created.id, "ChangeKey": created.changekey})]),
            ])]))
        except EwsError as error:
            messages.append(response_message("CreateFolder", error=error))
    return response("CreateFolder", messages)


# --- items -----------------------------------------------------------------------------------------------------
def find_item(ctx: Context, body: Element) -> Element:
    if find(body, "m:QueryString") is not None:
        raise unsupported("FindItem QueryString (AQS)")
    shape = parse_shape(find(body, "m:ItemShape"))
    restriction = find(body, "m:Restriction")
    sort = findall(body, "m:SortOrder/t:FieldOrder")
    messages = []
    for parent_id in folder_ids(find(body, "m:ParentFolderIds")):
        try:
            folder = resolve_folder(ctx, parent_id)
        except EwsError as error:
            messages.append(response_message("FindItem", error=error))
            continue
        with ctx.store.lock:
            views = [ItemView(ctx.store, item) for item in ctx.store.items_in(folder.id)]
            if restriction is not None and len(restriction):
                views = [view for view in views if matches(restriction[0], view.value)]
            for order in reversed(sort):
                uri = order[0].get("FieldURI", "")
                if uri not in ("item:DateTimeReceived", "item:Subject"):
                    raise unsupported(f"sorting on {uri}")
                views.sort(key=lambda view, uri=uri: view.value(uri), reverse=order.get("Order") == "Descending")
            offset, limit = _page(body, len(views), "m:IndexedPageItemView")
            page = [view.element(shape.fields, mime=shape.mime) for view in views[offset:offset + limit]]
        messages.append(response_message("FindItem", [_root_folder("t:Items", page, offset, len(views))]))
    return response("FindItem", messages)


def get_item(ctx: Context, body: Element) -> Element:
    shape = parse_shape(find(body, "m:ItemShape"))
    messages = []
    for item_id in findall(body, "m:ItemIds/t:ItemId"):
        try:
            with ctx.store.lock:
                view = ItemView(ctx.store, ctx.store.item(item_id.get("Id", "")))
                element = view.element(shape.fields, mime=shape.mime)
            messages.append(response_message("GetItem", [el("m:Items", children=[element])]))
        except EwsError as error:
            messages.append(response_message("GetItem", error=error))
    return response("GetItem", messages)


def _id_only(item_id: str, changekey: str) -> Element:
    return el("t:Message", children=[el("t:ItemId", attrs={"Id": item_id, "ChangeKey": changekey})])


def move_item(ctx: Context, body: Element) -> Element:
    target = resolve_folder(ctx, folder_ids(find(body, "m:ToFolderId"))[0])
    messages = []
    for item_id in findall(body, "m:ItemIds/t:ItemId"):
        try:
            moved = ctx.store.move_item(item_id.get("Id", ""), target.id)
            messages.append(response_message("MoveItem", [el("m:Items", children=[_id_only(moved.id, moved.changekey)])]))
        except EwsError as error:
            messages.append(response_message("MoveItem", [el("m:Items")], error=error))
    return response("MoveItem", messages)


def update_item(ctx: Context, body: Element) -> Element:
    never_overwrite = body.get("ConflictResolution") == "NeverOverwrite"
    messages = []
    for change in findall(body, "m:ItemChanges/t:ItemChange"):
        item_id = find(change, "t:ItemId")
        updates = find(change, "t:Updates")
        if item_id is None or updates is None:
            raise SoapFault("ErrorSchemaValidation", "An ItemChange needs an ItemId and Updates.")
        is_read = None
        for update in updates:
            uri = update[0].get("FieldURI") if len(update) else None
            if local_name(update) != "SetItemField" or uri != "message:IsRead":
                raise unsupported(f"UpdateItem {local_name(update)} of {uri}")
            is_read = xs_bool(text_of(update, "t:Message/t:IsRead"))
        try:
            with ctx.store.lock:
                current = ctx.store.item(item_id.get("Id", ""))
                if never_overwrite and item_id.get("ChangeKey") not in (None, current.changekey):
                    raise EwsError("ErrorIrresolvableConflict", "The change key is out of date.")
                updated = ctx.store.update_item(current.id, is_read=is_read)
            messages.append(response_message("UpdateItem", [
                el("m:Items", children=[_id_only(updated.id, updated.changekey)]),
                el("m:ConflictResults", children=[el("t:Count", 0)]),
            ]))
        except EwsError as error:
            messages.append(response_message("UpdateItem", error=error))
    return response("UpdateItem", messages)


def create_item(ctx: Context, body: Element) -> Element:
    disposition = body.get("MessageDisposition", "SaveOnly")
    if disposition not in ("SaveOnly", "SendOnly", "SendAndSaveCopy"):
        raise SoapFault("ErrorSchemaValidation", f"Unknown MessageDisposition {disposition}.")
    saved_in = find(body, "m:SavedItemFolderId")
    default = "drafts" if disposition == "SaveOnly" else "sentitems"
    folder = resolve_folder(ctx, saved_in[0]) if saved_in is not None and len(saved_in) else (
        ctx.store.distinguished(default))
    messages = []
    for element in list(find(body, "m:Items") if find(body, "m:Items") is not None else []):
        kind = local_name(element)
        try:
            if kind == "Message":
                message = compose_message(ctx.store.mailbox, element)
            elif kind == "ReplyToItem":
                reference = find(element, "t:ReferenceItemId")
                original = ctx.store.item(reference.get("Id", "") if reference is not None else "").message
                message = compose_reply(ctx.store.mailbox, element, original)
            else:
                raise unsupported(f"CreateItem of {kind}")
            mime = message.as_bytes(policy=policy.SMTP)
            if disposition == "SaveOnly":
                draft = ctx.store.add_item(folder.id, mime, is_read=True, is_draft=True)
                messages.append(response_message("CreateItem", [el("m:Items", children=[
                    _id_only(draft.id, draft.changekey)])]))
                continue
            if not (message.get_all("To") or message.get_all("Cc")):
                raise EwsError("ErrorInvalidRecipients", "At least one recipient is required.")
            ctx.store.record_sent(mime)
            if disposition == "SendAndSaveCopy":
                ctx.store.add_item(folder.id, mime, is_read=True)
            messages.append(response_message("CreateItem", [el("m:Items")]))
        except EwsError as error:
            messages.append(response_message("CreateItem", error=error))
    return response("CreateItem", messages)


def _check_changekey(element: Element, current: str) -> None:
    sent = element.get("ChangeKey")
    if sent and sent != current:
        raise EwsError("ErrorStaleObject", "The change key passed in the request does not match the current change "
                                           "key for the item.")


def create_attachment(ctx: Context, body: Element) -> Element:
    parent = find(body, "m:ParentItemId")
    container = find(body, "m:Attachments")
    if parent is None or container is None:
        raise SoapFault("ErrorSchemaValidation", "CreateAttachment needs a ParentItemId and Attachments.")
    try:
        with ctx.store.lock:
            item = ctx.store.item(parent.get("Id", ""))
            _check_changekey(parent, item.changekey)
            message = item.message
            before = len(attachments_of(message))
            added = add_attachments(message, container)
            updated = ctx.store.update_item(item.id, mime=message.as_bytes(policy=policy.SMTP))
            indexes = [a.index for a in attachments_of(updated.message)][before:before + added]
    except EwsError as error:
        return response("CreateAttachment", [response_message("CreateAttachment", error=error)])
    messages = []
    for index, attachment in zip(indexes, container, strict=True):
        ids = {"Id": attachment_id(updated.id, index), "RootItemId": updated.id, "RootItemChangeKey": updated.changekey}
        messages.append(response_message("CreateAttachment", [el("m:Attachments", children=[
            el(f"t:{local_name(attachment)}", children=[el("t:AttachmentId", attrs=ids)])])]))
    return response("CreateAttachment", messages)


def send_item(ctx: Context, body: Element) -> Element:
    save = xs_bool(body.get("SaveItemToFolder", "true"))
    saved_in = find(body, "m:SavedItemFolderId")
    folder = (resolve_folder(ctx, saved_in[0]) if saved_in is not None and len(saved_in)
              else ctx.store.distinguished("sentitems"))
    messages = []
    for item_id in findall(body, "m:ItemIds/t:ItemId"):
        try:
            with ctx.store.lock:
                item = ctx.store.item(item_id.get("Id", ""))
                _check_changekey(item_id, item.changekey)
                if not (item.message.get_all("To") or item.message.get_all("Cc")):
                    raise EwsError("ErrorInvalidRecipients", "At least one recipient is required.")
                ctx.store.record_sent(item.mime)
                ctx.store.delete_item(item.id)
                if save:
                    ctx.store.add_item(folder.id, item.mime, is_read=True)
            messages.append(response_message("SendItem"))
        except EwsError as error:
            messages.append(response_message("SendItem", error=error))
    return response("SendItem", messages)


def get_attachment(ctx: Context, body: Element) -> Element:
    shape = find(body, "m:AttachmentShape")
    include_mime = shape is not None and xs_bool(text_of(shape, "t:IncludeMimeContent"))
    messages = []
    for element in findall(body, "m:AttachmentIds/t:AttachmentId"):
        try:
            item_id, index = parse_attachment_id(element.get("Id", ""))
            with ctx.store.lock:
                found = [a for a in attachments_of(ctx.store.item(item_id).message) if a.index == index]
            if not found:
                raise EwsError("ErrorItemNotFound", "The attachment was not found.")
            messages.append(response_message("GetAttachment", [el("m:Attachments", children=[
                attachment_element(item_id, found[0], content=True, include_mime=include_mime)])]))
        except EwsError as error:
            messages.append(response_message("GetAttachment", error=error))
    return response("GetAttachment", messages)


# --- notifications -------------------------------------------------------------------------------------------
def subscribe(ctx: Context, body: Element) -> Element:
    request = body[0] if len(body) else None
    kind = {"PullSubscriptionRequest": "pull", "StreamingSubscriptionRequest": "streaming"}.get(
        local_name(request) if request is not None else "")
    if request is None or kind is None or kind not in ctx.subscriptions:
        raise unsupported(f"{local_name(request) if request is not None else 'empty'} subscriptions")
    if xs_bool(request.get("SubscribeToAllFolders")):
        raise unsupported("SubscribeToAllFolders")
    try:
        folders = frozenset(resolve_folder(ctx, f).id for f in folder_ids(find(request, "t:FolderIds")))
    except EwsError as error:
        return response("Subscribe", [response_message("Subscribe", error=error)])
    event_types = frozenset(e.text for e in findall(request, "t:EventTypes/t:EventType") if e.text)
    subscription = ctx.store.subscribe(kind, folders, event_types)
    children = [el("m:SubscriptionId", subscription.id)]
    if kind == "pull":
        children.append(el("m:Watermark", subscription.watermark))
    return response("Subscribe", [response_message("Subscribe", children)])


def unsubscribe(ctx: Context, body: Element) -> Element:
    try:
        ctx.store.unsubscribe(text_of(body, "m:SubscriptionId", "") or "")
        return response("Unsubscribe", [response_message("Unsubscribe")])
    except EwsError as error:
        return response("Unsubscribe", [response_message("Unsubscribe", error=error)])


def event_element(event: Event) -> Element:
    children = [el("t:Watermark", event.watermark), el("t:TimeStamp", event.timestamp),
                el("t:ItemId", attrs={"Id": event.item_id}), el("t:ParentFolderId", attrs={"Id": event.parent_folder_id})]
    if event.old_item_id:
        children.append(el("t:OldItemId", attrs={"Id": event.old_item_id}))
    if event.old_parent_folder_id:
        children.append(el("t:OldParentFolderId", attrs={"Id": event.old_parent_folder_id}))
    return el(f"t:{event.kind}", children=children)


def notification(subscription: Subscription, previous: str, events: list[Event]) -> Element:
    children = [el("t:SubscriptionId", subscription.id), el("t:PreviousWatermark", previous),
                el("t:MoreEvents", False)]
    children += [event_element(event) for event in events] or [
        el("t:StatusEvent", children=[el("t:Watermark", subscription.watermark)])]
    return el("m:Notification", children=children)


def get_events(ctx: Context, body: Element) -> Element:
    try:
        with ctx.store.lock:
            subscription = ctx.store.subscription(text_of(body, "m:SubscriptionId", "") or "")
            if subscription.kind != "pull":
                raise EwsError("ErrorInvalidSubscription", "GetEvents needs a pull subscription.")
            previous = subscription.watermark
            events = ctx.store.take_events(subscription)
        return response("GetEvents", [response_message("GetEvents", [notification(subscription, previous, events)])])
    except EwsError as error:
        return response("GetEvents", [response_message("GetEvents", error=error)])


def _stream_message(status: str, notifications: list[Element] | None = None, error: EwsError | None = None,
                    failed: list[str] | None = None) -> Element:
    children = [el("m:Notifications", children=notifications)] if notifications else []
    if failed:
        children.append(el("m:ErrorSubscriptionIds", children=[el("m:SubscriptionId", s) for s in failed]))
    children.append(el("m:ConnectionStatus", status))
    return response("GetStreamingEvents", [response_message("GetStreamingEvents", children, error=error)])


def stream_events(ctx: Context, body: Element, stream_id: int, alive: Callable[[], bool]) -> Iterator[Element]:
    """The messages of one GetStreamingEvents response, yielded as they happen.

    Notifications are pushed as soon as events are queued; an idle connection gets a keep-alive every
    ``heartbeat_s``; the connection ends with ``ConnectionStatus Closed`` after ConnectionTimeout minutes,
    or with an error when its subscription ends or another connection takes it over."""
    ids = [element.text or "" for element in findall(body, "m:SubscriptionIds/t:SubscriptionId")]
    minutes = int(text_of(body, "m:ConnectionTimeout", "0") or 0)
    if not 1 <= minutes <= 30 or not ids:
        yield _stream_message("Closed", error=EwsError("ErrorInvalidArgument", "ConnectionTimeout must be 1 to 30."))
        return
    store = ctx.store
    with store.lock:
        try:
            subscriptions = [store.subscription(s) for s in ids]
        except EwsError as error:
            yield _stream_message("Closed", error=error, failed=ids)
            return
        for subscription in subscriptions:
            subscription.stream = stream_id
        store.changed.notify_all()
    deadline = time.monotonic() + minutes * ctx.minute_s
    next_beat = time.monotonic() + ctx.heartbeat_s
    while alive():
        with store.changed:
            ended, ready = None, []
            while alive():
                ended = _ended(store, subscriptions, stream_id)
                ready = [s for s in subscriptions if s.pending]
                now = time.monotonic()
                if ended or ready or now >= min(deadline, next_beat):
                    break
                store.changed.wait(min(deadline, next_beat) - now)
            notifications = [notification(s, s.watermark, store.take_events(s)) for s in ready]
        next_beat = time.monotonic() + ctx.heartbeat_s
        if ended:
            yield _stream_message("Closed", notifications, error=ended[0], failed=ended[1])
            return
        if time.monotonic() >= deadline:
            yield _stream_message("Closed", notifications)
            return
        yield _stream_message("OK", notifications)


def _ended(store: MailStore, subscriptions: list[Subscription], stream_id: int
           ) -> tuple[EwsError | None, list[str]] | None:
    for subscription in subscriptions:
        if store.subscriptions.get(subscription.id) is not subscription:
            return None, []  # unsubscribed (or forgotten): the stream simply closes
        if subscription.ended:
            return EwsError(subscription.ended, "The subscription is no longer valid."), [subscription.id]
        if subscription.stream != stream_id:
            return EwsError("ErrorNewEventStreamConnectionOpened",
                            "Another connection was opened for this subscription."), [subscription.id]
    return None


HANDLERS: dict[str, Callable[[Context, Element], Element]] = {
    "GetFolder": get_folder,
    "FindFolder": find_folder,
    "CreateFolder": create_folder,
    "FindItem": find_item,
    "GetItem": get_item,
    "MoveItem": move_item,
    "UpdateItem": update_item,
    "CreateItem": create_item,
    "CreateAttachment": create_attachment,
    "SendItem": send_item,
    "GetAttachment": get_attachment,
    "Subscribe": subscribe,
    "Unsubscribe": unsubscribe,
    "GetEvents": get_events,
}
STREAMING = "GetStreamingEvents"
