"""Blue Badge applications: read the form, key it into Casebook, tell the sender.

Reads like runbooks/blue-badge.md. For each claimed email:
  1. read the application from the attached PDF form and validate it       (BusinessError -> reject)
  2. key it into Casebook: look the Clerk reference up, create only if absent, read it back
  3. reply with the case reference
  4. move the email to Done (or Exceptions, with a reply, if anything failed)
"""

from __future__ import annotations

import time

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from connectors.audit import AuditEvents
from connectors.documents import read_blue_badge
from connectors.documents.blue_badge import BlueBadgeApplication
from connectors.errors import BusinessError, ClerkError, MissingAttachment, SystemError, UnreadableAttachment
from connectors.ledger import clerk_reference
from connectors.mail import Email
from flows import replies
from flows.bootstrap import Services, current_services
from flows.steps import ItemResult, finish, park, send_reply

PROCESS = "blue_badge"


def _is_pdf(attachment) -> bool:
    return attachment.content_type == "application/pdf" or attachment.filename.lower().endswith(".pdf") \
        or attachment.data[:1024].find(b"%PDF-") != -1


def read_application(services: Services, email: Email, audit: AuditEvents) -> BlueBadgeApplication:
    """The one Blue Badge form attached to the email, validated.

    Plain Python, not a Prefect task: it touches no external system, so a retry could not help, and a
    rejected form is an answer for the sender, not a failed run.
    """
    pdfs = [attachment for attachment in services.mailbox.attachments(email) if _is_pdf(attachment)]
    if not pdfs:
        raise MissingAttachment(
            "No Blue Badge application form was attached.",
            reasons=["Please attach the completed Blue Badge application form (PDF) and send it again."],
        )
    forms, first_error = [], None
    for attachment in pdfs:
        try:
            forms.append(read_blue_badge(attachment.data))
        except UnreadableAttachment as exc:
            first_error = first_error or exc
    if not forms:
        raise first_error
    if len(forms) > 1:
        raise BusinessError(
            "More than one application form was attached.",
            code="FORM_MULTIPLE",
            reasons=["Please send each Blue Badge application in its own email."],
        )
    audit("parse", "ok", attachment_count=len(pdfs))
    return forms[0]


def _retry_system_faults(task, task_run, state) -> bool:
    """Retry only faults a retry can cure (System busy, a timeout); never bad input."""
    try:
        state.result()
    except SystemError as exc:
        return exc.retryable
    except Exception:  # noqa: BLE001 - anything else is not ours to retry
        return False
    return False


@task(name="key-into-casebook", cache_policy=NO_CACHE, retry_condition_fn=_retry_system_faults)
def key_into_casebook(services: Services, application: BlueBadgeApplication, reference: str, audit: AuditEvents):
    """Look up, create if absent, read back: safe to retry after any failure."""
    services.ledger.update(reference, "keying")
    audit("key", "started")
    result = services.casebook.key_application(application, reference)
    audit("key", result.outcome, case_reference=result.case_reference)
    return result


def process_email(services: Services, email: Email) -> ItemResult:
    """One claimed email from start to Done or Exceptions. Never raises for a business or system fault."""
    started = time.perf_counter()
    reference = clerk_reference(email.message_id)
    audit = services.audit.bind(run=str(flow_run.id or "local"), reference=reference, process=PROCESS,
                                email_id=email.id)
    logger = get_run_logger()
    casebook = services.settings.casebook
    keyer = key_into_casebook.with_options(retries=casebook.retries, retry_delay_seconds=casebook.retry_delay_s)
    try:
        application = read_application(services, email, audit)
        result = keyer(services, application, reference, audit)
    except BusinessError as exc:
        logger.info("%s rejected: %s", reference, exc.code)
        reply = replies.rejected(reference, exc.message, exc.reasons)
        return park(services, email, exc, audit, reply, started, PROCESS)
    except ClerkError as exc:
        logger.warning("%s parked in Exceptions: %s", reference, exc.code)
        return park(services, email, exc, audit, replies.system_problem(reference), started, PROCESS)
    except Exception as exc:  # a bug must still end in Exceptions, never leave the email in processing
        logger.error("%s parked in Exceptions after an unexpected %s", reference, type(exc).__name__)
        fault = SystemError(f"unexpected {type(exc).__name__} while keying", code="UNEXPECTED")
        return park(services, email, fault, audit, replies.system_problem(reference), started, PROCESS)

    reply = {
        "created": replies.case_created,
        "already_keyed": replies.already_keyed,
        "existing_application": replies.existing_application,
    }[result.outcome](reference, result.case_reference)
    send_reply(services, email, reply, audit, kind=result.outcome)
    finish(services, email, "done", audit, outcome=result.outcome, case_reference=result.case_reference)
    logger.info("%s %s: case %s", reference, result.outcome.replace("_", " "), result.case_reference)
    return ItemResult(email.id, reference, PROCESS, result.outcome, "done",
                      case_reference=result.case_reference, seconds=time.perf_counter() - started)


def _run_name() -> str:
    ids = flow_run.parameters.get("email_ids", [])
    return f"blue-badge: {len(ids)} email{'s' if len(ids) != 1 else ''}"


@flow(name="blue-badge", flow_run_name=_run_name)
def blue_badge(email_ids: list[str]) -> list[ItemResult]:
    """Process claimed Blue Badge emails (ids in the processing folder), one after another, one browser."""
    services = current_services()
    return [process_email(services, services.mailbox.find_claimed(email_id)) for email_id in email_ids]
