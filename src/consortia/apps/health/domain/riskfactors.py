"""The risk factors the 10-year cardiovascular risk equations take, checked once, in one place.

Both equations in this package (:mod:`.pce` and :mod:`.framingham`) take the same inputs: age, sex, total and HDL
cholesterol (mg/dL), systolic blood pressure (mm Hg) and whether it is treated, smoking and diabetes; the Pooled
Cohort Equations also take race (white, African-American; ``other`` uses the white equations, as the 2013
guideline advises). Values a human body cannot have are refused with :class:`RiskInputError` naming the field;
values that are possible but outside the range an equation was derived on are accepted and flagged by the
equation (``warnings``), because a clinician still wants a number, with the caveat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Sex = Literal["female", "male"]
Race = Literal["white", "african-american", "other"]

SEXES: tuple[str, ...] = ("female", "male")
RACES: tuple[str, ...] = ("white", "african-american", "other")

PLAUSIBLE: dict[str, tuple[float, float]] = {
    "age": (18, 110),
    "total_chol": (50, 1000),
    "hdl": (5, 300),
    "sbp": (50, 300),
}
"""Physiologically possible ranges; outside them an input is refused, not merely flagged."""


class RiskInputError(ValueError):
    """A risk factor that cannot be right; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class RiskFactors:
    """One person's risk factors, in the units of the published equations."""

    age: float
    sex: Sex
    race: Race
    total_chol: float
    hdl: float
    sbp: float
    bp_treated: bool
    smoker: bool
    diabetes: bool

    def __post_init__(self) -> None:
        if self.sex not in SEXES:
            raise RiskInputError("sex", f"must be one of {', '.join(SEXES)}, not {self.sex!r}")
        if self.race not in RACES:
            raise RiskInputError("race", f"must be one of {', '.join(RACES)}, not {self.race!r}")
        for name, (low, high) in PLAUSIBLE.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                raise RiskInputError(name, f"must be a number, not {value!r}")
            if not low <= value <= high:
                raise RiskInputError(name, f"{value:g} is not a plausible value (expected {low:g}–{high:g})")
        if self.hdl >= self.total_chol:
            raise RiskInputError("hdl", f"HDL {self.hdl:g} must be below total cholesterol {self.total_chol:g}")
        for name in ("bp_treated", "smoker", "diabetes"):
            if not isinstance(getattr(self, name), bool):
                raise RiskInputError(name, "must be yes or no")

    def replace(self, **changes: object) -> RiskFactors:
        """A copy with some factors changed (validated again)."""
        values = {**self.__dict__, **changes}
        return RiskFactors(**values)  # type: ignore[arg-type]


def out_of_range(name: str, value: float, low: float, high: float, model: str) -> str | None:
    """A warning when ``value`` lies outside the range ``model`` was derived on, else None."""
    if low <= value <= high:
        return None
    return f"{name} {value:g} is outside the range the {model} was derived on ({low:g}–{high:g}); interpret with care"
