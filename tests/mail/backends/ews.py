"""The EWS backend for the mailbox contract suite: EwsMailbox against the loopback EWS server, over HTTPS
(a throwaway CA the adapter trusts by ``ca_file``) with NTLM, as a council's on-premises Exchange is reached.

``ews_mailbox(server, ...)`` is also what the EWS tests use to build an adapter for a server.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

from connectors.mail.ews import EwsMailbox
from tests.ews_server import EwsServer

USER = "COUNCIL\\svc-clerk"
PASSWORD = "Corr3ct-Horse-Battery"
_FOLDERS = {"inbox": "inbox", "processing": "Processing", "done": "Done", "exceptions": "Exceptions"}


def ews_server(tmp_path: Path, **options: object) -> EwsServer:
    """A loopback EWS server over TLS whose one account, :data:`USER`, is a delegate of the shared mailbox."""
    options.setdefault("users", {USER: PASSWORD})
    return EwsServer(tls_dir=tmp_path / "ews-tls", **options)  # type: ignore[arg-type]


def ews_mailbox(server: EwsServer, **overrides: object) -> EwsMailbox:
    """An EwsMailbox signed in to ``server`` as :data:`USER` by NTLM, trusting the server's CA."""
    settings: dict[str, object] = dict(
        url=server.url, mailbox=server.mailbox, username=USER, password=PASSWORD, auth_type="NTLM",
        version="Exchange2016", ca_file=str(server.ca_file) if server.ca_file else None, busy_max_wait_s=2,
        timeout_s=10, poll_interval_s=0.05, watch_unreachable_s=5,
    )
    settings.update(overrides)
    return EwsMailbox(**settings)  # type: ignore[arg-type]


class EwsBackend:
    name = "ews"

    def __init__(self, server: EwsServer) -> None:
        self.server = server
        self.mailbox = ews_mailbox(server)

    def deliver(self, message: EmailMessage) -> None:
        self.server.deliver(message)

    def sent(self) -> list[EmailMessage]:
        return self.server.sent()

    def folder_subjects(self, folder: str) -> list[str]:
        return self.server.folder_subjects(_FOLDERS[folder])


@contextlib.contextmanager
def open_backend(tmp_path: Path) -> Iterator[EwsBackend]:
    with ews_server(tmp_path) as server:
        backend = EwsBackend(server)
        try:
            yield backend
        finally:
            backend.mailbox.close()
