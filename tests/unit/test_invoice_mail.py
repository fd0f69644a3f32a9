"""The supplier-invoice demo mail: what it holds, and that each email reads as its expected outcome says."""

from __future__ import annotations

from collections import Counter

import pytest

from connectors.documents import read_form
from connectors.errors import InvalidForm
from connectors.settings import Settings
from flows.routing import route
from sandbox.finance import fixtures
from sandbox.invoice_mail import invoice_mail

SUPPLIERS = {supplier.name for supplier in fixtures.SUPPLIERS}


@pytest.mark.parametrize("seed", [1, 2026])
def test_the_batch_holds_every_outcome_and_each_invoice_reads_as_expected(seed):
    batch = invoice_mail(seed)
    allowed = set(Settings().processes["supplier_invoice"].allowed_senders)

    assert Counter(batch.expected) == Counter({"created": 5, "on_hold": 3, "duplicate_invoice": 3, "rejected": 3,
                                               "sender_not_allowed": 1, "duplicate_delivery": 1})
    keys = []
    for message, expected in zip(batch.messages, batch.expected, strict=True):
        assert (str(message["From"]) in allowed) == (expected != "sender_not_allowed")
        [attachment] = list(message.iter_attachments())
        try:
            invoice, _ = read_form(attachment.get_content(), "pdf", "supplier_invoice")
        except InvalidForm as refused:
            assert expected == "rejected" and refused.reasons[0].startswith("Total:")
            continue
        if expected in ("created", "on_hold"):
            assert invoice.supplier in SUPPLIERS
            keys.append((invoice.supplier, invoice.invoice_number))
    assert len(keys) == len(set(keys)), "no invoice number repeats by accident"
    assert batch.messages[-1] is batch.messages[batch.expected.index("created")], "the redelivery is a created one"


def test_every_email_routes_to_supplier_invoices():
    settings = Settings()
    from datetime import UTC, datetime

    from connectors.mail import Email

    for message in invoice_mail(3).messages:
        email = Email(id="1.eml", message_id=str(message["Message-ID"]), sender=str(message["From"]),
                      to=(str(message["To"]),), subject=str(message["Subject"]), received=datetime.now(UTC),
                      headers={}, attachment_names=tuple(p.get_filename() for p in message.iter_attachments()))
        assert route(email, settings) == "supplier_invoice"
