"""key_application's look-ups run in a second page of the bot's browser context while the wizard waits
for the postcode lookup. These tests pin down what that must never change: nothing is saved unless both
look-ups finished and found nothing, and an abandoned wizard, an expiry or "System busy" in the middle
still end with exactly one case per application.

Faults are injected at a precise point by listening to the requests the bot's browser sends.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import structlog.testing
from playwright.sync_api import Request, Response, expect

from bots.casebook import CasebookBot, KeyingResult
from connectors.errors import ApplicationUnavailable
from sandbox.casebook import CasebookServer
from tests.integration.casebook_http import CasebookClient, case_fields
from tests.integration.test_casebook_bot import expected_record

pytestmark = pytest.mark.browser


def _kind(request: Request) -> str:
    """What a request of the bot's browser does, in Casebook's terms."""
    body = (request.post_data or "") if request.method == "POST" else ""
    for button, kind in (("btnByNotes", "notes search"), ("btnByName", "applicant search"), ("btnSave", "save")):
        if button in body:
            return kind
    path = request.url.split("?")[0]
    if path.endswith("/search/results"):
        return "results"
    if "/api/postcode" in path:
        return "postcode lookup"
    return f"{request.method} {path}"


def _on_request(bot: CasebookBot, kind: str, action: Callable[[], None], *, occurrence: int = 1) -> list[str]:
    """Call ``action`` once, when the bot's browser sends its ``occurrence``-th request of ``kind``."""
    page = bot.page
    assert page is not None, "log the bot in first"
    seen: list[str] = []

    def listener(request: Request) -> None:
        if _kind(request) == kind:
            seen.append(request.url)
            if len(seen) == occurrence:
                action()

    page.context.on("request", listener)
    return seen


def _keying_screen(bot: CasebookBot, heading: str):
    assert bot.page is not None
    return bot.page.get_by_title("Casebook", exact=True).content_frame.get_by_role("heading", name=heading)


def test_lookups_run_in_a_second_page_during_the_postcode_lookup_and_finish_before_save(
    casebook: CasebookServer, casebook_bot: CasebookBot, make_application
) -> None:
    assert casebook_bot.find_by_clerk_reference("CLK-WARMUP") is None
    keying = casebook_bot.page
    assert keying is not None
    events: list[tuple[str, str, bool]] = []  # (request|response, kind, from the keying page)
    context = keying.context
    context.on("request", lambda r: events.append(("request", _kind(r), r.frame.page == keying)))
    context.on("response", lambda r: events.append(("response", _kind(r.request), r.frame.page == keying)))

    result = casebook_bot.key_application(make_application(), "CLK-11001")

    assert result.outcome == "created"
    assert len(casebook.cases()) == 1
    assert len(context.pages) == 2  # the look-up page shares the keying page's context (its login)
    sent = [(kind, keying_page) for event, kind, keying_page in events if event == "request"]
    assert ("notes search", False) in sent and ("applicant search", False) in sent  # in the look-up page
    assert ("save", True) in sent
    order = [(event, kind) for event, kind, _ in events]
    postcode = order.index(("request", "postcode lookup"))
    notes, applicant = order.index(("request", "notes search")), order.index(("request", "applicant search"))
    save = order.index(("request", "save"))
    assert postcode < notes < applicant < save  # searched while Casebook looked the postcode up
    # The applicant search's results (the second results page) had arrived before Save was pressed.
    results = [i for i, event in enumerate(order) if event == ("response", "results")]
    assert len(results) >= 2 and results[1] < save


def test_a_replayed_clerk_ref_found_mid_wizard_creates_nothing(
    casebook: CasebookServer, casebook_bot: CasebookBot, make_application
) -> None:
    application = make_application()
    first = casebook_bot.key_application(application, "CLK-12001")
    before = casebook.cases()

    again = casebook_bot.key_application(application, "CLK-12001")

    assert again == KeyingResult(first.case_reference, "already_keyed")
    assert casebook.cases() == before
    expect(_keying_screen(casebook_bot, "Step 2 of 4: Address")).to_be_visible()  # abandoned half-filled
    # The abandoned draft does not leak into the next case: "New Blue Badge case" starts afresh.
    other = make_application(postcode="HG1 2AB", town="Harrogate")
    created = casebook_bot.key_application(other, "CLK-12002")
    assert created.outcome == "created"
    assert len(casebook.cases()) == 2
    assert casebook_bot.read_case(created.case_reference) == expected_record(other, created.case_reference, "CLK-12002")


def test_a_resend_found_by_the_applicant_search_creates_nothing(
    casebook: CasebookServer, casebook_bot: CasebookBot, make_application
) -> None:
    casebook.config.page_size = 2
    application = make_application()
    seeder = CasebookClient(casebook.url)
    seeder.log_in()
    dob = application.date_of_birth_text
    seeded = [seeder.create_case(case_fields(application.surname, dob, f"Paper form {n}")) for n in range(3)]
    before = casebook.cases()

    resent = casebook_bot.key_application(application, "CLK-13001")

    # The oldest, over two pages; the paper form differs from this one in all the compared fields but the
    # postcode and the badge type.
    assert resent == KeyingResult(seeded[0], "existing_application", (
        "ni_number", "address_line_1", "phone", "email", "eligibility"))
    assert casebook.cases() == before
    expect(_keying_screen(casebook_bot, "Step 4 of 4: Review")).to_be_visible()  # abandoned unsaved
    other = make_application()
    created = casebook_bot.key_application(other, "CLK-13002")
    assert created.outcome == "created"
    assert len(casebook.cases()) == 4
    assert casebook_bot.read_case(created.case_reference) == expected_record(other, created.case_reference, "CLK-13002")


_LOOKUP_PAGE = {"opening Search cases", "searching (Search notes)", "searching (Search by name)"}


@pytest.mark.parametrize(
    ("kind", "occurrence", "seen_while"),
    [
        ("results", 1, _LOOKUP_PAGE),  # the Notes results: the look-up page meets the expiry
        ("results", 2, {"submitting step 2 (Address)"}),  # the applicant results: the keying page does
        ("save", 1, {"saving the case"}),  # "Save case" itself: the save may or may not have gone through
    ],
)
def test_an_expiry_mid_keying_still_ends_with_exactly_one_case(
    casebook: CasebookServer,
    casebook_bot: CasebookBot,
    make_application,
    kind: str,
    occurrence: int,
    seen_while: set[str],
) -> None:
    assert casebook_bot.find_by_clerk_reference("CLK-WARMUP") is None
    fired = _on_request(casebook_bot, kind, casebook.expire_sessions, occurrence=occurrence)
    application = make_application()

    with structlog.testing.capture_logs() as logs:
        result = casebook_bot.key_application(application, "CLK-14001")

    assert len(fired) >= occurrence
    expiries = [entry["during"] for entry in logs if entry["event"] == "bot.session_expired" and entry["app"] == "Casebook"]
    assert len(expiries) == 1 and expiries[0] in seen_while, expiries
    assert casebook_bot.logins == 2
    assert len(casebook.cases()) == 1
    assert result.case_reference == casebook.cases()[0]["case_reference"]
    assert result.outcome in (("created", "already_keyed") if kind == "save" else ("created",))
    assert casebook_bot.key_application(application, "CLK-14001").outcome == "already_keyed"


def test_system_busy_mid_keying_then_a_retry_keys_exactly_once(
    casebook: CasebookServer, casebook_bot: CasebookBot, make_application
) -> None:
    assert casebook_bot.find_by_clerk_reference("CLK-WARMUP") is None

    def busy() -> None:
        casebook.config.error_rate = 1.0

    _on_request(casebook_bot, "notes search", busy)  # Casebook falls over while the wizard is half-keyed
    application = make_application()
    with pytest.raises(ApplicationUnavailable, match="System busy"):
        casebook_bot.key_application(application, "CLK-15001")
    assert casebook.cases() == []
    casebook.config.error_rate = 0.0

    result = casebook_bot.key_application(application, "CLK-15001")

    assert result.outcome == "created"
    assert len(casebook.cases()) == 1
    assert casebook_bot.key_application(application, "CLK-15001").outcome == "already_keyed"


def test_one_busy_answer_to_a_lookup_restarts_and_keys_once(
    casebook: CasebookServer, casebook_bot: CasebookBot, make_application
) -> None:
    """Casebook answers "System busy" once, just after the applicant search is sent: whatever gets that
    answer (the search, its results, the postcode lookup or a step), one case is keyed."""
    assert casebook_bot.find_by_clerk_reference("CLK-WARMUP") is None
    keying = casebook_bot.page
    assert keying is not None

    def busy_once(request: Request) -> None:
        if _kind(request) == "applicant search" and casebook.config.error_rate == 0.0 and not answered:
            casebook.config.error_rate = 1.0

    answered: list[Response] = []

    def calm(response: Response) -> None:
        if response.status == 503 and not answered:
            answered.append(response)
            casebook.config.error_rate = 0.0

    keying.context.on("request", busy_once)
    keying.context.on("response", calm)
    result = casebook_bot.key_application(make_application(), "CLK-16001")

    assert answered, "Casebook never answered busy"
    assert casebook_bot.busy_answers >= 1
    assert result.outcome == "created"
    assert len(casebook.cases()) == 1
