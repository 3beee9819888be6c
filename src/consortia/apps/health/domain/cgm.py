"""Continuous glucose monitoring metrics, per the 2019 international consensus on time in range.

Battelino T, Danne T, Bergenstal RM, et al. *Clinical Targets for Continuous Glucose Monitoring Data
Interpretation: Recommendations From the International Consensus on Time in Range.* Diabetes Care
2019;42:1593–1603. From a series of sensor glucose values (mg/dL):

* time in range 70–180 mg/dL (target > 70 %), below 70 (< 4 %, counting the values below 54), below 54 (< 1 %),
  above 180 (< 25 %, counting the values above 250), above 250 (< 5 %); for older or high-risk people the
  targets are > 50 % in range, < 1 % below 70 and < 10 % above 250;
* mean glucose, the glucose management indicator GMI (%) = 3.31 + 0.02392 × mean (mg/dL) (Bergenstal RM et al.,
  Diabetes Care 2018;41:2275–2280), and the coefficient of variation (SD / mean, target ≤ 36 %);
* data sufficiency: at least 14 days of data with the sensor worn more than 70 % of the time.

Percentages are fractions of readings; wear is readings received over readings expected at the sensor's
interval (the median gap between readings, 5 min for most sensors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

MIN_DAYS = 14
MIN_WEAR = 0.70


@dataclass(frozen=True)
class Targets:
    """Consensus targets (fractions) for one population."""

    in_range: float
    below_70: float
    below_54: float
    above_180: float
    above_250: float
    cv: float = 0.36


STANDARD = Targets(0.70, 0.04, 0.01, 0.25, 0.05)
OLDER_HIGH_RISK = Targets(0.50, 0.01, 0.01, 0.50, 0.10)


@dataclass(frozen=True)
class CgmMetrics:
    """Summary of a CGM series."""

    readings: int
    days: float
    wear: float
    in_range: float
    below_70: float
    below_54: float
    above_180: float
    above_250: float
    mean: float
    gmi: float
    cv: float
    sufficient: bool

    def meets(self, targets: Targets = STANDARD) -> dict[str, bool]:
        """Which consensus targets the series meets."""
        return {
            "in_range": self.in_range > targets.in_range,
            "below_70": self.below_70 < targets.below_70,
            "below_54": self.below_54 < targets.below_54,
            "above_180": self.above_180 < targets.above_180,
            "above_250": self.above_250 < targets.above_250,
            "cv": self.cv <= targets.cv,
        }

    def to_json(self) -> dict[str, object]:
        """Percentages rounded to 0.1, as reports show them."""
        pct = {
            k: round(100 * getattr(self, k), 1)
            for k in ("in_range", "below_70", "below_54", "above_180", "above_250", "wear", "cv")
        }
        return {
            "readings": self.readings,
            "days": round(self.days, 1),
            **{f"{k}_pct": v for k, v in pct.items()},
            "mean_mg_dl": round(self.mean, 1),
            "gmi_pct": round(self.gmi, 1),
            "sufficient": self.sufficient,
            "meets_targets": self.meets(),
        }


def gmi(mean_mg_dl: float) -> float:
    """Glucose management indicator (%) from mean glucose in mg/dL."""
    return 3.31 + 0.02392 * mean_mg_dl


def metrics(times: Sequence[datetime], values: Sequence[float], interval_minutes: float | None = None) -> CgmMetrics:
    """Consensus metrics of a series (times need not be sorted); ValueError if it is empty."""
    if len(values) == 0 or len(times) != len(values):
        raise ValueError("a CGM series needs as many times as values, and at least one")
    v = np.asarray(values, dtype=float)
    t = np.sort(np.asarray([x.timestamp() for x in times], dtype=float))
    if interval_minutes is None:
        gaps = np.diff(t)
        interval_minutes = float(np.median(gaps)) / 60 if len(gaps) else 5.0
        interval_minutes = interval_minutes if interval_minutes > 0 else 5.0
    span_s = float(t[-1] - t[0]) + interval_minutes * 60
    days = span_s / 86400
    expected = span_s / (interval_minutes * 60)
    wear = min(1.0, len(v) / expected) if expected > 0 else 0.0
    mean = float(v.mean())
    cv = float(v.std(ddof=1) / mean) if len(v) > 1 and mean > 0 else 0.0
    n = float(len(v))
    return CgmMetrics(
        readings=len(v),
        days=days,
        wear=wear,
        in_range=float(((v >= 70) & (v <= 180)).sum() / n),
        below_70=float((v < 70).sum() / n),
        below_54=float((v < 54).sum() / n),
        above_180=float((v > 180).sum() / n),
        above_250=float((v > 250).sum() / n),
        mean=mean,
        gmi=gmi(mean),
        cv=cv,
        sufficient=days >= MIN_DAYS and wear > MIN_WEAR,
    )
