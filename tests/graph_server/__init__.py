"""A loopback Microsoft Graph mail endpoint and Entra ID token endpoint, over real HTTPS, for tests and benchmarks.

    with GraphServer(tmp_path) as server:
        server.deliver(email_message)            # arrives unread in the Inbox
        mailbox = GraphMailbox(mailbox=server.mailbox, tenant_id=server.tenant_id, client_id=server.client_id,
                               client_secret=server.client_secret, authority_host=server.authority_host,
                               graph_url=server.graph_url, ca_file=server.ca_file)
        ...
        server.sent_messages(), server.folder_subjects("Processing"), server.requests

See :mod:`tests.graph_server.server` for the endpoints and the fault switches.
"""

from tests.graph_server.server import GraphServer, RecordedRequest

__all__ = ["GraphServer", "RecordedRequest"]
