"""The steps every keying process shares: read the form, key it into the application, tell the sender.

A process module (``flows/<process>.py``) declares a :class:`Process` (what is particular to it: which
records must be keyed one at a time, what a person must confirm first) and a Prefect flow that calls
:func:`run_process`. Everything else comes from its declaration (``config/processes/<name>.yaml``): the
form, the application, the replies. For each claimed email:

  1. read the form from its attachment (PDF, Word, Excel, scan; a forwarded email's too) and validate it
     (a BusinessError is answered at once: the sender is told what to fix)
  2. key it into the application: the bot looks the Clerk reference up, creates only if absent, reads
     it back (in the application's ``lanes`` browser sessions at once; one subject's emails always share
     a lane, and are keyed one at a time by every worker sharing the ledger)
  3. reply with the record's reference, in the words of the declaration
  4. move the email to Done (or Exceptions, with a reply, if anything failed)
An item Clerk should not decide alone (a warning, a box that could not be read, values read by OCR, a
record the application already holds with other details) waits for a supervisor once the rest of the
batch is keyed (flows/review.py), then is keyed, keyed with corrections, or rejected.
"""

from __future__ import annotations

import base64
import contextvars
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from connectors.audit import AuditEvents
from connectors.errors import BusinessError, ClerkError, SystemError
from connectors.ledger import clerk_reference
from connectors.mail import Email, expand_attached_messages
from connectors.processes import ProcessSettings
from flows import replies
from flows.bootstrap import Services, current_services
from flows.review import ReviewDecision, ask_supervisor
from flows.steps import ItemResult, finish, park, publish_review, retry_system_faults, send_reply

if TYPE_CHECKING:  # the readers (pypdf, python-docx) load in the parser processes and on first use
    from connectors.documents.attachments import FormRead

NEEDS_REVIEW = "needs_review"  # not an ending: the item waits for a supervisor after the rest of the batch


def form_review(record: Any, form: FormRead) -> list[str]:
    """What every form can ask a person to confirm: boxes that could not be read, text mixing alphabets,
    values read by OCR. Field names and rules only, never values."""
    reasons = list(form.extracted.review)
    if read_by_ocr := form.extracted.needs_confirmation:
        reasons.append(f"read by OCR from a scan: confirm {', '.join(read_by_ocr)} against the scan")
    return reasons


@dataclass(frozen=True)
class Process:
    """What a keying process adds to the shared steps."""

    name: str
    """As declared (``config/processes/<name>.yaml``)."""
    subject: Callable[[Any], str]
    """The key of what one record is about (an applicant, an account, a supplier's invoice): records with
    the same subject are keyed in order, one at a time, by every worker (a resend never races its original)."""
    review: Callable[[Any, FormRead], list[str]] = form_review
    """Why a person must confirm a valid record before it is keyed (empty: key it)."""

    def settings(self, services: Services) -> ProcessSettings:
        return services.settings.processes[self.name]


@task(name="read-form", cache_policy=NO_CACHE, retry_condition_fn=retry_system_faults)
def read_form(services: Services, email: Email, audit: AuditEvents, form: str, title: str) -> FormRead:
    """The one form attached to the email, read through the guard and validated; a forwarded email's
    attachments count too.

    Retried (``documents.read_retries``, with a growing pause) only for our own faults: a parser process
    that died or stalled on a busy machine, the mailbox not answering. A form refused for what it is, is an
    answer for the sender at once, never a retry and never a failed run.
    """
    attachments = expand_attached_messages(services.mailbox.attachments(email))
    forms = services.documents.read(attachments, form)
    if len(forms) > 1:
        raise BusinessError(
            "More than one form was attached.",
            code="FORM_MULTIPLE",
            reasons=[f"Please send each {title or 'form'} in its own email."],
        )
    [found] = forms
    audit("parse", "ok", method=found.extracted.method, pages=found.extracted.pages,
          attachment_count=len(attachments))
    return found


@task(name="key-record", cache_policy=NO_CACHE, retry_condition_fn=retry_system_faults)
def key_record(services: Services, session: Any, process: Process, record: Any, reference: str,
               audit: AuditEvents) -> Any:
    """Look up, create if absent, read back: safe to retry after any failure. One subject's records are
    keyed one at a time by every worker sharing the ledger, so a resend never races its original."""
    with services.applicant_lock(process.subject(record)):
        services.leases.update(reference, "keying")
        audit("key", "started")
        result = session.key(record, reference)
        audit("key", result.outcome, case_reference=result.record_reference)
    return result


@dataclass
class Item:
    """One claimed email on its way through the process."""

    email: Email
    reference: str
    audit: AuditEvents
    started: float
    record: Any = None
    fields: dict[str, object] | None = None
    """The values as read from the form (a supervisor's corrections apply to these)."""
    unreadable: tuple[str, ...] = ()
    """Fields whose boxes could not be read (validation lets them through to the supervisor)."""
    review: list[str] | None = None
    """Why a supervisor must decide before this item is keyed (field names and rules, no values)."""
    held: Any = None
    """The application's answer when it already holds this subject with different details."""


class Run:
    """One flow run of a process over a batch of claimed emails."""

    def __init__(self, process: Process, services: Services) -> None:
        self.process = process
        self.services = services
        self.settings = process.settings(services)
        self.application = services.settings.applications[self.settings.application]

    # --- endings ---------------------------------------------------------------------------------
    def reject(self, item: Item, error: BusinessError) -> ItemResult:
        get_run_logger().info("%s rejected: %s", item.reference, error.code)
        reply = replies.rejected(item.reference, error.message, error.reasons,
                                 held=item.held.record_reference if item.held is not None else "")
        return park(self.services, item.email, error, item.audit, reply, item.started, self.process.name)

    def fail(self, item: Item, error: ClerkError) -> ItemResult:
        get_run_logger().warning("%s parked in Exceptions: %s", item.reference, error.code)
        publish_screenshot(item.reference, error, self.settings.application)
        return park(self.services, item.email, error, item.audit, replies.system_problem(item.reference),
                    item.started, self.process.name)

    def park_failure(self, item: Item, error: Exception, doing: str) -> ItemResult:
        """A business error is rejected; anything else waits for a supervisor (never stays in processing)."""
        if isinstance(error, BusinessError):
            return self.reject(item, error)
        if not isinstance(error, ClerkError):
            error = SystemError(f"unexpected {type(error).__name__} {doing}", code="UNEXPECTED")
        return self.fail(item, error)

    def answer(self, item: Item, outcome: str, record_reference: str) -> ItemResult:
        """Tell the sender how their form was keyed, and move the email to Done."""
        reply = replies.result(self.settings, outcome, item.reference, record_reference)
        send_reply(self.services, item.email, reply, item.audit, kind=outcome)
        finish(self.services, item.email, "done", item.audit, outcome=outcome, case_reference=record_reference,
               process=self.process.name)
        get_run_logger().info("%s %s: %s", item.reference, outcome.replace("_", " "), record_reference)
        return ItemResult(item.email.id, item.reference, self.process.name, outcome, "done",
                          case_reference=record_reference, seconds=time.perf_counter() - item.started)

    # --- the steps -------------------------------------------------------------------------------
    def read(self, email: Email) -> Item | ItemResult:
        """The email's form as a record, or the email's ending when it cannot be read."""
        reference = clerk_reference(email.message_id)
        audit = self.services.audit.bind(run=str(flow_run.id or "local"), reference=reference,
                                         process=self.process.name, email_id=email.id)
        item = Item(email, reference, audit, time.perf_counter())
        documents = self.services.settings.documents
        reader = read_form.with_options(
            retries=documents.read_retries,
            retry_delay_seconds=[documents.read_retry_delay_s * 2 ** n for n in range(documents.read_retries)])
        try:
            form = reader(self.services, email, audit, self.settings.form, self.settings.title)
        except Exception as exc:  # a bad form, or a parser bug, costs this email alone
            return self.park_failure(item, exc, "reading the form")
        item.record, item.fields = form.record, dict(form.extracted.values)
        item.unreadable = tuple(form.extracted.unreadable)
        item.review = self.process.review(item.record, form)
        return item

    def key_and_reply(self, session: Any, item: Item) -> ItemResult:
        """Key one read record, reply, and finish. Never raises for a business or system fault."""
        keyer = key_record.with_options(retries=self.application.retries,
                                        retry_delay_seconds=self.application.retry_delay_s)
        try:
            result = keyer(self.services, session, self.process, item.record, item.reference, item.audit)
            differences = list(getattr(result, "differences", ()) or ())
            if differences:  # the application holds this subject with other details: a person decides
                item.held, item.review = result, [getattr(result, "review", "") or (
                    f"The application already holds {result.record_reference} for this, and the form differs "
                    f"in: {', '.join(differences)}. Approve to leave it as it is (the sender is told it is "
                    "already held); reject to tell the sender what to do.")]
                return ItemResult(item.email.id, item.reference, self.process.name, NEEDS_REVIEW, "exceptions",
                                  case_reference=result.record_reference)
            return self.answer(item, result.outcome, result.record_reference)
        except Exception as exc:
            return self.park_failure(item, exc, "while keying")

    def decide(self, item: Item) -> ItemResult | None:
        """Ask a supervisor about one item. Returns its result if it ends here, None if it is to be keyed."""
        definition = self.services.documents.definition(self.settings.form)
        # Corrections apply to a form not yet keyed; for a record the application holds, approve or reject.
        decision: ReviewDecision | None = ask_supervisor(self.services, item.reference, item.review, item.audit,
                                                         fields=[] if item.held else list(definition.fields))
        if decision is None:
            return self.fail(item, SystemError("no supervisor decided within the review time", code="REVIEW_TIMEOUT"))
        if decision.decision == "reject":
            return self.reject(item, BusinessError(decision.reason, code="REVIEW_REJECTED", reasons=[decision.reason]))
        if item.held is not None:  # approved: the record the application holds stands; tell the sender so
            try:
                return self.answer(item, item.held.outcome, item.held.record_reference)
            except Exception as exc:
                return self.park_failure(item, exc, "answering after review")
        if decision.decision == "correct":
            from connectors.documents.extract import validate

            try:
                corrected = set(decision.corrections)
                item.record = validate(definition, {**item.fields, **decision.corrections},
                                       unreadable=tuple(name for name in item.unreadable if name not in corrected))
            except BusinessError as exc:
                return self.reject(item, exc)
        return None

    def key_lane(self, items: list[Item]) -> list[ItemResult]:
        """Key one lane's items in order, in one browser session opened and closed in this thread."""
        try:
            session = self.services.open_application(self.settings.application)
        except ClerkError as exc:  # no browser, bad credentials: every item in the lane waits for a supervisor
            return [self.fail(item, exc) for item in items]
        try:
            return [self.key_and_reply(session, item) for item in items]
        finally:
            session.close()

    def run_lanes(self, lanes: list[list[Item]]) -> list[ItemResult]:
        """Each lane in a thread of its own, with a copy of this flow run's context (Prefect's run, settings):
        its browser lives and dies there (Playwright's sync API must not meet an event loop the caller's
        thread may run), and lanes key at once."""
        busy = [lane for lane in lanes if lane]
        if not busy:
            return []
        with ThreadPoolExecutor(max_workers=len(busy), thread_name_prefix=f"{self.settings.application}-lane") as pool:
            futures = [pool.submit(contextvars.copy_context().run, self.key_lane, lane) for lane in busy]
            return [result for future in futures for result in future.result()]

    def __call__(self, email_ids: list[str]) -> list[ItemResult]:
        results: dict[str, ItemResult] = {}
        lanes: list[list[Item]] = [[] for _ in range(self.application.lanes)]
        waiting: list[Item] = []
        for email_id in email_ids:
            try:
                email = self.services.mailbox.find_claimed(email_id)
            except ClerkError as exc:  # still claimed by this pass: let go when it ends, recovered by the next
                get_run_logger().warning("could not open claimed email %s: %s", email_id, exc.code)
                continue
            item = self.read(email)
            if isinstance(item, ItemResult):
                results[email_id] = item
            elif item.review:
                waiting.append(item)
            else:
                lanes[lane_of(self.process.subject(item.record), len(lanes))].append(item)
        by_email = {item.email.id: item for lane in lanes for item in lane}
        for result in self.run_lanes(lanes):
            if result.outcome == NEEDS_REVIEW:
                waiting.append(by_email[result.email_id])
            else:
                results[result.email_id] = result
        for item in waiting:  # after the rest of the batch, so nobody else waits for the supervisor
            decided = self.decide(item)
            for result in [decided] if decided else self.run_lanes([[item]]):
                results[result.email_id] = result
        ordered = [results[email_id] for email_id in email_ids if email_id in results]
        if ordered:
            publish_review(ordered, f"{self.process.name.replace('_', '-')}-items")
        return ordered


def run_process(process: Process, email_ids: list[str]) -> list[ItemResult]:
    """Process claimed emails (ids in the processing folder): every form is read first (a rejected form is
    answered at once); the valid ones are keyed in the application's lanes, one subject per lane."""
    return Run(process, current_services())(email_ids)


def lane_of(subject: str, lanes: int) -> int:
    """The same subject always goes to the same lane, so a resend is keyed after its original."""
    return zlib.crc32(subject.encode()) % lanes


def run_name(flow: str) -> Callable[[], str]:
    """A flow run's name: the flow and how many emails it was given."""

    def name() -> str:
        ids = flow_run.parameters.get("email_ids", [])
        return f"{flow}: {len(ids)} email{'s' if len(ids) != 1 else ''}"

    return name


def publish_screenshot(reference: str, error: ClerkError, application: str) -> None:
    """For a supervisor reviewing the run: the masked screenshot the bot took when it failed, as an artifact."""
    screenshot = getattr(error, "screenshot", None)
    if not screenshot or not Path(screenshot).is_file():
        return
    picture = base64.b64encode(Path(screenshot).read_bytes()).decode()
    create_markdown_artifact(
        key=f"failure-{reference.lower()}",
        markdown=f"### {reference}: {error.code}\n\nThe page when the bot failed (every field and table cell "
                 f"masked); file `{screenshot}`.\n\n![masked screenshot](data:image/png;base64,{picture})",
        description=f"{reference} failed in {application}: {error.code}",
    )
