"""Council Tax changes of address: read the form, key the move into Revenues, tell the sender
(runbooks/council-tax-move.md).

Declared in config/processes/council_tax_move.yaml (form, application, routing, replies); the steps are
the ones every keying process shares (flows/process.py). What is this process's own:
  * one Council Tax account is keyed one at a time, in one lane, by every worker, so a resend is keyed
    after its original and Revenues' account then shows the move (``already_held``);
  * a valid form a person should confirm first: anything every form can raise (a box that could not be
    read, text mixing alphabets, values read by OCR), and a move backdated by more than a year (the
    refund it makes needs a supervisor's eye).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from prefect import flow

from connectors.documents.council_tax_move import CouncilTaxMove
from flows.process import Process, form_review, run_name, run_process
from flows.steps import ItemResult

if TYPE_CHECKING:
    from connectors.documents.attachments import FormRead

BACKDATED_WITHOUT_REVIEW = timedelta(days=365)


def account_key(move: CouncilTaxMove) -> str:
    """What one record is about: the Council Tax account."""
    return move.account_number


def review_reasons(move: CouncilTaxMove, form: FormRead) -> list[str]:
    """Warnings rather than errors: the form is valid, but a person should confirm before it is keyed.
    Field names and rules only, never values."""
    reasons = form_review(move, form)
    if move.move_out_date < date.today() - BACKDATED_WITHOUT_REVIEW:
        reasons.append("move_out_date: the move is backdated by more than a year; confirm the date was read "
                       "correctly and that the refund it makes is expected")
    return reasons


COUNCIL_TAX_MOVE = Process(name="council_tax_move", subject=account_key, review=review_reasons)


@flow(name="council-tax-move", flow_run_name=run_name("council-tax-move"))
def council_tax_move(email_ids: list[str]) -> list[ItemResult]:
    """Key claimed Council Tax change-of-address emails (ids in the processing folder) into Revenues."""
    return run_process(COUNCIL_TAX_MOVE, email_ids)
