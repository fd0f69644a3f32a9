import importlib

import pytest

BACKENDS = ("local", "ews", "graph")


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    """Each mailbox adapter with the server it talks to: the local folder, and loopback EWS and Graph servers."""
    module = importlib.import_module(f"tests.mail.backends.{request.param}")
    with module.open_backend(tmp_path) as opened:
        yield opened
