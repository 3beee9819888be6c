"""Causal sliding windows over grouped, ordered rows, vectorised with one binary search per row.

Rules ask "how much did this account receive in the 72 hours up to this transaction?" for every transaction. On
rows sorted by (group, processing order) — times never decrease within a group — a window ``(t - w, t]`` of a
row ``i`` starts at the first row of the same group whose time is after ``t - w``. Encoding (group, time) as one
sortable integer key turns that into :func:`numpy.searchsorted`, and a running sum turns any window sum into a
difference of two prefix sums: O(n log n) for all rows at once, and *row-causal* (rows after ``i`` are never
counted, even at the same instant), which is exactly what a streaming engine fed one transaction at a time sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Windows:
    """Rows of several groups, sorted by group then time, ready for window sums."""

    keys: np.ndarray
    """group * span + time: sorted ascending."""
    span: int
    _starts: dict[int, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, groups: np.ndarray, times: np.ndarray, reach: int) -> Windows:
        """Windows over ``groups`` (non-negative ints) and ``times`` (ints), looking back at most ``reach``."""
        if len(times) == 0:
            return cls(np.zeros(0, dtype=np.int64), 1)
        lo = int(times.min())
        span = int(times.max()) - lo + reach + 2
        if (int(groups.max()) + 1) * span >= 2**62:
            raise OverflowError(f"too many groups ({int(groups.max()) + 1}) for a time span of {span}")
        keys = groups.astype(np.int64) * span + (times.astype(np.int64) - lo)
        if len(keys) > 1 and bool(np.any(np.diff(keys) < 0)):
            raise ValueError("rows must be sorted by group, then time")
        return cls(keys, span)

    def start(self, back: int) -> np.ndarray:
        """For each row, the index of the first row of its group with time > its time - ``back``."""
        if back not in self._starts:  # several rules look back the same distance: search once
            self._starts[back] = np.searchsorted(self.keys, self.keys - back, side="right")
        return self._starts[back]

    def sum(self, values: np.ndarray, back: int, *, include_self: bool = True) -> np.ndarray:
        """For each row ``i``: the sum of ``values`` over rows ``j <= i`` (``j < i`` without ``include_self``) of
        its group with time in ``(t_i - back, t_i]``."""
        prefix = np.concatenate(([0], np.cumsum(values, dtype=np.float64 if values.dtype.kind == "f" else np.int64)))
        index = np.arange(len(self.keys))
        end = index + 1 if include_self else index
        return prefix[end] - prefix[self.start(back)]

    def sum_between(self, values: np.ndarray, back_far: int, back_near: int) -> np.ndarray:
        """For each row: the sum of ``values`` over rows of its group with time in ``(t - back_far, t - back_near]``."""
        prefix = np.concatenate(([0], np.cumsum(values, dtype=np.float64 if values.dtype.kind == "f" else np.int64)))
        return prefix[self.start(back_near)] - prefix[self.start(back_far)]
