"""What the mailbox contract suite needs from each backend under test.

A backend is the adapter under test (``mailbox``) plus the server side it talks to: a way to deliver a
message as if it arrived from outside, and a view of what the adapter sent and where mail now sits.
Each backend module under ``tests/mail/backends/`` provides ``open_backend(tmp_path)``, a context manager
yielding a :class:`MailBackend`, with its loopback server started and stopped around it.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

from connectors.mail import Mailbox


class MailBackend(Protocol):
    name: str
    mailbox: Mailbox

    def deliver(self, message: EmailMessage) -> None:
        """The message arrives in the shared mailbox's Inbox (unread), as the mail server would file it."""

    def sent(self) -> list[EmailMessage]:
        """Every message the adapter sent (replies and new mail), oldest first, parsed from MIME."""

    def folder_subjects(self, folder: str) -> list[str]:
        """Subjects of the messages now in ``inbox``, ``processing``, ``done`` or ``exceptions`` (server view)."""
