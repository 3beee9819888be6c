"""Round numbers for chart axes: ticks at 1, 2 or 5 × 10ⁿ apart, covering the data.

An axis from 50 to 200 cut into four equal parts reads ``50 / 88 / 125 / 162 / 200``; nobody can read a value
off that. The "nice numbers" rule (Heckbert, *Graphics Gems*, 1990) picks a step of 1, 2 or 5 times a power of
ten, starts at the largest multiple of the step at or below the lowest value and ends at the smallest at or above
the highest, and takes the smallest such step that gives no more ticks than asked for. Written here rather than
pulled from a plotting library because the pages draw their charts as server-side SVG, and this is the only
piece of one they need.
"""

from __future__ import annotations

import math
from decimal import Decimal

_MANTISSAS = (1, 2, 5)


def _steps_from(smallest: float) -> list[float]:
    """Candidate steps 1, 2, 5 × 10ⁿ from just under ``smallest`` upwards."""
    exponent = math.floor(math.log10(smallest)) - 1
    return [m * 10.0**e for e in range(exponent, exponent + 4) for m in _MANTISSAS]


def _clean(value: float, step: float) -> float:
    """``value`` rounded to the step's decimals, so 0.1 + 0.2 shows as 0.3."""
    decimals = max(0, -Decimal(repr(step)).normalize().as_tuple().exponent)  # type: ignore[operator]
    cleaned = round(value, int(decimals))
    return 0.0 if cleaned == 0 else cleaned


def nice_ticks(lo: float, hi: float, max_ticks: int = 6) -> tuple[float, ...]:
    """Evenly spaced round ticks covering ``[lo, hi]``, at most ``max_ticks`` of them (3 or more)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"expected finite axis bounds, found {lo!r}..{hi!r}")
    if max_ticks < 3:
        raise ValueError(f"expected at least 3 ticks (a range across zero needs them), found max_ticks={max_ticks}")
    lo, hi = min(lo, hi), max(lo, hi)
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    for step in _steps_from((hi - lo) / (max_ticks - 1)):
        start = math.floor(lo / step + 1e-9) * step
        end = math.ceil(hi / step - 1e-9) * step
        count = round((end - start) / step) + 1
        if count <= max_ticks:
            return tuple(_clean(start + i * step, step) for i in range(count))
    raise AssertionError(f"no step found for {lo}..{hi}")  # pragma: no cover - the candidate steps always reach one


def tick_label(value: float) -> str:
    """A tick as text: ``50``, ``2.5``, ``0.05`` — no ``50.0``."""
    if value == int(value):
        return str(int(value))
    return f"{value:.10g}"
