"""Latency percentiles, as benchmarks report them.

A percentile here is the *nearest rank*: the p-th percentile of ``n`` samples is the smallest sample that at least
``p × n`` samples do not exceed, i.e. the ``ceil(p × n)``-th smallest. It is always one of the measured values (no
interpolation), so p99.9 of a thousand samples is the largest one, and p50 of ``[1, 2, 3, 4]`` is 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` in (0, 1]); 0.0 when there are none."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"a percentile fraction is in (0, 1], got {fraction!r}")
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[_rank(len(ordered), fraction)]


def _rank(count: int, fraction: float) -> int:
    # round() first: 0.999 * 1000 is 998.9999999999999 in binary floating point, and its ceiling must be 999.
    return max(0, math.ceil(round(fraction * count, 9)) - 1)


@dataclass(frozen=True)
class Summary:
    """The percentiles of a set of durations, in milliseconds."""

    count: int
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Summary:
        """Summarise durations given in seconds."""
        ordered = sorted(seconds)
        if not ordered:
            return cls(0, 0.0, 0.0, 0.0, 0.0)

        def at(fraction: float) -> float:
            return round(ordered[_rank(len(ordered), fraction)] * 1000, 3)

        return cls(len(ordered), at(0.50), at(0.99), at(0.999), round(ordered[-1] * 1000, 3))
