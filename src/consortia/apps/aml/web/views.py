"""What the AML pages show, shaped from the service's answers into plain dictionaries for the templates.

Nothing here decides access (the contract does, and :mod:`.routes` keeps each page to its people); this module
turns the service's views into what a person reads:

- a typology, a status, a rule, a decision, a FinCEN code **by its name** (the code beside it, ``translate="no"``);
- a **rule hit in words**: what the rule looks for, what it measured on this alert, its weight in the typology and
  the law or guidance it rests on (``rules.toml``'s ``source``);
- every **time in New York** with the zone named (:func:`consortia.ui.timefmt.format_datetime`), and how long ago,
  computed from the real instants; a **deadline** as a date and a countdown in New York calendar days ("due in 12
  days", "3 days overdue") from :func:`consortia.apps.aml.domain.cases.days_left`;
- a **SAR** as a person reads it: who files, about whom, which accounts, the activity's period, amount and
  classification by FinCEN's names, and the narrative — parsed from the exact XML that would be filed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree

from consortia.apps.aml.domain.cases import days_left
from consortia.apps.aml.domain.filings import codes, ctr_due
from consortia.apps.aml.domain.monitoring.config import Rules, parse_rules
from consortia.apps.aml.service.aml import AlertFilters as ServiceFilters
from consortia.apps.aml.web import graph, roles
from consortia.apps.aml.web.text import CATALOGUE
from consortia.gateway.server.auth import Principal
from consortia.ui.timefmt import format_date, format_datetime, local_date, relative

ZONE = roles.ZONE
NEW_YORK = ZoneInfo(ZONE)

TYPOLOGIES = (
    "structuring",
    "ctr",
    "fan_in",
    "fan_out",
    "cycle",
    "bipartite",
    "stack",
    "scatter_gather",
    "gather_scatter",
    "random",
    "high_risk_jurisdiction",
    "dormant_reactivation",
)
"""Every typology the monitoring engine raises, in the order the queue's filter offers them."""
VIOLATION = "violation"
"""The queue's name for an account-policy violation (a refused transaction), beside the typologies."""
ALERT_STATUSES = ("new", "in_case")
CASE_STATUSES = ("open", "investigating", "sar_decided", "filed", "continuing_sar_due", "closed_no_sar", "closed")
STEP_KINDS = ("open", "assign", "note", "evidence", "suspect", "decide", "filing", "continuing_review")
TRAIL_KINDS = ("onboarding", "approval", "violation", "alert", "case", "filing", "note", "refusal")
EVIDENCE_KINDS = ("statement", "kyc", "graph", "correspondence", "other")


# -- words ---------------------------------------------------------------------------------------------------


def word(lang: str, prefix: str, code: str) -> str:
    """A code by its name (``typology_fan_in`` → "Fan-in"); an unknown code says it is one, never shows raw."""
    table = CATALOGUE.table(lang)
    key = f"{prefix}_{code}"
    return table[key] if key in table else table["unknown_code"]


def role_name(principal: Principal | None, lang: str) -> str:
    """The caller's role by its name (an exchange's people are the exchange's compliance staff)."""
    if principal is None:
        return ""
    if roles.is_exchange(principal):
        return CATALOGUE.text(lang, "role_exchange")
    return word(lang, "role", principal.role or "none")


def moment(when: datetime | int | None, lang: str, now: datetime) -> dict[str, str]:
    """An instant for a page: New York time with the zone named, and how long ago."""
    if when is None or when == 0:
        return {"text": "", "ago": ""}
    return {"text": format_datetime(when, ZONE, lang), "ago": relative(when, now, lang)}


def money(amount: Decimal | float | str) -> str:
    """``$12,500.00``."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    return f"${value:,.2f}"


def score_text(score: float) -> str:
    """A typology score as people read it: two decimals."""
    return f"{score:.2f}"


def org_name(org: str) -> str:
    """An organisation by its name."""
    return roles.org_name(org) if org else ""


@cache
def rules() -> Rules:
    """The monitoring rules the service runs (``rules.toml``): their weights and sources."""
    return parse_rules(resources.files("consortia.apps.aml").joinpath("rules.toml").read_text(encoding="utf-8"))


def rule_source(rule: str) -> str:
    """The law or guidance a rule rests on (``rules.toml``), empty for the group pseudo-rules."""
    return dict(rules().params.sources).get(rule, "")


_DETAIL = re.compile(r"^(?P<rule>[a-z_]+):\s*(?P<what>.*?)(?:\s+at\s+(?P<tx>\S+))?$")


def rule_hit(hit: Any, lang: str) -> dict[str, Any]:
    """A rule hit in words: what the rule looks for, what it measured here, its weight, its source."""
    detail = str(getattr(hit, "detail", ""))
    match = _DETAIL.match(detail)
    measured = match.group("what") if match else detail
    tx = (match.group("tx") or "") if match else ""
    rule = str(getattr(hit, "rule", ""))
    return {
        "rule": rule,
        "name": word(lang, "rule", rule),
        "meaning": word(lang, "rule_means", rule),
        "measured": measured if measured and not measured.startswith(f"{rule}:") else "",
        "tx": tx,
        "weight": f"{float(getattr(hit, 'weight', 0.0)):.2f}",
        "source": rule_source(rule),
    }


def rule_hits(hits: Iterable[Any], lang: str) -> list[dict[str, Any]]:
    """An alert's hits, one entry per rule (a typology counts each rule once), each with every measurement."""
    by_rule: dict[str, dict[str, Any]] = {}
    for hit in hits:
        words = rule_hit(hit, lang)
        entry = by_rule.setdefault(words["rule"], {**words, "measurements": []})
        if words["measured"] and (words["measured"], words["tx"]) not in [
            (m["measured"], m["tx"]) for m in entry["measurements"]
        ]:
            entry["measurements"].append({"measured": words["measured"], "tx": words["tx"]})
    return list(by_rule.values())


# -- the alert queue ------------------------------------------------------------------------------------------


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None


def _score(text: str) -> float | None:
    try:
        value = float(text.strip()) if text.strip() else None
    except ValueError:
        return None
    return value if value is not None and 0 <= value <= 100 else None


@dataclass(frozen=True)
class AlertFilters:
    """The queue's filters as the page reads them from its query (anything unreadable is ignored, never an error)."""

    typology: str = ""
    status: str = ""
    min_score: float | None = None
    since: date | None = None
    until: date | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> AlertFilters:
        """From ``?typology=…&status=…&min_score=…&since=YYYY-MM-DD&until=YYYY-MM-DD``."""
        typology = str(query.get("typology", ""))
        status = str(query.get("status", ""))
        return cls(
            typology=typology if typology in (*TYPOLOGIES, VIOLATION) else "",
            status=status if status in ALERT_STATUSES else "",
            min_score=_score(str(query.get("min_score", ""))),
            since=_day(str(query.get("since", ""))),
            until=_day(str(query.get("until", ""))),
        )

    def for_service(self) -> ServiceFilters:
        """The service's filters: New York days as instants (``until`` is the whole of its day)."""
        since = datetime.combine(self.since, time(0), NEW_YORK).astimezone(UTC) if self.since else None
        until = (
            datetime.combine(self.until + timedelta(days=1), time(0), NEW_YORK).astimezone(UTC)
            - timedelta(microseconds=1)
            if self.until
            else None
        )
        return ServiceFilters(
            typology="" if self.typology == VIOLATION else self.typology,
            status=self.status,
            min_score=self.min_score or 0.0,
            since=since,
            until=until,
        )

    def keeps(self, row: Mapping[str, Any]) -> bool:
        """Whether a queue row passes the filters (the page applies them to violations, too)."""
        if self.typology and row["typology"] != self.typology:
            return False
        if self.status and row["status"] != self.status:
            return False
        if self.min_score is not None and row["score_value"] is not None and row["score_value"] < self.min_score:
            return False
        if self.since and row["day"] and row["day"] < self.since:
            return False
        return not (self.until and row["day"] and row["day"] > self.until)


def alert_row(alert: Any, lang: str, now: datetime) -> dict[str, Any]:
    """One alert of the queue: typology by name, accounts, score, status, when, how many transactions."""
    when = moment(alert.detected_at, lang, now)
    return {
        "kind": "alert",
        "id": alert.alert_id,
        "link": f"/aml/alerts/{alert.alert_id}",
        "typology": alert.typology,
        "typology_name": word(lang, "typology", alert.typology),
        "accounts": list(alert.accounts),
        "score": score_text(alert.score),
        "score_value": float(alert.score),
        "status": alert.status,
        "status_name": word(lang, "alert_status", alert.status),
        "case_id": getattr(alert, "case_id", ""),
        "when": when["text"],
        "ago": when["ago"],
        "day": local_date(alert.detected_at, ZONE),
        "tx_count": len(alert.tx_ids),
        "tx_count_text": CATALOGUE.plural(lang, "tx_count", len(alert.tx_ids)),
        "at": alert.detected_at,
        "hits": len(alert.rule_hits),
    }


def violation_row(violation: Any, lang: str, now: datetime) -> dict[str, Any]:
    """An account-policy violation in the queue: the rule by name, why, what was expected and found."""
    tx = violation.transaction
    when = moment(violation.at_ms or tx.timestamp, lang, now)
    at = tx.timestamp
    return {
        "kind": "violation",
        "id": violation.violation_id,
        "link": "",
        "typology": VIOLATION,
        "typology_name": CATALOGUE.text(lang, "typology_violation"),
        "rule_name": word(lang, "policy", violation.rule),
        "reason": violation.reason,
        "expected": violation.expected,
        "found": violation.found,
        "accounts": [tx.orig_account, tx.bene_account],
        "amount": money(tx.amount),
        "currency": tx.currency,
        "score": "",
        "score_value": None,
        "status": "new",
        "status_name": CATALOGUE.text(lang, "violation_status"),
        "when": when["text"],
        "ago": when["ago"],
        "day": local_date(at, ZONE),
        "tx_count": 1,
        "tx_count_text": CATALOGUE.plural(lang, "tx_count", 1),
        "tx_id": tx.tx_id,
        "ledger_tx": violation.ledger_tx,
        "at": at,
    }


def queue_page(found: Iterable[Any], filters: AlertFilters, lang: str, now: datetime) -> dict[str, Any]:
    """The analyst's queue: alerts and policy violations, newest first, with the filters' form."""
    rows = []
    for item in found:
        if hasattr(item, "violation_id"):
            rows.append(violation_row(item, lang, now))
        elif hasattr(item, "alert_id"):
            rows.append(alert_row(item, lang, now))
    rows = [r for r in rows if filters.keeps(r)]
    rows.sort(key=lambda r: (r["at"], r["id"]), reverse=True)
    return {
        "rows": rows,
        "count_text": CATALOGUE.plural(lang, "alerts_count", len(rows)),
        "filters": filters,
        "typologies": [(code, word(lang, "typology", code)) for code in TYPOLOGIES]
        + [(VIOLATION, CATALOGUE.text(lang, "typology_violation"))],
        "statuses": [(code, word(lang, "alert_status", code)) for code in ALERT_STATUSES],
        "since": filters.since.isoformat() if filters.since else "",
        "until": filters.until.isoformat() if filters.until else "",
        "min_score": "" if filters.min_score is None else f"{filters.min_score:g}",
        "filtered": any(
            (filters.typology, filters.status, filters.min_score is not None, filters.since, filters.until)
        ),
    }


# -- one alert ------------------------------------------------------------------------------------------------


def transaction_row(tx: Any, lang: str, now: datetime) -> dict[str, Any]:
    """A posted transaction: when (New York), from, to, amount, instrument by name, the ledger record."""
    when = moment(tx.timestamp, lang, now)
    return {
        "id": tx.tx_id,
        "when": when["text"],
        "orig": tx.orig_account,
        "bene": tx.bene_account,
        "amount": money(tx.amount),
        "currency": tx.currency,
        "type_name": word(lang, "tx_type", tx.tx_type),
        "countries": f"{tx.orig_country} → {tx.bene_country}",
        "ledger_tx": getattr(tx, "ledger_tx", ""),
    }


def transfers_of(detail: Any) -> list[graph.Transfer]:
    """The counterparty graph's edges (one per pair of accounts and New York day) as drawable transfers."""
    found = []
    for edge in getattr(detail.graph, "edges", ()):
        key = edge.tx_ids[0] if edge.tx_ids else f"{edge.orig_account}-{edge.bene_account}-{edge.day}"
        found.append(
            graph.Transfer(
                key,
                edge.orig_account,
                edge.bene_account,
                Decimal(str(edge.amount)),
                edge.day,
                edge.count,
                edge.in_alert,
            )
        )
    return found


def alert_page(detail: Any, lang: str, now: datetime) -> dict[str, Any]:
    """One alert: its facts, rule hits in words, the transactions behind it, and its graph over time."""
    alert = detail.alert
    row = alert_row(alert, lang, now)
    drawing = graph.draw(
        transfers_of(detail), alert.accounts, lang, lambda key, **p: CATALOGUE.text(lang, key, **p), "alert"
    )
    exchanges = [org_name(ex) for ex in getattr(alert, "exchanges", ())]
    return {
        "alert": row,
        "exchanges": exchanges,
        "source_name": word(lang, "source", getattr(alert, "source", "")) if getattr(alert, "source", "") else "",
        "threshold": _threshold(alert.typology),
        "hits": rule_hits(alert.rule_hits, lang),
        "transactions": [
            transaction_row(tx, lang, now) for tx in sorted(detail.transactions, key=lambda t: t.timestamp)
        ],
        "drawing": drawing,
        "hidden_text": CATALOGUE.plural(lang, "graph_hidden", drawing.hidden) if drawing else "",
        "explain": word(lang, "typology_means", alert.typology),
        "can_open": not getattr(alert, "case_id", ""),
        "typology_source": _typology_source(alert.typology),
        "known_accounts": sorted(
            {n.account for n in getattr(detail.graph, "nodes", ()) if getattr(n, "exchange", "")} | set(alert.accounts)
        ),
    }


def _typology(name: str) -> Any:
    try:
        return rules().typology(name)
    except KeyError:
        try:
            return rules().typology("network")
        except KeyError:
            return None


def _threshold(name: str) -> str:
    typology = _typology(name)
    return f"{typology.threshold:.2f}" if typology is not None else ""


def _typology_source(name: str) -> str:
    typology = _typology(name)
    return typology.source if typology is not None else ""


# -- cases ----------------------------------------------------------------------------------------------------


def case_id_of(opened: Any) -> str:
    """The id of a case the service opened (a case view, a case, or the id itself)."""
    if isinstance(opened, str):
        return opened
    return str(getattr(opened, "case_id", ""))


def today_in_new_york(now: datetime) -> date:
    """The bank's calendar day at ``now``."""
    return local_date(now, ZONE)


def countdown(due: date, today: date, lang: str) -> dict[str, Any]:
    """A deadline counted in New York calendar days: "due in 12 days", "due today", "3 days overdue"."""
    left = (due - today).days
    if left > 0:
        text = CATALOGUE.plural(lang, "due_in", left)
        state = "soon" if left <= 7 else "ok"
    elif left == 0:
        text, state = CATALOGUE.text(lang, "due_today"), "soon"
    else:
        text, state = CATALOGUE.plural(lang, "overdue_by", -left), "overdue"
    return {"text": text, "state": state, "days": left, "date": format_date(due, ZONE, lang)}


def deadline_basis(deadline: Any, case: Any, lang: str) -> str:
    """Why a deadline falls when it does, in words, with its dates as people write them."""
    previous = case.last_filing
    if deadline.kind == "file_sar":
        key = "basis_file_sar" if case.suspect_identified else "basis_file_sar_no_suspect"
        return CATALOGUE.text(lang, key, day=format_date(case.detected_on, ZONE, lang))
    if deadline.kind in ("continuing_review", "file_continuing_sar") and previous is not None:
        return CATALOGUE.text(lang, f"basis_{deadline.kind}", day=format_date(previous.filed_on, ZONE, lang))
    return ""


def deadline_row(deadline: Any, today: date, lang: str, case: Any = None) -> dict[str, Any]:
    """A deadline: what is due (by name), the date, the countdown, and the rule it comes from."""
    left = days_left(deadline, today)
    return {
        "kind": deadline.kind,
        "name": word(lang, "deadline", deadline.kind),
        "basis": deadline_basis(deadline, case, lang) if case is not None else "",
        "left": left,
        **countdown(deadline.due, today, lang),
    }


def case_row(view: Any, lang: str, now: datetime) -> dict[str, Any]:
    """A case in a list: status by name, decision, accounts, assignee, the nearest deadline."""
    case = view.case
    today = today_in_new_york(now)
    deadlines = [deadline_row(d, today, lang, case) for d in view.deadlines]
    opened = moment(case.opened_at, lang, now)
    return {
        "id": view.case_id,
        "link": f"/aml/cases/{view.case_id}",
        "status": view.status,
        "status_name": word(lang, "case_status", view.status),
        "decision": view.decision or "",
        "decision_name": word(lang, "decision", view.decision) if view.decision else "",
        "accounts": list(case.accounts),
        "typologies": [word(lang, "typology", t) for t in case.typologies],
        "assignee": case.assignee,
        "opened": opened["text"],
        "opened_ago": opened["ago"],
        "deadlines": deadlines,
        "next": deadlines[0] if deadlines else None,
        "overdue": bool(view.overdue),
        "reasons": list(case.decision_reasons),
        "decided_by": case.decided_by,
        "filings": len(view.filings),
    }


def cases_page(found: Iterable[Any], lang: str, now: datetime) -> dict[str, Any]:
    """Every case, the open ones first and, among them, the nearest deadline first."""
    rows = [case_row(view, lang, now) for view in found]
    rows.sort(key=lambda r: (r["next"] is None, r["next"]["left"] if r["next"] else 0, r["id"]))
    return {"cases": rows}


def step_row(step: Any, lang: str, now: datetime) -> dict[str, Any]:
    """One ledger record of a case: what happened (by name), by whom, when, what it said, its transaction."""
    record = dict(getattr(step, "record", {}) or {})
    when = moment(step.at, lang, now)
    facts: list[dict[str, str]] = []
    table = CATALOGUE.table(lang)
    if step.event == "open":
        facts.append(
            {"label": table["fact_alerts"], "value": ", ".join(a.get("alert_id", "") for a in record.get("alerts", []))}
        )
    elif step.event == "assign":
        facts.append({"label": table["fact_assignee"], "value": str(record.get("assignee", ""))})
    elif step.event == "note":
        facts.append({"label": table["fact_note"], "value": str(record.get("text", ""))})
    elif step.event == "evidence":
        facts.append(
            {
                "label": table["fact_evidence"],
                "value": f"{word(lang, 'evidence', str(record.get('kind', 'other')))}: {record.get('reference', '')}",
            }
        )
    elif step.event == "suspect":
        facts.append({"label": table["fact_suspect"], "value": table["yes" if record.get("identified") else "no"]})
    elif step.event in ("decide", "continuing_review"):
        if "decision" in record:
            facts.append({"label": table["fact_decision"], "value": word(lang, "decision", str(record["decision"]))})
        if "continuing" in record:
            facts.append({"label": table["fact_continuing"], "value": table["yes" if record["continuing"] else "no"]})
        facts.append({"label": table["fact_reasons"], "value": "; ".join(str(r) for r in record.get("reasons", []))})
    elif step.event == "filing":
        facts.append({"label": table["fact_filing_hash"], "value": str(record.get("filing_hash", "")), "code": "1"})
    return {
        "number": step.number,
        "event": step.event,
        "name": word(lang, "step", step.event),
        "actor": step.actor,
        "role": word(lang, "role", step.role) if step.role else "",
        "when": when["text"],
        "ago": when["ago"],
        "tx_id": step.tx_id,
        "facts": facts,
    }


def case_page(view: Any, lang: str, now: datetime) -> dict[str, Any]:
    """A case: its alerts, assignment, notes, evidence, the suspect question, deadlines, decision, trail."""
    case = view.case
    row = case_row(view, lang, now)
    alerts = [alert_row(_alert_view(a, view.case_id), lang, now) for a in case.alerts]
    notes = [{"author": n.author, "text": n.text, **_when(n.at, lang, now)} for n in case.notes]
    evidence = [
        {
            "author": e.author,
            "kind_name": word(lang, "evidence", e.kind),
            "reference": e.reference,
            "sha256": e.sha256,
            "description": e.description,
            **_when(e.at, lang, now),
        }
        for e in case.evidence
    ]
    status = view.status
    open_for_work = status not in ("closed", "closed_no_sar")
    filings = [
        {
            "kind": f.kind,
            "hash": f.filing_hash,
            "filed_on": format_date(f.filed_on, ZONE, lang),
            "by": f.by,
            "tx_id": f.tx_id,
        }
        for f in view.filings
    ]
    return {
        "case": row,
        "alerts": alerts,
        "notes": notes,
        "evidence": evidence,
        "suspect_identified": case.suspect_identified,
        "steps": [step_row(s, lang, now) for s in view.steps],
        "filings": filings,
        "can_assign": status in ("open", "investigating"),
        "can_work": open_for_work,
        "can_decide": status == "investigating",
        "can_suspect": status in ("open", "investigating"),
        "can_file": status in ("sar_decided", "continuing_sar_due"),
        "can_review": status == "filed",
        "has_sar": status in ("sar_decided", "continuing_sar_due", "filed", "closed"),
        "evidence_kinds": [(k, word(lang, "evidence", k)) for k in EVIDENCE_KINDS],
        "detected": format_date(case.detected_on, ZONE, lang),
    }


def _when(at: datetime, lang: str, now: datetime) -> dict[str, str]:
    when = moment(at, lang, now)
    return {"when": when["text"], "ago": when["ago"]}


@dataclass(frozen=True)
class _CaseAlert:
    """A domain alert inside a case, shaped like the service's alert view for :func:`alert_row`."""

    alert_id: str
    typology: str
    accounts: tuple[str, ...]
    tx_ids: tuple[str, ...]
    score: float
    rule_hits: tuple[Any, ...]
    detected_at: datetime
    case_id: str
    status: str = "in_case"


def _alert_view(alert: Any, case_id: str) -> _CaseAlert:
    return _CaseAlert(alert.alert_id, alert.typology, tuple(alert.accounts), tuple(alert.tx_ids), alert.score,
                      tuple(alert.rule_hits), alert.detected_at, case_id)  # fmt: skip


@dataclass(frozen=True)
class FormProblem:
    """A case-step form that cannot become an event: the catalogue key a person reads, and the detail."""

    key: str
    detail: str


SHA256 = re.compile(r"[0-9a-f]{64}")


def event_from_form(form: Mapping[str, str], principal: Principal, now: datetime) -> dict[str, Any] | FormProblem:
    """A case step's record from the case page's form (``{"event": "note", "text": …}``); the service and the
    contract add the caller, their role and the ledger's time, whatever the form says."""
    kind = form.get("event", "")
    text = form.get("text", "").strip()[:2000]
    if kind == "assign":
        assignee = form.get("assignee", "").strip()[:120] or principal.name
        return {"event": "assign", "assignee": assignee}
    if kind == "note":
        if not text:
            return FormProblem("refused_empty_note", "write a note")
        return {"event": "note", "text": text}
    if kind == "evidence":
        reference = form.get("reference", "").strip()[:300]
        digest = form.get("sha256", "").strip().lower()
        evidence_kind = form.get("kind", "other")
        if not reference:
            return FormProblem("refused_evidence", "name the evidence (a reference)")
        if not SHA256.fullmatch(digest):
            return FormProblem(
                "refused_evidence", f"expected the evidence's SHA-256 in 64 hex digits, found {digest[:80]!r}"
            )
        return {
            "event": "evidence",
            "kind": evidence_kind if evidence_kind in EVIDENCE_KINDS else "other",
            "reference": reference,
            "sha256": digest,
            "description": text,
        }
    if kind == "suspect":
        return {"event": "suspect", "identified": form.get("identified", "") == "yes"}
    if kind in ("decide", "continuing_review"):
        reasons = [line.strip() for line in text.splitlines() if line.strip()]
        if not reasons:
            return FormProblem("refused_reasons", "give at least one reason")
        if kind == "decide":
            decision = form.get("decision", "")
            if decision not in ("sar", "no_sar"):
                return FormProblem("refused_decision", f"expected decision sar or no_sar, found {decision[:40]!r}")
            return {"event": "decide", "decision": decision, "reasons": reasons}
        return {"event": "continuing_review", "continuing": form.get("continuing", "") == "yes", "reasons": reasons}
    return FormProblem("refused_step", f"expected a case step ({', '.join(STEP_KINDS[1:])}), found {kind[:40]!r}")


NOTICES = {
    "opened": "notice_opened",
    "step": "notice_step",
    "filed": "notice_filed",
    "noted": "notice_noted",
    "approved": "notice_approved",
    "ctr": "notice_ctr",
}


def notice_text(value: str, lang: str) -> str:
    """What a page says after a form was carried out (empty for anything else)."""
    return CATALOGUE.text(lang, NOTICES[value]) if value in NOTICES else ""


# -- the SAR --------------------------------------------------------------------------------------------------

NS = {"f": "www.fincen.gov/base"}


def xml_bytes(preview: Any) -> bytes:
    """The SAR's exact XML (what would be filed)."""
    xml = getattr(preview, "xml", None)
    return xml if isinstance(xml, bytes) else b""


def _text(element: etree._Element, path: str) -> str:
    found = element.find(path, NS)
    return (found.text or "").strip() if found is not None and found.text else ""


def _fincen_day(text: str, lang: str) -> str:
    try:
        return format_date(date(int(text[:4]), int(text[4:6]), int(text[6:8])), ZONE, lang) if len(text) == 8 else text
    except ValueError:
        return text


def _party(party: etree._Element, lang: str) -> dict[str, Any]:
    code = _text(party, "f:ActivityPartyTypeCode")
    names = []
    for name in party.findall("f:PartyName", NS):
        full = _text(name, "f:RawPartyFullName") or " ".join(
            x for x in (_text(name, "f:RawIndividualFirstName"), _text(name, "f:RawEntityIndividualLastName")) if x
        )
        if full:
            names.append(full)
    address = party.find("f:Address", NS)
    where = ""
    if address is not None:
        where = ", ".join(
            x
            for x in (
                _text(address, "f:RawStreetAddress1Text"),
                _text(address, "f:RawCityText"),
                _text(address, "f:RawStateCodeText"),
                _text(address, "f:RawZIPCode"),
                _text(address, "f:RawCountryCodeText"),
            )
            if x
        )
    ids = [
        {
            "number": _text(i, "f:PartyIdentificationNumberText"),
            "kind": codes.PARTY_IDENTIFICATION_TYPES.get(_text(i, "f:PartyIdentificationTypeCode"), ""),
            "code": _text(i, "f:PartyIdentificationTypeCode"),
        }
        for i in party.findall("f:PartyIdentification", NS)
    ]
    accounts = [(a.text or "").strip() for a in party.iter("{www.fincen.gov/base}AccountNumberText")]
    return {
        "code": code,
        "role": codes.SAR_PARTY_TYPES.get(code, CATALOGUE.text(lang, "unknown_code")),
        "names": names,
        "address": where,
        "ids": ids,
        "accounts": accounts,
        "unknown": party.find("f:UnknownIndicator", NS) is not None
        or any(el.tag.endswith("UnknownIndicator") for el in party.iter()),
    }


def sar_reading(xml: bytes, lang: str) -> dict[str, Any]:
    """The SAR's XML as a person reads it: filing, parties, accounts, activity, classification, narrative."""
    root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    activity = root.find("f:Activity", NS)
    if activity is None:
        return {}
    association = activity.find("f:ActivityAssociation", NS)
    kind = "initial"
    if association is not None and association.find("f:ContinuingActivityReportIndicator", NS) is not None:
        kind = "continuing"
    suspicious = activity.find("f:SuspiciousActivity", NS)
    classes = []
    period = amount = ""
    if suspicious is not None:
        period = f"{_fincen_day(_text(suspicious, 'f:SuspiciousActivityFromDateText'), lang)} – " + _fincen_day(
            _text(suspicious, "f:SuspiciousActivityToDateText"), lang
        )
        total = _text(suspicious, "f:TotalSuspiciousAmountText")
        amount = money(total) if total else ""
        for item in suspicious.findall("f:SuspiciousActivityClassification", NS):
            type_code = _text(item, "f:SuspiciousActivityTypeID")
            subtype = _text(item, "f:SuspiciousActivitySubtypeID")
            classes.append(
                {
                    "type": codes.SAR_ACTIVITY_TYPES.get(type_code, type_code),
                    "subtype": codes.SAR_ACTIVITY_SUBTYPES.get(
                        subtype, _text(item, "f:OtherSuspiciousActivityTypeText")
                    ),
                    "codes": f"{type_code}/{subtype}",
                }
            )
    narrative = " ".join(
        (n.text or "").strip() for n in activity.iter("{www.fincen.gov/base}ActivityNarrativeText") if n.text
    )
    parties = [_party(p, lang) for p in activity.findall("f:Party", NS)]
    return {
        "form": _text(root, "f:FormTypeCode"),
        "filing_date": _fincen_day(_text(activity, "f:FilingDateText"), lang),
        "kind_name": CATALOGUE.text(lang, f"sar_{kind}"),
        "parties": [p for p in parties if p["code"] != codes.SUBJECT],
        "subjects": [p for p in parties if p["code"] == codes.SUBJECT],
        "period": period,
        "amount": amount,
        "classifications": classes,
        "narrative": narrative,
    }


def sar_page(view: Any, preview: Any, lang: str, now: datetime) -> dict[str, Any]:
    """The SAR preview: the reading of its XML, its hash, the XML itself, and whether it may be filed."""
    xml = xml_bytes(preview)
    reading = sar_reading(xml, lang) if xml else {}
    row = case_row(view, lang, now)
    return {
        "case": row,
        "reading": reading,
        "xml": xml.decode("utf-8") if xml else "",
        "hash": getattr(preview, "filing_hash", ""),
        "error": getattr(preview, "error", ""),
        "element": getattr(preview, "element", ""),
        "narrative": getattr(preview, "narrative", ""),
        "can_file": view.status in ("sar_decided", "continuing_sar_due") and bool(xml),
        "filings": [
            {"hash": f.filing_hash, "filed_on": format_date(f.filed_on, ZONE, lang), "tx_id": f.tx_id, "by": f.by}
            for f in view.filings
            if f.kind == "SAR"
        ],
    }


# -- the BSA officer's decisions and deadlines ------------------------------------------------------------------


def decisions_page(found: Iterable[Any], lang: str, now: datetime) -> dict[str, Any]:
    """Deadlines of every case, overdue first then nearest first; then the decisions made, newest first."""
    today = today_in_new_york(now)
    due: list[dict[str, Any]] = []
    decided: list[dict[str, Any]] = []
    awaiting: list[dict[str, Any]] = []
    for view in found:
        row = case_row(view, lang, now)
        for deadline in row["deadlines"]:
            due.append({**deadline, "case": row})
        if view.decision:
            decide = [s for s in view.steps if s.event == "decide"]
            when = moment(decide[-1].at, lang, now) if decide else {"text": "", "ago": ""}
            decided.append({**row, "decided": when["text"], "decided_ago": when["ago"],
                            "decided_at": decide[-1].at if decide else view.case.opened_at})  # fmt: skip
        elif view.status == "investigating":
            awaiting.append(row)
    due.sort(key=lambda d: (d["left"] >= 0, d["left"], d["case"]["id"]))
    decided.sort(key=lambda r: r["decided_at"], reverse=True)
    return {
        "due": due,
        "overdue_count": sum(1 for d in due if d["left"] < 0),
        "overdue_text": CATALOGUE.plural(lang, "overdue_count", sum(1 for d in due if d["left"] < 0)),
        "decided": decided,
        "awaiting": awaiting,
        "today": format_date(today, ZONE, lang),
    }


def ctr_rows(candidates: Iterable[Any], filings: Iterable[Any], lang: str, now: datetime) -> list[dict[str, Any]]:
    """Every business day whose cash exceeds $10,000, per account: filed (when, hash, record) or due (countdown)."""
    today = today_in_new_york(now)
    filed = {f.subject: f for f in filings if f.kind == "CTR"}
    rows = []
    for account, day in candidates:
        filing = filed.get(f"{account}@{day.isoformat()}")
        row: dict[str, Any] = {
            "account": account,
            "day": day.isoformat(),
            "day_text": format_date(day, ZONE, lang),
            "filed": filing is not None,
        }
        if filing is not None:
            row.update(filed_on=format_date(filing.filed_on, ZONE, lang), hash=filing.filing_hash, tx_id=filing.tx_id)
        else:
            row.update(countdown(ctr_due(day), today, lang))
        rows.append(row)
    rows.sort(key=lambda r: (r["filed"], r.get("days", 0), r["day"], r["account"]))
    return rows


# -- the examiner's audit trail -------------------------------------------------------------------------------


def trail_subject(kind: str, subject: str, lang: str) -> dict[str, str]:
    """What a trail step is about, in words: the record's id as a code, what happened to it, and its page."""
    table = CATALOGUE.table(lang)
    case = re.fullmatch(r"(C-[A-Za-z0-9]+) ([a-z_]+)", subject)
    if kind in ("case", "filing") and case:
        return {"code": case.group(1), "text": word(lang, "step", case.group(2)), "link": f"/aml/cases/{case.group(1)}"}
    ctr = re.fullmatch(r"CTR (\S+) (\d{4}-\d{2}-\d{2})", subject)
    if kind == "filing" and ctr:
        day = format_date(date.fromisoformat(ctr.group(2)), ZONE, lang)
        return {"code": ctr.group(1), "text": f"{table['ctr_of']} {day}", "link": ""}
    opened = re.fullmatch(r"(\S+): (\d+) opened", subject)
    if kind == "accounts" and opened:
        count = CATALOGUE.plural(lang, "accounts_opened", int(opened.group(2)))
        return {"code": "", "text": f"{org_name(opened.group(1))}{table['colon']}{count}", "link": ""}
    posted = re.fullmatch(r"(\d+) transactions?", subject)
    if kind == "posting" and posted:
        return {"code": "", "text": CATALOGUE.plural(lang, "tx_count", int(posted.group(1))), "link": ""}
    if kind in ("onboarding", "approval") and subject in roles.ORGS:
        return {"code": "", "text": org_name(subject), "link": ""}
    if kind == "alert":
        return {"code": subject, "text": "", "link": f"/aml/alerts/{subject}"}
    if kind == "note" and re.fullmatch(r"C-[A-Za-z0-9]+", subject):
        return {"code": subject, "text": "", "link": f"/aml/cases/{subject}"}
    return {"code": subject, "text": "", "link": ""}


def trail_row(step: Any, lang: str, now: datetime) -> dict[str, Any]:
    """One step of the audit trail: what (by name), about what, by whom in which role, when, its transaction."""
    when = moment(step.at, lang, now)
    return {
        "number": step.number,
        "kind": step.kind,
        "name": word(lang, "trail", step.kind),
        "subject": step.subject,
        "about": trail_subject(step.kind, step.subject, lang),
        "by": step.by,
        "role": word(lang, "role", step.role) if step.role else "",
        "when": when["text"],
        "ago": when["ago"],
        "tx_id": step.tx_id,
    }


def audit_page(trail: Sequence[Any], notes: Sequence[Any], lang: str, now: datetime) -> dict[str, Any]:
    """The whole trail, in ledger order, each step with the transaction the verifier checks; the examiners'
    notes, newest first."""
    rows = [trail_row(step, lang, now) for step in trail]
    kinds = sorted({r["kind"] for r in rows}, key=lambda k: TRAIL_KINDS.index(k) if k in TRAIL_KINDS else 99)
    return {
        "steps": rows,
        "counts": [(word(lang, "trail", k), sum(1 for r in rows if r["kind"] == k)) for k in kinds],
        "subjects": sorted({r["about"]["code"] for r in rows if r["about"]["link"]}),
        "notes": [
            {"subject": n.subject, "text": n.text, "by": n.by, "tx_id": n.tx_id, **_when(n.at, lang, now)}
            for n in notes
        ],
    }


# -- due diligence --------------------------------------------------------------------------------------------


def exchanges_page(found: Iterable[Any], lang: str) -> dict[str, Any]:
    """The exchanges the bank banks: onboarding state, risk rating by name, next review, accounts."""
    rows = [
        {
            "exchange": e.exchange,
            "name": e.name or org_name(e.exchange),
            "approved": e.approved,
            "state": "approved" if e.approved else ("submitted" if e.submitted else "none"),
            "state_name": word(
                lang, "onboarding", "approved" if e.approved else ("submitted" if e.submitted else "none")
            ),
            "rating": word(lang, "rating", e.rating) if e.rating else "",
            "next_review": format_date(e.next_review_due, ZONE, lang) if e.next_review_due else "",
            "accounts": e.accounts,
        }
        for e in found
    ]
    return {"exchanges": sorted(rows, key=lambda r: r["name"])}


def onboarding_page(view: Any, principal: Principal, lang: str, now: datetime) -> dict[str, Any]:
    """One exchange's due diligence: MSB number, EIN, licences, owners, risk, reviews, approvals and the policy."""
    record = view.record
    facts: dict[str, Any] = {}
    if record is not None:
        facts = {
            "legal_name": record.legal_name,
            "ein": f"{record.ein[:2]}-{record.ein[2:]}",
            "msb": record.msb_registration,
            "states": ", ".join(record.states_served),
            "licences": [
                {
                    "state": lic.state,
                    "number": lic.number,
                    "issued": format_date(lic.issued, ZONE, lang),
                    "expires": format_date(lic.expires, ZONE, lang) if lic.expires else "",
                }
                for lic in record.licences
            ],
            "owners": [{"name": o.name, "share": f"{o.ownership:g} %", "control": o.control} for o in record.owners],
            "rating": word(lang, "rating", str(record.rating)),
            "factors": [
                {"name": f.name, "level": word(lang, "rating", str(f.level)), "reason": f.reason}
                for f in record.risk_factors
            ],
            "reviews": [
                {
                    "on": format_date(r.on, ZONE, lang),
                    "by": r.reviewer,
                    "rating": word(lang, "rating", str(r.rating)),
                    "summary": r.summary,
                }
                for r in sorted(record.reviews, key=lambda r: r.on, reverse=True)
            ],
        }
    approvals = [
        {
            "person": a.person,
            "role": word(lang, "role", a.role),
            "current": a.current,
            "tx_id": a.tx_id,
            **_when_ms(a.at_ms, lang, now),
        }
        for a in view.approvals
    ]
    own_role_done = any(a.current and a.person == principal.id for a in view.approvals)
    return {
        "exchange": view.exchange,
        "name": org_name(view.exchange),
        "record": facts,
        "record_hash": view.record_hash,
        "approvals": approvals,
        "approved": view.approved,
        "missing": [word(lang, "role", r) for r in view.missing_roles],
        "problems": [
            {"rule": p.rule, "reason": p.reason, "expected": p.expected, "found": p.found} for p in view.problems
        ],
        "policy": view.policy,
        "can_approve": roles.is_bank_staff(principal) and not view.approved and not own_role_done and bool(facts),
        "tx_id": view.tx_id,
    }


def _when_ms(ms: int, lang: str, now: datetime) -> dict[str, str]:
    when = moment(ms, lang, now)
    return {"when": when["text"], "ago": when["ago"]}


# -- accounts -------------------------------------------------------------------------------------------------


def account_row(account: Any) -> dict[str, Any]:
    """One account in the list: exchange, money in and out, how many transactions."""
    return {
        "account": account.account,
        "link": f"/aml/accounts/{account.account}",
        "exchange": org_name(account.exchange),
        "inflow": money(account.inflow),
        "outflow": money(account.outflow),
        "count": len(account.transactions),
    }


def accounts_page(found: Iterable[Any], principal: Principal, lang: str, now: datetime) -> dict[str, Any]:
    """The caller's accounts, one line each (an exchange's own only: the service answers the caller's view)."""
    rows = sorted((account_row(a) for a in found), key=lambda r: (r["exchange"], r["account"]))
    return {"accounts": rows, "own_org": org_name(principal.org), "exchange_view": roles.is_exchange(principal)}


MAX_TRANSACTIONS = 200
"""Transactions an account's page lists (newest first)."""


def account_page(account: Any, lang: str, now: datetime) -> dict[str, Any]:
    """One account: its totals and its latest transactions, newest first."""
    txs = sorted(account.transactions, key=lambda t: t.timestamp, reverse=True)
    more = max(0, len(txs) - MAX_TRANSACTIONS)
    return {
        "account": account_row(account),
        "transactions": [transaction_row(tx, lang, now) for tx in txs[:MAX_TRANSACTIONS]],
        "more_text": CATALOGUE.plural(lang, "more_transactions", more) if more else "",
    }
