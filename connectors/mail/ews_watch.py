"""Noticing new mail in an Exchange Inbox as it arrives: an EWS streaming subscription, or polling.

Mode ``streaming``: a streaming subscription on the Inbox (Subscribe) and one long-lived GetStreamingEvents
connection, read by a background thread, which Exchange pushes a notification down the moment mail is
filed. ``wait()`` only waits on a condition the thread sets, so it returns within milliseconds of a
NewMail, Created, or Moved/Copied-into-the-Inbox event; the thread ignores Clerk's own moves out of the
Inbox. Each connection lasts one minute (the shortest ConnectionTimeout EWS allows) and is renewed at
once, so a half-open connection is noticed within two minutes.

Mode ``polling`` (configured, or when the server refuses streaming subscriptions): a pull subscription
asked every ``interval_s`` with GetEvents, or, if the server refuses those too, a plain wake-up every
``interval_s`` so that the caller lists the Inbox.

It survives what long-running watchers meet. A dropped connection, a restarted server (which forgets its
subscriptions) or an expired subscription (ErrorSubscriptionNotFound, ErrorExpiredSubscription...) makes
the thread subscribe again, after a short growing pause while the server is unreachable, and then
``wait()`` returns True: mail may have arrived while nobody was listening. ``wait()`` raises
:class:`MailboxUnavailable` only once the server has been unreachable for ``unreachable_after_s``.

The watcher has its own connection pool (two connections: the stream, and one to unsubscribe on close).
"""

from __future__ import annotations

import threading
import time
from contextlib import suppress
from typing import Literal

import structlog
from exchangelib.errors import (
    ErrorExpiredSubscription,
    ErrorInvalidRequest,
    ErrorInvalidServerVersion,
    ErrorInvalidSubscription,
    ErrorInvalidSubscriptionRequest,
    ErrorNewEventStreamConnectionOpened,
    ErrorSchemaValidation,
    ErrorSubscriptionNotFound,
    SOAPError,
)
from exchangelib.folders import DistinguishedFolderId, Folder, FolderCollection, Root
from exchangelib.properties import CopiedEvent, CreatedEvent, Mailbox, MovedEvent, NewMailEvent, Notification
from exchangelib.services import GetEvents, GetStreamingEvents, Unsubscribe

from connectors.errors import MailboxUnavailable
from connectors.mail.ews_session import EwsSession, EwsSettings

log = structlog.get_logger(__name__)

_EVENT_TYPES = ("NewMailEvent", "CreatedEvent", "MovedEvent", "CopiedEvent")
_ARRIVALS = (NewMailEvent, CreatedEvent, MovedEvent, CopiedEvent)
_GONE = (ErrorSubscriptionNotFound, ErrorExpiredSubscription, ErrorInvalidSubscription,
         ErrorNewEventStreamConnectionOpened)
"""The subscription no longer works: subscribe again."""
_REFUSED = (ErrorSchemaValidation, ErrorInvalidRequest, ErrorInvalidSubscriptionRequest, ErrorInvalidServerVersion,
            SOAPError)
"""The server does not offer this kind of subscription: fall back."""
_STREAM_MINUTES = 1
_PULL_TIMEOUT_MINUTES = 10
_FIRST_PAUSE_S = 0.1
_MAX_PAUSE_S = 5.0


class _SubscriptionGone(MailboxUnavailable):
    """Internal: the subscription must be made again."""


class _Refused(MailboxUnavailable):
    """Internal: the server refuses this kind of subscription."""


class EwsWatcher:
    """A :class:`~connectors.mail.MailWatcher` on the Inbox. Built by ``EwsMailbox.watch()``."""

    def __init__(self, settings: EwsSettings, inbox_id: str, *, mode: Literal["streaming", "polling"],
                 interval_s: float, unreachable_after_s: float) -> None:
        self.mode = "polling" if mode == "polling" else "streaming"
        self._session = EwsSession(settings, connections=2)
        account = self._session.account
        root = Root(account=account, _distinguished_id=DistinguishedFolderId(
            id="root", mailbox=Mailbox(email_address=settings.mailbox)))
        account.root = root
        self._inbox = Folder(root=root, id=inbox_id)
        self._interval_s = interval_s
        self._unreachable_after_s = unreachable_after_s
        self._changed = threading.Condition()
        self._pending = False
        self._failure: MailboxUnavailable | None = None
        self._closed = threading.Event()
        self._subscription: str | None = None
        self._watermark: str | None = None
        self._stream: GetStreamingEvents | None = None
        try:
            self._subscribe()  # in the caller's thread: a watcher that cannot subscribe fails at once
        except MailboxUnavailable:
            self._session.close()
            raise
        self._thread = threading.Thread(target=self._run, name="ews-watch", daemon=True)
        self._thread.start()

    # --- the port -------------------------------------------------------------------------------------
    def wait(self, timeout: float) -> bool:
        with self._changed:
            self._changed.wait_for(lambda: self._pending or self._failure is not None or self._closed.is_set(),
                                   timeout)
            if self._failure is not None:
                raise self._failure
            woke, self._pending = self._pending, False
            return woke and not self._closed.is_set()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        with self._changed:
            self._changed.notify_all()
        subscription, self._subscription = self._subscription, None
        if subscription:
            try:
                self._session.call("unsubscribe from the inbox", lambda: Unsubscribe(
                    account=self._session.account).get(subscription_id=subscription))
            except MailboxUnavailable as exc:  # it expires by itself on the server
                log.info("ews_unsubscribe_failed", error=str(exc))
        self._interrupt_stream()
        self._thread.join(timeout=2)
        self._session.close()

    def _interrupt_stream(self) -> None:
        """Unblock the thread reading the stream now, whatever the server does after Unsubscribe: shut the
        socket for reading (urllib3's ``shutdown``), which ends a blocked read at once."""
        response = getattr(self._stream, "_streaming_response", None)
        with suppress(Exception):  # the stream may have ended, or the connection gone back to the pool
            response.raw.shutdown()

    # --- the background thread ------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._listen()
        except Exception as exc:  # noqa: BLE001 - a dead thread must make wait() raise, never hang
            self._fail(MailboxUnavailable(f"the inbox watcher stopped: {type(exc).__name__}"))

    def _listen(self) -> None:
        pause, failing_since = _FIRST_PAUSE_S, None
        while not self._closed.is_set():
            try:
                if self._subscription is None:
                    self._subscribe()
                    self._wake()  # mail may have arrived while nobody was listening
                if self.mode == "streaming":
                    self._stream_once()
                else:
                    self._poll_once()
                pause, failing_since = _FIRST_PAUSE_S, None
            except _SubscriptionGone:
                self._subscription = None
            except MailboxUnavailable as exc:
                if self._closed.is_set():
                    return
                self._forget_subscription()
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since >= self._unreachable_after_s:
                    self._fail(MailboxUnavailable(f"Exchange stayed unreachable for {self._unreachable_after_s:g} s "
                                                  f"while watching the inbox: {exc.message}"))
                    return
                log.info("ews_watch_interrupted", error=str(exc), retry_in_s=pause)
                self._closed.wait(pause)
                pause = min(pause * 2, _MAX_PAUSE_S)

    def _subscribe(self) -> None:
        folders = FolderCollection(account=self._session.account, folders=[self._inbox])
        if self.mode == "streaming":
            try:
                self._subscription = self._session.call("subscribe to the inbox", lambda: _refusable(
                    lambda: folders.subscribe_to_streaming(event_types=_EVENT_TYPES)))
                return
            except _Refused:
                log.warning("ews_streaming_refused", fallback="polling")
                self.mode = "polling"
        try:
            self._subscription, self._watermark = self._session.call("subscribe to the inbox", lambda: _refusable(
                lambda: folders.subscribe_to_pull(event_types=_EVENT_TYPES, timeout=_PULL_TIMEOUT_MINUTES)))
        except _Refused:
            log.warning("ews_pull_refused", fallback="listing the inbox every interval")
            self._subscription, self._watermark = "", None

    def _forget_subscription(self) -> None:
        """After an interruption: drop the old subscription (best effort) and make a new one next time."""
        subscription, self._subscription = self._subscription, None
        if subscription:
            try:
                Unsubscribe(account=self._session.account).get(subscription_id=subscription)
            except Exception:  # noqa: BLE001 - the server may be down or have forgotten it already
                pass

    def _stream_once(self) -> None:
        """One GetStreamingEvents connection, until Exchange closes it (after a minute) or it breaks."""
        subscription = self._subscription

        def listen() -> None:
            stream = GetStreamingEvents(account=self._session.account)
            self._stream = stream
            try:
                for notification in stream.call(subscription_ids=[subscription], connection_timeout=_STREAM_MINUTES):
                    self._consider(notification)
                    if self._closed.is_set():
                        return
            except _GONE as exc:
                raise _SubscriptionGone(f"the inbox subscription ended ({type(exc).__name__})") from exc
            finally:
                self._stream = None
                if stream.streaming:
                    stream.stop_streaming()

        self._session.call("listen for new mail", listen)

    def _poll_once(self) -> None:
        if self._closed.wait(self._interval_s):
            return
        if not self._subscription:  # no subscription at all: let the caller look
            self._wake()
            return
        subscription, watermark = self._subscription, self._watermark

        def ask() -> None:
            try:
                notifications = list(GetEvents(account=self._session.account).call(
                    subscription_id=subscription, watermark=watermark))
            except _GONE as exc:
                raise _SubscriptionGone(f"the inbox subscription ended ({type(exc).__name__})") from exc
            for notification in notifications:
                if isinstance(notification, _GONE):
                    raise _SubscriptionGone(f"the inbox subscription ended ({type(notification).__name__})")
                if isinstance(notification, Exception):
                    raise notification
                self._consider(notification)
                for event in notification.events or []:
                    self._watermark = event.watermark or self._watermark

        self._session.call("ask for new mail", ask)

    def _consider(self, notification: Notification) -> None:
        for event in notification.events or []:
            if isinstance(event, _ARRIVALS) and event.parent_folder_id and event.parent_folder_id.id == self._inbox.id:
                self._wake()
                return

    def _wake(self) -> None:
        with self._changed:
            self._pending = True
            self._changed.notify_all()

    def _fail(self, exc: MailboxUnavailable) -> None:
        with self._changed:
            self._failure = exc
            self._changed.notify_all()


def _refusable(subscribe: object) -> object:
    try:
        return subscribe()
    except _REFUSED as exc:
        raise _Refused(f"the server refused the subscription ({type(exc).__name__})") from exc
