"""Shared helpers for tests that run Clerk's flows: settings in a temp folder, one delivered batch, one pass."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from connectors.audit import iter_events
from connectors.mail.local import LocalMailbox
from connectors.settings import Settings
from flows.demo import demo_settings
from flows.prefect_server import local_prefect_server


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory):
    """One local Prefect server for the whole test session (it takes 10-20 s to start)."""
    with local_prefect_server(tmp_path_factory.mktemp("prefect-home")) as api_url:
        yield api_url


def settings_in(tmp_path: Path, casebook_url: str = "http://127.0.0.1:9", **urls: str) -> Settings:
    """The demo's settings in ``tmp_path``, every application retrying system faults without a delay;
    ``urls`` point other applications at their sandboxes (``revenues=server.url``)."""
    settings = demo_settings(tmp_path, casebook_url)
    for name, application in settings.applications.items():
        change = {"retry_delay_s": 0, **({"url": urls[name]} if name in urls else {})}
        settings.applications[name] = application.model_copy(update=change)
    return settings


@dataclass
class Sent:
    to: str
    subject: str
    in_reply_to: str
    body: str


def sent_replies(mailbox: LocalMailbox) -> list[Sent]:
    replies = []
    for path in mailbox.folder("sent"):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        replies.append(Sent(str(message["To"]), str(message["Subject"]), str(message["In-Reply-To"]),
                            message.get_body(("plain",)).get_content()))
    return replies


def audit_events(path: Path) -> list[dict]:
    """Every event of the audit trail (all its rotated files), in order."""
    return list(iter_events(path))


# What each expected outcome's reply subject starts with (runbooks/blue-badge.md, "The replies staff get").
REPLY_SUBJECT = {
    "created": "Blue Badge application keyed",
    "already_keyed": "Already keyed",
    "existing_application": "Application already held",
    "rejected": "Action needed",
}


def assert_right_replies(mailbox: LocalMailbox, messages, expected: list[str],
                         subjects: dict[str, str] = REPLY_SUBJECT) -> None:
    """Each email got the reply its expected outcome calls for (``subjects``: what each outcome's reply
    subject starts with; Blue Badge's by default); a sender not allowed got none."""
    threads: dict[str, list[str]] = {}
    for reply in sent_replies(mailbox):
        threads.setdefault(reply.in_reply_to, []).append(reply.subject)
    for message, outcome in zip(messages, expected, strict=True):
        replied = threads.get(str(message["Message-ID"]), [])
        if outcome == "sender_not_allowed":
            assert replied == [], replied
        elif outcome == "duplicate_delivery":  # the copy gets nothing: its original's one reply of each kind
            assert len(replied) == len(set(s.split(":")[0] for s in replied)), replied
        else:
            assert any(subject.startswith(subjects[outcome]) for subject in replied), (outcome, replied)
