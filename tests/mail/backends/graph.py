"""The Graph backend for the mailbox contract suite: GraphMailbox against the loopback Graph server over HTTPS."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

from connectors.mail.graph import GraphMailbox
from tests.graph_server import GraphServer

_FOLDERS = {"inbox": "inbox", "processing": "Processing", "done": "Done", "exceptions": "Exceptions"}


def graph_mailbox(server: GraphServer, **overrides: object) -> GraphMailbox:
    """A GraphMailbox signed in to ``server`` as its app, trusting the server's throwaway CA."""
    settings: dict[str, object] = dict(
        mailbox=server.mailbox, tenant_id=server.tenant_id, client_id=server.client_id,
        client_secret=server.client_secret, authority_host=server.authority_host, graph_url=server.graph_url,
        ca_file=server.ca_file, busy_max_wait_s=2, timeout_s=5, poll_interval_s=0.05,
    )
    settings.update(overrides)
    return GraphMailbox(**settings)  # type: ignore[arg-type]


class GraphBackend:
    name = "graph"

    def __init__(self, server: GraphServer) -> None:
        self.server = server
        self.mailbox = graph_mailbox(server)

    def deliver(self, message: EmailMessage) -> None:
        self.server.deliver(message)

    def sent(self) -> list[EmailMessage]:
        return self.server.sent_messages()

    def folder_subjects(self, folder: str) -> list[str]:
        return self.server.folder_subjects(_FOLDERS[folder])


@contextlib.contextmanager
def open_backend(tmp_path: Path) -> Iterator[GraphBackend]:
    with GraphServer(tmp_path) as server:
        backend = GraphBackend(server)
        try:
            yield backend
        finally:
            backend.mailbox.close()
