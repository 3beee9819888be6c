"""Business days as consecutive numbers, so that "within three business days" is a subtraction.

:mod:`consortia.apps.aml.domain.calendar` says which day a transaction is posted on (the bank's 17:00 New York
cut-off, weekends, US federal holidays). The rules need to count business days: a window of three business days
before a Monday reaches back to the previous Wednesday, skipping the weekend (and a holiday). Numbering business
days consecutively makes that arithmetic exact and vectorisable: :func:`business_day_number` is the count of
business days from 1970-01-01 up to and including the day a transaction is posted on.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache

from consortia.apps.aml.domain.calendar import business_day_of, is_business_day, on_or_after

_EPOCH_YEAR = 1970


@lru_cache(maxsize=512)
def _year(year: int, calendar: str) -> tuple[int, tuple[int, ...]]:
    """(business days before 1 January of ``year``, business-day number of each day of the year)."""
    before = 0 if year <= _EPOCH_YEAR else _year(year - 1, calendar)[0] + _count(year - 1, calendar)
    numbers = []
    running = before
    day = date(year, 1, 1)
    while day.year == year:
        if is_business_day(day, calendar):
            running += 1
        numbers.append(running)
        day += timedelta(days=1)
    return before, tuple(numbers)


@lru_cache(maxsize=512)
def _count(year: int, calendar: str) -> int:
    before, numbers = _year(year, calendar)
    return numbers[-1] - before


def number_of_business_date(day: date, calendar: str = "federal") -> int:
    """The consecutive number of ``day``'s business day (``day`` itself if a business day, else the next one)."""
    posted = on_or_after(day, calendar)
    return _year(posted.year, calendar)[1][posted.timetuple().tm_yday - 1]


def business_day_number(moment: datetime, zone: str, cutoff: time, calendar: str = "federal") -> int:
    """The consecutive number of the business day a transaction at ``moment`` is posted on."""
    return number_of_business_date(business_day_of(moment, zone, cutoff, calendar), calendar)
