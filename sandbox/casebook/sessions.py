"""Casebook's sessions: who is logged in (see :mod:`sandbox.kit.sessions`) and their half-keyed case."""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.casebook.store import Criteria
from sandbox.kit.sessions import Session as _Session


@dataclass
class Session(_Session):
    show_motd: bool = True
    # The "New Blue Badge case" wizard: current step (1-4) and the values accepted so far.
    step: int = 1
    draft: dict[str, str] = field(default_factory=dict)
    looked_up: set[str] = field(default_factory=set)  # postcodes checked with "Find address"
    search: Criteria | None = None

    def reset_draft(self) -> None:
        self.step = 1
        self.draft = {}
        self.looked_up = set()
