"""Freshness and safety of fish from its temperature history: FDA time limits and the relative rate of spoilage.

A temperature history is a list of readings ``(time, °C)`` in time order. Each reading is taken to hold until
the next one (sample and hold): reading *i* at temperature *Tᵢ* lasts Δtᵢ = tᵢ₊₁ − tᵢ, and the last reading
lasts no time. Two questions are then answered by sums over those intervals.

**Safety** (scombrotoxin-forming species, see :mod:`consortia.apps.coldchain.domain.species` for the cited FDA limits):
the cumulative time *strictly above* 4.4 °C and strictly above 21.1 °C. Exactly 4.4 °C is not above 4.4 °C. The
limit on the first is 24 h, or 12 h as soon as any interval was above 21.1 °C; exceeding it is an alarm
(``critical_limit_exceeded``), and any time above 21.1 °C is itself an alarm (``high_temperature_exposure``,
a deviation a HACCP plan must act on).

**Quality**: the relative rate of spoilage of fresh fish compared with melting ice follows the square-root
(Ratkowsky-type) model with T_min = −10 °C, RRS(T) = ((T − T_min) / (0 − T_min))² = (1 + 0.1·T)², zero at or
below T_min. The remaining shelf life is the shelf life at 0 °C minus the ice-equivalent days used up,
``remaining = SL₀ − Σ RRS(Tᵢ)·Δtᵢ``: a day at 0 °C uses one day, a day at 10 °C four. Below zero remaining days
the fish is spoiled (``shelf_life_exhausted``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from consortia.apps.coldchain.domain import timestamps
from consortia.apps.coldchain.domain.species import Species

MS_PER_HOUR = 3_600_000
MS_PER_DAY = 24 * MS_PER_HOUR
PLAUSIBLE_CELSIUS = (-60.0, 60.0)


class ReadingsError(ValueError):
    """A temperature history that cannot be read; the message names the line and the problem."""


@dataclass(frozen=True)
class Sample:
    """One temperature reading."""

    ts_ms: int
    celsius: float


@dataclass(frozen=True)
class Alarm:
    """A rule the history broke."""

    code: str
    message: str
    observed: float
    limit: float | None
    citation: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "code": self.code,
            "message": self.message,
            "observed": round(self.observed, 4),
            "limit": self.limit,
            "citation": self.citation,
        }


@dataclass(frozen=True)
class Assessment:
    """What the rules say about one temperature history."""

    remaining_shelf_life_days: float
    hours_above_4_4c: float
    hours_above_21_1c: float
    alarms: tuple[Alarm, ...]
    shelf_life_days_at_0c: float
    used_days: float
    readings: int
    start_ms: int | None
    end_ms: int | None

    @property
    def status(self) -> str:
        """``ok`` or ``alarm``."""
        return "alarm" if self.alarms else "ok"

    def as_dict(self) -> dict[str, Any]:
        """The JSON the ``assess`` command prints."""
        return {
            "remaining_shelf_life_days": round(self.remaining_shelf_life_days, 4),
            "hours_above_4_4c": round(self.hours_above_4_4c, 4),
            "hours_above_21_1c": round(self.hours_above_21_1c, 4),
            "status": self.status,
            "alarms": [alarm.as_dict() for alarm in self.alarms],
        }


def rrs(celsius: float, t_min: float = -10.0) -> float:
    """Relative rate of spoilage at a temperature, compared with 0 °C (square-root model)."""
    if celsius <= t_min:
        return 0.0
    return ((celsius - t_min) / (0.0 - t_min)) ** 2


def assess(samples: Sequence[Sample], species: Species, *, now_ms: int | None = None) -> Assessment:
    """Apply the species' rules to a temperature history (sorted here; the last reading holds until ``now_ms``)."""
    ordered = sorted(samples, key=lambda s: s.ts_ms)
    limits = species.limits
    abuse = limits.abuse_celsius if limits else 4.4
    high = limits.high_celsius if limits else 21.1
    above_abuse = above_high = 0
    used_ms = 0.0
    for current, following in pairwise(ordered):
        duration = following.ts_ms - current.ts_ms
        if current.celsius > abuse:
            above_abuse += duration
        if current.celsius > high:
            above_high += duration
        used_ms += rrs(current.celsius, species.t_min_celsius) * duration
    if ordered and now_ms is not None and now_ms > ordered[-1].ts_ms:
        last = ordered[-1]
        duration = now_ms - last.ts_ms
        above_abuse += duration if last.celsius > abuse else 0
        above_high += duration if last.celsius > high else 0
        used_ms += rrs(last.celsius, species.t_min_celsius) * duration
    hours_abuse, hours_high = above_abuse / MS_PER_HOUR, above_high / MS_PER_HOUR
    used_days = used_ms / MS_PER_DAY
    remaining = species.shelf_life_days_at_0c - used_days
    alarms: list[Alarm] = []
    if limits is not None and species.scombrotoxin:
        if hours_high > 0:
            alarms.append(
                Alarm(
                    "high_temperature_exposure",
                    f"{hours_high:.2f} h above {high} °C: histamine forms fast; the limit above {abuse} °C "
                    f"drops to {limits.max_hours_above_abuse_if_high:g} h",
                    hours_high,
                    0.0,
                    limits.citation,
                )
            )
        limit = limits.max_hours_above_abuse_if_high if hours_high > 0 else limits.max_hours_above_abuse
        if hours_abuse > limit:
            alarms.append(
                Alarm(
                    "critical_limit_exceeded",
                    f"{hours_abuse:.2f} h above {abuse} °C exceeds the critical limit of {limit:g} h",
                    hours_abuse,
                    limit,
                    limits.citation,
                )
            )
    if remaining < 0:
        alarms.append(
            Alarm(
                "shelf_life_exhausted",
                f"the temperature history used {used_days:.2f} ice-equivalent days of "
                f"{species.shelf_life_days_at_0c:g}",
                used_days,
                species.shelf_life_days_at_0c,
                species.shelf_life_source,
            )
        )
    return Assessment(
        remaining_shelf_life_days=remaining,
        hours_above_4_4c=hours_abuse,
        hours_above_21_1c=hours_high,
        alarms=tuple(alarms),
        shelf_life_days_at_0c=species.shelf_life_days_at_0c,
        used_days=used_days,
        readings=len(ordered),
        start_ms=ordered[0].ts_ms if ordered else None,
        end_ms=ordered[-1].ts_ms if ordered else None,
    )


def parse_rows(rows: Iterable[Sequence[str]], source: str = "readings") -> list[Sample]:
    """Samples from CSV rows ``ts,celsius`` (a header row naming them first); errors name the line."""
    samples = []
    iterator = iter(rows)
    header = next(iterator, None)
    if header is None:
        raise ReadingsError(f"{source} is empty: expected a header 'ts,celsius' and readings")
    names = [h.strip().lower() for h in header]
    if "ts" not in names or "celsius" not in names:
        raise ReadingsError(f"{source} line 1: the header must name the columns ts and celsius, got {header!r}")
    at_ts, at_celsius = names.index("ts"), names.index("celsius")
    for line, row in enumerate(iterator, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) <= max(at_ts, at_celsius):
            raise ReadingsError(f"{source} line {line}: expected {len(names)} columns, got {len(row)}")
        try:
            ts = timestamps.to_ms(row[at_ts].strip(), assume_utc=True)
        except timestamps.TimestampError as exc:
            raise ReadingsError(f"{source} line {line}: ts {exc}") from None
        try:
            celsius = float(row[at_celsius])
        except ValueError:
            raise ReadingsError(f"{source} line {line}: celsius {row[at_celsius]!r} is not a number") from None
        if not PLAUSIBLE_CELSIUS[0] <= celsius <= PLAUSIBLE_CELSIUS[1]:
            raise ReadingsError(
                f"{source} line {line}: {celsius} °C is outside {PLAUSIBLE_CELSIUS[0]:g}…{PLAUSIBLE_CELSIUS[1]:g} °C "
                "(Fahrenheit? the column is celsius)"
            )
        samples.append(Sample(ts, celsius))
    if not samples:
        raise ReadingsError(f"{source} has no readings")
    return samples


def read_csv(path: Path) -> list[Sample]:
    """Samples from a CSV file with columns ``ts,celsius``."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ReadingsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ReadingsError(f"{path} is not UTF-8 text") from None
    return parse_rows(csv.reader(io.StringIO(text)), str(path))
