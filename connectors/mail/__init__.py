"""The Mailbox port: what Clerk needs from a shared mailbox, whichever server holds it.

Folders are Clerk's: ``inbox`` (new mail), ``processing`` (claimed by a worker), ``done``,
``exceptions`` and ``sent``. Every adapter (the local folder, Exchange by EWS, Exchange Online by
Graph) implements :class:`Mailbox` and raises only errors from :mod:`connectors.errors`.

Attached messages (an email forwarded as an attachment, ``.eml`` or Outlook ``.msg``) are returned by
``attachments()`` as one :class:`Attachment` of type ``message/rfc822`` holding the MIME text;
:func:`expand_attached_messages` adds their own file attachments, one level deep.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Literal, Protocol

from connectors.errors import MailUnreadable

FinalFolder = Literal["done", "exceptions"]
Folder = Literal["inbox", "processing", "done", "exceptions"]
_FOLD = re.compile(r"\r?\n(?=[ \t])")  # a folded header line: the line break goes, the white space stays


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
    """The headers sender checks need (``From``, ``Sender``, ``Authentication-Results``, ``X-MS-Exchange-...``):
    the first (topmost) value of each. The sender check itself reads :meth:`header_values`."""
    body: str = ""
    attachment_names: tuple[str, ...] = ()
    all_headers: tuple[tuple[str, str], ...] = ()
    """Every occurrence of those headers, as ``(name, value)`` in message order: topmost first (the
    header added last, by the server nearest Clerk). Values are as the mail server holds them, unfolded:
    RFC 2047 words are not decoded (the sender check must see what was sent, not a parser's rendering)."""
    unreadable: str | None = None
    """Why the adapter could not read this email (its fields then hold what could be read); the intake
    parks it as MAIL_UNREADABLE. Adapters never raise for one bad email: the rest of the batch goes on."""

    def header_values(self, name: str) -> list[str]:
        """Every value of one of the kept headers, topmost first; ``[]`` when the email has none.

        An ``Email`` built without ``all_headers`` (by hand) answers from ``headers``."""
        if not self.all_headers:
            return [value for key, value in self.headers.items() if key.isascii() and key.lower() == name.lower()]
        return [value for key, value in self.all_headers if key.isascii() and key.lower() == name.lower()]


def unreadable_error() -> MailUnreadable:
    """What the sender of an email Clerk cannot read is told (when Exchange vouches for them)."""
    return MailUnreadable(
        "Clerk could not read this email.",
        reasons=["Its text or attachments are in a form Clerk cannot decode (an unknown character set or a "
                 "damaged message). Please send it again from Outlook, with the form attached."])


class Mailbox(Protocol):
    """The small port every mail adapter implements."""

    def list_new(self, limit: int | None = None) -> list[Email]:
        """New emails in the inbox, oldest first (headers only: no attachment bodies). One that cannot be
        read is listed with ``unreadable`` set, never raised; one that vanished meanwhile is left out."""

    def claim(self, email: Email) -> Email:
        """Move the email from the inbox to processing and return it there.

        Atomic: when two workers race, exactly one wins; the other gets ``AlreadyClaimed``.
        """

    def attachments(self, email: Email) -> list[Attachment]:
        """The email's file attachments (``MailUnreadable`` when its MIME structure cannot be read)."""

    def reply(self, email: Email, subject: str, body: str, attachments: list[Attachment] | None = None,
              key: str | None = None) -> None:
        """Send a reply to the email's sender (threaded with In-Reply-To).

        ``key`` names the reply (Clerk reference and kind): an adapter that can tell a reply with that key
        was already sent does not send it again (the local folder can; Exchange adapters send again, so a
        crash between sending and the ledger's record of it may repeat that one reply)."""

    def move(self, email: Email, folder: FinalFolder) -> Email:
        """Move a claimed email from processing to done or exceptions."""

    def find_claimed(self, email_id: str) -> Email:
        """A claimed email by id (a worker resuming its batch)."""

    def list_folder(self, folder: Folder, limit: int | None = None) -> list[Email]:
        """Emails in one of Clerk's folders, oldest first (headers only; as ``list_new`` for bad or vanished
        emails)."""

    def requeue(self, email: Email) -> Email:
        """Move an email (from Exceptions, normally) back to the inbox, to be claimed again."""

    def send(self, to: list[str], subject: str, body: str, attachments: list[Attachment] | None = None) -> None:
        """Send a new email (not a reply) from the shared mailbox: reminders and reports to supervisors."""

    def watch(self) -> MailWatcher:
        """A watcher that tells the intake when new mail may have arrived (streaming where the server
        offers it, else polling). The caller closes it."""


class MailWatcher(Protocol):
    mode: str
    """How it learns of new mail: ``streaming``, ``notifications``, ``delta`` or ``polling``."""

    def wait(self, timeout: float) -> bool:
        """Block until new mail may have arrived (True) or ``timeout`` seconds pass (False).

        Survives a dropped connection, a restarted server and an expired subscription by subscribing
        again; when it had to re-subscribe it returns True so the caller lists the inbox (mail may have
        arrived while it was not listening). Raises :class:`~connectors.errors.MailboxUnavailable` only
        when the server stays unreachable."""

    def close(self) -> None:
        """Unsubscribe and release the connection."""


def kept_headers(pairs: Iterable[tuple[str, str]], names: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """Of a message's ``(name, value)`` header pairs, in order, every occurrence of the ones in ``names``
    (matched ignoring case, returned spelled as in ``names``), repeated headers included, values unfolded and
    without the white space around them."""
    wanted = {name.lower(): name for name in names}
    return tuple((wanted[key.lower()], _FOLD.sub("", value).strip(" \t")) for key, value in pairs
                 if key.isascii() and key.lower() in wanted)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def address_lower(address: str) -> str:
    """An address in lower case, A-Z only: ``str.lower()`` would turn the Kelvin sign (U+212A) into ``k``
    and so make a look-alike read as the real address in Clerk's own records."""
    return address.translate(_ASCII_LOWER)


def first_values(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The first (topmost) value of each header: :attr:`Email.headers` from :attr:`Email.all_headers`."""
    first: dict[str, str] = {}
    for name, value in headers:
        first.setdefault(name, value)
    return first


def mime_attachments(message: EmailMessage) -> list[Attachment]:
    """A MIME message's attachments: files as they are, an attached message as its MIME text."""
    found = []
    for part in message.iter_attachments():
        if part.get_content_maintype() == "multipart":
            continue
        if part.get_content_type() == "message/rfc822":  # an email forwarded as an attachment
            inner = part.get_content()
            name = part.get_filename() or f"{inner.get('Subject', 'message')}.eml"
            found.append(Attachment(name, "message/rfc822", inner.as_bytes(policy=policy.SMTP)))
            continue
        found.append(Attachment(part.get_filename() or "attachment", part.get_content_type(),
                                part.get_payload(decode=True) or b""))
    return found


def expand_attached_messages(attachments: list[Attachment]) -> list[Attachment]:
    """The attachments, plus the file attachments of any attached message (one level deep)."""
    expanded = list(attachments)
    for attachment in attachments:
        if attachment.content_type != "message/rfc822":
            continue
        try:
            inner = BytesParser(policy=policy.default).parsebytes(attachment.data)
        except Exception:  # noqa: BLE001 - a malformed attached message simply adds nothing
            continue
        expanded.extend(found for found in mime_attachments(inner) if found.content_type != "message/rfc822")
    return expanded
