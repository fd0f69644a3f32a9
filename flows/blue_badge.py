"""Blue Badge applications: read the form, key it into Casebook, tell the sender (runbooks/blue-badge.md).

Declared in config/processes/blue_badge.yaml (form, application, routing, replies); the steps are the ones
every keying process shares (flows/process.py). What is Blue Badge's own:
  * one applicant (surname and date of birth) is keyed one at a time, in one lane, by every worker, so a
    resend is keyed after its original and Casebook's own look-up finds it;
  * a valid form a person should confirm first: anything every form can raise (a box that could not be
    read, text mixing alphabets, values read by OCR), and an applicant aged 100 or more.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from prefect import flow

from connectors.documents.blue_badge import BlueBadgeApplication
from flows.process import Process, form_review, run_name, run_process
from flows.steps import ItemResult

if TYPE_CHECKING:
    from connectors.documents.attachments import FormRead

OLDEST_WITHOUT_REVIEW = 100


def applicant_key(application: BlueBadgeApplication) -> str:
    return f"{application.surname.lower()}|{application.date_of_birth.isoformat()}"


def review_reasons(application: BlueBadgeApplication, form: FormRead) -> list[str]:
    """Warnings rather than errors: the form is valid, but a person should confirm before it is keyed.
    Field names and rules only, never values."""
    reasons = form_review(application, form)
    today = date.today()
    age = today.year - application.date_of_birth.year - (
        (today.month, today.day) < (application.date_of_birth.month, application.date_of_birth.day))
    if age >= OLDEST_WITHOUT_REVIEW:
        reasons.append(f"date_of_birth: the applicant would be {OLDEST_WITHOUT_REVIEW} or older; "
                       "confirm the date of birth was read correctly")
    return reasons


BLUE_BADGE = Process(name="blue_badge", subject=applicant_key, review=review_reasons)


@flow(name="blue-badge", flow_run_name=run_name("blue-badge"))
def blue_badge(email_ids: list[str]) -> list[ItemResult]:
    """Key claimed Blue Badge emails (ids in the processing folder) into Casebook."""
    return run_process(BLUE_BADGE, email_ids)
