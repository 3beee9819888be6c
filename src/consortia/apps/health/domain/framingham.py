"""The Framingham general cardiovascular risk profile: 10-year risk of any cardiovascular event.

D'Agostino RB Sr, Vasan RS, Pencina MJ, Wolf PA, Cobain M, Massaro JM, Kannel WB. *General cardiovascular risk
profile for use in primary care: the Framingham Heart Study.* Circulation 2008;117(6):743–753, Table 2. A Cox
model per sex with ln(age), ln(total cholesterol), ln(HDL), ln(SBP) (separate coefficients for treated and
untreated SBP), smoking and diabetes::

    risk = 1 − S₀(10) ^ exp(Σ βᵢ·xᵢ − Σ βᵢ·x̄ᵢ)

with the published coefficients, baseline survivals (women 0.95012, men 0.88936) and mean linear predictors
(women 26.1931, men 23.9802) — cross-checked against the CVrisk R package (``data-raw/score_coef.R``). A man of
55 with TC 213, HDL 50, SBP 140 untreated, non-smoker without diabetes has 13.5 %. The outcome is broader than
the Pooled Cohort Equations' (coronary death, myocardial infarction, coronary insufficiency, angina, stroke, TIA,
peripheral artery disease, heart failure); derived on ages 30–74. Race is not an input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from consortia.apps.health.domain.riskfactors import RiskFactors, out_of_range

MODEL = "framingham"
TITLE = "Framingham general CVD (D'Agostino 2008)"


@dataclass(frozen=True)
class Coefficients:
    """One sex's row of Table 2."""

    ln_age: float
    ln_tc: float
    ln_hdl: float
    ln_untreated_sbp: float
    ln_treated_sbp: float
    smoker: float
    diabetes: float
    mean: float
    baseline_survival: float


FEMALE = Coefficients(2.32888, 1.20904, -0.70833, 2.76157, 2.82263, 0.52873, 0.69154, 26.1931, 0.95012)
MALE = Coefficients(3.06117, 1.12370, -0.93263, 1.93303, 1.99881, 0.65451, 0.57367, 23.9802, 0.88936)

RANGES: dict[str, tuple[float, float]] = {"age": (30, 74), "total_chol": (100, 400), "hdl": (10, 100), "sbp": (90, 200)}
"""Age is the paper's; the lipid and blood-pressure bounds are the usual calculator conventions."""


def linear_predictor(c: Coefficients, age, tc, hdl, sbp, treated, smoker, diabetes) -> np.ndarray:
    """Σ βᵢ·xᵢ for arrays (or scalars) of one sex."""
    treated = np.asarray(treated, dtype=float)
    lsbp = np.log(sbp)
    return (
        c.ln_age * np.log(age)
        + c.ln_tc * np.log(tc)
        + c.ln_hdl * np.log(hdl)
        + treated * c.ln_treated_sbp * lsbp
        + (1 - treated) * c.ln_untreated_sbp * lsbp
        + c.smoker * np.asarray(smoker, dtype=float)
        + c.diabetes * np.asarray(diabetes, dtype=float)
    )


def risk_arrays(female, age, tc, hdl, sbp, treated, smoker, diabetes) -> np.ndarray:
    """10-year risk (fractions) for arrays of people of either sex."""
    female = np.asarray(female, dtype=bool)
    arrays = [
        np.broadcast_to(np.asarray(a, dtype=float), female.shape)
        for a in (age, tc, hdl, sbp, treated, smoker, diabetes)
    ]
    out = np.empty(female.shape, dtype=float)
    for is_female, c in ((True, FEMALE), (False, MALE)):
        mask = female == is_female
        if mask.any():
            lp = linear_predictor(c, *(a[mask] for a in arrays))
            out[mask] = 1.0 - np.power(c.baseline_survival, np.exp(lp - c.mean))
    return out


def risk(f: RiskFactors) -> float:
    """10-year general CVD risk of one person, as a fraction."""
    c = FEMALE if f.sex == "female" else MALE
    lp = float(linear_predictor(c, f.age, f.total_chol, f.hdl, f.sbp, f.bp_treated, f.smoker, f.diabetes))
    return 1.0 - c.baseline_survival ** float(np.exp(lp - c.mean))


def warnings(f: RiskFactors) -> list[str]:
    """Inputs outside the derivation ranges."""
    found = [out_of_range(name, getattr(f, name), *bounds, model=TITLE) for name, bounds in RANGES.items()]
    return [w for w in found if w]
