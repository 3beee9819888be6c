"""Korean and English for the pages: one table of strings, the language from ``?lang=``, a cookie or the browser.

Gangwon's patients read Korean; coordinators and visiting clinicians may prefer English. :func:`language` picks
``ko`` or ``en`` — an explicit ``?lang=`` (remembered in a cookie), else the cookie, else the browser's
``Accept-Language`` — and :func:`strings` gives that language's table, falling back to English for a missing key.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("ko", "en")
COOKIE = "health_lang"

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "app": "Gangwon Chronic Care",
        "synthetic": "Synthetic pilot data — not a real person",
        "my_health": "My health",
        "bp_trend": "Blood pressure, last 90 days",
        "glucose_trend": "Blood glucose, last 90 days",
        "target_band": "target range",
        "systolic": "systolic",
        "diastolic": "diastolic",
        "latest": "Latest",
        "no_readings": "No readings yet.",
        "risk": "10-year cardiovascular risk",
        "risk_model_note": "Pooled Cohort Equations (2013); the trained model's estimate is shown for comparison.",
        "drivers": "What drives it",
        "no_risk": "No risk score yet.",
        "consents": "Who may see my data",
        "grant": "Give access",
        "revoke": "Revoke",
        "revoked": "Revoked",
        "active": "Active",
        "inactive": "Ended",
        "to": "To",
        "purpose": "Purpose",
        "classes": "Data",
        "all_data": "all",
        "access_log": "Who looked at my data",
        "access_log_note": "Every read is recorded on the ledger. Press Verify to check an entry in your browser.",
        "own_views": "Your own visits to this page are recorded too; they are not listed here. Count:",
        "verify": "Verify",
        "permit": "allowed",
        "deny": "refused",
        "you": "you",
        "on_behalf": "for",
        "model_unverified": "The current model cannot be verified against the ledger; it is not shown or used",
        "worklist": "Patients by risk",
        "alerts": "Open alerts",
        "live": "Live",
        "patient": "Patient",
        "severity": "Severity",
        "status": "Status",
        "open": "open",
        "acknowledge": "Acknowledge",
        "no_consent": "no consent",
        "history": "History",
        "refused_title": "Access refused",
        "refused_logged": "This request was refused and recorded in the patient's access log.",
        "tir": "Time in range 70–180 mg/dL",
        "model_card": "Model card",
        "language": "한국어",
        "log_out": "Log out",
        "erase": "Erase all my data",
        "erase_note": "Destroys your data key and records; the access log stays. This cannot be undone.",
        "category": "Category",
        "acc_aha": "ACC/AHA 2017",
        "ksh": "KSH 2018",
        "factor_total_chol": "Total cholesterol (mg/dL)",
        "factor_hdl": "HDL cholesterol (mg/dL)",
        "factor_sbp": "Systolic blood pressure (mm Hg)",
        "factor_smoker": "Smoking",
        "factor_diabetes": "Diabetes",
    },
    "ko": {
        "app": "강원 만성질환 관리",
        "synthetic": "합성 시범 데이터 — 실제 인물이 아닙니다",
        "my_health": "나의 건강",
        "bp_trend": "혈압, 최근 90일",
        "glucose_trend": "혈당, 최근 90일",
        "target_band": "목표 범위",
        "systolic": "수축기",
        "diastolic": "이완기",
        "latest": "최근",
        "no_readings": "아직 측정값이 없습니다.",
        "risk": "10년 심뇌혈관질환 위험도",
        "risk_model_note": "통합 코호트 방정식(2013) 기준이며, 학습 모델의 추정치를 비교용으로 함께 표시합니다.",
        "drivers": "위험을 높이는 요인",
        "no_risk": "아직 위험도 평가가 없습니다.",
        "consents": "내 정보를 볼 수 있는 기관",
        "grant": "열람 동의",
        "revoke": "동의 철회",
        "revoked": "철회됨",
        "active": "유효",
        "inactive": "종료",
        "to": "대상",
        "purpose": "목적",
        "classes": "정보",
        "all_data": "전체",
        "access_log": "내 정보를 열람한 기록",
        "access_log_note": "모든 열람은 원장에 기록됩니다. 검증을 누르면 브라우저에서 직접 확인합니다.",
        "own_views": "내가 직접 열람한 기록도 남지만 여기에는 표시하지 않습니다. 횟수:",
        "verify": "검증",
        "permit": "허용",
        "deny": "거부",
        "you": "본인",
        "on_behalf": "요청자:",
        "model_unverified": "현재 모델을 원장과 대조해 검증할 수 없어 표시하거나 사용하지 않습니다",
        "worklist": "위험도순 환자 목록",
        "alerts": "미확인 경보",
        "live": "실시간",
        "patient": "환자",
        "severity": "심각도",
        "status": "상태",
        "open": "미확인",
        "acknowledge": "확인",
        "no_consent": "동의 없음",
        "history": "기록",
        "refused_title": "열람 거부",
        "refused_logged": "이 요청은 거부되었으며 환자의 열람 기록에 남았습니다.",
        "tir": "목표 범위(70–180 mg/dL) 내 시간",
        "model_card": "모델 카드",
        "language": "English",
        "log_out": "로그아웃",
        "erase": "내 정보 모두 삭제",
        "erase_note": "데이터 키와 기록을 파기합니다. 열람 기록은 남으며 되돌릴 수 없습니다.",
        "category": "분류",
        "acc_aha": "ACC/AHA 2017",
        "ksh": "대한고혈압학회 2018",
        "factor_total_chol": "총콜레스테롤 (mg/dL)",
        "factor_hdl": "HDL 콜레스테롤 (mg/dL)",
        "factor_sbp": "수축기 혈압 (mm Hg)",
        "factor_smoker": "흡연",
        "factor_diabetes": "당뇨병",
    },
}


class Strings(dict):
    """A language's strings; a missing key falls back to English, then to the key itself."""

    def __missing__(self, key: str) -> str:
        return STRINGS["en"].get(key, key)


def language(query: str | None, cookie: str | None, accept: str | None) -> str:
    """``ko`` or ``en`` for this request."""
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return choice
    return "ko" if (accept or "").strip().lower().startswith("ko") else "en"


def strings(lang: str) -> Mapping[str, str]:
    """The table of one language."""
    return Strings(STRINGS.get(lang, STRINGS["en"]))
