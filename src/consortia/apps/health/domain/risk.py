"""One entry point to the risk equations, and the factors that drive a person's risk.

:func:`score` runs the chosen equation (``pce`` or ``framingham``) and returns a :class:`RiskResult` with the
10-year risk as a fraction, the equation's warnings and the *drivers*: for each modifiable factor, how much lower
the risk would be if only that factor were at its optimal value (total cholesterol 170 mg/dL, HDL 50 mg/dL,
untreated SBP 110 mm Hg, non-smoker, no diabetes — the "optimal risk factors" of the 2013 ACC/AHA risk
calculator). The patient page draws the gauge and lists the drivers largest first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from consortia.apps.health.domain import framingham, pce
from consortia.apps.health.domain.riskfactors import RiskFactors

MODELS: dict[str, tuple[str, Callable[[RiskFactors], float], Callable[[RiskFactors], list[str]]]] = {
    pce.MODEL: (pce.TITLE, pce.risk, pce.warnings),
    framingham.MODEL: (framingham.TITLE, framingham.risk, framingham.warnings),
}

OPTIMAL: dict[str, dict[str, object]] = {
    "total_chol": {"total_chol": 170.0},
    "hdl": {"hdl": 50.0},
    "sbp": {"sbp": 110.0, "bp_treated": False},
    "smoker": {"smoker": False},
    "diabetes": {"diabetes": False},
}


class UnknownModel(ValueError):
    """A model name that is neither ``pce`` nor ``framingham``."""


@dataclass(frozen=True)
class Driver:
    """How much one factor adds to the risk (risk now minus risk with that factor optimal)."""

    factor: str
    value: object
    optimal: object
    contribution: float


@dataclass(frozen=True)
class RiskResult:
    """A 10-year risk with its caveats and drivers."""

    model: str
    title: str
    risk_10y: float
    warnings: list[str] = field(default_factory=list)
    drivers: list[Driver] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """The CLI and API shape (risk as a fraction, rounded to 4 places)."""
        return {
            "model": self.model,
            "title": self.title,
            "risk_10y": round(self.risk_10y, 4),
            "risk_percent": round(100 * self.risk_10y, 1),
            "warnings": list(self.warnings),
            "drivers": [
                {"factor": d.factor, "value": d.value, "optimal": d.optimal, "contribution": round(d.contribution, 4)}
                for d in self.drivers
            ],
        }


def score(model: str, factors: RiskFactors, *, with_drivers: bool = True) -> RiskResult:
    """Score ``factors`` with ``model``; drivers sorted largest first."""
    try:
        title, equation, caveats = MODELS[model]
    except KeyError:
        raise UnknownModel(f"model must be one of {', '.join(MODELS)}, not {model!r}") from None
    value = equation(factors)
    drivers: list[Driver] = []
    if with_drivers:
        for name, change in OPTIMAL.items():
            optimal = factors.replace(**change)
            if optimal == factors:
                continue
            shown = {k: getattr(optimal, k) for k in change}
            drivers.append(Driver(name, getattr(factors, name), shown.get(name), max(0.0, value - equation(optimal))))
        drivers.sort(key=lambda d: -d.contribution)
    return RiskResult(model, title, value, caveats(factors), [d for d in drivers if d.contribution > 0])


def category(risk_10y: float) -> str:
    """The 2018/2019 ACC/AHA risk category of a 10-year ASCVD risk: low, borderline, intermediate or high."""
    if risk_10y < 0.05:
        return "low"
    if risk_10y < 0.075:
        return "borderline"
    if risk_10y < 0.20:
        return "intermediate"
    return "high"
