"""Noticing new mail in an Exchange Online Inbox within about a second, without a public webhook.

Graph pushes change notifications only to a public HTTPS endpoint, which a council's worker rarely has.
So the watcher asks instead, cheaply: a delta query on the Inbox (mode ``delta``) returns only what
changed since the last ``@odata.deltaLink``, usually nothing, and is asked once per ``interval_s``. Where
delta queries are refused it falls back to listing the newest unread ids (mode ``polling``). At one
request a second a worker uses about 600 of the 10,000 requests per ten minutes Exchange Online allows an
app on one mailbox.

It survives what long-running watchers meet: a dropped connection or a restarted server (it keeps asking,
and reports True once the server answers again, because mail may have arrived meanwhile), an expired or
unknown delta token (410 or ``syncStateNotFound``: a new delta round starts and it reports True), and
throttling (it waits as long as Graph asks before asking again). It raises :class:`MailboxUnavailable`
only when Graph stays unreachable for ``unreachable_after_s``.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Literal

import structlog

from connectors.errors import MailboxUnavailable
from connectors.mail.graph_client import GraphClient, GraphRequestFailed, GraphThrottled

log = structlog.get_logger(__name__)

_DELTA_HEADERS = {"Prefer": "odata.maxpagesize=100"}
_SYNC_STATE_CODES = {"syncstatenotfound", "syncstateinvalid", "resyncrequired", "errorinvalidsyncstatedata"}
_NO_DELTA_STATUSES = {400, 404, 405, 501}
_POLL_WINDOW = 50
_EVER = "1900-01-01T00:00:00Z"


class GraphWatcher:
    """A :class:`~connectors.mail.MailWatcher` on one Graph mail folder. Built by ``GraphMailbox.watch()``."""

    def __init__(self, client: GraphClient, messages_url: str, *, mode: Literal["auto", "polling"],
                 interval_s: float, unreachable_after_s: float) -> None:
        self.mode = "polling" if mode == "polling" else "delta"
        self._client = client
        self._messages_url = messages_url
        self._interval_s = interval_s
        self._unreachable_after_s = unreachable_after_s
        self._closed = threading.Event()
        self._delta_link: str | None = None
        self._seen: set[str] = set()
        self._next_check = time.monotonic() + interval_s
        self._failing_since: float | None = None
        self._start()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._closed.is_set():
            now = time.monotonic()
            if now >= self._next_check:
                self._next_check = now + self._interval_s
                if self._check(now, deadline):
                    return True
                now = time.monotonic()
            if now >= deadline:
                return False
            self._closed.wait(min(self._next_check, deadline) - now)
        return False

    def close(self) -> None:
        """Nothing to unsubscribe from (delta links simply lapse); stops any wait in progress."""
        self._closed.set()

    # --- one look ---------------------------------------------------------------------------------------
    def _check(self, now: float, deadline: float) -> bool:
        try:
            changed = self._delta_round(deadline) if self.mode == "delta" else self._poll(deadline)
        except GraphThrottled as exc:
            self._next_check = time.monotonic() + max(self._interval_s, exc.retry_after_s)
            return False
        except MailboxUnavailable as exc:
            if isinstance(exc, GraphRequestFailed) and exc.status < 500 and exc.status != 408:
                raise  # the server answered and refused: no amount of waiting cures that
            if self._failing_since is None:
                self._failing_since = now
                log.warning("graph_watch_unreachable", error=str(exc))
            if now - self._failing_since >= self._unreachable_after_s:
                raise MailboxUnavailable(f"Microsoft Graph unreachable for {now - self._failing_since:.0f} s while "
                                         f"watching the inbox: {exc.message}") from exc
            return False
        if self._failing_since is not None:
            self._failing_since = None
            log.info("graph_watch_reconnected")
            return True  # mail may have arrived while Graph was unreachable
        return changed

    def _start(self) -> None:
        """Take the current state as the baseline: a fresh delta link, or the ids of the newest unread mail."""
        if self.mode == "delta":
            try:
                self._delta_link = self._follow(self._messages_url + "/delta", {"$select": "id,isRead"}, None)[1]
                return
            except GraphRequestFailed as exc:
                if exc.status not in _NO_DELTA_STATUSES or _is_sync_state(exc):
                    raise
                log.warning("graph_delta_unavailable", status=exc.status, code=exc.graph_code)
                self.mode = "polling"
        self._seen = self._unread_ids(None)

    def _delta_round(self, deadline: float) -> bool:
        if self._delta_link is None:
            self._start()
            return True
        try:
            items, self._delta_link = self._follow(self._delta_link, None, deadline)
        except GraphRequestFailed as exc:
            if exc.status != 410 and not _is_sync_state(exc):
                raise
            log.info("graph_delta_restarted", code=exc.graph_code)
            self._delta_link = None
            self._start()
            return True  # changes since the lost token are unknown: look at the inbox
        return any("@removed" not in item and item.get("isRead") is not True for item in items)

    def _follow(self, url: str, params: dict[str, str] | None, deadline: float | None) -> tuple[list[Any], str]:
        """Every page of one delta round, and the round's new delta link."""
        items: list[Any] = []
        next_url: str | None = url
        while next_url:
            body = self._client.get_json(next_url, what="watching the inbox", params=params, headers=_DELTA_HEADERS,
                                         max_wait_s=_remaining(deadline))
            items.extend(body.get("value", []))
            delta_link = self._client.own_link(body.get("@odata.deltaLink"), "watching the inbox")
            if delta_link:
                return items, delta_link
            next_url, params = self._client.own_link(body.get("@odata.nextLink"), "watching the inbox"), None
        raise MailboxUnavailable("Microsoft Graph ended a delta round without a delta link")

    def _poll(self, deadline: float) -> bool:
        ids = self._unread_ids(deadline)
        new = ids - self._seen
        self._seen = ids
        return bool(new)

    def _unread_ids(self, deadline: float | None) -> set[str]:
        params = {"$filter": f"receivedDateTime ge {_EVER} and isRead eq false", "$orderby": "receivedDateTime desc",
                  "$select": "id", "$top": str(_POLL_WINDOW)}
        body = self._client.get_json(self._messages_url, what="watching the inbox", params=params,
                                     max_wait_s=_remaining(deadline))
        return {item["id"] for item in body.get("value", [])}


def _is_sync_state(exc: GraphRequestFailed) -> bool:
    return exc.graph_code.lower() in _SYNC_STATE_CODES


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())
