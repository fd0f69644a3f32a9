"""Casebook: a simulated 2000s council case-management web app, for building and testing bots.

It has the hard parts real legacy apps have: frames, unstable control ids, a message-of-the-day popup,
a slow address lookup, a JavaScript confirm, idle session expiry and "System busy" pages.

    with CasebookServer(tmp_path / "casebook.db", CasebookConfig(error_rate=0.1)) as casebook:
        ...  # point a browser at casebook.url, log in as clerk-bot / casebook
"""

from sandbox.casebook.config import CasebookConfig
from sandbox.casebook.server import CasebookServer, serve

__all__ = ["CasebookConfig", "CasebookServer", "serve"]
