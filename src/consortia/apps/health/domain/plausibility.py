"""Plausibility: values no device or body produces are refused before anything is stored.

A blood pressure of 400 mm Hg, a negative glucose or a reading from the future is a device fault, a typing error
or a unit mix-up; storing it would raise false alarms and bias the trends and the models. The ranges are wide —
they must let true emergencies through (a hypertensive crisis of 230/130, a glucose of 35 mg/dL) — and narrow
enough to catch unit errors (glucose 5.5 sent as mg/dL is caught as below 10). Timestamps may not lie more than
five minutes in the future (clock skew) nor before 1990.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

RANGES: dict[str, tuple[float, float]] = {
    "sbp": (50, 300),
    "dbp": (20, 200),
    "heart_rate": (20, 250),
    "glucose": (10, 1000),
    "cgm_mean": (40, 400),
    "hba1c": (3, 20),
    "gmi": (5, 12),
    "tir": (0, 100),
}
"""Inclusive bounds in canonical units (mm Hg, /min, mg/dL, %)."""

NAMES: dict[str, str] = {
    "sbp": "systolic blood pressure",
    "dbp": "diastolic blood pressure",
    "heart_rate": "heart rate",
    "glucose": "glucose",
    "cgm_mean": "mean glucose",
    "hba1c": "HbA1c",
    "gmi": "GMI",
    "tir": "time-in-range percentage",
}

UNITS: dict[str, str] = {
    "sbp": "mm Hg",
    "dbp": "mm Hg",
    "heart_rate": "/min",
    "glucose": "mg/dL",
    "cgm_mean": "mg/dL",
    "hba1c": "%",
    "gmi": "%",
    "tir": "%",
}

FUTURE_SKEW = timedelta(minutes=5)
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


def check_value(kind: str, value: float) -> str | None:
    """Why ``value`` is implausible for ``kind``, or None."""
    low, high = RANGES[kind]
    if value != value or not low <= value <= high:
        unit = UNITS.get(kind, "")
        return f"{value:g} {unit} is not a plausible {NAMES[kind]} (expected {low:g}–{high:g} {unit})"
    return None


def check_time(when: datetime, now: datetime) -> str | None:
    """Why a reading's time is implausible (in the future, or before 1990), or None."""
    if when.tzinfo is None:
        return "a time zone is required"
    if when > now + FUTURE_SKEW:
        return f"{when.isoformat()} is in the future"
    if when < EARLIEST:
        return f"{when.isoformat()} is before {EARLIEST.year}"
    return None
