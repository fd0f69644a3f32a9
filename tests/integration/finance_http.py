"""Finance's JSON API over HTTP, as its page's script calls it."""

from __future__ import annotations

from tests.integration.sandbox_http import Response, SandboxClient


def invoice_fields(**overrides: str) -> dict[str, str]:
    """A correct invoice for PO100001 (Pennine Office Supplies, S1001): the whole order, VAT at 20%."""
    fields = {
        "supplier_id": "S1001",
        "invoice_number": "INV-50001",
        "invoice_date": "01/10/2025",
        "po_number": "PO100001",
        "net": "474.96",
        "vat": "94.99",
        "total": "569.95",
        "notes": "Clerk ref: CLK-INVOICE001",
    }
    fields.update(overrides)
    return fields


class FinanceClient(SandboxClient):
    def log_in(self, user: str = "clerk-bot", password: str = "finance") -> Response:
        return self.post_json("/api/login", {"username": user, "password": password})

    def enter(self, **overrides: str) -> Response:
        """Save an invoice: :func:`invoice_fields` with ``overrides``."""
        return self.post_json("/api/invoices", invoice_fields(**overrides))
