"""Revenues' screens over HTTP, without a browser: log on, frames, search, the account, the register, faults."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sandbox.revenues import RevenuesConfig, RevenuesServer, fixtures
from tests.integration.revenues_http import RevenuesClient, day, errors, results
from tests.integration.sandbox_http import Tables

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(revenues: RevenuesServer) -> RevenuesClient:
    return RevenuesClient(revenues.url)


def _window_around_now(hours_from_now: int) -> str:
    """A one-hour batch window starting ``hours_from_now`` hours from now (0: it contains now)."""
    start = datetime.now() + timedelta(hours=hours_from_now) - timedelta(minutes=30 if hours_from_now == 0 else 0)
    end = start + timedelta(hours=1)
    return f"{start:%H:%M}-{end:%H:%M}"


def test_log_on_lands_on_the_frameset_and_a_wrong_password_is_refused(client: RevenuesClient) -> None:
    refused = client.log_in(password="wrong")
    assert errors(refused) == ["RV-101 Invalid user ID or password."]
    assert client.request("/main/welcome").url.endswith("/")  # not logged on: back to the log-on page
    frames = client.log_in()
    assert re.findall(r'<frame name="(\w+)" src="([^"]+)"', frames.text) == [
        ("menu", "/menu"), ("nav", "/nav"), ("main", "/main/welcome")
    ]
    assert "User: clerk-bot" in client.request("/menu").text
    welcome = Tables(client.request("/main/welcome").text).tables["summary"]
    assert welcome == [["Accounts", "14"], ["Properties", "26"], ["Live liabilities", "12"]]
    assert client.request("/logout").url.endswith("/?loggedout=1")
    assert client.request("/main/welcome").url.endswith("/")


def test_screens_label_fields_in_table_cells_and_buttons_have_access_keys(client: RevenuesClient) -> None:
    client.log_in()
    screens = ["/", "/main/search", "/main/move?acct=60010011", "/main/notes?acct=60010011", "/main/properties"]
    pages = {path: client.request(path).text for path in screens}
    pages["/"] = RevenuesClient(client.base_url).request("/").text  # the log-on page
    expected = {
        "/": ["User ID", "USERID", "Password", "PASSWD"],
        "/main/search": ["Account number", "ACCTNO", "Surname", "SURNAME", "Forename", "FORENAME", "Postcode",
                         "PCODE", "Address", "ADDRESS", "Notes contain", "NOTES"],
        "/main/move?acct=60010011": ["Move-out date", "MOVEOUT", "New postcode", "NEWPCODE", "New property",
                                     "NEWPROP", "Move-in date", "MOVEIN", "Note", "NOTE"],
        "/main/notes?acct=60010011": ["Note", "NOTE"],
        "/main/properties": ["Postcode", "PCODE", "Address", "ADDRESS"],
    }  # fmt: skip
    for path, text in pages.items():
        assert "<label" not in text, path
        pairs = re.findall(r'<td class="lbl">([^<]+)</td><td><(?:input|select) type="\w+" name="(\w+)"'
                           r'|<td class="lbl">([^<]+)</td><td><select name="(\w+)"', text)  # fmt: skip
        assert [part for pair in pairs for part in pair if part] == expected[path], path
    keys = re.findall(r'accesskey="(\w)">([^<]+)<', pages["/main/move?acct=60010011"])
    assert keys == [("f", "Find (F4)"), ("s", "Save (F10)"), ("c", "Cancel (Esc)")]
    script = client.request("/static/revenues.js").text
    for key in ("'F2'", "'F4'", "'F10'", "'Escape'", "'Enter'"):
        assert key in script


def test_a_surname_search_returns_several_accounts_to_choose_from(client: RevenuesClient) -> None:
    client.log_in()
    found = results(client.search(SURNAME="smith"))
    assert [(r["Account"], r["Name"], r["Property address"], r["Postcode"], r["Status"]) for r in found] == [
        ("60010037", "SMITH, Jane (Mrs)", "3 Church Street, Millbrook, Northdale", "ND2 7QT", "Live"),
        ("60010011", "SMITH, John (Mr)", "14 Park Road, Eastfield, Northdale", "ND1 4AB", "Live"),
        ("60010029", "SMITH, John (Mr)", "88 Park Road, Eastfield, Northdale", "ND1 4AD", "Live"),
        ("60010045", "SMITH, John (Mr)", "14 Park Road, Eastfield, Northdale", "ND1 4AB", "Closed"),
    ]
    same_address = results(client.search(PCODE="nd2 3hs"))
    assert [(r["Account"], r["Name"]) for r in same_address] == [
        ("60010079", "HUGHES, David (Mr)"), ("60010087", "OKAFOR, Grace (Miss)")
    ]
    assert [r["Account"] for r in results(client.search(SURNAME="Sm", FORENAME="jo", ADDRESS="14 park"))] == [
        "60010011", "60010045"
    ]
    assert [r["Account"] for r in results(client.search(ADDRESS="22 station road"))] == ["60010053", "60010061"]
    assert [r["Account"] for r in results(client.search(ACCTNO="60010134"))] == ["60010134"]  # O'Brien
    assert [r["Account"] for r in results(client.search(NOTES="joint occupiers"))] == ["60010079", "60010087"]
    assert len(results(client.search(PCODE="ND1"))) == 6
    assert "No accounts found." in client.search(SURNAME="Nobody").text


def test_search_results_come_a_page_at_a_time(revenues: RevenuesServer, client: RevenuesClient) -> None:
    revenues.config.page_size = 2
    client.log_in()
    first = client.search(SURNAME="smith")
    assert Tables(first.text).text("pager") == "Page 1 of 2 (4 accounts found) Next page"
    assert [r["Account"] for r in results(first)] == ["60010037", "60010011"]
    second = client.request(re.search(r'href="(/main/results\?[^"]+)" accesskey="n"', first.text).group(1)
                            .replace("&amp;", "&"))  # fmt: skip
    assert [r["Account"] for r in results(second)] == ["60010029", "60010045"]
    assert Tables(second.text).text("pager") == "Page 2 of 2 (4 accounts found) Previous page"
    beyond = client.search(SURNAME="smith", page="9")
    assert [r["Account"] for r in results(beyond)] == ["60010029", "60010045"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, ["Enter at least one search field."]),
        ({"SURNAME": "s"}, ["Surname: enter at least 2 letters."]),
        ({"ACCTNO": "6001"}, ["Account number must be 8 digits."]),
        ({"PCODE": "12345"}, ["Postcode is not a valid postcode or the first half of one."]),
        ({"ADDRESS": "14", "NOTES": "ab"}, ["Address: enter at least 3 characters.", "Notes contain: enter at least 3 characters."]),
    ],
)  # fmt: skip
def test_a_search_that_cannot_run_says_why(client: RevenuesClient, fields: dict, expected: list[str]) -> None:
    client.log_in()
    page = client.search(**fields)
    assert "<h2>Account search</h2>" in page.text
    assert errors(page) == expected


def test_the_account_screen_reads_back_details_liabilities_and_notes(client: RevenuesClient) -> None:
    client.log_in()
    page = Tables(client.request("/main/account?acct=60010142").text)
    assert page.tables["account"] == [
        ["Account number", "60010142"], ["Name", "Mr Rhys Evans"], ["Status", "Live"],
        ["Property", "P10012 2 Chapel Lane, Millbrook, Northdale ND2 1BE"],
    ]  # fmt: skip
    assert [(r["Liability"], r["Property"], r["From"], r["To"], r["Status"]) for r in page.rows("liabilities")] == [
        ("L000006", "P10005", "01/02/2016", "06/01/2019", "Ended"),
        ("L000015", "P10012", "07/01/2019", "", "Live"),
    ]
    assert Tables(client.request("/main/account?acct=60010011").text).text("notes") == (
        "Single person discount from 01/04/2016."
    )
    missing = client.request("/main/account?acct=60000000")
    assert missing.status == 404 and errors(missing) == ["Account 60000000 does not exist."]


def test_the_property_register_shows_who_is_liable(client: RevenuesClient) -> None:
    client.log_in()
    rows = Tables(client.get("/main/properties", find=1, PCODE="ND2 5LP").text).rows("properties")
    assert [(r["Property"], r["Address"], r["Liable account(s)"]) for r in rows] == [
        ("P10007", "12 Mill Lane, Millbrook, Northdale", "Empty"),
        ("P10033", "11 Mill Lane, Millbrook, Northdale", "Empty"),
    ]
    shared = Tables(client.get("/main/properties", find=1, ADDRESS="albert terrace").text).rows("properties")
    assert [(r["Property"], r["Liable account(s)"]) for r in shared] == [("P10006", "60010079 60010087"),
                                                                         ("P10031", "Empty")]  # fmt: skip
    assert errors(client.get("/main/properties", find=1)) == [
        "Enter a postcode, or at least 3 characters of the address."
    ]
    assert "id=\"properties\"" not in client.request("/main/properties").text  # nothing searched yet


def test_the_seeded_records_are_what_the_fixture_module_documents(revenues: RevenuesServer) -> None:
    assert [a["account_no"] for a in revenues.accounts()] == sorted(a.account_no for a in fixtures.ACCOUNTS)
    assert [li["ref"] for li in revenues.liabilities()] == [li.ref for li in fixtures.LIABILITIES]
    assert [p.ref for p in fixtures.VACANT] == ["P10007", *(f"P100{n}" for n in range(20, 34))]
    assert len(fixtures.LIVE) == 12 and fixtures.current_property("60010011").address_1 == "14 Park Road"


def test_moves_survive_a_restart_and_the_fixtures_are_loaded_once(tmp_path: Path) -> None:
    with RevenuesServer(tmp_path / "r.db") as first:
        client = RevenuesClient(first.url)
        client.log_in()
        client.move("60010029", move_out=day(-2), new_property="P10020", move_in=day(-1))
    with RevenuesServer(tmp_path / "r.db") as second:
        assert len(second.liabilities()) == 16 and len(second.accounts()) == 14


# --- faults --------------------------------------------------------------------------------------


def test_system_busy_is_a_503_that_saves_nothing_and_static_files_are_never_busy(revenues, client) -> None:
    client.log_in()
    revenues.config.error_rate = 1.0
    busy = client.move("60010029", move_out=day(-2), new_property="P10020", move_in=day(-1))
    assert busy.status == 503 and errors(busy) == ["RV-503 The Revenues server is busy. No changes have been saved."]
    assert '<a href="/main/welcome">Try again</a>' in busy.text
    assert '<a href="/main/results?SURNAME=x">Try again</a>' in client.search(SURNAME="x").text
    assert client.request("/static/revenues.css").status == 200
    assert len(revenues.liabilities()) == 15
    revenues.config.error_rate = 0.0
    assert errors(client.move("60010029", move_out=day(-2), new_property="P10020", move_in=day(-1))) == []


def test_latency_is_added_to_every_response(revenues: RevenuesServer, client: RevenuesClient) -> None:
    revenues.config.latency_ms = 200
    started = time.monotonic()
    client.request("/static/revenues.js")
    assert time.monotonic() - started >= 0.2


def test_an_expired_session_goes_back_to_log_on_and_breaks_out_of_the_frames(revenues, client) -> None:
    client.log_in()
    revenues.expire_sessions()
    page = client.request("/main/search")
    assert page.url.endswith("/?expired=1")
    assert Tables(page.text).text("message") == "Your session has timed out. Please log on again."
    assert "rvBreakOutOfFrames();" in page.text and 'target="_top"' in page.text
    assert "<frameset" in client.log_in().text
    revenues.config.session_timeout_s = 0  # every session is idle for longer than this at once
    assert client.request("/main/welcome").url.endswith("/?expired=1")


def test_the_batch_window_makes_the_system_read_only(revenues: RevenuesServer, client: RevenuesClient) -> None:
    client.log_in()
    window = _window_around_now(0)
    revenues.config.batch_window = window
    until = window[-5:]
    banner = f"Batch run in progress: the system is read-only until {until}."
    assert Tables(client.request("/main/welcome").text).text("batchBanner") == banner
    assert Tables(client.request("/menu").text).text("batchBanner") == banner
    found = client.find("60010029", "ND3 1EF")  # reading still works
    assert "P10020 9 Oak Avenue" in found.text
    refused = client.move("60010029", move_out=day(-2), new_property="P10020", move_in=day(-1))
    assert refused.status == 503
    assert errors(refused) == [f"RV-423 The overnight batch is running: the system is read-only until {until}. "
                               "No changes have been saved."]  # fmt: skip
    assert client.request("/main/notes", {"ACCTNO": "60010029", "NOTE": "x"}).status == 503
    assert len(revenues.liabilities()) == 15 and "x" not in revenues.accounts()[1]["notes"]
    revenues.config.batch_window = _window_around_now(3)  # later today (or tonight): writable now
    assert "batchBanner" not in client.request("/main/welcome").text
    assert errors(client.move("60010029", move_out=day(-2), new_property="P10020", move_in=day(-1))) == []


@pytest.mark.parametrize(
    ("window", "now", "until"),
    [
        ("01:00-03:30", "02:00", "03:30"), ("01:00-03:30", "03:30", None), ("01:00-03:30", "00:59", None),
        ("22:00-02:00", "23:15", "02:00"), ("22:00-02:00", "01:59", "02:00"), ("22:00-02:00", "12:00", None),
        ("00:00-24:00", "23:59", "24:00"), ("", "02:00", None),
    ],
)  # fmt: skip
def test_batch_until(window: str, now: str, until: str | None) -> None:
    moment = datetime.combine(datetime.today(), datetime.strptime(now, "%H:%M").time())
    assert RevenuesConfig(batch_window=window).batch_until(moment) == until


def test_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in {"REVENUES_LATENCY_MS": "5", "REVENUES_ERROR_RATE": "0.25", "REVENUES_SESSION_TIMEOUT_S": "60",
                            "REVENUES_BATCH_WINDOW": "01:00-03:30", "REVENUES_MAX_FUTURE_DAYS": "14",
                            "REVENUES_PAGE_SIZE": "3", "REVENUES_SEED": "9"}.items():  # fmt: skip
        monkeypatch.setenv(variable, value)
    assert RevenuesConfig.from_env(page_size=4) == RevenuesConfig(
        latency_ms=5, error_rate=0.25, session_timeout_s=60, batch_window="01:00-03:30", max_future_days=14,
        page_size=4, seed=9,
    )  # fmt: skip
    for variable, bad in (("REVENUES_BATCH_WINDOW", "25:00-01:00"), ("REVENUES_BATCH_WINDOW", "night"),
                          ("REVENUES_MAX_FUTURE_DAYS", "-1"), ("REVENUES_ERROR_RATE", "often"),
                          ("REVENUES_PAGE_SIZE", "0")):  # fmt: skip
        monkeypatch.setenv(variable, bad)
        with pytest.raises(ValueError, match=rf"^{variable}='{bad}' is not valid: "):
            RevenuesConfig.from_env()
        monkeypatch.delenv(variable)
    with pytest.raises(TypeError, match="unknown Revenues setting"):
        RevenuesConfig.from_env(popup=True)


def test_every_knob_is_documented_in_the_sandbox_readme() -> None:
    from sandbox.revenues.config import _ENV

    text = (ROOT / "sandbox" / "README.md").read_text()
    missing = sorted(variable for variable, _ in _ENV.values() if f"`{variable}`" not in text)
    assert not missing, f"Revenues knobs missing from sandbox/README.md: {missing}"
