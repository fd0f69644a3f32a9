"""Casebook's server over HTTP, without a browser: fast checks of each hard part on its own."""

from __future__ import annotations

import http.client
import re
import time
from datetime import date

import pytest

from connectors.documents.blue_badge import Eligibility
from sandbox.casebook import CasebookConfig, CasebookServer
from tests.integration.casebook_http import CasebookClient, Form, case_fields

ID_PATTERN = re.compile(r'id="(ctl00_Main_\w+?_(\d+))"')


@pytest.fixture
def client(casebook: CasebookServer) -> CasebookClient:
    return CasebookClient(casebook.url)


def test_wrong_password_is_refused(client: CasebookClient) -> None:
    page = client.log_in(password="not-the-password")
    assert page.status == 200
    assert "Invalid user name or password." in page.text
    assert 'role="alert"' in page.text
    assert client.request("/home").url.endswith("/")  # still not logged in


def test_login_lands_on_the_shell_with_the_message_of_the_day_once(client: CasebookClient) -> None:
    shell = client.log_in()
    assert '<iframe name="content" title="Casebook" src="/home"' in shell.text
    assert 'aria-label="Message of the day"' in shell.text
    assert 'aria-label="Message of the day"' not in client.request("/").text  # once per login


def test_popup_can_be_switched_off(casebook: CasebookServer, client: CasebookClient) -> None:
    casebook.config.popup = False
    assert "Message of the day" not in client.log_in().text


def test_system_busy_is_a_503_and_static_files_are_never_busy(casebook: CasebookServer, client: CasebookClient):
    casebook.config.error_rate = 1.0
    page = client.request("/")
    assert page.status == 503
    assert "System busy, please try again" in page.text
    assert client.request("/static/casebook.js").status == 200
    assert client.request("/api/postcode?postcode=LS1%204AB").status == 503
    # "Try again" reloads a page that was fetched; after a form it goes home (nothing was saved).
    assert '<a href="/search?x=1">Try again</a>' in client.request("/search?x=1").text
    assert '<a href="/home">Try again</a>' in client.request("/case/new", {"a": "b"}).text


def test_busy_save_saves_nothing_and_the_same_form_can_be_saved_after(casebook, client) -> None:
    client.log_in()
    review = client.key_to_review(case_fields("Busy", "01/02/1950", "Clerk ref: BUSY-1"))
    assert "Step 4 of 4: Review" in review.text
    casebook.config.error_rate = 1.0
    assert client.submit("/case/new", review, {}, "Save case").status == 503
    assert casebook.cases() == []
    casebook.config.error_rate = 0.0
    saved = client.submit("/case/new", review, {}, "Save case")
    assert re.search(r"Case <b>BB-\d{4}-\d{6}</b> has been created\.", saved.text)
    assert len(casebook.cases()) == 1


def test_latency_is_added_to_every_response(casebook: CasebookServer, client: CasebookClient) -> None:
    casebook.config.latency_ms = 200
    started = time.monotonic()
    client.request("/static/casebook.css")
    assert time.monotonic() - started >= 0.2


def test_expired_session_redirects_to_the_login_page(casebook: CasebookServer, client: CasebookClient) -> None:
    client.log_in()
    assert "Step 1 of 4" in client.request("/case/new?start=1").text
    casebook.expire_sessions()
    page = client.request("/search")
    assert page.url.endswith("/?expired=1")
    assert "Your session has expired. Please log in again." in page.text
    assert 'target="_top"' in page.text  # logging in from inside the frame reloads the whole window
    shell = client.log_in()
    assert 'src="/home"' in shell.text  # and lands on the home page


def test_idle_timeout(casebook: CasebookServer, client: CasebookClient) -> None:
    client.log_in()
    casebook.config.session_timeout_s = 0  # every session is already idle for longer than this
    assert "Your session has expired" in client.request("/home").text


def test_control_ids_and_names_change_on_every_load(client: CasebookClient) -> None:
    first, second = client.request("/").text, client.request("/").text
    first_ids = set(ID_PATTERN.findall(first))
    second_ids = set(ID_PATTERN.findall(second))
    assert first_ids and second_ids and not first_ids & second_ids
    for html in (first, second):  # every control is labelled, and names carry the same token
        form = Form(html)
        assert set(form.labels) == {"User name", "Password"}
        token = form.hidden["__PAGETOKEN"]
        assert all(c.name.endswith(f"${token}") and c.id.endswith(f"_{token}") for c in form.controls.values())
    client.log_in()
    step_one = [Form(client.request("/case/new?start=1").text).control("Surname").name for _ in range(2)]
    assert step_one[0] != step_one[1]


def test_next_is_refused_until_the_postcode_was_looked_up(casebook: CasebookServer, client: CasebookClient) -> None:
    casebook.config.postcode_delay_ms = 0
    client.log_in()
    page = client.request("/case/new?start=1")
    fields = case_fields("Lookup", "03/04/1955", "")
    step1 = ["Title", "First name(s)", "Surname", "Date of birth", "National Insurance number"]
    page = client.submit("/case/new", page, {k: fields[k] for k in step1}, "Next")
    address = {"Postcode": "M1 1AA", "Address line 1": "1 Road", "Address line 2": "", "Town": "Manchester"}
    refused = client.submit("/case/new", page, address, "Next")
    assert "Please use Find address to check the postcode." in refused.text
    assert client.lookup("m11aa") == {"found": True, "postcode": "M1 1AA", "town": "Manchester"}
    assert client.lookup("LS1 4AB")["town"] == "Leeds"
    assert client.lookup("HG1 2AB")["town"] == "Anytown"
    assert client.lookup("not a postcode")["found"] is False
    accepted = client.submit("/case/new", refused, address, "Next")
    assert "Step 3 of 4: Eligibility and contact" in accepted.text


def test_postcode_lookup_takes_the_configured_time(casebook: CasebookServer, client: CasebookClient) -> None:
    casebook.config.postcode_delay_ms = 250
    client.log_in()
    started = time.monotonic()
    assert client.lookup("LS1 4AB")["found"]
    assert time.monotonic() - started >= 0.25


@pytest.mark.parametrize(
    ("label", "value", "message"),
    [
        ("Date of birth", "31/02/1950", "Date of birth must be a real date in the format DD/MM/YYYY."),
        ("Date of birth", "1950-02-01", "Date of birth must be a real date in the format DD/MM/YYYY."),
        ("Date of birth", f"01/01/{date.today().year + 1}", "Date of birth must not be in the future."),
        ("National Insurance number", "AB12345", "National Insurance number is not in the correct format"),
        ("Surname", "", "Surname is required."),
    ],
)
def test_step_one_validation(client: CasebookClient, label: str, value: str, message: str) -> None:
    client.log_in()
    page = client.request("/case/new?start=1")
    fields = case_fields("Valid", "01/02/1950", "")
    fields[label] = value
    step1 = ["Title", "First name(s)", "Surname", "Date of birth", "National Insurance number"]
    refused = client.submit("/case/new", page, {k: fields[k] for k in step1}, "Next")
    assert '<div class="validation-summary" role="alert">' in refused.text
    assert message in refused.text
    assert "Step 1 of 4: Applicant" in refused.text


def test_step_three_validation(casebook: CasebookServer, client: CasebookClient) -> None:
    casebook.config.postcode_delay_ms = 0
    client.log_in()
    fields = case_fields("Valid", "01/02/1950", "", **{"Contact email address": "not-an-email"})
    page = client.key_to_review(fields)
    assert "Contact email address is not a valid email address." in page.text


def test_reason_options_are_the_form_s_eligibility_values(client: CasebookClient) -> None:
    client.log_in()
    page = client.request("/case/new?start=1")
    fields = case_fields("Options", "01/02/1950", "")
    step1 = ["Title", "First name(s)", "Surname", "Date of birth", "National Insurance number"]
    page = client.submit("/case/new", page, {k: fields[k] for k in step1}, "Next")
    client.lookup("LS1 4AB")
    page = client.submit(
        "/case/new", page, {"Postcode": "LS1 4AB", "Address line 1": "1 Road", "Town": "Leeds"}, "Next"
    )
    offered = list(Form(page.text).control("Reason for applying").options)
    assert offered == ["-- Select --"] + [e.value for e in Eligibility]


def test_search_pages_and_case_view(casebook: CasebookServer, client: CasebookClient) -> None:
    casebook.config.postcode_delay_ms = 0
    casebook.config.page_size = 2
    client.log_in()
    references = [client.create_case(case_fields("Pager", "05/06/1960", f"Clerk ref: P-{n}")) for n in range(5)]
    assert [c["case_reference"] for c in casebook.cases()] == references
    assert all(re.fullmatch(rf"BB-{date.today().year}-\d{{6}}", ref) for ref in references)
    search = client.request("/search")
    first = client.submit("/search", search, {"Notes": "clerk ref: p-"}, "Search notes")
    assert "Page 1 of 3" in first.text and "Next page" in first.text and "Previous page" not in first.text
    third = client.request("/search/results?page=3")
    assert "Page 3 of 3" in third.text and references[4] in third.text and "Next page" not in third.text
    by_name = client.submit("/search", search, {"Surname": "PAGER", "Date of birth": "5/6/1960"}, "Search by name")
    assert "Page 1 of 3" in by_name.text
    nothing = client.submit("/search", search, {"Case reference": "BB-1999-000001"}, "Search by reference")
    assert "No cases found." in nothing.text
    view = client.request(f"/case/view?ref={references[0]}")
    assert "<h1>Case details</h1>" in view.text
    for value in ("Clerk ref: P-0", "Received", "JT000001A", "LS1 4AB", "Difficulty walking"):
        assert value in view.text


def test_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEBOOK_LATENCY_MS", "25")
    monkeypatch.setenv("CASEBOOK_ERROR_RATE", "0.5")
    monkeypatch.setenv("CASEBOOK_POPUP", "false")
    monkeypatch.setenv("CASEBOOK_PAGE_SIZE", "")
    config = CasebookConfig.from_env(postcode_delay_ms=5)
    assert (config.latency_ms, config.error_rate, config.popup, config.page_size, config.postcode_delay_ms) == (
        25,
        0.5,
        False,
        10,
        5,
    )
    monkeypatch.setenv("CASEBOOK_POPUP", "maybe")
    with pytest.raises(ValueError, match="CASEBOOK_POPUP"):
        CasebookConfig.from_env()
    monkeypatch.setenv("CASEBOOK_POPUP", "1")
    monkeypatch.setenv("CASEBOOK_ERROR_RATE", "1.5")
    with pytest.raises(ValueError, match="CASEBOOK_ERROR_RATE"):
        CasebookConfig.from_env()
    monkeypatch.setenv("CASEBOOK_ERROR_RATE", "0")
    monkeypatch.setenv("CASEBOOK_SESSION_TIMEOUT_S", "soon")
    with pytest.raises(ValueError, match="CASEBOOK_SESSION_TIMEOUT_S"):
        CasebookConfig.from_env()


def test_server_stops_promptly_despite_an_open_keep_alive_connection(tmp_path) -> None:
    server = CasebookServer(tmp_path / "casebook.db").start()
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request("GET", "/")
    assert connection.getresponse().read()  # HTTP/1.1: the connection stays open, like a browser's
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    connection.close()
