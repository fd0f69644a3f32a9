"""What Clerk knows about a legacy application: its settings and how to open a session of its bot.

Each bot package declares one :class:`Application` in ``bots/<name>/application.py``, a light module (no
Playwright until a session is opened), so that settings can be validated and ``clerk check-config`` can
find a process's bot without starting a browser:

* ``settings``: the pydantic model of its section in the YAML settings (``applications.<name>``), based on
  :class:`ApplicationSettings` (where it is, which account Clerk uses, retries, browser sessions at once);
* ``session``: ``module:callable`` building a bot session from a started
  :class:`~bots.runtime.BrowserRuntime`, those settings and the account's password (from
  ``$CLERK_<NAME>_PASSWORD``). The session offers the operations the application's processes use
  (for keying: ``key(record, clerk_ref)``, see :mod:`bots.transaction`) and ``close()``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.errors import ConfigError

NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ApplicationSettings(BaseModel):
    """Every application's settings start with these (``applications.<name>`` in the YAML)."""

    model_config = ConfigDict(extra="forbid")

    url: str
    """Where the application is (its login page or home)."""
    username: str = "clerk-bot"
    """The account Clerk uses; its password comes from ``$CLERK_<NAME>_PASSWORD``."""
    retries: int = Field(default=2, ge=0, le=10)
    """Extra attempts after a system fault (busy, timeout); each looks the Clerk reference up first."""
    retry_delay_s: float = Field(default=1.0, ge=0)
    lanes: int = Field(default=3, ge=1, le=8)
    """Browser sessions keying at once. Every email for one applicant stays in one lane, in order. Set 1
    where the application allows one session per user."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


@dataclass(frozen=True)
class Application:
    name: str
    title: str
    settings: type[ApplicationSettings]
    session: str
    """``module:callable`` (runtime, settings, password) -> a bot session; imported only when opened."""

    def opener(self) -> Callable[..., Any]:
        module, _, attribute = self.session.partition(":")
        return getattr(importlib.import_module(module), attribute)


def password_variable(name: str) -> str:
    return f"CLERK_{name.upper()}_PASSWORD"


def load_application(name: str) -> Application:
    """The application ``bots/<name>/application.py`` declares; ConfigError naming what is missing."""
    if not NAME.match(name):
        raise ConfigError(f"'{name}' is not an application name (lower-case letters, digits, _)")
    try:
        module = importlib.import_module(f"bots.{name}.application")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"bots.{name}", f"bots.{name}.application"):
            raise
        raise ConfigError(f"there is no bot for '{name}': bots/{name}/application.py is missing "
                          f"(`clerk new bot {name}` makes one)") from None
    application = getattr(module, "APPLICATION", None)
    if not isinstance(application, Application) or application.name != name:
        raise ConfigError(f"bots/{name}/application.py must define APPLICATION = Application(name='{name}', ...)")
    return application
