"""US business days for a bank: weekends, federal holidays, and the cut-off that ends the banking day.

Several Bank Secrecy Act rules count in *business days*. Currency transactions are aggregated "during any one
business day" for a CTR (31 CFR 1010.313(b)), and structuring is cash split across business days to stay under
that threshold (31 USC 5324). For a bank, 31 CFR 1010.100(h) defines the business day as "that day, as normally
communicated to its depository customers, on which a bank routinely posts a particular transaction to its
customer's account". Two things decide it:

* **Which days are business days.** Saturdays, Sundays and US federal holidays are not. The holidays come from the
  ``holidays`` package (5 U.S.C. 6103: New Year's Day, Martin Luther King Jr. Day, Washington's Birthday,
  Memorial Day, Juneteenth, Independence Day, Labor Day, Columbus Day, Veterans Day, Thanksgiving, Christmas)
  with their *observed* dates: a holiday on a Saturday is observed on the Friday before (Independence Day 2026,
  a Saturday, is observed on Friday 2026-07-03), one on a Sunday on the Monday after. That is the federal
  calendar, and the default here (:data:`FEDERAL`). The Federal Reserve Banks follow a slightly different rule —
  they stay *open* on the Friday before a Saturday holiday — and a bank that posts on the Fed's schedule can ask
  for :data:`FEDERAL_RESERVE` instead (``holidays``' ``XFED`` calendar).
* **The cut-off.** A deposit made at 19:30 on a Tuesday is posted on Wednesday: each bank announces a cut-off
  hour, and anything at or after it counts on the next business day; anything on a weekend or holiday counts on
  the next business day too. We choose **17:00 America/New_York** (:data:`DEFAULT_CUTOFF`): the bank is in New
  York, 5 p.m. is the close of business such a bank communicates to commercial depositors, and it lies within
  what Regulation CC lets a bank choose (a cut-off no earlier than 2 p.m. for deposits at its offices,
  12 CFR 229.19(a)(5)). It is a parameter, because the regulation makes the bank's own posting practice decisive;
  the cut-off instant itself (17:00:00 exactly) belongs to the next business day.

Times are converted with :mod:`zoneinfo`, so daylight-saving time is handled: 21:30 UTC is 17:30 EDT in July
(after the cut-off) but 16:30 EST in January (before it).

Filing deadlines are *calendar* days (30 days for a SAR, 15 for a CTR); :mod:`.cases` counts those. This module
is pure: the holiday tables are computed, never fetched, and there is no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

BANK_ZONE = "America/New_York"
"""The bank's time zone: its business day is the New York business day."""

DEFAULT_CUTOFF = time(17, 0)
"""The end of the banking day in the bank's zone: at or after it, a transaction counts on the next business day."""

FEDERAL = "federal"
"""US federal holidays as observed by the federal government (Saturday holidays observed on Friday)."""

FEDERAL_RESERVE = "federal_reserve"
"""The Federal Reserve Banks' holidays (open on the Friday before a Saturday holiday)."""

CALENDARS = (FEDERAL, FEDERAL_RESERVE)

_MAX_STEPS = 3660
"""No run of non-business days is anywhere near ten years long; a search past this is a bug, not a calendar."""


@dataclass(frozen=True)
class Holiday:
    """A named non-business day."""

    day: date
    name: str


_TABLES: dict[str, holidays.HolidayBase] = {
    FEDERAL: holidays.US(observed=True),
    FEDERAL_RESERVE: holidays.financial_holidays("XFED"),
}
"""Built when the module is imported: ``holidays`` reads its name catalogues then, so a contract that imports this
module does no file access while it runs (the determinism guard refuses it); later years are computed."""

_BANK_ZONE_INFO = ZoneInfo(BANK_ZONE)
"""Loaded at import for the same reason (``zoneinfo`` then serves the zone from its cache)."""


def _table(calendar: str) -> holidays.HolidayBase:
    try:
        return _TABLES[calendar]
    except KeyError:
        raise ValueError(
            f"unknown holiday calendar: expected one of {', '.join(CALENDARS)}, found {calendar!r}"
        ) from None


def holiday(d: date, calendar: str = FEDERAL) -> Holiday | None:
    """The holiday on ``d`` (observed dates included), or None."""
    if isinstance(d, datetime):
        raise TypeError(f"expected a date, found a datetime ({d.isoformat()}); use business_day_of for instants")
    name = _table(calendar).get(d)
    return Holiday(d, name) if name else None


def is_business_day(d: date, calendar: str = FEDERAL) -> bool:
    """Whether ``d`` is a weekday that is not a US federal holiday (observed)."""
    return d.weekday() < 5 and holiday(d, calendar) is None


def next_business_day(d: date, calendar: str = FEDERAL) -> date:
    """The first business day strictly after ``d``."""
    return add_business_days(d, 1, calendar)


def on_or_after(d: date, calendar: str = FEDERAL) -> date:
    """``d`` itself when it is a business day, else the next business day."""
    return d if is_business_day(d, calendar) else next_business_day(d, calendar)


def add_business_days(d: date, n: int, calendar: str = FEDERAL) -> date:
    """The business day ``n`` business days after ``d`` (before it when ``n`` is negative; ``d`` itself for 0).

    Counting starts from ``d`` whether or not ``d`` is a business day: one business day after Saturday is Monday
    (when Monday is not a holiday).
    """
    if isinstance(d, datetime):
        raise TypeError(f"expected a date, found a datetime ({d.isoformat()}); use business_day_of for instants")
    step = timedelta(days=1 if n >= 0 else -1)
    remaining = abs(n)
    current = d
    steps = 0
    while remaining:
        current += step
        steps += 1
        if steps > _MAX_STEPS + abs(n) * 7:
            raise RuntimeError(f"no business day found within {steps} days of {d.isoformat()}")
        if is_business_day(current, calendar):
            remaining -= 1
    return current


def business_days_between(start: date, end: date, calendar: str = FEDERAL) -> int:
    """How many business days lie in ``(start, end]`` (negative when ``end`` is before ``start``)."""
    if end < start:
        return -business_days_between(end, start, calendar)
    count = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if is_business_day(current, calendar):
            count += 1
    return count


def business_day_of(
    moment: datetime,
    zone: str = BANK_ZONE,
    cutoff: time = DEFAULT_CUTOFF,
    calendar: str = FEDERAL,
) -> date:
    """The business day on which the bank posts a transaction made at ``moment`` (aware).

    The moment is read in ``zone``; at or after ``cutoff`` it moves to the next day; a weekend or holiday moves
    on to the next business day.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected an aware datetime (with a time zone), found naive {moment.isoformat()}")
    if cutoff.tzinfo is not None:
        raise ValueError(f"the cut-off is a wall-clock time in {zone}, expected no tzinfo, found {cutoff.tzinfo}")
    local = moment.astimezone(ZoneInfo(zone))
    day = local.date()
    if local.time() >= cutoff:
        day += timedelta(days=1)
    return on_or_after(day, calendar)
