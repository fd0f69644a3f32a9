"""The Casebook bot: keys Blue Badge applications into Casebook through its web screens."""

from bots.casebook.bot import CasebookBot, CasebookBotSettings, CaseRecord, KeyingResult

__all__ = ["CaseRecord", "CasebookBot", "CasebookBotSettings", "KeyingResult"]
