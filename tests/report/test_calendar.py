"""Working days against the bank holidays GOV.UK published for England and Wales."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from connectors.calendar import add_working_days, bank_holidays, easter_sunday, is_working_day, working_days_between

# https://www.gov.uk/bank-holidays, England and Wales.
PUBLISHED = {
    2020: ["2020-01-01", "2020-04-10", "2020-04-13", "2020-05-08", "2020-05-25", "2020-08-31", "2020-12-25",
           "2020-12-28"],
    2022: ["2022-01-03", "2022-04-15", "2022-04-18", "2022-05-02", "2022-06-02", "2022-06-03", "2022-08-29",
           "2022-09-19", "2022-12-26", "2022-12-27"],
    2023: ["2023-01-02", "2023-04-07", "2023-04-10", "2023-05-01", "2023-05-08", "2023-05-29", "2023-08-28",
           "2023-12-25", "2023-12-26"],
    2024: ["2024-01-01", "2024-03-29", "2024-04-01", "2024-05-06", "2024-05-27", "2024-08-26", "2024-12-25",
           "2024-12-26"],
    2025: ["2025-01-01", "2025-04-18", "2025-04-21", "2025-05-05", "2025-05-26", "2025-08-25", "2025-12-25",
           "2025-12-26"],
    2026: ["2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31", "2026-12-25",
           "2026-12-28"],
    2027: ["2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03", "2027-05-31", "2027-08-30", "2027-12-27",
           "2027-12-28"],
}


@pytest.mark.parametrize("year", sorted(PUBLISHED))
def test_bank_holidays_match_the_published_dates(year: int) -> None:
    assert list(bank_holidays(year)) == [date.fromisoformat(day) for day in PUBLISHED[year]]


def test_substitute_days_are_named_as_gov_uk_names_them() -> None:
    assert bank_holidays(2022)[date(2022, 12, 26)] == "Boxing Day"
    assert bank_holidays(2022)[date(2022, 12, 27)] == "Christmas Day (substitute day)"
    assert bank_holidays(2027)[date(2027, 12, 27)] == "Christmas Day (substitute day)"
    assert bank_holidays(2026)[date(2026, 12, 28)] == "Boxing Day (substitute day)"
    assert bank_holidays(2023)[date(2023, 5, 8)] == "Coronation of King Charles III"


def test_easter_sunday_over_the_years() -> None:
    known = ["2000-04-23", "2008-03-23", "2011-04-24", "2019-04-21", "2038-04-25", "2285-03-22", "2024-03-31",
             "2025-04-20", "2026-04-05", "2027-03-28"]
    assert [easter_sunday(date.fromisoformat(day).year) for day in known] == [date.fromisoformat(d) for d in known]


def test_a_caller_cannot_change_the_calendar() -> None:
    bank_holidays(2025).clear()
    assert not is_working_day(date(2025, 12, 25))


@pytest.mark.parametrize(("start", "days", "due"), [
    ("2025-05-21", 2, "2025-05-23"),  # Wednesday: Thursday, Friday
    ("2025-05-23", 2, "2025-05-28"),  # Friday before the spring bank holiday: Tuesday, Wednesday
    ("2025-05-24", 1, "2025-05-27"),  # Saturday: Monday is a holiday, so Tuesday
    ("2025-05-26", 0, "2025-05-27"),  # on the bank holiday itself, the same day rolls on to Tuesday
    ("2025-05-23", 0, "2025-05-23"),
    ("2024-03-28", 1, "2024-04-02"),  # Maundy Thursday: Good Friday, the weekend and Easter Monday skipped
    ("2026-12-24", 1, "2026-12-29"),  # Christmas Eve 2026: Christmas Friday, weekend, Boxing Day moved to Monday
    ("2022-06-01", 1, "2022-06-06"),  # Platinum Jubilee: Thursday and Friday off
])
def test_add_working_days_skips_weekends_and_bank_holidays(start: str, days: int, due: str) -> None:
    assert add_working_days(date.fromisoformat(start), days) == date.fromisoformat(due)


def test_working_days_between_counts_what_add_working_days_adds() -> None:
    start = date(2024, 1, 1)
    for offset in range(0, 3 * 365, 7):
        day = start + timedelta(days=offset)
        for days in (1, 2, 5, 20):
            assert working_days_between(day, add_working_days(day, days)) == days
    assert working_days_between(date(2025, 5, 28), date(2025, 5, 23)) == -2
    assert working_days_between(date(2025, 1, 1), date(2025, 12, 31)) == 253  # 261 weekdays less 8 bank holidays


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError):
        add_working_days(date(2025, 1, 2), -1)
