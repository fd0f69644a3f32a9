"""Keying one record, idempotently: look the Clerk reference up, create only if absent, read it back.

Every application Clerk keys into stores the Clerk reference on the record it creates (a notes field, a
reference field) and lets a user search by it. :class:`TransactionBot` turns that into the one operation
every keying process calls, ``key(record, clerk_ref)``:

1. a record already carries the Clerk reference -> ``already_keyed`` (a retry after a crash finds its own
   work, never makes a second record);
2. the application already holds this subject (the same applicant, the same supplier's invoice) ->
   :attr:`TransactionBot.held_outcome`, with the fields where the form differs (names, never values), so a
   person decides whether it is a resend or a change;
3. otherwise create it with the Clerk reference, read it back and compare -> ``created``
   (RecordNotVerified when what was saved is not what was keyed).

A bot subclasses it and provides the three look-ups and the create, written with its page objects; the
session boundary (login, expiry, busy, screenshots, errors) is :class:`bots.session.BotSession`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bots.session import BotSession
from connectors.errors import RecordNotVerified


@dataclass(frozen=True)
class Keyed:
    """How a record was keyed."""

    record_reference: str
    outcome: str
    """``created``, ``already_keyed``, or the bot's held outcome (the application already holds it)."""
    differences: tuple[str, ...] = ()
    """For a held record: the fields (names, never values) where the form differs from what is held."""
    review: str = ""
    """For a held record: the bot's own sentence for the supervisor, when the default one ("the application
    already holds ... the form differs in ...") does not say what happened. References and rules, no values."""


class TransactionBot(BotSession):
    """A bot that keys records into an application that stores the Clerk reference (see module doc)."""

    held_outcome = "already_held"

    # --- what each application's bot provides (with its page objects) ---------------------------------
    def find_by_clerk_reference(self, clerk_ref: str) -> str | None:
        """The record carrying the Clerk reference (the oldest, if several), or None."""
        raise NotImplementedError

    def find_held(self, record: Any) -> tuple[str, tuple[str, ...]] | None:
        """A record the application already holds for this subject, and the fields that differ; or None.
        By default there is no such check."""
        return None

    def create(self, record: Any, clerk_ref: str) -> str:
        """Key the record with the Clerk reference stored on it; return its reference."""
        raise NotImplementedError

    def read_back(self, record_reference: str, record: Any, clerk_ref: str) -> list[str]:
        """The fields (names) where what was saved differs from ``record`` (empty: it is what was keyed)."""
        raise NotImplementedError

    # --- the transaction ---------------------------------------------------------------------------------
    def key(self, record: Any, clerk_ref: str) -> Keyed:
        """Look up first, then key: safe to call again after any failure (it never keys twice)."""
        return self.run("key", clerk_ref, lambda: self.transact(record, clerk_ref))

    def transact(self, record: Any, clerk_ref: str) -> Keyed:
        found = self.find_by_clerk_reference(clerk_ref)
        if found:
            return Keyed(found, "already_keyed")
        held = self.find_held(record)
        if held:
            return Keyed(held[0], self.held_outcome, tuple(held[1]))
        reference = self.create(record, clerk_ref)
        wrong = self.read_back(reference, record, clerk_ref)
        if wrong:
            raise RecordNotVerified(f"{self.title} record {reference} does not show what was keyed for {clerk_ref} "
                                    f"(fields: {', '.join(wrong)})")
        return Keyed(reference, "created")
