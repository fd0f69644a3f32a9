"""The Casebook bot: keys a Blue Badge application into Casebook, idempotently, and reads it back.

One page (one browser context) per bot, kept across calls; it logs in when it first needs to and
again when Casebook says the session expired (once per operation). Every public method translates
what went wrong into ``connectors.errors`` and quotes only the Clerk reference or the case
reference: never the password, never the applicant's details.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, TypeVar

import structlog
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Response
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots.casebook.pages.case_view import CaseViewPage
from bots.casebook.pages.common import (
    CaseMissing,
    LoginRefused,
    Patience,
    SessionExpired,
    SystemBusy,
    Unreachable,
    ValidationShown,
)
from bots.casebook.pages.login import LoginPage
from bots.casebook.pages.new_case import ConfirmationPage, UnexpectedDialog
from bots.casebook.pages.shell import ShellPage
from bots.runtime import BrowserRuntime
from connectors.documents.blue_badge import DATE_FORMAT, BlueBadgeApplication
from connectors.errors import (
    ApplicationRejected,
    ApplicationUnavailable,
    ClerkError,
    ConfigError,
    RecordNotVerified,
)

log = structlog.get_logger(__name__)

T = TypeVar("T")

CLERK_NOTE = "Clerk ref: {}"

# Case view label -> CaseRecord field.
_RECORD_LABELS = {
    "Case reference": "case_reference",
    "Title": "title",
    "First name(s)": "first_names",
    "Surname": "surname",
    "Date of birth": "date_of_birth",
    "National Insurance number": "ni_number",
    "Address line 1": "address_line_1",
    "Address line 2": "address_line_2",
    "Town": "town",
    "Postcode": "postcode",
    "Contact phone number": "phone",
    "Contact email address": "email",
    "Reason for applying": "eligibility",
    "Badge type": "badge_type",
    "Existing badge number": "existing_badge_number",
    "Notes": "notes",
    "Status": "status",
}


@dataclass
class CasebookBotSettings:
    url: str
    username: str
    password: str = field(repr=False)
    postcode_lookup_timeout_ms: int = 10_000
    # "System busy": presses of "Try again" per screen, and restarts of an operation whose form
    # submission was answered busy. Beyond that, ApplicationUnavailable (the caller's retry).
    busy_retries: int = 2


@dataclass(frozen=True)
class CaseRecord:
    case_reference: str
    title: str
    first_names: str
    surname: str
    date_of_birth: str  # DD/MM/YYYY
    ni_number: str
    address_line_1: str
    address_line_2: str
    town: str
    postcode: str
    phone: str
    email: str
    eligibility: str
    badge_type: str
    existing_badge_number: str
    notes: str
    status: str


@dataclass(frozen=True)
class KeyingResult:
    case_reference: str
    outcome: Literal["created", "already_keyed", "existing_application"]


@dataclass
class _SaveState:
    """Whether "Save case" was pressed in this operation: a retry must look before keying again."""

    save_pressed: bool = False


class CasebookBot:
    def __init__(self, runtime: BrowserRuntime, settings: CasebookBotSettings) -> None:
        self._runtime = runtime
        self.settings = settings
        self._page: Page | None = None
        self._shell: ShellPage | None = None
        self.logins = 0  # how many times the bot has logged in (diagnostics, tests)
        self.popups_dismissed = 0  # how many "Message of the day" popups it has closed
        self.busy_answers = 0  # how many "System busy" (503) answers Casebook has given it

    @property
    def page(self) -> Page | None:
        """The bot's page, once it has opened one (for diagnostics and tests)."""
        return self._page

    @property
    def patience(self) -> Patience:
        browser = self._runtime.settings
        return Patience(
            action_ms=browser.action_timeout_ms,
            navigation_ms=browser.navigation_timeout_ms,
            postcode_lookup_ms=self.settings.postcode_lookup_timeout_ms,
            busy_retries=self.settings.busy_retries,
        )

    # --- public operations ----------------------------------------------------------------------

    def find_by_clerk_reference(self, clerk_ref: str) -> str | None:
        """The case whose Notes carry "Clerk ref: <clerk_ref>" (the oldest, if several), or None."""
        return self._run("find_by_clerk_reference", clerk_ref, lambda shell: self._find_clerk_ref(shell, clerk_ref))

    def find_by_applicant(self, surname: str, date_of_birth: date) -> list[str]:
        """References of every case for this surname and date of birth, oldest first, all pages."""
        return self._run(
            "find_by_applicant", "applicant search", lambda shell: self._find_applicant(shell, surname, date_of_birth)
        )

    def read_case(self, case_reference: str) -> CaseRecord:
        return self._run("read_case", case_reference, lambda shell: self._read_case(shell, case_reference))

    def create_case(self, application: BlueBadgeApplication, clerk_ref: str) -> str:
        """Key the four steps with Notes "Clerk ref: <clerk_ref>", accept the confirm, return the reference.

        Not idempotent on its own (``key_application`` is); but a retry after an expiry that follows
        "Save case" looks the Clerk reference up before keying again.
        """
        state = _SaveState()
        return self._run(
            "create_case", clerk_ref, lambda shell: self._create_case(shell, application, clerk_ref, state)[0]
        )

    def key_application(self, application: BlueBadgeApplication, clerk_ref: str) -> KeyingResult:
        """Look up first, then key: safe to call again after any failure (it never keys twice).

        1. a case already carries the Clerk reference -> "already_keyed";
        2. Casebook already holds this applicant (surname and date of birth) -> "existing_application"
           with the oldest such case;
        3. otherwise create the case, read it back, compare the key fields -> "created"
           (RecordNotVerified when they differ).
        """
        state = _SaveState()

        def work(shell: ShellPage) -> KeyingResult:
            keyed = self._find_clerk_ref(shell, clerk_ref)
            if keyed:
                return KeyingResult(keyed, "already_keyed")
            existing = self._find_applicant(shell, application.surname, application.date_of_birth)
            if existing:
                return KeyingResult(existing[0], "existing_application")
            reference, confirmation = self._create_case(shell, application, clerk_ref, state)
            if confirmation is not None:
                record = _record(confirmation.open_case(reference), reference)
            else:
                record = self._read_case(shell, reference)
            _verify(record, application, clerk_ref)
            return KeyingResult(reference, "created")

        started = time.monotonic()
        result = self._run("key_application", clerk_ref, work)
        log.info(
            "casebook.keyed",
            clerk_ref=clerk_ref,
            case_reference=result.case_reference,
            outcome=result.outcome,
            seconds=round(time.monotonic() - started, 2),
        )
        return result

    def close(self) -> None:
        page, self._page, self._shell = self._page, None, None
        if page is not None:
            try:
                page.context.close()
            except PlaywrightError:
                pass  # the browser is already gone

    # --- the boundary -----------------------------------------------------------------------------

    def _run(self, operation: str, reference: str, work: Callable[[ShellPage], T]) -> T:
        """Run ``work`` on a logged-in shell, translating every failure into ``connectors.errors``.

        ``work`` is started again from the top (it looks before it keys) when the session expired
        (once: logging in again) or a form submission was answered "System busy" (``busy_retries``
        times). On any failure: a masked screenshot, the page reset, an error quoting only references.
        """
        expiries = busy = 0
        try:
            while True:
                try:
                    return work(self._logged_in())
                except SessionExpired as exc:
                    expiries += 1
                    if expiries > 1:
                        raise
                    log.info("casebook.session_expired", operation=operation, reference=reference, during=exc.what)
                    self._shell = None
                except SystemBusy as exc:
                    busy += 1
                    if busy > self.settings.busy_retries:
                        raise
                    log.info("casebook.busy_restart", operation=operation, reference=reference, during=exc.what)
        except Exception as exc:
            self._failed(operation)
            translated = _translate(exc, f"{operation}, {reference}")
            if translated is None:
                raise  # already a ClerkError (RecordNotVerified), or a bug: unchanged
            raise translated from exc

    def _logged_in(self) -> ShellPage:
        """The shell, logging in first if needed (a new page, a reset, or an expired session)."""
        if self._page is None or self._page.is_closed():
            self._page = self._runtime.new_page()
            ShellPage.handle_message_of_the_day(self._page, self._count_popup)
            self._page.on("response", self._count_busy)
            self._shell = None
        if self._shell is None:
            screen = LoginPage(self._page, self.patience).open(self.settings.url)
            if isinstance(screen, LoginPage):
                screen = screen.log_in(self.settings.username, self.settings.password)
                self.logins += 1
                log.info("casebook.logged_in", user=self.settings.username)
            self._shell = screen
        return self._shell

    def _count_popup(self) -> None:
        self.popups_dismissed += 1

    def _count_busy(self, response: Response) -> None:
        if response.status == 503:
            self.busy_answers += 1

    def _failed(self, operation: str) -> None:
        """Keep a masked screenshot, then leave the page in a known state: blank, to log in afresh."""
        self._shell = None
        page = self._page
        if page is None:
            return
        self._runtime.screenshot_on_failure(page, f"casebook-{operation}")
        try:
            page.goto("about:blank")
        except PlaywrightError:
            self.close()  # the page is unusable: the next call opens a new one

    # --- the work, on a logged-in shell -----------------------------------------------------------

    def _find_clerk_ref(self, shell: ShellPage, clerk_ref: str) -> str | None:
        note = CLERK_NOTE.format(clerk_ref)
        candidates = shell.open_search().by_notes(note).all_references()
        # "Notes contain" also matches longer references (CLK-1 is inside CLK-12): check each note.
        exact = _note_pattern(clerk_ref)
        for reference in sorted(candidates, key=_reference_order):
            if exact.search(self._read_case(shell, reference).notes):
                return reference
        return None

    def _find_applicant(self, shell: ShellPage, surname: str, date_of_birth: date | str) -> list[str]:
        results = shell.open_search().by_applicant(surname, _date_text(date_of_birth))
        return sorted(results.all_references(), key=_reference_order)

    def _read_case(self, shell: ShellPage, case_reference: str) -> CaseRecord:
        view = shell.open_search().by_reference(case_reference).open_case(case_reference)
        return _record(view, case_reference)

    def _create_case(
        self, shell: ShellPage, application: BlueBadgeApplication, clerk_ref: str, state: _SaveState
    ) -> tuple[str, ConfirmationPage | None]:
        if state.save_pressed:  # this is a retry after "Save case": did the save go through?
            saved = self._find_clerk_ref(shell, clerk_ref)
            if saved:
                return saved, None
        values = _keyed_values(application, clerk_ref)
        applicant = shell.open_new_case()
        applicant.enter(
            title=values["title"],
            first_names=values["first_names"],
            surname=values["surname"],
            date_of_birth=values["date_of_birth"],
            ni_number=values["ni_number"],
        )
        address = applicant.next()
        address.enter(
            postcode=values["postcode"],
            address_line_1=values["address_line_1"],
            address_line_2=values["address_line_2"],
            town=values["town"],
        )
        eligibility = address.next()
        eligibility.enter(
            eligibility=values["eligibility"],
            badge_type=values["badge_type"],
            existing_badge_number=values["existing_badge_number"],
            phone=values["phone"],
            email=values["email"],
            notes=values["notes"],
        )
        review = eligibility.next()
        state.save_pressed = True
        confirmation = review.save()
        reference = confirmation.case_reference()
        log.info("casebook.case_created", clerk_ref=clerk_ref, case_reference=reference)
        return reference, confirmation


# --- helpers -----------------------------------------------------------------------------------------


def _text(value: object) -> str:
    """Enum members by value, None as blank: the application may come from model_construct."""
    value = getattr(value, "value", value)
    return "" if value is None else str(value).strip()


def _date_text(value: date | str) -> str:
    return value.strftime(DATE_FORMAT) if isinstance(value, date) else str(value).strip()


def _keyed_values(application: BlueBadgeApplication, clerk_ref: str) -> dict[str, str]:
    return {
        "title": _text(application.title),
        "first_names": _text(application.first_names),
        "surname": _text(application.surname),
        "date_of_birth": _date_text(application.date_of_birth),
        "ni_number": _text(application.ni_number),
        "address_line_1": _text(application.address_line_1),
        "address_line_2": _text(application.address_line_2),
        "town": _text(application.town),
        "postcode": _text(application.postcode),
        "phone": _text(application.phone),
        "email": _text(application.email),
        "eligibility": _text(application.eligibility),
        "badge_type": _text(application.badge_type) or "New",
        "existing_badge_number": _text(application.existing_badge_number),
        "notes": CLERK_NOTE.format(clerk_ref),
    }


def _note_pattern(clerk_ref: str) -> re.Pattern[str]:
    """The note token, ending at a space, the end, or punctuation that ends a sentence."""
    return re.compile(re.escape(CLERK_NOTE.format(clerk_ref)) + r"(?=$|\s|[.,;)](?:\s|$))")


def _reference_order(reference: str) -> tuple[int, int, str]:
    match = re.fullmatch(r"BB-(\d{4})-(\d+)", reference)
    return (int(match.group(1)), int(match.group(2)), "") if match else (9999, 0, reference)


def _record(view: CaseViewPage, case_reference: str) -> CaseRecord:
    shown = view.fields()
    missing = [label for label in _RECORD_LABELS if label not in shown]
    if missing:
        raise RecordNotVerified(f"Casebook's case view for {case_reference} lacks: {', '.join(missing)}")
    record = CaseRecord(**{name: shown[label] for label, name in _RECORD_LABELS.items()})
    if record.case_reference != case_reference:
        raise RecordNotVerified(f"Asked Casebook for case {case_reference}, it showed {record.case_reference}")
    return record


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def _verify(record: CaseRecord, application: BlueBadgeApplication, clerk_ref: str) -> None:
    """RecordNotVerified, naming the fields (never their values), when the key fields differ."""
    keyed = _keyed_values(application, clerk_ref)
    differs = [
        label
        for label, stored, expected in (
            ("Surname", record.surname.casefold(), keyed["surname"].casefold()),
            ("Date of birth", record.date_of_birth, keyed["date_of_birth"]),
            ("National Insurance number", _squash(record.ni_number), _squash(keyed["ni_number"])),
            ("Postcode", _squash(record.postcode), _squash(keyed["postcode"])),
        )
        if stored != expected
    ]
    if not _note_pattern(clerk_ref).search(record.notes):
        differs.append("Notes (Clerk ref)")
    if differs:
        raise RecordNotVerified(
            f"Casebook case {record.case_reference} (Clerk ref {clerk_ref}) does not match what was keyed: "
            f"{', '.join(differs)}"
        )


def _translate(exc: Exception, context: str) -> ClerkError | None:
    """The connectors.errors error for what went wrong; ``context`` names the operation and reference."""
    if isinstance(exc, SessionExpired):
        return ApplicationUnavailable(f"Casebook's session expired again straight after logging in ({context})")
    if isinstance(exc, SystemBusy):
        return ApplicationUnavailable(f"Casebook kept answering 'System busy', last while {exc.what} ({context})")
    if isinstance(exc, Unreachable):
        return ApplicationUnavailable(f"Casebook could not be reached while {exc.what} ({context})")
    if isinstance(exc, ValidationShown):
        return ApplicationRejected(f"Casebook refused {exc.what} ({context}): {' '.join(exc.messages)}")
    if isinstance(exc, UnexpectedDialog):
        return ApplicationRejected(f"Casebook did not save: {exc.what} ({context})")
    if isinstance(exc, CaseMissing):
        return RecordNotVerified(f"Casebook has no such case while {exc.what} ({context})")
    if isinstance(exc, LoginRefused):
        return ConfigError(
            f"Casebook refused the bot's user name or password ({context}). "
            "Check the Casebook account in Clerk's settings."
        )
    if isinstance(exc, PlaywrightTimeoutError):  # before PlaywrightError: it is a subclass
        return ApplicationUnavailable(f"Casebook did not answer in time ({context}): {_first_line(exc)}")
    if isinstance(exc, PlaywrightError):
        return ApplicationUnavailable(f"The browser failed talking to Casebook ({context}): {_first_line(exc)}")
    return None


def _first_line(exc: BaseException) -> str:
    text = (getattr(exc, "message", None) or str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__
