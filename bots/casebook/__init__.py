"""The Casebook bot: keys Blue Badge applications into Casebook through its web screens.

``bots.casebook.application`` declares it to Clerk without loading Playwright; the bot itself loads on
first use of the names below."""

from __future__ import annotations

__all__ = ["CaseRecord", "CasebookBot", "CasebookBotSettings", "KeyingResult"]


def __getattr__(name: str):
    if name in __all__:
        from bots.casebook import bot

        return getattr(bot, name)
    raise AttributeError(name)
