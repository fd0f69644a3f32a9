"""Finance: a simulated purchase ledger, for building and testing bots.

A different style again: a 2012 single-page app. ``GET /`` is an empty shell; ``static/finance.js`` fetches
everything from a JSON API with XMLHttpRequest and renders grids and modal dialogs, so nothing is on the
page until its request has answered (the lists take ``grid_delay_ms``).

    with FinanceServer(tmp_path / "finance.db", FinanceConfig(tolerance_pct=2)) as finance:
        ...  # point a browser at finance.url, sign in as clerk-bot / finance

**Page** (every control has a ``<label for>``; dialogs are ``role="dialog"`` named by their heading):

* *Sign in to Purchase Ledger* (dialog, shown whenever the API answers 401, with the reason in its
  ``role="alert"``: "Please sign in." or "Your session has expired. Please sign in again."): "User name",
  "Password", button "Sign in". After signing in, the request that was refused is repeated if it was a read;
  a save is not (the dialog says "Press Save invoice to save the invoice.").
* Tabs ``#/invoices`` (the default), ``#/orders``, ``#/suppliers``. Each view is a grid: a search form
  (label "Search invoices" / "Search purchase orders" / "Search suppliers", button "Search"), a table
  named "Invoices" / "Purchase orders" / "Suppliers", the status line ``#grid-status`` ("Loading...", then
  "Showing 20 of 28 invoices." or "No invoices found.") and a "Load more" button while there is more. The
  invoices grid: Reference (a button opening *Invoice PI-000001*), Supplier, Invoice number, Invoice date,
  PO number, Net, VAT, Total (as £1,234.50), Status, Notes; newest first.
* *New invoice* (dialog, button "New invoice"): "Supplier" (a list: "Pennine Office Supplies Ltd
  (S1001)"), "Invoice number", "Invoice date" (DD/MM/YYYY), "PO number" (leaving it shows the order in
  ``#po-summary``), "Net", "VAT", "Total", "Notes / reference" (where a bot keeps its reference: the
  invoice search finds it), buttons "Cancel" and "Save invoice". Refused: ``#invoice-errors`` (role
  alert) says why, each wrong field gets ``aria-invalid="true"`` and its sentence in ``#e-<field>``. A
  duplicate is refused with "Invoice INV-40021 from Pennine Office Supplies Ltd has already been entered as
  PI-000001.". Saved: dialog *Invoice saved*, ``#save-result`` "Invoice PI-000029 saved. Status:
  Approved." (or "Status: On hold: match failure." with the reasons listed), buttons "Enter another" and
  "Close". "System busy, please try again." shows in the dialog's alert or the grid's status line.

**API** and the rules: :mod:`sandbox.finance.server` (routes, JSON shapes, error codes) and
:mod:`sandbox.finance.rules` (field checks, the duplicate check by supplier and invoice number, the
three-way match that puts an invoice on hold instead of refusing it). Saving and the duplicate check are one
transaction: two saves of the same invoice at once save it once.

**Faults**: ``error_rate`` answers 503 ``{"error": "busy"}`` (a busy save saves nothing), ``latency_ms`` on
every answer, ``grid_delay_ms`` on the lists, ``session_timeout_s`` then 401 ``session_expired``.

**Seeded records**: :mod:`sandbox.finance.fixtures` (five suppliers, purchase orders for each outcome, 28
invoices already entered). :meth:`FinanceServer.invoices` reads every invoice as the API shows it.
"""

from sandbox.finance.config import FinanceConfig
from sandbox.finance.server import FinanceServer, serve

__all__ = ["FinanceConfig", "FinanceServer", "serve"]
