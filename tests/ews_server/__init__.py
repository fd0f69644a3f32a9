"""A loopback Exchange Web Services endpoint for tests and benchmarks (see :mod:`tests.ews_server.server`)."""

from tests.ews_server.server import EWS_PATH, TOKEN_PATH, EwsServer, RecordedRequest

__all__ = ["EWS_PATH", "TOKEN_PATH", "EwsServer", "RecordedRequest"]
