"""The embedded default mailbox: one directory per folder of RFC 5322 ``.eml`` files.

Anything that can drop a file into ``inbox/`` can trigger Clerk (a mail server's pickup directory,
a test, the demo). Claiming is ``os.rename`` within one file system, which is atomic: of two
workers that race for one file, exactly one succeeds.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, getaddresses, make_msgid, parseaddr, parsedate_to_datetime
from pathlib import Path

from connectors.errors import AlreadyClaimed, MailboxUnavailable
from connectors.mail import (
    Attachment,
    Email,
    FinalFolder,
    Folder,
    address_lower,
    first_values,
    kept_headers,
    mime_attachments,
    unreadable_error,
)

FOLDERS = ("inbox", "processing", "done", "exceptions", "sent")
_KEPT_HEADERS = (
    "From",
    "Sender",
    "Reply-To",
    "Authentication-Results",
    "X-MS-Exchange-Organization-AuthAs",
    "In-Reply-To",
)


class LocalMailbox:
    def __init__(self, root: str | Path, address: str, poll_interval_s: float = 0.2) -> None:
        self.root = Path(root)
        self.address = address
        self.poll_interval_s = poll_interval_s
        try:
            for folder in FOLDERS:
                (self.root / folder).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MailboxUnavailable(f"cannot create the mailbox folders under {self.root}: {exc.strerror}") from exc

    # --- the port -------------------------------------------------------------------------------
    def list_new(self, limit: int | None = None) -> list[Email]:
        paths = self._eml_files("inbox")
        return self._read_all(paths[:limit] if limit else paths)

    def claim(self, email: Email) -> Email:
        source = self.root / "inbox" / email.id
        target = self.root / "processing" / email.id
        try:
            os.rename(source, target)
        except FileNotFoundError:
            raise AlreadyClaimed(f"email {email.id} was claimed by another worker") from None
        except OSError as exc:
            raise MailboxUnavailable(f"cannot claim {email.id}: {exc.strerror}") from exc
        return self._read(target)

    def find_claimed(self, email_id: str) -> Email:
        path = self.root / "processing" / email_id
        if not path.is_file():
            raise MailboxUnavailable(f"email {email_id} is not in processing")
        return self._read(path)

    def attachments(self, email: Email) -> list[Attachment]:
        path = self._locate(email)
        try:
            return mime_attachments(self._parse(path))
        except OSError as exc:
            raise MailboxUnavailable(f"cannot read {email.id}: {exc.strerror}") from exc
        except Exception as exc:  # noqa: BLE001 - a malformed message makes the email package raise anything
            raise unreadable_error() from exc

    def reply(self, email: Email, subject: str, body: str, attachments: list[Attachment] | None = None,
              key: str | None = None) -> None:
        tag = hashlib.sha256(key.encode()).hexdigest()[:16] if key else None
        if tag and any(path.name.endswith(f"-{tag}.eml") for path in self._eml_files("sent")):
            return  # sent before a crash, which kept the ledger from recording it
        message = self._compose([email.sender], subject, body, attachments)
        message["In-Reply-To"] = email.message_id
        message["References"] = email.message_id
        self._write_atomically("sent", message, tag)

    def send(self, to: list[str], subject: str, body: str, attachments: list[Attachment] | None = None) -> None:
        self._write_atomically("sent", self._compose(to, subject, body, attachments))

    def list_folder(self, folder: Folder, limit: int | None = None) -> list[Email]:
        paths = self._eml_files(folder)
        return self._read_all(paths[:limit] if limit else paths)

    def requeue(self, email: Email) -> Email:
        return self.move(email, "inbox")

    def watch(self) -> LocalWatcher:
        return LocalWatcher(self.root / "inbox", self.poll_interval_s)

    def move(self, email: Email, folder: FinalFolder | Folder) -> Email:
        source = self._locate(email)
        target = self.root / folder / source.name
        try:
            os.rename(source, target)
        except OSError as exc:
            raise MailboxUnavailable(f"cannot move {email.id} to {folder}: {exc.strerror}") from exc
        return self._read(target, headers_only=True)

    # --- for whatever delivers mail locally (the demo, tests, a pickup directory) ------------------
    def deliver(self, message: EmailMessage) -> Path:
        """Drop a message into the inbox, as a mail server would."""
        return self._write_atomically("inbox", message)

    def folder(self, name: str) -> list[Path]:
        return self._eml_files(name)

    # --- internals --------------------------------------------------------------------------------
    def _compose(self, to: list[str], subject: str, body: str, attachments: list[Attachment] | None) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.address
        message["To"] = ", ".join(to)
        message["Subject"] = " ".join(subject.split())  # a header never carries the sender's CR/LF
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=self.address.partition("@")[2] or None)
        message.set_content(body)
        for attachment in attachments or []:
            maintype, _, subtype = attachment.content_type.partition("/")
            message.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename)
        return message

    def _write_atomically(self, folder: str, message: EmailMessage, tag: str | None = None) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        name = f"{stamp}-{tag or uuid.uuid4().hex[:8]}.eml"
        tmp = self.root / folder / f".{name}.tmp"
        tmp.write_bytes(message.as_bytes(policy=policy.SMTP))
        os.replace(tmp, self.root / folder / name)
        return self.root / folder / name

    def _eml_files(self, folder: str) -> list[Path]:
        try:
            entries = [entry for entry in os.scandir(self.root / folder) if entry.name.endswith(".eml")]
        except OSError as exc:
            raise MailboxUnavailable(f"cannot read the {folder} folder under {self.root}: {exc.strerror}") from exc
        entries.sort(key=lambda entry: entry.name)  # names start with the delivery time: oldest first
        return [Path(entry.path) for entry in entries]

    def _locate(self, email: Email) -> Path:
        for folder in ("processing", "done", "exceptions", "inbox"):
            path = self.root / folder / email.id
            if path.is_file():
                return path
        raise MailboxUnavailable(f"email {email.id} is not in the mailbox any more")

    @staticmethod
    def _parse(path: Path, headers_only: bool = False) -> EmailMessage:
        with path.open("rb") as handle:
            return BytesParser(policy=policy.default).parse(handle, headersonly=headers_only)

    def _read_all(self, paths: list[Path]) -> list[Email]:
        emails = []
        for path in paths:
            try:
                emails.append(self._read(path, headers_only=True))
            except FileNotFoundError:  # claimed or moved by another worker while we listed
                continue
        return emails

    def _read(self, path: Path, headers_only: bool = False) -> Email:
        """The email at ``path``; one the email package cannot read comes back with ``unreadable`` set."""
        try:
            return self._decode(path, headers_only)
        except OSError:
            raise
        except Exception as exc:  # noqa: BLE001 - unknown charsets and broken MIME raise many kinds of error
            return self._unreadable(path, exc)

    def _unreadable(self, path: Path, error: Exception) -> Email:
        """What can still be read of a broken email: enough to park it and, when Exchange vouched for the
        sender, tell them. Every field is read on its own, so one bad header costs only itself."""
        message = BytesParser(policy=policy.compat32).parsebytes(path.read_bytes(), headersonly=True)

        def raw(name: str) -> str:
            try:
                return str(message.get(name, "") or "")
            except Exception:  # noqa: BLE001
                return ""

        message_id = raw("Message-ID").strip() or f"<local-{path.name}>"
        kept = kept_headers(((name, _as_written(str(value))) for name, value in message.raw_items()), _KEPT_HEADERS)
        return Email(id=path.name, message_id=message_id, sender=address_lower(parseaddr(raw("From"))[1]),
                     to=tuple(address_lower(addr) for _, addr in getaddresses([raw("To"), raw("Cc")]) if addr),
                     subject=" ".join(raw("Subject").split()),
                     received=datetime.fromtimestamp(path.stat().st_mtime, UTC),
                     headers=first_values(kept), all_headers=kept,
                     unreadable=f"{type(error).__name__}: {error}"[:300])

    def _decode(self, path: Path, headers_only: bool) -> Email:
        message = self._parse(path, headers_only)
        sender = address_lower(parseaddr(str(message.get("From", "")))[1])
        to = tuple(address_lower(addr) for _, addr in getaddresses([str(v) for v in message.get_all("To", []) + message.get_all("Cc", [])]))
        try:
            received = parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
        except (TypeError, ValueError):
            received = None
        received = received or datetime.fromtimestamp(path.stat().st_mtime, UTC)
        body = ""
        names: tuple[str, ...] = ()
        if not headers_only:
            text = message.get_body(preferencelist=("plain",))
            body = text.get_content() if text is not None else ""
            names = tuple(attachment.filename for attachment in mime_attachments(message))
        kept = kept_headers(((name, _as_written(value)) for name, value in message.raw_items()), _KEPT_HEADERS)
        return Email(
            id=path.name,
            message_id=str(message.get("Message-ID", "")).strip() or f"<local-{path.name}>",
            sender=sender,
            to=to,
            subject=str(message.get("Subject", "")),
            received=received,
            headers=first_values(kept),
            body=body,
            attachment_names=names,
            all_headers=kept,
        )


def _as_written(value: str) -> str:
    """A header value as the sender wrote it (RFC 2047 words not decoded); raw 8-bit bytes (RFC 6532) read as UTF-8."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class LocalWatcher:
    """Notices new files in the inbox folder by looking every ``interval`` seconds (a directory listing is
    cheap; a pickup directory has no server to push events)."""

    mode = "polling"

    def __init__(self, inbox: Path, interval: float) -> None:
        self._inbox = inbox
        self._interval = interval
        self._seen: set[str] = set()
        self._closed = threading.Event()

    def _new_names(self) -> set[str]:
        try:
            names = {entry.name for entry in os.scandir(self._inbox) if entry.name.endswith(".eml")}
        except OSError as exc:
            raise MailboxUnavailable(f"cannot read the inbox folder {self._inbox}: {exc.strerror}") from exc
        new = names - self._seen
        self._seen = names
        return new

    def wait(self, timeout: float) -> bool:
        remaining = timeout
        while not self._closed.is_set():
            if self._new_names():
                return True
            if remaining <= 0:
                return False
            step = min(self._interval, remaining)
            self._closed.wait(step)
            remaining -= step
        return False

    def close(self) -> None:
        self._closed.set()
