"""Working days in England and Wales: weekends and bank holidays do not count.

SLAs are promised in working days, so the report needs the bank holidays of any year without a network
call (council servers often cannot reach GOV.UK). The regular holidays follow the rules of the Banking and
Financial Dealings Act 1971 and the royal proclamations since 1978; the days the Crown has moved or added
are listed below, and a new one is added the day it is proclaimed.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

_MONDAY, _SATURDAY = 0, 5

# Regular holidays moved by proclamation, as (year, name) -> the day it fell on instead.
MOVED: dict[tuple[int, str], date] = {
    (1995, "Early May bank holiday"): date(1995, 5, 8),  # VE Day, 50th anniversary
    (2002, "Spring bank holiday"): date(2002, 6, 4),  # Golden Jubilee
    (2012, "Spring bank holiday"): date(2012, 6, 4),  # Diamond Jubilee
    (2020, "Early May bank holiday"): date(2020, 5, 8),  # VE Day, 75th anniversary
    (2022, "Spring bank holiday"): date(2022, 6, 2),  # Platinum Jubilee
}

# Holidays proclaimed for one year only.
ONE_OFF: dict[date, str] = {
    date(1999, 12, 31): "Millennium celebrations",
    date(2002, 6, 3): "Golden Jubilee bank holiday",
    date(2011, 4, 29): "Royal wedding",
    date(2012, 6, 5): "Diamond Jubilee bank holiday",
    date(2022, 6, 3): "Platinum Jubilee bank holiday",
    date(2022, 9, 19): "State funeral of Queen Elizabeth II",
    date(2023, 5, 8): "Coronation of King Charles III",
}


def easter_sunday(year: int) -> date:
    """Easter Day in the Gregorian calendar (the anonymous algorithm published in Nature, 1876)."""
    golden = year % 19
    century, year_of_century = divmod(year, 100)
    leap_centuries, century_rest = divmod(century, 4)
    correction = (century + 8) // 25
    moon = (19 * golden + century - leap_centuries - (century - correction + 1) // 3 + 15) % 30
    leap_years, year_rest = divmod(year_of_century, 4)
    weekday = (32 + 2 * century_rest + 2 * leap_years - moon - year_rest) % 7
    shift = (golden + 11 * moon + 22 * weekday) // 451
    month, day = divmod(moon + weekday - 7 * shift + 114, 31)
    return date(year, month, day + 1)


def _first_monday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(_MONDAY - first.weekday()) % 7)


def _last_monday(year: int, month: int) -> date:
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - _MONDAY) % 7)


def _next_weekday(day: date, taken: set[date]) -> date:
    """The substitute for a holiday on a weekend: the next weekday not already a holiday."""
    while day.weekday() >= _SATURDAY or day in taken:
        day += timedelta(days=1)
    return day


def bank_holidays(year: int) -> dict[date, str]:
    """England and Wales bank holidays of ``year``, as day -> name, in date order."""
    return dict(_bank_holidays(year))


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> dict[date, str]:
    easter = easter_sunday(year)
    regular = {
        "Early May bank holiday": _first_monday(year, 5),
        "Spring bank holiday": _last_monday(year, 5),
        "Summer bank holiday": _last_monday(year, 8),
    }
    holidays = {MOVED.get((year, name), day): name for name, day in regular.items()}
    holidays[easter - timedelta(days=2)] = "Good Friday"
    holidays[easter + timedelta(days=1)] = "Easter Monday"
    holidays.update({day: name for day, name in ONE_OFF.items() if day.year == year})
    # A fixed-date holiday on a weekend moves to the next weekday not already a holiday; those on weekdays
    # stay put first, so in 2022 Boxing Day kept Monday 26th and Christmas Day moved to Tuesday 27th.
    fixed = ((date(year, 1, 1), "New Year's Day"), (date(year, 12, 25), "Christmas Day"),
             (date(year, 12, 26), "Boxing Day"))
    holidays.update({day: name for day, name in fixed if day.weekday() < _SATURDAY})
    for day, name in fixed:
        if day.weekday() >= _SATURDAY:
            holidays[_next_weekday(day, set(holidays))] = f"{name} (substitute day)"
    return dict(sorted(holidays.items()))


def is_working_day(day: date) -> bool:
    return day.weekday() < _SATURDAY and day not in _bank_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself never counts).

    With ``days`` = 0, ``start`` if it is a working day, else the next one: an email that arrives on a
    Saturday is due back on Monday at the earliest.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    if days == 0:
        while not is_working_day(day):
            day += timedelta(days=1)
        return day
    while days:
        day += timedelta(days=1)
        if is_working_day(day):
            days -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """How many working days fall after ``start`` up to and including ``end`` (negative if ``end`` is earlier)."""
    if end < start:
        return -working_days_between(end, start)
    return sum(1 for offset in range(1, (end - start).days + 1) if is_working_day(start + timedelta(days=offset)))
