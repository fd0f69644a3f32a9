"""A morning's supplier-invoice mail for the demo and the tests, matching Finance's seeded ledger.

Accounts Payable forward suppliers' PDF invoices to the invoices alias (sandbox.finance.fixtures has the
suppliers and purchase orders; sandbox.ledger_invoices the invoices). :func:`invoice_mail` gives each email
with what should become of it, in the words of ``ItemResult.outcome``:

* ``created``: five invoices that match their orders (Finance approves them);
* ``on_hold``: three that fail Finance's three-way match (more than was received, nothing received yet,
  more hours than ordered). Finance saves them "On hold: match failure" and the item waits for a supervisor
  (before a decision: ledger state ``waiting``, no result yet); ``on_hold`` once a supervisor approves
  (``rejected``, code REVIEW_REJECTED, if they reject);
* ``duplicate_invoice``: two invoices Finance already holds (PI-000001; and PI-000004, the look-alike
  supplier's invoice with the same number), and a colleague's resend of one created in this batch;
* ``rejected``: the sender must fix it: totals that do not add up (code FORM_INVALID, refused before
  Finance is touched), a purchase order that does not exist (PO_REFUSED), a supplier Finance does not
  know (SUPPLIER_UNKNOWN);
* ``sender_not_allowed``: a supplier emailing the alias directly (outside the council: no reply);
* ``duplicate_delivery``: the mail server delivering one email twice.

Every expectation holds whatever order Finance sees the invoices in (lanes key at once).
"""

from __future__ import annotations

import random
from decimal import Decimal
from email.message import EmailMessage

from sandbox.documents import supplier_invoice_pdf
from sandbox.ledger_invoices import DUPLICATES, FAILING, MATCHING, Billing, ledger_invoice
from sandbox.mailgen import COUNCIL, Batch, application_email

INVOICES_ALIAS = f"invoices@{COUNCIL}"
ACCOUNTS_PAYABLE = ("amy.clarke", "raj.patel", "joy.adeyemi")
"""The Accounts Payable staff config/processes/supplier_invoice.yaml allows."""
_CREATED = ("whole order", "other half of a part-invoiced order", "hedge trimming as ordered",
            "leaflets still to bill (zero-rated)", "buffet lunch")


def _billing(name: str, billings: tuple[Billing, ...]) -> Billing:
    return next(billing for billing in billings if billing.name == name)


def invoice_email(values: dict[str, object], sender: str, *, note: str | None = None) -> EmailMessage:
    """An invoice forwarded to the invoices alias, its PDF attached."""
    number = str(values["invoice_number"])
    message = application_email(sender, None, subject=f"FW: Invoice {number} from {values['supplier']}",
                                to=INVOICES_ALIAS,
                                note=note or "Hi,\n\nSupplier invoice attached for keying, please.\n\nThanks")
    message.add_attachment(supplier_invoice_pdf(values), maintype="application", subtype="pdf",
                           filename=f"invoice-{number.replace('/', '-')}.pdf")
    return message


def invoice_mail(seed: int = 1) -> Batch:
    """About 16 emails in delivery order with their expected outcomes (see the module doc)."""
    rng = random.Random(seed)
    staff = [f"{name}@{COUNCIL}" for name in ACCOUNTS_PAYABLE]
    numbers: set[tuple[object, object]] = set()

    def draw(billing: Billing) -> dict[str, object]:
        """The invoice ``billing`` describes, with a number no other invoice in the batch has by accident."""
        values = ledger_invoice(rng, billing)
        while (values["supplier"], values["invoice_number"]) in numbers:
            values = ledger_invoice(rng, billing)
        numbers.add((values["supplier"], values["invoice_number"]))
        return values

    first = Batch()
    created = []
    for name in _CREATED:
        values = draw(_billing(name, MATCHING))
        created.append(values)
        first.add(invoice_email(values, rng.choice(staff)), "created")
    for billing in FAILING:
        first.add(invoice_email(draw(billing), rng.choice(staff)), "on_hold")
    for billing in (DUPLICATES[0], DUPLICATES[3]):  # PI-000001, and PI-000004 from the look-alike supplier
        first.add(invoice_email(draw(billing), rng.choice(staff)), "duplicate_invoice")
    received = _billing("only what was received", MATCHING)
    wrong_total = draw(received)
    wrong_total["total"] = Decimal(str(wrong_total["total"])) + 10
    first.add(invoice_email(wrong_total, rng.choice(staff)), "rejected")
    no_such_order = draw(received)
    no_such_order["po_number"] = "PO199999"
    first.add(invoice_email(no_such_order, rng.choice(staff)), "rejected")
    stranger = draw(received)
    stranger.update(supplier="Wharfedale Office Furniture Ltd", supplier_address="9 Mill Yard, Otley LS21 1AA",
                    vat_registration="GB 404 4040 40", invoice_number="WOF-0193")
    first.add(invoice_email(stranger, rng.choice(staff)), "rejected")
    supplier_direct = draw(received)
    first.add(invoice_email(supplier_direct, "accounts@dalesgrounds.example.co.uk",
                            note="Please find our invoice attached."), "sender_not_allowed")
    order = list(range(len(first.messages)))
    rng.shuffle(order)
    batch = Batch()
    for i in order:
        batch.add(first.messages[i], first.expected[i])
    # Later that morning a colleague forwards the first invoice again, in a new email.
    batch.add(invoice_email(created[0], rng.choice(staff), note="Not sure this one was keyed?"), "duplicate_invoice")
    # And the mail server delivers one email twice (same Message-ID, same bytes).
    batch.add(batch.messages[batch.expected.index("created")], "duplicate_delivery")
    return batch

