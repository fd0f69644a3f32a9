"""The Revenues bot: keys a Council Tax change of address into Revenues, idempotently, and reads it back.

A move is keyed on the account's *Change of address* screen, whose note is saved with the move in one
transaction: the bot writes ``Clerk ref: CLK-... moved to P10020 from DD/MM/YYYY`` there, and finds its own
work again by Revenues' "Notes contain" search. ``key(move, clerk_ref)`` (:class:`bots.transaction.TransactionBot`):

1. an account's notes carry the Clerk reference -> ``already_keyed`` (a retry never moves anyone twice);
2. the account is already liable at the new address (a resend of a move Revenues already holds, in a new
   email) -> ``already_held``, with the dates that differ, if any, for a supervisor;
3. otherwise find the account the form is about, key the move, read it back -> ``created``.

Finding the account never guesses. Revenues is searched by the postcode being left, which lists everyone
liable there (two people at one address, the flats of one building, a former resident whose account is
closed), a page at a time; the bot takes the one row whose account number *and* address are the form's.
What Revenues refuses, and what the bot cannot find, become business errors with codes (the sender must
fix the form): ACCOUNT_NOT_FOUND, ACCOUNT_NOT_AT_ADDRESS, ACCOUNT_CLOSED, PROPERTY_NOT_FOUND,
PROPERTY_AMBIGUOUS, PROPERTY_OCCUPIED, MOVE_TOO_FAR_AHEAD, MOVE_BEFORE_LIABILITY, MOVE_IN_BEFORE_MOVE_OUT,
SAME_PROPERTY. "System busy" and the overnight batch (read-only) are system faults, tried again, never the
sender's. Messages quote references only: never the password, never a resident's details, never another
account's.

The record reference Clerk reports is ``<account>/<new liability>``, e.g. ``60010029/L000016``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import structlog
from playwright.sync_api import Error as PlaywrightError

from bots.revenues.addresses import postcode_key, property_option, same_address
from bots.revenues.pages.account import AccountScreen
from bots.revenues.pages.common import BatchRunning
from bots.revenues.pages.login import LoginPage, Shell
from bots.runtime import BrowserRuntime
from bots.session import ValidationShown
from bots.transaction import TransactionBot
from connectors.documents.council_tax_move import DATE_FORMAT, CouncilTaxMove
from connectors.errors import ApplicationRejected, ApplicationUnavailable, BusinessError, ClerkError, RecordNotVerified

log = structlog.get_logger(__name__)

CLERK_NOTE = "Clerk ref: {}"
_MOVED = re.compile(r"moved to (?P<property>P\d{5}) from (?P<day>\d{2}/\d{2}/\d{4})")
_UNMASKED = "#notes, #message, #errors, h2"  # what the shared mask (controls, table cells) leaves showing
_OPENED = re.compile(r"new liability (?P<ref>L\d{6})")

# Revenues' refusals of a move (sandbox/revenues/rules.py), by a phrase of its sentence: the code, and
# whether its sentence may be quoted to the sender (it must not name another account or its address).
_REFUSALS: tuple[tuple[str, str, bool], ...] = (
    ("has no current liability", "ACCOUNT_CLOSED", False),
    ("days in the future", "MOVE_TOO_FAR_AHEAD", True),
    ("on or after the start of the current liability", "MOVE_BEFORE_LIABILITY", True),
    ("on or after the move-out date", "MOVE_IN_BEFORE_MOVE_OUT", True),
    ("is the property the account is moving out of", "SAME_PROPERTY", False),
    ("is not in the property register", "PROPERTY_NOT_FOUND", False),
    ("overlaps the move-in date", "PROPERTY_OCCUPIED", False),
)
REFUSED = "Revenues would not take this change of address."
"""The summary of every refusal; the reasons say why, in words the sender can act on."""
_SAID = {
    "ACCOUNT_NOT_FOUND": "Revenues has no Council Tax account {account}. Check the account number on the resident's "
                         "bill (8 digits).",
    "ACCOUNT_NOT_AT_ADDRESS": "Council Tax account {account} is not liable at the address the form says is being "
                              "left ({old_postcode}). Check the account number and the address being left.",
    "PROPERTY_AMBIGUOUS": "The new address matches more than one property in Revenues' register. Give the full "
                          "address, with the flat number if there is one.",
    "ACCOUNT_CLOSED": "Council Tax account {account} is closed in Revenues, so there is no liability to move. "
                      "Check the account number on the resident's latest bill.",
    "SAME_PROPERTY": "The new address is the property account {account} is already liable for. Check the new address.",
    "PROPERTY_NOT_FOUND": "The new address is not in Revenues' property register at postcode {postcode}. "
                          "Check the new address and its postcode.",
    "PROPERTY_OCCUPIED": "Someone is already liable for the new address on the move-in date. Check the new "
                         "address and the move-in date; if both are right, the Council Tax team must check "
                         "the other liability first.",
}


@dataclass
class RevenuesBotSettings:
    url: str
    username: str
    password: str = field(repr=False)
    busy_retries: int = 2


def _day(text: str) -> date | None:
    try:
        return datetime.strptime(text.strip(), DATE_FORMAT).date()
    except ValueError:
        return None


class RevenuesBot(TransactionBot):
    title = "Revenues"
    busy_words = "System busy"
    held_outcome = "already_held"

    def __init__(self, runtime: BrowserRuntime, settings: RevenuesBotSettings) -> None:
        super().__init__(runtime, settings.busy_retries)
        self.settings = settings

    # --- the session --------------------------------------------------------------------------------
    def log_in(self) -> None:
        LoginPage(self.page, self.patience).log_in(self.settings.url, self.settings.username, self.settings.password)
        log.info("revenues.logged_in", user=self.settings.username)

    def translate(self, exc: Exception, context: str) -> ClerkError | None:
        if isinstance(exc, BatchRunning):
            return ApplicationUnavailable(f"Revenues is read-only while its overnight batch runs, while {exc.what} "
                                          f"({context})", code="APP_READ_ONLY")
        return super().translate(exc, context)

    def failed(self, operation: str) -> Path | None:
        """Revenues shows residents' details outside form controls and table cells too (the notes, the
        confirmation, its error sentences): blank them in every frame, then the shared masked screenshot."""
        page = self._page
        if page is not None and not page.is_closed():
            for frame in page.frames:
                try:
                    frame.locator(_UNMASKED).evaluate_all("nodes => nodes.forEach(n => { n.textContent = '#####'; })")
                except PlaywrightError:
                    pass  # a frame going away: the screenshot is taken anyway
        return super().failed(operation)

    def _shell(self) -> Shell:
        return Shell(self.page, self.patience)

    def _search(self, **criteria: str) -> list[dict[str, str]]:
        return self._shell().open_search().search(**criteria).all_rows()

    def _open(self, account_number: str) -> AccountScreen:
        """The account's screen (searched by its number: exact)."""
        results = self._shell().open_search().search(account_number=account_number)
        if not results.rows():
            raise RecordNotVerified(f"Revenues shows no account {account_number} any more")
        return results.open_account(account_number)

    # --- look-ups -------------------------------------------------------------------------------------
    def find_by_clerk_reference(self, clerk_ref: str) -> str | None:
        """``<account>/<liability>`` of the move whose note carries the Clerk reference, or None."""
        note = _note_pattern(clerk_ref)
        accounts = sorted({row["Account"] for row in self._search(notes=CLERK_NOTE.format(clerk_ref))})
        for account_number in accounts:  # "Notes contain" finds CLK-1 inside CLK-12 too: read each note
            account = self._open(account_number)
            line = next((line for line in account.notes().splitlines() if note.search(line)), None)
            if line is not None:
                return _moved_reference(account, line, clerk_ref)
        return None

    def find_held(self, move: CouncilTaxMove) -> tuple[str, tuple[str, ...]] | None:
        """The account is already liable at the new address (still, or from the move-in date): the move
        and the dates where the form differs from it."""
        if not self._search(account_number=move.account_number):
            return None  # keying will say the account does not exist
        liabilities = self._open(move.account_number).liabilities()
        for index, liability in enumerate(liabilities):
            at_new = _at(liability, move.new_address, move.new_postcode)
            if at_new and _at(liability, move.old_address, move.old_postcode):
                continue  # the property being left (the form names it twice): Revenues refuses, SAME_PROPERTY
            if at_new and (liability.get("Status") == "Live" or _day(liability.get("From", "")) == move.move_in_date):
                differences = []
                if _day(liability.get("From", "")) != move.move_in_date:
                    differences.append("move_in_date")
                before = liabilities[index - 1] if index else None
                if before is None or _day(before.get("To", "")) != move.move_out_date:
                    differences.append("move_out_date")
                return f"{move.account_number}/{liability['Liability']}", tuple(differences)
        return None

    # --- keying ---------------------------------------------------------------------------------------
    def create(self, move: CouncilTaxMove, clerk_ref: str) -> str:
        account_number = move.account_number
        self._the_account_at(move)
        screen = self._open(account_number).change_of_address()
        options = [parsed for value, text in screen.find(move.new_postcode) if (parsed := property_option(text))]
        matches = [ref for ref, address, postcode in options
                   if postcode_key(postcode) == postcode_key(move.new_postcode) and same_address(move.new_address, address)]
        if not matches:
            raise _refused("PROPERTY_NOT_FOUND", move)
        if len(matches) > 1:  # never guess between two register entries
            raise _refused("PROPERTY_AMBIGUOUS", move)
        note = f"{CLERK_NOTE.format(clerk_ref)} moved to {matches[0]} from {move.move_in_text}"
        try:
            saved = screen.save(move_out=move.move_out_text, new_property=matches[0], move_in=move.move_in_text,
                                note=note)
        except ValidationShown as shown:
            raise _refusal(shown.messages, move) from None
        opened = _OPENED.search(saved.message())
        if not opened:
            raise RecordNotVerified(f"Revenues saved the move for {clerk_ref} but did not say which liability it opened")
        reference = f"{account_number}/{opened['ref']}"
        log.info("revenues.move_saved", clerk_ref=clerk_ref, record_reference=reference)
        return reference

    def _the_account_at(self, move: CouncilTaxMove) -> None:
        """The one live account with the form's number at the address being left; a business error naming
        what does not match otherwise. Searched by the postcode being left: several accounts may answer."""
        rows = self._search(postcode=move.old_postcode)
        ours = [row for row in rows if row.get("Account") == move.account_number
                and postcode_key(row.get("Postcode", "")) == postcode_key(move.old_postcode)
                and same_address(move.old_address, row.get("Property address", ""))]
        if ours:
            if ours[0].get("Status") != "Live":
                raise _refused("ACCOUNT_CLOSED", move)
            return
        elsewhere = self._search(account_number=move.account_number)
        if not elsewhere:
            raise _refused("ACCOUNT_NOT_FOUND", move)
        if elsewhere[0].get("Status") != "Live":
            raise _refused("ACCOUNT_CLOSED", move)
        raise _refused("ACCOUNT_NOT_AT_ADDRESS", move)

    def read_back(self, record_reference: str, move: CouncilTaxMove, clerk_ref: str) -> list[str]:
        account_number, _, liability_ref = record_reference.partition("/")
        account = self._open(account_number)
        liabilities = account.liabilities()
        wrong = []
        index = next((i for i, li in enumerate(liabilities) if li.get("Liability") == liability_ref), None)
        if index is None:
            return ["new liability"]
        opened = liabilities[index]
        if not _at(opened, move.new_address, move.new_postcode):
            wrong.append("new address")
        if _day(opened.get("From", "")) != move.move_in_date:
            wrong.append("move-in date")
        ended = [li for li in liabilities if _day(li.get("To", "")) == move.move_out_date]
        if not ended:
            wrong.append("move-out date")
        if not any(_note_pattern(clerk_ref).search(line) for line in account.notes().splitlines()):
            wrong.append("note (Clerk ref)")
        return wrong


def _at(liability: dict[str, str], address: str, postcode: str) -> bool:
    return (postcode_key(liability.get("Postcode", "")) == postcode_key(postcode)
            and same_address(address, liability.get("Address", "")))


def _note_pattern(clerk_ref: str) -> re.Pattern[str]:
    """The note token, ending at a space or the end of the line (CLK-1 is not CLK-12)."""
    return re.compile(re.escape(CLERK_NOTE.format(clerk_ref)) + r"(?=$|\s)")


def _moved_reference(account: AccountScreen, line: str, clerk_ref: str) -> str:
    """``<account>/<liability>`` of the move a note line records."""
    moved = _MOVED.search(line)
    if moved:
        for liability in account.liabilities():
            if liability.get("Property") == moved["property"] and liability.get("From") == moved["day"]:
                return f"{account.account_number}/{liability['Liability']}"
    raise RecordNotVerified(f"Revenues account {account.account_number} carries {clerk_ref} but not the move it records")


def _refused(code: str, move: CouncilTaxMove) -> BusinessError:
    sentence = _SAID[code].format(account=move.account_number, postcode=move.new_postcode,
                                  old_postcode=move.old_postcode)
    return BusinessError(REFUSED, code=code, reasons=[sentence])


def _refusal(messages: list[str], move: CouncilTaxMove) -> ClerkError:
    """Revenues' refusal of a save as a business error with a code (the first rule it names), or, for a
    sentence Clerk does not know, ApplicationRejected (the form and the bot disagree: a supervisor looks)."""
    for phrase, code, quotable in _REFUSALS:
        said = [message for message in messages if phrase in message]
        if said:
            if not quotable:
                return _refused(code, move)
            reasons = [message for message in messages if any(p in message for p, _, q in _REFUSALS if q)]
            return BusinessError(REFUSED, code=code, reasons=reasons)
    return ApplicationRejected(f"Revenues refused the change of address for account {move.account_number} "
                               f"({len(messages)} message(s) Clerk does not know)")


def open_session(runtime: BrowserRuntime, settings, password: str) -> RevenuesBot:
    """A Revenues session for Clerk's processes (``APPLICATION.session``): ``settings`` are
    ``applications.revenues`` (:class:`bots.revenues.application.RevenuesSettings`)."""
    return RevenuesBot(runtime, RevenuesBotSettings(url=settings.url, username=settings.username, password=password,
                                                    busy_retries=settings.busy_retries))
