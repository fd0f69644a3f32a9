"""The Finance bot in real Chromium against the Finance sandbox: an invoice is keyed once, whatever happens.

Each test starts from the seeded ledger (sandbox/finance/fixtures.py): PI-000001 is Pennine Office Supplies'
INV-40021, PI-000004 the look-alike Pennine Office Services' INV-40021; PO100001 is a clean match, PO100003 has
only a third of its grass cuts received.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from bots.finance.application import FinanceSettings
from bots.finance.bot import FinanceBot
from bots.runtime import BrowserRuntime
from connectors.documents.invoice import SupplierInvoice, validate_invoice
from connectors.errors import ApplicationUnavailable, BusinessError
from sandbox.finance import FinanceServer

pytestmark = pytest.mark.browser
CLERK_REF = "CLK-FINANCE001"


def invoice(**overrides: object) -> SupplierInvoice:
    """Pennine Office Supplies' invoice for the whole of PO100001 (a clean match), with ``overrides``."""
    fields: dict[str, object] = {
        "supplier": "Pennine Office Supplies Ltd",
        "invoice_number": "INV-60001",
        "invoice_date": (date.today() - timedelta(days=3)).strftime("%d/%m/%Y"),
        "po_number": "PO100001",
        "net": "474.96",
        "vat": "94.99",
        "total": "569.95",
    }
    fields.update(overrides)
    return validate_invoice(fields)


@pytest.fixture
def bot(finance: FinanceServer, browser_runtime: BrowserRuntime) -> Iterator[FinanceBot]:
    settings = FinanceSettings(url=finance.url, retries=2)
    session = FinanceBot(browser_runtime, settings, "finance")
    yield session
    session.close()


def new_invoices(finance: FinanceServer) -> list[dict]:
    return [row for row in finance.invoices() if row["entered_by"] == "clerk-bot"]


def test_an_invoice_is_keyed_with_its_reference_and_a_retry_finds_it(finance, bot):
    keyed = bot.key(invoice(), CLERK_REF)
    again = bot.key(invoice(), CLERK_REF)

    assert (keyed.outcome, keyed.record_reference) == ("created", "PI-000029")
    assert (again.outcome, again.record_reference) == ("already_keyed", "PI-000029")
    [saved] = new_invoices(finance)
    assert (saved["supplier_id"], saved["invoice_number"], saved["po_number"], saved["total"], saved["status"],
            saved["notes"]) == ("S1001", "INV-60001", "PO100001", "569.95", "Approved", f"Clerk ref: {CLERK_REF}")


def test_the_same_suppliers_invoice_number_is_a_duplicate_naming_the_invoice_already_entered(finance, bot):
    seeded = invoice(invoice_number="inv-40021", po_number="PO100002", net="447.00", vat="89.40", total="536.40")
    look_alike = invoice(supplier="Pennine Office Services Limited", invoice_number="INV-40021",
                         po_number="PO100007", net="129.98", vat="26.00", total="155.98")

    assert (bot.key(seeded, CLERK_REF).outcome, bot.key(seeded, CLERK_REF).record_reference) == (
        "duplicate_invoice", "PI-000001")
    assert bot.key(look_alike, "CLK-FINANCE002").record_reference == "PI-000004", "the supplier counts too"
    assert new_invoices(finance) == []


@pytest.mark.parametrize(("changes", "code", "words"), [
    ({"po_number": "PO999999"}, "PO_REFUSED", "Purchase order PO999999 does not exist."),
    ({"po_number": "PO100007", "net": "129.98", "vat": "26.00", "total": "155.98"}, "PO_REFUSED",
     "was raised for Pennine Office Services Ltd"),
    ({"supplier": "Pennine Office Solutions Ltd"}, "SUPPLIER_UNKNOWN", "not one of our suppliers"),
])
def test_what_finance_will_not_take_is_the_senders_to_fix(finance, bot, changes, code, words):
    with pytest.raises(BusinessError) as refused:
        bot.key(invoice(**changes), CLERK_REF)

    assert refused.value.code == code
    assert words in " ".join(refused.value.reasons)
    assert new_invoices(finance) == []


def test_a_three_way_match_failure_is_held_for_a_supervisor_and_a_retry_finds_it_held(finance, bot):
    whole_season = invoice(supplier="Dales Grounds Maintenance Ltd", invoice_number="DGM-2001",
                           po_number="PO100003", net="2160.00", vat="432.00", total="2592.00")

    keyed = bot.key(whole_season, CLERK_REF)
    again = bot.key(whole_season, CLERK_REF)

    assert (keyed.outcome, keyed.record_reference, keyed.differences) == ("on_hold", "PI-000029", ("net",))
    assert "PI-000029" in keyed.review and "PO100003" in keyed.review and "2,160" not in keyed.review
    assert (again.outcome, again.record_reference) == ("on_hold", "PI-000029")
    [saved] = new_invoices(finance)
    assert saved["status"] == "On hold: match failure"


def test_an_expired_session_signs_in_again_and_keys_once(finance, bot):
    bot.key(invoice(supplier="Calder Valley Catering Ltd", invoice_number="CVC-501", po_number="PO100008",
                    net="240.00", vat="48.00", total="288.00"), "CLK-FINANCE003")
    finance.expire_sessions()

    keyed = bot.key(invoice(), CLERK_REF)

    assert keyed.outcome == "created" and bot.logins == 2
    assert len(new_invoices(finance)) == 2


def test_busy_answers_are_retried_then_a_system_fault_and_never_a_second_invoice(finance, bot):
    finance.config.error_rate = 0.3  # seeded: some reads and saves are answered "System busy"
    outcomes = []
    for _attempt in range(6):
        try:
            outcomes.append(bot.key(invoice(), CLERK_REF).outcome)
        except ApplicationUnavailable:
            outcomes.append("unavailable")
    finance.config.error_rate = 1.0
    with pytest.raises(ApplicationUnavailable):
        bot.key(invoice(), CLERK_REF)

    assert "created" in outcomes or "already_keyed" in outcomes
    assert len(new_invoices(finance)) == 1, outcomes


def test_an_invoice_saved_before_a_fault_is_still_created_when_the_retry_finds_it(finance, bot):
    """Finance answers "System busy" to every read after the save: the attempt fails as a system fault; the
    flow's retry finds the invoice by its Clerk reference, reads it back, and it is still ``created``."""
    saved = []
    original = bot.read_back

    def read_back(record_reference, record, clerk_ref):
        if not saved:
            saved.append(record_reference)
            finance.config.error_rate = 1.0  # from here on Finance answers "System busy"
        return original(record_reference, record, clerk_ref)

    bot.read_back = read_back
    with pytest.raises(ApplicationUnavailable):
        bot.key(invoice(), CLERK_REF)
    finance.config.error_rate = 0.0
    retried = bot.key(invoice(), CLERK_REF)

    assert (retried.outcome, retried.record_reference) == ("created", saved[0])
    assert bot.key(invoice(), CLERK_REF).outcome == "already_keyed", "once answered, it is found as keyed"
    assert len(new_invoices(finance)) == 1
