"""Revenues' change of address over HTTP: the liabilities it closes and opens, and every rule that refuses one."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from sandbox.revenues import RevenuesServer
from tests.integration.revenues_http import RevenuesClient, day, errors
from tests.integration.sandbox_http import Tables

JOHN_SMITH_88_PARK_ROAD = "60010029"  # liable for P10002 since 12/09/2019


def _dated(text: str) -> str:
    """``{day31}`` in a parameter -> the date 31 days from today, worked out when the test runs (not when it
    is collected, which may be before midnight)."""
    return re.sub(r"\{day(-?\d+)\}", lambda match: day(int(match.group(1))), text)


@pytest.fixture
def client(revenues: RevenuesServer) -> RevenuesClient:
    client = RevenuesClient(revenues.url)
    client.log_in()
    return client


def test_a_move_ends_the_old_liability_and_opens_one_on_the_new_property(revenues, client) -> None:
    saved = client.move(JOHN_SMITH_88_PARK_ROAD, move_out=day(-10), new_property="P10020", move_in=day(-8),
                        note="Clerk ref: CLK-MOVE000001")  # fmt: skip
    assert saved.url.endswith(f"/main/account?acct={JOHN_SMITH_88_PARK_ROAD}&moved=L000016&ended=L000003")
    page = Tables(saved.text)
    assert page.text("message") == (
        f"Change of address saved. Liability L000003 ended {day(-10)}; new liability L000016 at "
        f"9 Oak Avenue, Westgate, Northdale from {day(-8)}."
    )
    assert page.rows("liabilities") == [
        {"Liability": "L000003", "Property": "P10002", "Address": "88 Park Road, Eastfield, Northdale",
         "Postcode": "ND1 4AD", "Band": "D", "From": "12/09/2019", "To": day(-10), "Status": "Ended"},
        {"Liability": "L000016", "Property": "P10020", "Address": "9 Oak Avenue, Westgate, Northdale",
         "Postcode": "ND3 1EF", "Band": "C", "From": day(-8), "To": "", "Status": "Live"},
    ]  # fmt: skip
    stored = revenues.liabilities(JOHN_SMITH_88_PARK_ROAD)
    assert [(li["ref"], li["start_date"], li["end_date"], li["created_by"]) for li in stored] == [
        ("L000003", "2019-09-12", (date.today() - timedelta(days=10)).isoformat(), "conversion"),
        ("L000016", (date.today() - timedelta(days=8)).isoformat(), None, "clerk-bot"),
    ]
    notes = next(a["notes"] for a in revenues.accounts() if a["account_no"] == JOHN_SMITH_88_PARK_ROAD)
    assert notes.endswith(" clerk-bot: Clerk ref: CLK-MOVE000001")
    assert page.text("notes") == notes.replace("\n", " ")
    # The reference finds the account again, now at its new address.
    found = Tables(client.search(NOTES="clk-move000001").text).rows("results")
    assert [(r["Account"], r["Property address"], r["Status"]) for r in found] == [
        (JOHN_SMITH_88_PARK_ROAD, "9 Oak Avenue, Westgate, Northdale", "Live")
    ]


def test_moving_out_and_in_on_the_same_day_is_allowed(revenues, client) -> None:
    saved = client.move("60010053", move_out=day(0), new_property="P10022", move_in=day(0))
    assert errors(saved) == []
    assert [li["end_date"] for li in revenues.liabilities("60010053")] == [date.today().isoformat(), None]


def test_saving_the_same_move_again_is_refused_and_changes_nothing(revenues, client) -> None:
    """A retried save never opens a second liability: the first one already moved the account."""
    move = dict(move_out=day(-5), new_property="P10021", move_in=day(-4), note="Clerk ref: CLK-RETRY00001")
    client.move(JOHN_SMITH_88_PARK_ROAD, **move)
    before = (revenues.liabilities(), revenues.accounts())
    again = client.move(JOHN_SMITH_88_PARK_ROAD, **move)
    assert errors(again) == [
        f"Move-out date must be on or after the start of the current liability ({day(-4)}).",
        "The new property is the property the account is moving out of.",
    ]
    assert (revenues.liabilities(), revenues.accounts()) == before


@pytest.mark.parametrize(
    ("account", "fields", "expected"),
    [
        (JOHN_SMITH_88_PARK_ROAD, {"move_out": "", "move_in": ""}, ["Move-out date is required.", "Move-in date is required."]),
        (JOHN_SMITH_88_PARK_ROAD, {"move_out": "31/02/2025"}, ["Move-out date must be a real date in the format DD/MM/YYYY."]),
        (JOHN_SMITH_88_PARK_ROAD, {"move_in": "2025-03-01"}, ["Move-in date must be a real date in the format DD/MM/YYYY."]),
        (JOHN_SMITH_88_PARK_ROAD, {"new_property": ""},
         ["New property is required: enter the new postcode, press Find (F4) and choose the property."]),
        (JOHN_SMITH_88_PARK_ROAD, {"note": "x" * 201}, ["Note must be 200 characters or fewer."]),
        ("60010045", {}, ["Account 60010045 has no current liability: there is nothing to move out of."]),
        (JOHN_SMITH_88_PARK_ROAD, {"move_out": "{day31}", "move_in": "{day31}"},
         ["Move-out date must not be more than 30 days in the future (latest {day30}).",
          "Move-in date must not be more than 30 days in the future (latest {day30})."]),
        (JOHN_SMITH_88_PARK_ROAD, {"move_out": "{day30}", "move_in": "{day31}"},
         ["Move-in date must not be more than 30 days in the future (latest {day30})."]),
        (JOHN_SMITH_88_PARK_ROAD, {"move_out": "11/09/2019", "move_in": "11/09/2019"},
         ["Move-out date must be on or after the start of the current liability (12/09/2019)."]),
        (JOHN_SMITH_88_PARK_ROAD, {"move_out": "{day-2}", "move_in": "{day-3}"},
         ["Move-in date must be on or after the move-out date."]),
        (JOHN_SMITH_88_PARK_ROAD, {"new_property": "P99999"}, ["Property P99999 is not in the property register."]),
        (JOHN_SMITH_88_PARK_ROAD, {"new_property": "P10002"},
         ["The new property is the property the account is moving out of."]),
        # Someone is liable for the new property: Flat 1, 22 Station Road (Aisha Khan, 60010053).
        (JOHN_SMITH_88_PARK_ROAD, {"new_property": "P10004"},
         ["Liability L000005 (account 60010053, Flat 1, 22 Station Road, Eastfield, Northdale) runs from "
          "15/01/2021 with no end date: it overlaps the move-in date."]),
        # 12 Mill Lane is empty, but Imran Hussain was liable until 31/03/2019.
        ("60010100", {"new_property": "P10007", "move_out": "30/03/2019", "move_in": "31/03/2019"},
         ["Liability L000010 (account 60010095, 12 Mill Lane, Millbrook, Northdale) runs from 01/04/2012 to "
          "31/03/2019: it overlaps the move-in date."]),
    ],
    ids=["dates-missing", "not-a-date", "iso-date", "no-property", "long-note", "closed-account", "both-too-late",
         "move-in-too-late", "before-the-liability", "in-before-out", "not-in-register", "same-property",
         "occupied-property", "past-occupier-overlaps"],
)  # fmt: skip
def test_a_move_is_refused_with_a_clear_message_and_nothing_changes(revenues, client, account, fields, expected):
    before = (revenues.liabilities(), revenues.accounts())
    move = {"move_out": day(-3), "new_property": "P10020", "move_in": day(-1), "note": "Clerk ref: CLK-REFUSED01",
            **{name: _dated(value) for name, value in fields.items()}}  # fmt: skip
    page = client.move(account, **move)
    assert page.status == 200
    assert "<h2>Change of address</h2>" in page.text
    assert errors(page) == [_dated(message) for message in expected]
    assert (revenues.liabilities(), revenues.accounts()) == before
    for name, key in (("MOVEOUT", "move_out"), ("MOVEIN", "move_in")):  # what was keyed is still on the screen
        assert f'name="{name}" value="{move[key]}"' in page.text


def test_moving_into_12_mill_lane_after_the_last_occupier_left_is_allowed(revenues, client) -> None:
    saved = client.move("60010100", move_out="31/03/2019", new_property="P10007", move_in="01/04/2019")
    assert errors(saved) == []
    assert revenues.liabilities("60010100")[-1]["start_date"] == "2019-04-01"


def test_the_future_limit_is_a_knob(revenues, client) -> None:
    revenues.config.max_future_days = 0
    refused = client.move(JOHN_SMITH_88_PARK_ROAD, move_out=day(1), new_property="P10020", move_in=day(1))
    assert errors(refused) == [
        f"Move-out date must not be more than 0 days in the future (latest {day(0)}).",
        f"Move-in date must not be more than 0 days in the future (latest {day(0)}).",
    ]
    assert errors(client.move(JOHN_SMITH_88_PARK_ROAD, move_out=day(0), new_property="P10020", move_in=day(0))) == []


def test_find_lists_the_register_s_properties_at_the_new_postcode(client) -> None:
    found = client.find(JOHN_SMITH_88_PARK_ROAD, "nd12xy", MOVEOUT=day(-1))
    assert 'name="NEWPCODE" value="ND1 2XY"' in found.text
    assert f'name="MOVEOUT" value="{day(-1)}"' in found.text  # the other fields are kept
    options = [line.split('">', 1)[1] for line in found.text.split("<option value=")[2:]]
    assert [option.split("</option>")[0] for option in options] == [
        "P10004 Flat 1, 22 Station Road, Eastfield, Northdale ND1 2XY",
        "P10005 Flat 2, 22 Station Road, Eastfield, Northdale ND1 2XY",
        "P10022 Flat 3, 22 Station Road, Eastfield, Northdale ND1 2XY",
    ]
    nothing = client.find(JOHN_SMITH_88_PARK_ROAD, "ND9 9ZZ")
    assert "-- no properties at this postcode --" in nothing.text and errors(nothing) == []
    assert errors(client.find(JOHN_SMITH_88_PARK_ROAD, "not a postcode")) == ["New postcode is not a valid postcode."]
    assert errors(client.find(JOHN_SMITH_88_PARK_ROAD, "")) == ["New postcode is required for Find."]


def test_a_save_with_a_bad_postcode_is_refused_before_anything_else(revenues, client) -> None:
    page = client.move(JOHN_SMITH_88_PARK_ROAD, move_out=day(-1), new_property="P10020", move_in=day(-1),
                       postcode="XX")  # fmt: skip
    assert errors(page) == ["New postcode is not a valid postcode."]
    assert len(revenues.liabilities()) == 15


def test_a_note_is_added_with_the_date_and_user_and_can_be_searched(revenues, client) -> None:
    added = client.request("/main/notes", {"ACCTNO": "60010037", "NOTE": "  Clerk ref:   CLK-NOTE000001 "})
    assert Tables(added.text).text("message") == "Note added."
    notes = Tables(added.text).text("notes")
    assert notes.startswith(date.today().strftime("%d/%m/%Y")) and notes.endswith("clerk-bot: Clerk ref: CLK-NOTE000001")
    assert [r["Account"] for r in Tables(client.search(NOTES="CLK-NOTE0000").text).rows("results")] == ["60010037"]
    assert errors(client.request("/main/notes", {"ACCTNO": "60010037", "NOTE": " "})) == ["Note is required."]
    assert errors(client.request("/main/notes", {"ACCTNO": "60010037", "NOTE": "y" * 201})) == [
        "Note must be 200 characters or fewer."
    ]
    missing = client.request("/main/notes", {"ACCTNO": "60099999", "NOTE": "x"})
    assert missing.status == 404 and errors(missing) == ["Account 60099999 does not exist."]
