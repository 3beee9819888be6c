"""A patient's risk score: the published equations and the trained model, from the patient's own records.

The risk factors come from the patient's profile (age, sex, lipids, smoking, diabetes, treatment — entered at
enrolment) and their home readings: the systolic pressure used is the mean of the last 30 days of home
measurements when there are at least five, else the profile's clinic value. Home means are lower than clinic
readings (the white-coat effect), so this choice is reported in ``inputs``. Each score records the name, version
and SHA-256 of the trained model it used, so every prediction can be traced to a registered model file.

*Longitudinal indicators* — 30-day SBP variability (standard deviation) and glucose time in range 70–180 mg/dL —
are shown beside the score and do not change it: they have not been validated against outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np

from consortia.apps.health.domain import risk
from consortia.apps.health.domain.readings import Reading, iso
from consortia.apps.health.domain.riskfactors import RiskFactors, RiskInputError

FEATURES = (
    "male",
    "age",
    "currentSmoker",
    "cigsPerDay",
    "BPMeds",
    "prevalentStroke",
    "prevalentHyp",
    "diabetes",
    "totChol",
    "sysBP",
    "diaBP",
    "BMI",
    "heartRate",
    "glucose",
)
"""The trained model's inputs, in order (the Framingham teaching cohort's column names)."""


class RiskModel(Protocol):
    """A trained model as scoring uses it (the service's ``LoadedModel``, opened after its hash was checked)."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def sha256(self) -> str: ...

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """10-year CHD probability for rows of :data:`FEATURES` (NaN = missing)."""
        ...


WINDOW = timedelta(days=30)
MIN_HOME_READINGS = 5
PROFILE_FIELDS = ("age", "sex", "race", "total_chol", "hdl", "sbp", "bp_treated", "smoker", "diabetes", "bmi")


def _recent(readings: Sequence[Reading], kind: str, now: datetime) -> list[Reading]:
    return [r for r in readings if r.kind == kind and now - WINDOW <= r.effective <= now]


def model_row(
    f: RiskFactors, sbp: float, dbp: float | None, glucose: float | None, heart_rate: float | None, bmi: float | None
) -> np.ndarray:
    """The trained model's feature row for a patient (NaN where unknown; the model imputes)."""
    values = {
        "male": 1.0 if f.sex == "male" else 0.0,
        "age": f.age,
        "currentSmoker": float(f.smoker),
        "cigsPerDay": 10.0 if f.smoker else 0.0,
        "BPMeds": float(f.bp_treated),
        "prevalentStroke": 0.0,
        "prevalentHyp": float(f.bp_treated or sbp >= 140),
        "diabetes": float(f.diabetes),
        "totChol": f.total_chol,
        "sysBP": sbp,
        "diaBP": np.nan if dbp is None else dbp,
        "BMI": np.nan if bmi is None else bmi,
        "heartRate": np.nan if heart_rate is None else heart_rate,
        "glucose": np.nan if glucose is None else glucose,
    }
    return np.asarray([values[name] for name in FEATURES], dtype=float)


def score_document(
    patient: str, profile: dict[str, Any], readings: Sequence[Reading], now: datetime, model: RiskModel | None
) -> dict[str, Any]:
    """The risk-score record of one patient (sealed and anchored like any other record)."""
    bp = _recent(readings, "bp", now)
    home = len(bp) >= MIN_HOME_READINGS
    sbp = float(np.mean([r.value for r in bp])) if home else float(profile["sbp"])
    dbp = float(np.mean([r.value2 for r in bp if r.value2 is not None])) if home else None
    glucose = [r.value for r in _recent(readings, "glucose", now)]
    heart = [r.value for r in _recent(readings, "heart_rate", now)]
    try:
        factors = RiskFactors(
            age=float(profile["age"]),
            sex=profile["sex"],
            race=profile.get("race", "other"),
            total_chol=float(profile["total_chol"]),
            hdl=float(profile["hdl"]),
            sbp=round(sbp, 1),
            bp_treated=bool(profile["bp_treated"]),
            smoker=bool(profile["smoker"]),
            diabetes=bool(profile["diabetes"]),
        )
    except (KeyError, TypeError, ValueError, RiskInputError) as exc:
        return {
            "kind": "risk-score",
            "class": "risk",
            "patient": patient,
            "effective": iso(now),
            "error": f"the profile cannot be scored: {exc}",
        }
    equations = {name: risk.score(name, factors).to_json() for name in risk.MODELS}
    document: dict[str, Any] = {
        "kind": "risk-score",
        "class": "risk",
        "patient": patient,
        "effective": iso(now),
        "inputs": {**factors.__dict__, "sbp_source": "home mean, 30 days" if home else "clinic (profile)"},
        "equations": equations,
        "category": risk.category(equations["pce"]["risk_10y"]),
        "longitudinal": {
            "note": "not validated against outcomes; shown, not scored",
            "home_bp_readings_30d": len(bp),
            "sbp_sd_30d": round(float(np.std([r.value for r in bp], ddof=1)), 1) if len(bp) > 1 else None,
            "glucose_readings_30d": len(glucose),
            "time_in_range_pct": round(100 * float(np.mean([(70 <= g <= 180) for g in glucose])), 1)
            if glucose
            else None,
        },
        "model": None,
    }
    if model is not None:
        row = model_row(
            factors,
            sbp,
            dbp,
            float(np.mean(glucose)) if glucose else None,
            float(np.mean(heart)) if heart else None,
            profile.get("bmi"),
        )
        document["model"] = {
            "name": model.name,
            "version": model.version,
            "sha256": model.sha256,
            "chd_10y": round(float(model.predict(row)[0]), 4),
        }
    return document
