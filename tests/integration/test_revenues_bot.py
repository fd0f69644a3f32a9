"""The Revenues bot in real Chromium against the Revenues sandbox: a change of address keyed once, found again
by its Clerk reference, the right account picked among several, Revenues' refusals as business errors with
codes, and busy, batch and expired sessions handled as system faults."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest

from bots.revenues.bot import RevenuesBot, RevenuesBotSettings
from bots.runtime import BrowserRuntime
from connectors.documents.council_tax_move import CouncilTaxMove, validate_move
from connectors.errors import ApplicationUnavailable, BusinessError
from sandbox.change_of_address import REFUSED_VARIANTS, change_of_address, move_values
from sandbox.revenues import RevenuesServer, fixtures
from tests.integration.revenues_http import day

pytestmark = pytest.mark.browser

JOHN_SMITH_14_PARK_ROAD = "60010011"  # live at 14 Park Road, ND1 4AB
JOHN_SMITH_88_PARK_ROAD = "60010029"  # live at 88 Park Road, ND1 4AD
JOHN_SMITH_CLOSED = "60010045"  # lived at 14 Park Road until 2016: closed
GRACE_OKAFOR = "60010087"  # liable at 5 Albert Terrace with David Hughes (60010079)
OAK_AVENUE = fixtures.property_by_ref("P10020")  # 9 Oak Avenue, ND3 1EF (9 Oak Close is ND3 1EG)


@pytest.fixture
def bot(browser_runtime: BrowserRuntime, revenues: RevenuesServer) -> Iterator[RevenuesBot]:
    bot = RevenuesBot(browser_runtime, RevenuesBotSettings(url=revenues.url, username="clerk-bot", password="revenues",
                                                           busy_retries=2))
    yield bot
    bot.close()


def account(number: str) -> fixtures.Account:
    return next(a for a in fixtures.ACCOUNTS if a.account_no == number)


def move(number: str, target: fixtures.Property = OAK_AVENUE, **overrides: object) -> CouncilTaxMove:
    values = move_values(account(number), target, out_days_ago=10, gap_days=1) if number in {
        a.account_no for a in fixtures.LIVE} else {**move_values(account(JOHN_SMITH_14_PARK_ROAD), target,
                                                                out_days_ago=10, gap_days=1), "account_number": number}
    return validate_move({**values, **overrides})


def liabilities(revenues: RevenuesServer, number: str) -> list[tuple]:
    return [(li["property_ref"], li["start_date"], li["end_date"]) for li in revenues.liabilities(number)]


def refused(bot: RevenuesBot, record: CouncilTaxMove, clerk_ref: str) -> BusinessError:
    with pytest.raises(BusinessError) as error:
        bot.key(record, clerk_ref)
    return error.value


def test_a_move_is_keyed_once_and_a_retry_finds_it_by_its_clerk_reference(bot, revenues) -> None:
    record = move(JOHN_SMITH_88_PARK_ROAD)
    keyed = bot.key(record, "CLK-BOT0000001")
    assert (keyed.outcome, keyed.record_reference) == ("created", f"{JOHN_SMITH_88_PARK_ROAD}/L000016")
    rows = revenues.liabilities(JOHN_SMITH_88_PARK_ROAD)
    assert [(li["ref"], li["property_ref"], li["end_date"]) for li in rows] == [
        ("L000003", "P10002", record.move_out_date.isoformat()), ("L000016", "P10020", None)]
    notes = next(a["notes"] for a in revenues.accounts() if a["account_no"] == JOHN_SMITH_88_PARK_ROAD)
    assert notes.endswith(f"Clerk ref: CLK-BOT0000001 moved to P10020 from {record.move_in_text}")

    again = bot.key(record, "CLK-BOT0000001")  # a retry after a crash: found by the reference, nothing keyed
    assert (again.outcome, again.record_reference) == ("already_keyed", keyed.record_reference)
    resent = bot.key(record, "CLK-BOT0000002")  # the same form in a new email: Revenues already holds the move
    assert (resent.outcome, resent.record_reference, resent.differences) == ("already_held", keyed.record_reference, ())
    changed = bot.key(move(JOHN_SMITH_88_PARK_ROAD, move_in_date=day(-8)), "CLK-BOT0000003")
    assert (changed.outcome, changed.differences) == ("already_held", ("move_in_date",))
    assert len(revenues.liabilities()) == 16, "one liability opened, whatever was asked afterwards"


def test_a_clerk_reference_inside_a_longer_one_is_not_taken_for_it(bot, revenues) -> None:
    bot.key(move(JOHN_SMITH_88_PARK_ROAD), "CLK-BOT00000012")
    other = bot.key(move(GRACE_OKAFOR, fixtures.property_by_ref("P10021")), "CLK-BOT0000001")
    assert other.outcome == "created" and other.record_reference.startswith(GRACE_OKAFOR)


def test_among_several_accounts_at_the_postcode_the_one_with_the_number_and_the_address_is_moved(bot, revenues) -> None:
    # ND1 4AB lists two John Smiths at 14 Park Road: the live account and a closed one.
    keyed = bot.key(move(JOHN_SMITH_14_PARK_ROAD), "CLK-BOT0000010")
    assert keyed.record_reference.startswith(JOHN_SMITH_14_PARK_ROAD + "/")
    assert liabilities(revenues, JOHN_SMITH_CLOSED) == [("P10001", "2009-06-01", "2016-03-31")]
    # Two people liable at 5 Albert Terrace: only Grace Okafor moves.
    bot.key(move(GRACE_OKAFOR, fixtures.property_by_ref("P10021")), "CLK-BOT0000011")
    assert liabilities(revenues, "60010079") == [("P10006", "2017-02-01", None)]
    assert liabilities(revenues, GRACE_OKAFOR)[-1][0] == "P10021"


def test_search_results_are_read_to_their_last_page(bot, revenues) -> None:
    revenues.config.page_size = 1  # ND2 3HS lists two accounts: one a page
    keyed = bot.key(move(GRACE_OKAFOR, fixtures.property_by_ref("P10024")), "CLK-BOT0000020")
    assert keyed.outcome == "created" and liabilities(revenues, GRACE_OKAFOR)[-1][0] == "P10024"


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: move("60099999"), "ACCOUNT_NOT_FOUND"),
        # 88 Park Road's John Smith, with 14 Park Road (his namesake's) as the address being left.
        (lambda: move(JOHN_SMITH_88_PARK_ROAD, old_address="14 Park Road, Eastfield, Northdale", old_postcode="ND1 4AB"),
         "ACCOUNT_NOT_AT_ADDRESS"),
        (lambda: move(JOHN_SMITH_CLOSED, old_address="14 Park Road, Eastfield, Northdale", old_postcode="ND1 4AB"),
         "ACCOUNT_CLOSED"),
        (lambda: move(JOHN_SMITH_88_PARK_ROAD, new_address="99 Nowhere Street, Westgate", new_postcode="ND9 9ZZ"),
         "PROPERTY_NOT_FOUND"),
        (lambda: move(JOHN_SMITH_88_PARK_ROAD, new_address="9 Oak Road, Westgate"), "PROPERTY_NOT_FOUND"),
        (lambda: move(JOHN_SMITH_88_PARK_ROAD, fixtures.property_by_ref("P10006")), "PROPERTY_OCCUPIED"),
        (lambda: move(JOHN_SMITH_88_PARK_ROAD, move_out_date=day(45), move_in_date=day(46)), "MOVE_TOO_FAR_AHEAD"),
        (lambda: move(JOHN_SMITH_88_PARK_ROAD, move_out_date="01/01/2000", move_in_date="02/01/2000"),
         "MOVE_BEFORE_LIABILITY"),
        (lambda: move(JOHN_SMITH_88_PARK_ROAD, fixtures.property_by_ref("P10002"), old_address="88 Park Road"),
         "SAME_PROPERTY"),
    ],
    ids=["unknown-account", "not-at-address", "closed", "not-in-register", "look-alike-address", "occupied",
         "too-far-ahead", "before-liability", "same-property"],
)  # fmt: skip
def test_revenues_refusals_are_business_errors_with_codes(bot, revenues, make: Callable, code: str) -> None:
    before = revenues.liabilities()
    error = refused(bot, make(), "CLK-BOT0000030")
    assert error.code == code, (error.code, error.reasons)
    assert error.reasons and all("60010079" not in reason and "60010087" not in reason for reason in error.reasons)
    assert revenues.liabilities() == before, "nothing saved"


def test_the_refused_variants_of_the_generated_forms_get_their_codes(bot, revenues) -> None:
    values = change_of_address(random.Random(5))
    codes = {}
    for name in ("too_far_ahead", "new_address_not_in_register", "unknown_account", "move_out_before_liability_started"):
        codes[name] = refused(bot, validate_move(REFUSED_VARIANTS[name](values)), f"CLK-VARIANT{len(codes)}").code
    assert codes == {"too_far_ahead": "MOVE_TOO_FAR_AHEAD", "new_address_not_in_register": "PROPERTY_NOT_FOUND",
                     "unknown_account": "ACCOUNT_NOT_FOUND", "move_out_before_liability_started": "MOVE_BEFORE_LIABILITY"}


def test_an_expired_session_logs_on_again_and_keys_once(bot, revenues) -> None:
    bot.key(move(GRACE_OKAFOR, fixtures.property_by_ref("P10021")), "CLK-BOT0000040")
    revenues.expire_sessions()
    keyed = bot.key(move(JOHN_SMITH_88_PARK_ROAD), "CLK-BOT0000041")
    assert keyed.outcome == "created" and bot.logins == 2
    assert len(revenues.liabilities()) == 17


def test_the_overnight_batch_is_a_system_fault_and_nothing_is_saved(bot, revenues) -> None:
    revenues.config.batch_window = "00:00-24:00"
    with pytest.raises(ApplicationUnavailable) as error:
        bot.key(move(JOHN_SMITH_88_PARK_ROAD), "CLK-BOT0000050")
    assert error.value.code == "APP_READ_ONLY" and error.value.retryable
    assert "CLK-BOT0000050" in error.value.message and "Smith" not in error.value.message
    assert len(revenues.liabilities()) == 15
    revenues.config.batch_window = ""
    assert bot.key(move(JOHN_SMITH_88_PARK_ROAD), "CLK-BOT0000050").outcome == "created"  # the retry


def test_a_revenues_that_is_always_busy_is_a_system_fault(bot, revenues) -> None:
    revenues.config.error_rate = 1.0
    with pytest.raises(ApplicationUnavailable) as error:
        bot.key(move(JOHN_SMITH_88_PARK_ROAD), "CLK-BOT0000060")
    assert error.value.code == "APP_UNAVAILABLE"
    assert len(revenues.liabilities()) == 15


def test_a_busy_revenues_is_tried_again_and_every_move_is_keyed_once(bot, revenues) -> None:
    revenues.config.error_rate = 0.15
    revenues.config.seed = 7
    moved = []
    for n, (number, ref) in enumerate([(JOHN_SMITH_88_PARK_ROAD, "P10020"), (GRACE_OKAFOR, "P10021"),
                                        (JOHN_SMITH_14_PARK_ROAD, "P10022")]):
        record = move(number, fixtures.property_by_ref(ref))
        for _attempt in range(4):  # what the flow's retries do: every attempt looks the reference up first
            try:
                moved.append(bot.key(record, f"CLK-BOT000007{n}").outcome)
                break
            except ApplicationUnavailable:
                continue
    assert len(moved) == 3
    assert len(revenues.liabilities()) == 18, "three moves, none twice"


def test_a_wrong_password_is_a_configuration_error_not_a_busy_revenues(browser_runtime, revenues) -> None:
    from connectors.errors import ConfigError

    wrong = RevenuesBot(browser_runtime, RevenuesBotSettings(url=revenues.url, username="clerk-bot", password="nope"))
    try:
        with pytest.raises(ConfigError) as error:
            wrong.key(move(JOHN_SMITH_88_PARK_ROAD), "CLK-BOT0000080")
    finally:
        wrong.close()
    assert "nope" not in error.value.message and "user name or password" in error.value.message
    assert len(revenues.liabilities()) == 15
