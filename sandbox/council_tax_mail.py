"""A morning's Council Tax change-of-address mail, for the demo and the tests: staff forwarding residents'
CTA1 forms (PDF and Word) about Revenues' seeded accounts, each with what should become of it.

:func:`council_tax_batch` mixes valid moves (each a different resident into a different empty property,
so Revenues accepts them in any order) with forms the sender must fix, a resend of one valid form in a new
email (Revenues then already holds the move) and the mail server delivering one email twice. The forms the
sender must fix are about accounts and properties no valid move touches, so the outcome of each email does
not depend on the order the moves are keyed in.
"""

from __future__ import annotations

import random
from email.message import EmailMessage

from sandbox.change_of_address import (
    INVALID_VARIANTS,
    change_of_address_docx,
    change_of_address_pdf,
    move_values,
)
from sandbox.mailgen import COUNCIL, Batch, application_email, staff_address
from sandbox.revenues import fixtures

COUNCIL_TAX_ALIAS = f"counciltax@{COUNCIL}"
DOCX = "vnd.openxmlformats-officedocument.wordprocessingml.document"

# Accounts and properties the forms the sender must fix are about; no valid move uses them.
NOT_AT_ADDRESS = "60010029"  # John Smith of 88 Park Road, writing his namesake's 14 Park Road as his address
CLOSED = "60010045"  # John Smith who left 14 Park Road in 2016
JOINT = ("60010079", "60010087")  # 5 Albert Terrace: the occupied property another resident "moves into"
TOO_FAR_AHEAD = "60010126"
RESERVED_ACCOUNTS = {NOT_AT_ADDRESS, CLOSED, *JOINT, TOO_FAR_AHEAD}
RESERVED_PROPERTIES = {"P10021"}  # 9 Oak Close: the too-far-ahead move's target


def move_email(sender: str, values: dict, *, kind: str = "pdf", subject: str = "Council Tax change of address",
               to: str = COUNCIL_TAX_ALIAS) -> EmailMessage:
    """A member of staff forwarding a resident's form, as a PDF form or its Word version."""
    message = application_email(sender, None, subject=subject, to=to,
                                note="Hi,\n\nPlease see the attached change of address from a resident.\n\nThanks")
    if kind == "pdf":
        message.add_attachment(change_of_address_pdf(values), maintype="application", subtype="pdf",
                               filename="change-of-address.pdf")
    else:
        message.add_attachment(change_of_address_docx(values), maintype="application", subtype=DOCX,
                               filename="change-of-address.docx")
    return message


def _account(number: str) -> fixtures.Account:
    return next(account for account in fixtures.ACCOUNTS if account.account_no == number)


def _move(rng: random.Random, number: str, target: fixtures.Property) -> dict:
    out_days_ago = rng.randint(3, 25)
    return move_values(_account(number), target, out_days_ago=out_days_ago,
                       gap_days=rng.randint(0, min(3, out_days_ago)))


def council_tax_batch(seed: int = 1, valid: int = 6) -> Batch:
    """Emails in delivery order and the outcome each should have (``ItemResult.outcome``): ``created`` for
    each valid move, ``rejected`` for the forms the sender must fix, ``already_held`` for a resend of a
    valid form, ``duplicate_delivery`` for an email delivered twice."""
    rng = random.Random(seed)
    movers = [a for a in fixtures.LIVE if a.account_no not in RESERVED_ACCOUNTS]
    homes = [p for p in fixtures.VACANT if p.ref not in RESERVED_PROPERTIES]
    if not 1 <= valid <= min(len(movers), len(homes)):
        raise ValueError(f"valid must be 1 to {min(len(movers), len(homes))}")
    moves = [_move(rng, a.account_no, p) for a, p in zip(rng.sample(movers, valid), rng.sample(homes, valid),
                                                         strict=True)]  # fmt: skip
    first = Batch()
    for n, values in enumerate(moves):
        first.add(move_email(staff_address(rng), values, kind="docx" if n % 3 == 2 else "pdf"), "created")

    spare = homes[0]
    wrong_address = {**_move(rng, NOT_AT_ADDRESS, spare), "old_address": "14 Park Road, Eastfield, Northdale",
                     "old_postcode": "ND1 4AB"}
    first.add(move_email(staff_address(rng), wrong_address), "rejected")  # ACCOUNT_NOT_AT_ADDRESS
    closed = {**_move(rng, fixtures.LIVE[0].account_no, spare), "account_number": CLOSED,
              "old_address": "14 Park Road, Eastfield, Northdale", "old_postcode": "ND1 4AB"}
    first.add(move_email(staff_address(rng), closed, kind="docx"), "rejected")  # ACCOUNT_CLOSED
    ahead = move_values(_account(TOO_FAR_AHEAD), fixtures.property_by_ref("P10021"), out_days_ago=-45, gap_days=1)
    first.add(move_email(staff_address(rng), ahead), "rejected")  # MOVE_TOO_FAR_AHEAD
    occupied = _move(rng, TOO_FAR_AHEAD, fixtures.property_by_ref("P10006"))
    first.add(move_email(staff_address(rng), occupied), "rejected")  # PROPERTY_OCCUPIED
    unknown = {**_move(rng, NOT_AT_ADDRESS, spare), "account_number": "60099999"}
    first.add(move_email(staff_address(rng), unknown, kind="docx"), "rejected")  # ACCOUNT_NOT_FOUND
    for name in ("declaration_not_ticked", "move_in_before_move_out"):  # FORM_INVALID
        first.add(move_email(staff_address(rng), INVALID_VARIANTS[name](_move(rng, JOINT[0], spare))), "rejected")
    first.add(application_email(staff_address(rng), None, subject="Council Tax change of address",
                                to=COUNCIL_TAX_ALIAS, note="Form to follow."), "rejected")  # ATTACHMENT_MISSING

    order = list(range(len(first.messages)))
    rng.shuffle(order)
    batch = Batch()
    for i in order:
        batch.add(first.messages[i], first.expected[i])
    # Later, a member of staff sends one resident's form again, in a new email: Revenues already holds it.
    batch.add(move_email(staff_address(rng), moves[0], subject="FW: Council Tax change of address"), "already_held")
    # And the mail server delivers one email twice (same Message-ID, same bytes): filed, not answered again.
    batch.add(first.messages[1], "duplicate_delivery")
    return batch
