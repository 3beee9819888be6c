"""Glucose thresholds: hypoglycaemia levels and persistent hyperglycaemia.

Hypoglycaemia levels follow the International Hypoglycaemia Study Group and the ADA (Diabetes Care
2017;40:155–157; ADA Standards of Care, section 6): level 1 is a glucose < 70 mg/dL (3.9 mmol/L) and ≥ 54 mg/dL;
level 2 is < 54 mg/dL (3.0 mmol/L), clinically significant; level 3 is a severe event needing assistance and is
not a reading.

*Persistent* hyperglycaemia has no single published threshold. This application flags it when at least three
readings above 250 mg/dL (13.9 mmol/L — the value at which the ADA's sick-day guidance asks people with diabetes
to check ketones) fall within 24 hours and span at least four hours, so one post-meal peak is not an alarm.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

LEVEL1 = 70.0
LEVEL2 = 54.0
HYPER = 250.0
HYPER_COUNT = 3
HYPER_WINDOW = timedelta(hours=24)
HYPER_SPAN = timedelta(hours=4)


def hypoglycaemia_level(glucose_mg_dl: float) -> int:
    """0 (none), 1 (< 70 and ≥ 54 mg/dL) or 2 (< 54 mg/dL)."""
    if glucose_mg_dl < LEVEL2:
        return 2
    if glucose_mg_dl < LEVEL1:
        return 1
    return 0


def persistent_hyperglycaemia(readings: Sequence[tuple[datetime, float]], at: datetime) -> bool:
    """Whether the readings up to ``at`` show persistent hyperglycaemia ending at ``at``."""
    high = sorted(t for t, v in readings if v > HYPER and at - HYPER_WINDOW <= t <= at)
    return len(high) >= HYPER_COUNT and high[-1] - high[0] >= HYPER_SPAN
