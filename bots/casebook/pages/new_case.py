"""New Blue Badge case: the four steps (Applicant, Address, Eligibility and contact, Review) and the
confirmation. Fields are found by their labels; Casebook's control ids change on every load."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from playwright.sync_api import Dialog, Locator
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots.casebook.pages.case_view import CaseViewPage
from bots.casebook.pages.common import (
    BUSY_TEXT,
    EXPIRED_TEXT,
    Screen,
    SessionExpired,
    SystemBusy,
    ValidationShown,
)
from bots.session import Refused

SAVE_QUESTION = "Save this Blue Badge case?"
CASE_REFERENCE = re.compile(r"\bBB-\d{4}-\d{6}\b")
_LOOKUP_DONE = re.compile(rf"Address found|not recognised|{BUSY_TEXT}|{EXPIRED_TEXT}", re.IGNORECASE)


S = TypeVar("S", bound="_Step")


class UnexpectedDialog(Refused):
    """A JavaScript dialog other than the save confirmation appeared (and was dismissed)."""


class _Step(Screen):
    number = 0
    title = ""

    @property
    def marker(self) -> Locator:
        return self.content.get_by_role("heading", name=f"Step {self.number} of 4: {self.title}", exact=True)

    def field(self, label: str) -> Locator:
        return self.content.get_by_label(label, exact=True)

    def choose(self, label: str, option: str) -> None:
        """Pick ``option`` by its text; ValidationShown when Casebook does not offer it (no waiting)."""
        select = self.field(label)
        offered = select.evaluate("(s, text) => Array.from(s.options).some(o => o.text.trim() === text)", option)
        if not offered:
            raise ValidationShown(f"keying step {self.number}", [f"{label}: Casebook does not offer the value keyed."])
        select.select_option(label=option)

    def _next(self, following: S) -> S:
        what = f"submitting step {self.number} ({self.title})"
        next_button = self.content.get_by_role("button", name="Next", exact=True)
        self.go(next_button.click, self.content, following.marker, what, form=True)
        return following


class ApplicantStep(_Step):
    number, title = 1, "Applicant"

    def enter(self, *, title: str, first_names: str, surname: str, date_of_birth: str, ni_number: str) -> None:
        self.choose("Title", title)
        self.field("First name(s)").fill(first_names)
        self.field("Surname").fill(surname)
        self.field("Date of birth").fill(date_of_birth)
        self.field("National Insurance number").fill(ni_number)

    def next(self) -> AddressStep:
        return self._next(AddressStep(self.page, self.patience))


class AddressStep(_Step):
    number, title = 2, "Address"

    def enter(
        self,
        *,
        postcode: str,
        address_line_1: str,
        address_line_2: str,
        town: str,
        meanwhile: Callable[[], object] | None = None,
    ) -> str:
        """Key the address, using "Find address" for the postcode as Casebook insists; return the town
        the lookup proposed. The lines are keyed while the (slow) lookup runs; the town after it, since
        the lookup overwrites it and the applicant's own town wins. ``meanwhile`` (work in another page)
        is called after the lines are keyed, before waiting for the lookup's answer."""
        self.field("Postcode").fill(postcode)
        self.content.get_by_role("button", name="Find address", exact=True).click()
        self.field("Address line 1").fill(address_line_1)
        self.field("Address line 2").fill(address_line_2)
        if meanwhile is not None:
            meanwhile()
        proposed = self._lookup_answer()
        self.field("Town").fill(town)
        return proposed

    def _lookup_answer(self) -> str:
        """Wait (however slow, up to the lookup timeout) for the lookup's verdict; the town it filled.
        A busy lookup changes nothing: press "Find address" again, up to ``busy_retries`` times."""
        answer = self.content.get_by_role("status").filter(has_text=_LOOKUP_DONE)
        for presses in range(self.patience.busy_retries + 1):
            answer.wait_for(state="visible", timeout=self.patience.postcode_lookup_ms)
            text = answer.inner_text()
            if BUSY_TEXT.lower() not in text.lower():
                break
            if presses == self.patience.busy_retries:
                raise SystemBusy("looking up the postcode")
            self.content.get_by_role("button", name="Find address", exact=True).click()
        if EXPIRED_TEXT.lower() in text.lower():
            raise SessionExpired("looking up the postcode")
        if "address found" not in text.lower():
            raise ValidationShown("looking up the postcode", [f"Postcode: {text.strip()}"])
        return self.field("Town").input_value()

    def next(self) -> EligibilityStep:
        return self._next(EligibilityStep(self.page, self.patience))


class EligibilityStep(_Step):
    number, title = 3, "Eligibility and contact"

    def enter(
        self, *, eligibility: str, badge_type: str, existing_badge_number: str, phone: str, email: str, notes: str
    ) -> None:
        self.choose("Reason for applying", eligibility)
        self.content.get_by_role("group", name="Badge type").get_by_label(badge_type, exact=True).check()
        self.field("Existing badge number").fill(existing_badge_number)
        self.field("Contact phone number").fill(phone)
        self.field("Contact email address").fill(email)
        self.field("Notes").fill(notes)

    def next(self) -> ReviewStep:
        return self._next(ReviewStep(self.page, self.patience))


class ReviewStep(_Step):
    number, title = 4, "Review"

    def save(self) -> ConfirmationPage:
        """Press "Save case" and accept Casebook's confirm() - only if it asks exactly SAVE_QUESTION."""
        unexpected: list[str] = []

        def answer(dialog: Dialog) -> None:
            if dialog.type == "confirm" and dialog.message == SAVE_QUESTION:
                dialog.accept()
            else:
                unexpected.append(dialog.type)
                dialog.dismiss()

        confirmation = ConfirmationPage(self.page, self.patience)
        what = "saving the case"
        save = self.content.get_by_role("button", name="Save case", exact=True)
        self.page.on("dialog", answer)
        try:
            self.go(save.click, self.content, confirmation.marker, what, form=True)
        except PlaywrightTimeoutError:
            if unexpected:  # we said no, so nothing happened: the wait for the next screen timed out
                raise UnexpectedDialog(f"saving the case (Casebook showed an unexpected {unexpected[0]})") from None
            raise
        finally:
            self.page.remove_listener("dialog", answer)
        return confirmation


class ConfirmationPage(Screen):
    @property
    def marker(self) -> Locator:
        return self.content.get_by_role("status").filter(has_text="has been created")

    def case_reference(self) -> str:
        """The reference in "Case BB-2026-000123 has been created."."""
        match = CASE_REFERENCE.search(self.marker.inner_text())
        if match is None:
            raise ValidationShown("reading the confirmation", ["Casebook's confirmation shows no case reference."])
        return match.group(0)

    def open_case(self, case_reference: str) -> CaseViewPage:
        view = CaseViewPage(self.page, self.patience)
        what = f"opening case {case_reference}"
        link = self.content.get_by_role("link", name=f"View case {case_reference}", exact=True)
        self.go(link.click, self.content, view.marker, what)
        return view
