"""Finance's JSON API over HTTP, without a browser: signing in, the lists, entering invoices, the faults."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from sandbox.finance import FinanceConfig, FinanceServer, fixtures
from tests.integration.finance_http import FinanceClient

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(finance: FinanceServer) -> FinanceClient:
    client = FinanceClient(finance.url)
    assert client.log_in().json() == {"user": "clerk-bot"}
    return client


def test_the_page_is_one_shell_the_script_fills(finance: FinanceServer) -> None:
    anonymous = FinanceClient(finance.url)
    page = anonymous.request("/")
    assert page.status == 200
    assert '<main id="view">' in page.text and '<script src="/static/finance.js" defer></script>' in page.text
    assert "Invoices</a>" in page.text and "<table" not in page.text  # the grids come from the API
    assert anonymous.request("/static/finance.js").status == 200


def test_signing_in(finance: FinanceServer) -> None:
    client = FinanceClient(finance.url)
    assert client.get("/api/session").json() == {"error": "not_signed_in", "message": "Please sign in."}
    refused = client.log_in(password="wrong")
    assert (refused.status, refused.json()) == (401, {"error": "login_failed", "message": "Invalid user name or password."})
    assert client.log_in().status == 200
    assert client.get("/api/session").json() == {"user": "clerk-bot"}
    assert client.post_json("/api/logout", {}).json() == {"user": None}
    assert client.get("/api/session").status == 401


def test_suppliers_and_their_search(client: FinanceClient) -> None:
    everyone = client.get("/api/suppliers").json()
    assert [s["id"] for s in everyone["items"]] == ["S1005", "S1002", "S1003", "S1004", "S1001"]  # by name
    assert (everyone["total"], everyone["more"]) == (5, False)
    assert [(s["id"], s["name"]) for s in client.get("/api/suppliers", q="pennine office").json()["items"]] == [
        ("S1004", "Pennine Office Services Ltd"), ("S1001", "Pennine Office Supplies Ltd")
    ]


def test_purchase_orders_come_in_windows_and_one_order_has_its_lines(client: FinanceClient) -> None:
    first = client.get("/api/orders").json()
    assert (len(first["items"]), first["total"], first["offset"], first["more"]) == (20, 32, 0, True)
    assert first["items"][0] == {"po_number": "PO100008", "supplier_id": "S1005", "supplier_name":
                                 "Calder Valley Catering Ltd", "ordered": "240.00", "received": "240.00",
                                 "invoiced": "0.00", "raised": "18/09/2025"}  # fmt: skip
    rest = client.get("/api/orders", offset=20).json()
    assert (len(rest["items"]), rest["more"]) == (12, False)
    order = client.get("/api/order", po="po100003").json()
    assert (order["ordered"], order["received"], order["invoiced"]) == ("2160.00", "720.00", "0.00")
    assert order["lines"] == [{"line": 1, "description": "Grass cutting, Victoria Park", "quantity": 12,
                               "unit_price": "180.00", "received": 4, "ordered_net": "2160.00",
                               "received_net": "720.00"}]  # fmt: skip
    assert client.get("/api/order", po="PO100002").json()["invoiced"] == "447.00"
    missing = client.get("/api/order", po="PO999999")
    assert (missing.status, missing.json()["message"]) == (404, "Purchase order PO999999 does not exist.")


def test_invoices_come_in_windows_newest_first_and_can_be_searched(finance, client) -> None:
    finance.config.page_size = 10
    first = client.get("/api/invoices").json()
    assert (len(first["items"]), first["total"], first["more"]) == (10, 28, True)
    assert first["items"][0]["ref"] == "PI-000028"
    last = client.get("/api/invoices", offset=20).json()
    assert [i["ref"] for i in last["items"]][-4:] == ["PI-000004", "PI-000003", "PI-000002", "PI-000001"]
    assert last["more"] is False
    assert [i["ref"] for i in client.get("/api/invoices", q="inv-40021").json()["items"]] == ["PI-000004", "PI-000001"]
    assert [i["ref"] for i in client.get("/api/invoices", q="whole season").json()["items"]] == ["PI-000003"]
    assert client.get("/api/invoices", q="nothing like this").json()["total"] == 0
    for bad in ({"offset": "-1"}, {"limit": "0"}, {"limit": "101"}, {"offset": "x"}):
        answer = client.get("/api/invoices", **bad)
        assert (answer.status, answer.json()["error"]) == (400, "bad_request")


def test_the_seeded_invoices_are_what_the_fixture_module_documents(finance: FinanceServer) -> None:
    seeded = finance.invoices()
    assert len(seeded) == 4 + fixtures.HISTORY_COUNT
    assert [(i["ref"], i["supplier_id"], i["invoice_number"], i["po_number"], i["status"]) for i in seeded[:4]] == [
        ("PI-000001", "S1001", "INV-40021", "PO100002", "Approved"),
        ("PI-000002", "S1003", "NPC/24/0117", "PO100005", "Approved"),
        ("PI-000003", "S1002", "DGM-0042", "PO100003", "On hold: match failure"),
        ("PI-000004", "S1004", "INV-40021", "PO100007", "Approved"),
    ]
    assert all(i["status"] == "Approved" for i in seeded[4:])


def test_an_invoice_that_matches_its_order_is_approved_and_reads_back(finance, client) -> None:
    saved = client.enter()
    assert saved.status == 201
    invoice = saved.json()["invoice"]
    assert invoice == client.get("/api/invoice", ref="pi-000029").json()
    assert {k: invoice[k] for k in ("ref", "supplier_id", "supplier_name", "invoice_number", "invoice_date",
                                   "po_number", "net", "vat", "total", "notes", "status", "entered_by")} == {
        "ref": "PI-000029", "supplier_id": "S1001", "supplier_name": "Pennine Office Supplies Ltd",
        "invoice_number": "INV-50001", "invoice_date": "01/10/2025", "po_number": "PO100001", "net": "474.96",
        "vat": "94.99", "total": "569.95", "notes": "Clerk ref: CLK-INVOICE001", "status": "Approved",
        "entered_by": "clerk-bot",
    }  # fmt: skip
    assert invoice["match"] == {"passed": True, "ordered": "474.96", "received": "474.96", "invoiced_before": "0.00",
                                "tolerance_pct": 2.0, "reasons": []}  # fmt: skip
    assert [i["ref"] for i in client.get("/api/invoices", q="clk-invoice001").json()["items"]] == ["PI-000029"]
    assert finance.invoices()[-1] == invoice
    assert client.get("/api/invoice", ref="PI-999999").status == 404


def test_a_duplicate_is_refused_naming_the_invoice_already_entered(finance, client) -> None:
    seeded = client.enter(supplier_id="s1001", invoice_number=" inv-40021 ", po_number="PO100002", net="447.00",
                          vat="89.40", total="536.40")  # fmt: skip
    assert seeded.status == 409
    answer = seeded.json()
    assert answer["message"] == "Invoice INV-40021 from Pennine Office Supplies Ltd has already been entered as PI-000001."
    assert (answer["error"], answer["existing"]["ref"], answer["existing"]["status"]) == ("duplicate", "PI-000001", "Approved")
    # The same number from another supplier is a different invoice.
    assert client.enter(supplier_id="S1003", invoice_number="INV-40021", po_number="PO100005", net="95.00",
                        vat="19.00", total="114.00").status == 201  # fmt: skip
    # Entering the same invoice twice (a retry) saves it once; on hold or not.
    assert client.enter().status == 201
    again = client.enter(invoice_number="inv-500 01")  # letter case and spaces do not make it another invoice
    assert again.status == 409 and again.json()["existing"]["ref"] == "PI-000030"
    held = client.enter(supplier_id="S1002", invoice_number="DGM-0042", po_number="PO100003", net="1.00",
                        vat="0.20", total="1.20")  # fmt: skip
    assert held.json()["message"] == ("Invoice DGM-0042 from Dales Grounds Maintenance Ltd has already been entered "
                                      "as PI-000003.")  # fmt: skip
    assert len(finance.invoices()) == 30


def test_two_saves_of_one_invoice_at_once_save_it_once(finance: FinanceServer) -> None:
    clients = [FinanceClient(finance.url) for _ in range(2)]
    for client in clients:
        client.log_in()
    statuses: list[int] = []
    start = threading.Barrier(2)

    def save(client: FinanceClient) -> None:
        start.wait()
        statuses.append(client.enter().status)

    threads = [threading.Thread(target=save, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409]
    assert len(finance.invoices()) == 29


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"supplier_id": "", "invoice_number": "", "invoice_date": "", "po_number": "", "net": "", "vat": "", "total": ""},
         {"supplier_id": "Supplier is required.", "invoice_number": "Invoice number is required.",
          "invoice_date": "Invoice date is required.", "po_number": "PO number is required.", "net": "Net is required.",
          "vat": "VAT is required.", "total": "Total is required."}),
        ({"invoice_number": "INV 500#1"}, {"invoice_number": "Invoice number may only have letters, digits and / - _ . (up to 30)."}),
        ({"invoice_date": "2025-10-01"}, {"invoice_date": "Invoice date must be a real date in the format DD/MM/YYYY."}),
        ({"invoice_date": "31/09/2025"}, {"invoice_date": "Invoice date must be a real date in the format DD/MM/YYYY."}),
        ({"invoice_date": "01/01/2999"}, {"invoice_date": "Invoice date must not be in the future."}),
        ({"po_number": "PO-100001"}, {"po_number": "PO number must be PO followed by six digits, like PO100001."}),
        ({"net": "474.961", "vat": "-94.99"}, {"net": "Net must be an amount in pounds and pence, like 1234.56.",
                                              "vat": "VAT must be an amount in pounds and pence, like 1234.56."}),
        ({"total": "569.96"}, {"total": "Total must be net + VAT (£474.96 + £94.99 = £569.95)."}),
        ({"vat": "83.12", "total": "558.08"}, {"vat": "VAT £83.12 is not 0%, 5% or 20% of the net amount £474.96."}),
        ({"notes": "n" * 201}, {"notes": "Notes must be 200 characters or fewer."}),
        ({"supplier_id": "S9999"}, {"supplier_id": "Supplier S9999 does not exist."}),
        ({"po_number": "PO999999"}, {"po_number": "Purchase order PO999999 does not exist."}),
        ({"po_number": "PO100007"}, {"po_number": "Purchase order PO100007 was raised for Pennine Office Services Ltd "
                                                  "(S1004), not for Pennine Office Supplies Ltd."}),
    ],
    ids=["all-missing", "invoice-number", "iso-date", "no-such-date", "future-date", "po-format", "amounts",
         "total", "vat-rate", "notes", "no-supplier", "no-order", "someone-else-s-order"],
)  # fmt: skip
def test_an_invoice_with_wrong_fields_is_refused_field_by_field(finance, client, fields, expected) -> None:
    answer = client.enter(**fields)
    assert answer.status == 422
    assert answer.json() == {"error": "invalid", "message": "The invoice has not been saved: please correct the "
                             "fields shown.", "errors": expected}  # fmt: skip
    assert len(finance.invoices()) == 28


def test_amounts_may_be_typed_as_people_type_them(client: FinanceClient) -> None:
    saved = client.enter(supplier_id="S1002", po_number="PO100004", net="£1,300", vat="260", total=1560)
    assert saved.status == 201 and (saved.json()["invoice"]["net"], saved.json()["invoice"]["total"]) == ("1300.00", "1560.00")


@pytest.mark.parametrize(
    ("po", "supplier", "net", "vat", "status", "reasons"),
    [
        # 12 cuts ordered, 4 received: billing all 12 fails on goods received only.
        ("PO100003", "S1002", "2160.00", "432.00", "On hold: match failure",
         ["Invoiced £2,160.00 against the order (£0.00 before this one) is more than the £720.00 of goods received, "
          "beyond the 2% tolerance."]),
        ("PO100003", "S1002", "720.00", "144.00", "Approved", []),
        # Nothing received yet.
        ("PO100006", "S1003", "95.00", "19.00", "On hold: match failure",
         ["Invoiced £95.00 against the order (£0.00 before this one) is more than the £0.00 of goods received, "
          "beyond the 2% tolerance."]),
        # 2% over the order and the goods received is within tolerance; a penny more is not.
        ("PO100004", "S1002", "1326.00", "265.20", "Approved", []),
        ("PO100004", "S1002", "1326.01", "265.20", "On hold: match failure",
         ["Invoiced £1,326.01 against the order (£0.00 before this one) is more than the £1,300.00 ordered, beyond "
          "the 2% tolerance.",
          "Invoiced £1,326.01 against the order (£0.00 before this one) is more than the £1,300.00 of goods received, "
          "beyond the 2% tolerance."]),
        # Half of PO100002 is already invoiced (PI-000001): the other half matches, more does not.
        ("PO100002", "S1001", "447.00", "89.40", "Approved", []),
        ("PO100002", "S1001", "596.00", "119.20", "On hold: match failure",
         ["Invoiced £1,043.00 against the order (£447.00 before this one) is more than the £894.00 ordered, beyond "
          "the 2% tolerance.",
          "Invoiced £1,043.00 against the order (£447.00 before this one) is more than the £894.00 of goods received, "
          "beyond the 2% tolerance."]),
    ],
    ids=["not-all-received", "what-was-received", "nothing-received", "within-tolerance", "a-penny-over",
         "rest-of-a-part-invoiced-order", "over-a-part-invoiced-order"],
)  # fmt: skip
def test_a_failed_three_way_match_saves_the_invoice_on_hold(finance, client, po, supplier, net, vat, status, reasons):
    total = f"{float(net) + float(vat):.2f}"
    saved = client.enter(supplier_id=supplier, po_number=po, net=net, vat=vat, total=total)
    assert saved.status == 201
    invoice = saved.json()["invoice"]
    assert (invoice["status"], invoice["match"]["reasons"], invoice["match"]["passed"]) == (status, reasons, not reasons)
    assert finance.invoices()[-1]["status"] == status


def test_invoices_on_hold_do_not_count_as_invoiced(client: FinanceClient) -> None:
    """PI-000003 (on hold) billed all of PO100003; only approved invoices use the order up."""
    assert client.get("/api/order", po="PO100003").json()["invoiced"] == "0.00"
    first = client.enter(supplier_id="S1002", po_number="PO100003", net="720.00", vat="144.00", total="864.00")
    assert first.json()["invoice"]["match"]["invoiced_before"] == "0.00"
    second = client.enter(supplier_id="S1002", invoice_number="INV-50002", po_number="PO100003", net="0.01",
                          vat="0.00", total="0.01")  # fmt: skip
    assert second.json()["invoice"]["match"]["invoiced_before"] == "720.00"
    assert second.json()["invoice"]["status"] == "Approved"  # 720.01 is within 2% of the 720.00 received


def test_the_tolerance_is_a_knob(finance: FinanceServer, client: FinanceClient) -> None:
    finance.config.tolerance_pct = 0
    over = client.enter(supplier_id="S1002", po_number="PO100004", net="1300.01", vat="260.00", total="1560.01")
    assert over.json()["invoice"]["status"] == "On hold: match failure"
    assert over.json()["invoice"]["match"]["reasons"][0].endswith("beyond the 0% tolerance.")
    exact = client.enter(supplier_id="S1001", po_number="PO100001", invoice_number="INV-50003")
    assert exact.json()["invoice"]["status"] == "Approved"


def test_a_body_that_is_not_a_json_object_is_a_bad_request(client: FinanceClient) -> None:
    for body in (b"not json", b"[1, 2]"):
        answer = client.post_json("/api/invoices", body)
        assert (answer.status, answer.json()["message"]) == (400, "The request body must be a JSON object.")


# --- faults --------------------------------------------------------------------------------------


def test_system_busy_is_a_503_that_saves_nothing(finance: FinanceServer, client: FinanceClient) -> None:
    finance.config.error_rate = 1.0
    busy = client.enter()
    assert (busy.status, busy.json()) == (503, {"error": "busy", "message": "System busy, please try again."})
    page = client.request("/")
    assert page.status == 503 and "System busy, please try again." in page.text
    assert client.request("/static/finance.js").status == 200
    finance.config.error_rate = 0.0
    assert len(finance.invoices()) == 28
    assert client.enter().status == 201


def test_latency_and_the_grid_delay(finance: FinanceServer, client: FinanceClient) -> None:
    finance.config.latency_ms = 150
    started = time.monotonic()
    client.request("/static/finance.css")
    assert time.monotonic() - started >= 0.15
    finance.config.latency_ms = 0
    finance.config.grid_delay_ms = 250
    for path in ("/api/invoices", "/api/orders"):
        started = time.monotonic()
        assert client.get(path).status == 200
        assert time.monotonic() - started >= 0.25


def test_an_expired_session_is_a_401_and_signing_in_again_carries_on(finance, client) -> None:
    finance.expire_sessions()
    expired = client.enter()
    assert (expired.status, expired.json()) == (401, {"error": "session_expired",
                                                      "message": "Your session has expired. Please sign in again."})  # fmt: skip
    assert client.get("/api/invoices").json()["error"] == "not_signed_in"  # the cookie was cleared
    client.log_in()
    assert client.enter().status == 201
    finance.config.session_timeout_s = 0
    assert client.get("/api/session").json()["error"] == "session_expired"


def test_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in {"FINANCE_LATENCY_MS": "5", "FINANCE_ERROR_RATE": "0.5", "FINANCE_SESSION_TIMEOUT_S": "30",
                            "FINANCE_GRID_DELAY_MS": "0", "FINANCE_TOLERANCE_PCT": "5", "FINANCE_PAGE_SIZE": "50",
                            "FINANCE_SEED": "3"}.items():  # fmt: skip
        monkeypatch.setenv(variable, value)
    assert FinanceConfig.from_env() == FinanceConfig(latency_ms=5, error_rate=0.5, session_timeout_s=30,
                                                     grid_delay_ms=0, tolerance_pct=5, page_size=50, seed=3)  # fmt: skip
    for variable, bad in (("FINANCE_TOLERANCE_PCT", "two"), ("FINANCE_TOLERANCE_PCT", "101"),
                          ("FINANCE_GRID_DELAY_MS", "-5"), ("FINANCE_SEED", "abc")):  # fmt: skip
        monkeypatch.setenv(variable, bad)
        with pytest.raises(ValueError, match=rf"^{variable}='{bad}' is not valid: "):
            FinanceConfig.from_env()
        monkeypatch.delenv(variable)


def test_every_knob_is_documented_in_the_sandbox_readme() -> None:
    from sandbox.finance.config import _ENV

    text = (ROOT / "sandbox" / "README.md").read_text()
    missing = sorted(variable for variable, _ in _ENV.values() if f"`{variable}`" not in text)
    assert not missing, f"Finance knobs missing from sandbox/README.md: {missing}"
