"""What every simulated legacy app in ``sandbox/`` is built on (standard library only).

* :mod:`sandbox.kit.server`: :class:`AppServer`, a threaded HTTP server on a loopback port with one
  request pipeline (latency, static files, "System busy", routing, sessions), tracked keep-alive
  connections and a prompt, clean stop; :func:`serve_until_interrupted` for ``clerk sandbox ...``.
* :mod:`sandbox.kit.http`: :class:`Request`, :class:`Reply` and its helpers, the :class:`Routes` table.
* :mod:`sandbox.kit.sessions`: cookie sessions with idle expiry.
* :mod:`sandbox.kit.faults`: the seeded "System busy" dice and the latency.
* :mod:`sandbox.kit.config`: settings from ``<APP>_*`` variables; a bad value names the variable.
* :mod:`sandbox.kit.store`: one SQLite file per app, seeded when new, behind one lock.
* :mod:`sandbox.kit.values`: reading typed UK dates, postcodes and amounts of money.
"""

from sandbox.kit.config import EnvSettings, common_env, parse_bool, parse_float, parse_int, parse_text
from sandbox.kit.faults import Faults, pause
from sandbox.kit.http import Reply, Request, Routes, html, json_reply, redirect
from sandbox.kit.server import AppServer, serve_until_interrupted
from sandbox.kit.sessions import Session, Sessions, clear_cookie, set_cookie

__all__ = [
    "AppServer",
    "EnvSettings",
    "Faults",
    "Reply",
    "Request",
    "Routes",
    "Session",
    "Sessions",
    "clear_cookie",
    "common_env",
    "html",
    "json_reply",
    "parse_bool",
    "parse_float",
    "parse_int",
    "parse_text",
    "pause",
    "redirect",
    "serve_until_interrupted",
    "set_cookie",
]
