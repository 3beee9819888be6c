"""What the pages show, assembled from one logged read: trends, categories, risk, consents, the access log.

Each page that shows a patient's data first *reads* it through the service — an ``access`` transaction the
patient later sees in their log — and builds a plain dictionary for the template from what came back. Nothing
here decides access; refusals arrive as :class:`~.service.AccessRefused` and the page says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from consortia.apps.health.domain import alerts as alert_rules
from consortia.apps.health.domain import bp, cgm, consent, risk
from consortia.apps.health.domain.readings import Reading, parse_iso
from consortia.apps.health.service.health import AccessRefused, HealthService, PatientData
from consortia.apps.health.web import charts
from consortia.identity import SigningIdentity

WINDOW = timedelta(days=90)
LOG_ROWS = 50


def _latest(documents: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    found = [d for d in documents if d.get("kind") == kind]
    return max(found, key=lambda d: d["effective"]) if found else None


def risk_view(document: dict[str, Any] | None, text: Mapping[str, str]) -> dict[str, Any] | None:
    """The gauge and drivers of a risk-score record."""
    if document is None or "equations" not in document:
        return None
    pce = document["equations"]["pce"]
    category = risk.category(pce["risk_10y"])
    return {
        "risk": pce["risk_10y"],
        "percent": pce["risk_percent"],
        "category": category,
        "gauge": charts.gauge(pce["risk_10y"], category, text["risk"]),
        "drivers": pce["drivers"][:4],
        "warnings": pce["warnings"],
        "framingham": document["equations"]["framingham"]["risk_percent"],
        "model": document.get("model"),
        "longitudinal": document.get("longitudinal", {}),
        "scored": document["effective"],
        "sbp_source": document.get("inputs", {}).get("sbp_source", ""),
    }


def trends(readings: list[Reading], text: Mapping[str, str], now: datetime) -> dict[str, Any]:
    """Blood-pressure and glucose charts with target bands, latest values and categories."""
    start = now - WINDOW
    bp_readings = sorted((r for r in readings if r.kind == "bp" and r.effective >= start), key=lambda r: r.effective)
    glucose = sorted((r for r in readings if r.kind == "glucose" and r.effective >= start), key=lambda r: r.effective)
    bp_chart = charts.trend(
        [
            charts.Series(text["systolic"], "#b42318", [(r.effective, r.value) for r in bp_readings]),
            charts.Series(text["diastolic"], "#1f5fbf", [(r.effective, r.value2 or 0) for r in bp_readings]),
        ],
        [(90, 130, "#1c7a3b"), (60, 80, "#1c7a3b")],
        50,
        200,
        start,
        now,
        text["bp_trend"],
        "bp-trend",
    )
    glucose_chart = charts.trend(
        [charts.Series("glucose", "#6f42c1", [(r.effective, r.value) for r in glucose])],
        [(70, 180, "#1c7a3b")],
        40,
        300,
        start,
        now,
        text["glucose_trend"],
        "glucose-trend",
    )
    latest_bp = bp_readings[-1] if bp_readings else None
    categories = bp.categorise(latest_bp.value, latest_bp.value2 or 0) if latest_bp else None
    recent = [r for r in glucose if r.effective >= now - timedelta(days=14)]
    metrics = cgm.metrics([r.effective for r in recent], [r.value for r in recent]) if recent else None
    return {
        "bp_chart": bp_chart,
        "glucose_chart": glucose_chart,
        "bp_count": len(bp_readings),
        "glucose_count": len(glucose),
        "latest_bp": latest_bp,
        "latest_glucose": glucose[-1] if glucose else None,
        "categories": categories,
        "tir": None if metrics is None else round(100 * metrics.in_range, 1),
    }


def consent_rows(consents: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """Consents as table rows: id, status, actor, purposes, classes, period."""
    rows = []
    for doc in consents:
        rows.append(
            {
                "id": doc["id"],
                "status": doc["status"],
                "type": doc["provision"]["type"],
                "actors": consent.actors(doc),
                "purposes": [consent.PURPOSES.get(p, {}).get(lang, p) for p in consent.purposes(doc)],
                "classes": consent.classes(doc),
                "start": doc["provision"]["period"].get("start", "")[:10],
                "end": (doc["provision"]["period"].get("end") or "")[:10],
            }
        )
    return rows


def is_own_view(entry: Mapping[str, Any], me: str) -> bool:
    """Whether an access-log entry is the patient looking at their own data (directly or through the office's app)."""
    return entry["accessor"] == me or (entry.get("on_behalf") == me and entry.get("purpose") == consent.PATRQT)


def log_rows(entries: list[dict[str, Any]], me: str, lang: str) -> list[dict[str, Any]]:
    """Others' access-log entries for the patient page (each with its transaction to verify), own views left out."""
    others = [e for e in entries if not is_own_view(e, me)]
    return [
        {
            **e,
            "me": e["accessor"] == me,
            "for_me": e.get("on_behalf") == me,
            "purpose_text": consent.PURPOSES.get(e["purpose"], {}).get(lang, e["purpose"]),
        }
        for e in others[:LOG_ROWS]
    ]


def patient_page(service: HealthService, identity: SigningIdentity, lang: str, text: Mapping[str, str]) -> dict:
    """The patient's own page."""
    patient = service.patient_of(identity)
    now = datetime.now(UTC)
    data = service.read(identity, patient, consent.PATRQT)
    profile = _latest(data.documents, "profile")
    me = f"{identity.info.org}/{identity.info.name}"
    log = service.access_log(identity, patient)
    return {
        "patient": patient,
        "synthetic": bool(profile and profile["factors"].get("synthetic")),
        "trends": trends(data.readings, text, now),
        "risk": risk_view(_latest(data.documents, "risk-score"), text),
        "consents": consent_rows(service.consents(identity, patient), lang),
        "log": log_rows(log, me, lang),
        "own_views": sum(1 for e in log if is_own_view(e, me)),
        "verified": data.verified,
        "unverified": data.unverified,
        "access_id": data.access_id,
    }


def purpose_for(identity: SigningIdentity) -> str:
    """The purpose a staff member reads under: clinicians treat, everyone else coordinates care."""
    return consent.TREAT if identity.info.attributes.get("role") == "clinician" else consent.CAREMGT


def worklist_page(service: HealthService, identity: SigningIdentity, text: Mapping[str, str]) -> dict:
    """Patients the caller may see, sorted by open critical alerts, open alerts, then risk."""
    purpose = purpose_for(identity)
    mine = service.evaluate(identity, "my_patients", purpose)
    open_alerts = service.alerts(identity, "open")
    reads: dict[str, PatientData | AccessRefused] = service.read_many(identity, mine, purpose, ["risk"]) if mine else {}
    by_patient: dict[str, list[dict[str, Any]]] = {}
    for alert in open_alerts:
        by_patient.setdefault(alert["patient"], []).append(alert)
    rows = []
    for patient in sorted(set(mine) | set(by_patient)):
        outcome = reads.get(patient)
        score = None
        synthetic = False
        if isinstance(outcome, PatientData):
            score = risk_view(_latest(outcome.documents, "risk-score"), text)
            profile = _latest(outcome.documents, "profile")
            synthetic = bool(profile and profile["factors"].get("synthetic"))
        alerts_here = by_patient.get(patient, [])
        rows.append(
            {
                "patient": patient,
                "consented": patient in mine,
                "risk": score,
                "alerts": len(alerts_here),
                "critical": sum(1 for a in alerts_here if a["severity"] == "critical"),
                "synthetic": synthetic,
            }
        )
    rows.sort(key=lambda r: (-r["critical"], -r["alerts"], -(r["risk"]["risk"] if r["risk"] else -1)))
    return {"rows": rows, "alerts": [alert_view(service, identity, a) for a in open_alerts], "purpose": purpose}


def alert_view(service: HealthService, identity: SigningIdentity, alert: dict[str, Any]) -> dict[str, Any]:
    """An alert with its details when consent allows."""
    try:
        detail = service.alert_detail(identity, alert["id"]).get("detail") or {}
    except Exception:  # refused by consent, or purged: show the public part only
        detail = {}
    kind = detail.get("kind", "")
    return {
        **alert,
        "kind": kind,
        "title": alert_rules.KINDS.get(kind, {}),
        "value": detail.get("value", ""),
        "at": detail.get("at", ""),
    }


def history_page(service: HealthService, identity: SigningIdentity, patient: str, text: Mapping[str, str]) -> dict:
    """One patient's history for care staff (a logged read; AccessRefused propagates)."""
    now = datetime.now(UTC)
    data = service.read(identity, patient, purpose_for(identity))
    profile = _latest(data.documents, "profile")
    readings = sorted(data.readings, key=lambda r: r.effective, reverse=True)
    return {
        "patient": patient,
        "synthetic": bool(profile and profile["factors"].get("synthetic")),
        "trends": trends(data.readings, text, now),
        "risk": risk_view(_latest(data.documents, "risk-score"), text),
        "recent": [
            {**r.summary(), "category": bp.categorise(r.value, r.value2 or 0).to_json() if r.kind == "bp" else None}
            for r in readings[:40]
        ],
        "alerts": [alert_view(service, identity, a) for a in service.alerts(identity, "", patient)],
        "access_id": data.access_id,
        "verified": data.verified,
        "since": parse_iso(readings[-1].summary()["effective"]) if readings else None,
    }
