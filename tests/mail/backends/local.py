"""The local-folder backend for the mailbox contract suite: the 'server' is the folder tree itself."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from connectors.mail.local import LocalMailbox


class LocalBackend:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.mailbox = LocalMailbox(root, "clerk@council.example.gov.uk", poll_interval_s=0.05)

    def deliver(self, message: EmailMessage) -> None:
        self.mailbox.deliver(message)

    def sent(self) -> list[EmailMessage]:
        return [BytesParser(policy=policy.default).parsebytes(path.read_bytes()) for path in self.mailbox.folder("sent")]

    def folder_subjects(self, folder: str) -> list[str]:
        return [str(BytesParser(policy=policy.default).parsebytes(path.read_bytes(), headersonly=True)["Subject"])
                for path in self.mailbox.folder(folder)]


@contextlib.contextmanager
def open_backend(tmp_path: Path) -> Iterator[LocalBackend]:
    yield LocalBackend(tmp_path / "mailbox")
