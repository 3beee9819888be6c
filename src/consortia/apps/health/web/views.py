"""What the pages show, assembled from one logged read: trends, categories, risk, consents, the access log.

Each page that shows a patient's data first *reads* it through the service — an ``access`` transaction the
patient later sees in their log — and builds a plain dictionary for the template from what came back. Nothing
here decides access; refusals arrive as :class:`~.service.AccessRefused` and the page says so. Everything a
page shows is already in the page's language (:mod:`.text`): codes by their names, times in Korean time with
the zone named, units as people write them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

from consortia.apps.health.domain import bp, cgm, consent, risk
from consortia.apps.health.domain.readings import Reading
from consortia.apps.health.service.health import AccessRefused, HealthService, PatientData
from consortia.apps.health.web import charts
from consortia.apps.health.web import text as tx
from consortia.identity import SigningIdentity

WINDOW = timedelta(days=90)
LOG_ROWS = 50


def _latest(documents: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    found = [d for d in documents if d.get("kind") == kind]
    return max(found, key=lambda d: d["effective"]) if found else None


def risk_view(document: dict[str, Any] | None, lang: str) -> dict[str, Any] | None:
    """The gauge, the estimates side by side (equations and, when one scored it, the trained model) and drivers."""
    if document is None or "equations" not in document:
        return None
    t = tx.table(lang)
    pce = document["equations"]["pce"]
    category = risk.category(pce["risk_10y"])
    model = document.get("model")
    return {
        "risk": pce["risk_10y"],
        "percent": pce["risk_percent"],
        "category": category,
        "category_text": tx.risk_category(category, lang),
        "gauge": charts.gauge(pce["risk_10y"], category, t["risk"], category_label=tx.risk_category(category, lang)),
        "drivers": [{"factor": d["factor"], "text": tx.driver(d, lang)} for d in pce["drivers"][:4]],
        "warnings": [tx.warning(w, lang) for w in pce["warnings"]],
        "framingham": document["equations"]["framingham"]["risk_percent"],
        "model": model,
        "model_title": tx.say(lang, "risk_model", name=model["name"], version=model["version"]) if model else "",
        "model_text": tx.say(lang, "risk_model_chd", percent=f"{100 * model['chd_10y']:.1f}") if model else "",
        "longitudinal": document.get("longitudinal", {}),
        "scored": tx.when(document["effective"], lang),
        "sbp_source": t["sbp_home"]
        if document.get("inputs", {}).get("sbp_source", "").startswith("home")
        else t["sbp_clinic"],
    }


def trends(readings: list[Reading], lang: str, now: datetime) -> dict[str, Any]:
    """Blood-pressure and glucose charts with target bands, latest values and categories."""
    t = tx.table(lang)
    start = now - WINDOW
    bp_readings = sorted((r for r in readings if r.kind == "bp" and r.effective >= start), key=lambda r: r.effective)
    glucose = sorted((r for r in readings if r.kind == "glucose" and r.effective >= start), key=lambda r: r.effective)
    ends = {"start_label": tx.day(start, lang), "end_label": tx.day(now, lang)}
    bp_chart = charts.trend(
        [
            charts.Series(t["systolic"], "#b42318", [(r.effective, r.value) for r in bp_readings]),
            charts.Series(t["diastolic"], "#1f5fbf", [(r.effective, r.value2 or 0) for r in bp_readings]),
        ],
        [(90, 130, "#1c7a3b"), (60, 80, "#1c7a3b")],
        50,
        200,
        start,
        now,
        t["bp_trend"],
        "bp-trend",
        **ends,
    )
    glucose_chart = charts.trend(
        [charts.Series(t["glucose"], "#6f42c1", [(r.effective, r.value) for r in glucose])],
        [(70, 180, "#1c7a3b")],
        40,
        300,
        start,
        now,
        t["glucose_trend"],
        "glucose-trend",
        **ends,
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
        "latest_bp_at": tx.when(latest_bp.effective, lang) if latest_bp else "",
        "latest_glucose": glucose[-1] if glucose else None,
        "latest_glucose_at": tx.when(glucose[-1].effective, lang) if glucose else "",
        "categories": {"acc_aha": tx.bp_category(categories.acc_aha, lang), "ksh": tx.bp_category(categories.ksh, lang)}
        if categories
        else None,
        "tir": None if metrics is None else round(100 * metrics.in_range, 1),
    }


def consent_rows(consents: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """Consents as list items: id, status, to whom (by name), purposes and data classes by name, the period."""
    rows = []
    for doc in consents:
        period = doc["provision"]["period"]
        start, end = tx.day(period.get("start", ""), lang), tx.day(period.get("end") or "", lang)
        revoked = next((x.get("valueDateTime") for x in doc.get("extension", [])
                        if x.get("url") == "urn:consortia:health:revoked"), None)  # fmt: skip
        rows.append(
            {
                "id": doc["id"],
                "status": doc["status"],
                "revoked_at": tx.when(revoked, lang) if revoked else "",
                "type": doc["provision"]["type"],
                "type_text": tx.table(lang).get(f"type_{doc['provision']['type']}", doc["provision"]["type"]),
                "actors": consent.actors(doc),
                "actor_names": [tx.who(a, lang) for a in consent.actors(doc)],
                "purposes": [tx.purpose(p, lang) for p in consent.purposes(doc)],
                "classes": [tx.data_class(c, lang) for c in consent.classes(doc)],
                "period": tx.say(lang, "period", start=start, end=end)
                if end
                else tx.say(lang, "period_from", start=start),
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
            "accessor_text": tx.who(e["accessor"], lang),
            "on_behalf_text": tx.who(e["on_behalf"], lang) if e.get("on_behalf") else "",
            "purpose_text": tx.purpose(e["purpose"], lang),
            "classes_text": [tx.data_class(c, lang) for c in e.get("classes", [])],
            "at_text": tx.when(e["at"], lang),
            "reason_text": tx.reason(e.get("reason", ""), lang),
        }
        for e in others[:LOG_ROWS]
    ]


def patient_page(service: HealthService, identity: SigningIdentity, lang: str) -> dict:
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
        "trends": trends(data.readings, lang, now),
        "risk": risk_view(_latest(data.documents, "risk-score"), lang),
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


def worklist_page(service: HealthService, identity: SigningIdentity, lang: str) -> dict:
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
            score = risk_view(_latest(outcome.documents, "risk-score"), lang)
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
    return {"rows": rows, "alerts": [alert_view(service, identity, a, lang) for a in open_alerts], "purpose": purpose}


def alert_view(service: HealthService, identity: SigningIdentity, alert: dict[str, Any], lang: str) -> dict[str, Any]:
    """An alert with its details when consent allows, in words."""
    try:
        detail = service.alert_detail(identity, alert["id"]).get("detail") or {}
    except Exception:  # refused by consent, or purged: show the public part only
        detail = {}
    kind = detail.get("kind", "")
    return {
        **alert,
        "kind": kind,
        "title": tx.alert_kind(kind, lang),
        "severity_text": tx.table(lang).get(f"severity_{alert['severity']}", alert["severity"]),
        "status_text": tx.table(lang).get(f"status_{alert['status']}", alert["status"]),
        "value": tx.alert_value(detail.get("value", ""), lang),
        "at": tx.when(detail.get("at") or alert.get("raised") or "", lang),
    }


def history_page(service: HealthService, identity: SigningIdentity, patient: str, lang: str) -> dict:
    """One patient's history for care staff (a logged read; AccessRefused propagates)."""
    now = datetime.now(UTC)
    data = service.read(identity, patient, purpose_for(identity))
    profile = _latest(data.documents, "profile")
    readings = sorted(data.readings, key=lambda r: r.effective, reverse=True)
    recent = []
    for r in readings[:40]:
        summary = r.summary()
        category = bp.categorise(r.value, r.value2 or 0) if r.kind == "bp" else None
        named = (
            {"acc_aha": tx.bp_category(category.acc_aha, lang), "ksh": tx.bp_category(category.ksh, lang)}
            if category
            else None
        )
        recent.append(
            {
                **summary,
                "name": tx.loinc(r.code, lang),
                "at": tx.when(r.effective, lang),
                "unit_text": tx.unit(r.unit),
                "category": named,
            }
        )
    return {
        "patient": patient,
        "synthetic": bool(profile and profile["factors"].get("synthetic")),
        "trends": trends(data.readings, lang, now),
        "risk": risk_view(_latest(data.documents, "risk-score"), lang),
        "recent": recent,
        "alerts": [alert_view(service, identity, a, lang) for a in service.alerts(identity, "", patient)],
        "access_id": data.access_id,
        "verified": data.verified,
        "read_at": tx.when(now, lang),
    }


_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
"""CommonMark with tables; raw HTML in the source is escaped, never passed through (``html: False``)."""


def markdown(source: str) -> Markup:
    """A model card's Markdown as HTML (tables, lists, code); any HTML written in the Markdown shows as text."""
    return Markup(_MARKDOWN.render(source)) if source else Markup("")


def notice(value: str, consents: list[dict[str, Any]], lang: str) -> str:
    """The line shown after a form: ``granted:<id>`` → "Access given: …", ``revoked:<id>`` → "Withdrawn on …"."""
    action, _, consent_id = value.partition(":")
    row = next((c for c in consents if c["id"] == consent_id), None)
    if action == "granted":
        if row is None:
            return tx.say(lang, "notice_granted_plain")
        return tx.say(lang, "notice_granted", who=", ".join(row["actor_names"]), purpose=", ".join(row["purposes"]))
    if action == "revoked" and row is not None and row["revoked_at"]:
        return tx.say(lang, "notice_revoked", when=row["revoked_at"])
    return ""
