"""Decisions that need a human: an item waits for a supervisor instead of failing.

Which items: a warning rather than an error (an applicant over 100, say), values read by OCR, and a resent
form whose details differ from the case Casebook already holds. The flow
run pauses (Prefect's ``pause_flow_run`` with a typed :class:`ReviewDecision`) after every other item in its
batch has been keyed, so nobody else waits. The supervisor answers in Prefect's UI (the run shows a form)
or with ``clerk review``; the run checks every ``review.poll_interval_s`` seconds, so it acts within about
a second. Why pause and not suspend: see runbooks/review.md. A reminder goes to ``review.supervisors``
after ``review.remind_after_s``; with no answer by ``review.timeout_s`` the item goes to Exceptions
(REVIEW_TIMEOUT) and ``clerk retry`` asks again.
"""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from prefect import get_run_logger
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field, ValidationError, model_validator

from connectors.audit import AuditEvents
from connectors.errors import ClerkError
from flows.bootstrap import Services

PAUSE_PREFIX = "review-"


class ReviewDecision(RunInput):
    """The supervisor's answer. Shown as a form in Prefect's UI."""

    reviewer: str = Field(default="", description="Your name (it goes into the audit trail).")
    decision: Literal["approve", "correct", "reject"] = Field(
        default="approve", description="approve: key it as read; correct: key it with your corrections; "
                                       "reject: tell the sender why, key nothing.")
    corrections: dict[str, str] = Field(
        default_factory=dict, description="For 'correct': field name -> the right value, as on the form "
                                          "(e.g. {\"postcode\": \"AB1 2CD\"}).")
    reason: str = Field(default="", description="For 'reject': what the sender must do (they receive this).")

    @model_validator(mode="after")
    def _complete(self):
        if not self.reviewer.strip():
            raise ValueError("reviewer: say who you are")
        if self.decision == "correct" and not self.corrections:
            raise ValueError("corrections: give at least one field to correct")
        if self.decision == "reject" and not self.reason.strip():
            raise ValueError("reason: say what the sender must do")
        return self


def pause_key(reference: str, attempt: int) -> str:
    """Prefect's input keys take lower-case letters, digits and dashes only."""
    return f"{PAUSE_PREFIX}{reference.lower()}-{attempt}"


def ask_supervisor(services: Services, reference: str, reasons: list[str], audit: AuditEvents,
                   fields: list[str]) -> ReviewDecision | None:
    """Wait for a supervisor's decision on one item; None when nobody answered within ``review.timeout_s``.

    ``reasons`` and ``fields`` hold field names and rules only, never the values: the question is visible to
    anyone who can see Prefect's UI.
    """
    settings = services.settings.review
    services.leases.update(reference, "waiting")
    audit("review", "waiting", reasons=reasons)
    audit.flush()
    reminder = threading.Timer(settings.remind_after_s, _remind, (services, reference, reasons, audit))
    reminder.daemon = True
    reminder.start()
    problem = ""
    try:
        for attempt in range(1, 4):
            question = ReviewDecision.with_initial_data(description=_describe(reference, reasons, fields, problem))
            try:
                decision = pause_flow_run(wait_for_input=question, timeout=settings.timeout_s,
                                          poll_interval=settings.poll_interval_s, key=pause_key(reference, attempt))
            except FlowPauseTimeout:
                audit("review", "timed_out")
                return None
            except ValidationError as exc:  # the answer was incomplete: ask again, saying what was missing
                if exc.title != ReviewDecision.__name__:
                    raise
                problem = "; ".join(str(error["msg"]).removeprefix("Value error, ") for error in exc.errors())
                audit("review", "answer_incomplete", problem=problem)
                continue
            unknown = sorted(set(decision.corrections) - set(fields))
            if unknown:
                problem = f"unknown field(s) {', '.join(unknown)}; use one of: {', '.join(fields)}"
                audit("review", "answer_incomplete", problem=problem)
                continue
            outcome = {"approve": "approved", "correct": "corrected", "reject": "rejected"}[decision.decision]
            audit("review", outcome, actor=decision.reviewer, corrected=sorted(decision.corrections) or None)
            get_run_logger().info("%s %s by %s", reference, outcome, decision.reviewer)
            return decision
        audit("review", "timed_out", problem="three incomplete answers")
        return None
    finally:
        reminder.cancel()


def _describe(reference: str, reasons: list[str], fields: list[str], problem: str) -> str:
    lines = [f"### {reference} needs a supervisor's decision", "", *[f"- {reason}" for reason in reasons], "",
             "Open the email (Clerk reference in its acknowledgement) in the mailbox's Processing folder and "
             "compare the form with what Clerk read.", "",
             f"Field names you can correct: {', '.join(fields)}."]
    if problem:
        lines += ["", f"**Your last answer could not be used: {problem}.**"]
    return "\n".join(lines)


def _run_of(services: Services, reference: str) -> str:
    """The flow a waiting item's run belongs to (supplier-invoice...), as Prefect's UI names it."""
    try:
        item = services.ledger.get(reference)
    except ClerkError:
        item = None
    return (item.process or "").replace("_", "-") if item and item.process else "process's"


def _remind(services: Services, reference: str, reasons: list[str], audit: AuditEvents) -> None:
    settings = services.settings.review
    try:
        services.mailbox.send(
            settings.supervisors, f"Waiting for a decision: {reference}",
            f"The item {reference} has waited {settings.remind_after_s / 60:.0f} minutes for a supervisor.\n"
            + "\n".join(f"  - {reason}" for reason in reasons)
            + f"\n\nAnswer in Prefect's UI (the paused {_run_of(services, reference)} run) or with: clerk review\n")
        audit("review", "reminded")
    except ClerkError as exc:  # a reminder that cannot be sent is noted; the item still waits
        audit("review", "reminder_failed", code=exc.code)


@dataclass(frozen=True)
class Waiting:
    reference: str
    flow_run_id: UUID
    flow_run_name: str
    since: str
    question: str


def waiting_reviews() -> list[Waiting]:
    """Items waiting for a decision now: paused runs whose pause is a review (from Prefect's API)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    waiting = []
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))))
        for run in runs:
            key = str(run.state.state_details.pause_key or "") if run.state else ""
            if not key.startswith(PAUSE_PREFIX):
                continue
            reference = key.removeprefix(PAUSE_PREFIX).rsplit("-", 1)[0].upper()
            try:  # the run saves its question just after pausing: until then it cannot take an answer
                question = client.read_flow_run_input(run.id, f"paused-{key}-description")
            except Exception:  # noqa: BLE001 - not asked yet (404): list it on the next look
                continue
            waiting.append(Waiting(reference, run.id, run.name, str(run.state.timestamp)[:19], str(question)))
    return waiting


def answer_review(reference: str, decision: dict) -> Waiting:
    """Resume the run waiting on ``reference`` with the supervisor's decision."""
    from prefect.flow_runs import resume_flow_run

    ReviewDecision.model_validate(decision)  # say what is missing here, not in the waiting run
    for waiting in waiting_reviews():
        if waiting.reference == reference.upper():
            # Prefect's call is sync-or-async by context: in a thread where an event loop runs it would only
            # return a coroutine, so it runs in a thread of its own, where it is always synchronous.
            with ThreadPoolExecutor(max_workers=1) as thread:
                thread.submit(contextvars.copy_context().run, resume_flow_run, waiting.flow_run_id,
                              run_input=decision).result()
            return waiting
    raise LookupError(f"no item {reference.upper()} is waiting for a decision")
