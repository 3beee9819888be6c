"""US business days: weekends, federal holidays (observed), and the bank's 17:00 New York cut-off."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from consortia.apps.aml.domain.calendar import (
    DEFAULT_CUTOFF,
    FEDERAL_RESERVE,
    add_business_days,
    business_day_of,
    business_days_between,
    holiday,
    is_business_day,
    next_business_day,
)

NY = ZoneInfo("America/New_York")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def test_weekends_are_not_business_days() -> None:
    assert is_business_day(date(2026, 12, 4))  # Friday
    assert not is_business_day(date(2026, 12, 5))  # Saturday
    assert not is_business_day(date(2026, 12, 6))  # Sunday
    assert is_business_day(date(2026, 12, 7))  # Monday


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 11, 26), "Thanksgiving"),
        (date(2026, 7, 3), "Independence Day (observed)"),  # 4 July 2026 is a Saturday
        (date(2026, 1, 19), "Martin Luther King"),
        (date(2026, 6, 19), "Juneteenth"),
        (date(2026, 12, 25), "Christmas"),
        (date(2027, 7, 5), "Independence Day (observed)"),  # 4 July 2027 is a Sunday
        (date(2021, 12, 31), "New Year's Day (observed)"),  # 1 January 2022 is a Saturday
    ],
)
def test_federal_holidays_with_observed_dates(day: date, name: str) -> None:
    assert not is_business_day(day)
    found = holiday(day)
    assert found is not None and name in found.name


def test_days_around_holidays_are_business_days() -> None:
    assert is_business_day(date(2026, 11, 25))
    assert is_business_day(date(2026, 11, 27))  # the Friday after Thanksgiving is not a federal holiday
    assert is_business_day(date(2026, 7, 2))
    assert holiday(date(2026, 11, 27)) is None


def test_federal_reserve_calendar_stays_open_on_friday_before_a_saturday_holiday() -> None:
    assert not is_business_day(date(2026, 7, 3))
    assert is_business_day(date(2026, 7, 3), calendar=FEDERAL_RESERVE)
    assert not is_business_day(date(2026, 11, 26), calendar=FEDERAL_RESERVE)


def test_unknown_calendar_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="expected one of federal, federal_reserve, found 'nyse'"):
        is_business_day(date(2026, 11, 26), calendar="nyse")


def test_add_business_days_skips_weekends_and_holidays() -> None:
    assert add_business_days(date(2026, 11, 25), 1) == date(2026, 11, 27)  # over Thanksgiving
    assert add_business_days(date(2026, 7, 2), 1) == date(2026, 7, 6)  # over the observed 4th and the weekend
    assert add_business_days(date(2026, 12, 5), 1) == date(2026, 12, 7)  # from a Saturday
    assert add_business_days(date(2026, 12, 24), 2) == date(2026, 12, 29)
    assert add_business_days(date(2026, 11, 27), -1) == date(2026, 11, 25)
    assert add_business_days(date(2026, 12, 5), 0) == date(2026, 12, 5)
    assert next_business_day(date(2026, 12, 31)) == date(2027, 1, 4)  # New Year's Day is a Friday


def test_business_days_between_counts_the_half_open_interval() -> None:
    assert business_days_between(date(2026, 11, 23), date(2026, 11, 30)) == 4  # Tue, Wed, Fri, Mon
    assert business_days_between(date(2026, 11, 30), date(2026, 11, 23)) == -4
    assert business_days_between(date(2026, 11, 23), date(2026, 11, 23)) == 0


def test_before_the_cutoff_counts_today_at_or_after_counts_tomorrow() -> None:
    assert time(17, 0) == DEFAULT_CUTOFF
    assert business_day_of(ny(2026, 12, 1, 16, 59, 59, 999999)) == date(2026, 12, 1)
    assert business_day_of(ny(2026, 12, 1, 17, 0, 0)) == date(2026, 12, 2)
    assert business_day_of(ny(2026, 12, 1, 23, 59)) == date(2026, 12, 2)
    assert business_day_of(ny(2026, 12, 2, 0, 0)) == date(2026, 12, 2)


def test_after_the_cutoff_on_friday_counts_on_monday() -> None:
    assert business_day_of(ny(2026, 12, 4, 17, 30)) == date(2026, 12, 7)
    assert business_day_of(ny(2026, 12, 5, 10, 0)) == date(2026, 12, 7)  # Saturday morning


def test_holiday_and_cutoff_before_a_holiday() -> None:
    assert business_day_of(ny(2026, 11, 25, 18, 0)) == date(2026, 11, 27)  # Wednesday evening, Thanksgiving next
    assert business_day_of(ny(2026, 11, 26, 9, 0)) == date(2026, 11, 27)  # on Thanksgiving itself
    assert business_day_of(ny(2026, 7, 2, 17, 0)) == date(2026, 7, 6)


def test_instants_are_read_in_new_york_time_with_daylight_saving() -> None:
    # 21:30 UTC is 17:30 EDT in July (after the cut-off) but 16:30 EST in January (before it)
    assert business_day_of(datetime(2026, 7, 14, 21, 30, tzinfo=UTC)) == date(2026, 7, 15)
    assert business_day_of(datetime(2026, 1, 14, 21, 30, tzinfo=UTC)) == date(2026, 1, 14)
    # 03:00 UTC on Tuesday is Monday evening in New York: after Monday's cut-off, so Tuesday
    assert business_day_of(datetime(2026, 12, 1, 3, 0, tzinfo=UTC)) == date(2026, 12, 1)
    # 20:00 UTC on Monday is 15:00 in New York: Monday
    assert business_day_of(datetime(2026, 11, 30, 20, 0, tzinfo=UTC)) == date(2026, 11, 30)


def test_custom_cutoff_and_zone() -> None:
    assert business_day_of(ny(2026, 12, 1, 14, 30), cutoff=time(14, 0)) == date(2026, 12, 2)
    assert business_day_of(ny(2026, 12, 1, 13, 59), cutoff=time(14, 0)) == date(2026, 12, 1)
    # 16:30 in Los Angeles is 19:30 in New York, but the zone asked for is Los Angeles
    la = datetime(2026, 12, 1, 16, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert business_day_of(la, zone="America/Los_Angeles") == date(2026, 12, 1)
    assert business_day_of(la) == date(2026, 12, 2)


def test_naive_instants_and_datetimes_as_dates_are_refused() -> None:
    with pytest.raises(ValueError, match="expected an aware datetime"):
        business_day_of(datetime(2026, 12, 1, 12, 0))
    with pytest.raises(TypeError, match="expected a date, found a datetime"):
        add_business_days(datetime(2026, 12, 1, 12, 0, tzinfo=UTC), 1)


def test_after_import_the_domain_reads_no_files_as_a_contract_must_not() -> None:
    # The determinism guard refuses file access while a contract runs: tables and zones load at import.
    code = """
import sys
from datetime import UTC, date, datetime
from consortia.apps.aml.domain import calendar, onboarding
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
calendar.is_business_day(date(2041, 11, 28))
calendar.is_business_day(date(2041, 7, 4), calendar=calendar.FEDERAL_RESERVE)
calendar.business_day_of(datetime(2039, 3, 14, 21, 0, tzinfo=UTC))
onboarding.employer_id("98-7654321")
print(opened)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"
