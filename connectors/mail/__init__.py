"""The Mailbox port: what Clerk needs from a shared mailbox, whichever server holds it.

Folders are Clerk's: ``inbox`` (new mail), ``processing`` (claimed by a worker), ``done``,
``exceptions`` and ``sent``. Every adapter (the local folder today; Exchange EWS and Graph next)
implements :class:`Mailbox` and raises only errors from :mod:`connectors.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

FinalFolder = Literal["done", "exceptions"]


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Email:
    """One email as Clerk sees it. ``id`` is the adapter's handle for its current folder."""

    id: str
    message_id: str
    sender: str
    """The ``From`` address, lower-case."""
    to: tuple[str, ...]
    subject: str
    received: datetime
    headers: dict[str, str] = field(default_factory=dict)
    """The headers sender checks need (``Sender``, ``Authentication-Results``, ``X-MS-Exchange-...``)."""
    body: str = ""
    attachment_names: tuple[str, ...] = ()


class Mailbox(Protocol):
    """The small port every mail adapter implements."""

    def list_new(self, limit: int | None = None) -> list[Email]:
        """New emails in the inbox, oldest first (headers only: no attachment bodies)."""

    def claim(self, email: Email) -> Email:
        """Move the email from the inbox to processing and return it there.

        Atomic: when two workers race, exactly one wins; the other gets ``AlreadyClaimed``.
        """

    def attachments(self, email: Email) -> list[Attachment]:
        """The email's file attachments."""

    def reply(self, email: Email, subject: str, body: str, attachments: list[Attachment] | None = None) -> None:
        """Send a reply to the email's sender (threaded with In-Reply-To)."""

    def move(self, email: Email, folder: FinalFolder) -> Email:
        """Move a claimed email from processing to done or exceptions."""

    def find_claimed(self, email_id: str) -> Email:
        """A claimed email by id (a worker resuming its batch)."""
