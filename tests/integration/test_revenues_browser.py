"""Revenues in real Chromium: the frames, the function keys and Enter-to-next-field work in a browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from bots.runtime import BrowserRuntime
from sandbox.revenues import RevenuesServer
from tests.integration.revenues_http import day

pytestmark = pytest.mark.browser


def test_log_on_search_and_save_a_change_of_address_with_the_keyboard(
    revenues: RevenuesServer, browser_runtime: BrowserRuntime
) -> None:
    page = browser_runtime.new_page()
    try:
        page.goto(revenues.url)
        page.locator("input[name=USERID]").fill("clerk-bot")
        page.locator("input[name=USERID]").press("Enter")  # Enter moves to the next field...
        expect(page.locator("input[name=PASSWD]")).to_be_focused()
        page.locator("input[name=PASSWD]").fill("revenues")
        page.locator("input[name=PASSWD]").press("Enter")  # ...and from the last one to the button
        expect(page.get_by_role("button", name="Log on")).to_be_focused()
        page.keyboard.press("Enter")

        main = page.frame_locator("frame[name=main]")
        expect(main.get_by_role("heading", name="Welcome")).to_be_visible()
        expect(page.frame_locator("frame[name=menu]").get_by_text("User: clerk-bot")).to_be_visible()
        main.get_by_role("heading", name="Welcome").click()
        page.keyboard.press("F2")
        expect(main.get_by_role("heading", name="Account search")).to_be_visible()
        main.locator("input[name=SURNAME]").fill("smith")
        main.locator("input[name=FORENAME]").fill("john")
        main.locator("input[name=FORENAME]").press("F10")
        results = main.locator("#results tr")
        expect(results).to_have_count(4)  # a header and three John Smiths
        results.filter(has_text="88 Park Road").get_by_role("link", name="60010029").click()

        expect(main.get_by_role("heading", name="Council Tax account 60010029")).to_be_visible()
        main.get_by_role("link", name="Change of address").click()
        expect(main.get_by_role("heading", name="Change of address")).to_be_visible()
        main.locator("input[name=MOVEOUT]").fill(day(-6))
        main.locator("input[name=NEWPCODE]").fill("nd3 1ef")
        main.locator("input[name=NEWPCODE]").press("F4")
        new_property = main.locator("select[name=NEWPROP]")
        expect(new_property.locator("option")).to_have_count(2)
        new_property.select_option(label="P10020 9 Oak Avenue, Westgate, Northdale ND3 1EF")
        main.locator("input[name=MOVEIN]").fill(day(-5))
        main.locator("input[name=NOTE]").fill("Clerk ref: CLK-BROWSER001")
        main.locator("input[name=NOTE]").press("F10")

        expect(main.locator("#message")).to_have_text(
            f"Change of address saved. Liability L000003 ended {day(-6)}; new liability L000016 at "
            f"9 Oak Avenue, Westgate, Northdale from {day(-5)}."
        )
        expect(main.locator("#liabilities tr").last).to_contain_text("P10020")
        expect(main.locator("#notes")).to_contain_text("clerk-bot: Clerk ref: CLK-BROWSER001")
        main.get_by_role("link", name="Add note").click()
        main.locator("input[name=NOTE]").press("Escape")  # Esc cancels: back to the account
        expect(main.get_by_role("heading", name="Council Tax account 60010029")).to_be_visible()
    finally:
        page.context.close()
    assert [(li["ref"], li["property_ref"], li["end_date"]) for li in revenues.liabilities("60010029")][-1] == (
        "L000016", "P10020", None
    )
