"""Supplier invoices: read the invoice, key it into Finance, tell the sender (runbooks/supplier-invoice.md).

Declared in config/processes/supplier_invoice.yaml (form, application, routing, replies); the record and its
checks (the arithmetic to the penny, the VAT rate, the PO number's shape) are
connectors/documents/invoice.py's. The steps are the ones every keying process shares (flows/process.py);
what is Supplier invoices' own:
  * one supplier's invoice number is keyed one at a time, in one lane, by every worker, so a resend is keyed
    after its original and Finance's duplicate check (and the bot's look-up before it) finds it;
  * before keying, a person confirms only what every form can raise (a box that could not be read, values
    read by OCR). After keying, Finance's three-way match may hold the invoice: the bot answers ``on_hold``
    with a sentence for a supervisor, who approves (the sender is told it is keyed and on hold) or rejects
    (the sender is told what to do).
"""

from __future__ import annotations

from prefect import flow

from bots.finance.names import invoice_key, supplier_key
from connectors.documents.invoice import SupplierInvoice
from flows.process import Process, form_review, run_name, run_process
from flows.steps import ItemResult


def invoice_subject(invoice: SupplierInvoice) -> str:
    """Supplier and invoice number, compared as Finance compares them (letter case and spacing ignored)."""
    return f"{supplier_key(invoice.supplier)}|{invoice_key(invoice.invoice_number)}"


SUPPLIER_INVOICE = Process(name="supplier_invoice", subject=invoice_subject, review=form_review)


@flow(name="supplier-invoice", flow_run_name=run_name("supplier-invoice"))
def supplier_invoice(email_ids: list[str]) -> list[ItemResult]:
    """Key claimed supplier-invoice emails (ids in the processing folder) into Finance."""
    return run_process(SUPPLIER_INVOICE, email_ids)
