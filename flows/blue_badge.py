"""Blue Badge applications: read the form, key it into Casebook, tell the sender.

Reads like runbooks/blue-badge.md. For each claimed email:
  1. read the application from the attached PDF form and validate it       (BusinessError -> reject)
  2. key it into Casebook: look the Clerk reference up, create only if absent, read it back
     (in ``casebook.lanes`` browser sessions at once; one applicant's emails always share a lane)
  3. reply with the case reference
  4. move the email to Done (or Exceptions, with a reply, if anything failed)
An item Clerk should not decide alone (a warning, values read by OCR) waits for a supervisor once the
rest of the batch is keyed (flows/review.py), then is keyed, keyed with corrections, or rejected.
"""

from __future__ import annotations

import base64
import contextvars
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from connectors.audit import AuditEvents
from connectors.documents.blue_badge import LABELS, BlueBadgeApplication
from connectors.errors import BusinessError, ClerkError, SystemError
from connectors.ledger import clerk_reference
from connectors.mail import Email, expand_attached_messages
from flows import replies
from flows.bootstrap import CaseSystem, Services, current_services
from flows.review import ReviewDecision, ask_supervisor

if TYPE_CHECKING:  # the readers (pypdf, python-docx) load in the parser processes and on first use
    from connectors.documents.attachments import FormRead

from flows.steps import ItemResult, finish, park, publish_review, retry_system_faults, send_reply

PROCESS = "blue_badge"
FORM = "blue_badge"
NEEDS_REVIEW = "needs_review"  # not an ending: the item waits for a supervisor after the rest of the batch


@task(name="read-form", cache_policy=NO_CACHE, retry_condition_fn=retry_system_faults)
def read_application(services: Services, email: Email, audit: AuditEvents) -> FormRead:
    """The one Blue Badge form attached to the email (PDF, printed PDF, scan or Word), read through the guard
    and validated; a forwarded email's attachments count too.

    Retried (``documents.read_retries``, with a growing pause) only for our own faults: a parser process
    that died or stalled on a busy machine, the mailbox not answering. A form refused for what it is, is an
    answer for the sender at once, never a retry and never a failed run.
    """
    attachments = expand_attached_messages(services.mailbox.attachments(email))
    forms = services.documents.read(attachments, FORM)
    if len(forms) > 1:
        raise BusinessError(
            "More than one application form was attached.",
            code="FORM_MULTIPLE",
            reasons=["Please send each Blue Badge application in its own email."],
        )
    [form] = forms
    audit("parse", "ok", method=form.extracted.method, pages=form.extracted.pages,
          attachment_count=len(attachments))
    return form


@task(name="key-into-casebook", cache_policy=NO_CACHE, retry_condition_fn=retry_system_faults)
def key_into_casebook(services: Services, casebook: CaseSystem, application: BlueBadgeApplication, reference: str,
                      audit: AuditEvents):
    """Look up, create if absent, read back: safe to retry after any failure. One applicant's emails are keyed
    one at a time by every worker sharing the ledger, so a resend never races its original."""
    with services.applicant_lock(applicant_key(application)):
        services.leases.update(reference, "keying")
        audit("key", "started")
        result = casebook.key_application(application, reference)
        audit("key", result.outcome, case_reference=result.case_reference)
    return result


@dataclass
class Item:
    """One claimed email on its way through the process."""

    email: Email
    reference: str
    audit: AuditEvents
    started: float
    application: BlueBadgeApplication | None = None
    fields: dict[str, object] | None = None
    """The values as read from the form (a supervisor's corrections apply to these)."""
    review: list[str] | None = None
    """Why a supervisor must decide before this item is keyed (field names and rules, no values)."""
    held: object | None = None
    """Casebook's answer when it already holds this applicant with different details (a KeyingResult)."""


def start_item(services: Services, email: Email) -> Item:
    reference = clerk_reference(email.message_id)
    audit = services.audit.bind(run=str(flow_run.id or "local"), reference=reference, process=PROCESS,
                                email_id=email.id)
    return Item(email, reference, audit, time.perf_counter())


def reject(services: Services, item: Item, error: BusinessError) -> ItemResult:
    get_run_logger().info("%s rejected: %s", item.reference, error.code)
    reply = replies.rejected(item.reference, error.message, error.reasons)
    return park(services, item.email, error, item.audit, reply, item.started, PROCESS)


def fail(services: Services, item: Item, error: ClerkError) -> ItemResult:
    get_run_logger().warning("%s parked in Exceptions: %s", item.reference, error.code)
    publish_screenshot(item.reference, error)
    return park(services, item.email, error, item.audit, replies.system_problem(item.reference), item.started, PROCESS)


def publish_screenshot(reference: str, error: ClerkError) -> None:
    """For a supervisor reviewing the run: the masked screenshot the bot took when it failed, as an artifact."""
    screenshot = getattr(error, "screenshot", None)
    if not screenshot or not Path(screenshot).is_file():
        return
    picture = base64.b64encode(Path(screenshot).read_bytes()).decode()
    create_markdown_artifact(
        key=f"failure-{reference.lower()}",
        markdown=f"### {reference}: {error.code}\n\nThe page when the bot failed (every field and table cell "
                 f"masked); file `{screenshot}`.\n\n![masked screenshot](data:image/png;base64,{picture})",
        description=f"{reference} failed in Casebook: {error.code}",
    )


def park_failure(services: Services, item: Item, error: Exception, doing: str) -> ItemResult:
    """End an item that failed in Exceptions: a business error is rejected, anything else waits for a supervisor."""
    if isinstance(error, BusinessError):
        return reject(services, item, error)
    if not isinstance(error, ClerkError):  # a bug must still end in Exceptions, never leave the email in processing
        error = SystemError(f"unexpected {type(error).__name__} {doing}", code="UNEXPECTED")
    return fail(services, item, error)


def key_and_reply(services: Services, casebook: CaseSystem, item: Item) -> ItemResult:
    """Key one read application, reply, and finish. Never raises for a business or system fault."""
    settings = services.settings.casebook
    keyer = key_into_casebook.with_options(retries=settings.retries, retry_delay_seconds=settings.retry_delay_s)
    try:
        result = keyer(services, casebook, item.application, item.reference, item.audit)
        differences = list(getattr(result, "differences", ()) or ())
        if result.outcome == "existing_application" and differences:  # a resend, or a change? A person decides
            item.held, item.review = result, [
                f"Casebook already holds case {result.case_reference} for this applicant, and the form differs "
                f"in: {', '.join(differences)}. Approve to leave the case as it is (the sender is told it is "
                "already held); reject to tell the sender what to do."]
            return ItemResult(item.email.id, item.reference, PROCESS, NEEDS_REVIEW, "exceptions",
                              case_reference=result.case_reference)
        return answer(services, item, result.outcome, result.case_reference)
    except Exception as exc:
        return park_failure(services, item, exc, "while keying")




def answer(services: Services, item: Item, outcome: str, case_reference: str) -> ItemResult:
    """Tell the sender how their form was keyed, and move the email to Done."""
    reply = replies.result(services.settings.processes[PROCESS], outcome, item.reference, case_reference)
    send_reply(services, item.email, reply, item.audit, kind=outcome)
    finish(services, item.email, "done", item.audit, outcome=outcome, case_reference=case_reference, process=PROCESS)
    get_run_logger().info("%s %s: case %s", item.reference, outcome.replace("_", " "), case_reference)
    return ItemResult(item.email.id, item.reference, PROCESS, outcome, "done", case_reference=case_reference,
                      seconds=time.perf_counter() - item.started)


OLDEST_WITHOUT_REVIEW = 100


def review_reasons(application: BlueBadgeApplication, form: FormRead) -> list[str]:
    """Warnings rather than errors: the form is valid, but a person should confirm before it is keyed (boxes
    that could not be read, names mixing alphabets, values read by OCR, an unlikely age). Field names and
    rules only, never values."""
    reasons = list(form.extracted.review)
    if read_by_ocr := form.extracted.needs_confirmation:
        reasons.append(f"read by OCR from a scan: confirm {', '.join(read_by_ocr)} against the scan")
    today = date.today()
    age = today.year - application.date_of_birth.year - (
        (today.month, today.day) < (application.date_of_birth.month, application.date_of_birth.day))
    if age >= OLDEST_WITHOUT_REVIEW:
        reasons.append(f"date_of_birth: the applicant would be {OLDEST_WITHOUT_REVIEW} or older; "
                       "confirm the date of birth was read correctly")
    return reasons


def decide(services: Services, item: Item) -> ItemResult | None:
    """Ask a supervisor about one item. Returns its result if it ends here, None if it is to be keyed."""
    # Corrections apply to a form not yet keyed; for a case Casebook already holds, approve or reject only.
    decision: ReviewDecision | None = ask_supervisor(services, item.reference, item.review, item.audit,
                                                     fields=[] if item.held else list(LABELS))
    if decision is None:
        return fail(services, item, SystemError("no supervisor decided within the review time",
                                                code="REVIEW_TIMEOUT"))
    if decision.decision == "reject":
        return reject(services, item, BusinessError(decision.reason, code="REVIEW_REJECTED",
                                                    reasons=[decision.reason]))
    if item.held is not None:  # approved: the case Casebook holds stands; tell the sender so
        try:
            return answer(services, item, "existing_application", item.held.case_reference)
        except Exception as exc:
            return park_failure(services, item, exc, "answering after review")
    if decision.decision == "correct":
        try:
            from connectors.documents.extract import validate

            item.application = validate(services.documents.definition(FORM), {**item.fields, **decision.corrections})
        except BusinessError as exc:
            return reject(services, item, exc)
    return None


def key_lane(services: Services, items: list[Item]) -> list[ItemResult]:
    """Key one lane's items in order, in one browser session opened and closed in this thread."""
    try:
        casebook = services.open_casebook()
    except ClerkError as exc:  # no browser, bad credentials: every item in the lane waits for a supervisor
        return [fail(services, item, exc) for item in items]
    try:
        return [key_and_reply(services, casebook, item) for item in items]
    finally:
        casebook.close()


def applicant_key(application: BlueBadgeApplication) -> str:
    return f"{application.surname.lower()}|{application.date_of_birth.isoformat()}"


def lane_of(application: BlueBadgeApplication, lanes: int) -> int:
    """The same applicant always goes to the same lane, so a resend is keyed after its original."""
    return zlib.crc32(applicant_key(application).encode()) % lanes


def run_lanes(services: Services, lanes: list[list[Item]]) -> list[ItemResult]:
    busy = [lane for lane in lanes if lane]
    if len(busy) <= 1:
        return [result for lane in busy for result in key_lane(services, lane)]
    # Each lane runs in its own thread with a copy of this flow run's context (Prefect's run, settings).
    with ThreadPoolExecutor(max_workers=len(busy), thread_name_prefix="casebook-lane") as pool:
        futures = [pool.submit(contextvars.copy_context().run, key_lane, services, lane) for lane in busy]
        return [result for future in futures for result in future.result()]


def _run_name() -> str:
    ids = flow_run.parameters.get("email_ids", [])
    return f"blue-badge: {len(ids)} email{'s' if len(ids) != 1 else ''}"


@flow(name="blue-badge", flow_run_name=_run_name)
def blue_badge(email_ids: list[str]) -> list[ItemResult]:
    """Process claimed Blue Badge emails (ids in the processing folder).

    Every form is read first (a rejected form is answered at once); the valid ones are keyed in
    ``casebook.lanes`` browser sessions, one applicant per lane.
    """
    services = current_services()
    results: dict[str, ItemResult] = {}
    lanes: list[list[Item]] = [[] for _ in range(services.settings.casebook.lanes)]
    waiting: list[Item] = []
    documents = services.settings.documents
    reader = read_application.with_options(
        retries=documents.read_retries,
        retry_delay_seconds=[documents.read_retry_delay_s * 2 ** attempt for attempt in range(documents.read_retries)])
    for email_id in email_ids:
        try:
            email = services.mailbox.find_claimed(email_id)
        except ClerkError as exc:  # still claimed by this pass: let go when it ends, recovered by the next
            get_run_logger().warning("could not open claimed email %s: %s", email_id, exc.code)
            continue
        item = start_item(services, email)
        try:
            form = reader(services, item.email, item.audit)
        except Exception as exc:  # a bad form, or a parser bug, costs this email alone
            results[email_id] = park_failure(services, item, exc, "reading the form")
            continue
        item.application, item.fields = form.record, dict(form.extracted.values)
        item.review = review_reasons(item.application, form)
        if item.review:
            waiting.append(item)
        else:
            lanes[lane_of(item.application, len(lanes))].append(item)
    by_email = {item.email.id: item for lane in lanes for item in lane}
    for result in run_lanes(services, lanes):
        if result.outcome == NEEDS_REVIEW:
            waiting.append(by_email[result.email_id])
        else:
            results[result.email_id] = result
    for item in waiting:  # after the rest of the batch, so nobody else waits for the supervisor
        decided = decide(services, item)
        for result in [decided] if decided else key_lane(services, [item]):
            results[result.email_id] = result
    ordered = [results[email_id] for email_id in email_ids if email_id in results]
    if ordered:
        publish_review(ordered, "blue-badge-items")
    return ordered
