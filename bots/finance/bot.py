"""The Finance bot: keys a supplier invoice into the purchase ledger once, and reads it back.

``key(invoice, clerk_ref)`` (:class:`bots.transaction.TransactionBot`), every step a look before a write:

1. an invoice whose notes carry "Clerk ref: <clerk_ref>" -> ``already_keyed`` (a retry after a crash or a
   busy answer finds its own work; if Finance holds it on a match failure, ``on_hold`` as below);
2. Finance already has this supplier's invoice number (letter case and spaces ignored, whatever its
   status) -> ``duplicate_invoice``, naming the invoice already entered; nothing is keyed;
3. the supplier is not one Finance lists -> BusinessError ``SUPPLIER_UNKNOWN``;
4. save it with the Clerk reference in "Notes / reference". Finance refuses a purchase order that does not
   exist or was raised for another supplier -> BusinessError ``PO_REFUSED`` (its own sentence); a duplicate
   entered meanwhile -> ``duplicate_invoice``;
5. read it back (RecordNotVerified when it differs). Finance's three-way match (against what was ordered
   and received, less what is already invoiced, within its tolerance) saves a failing invoice "On hold:
   match failure": -> ``on_hold`` with a sentence for a supervisor (flows/process.py asks one; approving
   leaves it on hold in Finance and tells the sender). Otherwise -> ``created``.

"System busy", an expired session and timeouts are the session boundary's (bots/session.py): the operation
starts again from step 1, then ApplicationUnavailable (a system fault, retried by the flow). Messages quote
references only; screenshots are masked by the runtime (every field, grid cell and details value, so
amounts too).
"""

from __future__ import annotations

import re
from typing import Any

import structlog

from bots.finance.names import invoice_key, supplier_key
from bots.finance.pages.ledger import InvoicesGrid, NewInvoiceDialog, SignIn
from bots.runtime import BrowserRuntime
from bots.session import ValidationShown
from bots.transaction import Keyed, TransactionBot
from connectors.documents.invoice import SupplierInvoice, pounds
from connectors.errors import BusinessError, RecordNotVerified

log = structlog.get_logger(__name__)

NOTE = "Clerk ref: {}"
ON_HOLD = "On hold"
DATE_FORMAT = "%d/%m/%Y"
_ENTERED_AS = re.compile(r"has already been entered as (PI-\d+)")
_INVOICE_REF = re.compile(r"^PI-(\d+)$")


def _oldest(references: list[str]) -> str:
    return min(references, key=lambda ref: int(m.group(1)) if (m := _INVOICE_REF.match(ref)) else 10**9)


class FinanceBot(TransactionBot):
    title = "Finance"
    busy_words = "System busy"
    held_outcome = "duplicate_invoice"

    def __init__(self, runtime: BrowserRuntime, settings: Any, password: str) -> None:
        super().__init__(runtime, busy_retries=settings.retries)
        self.settings = settings
        self._password = password
        self._saved: dict[str, str] = {}
        """Clerk reference -> the invoice this session saved for it and has not yet answered for: found again
        after a restart or a retry (a busy answer after the save), it is still ``created`` (the sender was never
        told) and is still read back."""

    @property
    def grid(self) -> InvoicesGrid:
        return InvoicesGrid(self.page, self.patience)

    def log_in(self) -> None:
        SignIn(self.page, self.patience).log_in(self.settings.url, self.settings.username, self._password)

    # --- the look-ups --------------------------------------------------------------------------------
    def _own(self, clerk_ref: str) -> dict[str, str] | None:
        """The grid row of the invoice carrying the Clerk reference (the oldest, if several), or None."""
        note = NOTE.format(clerk_ref)
        exact = re.compile(re.escape(note) + r"(?![A-Z0-9])")
        rows = [row for row in self.grid.search(note) if exact.search(row.get("Notes", ""))]
        if not rows:
            return None
        oldest = _oldest([row["Reference"] for row in rows])
        return next(row for row in rows if row["Reference"] == oldest)

    def find_by_clerk_reference(self, clerk_ref: str) -> str | None:
        own = self._own(clerk_ref)
        return own["Reference"] if own else None

    def find_held(self, record: SupplierInvoice) -> tuple[str, tuple[str, ...]] | None:
        """The invoice Finance already has from this supplier with this number (the oldest), or None."""
        number, supplier = invoice_key(record.invoice_number), supplier_key(record.supplier)
        found = [row["Reference"] for row in self.grid.search(record.invoice_number)
                 if invoice_key(row.get("Invoice number", "")) == number
                 and supplier_key(row.get("Supplier", "")) == supplier]
        return (_oldest(found), ()) if found else None

    # --- the write -----------------------------------------------------------------------------------
    def _supplier_id(self, dialog: NewInvoiceDialog, name: str) -> str:
        offered = {supplier_key(shown): supplier_id for shown, supplier_id in dialog.suppliers().items()}
        supplier_id = offered.get(supplier_key(name))
        if supplier_id is None:
            dialog.cancel()
            raise BusinessError(
                "Finance has no supplier with the name on the invoice.",
                code="SUPPLIER_UNKNOWN",
                reasons=["Supplier: the name on the invoice is not one of our suppliers in Finance. Please check "
                         "it with the supplier, or ask Procurement to set the supplier up, then send it again."])
        return supplier_id

    def create_or_refused(self, record: SupplierInvoice, clerk_ref: str) -> Keyed:
        """Save the invoice; ``created`` (read back) or ``on_hold``, or ``duplicate_invoice`` when Finance
        says it was entered meanwhile. A purchase order Finance refuses is the sender's to fix."""
        dialog = self.grid.new_invoice()
        values = _values(record, clerk_ref, self._supplier_id(dialog, record.supplier))
        try:
            saved = dialog.save(values)
        except ValidationShown:
            errors, sentence = dialog.field_errors(), dialog.refusal()
            entered = _ENTERED_AS.search(sentence)
            if entered:
                dialog.cancel()
                return Keyed(entered.group(1), "duplicate_invoice")
            if "po_number" in errors:
                raise BusinessError("Finance would not take the invoice against its purchase order.",
                                    code="PO_REFUSED",
                                    reasons=[f"PO number: {errors['po_number']} Please check the purchase order "
                                             "number with the supplier and send the corrected invoice again."]
                                    ) from None
            if "supplier_id" in errors:
                raise BusinessError("Finance has no such supplier.", code="SUPPLIER_UNKNOWN",
                                    reasons=[f"Supplier: {errors['supplier_id']}"]) from None
            raise
        log.info("finance.invoice_saved", clerk_ref=clerk_ref, invoice=saved.ref, on_hold=saved.status != "Approved")
        self._saved[clerk_ref] = saved.ref
        return self._verified(saved.ref, saved.status, record, clerk_ref)

    def _verified(self, ref: str, status: str, record: SupplierInvoice, clerk_ref: str) -> Keyed:
        wrong = self.read_back(ref, record, clerk_ref)
        if wrong:
            raise RecordNotVerified(f"Finance invoice {ref} does not show what was keyed for {clerk_ref} "
                                    f"(fields: {', '.join(wrong)})")
        return self._keyed(ref, status, "created", record)

    def create(self, record: SupplierInvoice, clerk_ref: str) -> str:
        return self.create_or_refused(record, clerk_ref).record_reference

    def read_back(self, record_reference: str, record: SupplierInvoice, clerk_ref: str) -> list[str]:
        grid = self.grid
        grid.search(record_reference)
        shown = grid.open_invoice(record_reference).read()
        expected = {
            "Invoice number": record.invoice_number,
            "Invoice date": record.invoice_date.strftime(DATE_FORMAT),
            "PO number": record.po_number,
            "Net": pounds(record.net),
            "VAT": pounds(record.vat),
            "Total": pounds(record.total),
        }
        wrong = [label for label, value in expected.items() if shown.get(label) != value]
        supplier = re.sub(r" \(S\d+\)$", "", shown.get("Supplier", ""))
        if supplier_key(supplier) != supplier_key(record.supplier):
            wrong.append("Supplier")
        if NOTE.format(clerk_ref) not in shown.get("Notes / reference", ""):
            wrong.append("Notes / reference")
        return wrong

    # --- the transaction -----------------------------------------------------------------------------
    def key(self, record: SupplierInvoice, clerk_ref: str) -> Keyed:
        keyed = super().key(record, clerk_ref)
        self._saved.pop(clerk_ref, None)  # answered: from now on it is found as already keyed
        return keyed

    def transact(self, record: SupplierInvoice, clerk_ref: str) -> Keyed:
        self.grid.open(self.settings.url)  # every attempt from a freshly loaded page
        own = self._own(clerk_ref)
        if own and self._saved.get(clerk_ref) == own["Reference"]:  # saved in this session, then interrupted
            return self._verified(own["Reference"], own.get("Status", ""), record, clerk_ref)
        if own:
            return self._keyed(own["Reference"], own.get("Status", ""), "already_keyed", record)
        held = self.find_held(record)
        if held:
            return Keyed(held[0], "duplicate_invoice")
        return self.create_or_refused(record, clerk_ref)

    @staticmethod
    def _keyed(ref: str, status: str, outcome: str, record: SupplierInvoice) -> Keyed:
        """``outcome``, unless Finance holds the invoice on a match failure: then a supervisor decides."""
        if not status.startswith(ON_HOLD):
            return Keyed(ref, outcome)
        return Keyed(ref, "on_hold", ("net",), review=(
            f"Finance saved invoice {ref} 'On hold: match failure': its net amount is more than purchase order "
            f"{record.po_number} allows (what was ordered, or what was received, less what is already invoiced, "
            f"beyond Finance's tolerance). Open {ref} in Finance for the figures. Approve to leave it on hold "
            f"in Finance and tell the sender it is keyed and held for the match; reject to tell the sender what "
            f"to do instead (Finance never pays an invoice on hold: cancel or credit {ref} there)."))


def _values(record: SupplierInvoice, clerk_ref: str, supplier_id: str) -> dict[str, str]:
    """What goes in each field of the New invoice dialog."""
    return {
        "supplier_id": supplier_id,
        "invoice_number": record.invoice_number,
        "invoice_date": record.invoice_date.strftime(DATE_FORMAT),
        "po_number": record.po_number,
        "net": f"{record.net:.2f}",
        "vat": f"{record.vat:.2f}",
        "total": f"{record.total:.2f}",
        "notes": NOTE.format(clerk_ref),
    }


def open_session(runtime: BrowserRuntime, settings: Any, password: str) -> FinanceBot:
    """A Finance session for Clerk's processes (``APPLICATION.session``): ``settings`` are
    ``applications.finance`` (:class:`bots.finance.application.FinanceSettings`)."""
    return FinanceBot(runtime, settings, password)
