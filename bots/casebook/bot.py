"""The Casebook bot: keys a Blue Badge application into Casebook, idempotently, and reads it back.

One browser context per bot, kept across calls, with two pages (tabs) sharing its login: the keying
page, where every operation runs, and a look-up page, where ``key_application`` runs its two searches
while the keying page waits for the wizard's postcode lookup (Casebook keeps the wizard's draft and
the last search apart in the session, so the two tabs do not disturb each other). "Save case" is
pressed only after both searches have been read to the end and found nothing. The bot logs in when it first needs to and again
when Casebook says the session expired, in either tab (once per operation). Every public method
translates what went wrong into ``connectors.errors`` and quotes only the Clerk reference or the case
reference: never the password, never the applicant's details.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal, TypeVar

import structlog
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Response

from bots.casebook.pages.case_view import CaseViewPage
from bots.casebook.pages.common import (
    CaseMissing,
    Loading,
    Patience,
    SessionExpired,
)
from bots.casebook.pages.login import LoginPage
from bots.casebook.pages.new_case import ConfirmationPage
from bots.casebook.pages.search import SearchResultsPage
from bots.casebook.pages.shell import ShellPage
from bots.runtime import BrowserRuntime
from bots.session import BotSession
from connectors.documents.blue_badge import DATE_FORMAT, BlueBadgeApplication
from connectors.errors import (
    ClerkError,
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
    differences: tuple[str, ...] = ()
    """For "existing_application": the fields (names, never values) where the form differs from the case
    Casebook holds, so that a person decides whether it is a resend or a change."""

    @property
    def record_reference(self) -> str:
        """The record in the application (:class:`bots.transaction.Keyed`'s name for it)."""
        return self.case_reference


# The fields a resent form is compared on with the case Casebook already holds.
_COMPARED = ("ni_number", "address_line_1", "postcode", "phone", "email", "eligibility", "badge_type")


@dataclass
class _SaveState:
    """Whether "Save case" was pressed in this operation: a retry must look before keying again."""

    save_pressed: bool = False


class _AlreadyInCasebook(Exception):
    """A look-up found the application while the wizard was part-keyed: abandon the wizard."""

    def __init__(self, result: KeyingResult) -> None:
        super().__init__(result.outcome)
        self.result = result


class CasebookBot(BotSession):
    title = "Casebook"
    busy_words = "System busy"

    def __init__(self, runtime: BrowserRuntime, settings: CasebookBotSettings) -> None:
        super().__init__(runtime, settings.busy_retries)
        self._runtime = runtime
        self.settings = settings
        self._page: Page | None = None  # the keying page: every operation, and the wizard
        self._shell: ShellPage | None = None
        self._lookup_page: Page | None = None  # key_application's searches, in the same context
        self._lookup_shell: ShellPage | None = None
        self._active: Page | None = None  # the page the current step acts on (for failure screenshots)
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

        The two searches run in the look-up page while the keying page is on step 2 (waiting for
        Casebook's postcode lookup); steps 1-3 only fill a draft in the session, so a search that finds
        something abandons the wizard unsaved. "Save case" is pressed only once both searches have
        been read to the end and found nothing. A restart after "Save case" was pressed looks up in
        order, in the keying page, before opening the wizard again.
        """
        state = _SaveState()

        def work(shell: ShellPage) -> KeyingResult:
            if state.save_pressed:  # did the save go through? Look before anything else, in order
                return self._key_in_order(shell, application, clerk_ref, state)
            lookups = _OverlappedLookups(self, self._lookup_tab(), application, clerk_ref)
            try:
                reference, confirmation = self._create_case(shell, application, clerk_ref, state, lookups)
            except _AlreadyInCasebook as found:
                log.info("casebook.wizard_abandoned", clerk_ref=clerk_ref, outcome=found.result.outcome)
                with self._acting_on(self._lookup_page):  # read the held case beside the abandoned wizard
                    return self._compared(self._lookup_tab(), found.result, application)
            finally:
                lookups.abandon()  # a wait still pending (after a failure) is cancelled
            return self._read_back(shell, reference, confirmation, application, clerk_ref)

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

    key = key_application
    """The operation every keying process calls (:mod:`bots.transaction`): look up first, then key."""

    def close(self) -> None:
        page, self._page, self._shell = self._page, None, None
        self._lookup_page = self._lookup_shell = self._active = None  # closed with the context
        if page is not None:
            try:
                self._runtime.close_context(page.context, "casebook")
            except PlaywrightError:
                pass  # the browser is already gone

    # --- the boundary -----------------------------------------------------------------------------

    def _run(self, operation: str, reference: str, work: Callable[[ShellPage], T]) -> T:
        """Run ``work`` on a logged-in shell, through the session boundary every bot shares
        (:meth:`bots.session.BotSession.run`): started again from the top (it looks before it keys) after
        an expired session or a busy answer to a form; on any failure a masked screenshot, the page
        reset, an error quoting only references."""
        return self.run(operation, reference, lambda: work(self._shell_now))

    def ensure_session(self) -> None:
        self._shell_now = self._logged_in()

    def forget_login(self) -> None:
        self._shell = self._lookup_shell = None

    def failed(self, operation: str) -> Path | None:
        return self._failed(operation)

    def translate(self, exc: Exception, context: str) -> ClerkError | None:
        if isinstance(exc, CaseMissing):
            return RecordNotVerified(f"Casebook has no such case while {exc.what} ({context})")
        return super().translate(exc, context)

    def _logged_in(self) -> ShellPage:
        """The shell, logging in first if needed (a new page, a reset, or an expired session)."""
        if self._page is None or self._page.is_closed():
            self._page = self._runtime.new_page()
            self._watch(self._page)
            self._shell = None
            self._lookup_page = None  # it belonged to the old context
        self._active = self._page
        if self._shell is None:
            self._lookup_shell = None
            # Stop whatever the look-up page was loading: an answer to the old session must not
            # arrive (and clear the cookie) after the new login.
            self._blank_lookup_page()
            screen = LoginPage(self._page, self.patience).open(self.settings.url)
            if isinstance(screen, LoginPage):
                screen = screen.log_in(self.settings.username, self.settings.password)
                self.logins += 1
                log.info("casebook.logged_in", user=self.settings.username)
            self._shell = screen
        return self._shell

    def _lookup_tab(self) -> ShellPage:
        """The shell in the look-up page: a second page of the keying page's context, so logged in
        with it. Call after :meth:`_logged_in`. SessionExpired when it shows the login page."""
        assert self._page is not None
        if self._lookup_page is None or self._lookup_page.is_closed():
            self._lookup_page = self._page.context.new_page()
            self._watch(self._lookup_page)
            self._lookup_shell = None
        if self._lookup_shell is None:
            with self._acting_on(self._lookup_page):
                screen = LoginPage(self._lookup_page, self.patience).open(self.settings.url)
                if isinstance(screen, LoginPage):
                    raise SessionExpired("opening the look-up page")
            self._lookup_shell = screen
        return self._lookup_shell

    def _watch(self, page: Page) -> None:
        ShellPage.handle_message_of_the_day(page, self._count_popup)
        page.on("response", self._count_busy)

    @contextmanager
    def _acting_on(self, page: Page) -> Iterator[None]:
        """Steps in ``page``, brought to the front for them, then the keying page again.

        Chromium draws no frames for a tab behind another in its window, so clicks there wait a
        second or two to see the element stable; a page that is only loading needs no frames. A
        failure is screenshotted in ``page`` (``_active`` stays set when a step raises).
        """
        self._active = page
        page.bring_to_front()
        try:
            yield
            self._active = self._page
        finally:
            if self._page is not None and not self._page.is_closed():
                self._page.bring_to_front()

    def _blank_lookup_page(self) -> None:
        page = self._lookup_page
        if page is None or page.is_closed():
            return
        try:
            page.goto("about:blank")
        except PlaywrightError:
            self._lookup_page = None
            try:
                page.close()
            except PlaywrightError:
                pass  # already gone

    def _count_popup(self) -> None:
        self.popups_dismissed += 1

    def _count_busy(self, response: Response) -> None:
        if response.status == 503:
            self.busy_answers += 1

    def _failed(self, operation: str) -> Path | None:
        """Keep a masked screenshot of the page that failed (returned), then leave both pages in a known
        state: blank, to log in afresh."""
        self._shell = self._lookup_shell = None
        page, failed = self._page, self._active
        if page is None:
            return None
        screenshot = self._runtime.screenshot_on_failure(failed if failed is not None else page,
                                                         f"casebook-{operation}")
        self._blank_lookup_page()
        try:
            page.goto("about:blank")
        except PlaywrightError:
            self.close()  # the page is unusable: the next call opens a new one
        return screenshot

    # --- the work, on a logged-in shell -----------------------------------------------------------

    def _key_in_order(
        self, shell: ShellPage, application: BlueBadgeApplication, clerk_ref: str, state: _SaveState
    ) -> KeyingResult:
        """key_application one step after another, in the keying page only."""
        keyed = self._find_clerk_ref(shell, clerk_ref)
        if keyed:
            return KeyingResult(keyed, "already_keyed")
        existing = self._find_applicant(shell, application.surname, application.date_of_birth)
        if existing:
            return self._compared(shell, KeyingResult(existing[0], "existing_application"), application)
        reference, confirmation = self._create_case(shell, application, clerk_ref, state)
        return self._read_back(shell, reference, confirmation, application, clerk_ref)

    def _read_back(
        self,
        shell: ShellPage,
        reference: str,
        confirmation: ConfirmationPage | None,
        application: BlueBadgeApplication,
        clerk_ref: str,
    ) -> KeyingResult:
        if confirmation is not None:
            record = _record(confirmation.open_case(reference), reference)
        else:
            record = self._read_case(shell, reference)
        _verify(record, application, clerk_ref)
        return KeyingResult(reference, "created")

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
        return _references(shell.open_search().by_applicant(surname, _date_text(date_of_birth)))

    def _compared(self, shell: ShellPage, result: KeyingResult, application: BlueBadgeApplication) -> KeyingResult:
        """An existing application, with the fields where the form differs from the case Casebook holds."""
        if result.outcome != "existing_application":
            return result
        record = self._read_case(shell, result.case_reference)
        keyed = _keyed_values(application, "")
        differs = tuple(name for name in _COMPARED
                        if _squash(getattr(record, name)).casefold() != _squash(keyed[name]).casefold())
        return KeyingResult(result.case_reference, result.outcome, differs)

    def _read_case(self, shell: ShellPage, case_reference: str) -> CaseRecord:
        view = shell.open_search().by_reference(case_reference).open_case(case_reference)
        return _record(view, case_reference)

    def _create_case(
        self,
        shell: ShellPage,
        application: BlueBadgeApplication,
        clerk_ref: str,
        state: _SaveState,
        lookups: _Lookups | None = None,
    ) -> tuple[str, ConfirmationPage | None]:
        """Key the wizard and save. ``lookups`` run between its steps (and may abandon it by raising
        _AlreadyInCasebook); "Save case" is pressed only once they are ``cleared``."""
        if state.save_pressed:  # this is a retry after "Save case": did the save go through?
            saved = self._find_clerk_ref(shell, clerk_ref)
            if saved:
                return saved, None
        lookups = lookups or _Lookups()
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
            meanwhile=lookups.postcode_pending,
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
        lookups.before_save()
        if not lookups.cleared:  # never reached: before_save raises or clears; kept as the guard
            raise RuntimeError(f"Casebook look-ups not finished before saving (Clerk ref {clerk_ref})")
        state.save_pressed = True
        confirmation = review.save()
        reference = confirmation.case_reference()
        log.info("casebook.case_created", clerk_ref=clerk_ref, case_reference=reference)
        return reference, confirmation


class _Lookups:
    """What runs between the wizard's steps. This one: nothing (the caller looked up beforehand)."""

    cleared = True  # both look-ups have completed and found nothing

    def postcode_pending(self) -> None:
        """Step 2: Casebook is looking the postcode up."""

    def before_save(self) -> None:
        """The review is showing; "Save case" is next. Raise _AlreadyInCasebook to abandon the wizard."""

    def abandon(self) -> None:
        """Stop waiting for anything still loading."""


class _OverlappedLookups(_Lookups):
    """key_application's two searches, in the look-up page, while the keying page fills the wizard.

    Casebook's postcode lookup is the one wait in which the browser and the bot are both idle, so the
    searches run there: the Notes search to its last page (and each candidate's note), then the
    applicant search is sent; its results load while steps 2 and 3 are finished, and are read to
    their last page on the review step. The two run one after the other because Casebook keeps a
    session's last search for its results pages. A search that finds the application raises
    _AlreadyInCasebook (the wizard is abandoned unsaved); ``cleared`` is set only when both have
    been read and found nothing.
    """

    def __init__(self, bot: CasebookBot, tab: ShellPage, application: BlueBadgeApplication, clerk_ref: str) -> None:
        self._bot = bot
        self._tab = tab
        self._clerk_ref = clerk_ref
        self._surname = _text(application.surname)
        self._date_of_birth = _date_text(application.date_of_birth)
        self._applicants: Loading[SearchResultsPage] | None = None
        self.cleared = False

    def postcode_pending(self) -> None:
        with self._bot._acting_on(self._tab.page):
            keyed = self._bot._find_clerk_ref(self._tab, self._clerk_ref)
            if keyed:
                raise _AlreadyInCasebook(KeyingResult(keyed, "already_keyed"))
            search = self._tab.open_search()
            self._applicants = search.begin_by_applicant(self._surname, self._date_of_birth)

    def before_save(self) -> None:
        applicants, self._applicants = self._applicants, None
        if applicants is None:  # never: postcode_pending sent it (or raised)
            raise RuntimeError(f"Casebook applicant search not sent before saving (Clerk ref {self._clerk_ref})")
        with self._bot._acting_on(self._tab.page):
            existing = _references(applicants.wait())
        if existing:
            raise _AlreadyInCasebook(KeyingResult(existing[0], "existing_application"))
        self.cleared = True

    def abandon(self) -> None:
        applicants, self._applicants = self._applicants, None
        if applicants is not None:
            applicants.abandon()


# --- helpers -----------------------------------------------------------------------------------------


def _references(results: SearchResultsPage) -> list[str]:
    """Every reference in the results, all pages, oldest first."""
    return sorted(results.all_references(), key=_reference_order)


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


def open_session(runtime: BrowserRuntime, settings, password: str) -> CasebookBot:
    """A Casebook session for Clerk's processes (``APPLICATION.session``): ``settings`` are
    ``applications.casebook`` (:class:`bots.casebook.application.CasebookSettings`)."""
    return CasebookBot(runtime, CasebookBotSettings(url=settings.url, username=settings.username, password=password,
                                                    postcode_lookup_timeout_ms=settings.postcode_lookup_timeout_ms))
