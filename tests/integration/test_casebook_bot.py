"""The Casebook bot in real Chromium against the Casebook sandbox, over loopback.

Each test starts a fresh Casebook (its own database) and a fresh bot; the browser is shared.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bots.casebook import CasebookBot, CasebookBotSettings, CaseRecord, KeyingResult
from bots.runtime import BrowserRuntime
from connectors.documents.blue_badge import BlueBadgeApplication
from connectors.errors import ApplicationRejected, ApplicationUnavailable, ConfigError
from sandbox.casebook import CasebookServer
from tests.integration.casebook_http import CasebookClient, case_fields

pytestmark = pytest.mark.browser

BOTS_DIR = Path(__file__).resolve().parents[2] / "bots"


def expected_record(application: BlueBadgeApplication, case_reference: str, clerk_ref: str) -> CaseRecord:
    return CaseRecord(
        case_reference=case_reference,
        title=application.title,
        first_names=application.first_names,
        surname=application.surname,
        date_of_birth=application.date_of_birth_text,
        ni_number=application.ni_number,
        address_line_1=application.address_line_1,
        address_line_2=application.address_line_2 or "",
        town=application.town,
        postcode=application.postcode,
        phone=application.phone,
        email=application.email,
        eligibility=application.eligibility.value,
        badge_type=application.badge_type.value,
        existing_badge_number=application.existing_badge_number or "",
        notes=f"Clerk ref: {clerk_ref}",
        status="Received",
    )


def test_login_dismisses_the_message_of_the_day(casebook_bot: CasebookBot) -> None:
    assert casebook_bot.find_by_clerk_reference("CLK-NONE") is None
    assert casebook_bot.logins == 1
    assert casebook_bot.popups_dismissed == 1
    page = casebook_bot.page
    assert page is not None
    expect(page.get_by_role("dialog", name="Message of the day")).to_be_hidden()
    expect(page.get_by_title("Casebook", exact=True).content_frame.get_by_text("No cases found.")).to_be_visible()


def test_case_is_saved_through_the_confirm_and_reads_back_equal(
    casebook: CasebookServer, casebook_bot: CasebookBot, make_application
) -> None:
    # HG is not in the lookup's table: it fills "Anytown", which the bot must overwrite afterwards.
    application = make_application(
        postcode="hg1 2ab",
        town="Harrogate",
        address_line_2="The Old Mill",
        badge_type="Renewal",
        existing_badge_number="AB12CD34",
        eligibility="Registered severely sight impaired",
    )
    reference = casebook_bot.create_case(application, "CLK-1001")
    assert re.fullmatch(r"BB-\d{4}-\d{6}", reference)
    assert [c["case_reference"] for c in casebook.cases()] == [reference]
    record = casebook_bot.read_case(reference)
    assert record == expected_record(application, reference, "CLK-1001")


def test_unstable_ids_differ_between_loads_and_the_bot_does_not_care(
    casebook: CasebookServer, casebook_bot: CasebookBot, browser_runtime: BrowserRuntime, make_application
) -> None:
    page = browser_runtime.new_page()
    try:
        page.goto(casebook.url)
        first = page.get_by_label("User name", exact=True).get_attribute("id")
        page.reload()
        second = page.get_by_label("User name", exact=True).get_attribute("id")
    finally:
        page.context.close()
    assert first != second
    assert re.fullmatch(r"ctl00_Main_txtUserName_\d+", first or "")
    assert casebook_bot.key_application(make_application(), "CLK-2001").outcome == "created"
    assert len(casebook.cases()) == 1


def test_slow_postcode_lookup_is_awaited(casebook: CasebookServer, casebook_bot: CasebookBot, make_application):
    casebook_bot.find_by_clerk_reference("CLK-WARMUP")  # log in first, so only keying is timed
    casebook.config.postcode_delay_ms = 1500
    started = time.monotonic()
    result = casebook_bot.key_application(make_application(), "CLK-3001")
    assert result.outcome == "created"
    assert time.monotonic() - started >= 1.5
    assert len(casebook.cases()) == 1


def test_expired_session_between_operations_is_recovered(
    casebook: CasebookServer, casebook_bot: CasebookBot, make_application
) -> None:
    assert casebook_bot.find_by_clerk_reference("CLK-4001") is None
    casebook.expire_sessions()
    result = casebook_bot.key_application(make_application(), "CLK-4001")
    assert result.outcome == "created"
    assert casebook_bot.logins == 2
    assert len(casebook.cases()) == 1


def test_expired_session_during_keying_is_recovered(
    casebook: CasebookServer, casebook_bot: CasebookBot, make_application
) -> None:
    casebook_bot.find_by_clerk_reference("CLK-WARMUP")
    casebook.config.postcode_delay_ms = 1500  # the session expires while Casebook looks the postcode up
    timer = threading.Timer(0.6, casebook.expire_sessions)
    timer.start()
    try:
        result = casebook_bot.key_application(make_application(), "CLK-4002")
    finally:
        timer.cancel()
    assert result.outcome == "created"
    assert casebook_bot.logins == 2
    assert len(casebook.cases()) == 1


def test_a_second_expiry_in_one_operation_is_application_unavailable(
    casebook: CasebookServer, casebook_bot: CasebookBot
) -> None:
    casebook.config.session_timeout_s = 0  # every session expires at once, even straight after login
    with pytest.raises(ApplicationUnavailable, match="expired again"):
        casebook_bot.find_by_clerk_reference("CLK-4003")
    casebook.config.session_timeout_s = 900
    assert casebook_bot.find_by_clerk_reference("CLK-4003") is None


def test_system_busy_is_unavailable_then_a_retry_keys_exactly_once(
    casebook: CasebookServer, casebook_bot: CasebookBot, browser_runtime: BrowserRuntime, make_application
) -> None:
    application = make_application()
    shots = browser_runtime.settings.screenshots_dir
    assert shots is not None
    before = set(shots.iterdir()) if shots.exists() else set()
    casebook.config.error_rate = 1.0
    with pytest.raises(ApplicationUnavailable, match="System busy") as raised:
        casebook_bot.key_application(application, "CLK-5001")
    assert application.surname not in str(raised.value) and "CLK-5001" in str(raised.value)
    assert len(set(shots.iterdir()) - before) == 1  # a masked screenshot of the failure
    casebook.config.error_rate = 0.0
    result = casebook_bot.key_application(application, "CLK-5001")
    assert result.outcome == "created"
    assert len(casebook.cases()) == 1


def test_random_busy_pages_are_retried_and_never_duplicate_a_case(
    casebook: CasebookServer, casebook_bot: CasebookBot, make_application
) -> None:
    """Many requests are "System busy": the bot presses Try again or starts over (looking first),
    the caller retries what is left, and one application is still exactly one case."""
    casebook.config.postcode_delay_ms = 0
    casebook_bot.find_by_clerk_reference("CLK-WARMUP")
    casebook.config.error_rate = 0.15  # seeded by the fixture, so the busy answers fall in the same places
    application = make_application()
    outcomes = []
    for _ in range(10):  # the Prefect task's retries
        try:
            outcomes.append(casebook_bot.key_application(application, "CLK-5002").outcome)
            break
        except ApplicationUnavailable:
            outcomes.append("unavailable")
    casebook.config.error_rate = 0.0
    assert outcomes[-1] in ("created", "already_keyed"), outcomes
    assert casebook_bot.busy_answers > 0
    assert len(casebook.cases()) == 1
    assert casebook_bot.key_application(application, "CLK-5002").outcome == "already_keyed"


def test_keying_twice_with_the_same_clerk_ref_gives_one_case(
    casebook: CasebookServer, casebook_bot: CasebookBot, make_application
) -> None:
    application = make_application()
    first = casebook_bot.key_application(application, "CLK-6001")
    second = casebook_bot.key_application(application, "CLK-6001")
    assert (first.outcome, second.outcome) == ("created", "already_keyed")
    assert first.case_reference == second.case_reference
    assert len(casebook.cases()) == 1


def test_a_resent_form_for_the_same_applicant_is_an_existing_application(
    casebook: CasebookServer, casebook_bot: CasebookBot, make_application
) -> None:
    application = make_application()
    first = casebook_bot.key_application(application, "CLK-7001")
    again = casebook_bot.key_application(application, "CLK-7002")
    assert again == KeyingResult(first.case_reference, "existing_application")
    assert len(casebook.cases()) == 1
    assert casebook_bot.find_by_applicant(application.surname.upper(), application.date_of_birth) == [
        first.case_reference
    ]


def test_a_resent_form_with_other_details_names_the_fields_that_differ(
    casebook: CasebookServer, casebook_bot: CasebookBot, make_application
) -> None:
    application = make_application()
    first = casebook_bot.key_application(application, "CLK-7101")
    moved = application.model_copy(update={"postcode": "LS2 9JT", "phone": "07700900999"})
    again = casebook_bot.key_application(moved, "CLK-7102")
    assert again == KeyingResult(first.case_reference, "existing_application", ("postcode", "phone"))
    assert len(casebook.cases()) == 1


def test_search_by_notes_reads_every_page_and_matches_the_clerk_ref_exactly(
    casebook: CasebookServer, casebook_bot: CasebookBot
) -> None:
    casebook.config.page_size = 2
    casebook.config.postcode_delay_ms = 0
    seeder = CasebookClient(casebook.url)
    seeder.log_in()
    # "Clerk ref: CLK-8" is inside every one of these notes: only the last case carries it exactly.
    decoys = [seeder.create_case(case_fields("Decoy", "01/01/1950", f"Clerk ref: CLK-8{n}")) for n in range(1, 4)]
    wanted = seeder.create_case(case_fields("Wanted", "02/02/1950", "Clerk ref: CLK-8"))
    assert casebook_bot.find_by_clerk_reference("CLK-8") == wanted  # on page 2 of 2
    assert casebook_bot.find_by_clerk_reference("CLK-82") == decoys[1]
    assert casebook_bot.find_by_clerk_reference("CLK-9") is None
    assert casebook_bot.find_by_applicant("Decoy", date(1950, 1, 1)) == decoys


def test_casebook_validation_is_application_rejected(
    casebook: CasebookServer, casebook_bot: CasebookBot, make_application
) -> None:
    valid = make_application()
    # Clerk's own validation is bypassed on purpose: Casebook must be the one to refuse it.
    bad = BlueBadgeApplication.model_construct(**{**dict(valid), "ni_number": "AB12345"})
    with pytest.raises(ApplicationRejected) as raised:
        casebook_bot.key_application(bad, "CLK-9001")
    message = str(raised.value)
    assert "National Insurance number is not in the correct format" in message
    assert "CLK-9001" in message and "AB12345" not in message and valid.surname not in message
    assert casebook.cases() == []
    assert casebook_bot.key_application(valid, "CLK-9002").outcome == "created"  # the page was reset


def test_wrong_password_is_a_config_error(casebook: CasebookServer, browser_runtime: BrowserRuntime) -> None:
    bot = CasebookBot(browser_runtime, CasebookBotSettings(casebook.url, "clerk-bot", "s3cret-wrong"))
    try:
        with pytest.raises(ConfigError) as raised:
            bot.find_by_clerk_reference("CLK-0")
        assert "s3cret-wrong" not in str(raised.value)
    finally:
        bot.close()


def test_casebook_down_is_application_unavailable(casebook: CasebookServer, casebook_bot: CasebookBot) -> None:
    assert casebook_bot.find_by_clerk_reference("CLK-0") is None  # logged in, the shell is showing
    casebook.stop()
    started = time.monotonic()
    with pytest.raises(ApplicationUnavailable, match="could not be reached"):
        casebook_bot.find_by_clerk_reference("CLK-0")  # the frame shows Chromium's error page
    assert time.monotonic() - started < 5  # told at once, not after a timeout
    with pytest.raises(ApplicationUnavailable):
        casebook_bot.find_by_clerk_reference("CLK-0")  # the page was reset: now the login page fails


def test_bots_never_sleep() -> None:
    """Waiting is Playwright's job (auto-waiting, wait_for, expect), never a fixed pause."""
    offenders = [
        f"{path.relative_to(BOTS_DIR.parent)}:{number}"
        for path in BOTS_DIR.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\btime\.sleep\(|wait_for_timeout\(|\bsleep\(", line)
    ]
    assert offenders == []
