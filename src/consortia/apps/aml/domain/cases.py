"""The case workflow: alerts become a case, an analyst investigates, the BSA officer decides, the SAR is filed.

A monitoring alert is a question, not an accusation. The bank opens a **case** for it (one case may gather
several alerts about the same accounts), an **analyst** is assigned, writes notes and attaches evidence (account
statements, KYC files, the counterparty graph — by reference and hash), and the **BSA officer** decides: file a
Suspicious Activity Report, or close the case without one, with the reasons either way (a "no SAR" decision must
be as well documented as a SAR, because the examiner reads both).

The law sets the clock (31 CFR 1020.320(b)(3), the bank SAR rule; FinCEN's SAR guidance for continuing
activity):

* a SAR is filed **no later than 30 calendar days after the initial detection** of facts that may be a basis
  for filing;
* if **no suspect was identified** on the date of detection, the bank may take **up to 30 more days** to
  identify one, but never more than **60 calendar days** after detection;
* when suspicious activity **continues** after a SAR, the bank reviews it **every 90 days** (by day 90 after the
  previous filing) and files a continuing SAR **within 120 days** of the previous one (90 days of review plus 30
  to file).

*Initial detection* here is the day (in New York, the bank's zone) the earliest alert of the case was raised.
FinCEN lets the clock start when a prompt review establishes that the activity may be suspicious, which is
never earlier than the alert; starting it at the alert is the conservative reading and can never make a filing
late. Deadlines are calendar days and are not moved off weekends: BSA E-Filing accepts filings every day.

The workflow is one transition function, :func:`apply`, over frozen values: a :class:`Case` and an event
(:class:`Open`, :class:`Assign`, :class:`AddNote`, :class:`AddEvidence`, :class:`IdentifySuspect`,
:class:`Decide`, :class:`RecordFiling`, :class:`ReviewContinuing`). It returns the next case or raises
:class:`TransitionError` naming the status it expected and the one it found. Every event is what the contract
will write as a ledger record (:func:`to_record` and :func:`from_record` are that record's JSON shape);
replaying the events with :func:`replay` rebuilds the case, which is how an examiner checks the trail.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from .transactions import Alert, RuleHit

BANK_ZONE = ZoneInfo("America/New_York")

FILING_DAYS = 30
"""Calendar days from initial detection to file a SAR (31 CFR 1020.320(b)(3))."""
FILING_DAYS_NO_SUSPECT = 60
"""The longest delay when no suspect was identified at detection (31 CFR 1020.320(b)(3))."""
CONTINUING_REVIEW_DAYS = 90
"""Continuing activity is reviewed by day 90 after the previous SAR (FinCEN SAR FAQ, continuing activity)."""
CONTINUING_FILING_DAYS = 120
"""A continuing SAR is filed within 120 days of the previous one (90 days of review plus 30 to file)."""

ANALYST = "analyst"
BSA_OFFICER = "bsa_officer"

_BSA_ID = re.compile(r"\d{14}")


class Status(StrEnum):
    """Where a case stands."""

    OPEN = "open"
    """Opened from alerts; nobody assigned yet."""
    INVESTIGATING = "investigating"
    """An analyst is assigned and gathers notes and evidence."""
    SAR_DECIDED = "sar_decided"
    """The BSA officer decided to file a SAR; it is not filed yet."""
    FILED = "filed"
    """A SAR is filed; the activity is under continuing review."""
    CONTINUING_SAR_DUE = "continuing_sar_due"
    """The 90-day review found the activity continuing: a continuing SAR is due."""
    CLOSED_NO_SAR = "closed_no_sar"
    """Decided: no SAR, with reasons."""
    CLOSED = "closed"
    """A SAR was filed and the review found the activity stopped."""


FINAL = frozenset({Status.CLOSED_NO_SAR, Status.CLOSED})


class Decision(StrEnum):
    """The BSA officer's decision."""

    SAR = "sar"
    NO_SAR = "no_sar"


class TransitionError(ValueError):
    """An event that the case's status does not allow; says what was expected and what was found."""

    def __init__(self, message: str, expected: str, found: str) -> None:
        super().__init__(f"{message}: expected {expected}, found {found}")
        self.expected = expected
        self.found = found


@dataclass(frozen=True)
class Note:
    """A dated remark by a person."""

    at: datetime
    author: str
    text: str


@dataclass(frozen=True)
class Evidence:
    """A document or artefact attached by reference and hash (the content stays in the bank's private data)."""

    at: datetime
    author: str
    kind: str
    """e.g. ``statement``, ``kyc``, ``graph``, ``correspondence``."""
    reference: str
    sha256: str
    description: str = ""


@dataclass(frozen=True)
class Filing:
    """A SAR sent to FinCEN: when, the hash of the exact XML bytes, FinCEN's BSA ID once acknowledged."""

    filed_on: date
    filing_hash: str
    due: date
    continuing: bool
    bsa_id: str = ""

    @property
    def late(self) -> bool:
        """Whether it was filed after its deadline."""
        return self.filed_on > self.due


@dataclass(frozen=True)
class Deadline:
    """A date something is due, with what and why."""

    kind: str
    """``file_sar``, ``continuing_review`` or ``file_continuing_sar``."""
    due: date
    basis: str


@dataclass(frozen=True)
class Case:
    """A case: its alerts, who works it, what was found and decided, and what was filed."""

    case_id: str
    status: Status
    alerts: tuple[Alert, ...]
    opened_at: datetime
    detected_on: date
    """Initial detection: the New York date of the earliest alert."""
    assignee: str = ""
    suspect_identified: bool = True
    notes: tuple[Note, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    decision: Decision | None = None
    decision_reasons: tuple[str, ...] = ()
    decided_by: str = ""
    filings: tuple[Filing, ...] = ()
    continuing_reviews: tuple[date, ...] = ()
    version: int = 1
    """How many events built it (the trail's length)."""

    @property
    def accounts(self) -> tuple[str, ...]:
        """Every account of every alert, sorted, once."""
        return tuple(sorted({account for alert in self.alerts for account in alert.accounts}))

    @property
    def tx_ids(self) -> tuple[str, ...]:
        """Every transaction behind the alerts, sorted, once."""
        return tuple(sorted({tx for alert in self.alerts for tx in alert.tx_ids}))

    @property
    def typologies(self) -> tuple[str, ...]:
        """The typologies of the alerts, sorted, once."""
        return tuple(sorted({alert.typology for alert in self.alerts}))

    @property
    def last_filing(self) -> Filing | None:
        """The latest SAR filed for this case."""
        return self.filings[-1] if self.filings else None


# ---------------------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Open:
    """Open a case from one or more alerts."""

    case_id: str
    alerts: tuple[Alert, ...]
    at: datetime
    actor: str
    role: str = ANALYST


@dataclass(frozen=True)
class Assign:
    """Assign (or reassign) the case to an analyst."""

    assignee: str
    at: datetime
    actor: str
    role: str = BSA_OFFICER


@dataclass(frozen=True)
class AddNote:
    """Write a note on the case."""

    text: str
    at: datetime
    actor: str
    role: str = ANALYST


@dataclass(frozen=True)
class AddEvidence:
    """Attach evidence by reference and hash."""

    kind: str
    reference: str
    sha256: str
    at: datetime
    actor: str
    role: str = ANALYST
    description: str = ""


@dataclass(frozen=True)
class IdentifySuspect:
    """Record whether a suspect is identified (no suspect allows up to 60 days to file)."""

    identified: bool
    at: datetime
    actor: str
    role: str = ANALYST


@dataclass(frozen=True)
class Decide:
    """The BSA officer's decision, with reasons."""

    decision: Decision
    reasons: tuple[str, ...]
    at: datetime
    actor: str
    role: str = BSA_OFFICER


@dataclass(frozen=True)
class RecordFiling:
    """A SAR (initial or continuing) was submitted: the hash of its XML, and FinCEN's BSA ID when known."""

    filing_hash: str
    at: datetime
    actor: str
    role: str = BSA_OFFICER
    bsa_id: str = ""


@dataclass(frozen=True)
class ReviewContinuing:
    """The 90-day review after a SAR: is the suspicious activity continuing?"""

    continuing: bool
    reasons: tuple[str, ...]
    at: datetime
    actor: str
    role: str = BSA_OFFICER


Event = Open | Assign | AddNote | AddEvidence | IdentifySuspect | Decide | RecordFiling | ReviewContinuing

ALLOWED: dict[type, frozenset[Status]] = {
    Assign: frozenset({Status.OPEN, Status.INVESTIGATING}),
    AddNote: frozenset(set(Status) - FINAL),
    AddEvidence: frozenset(set(Status) - FINAL),
    IdentifySuspect: frozenset({Status.OPEN, Status.INVESTIGATING}),
    Decide: frozenset({Status.INVESTIGATING}),
    RecordFiling: frozenset({Status.SAR_DECIDED, Status.CONTINUING_SAR_DUE}),
    ReviewContinuing: frozenset({Status.FILED}),
}
"""The statuses each event is allowed in (``Open`` needs no case)."""

ROLES: dict[type, frozenset[str]] = {
    Open: frozenset({ANALYST, BSA_OFFICER}),
    Assign: frozenset({ANALYST, BSA_OFFICER}),
    AddNote: frozenset({ANALYST, BSA_OFFICER}),
    AddEvidence: frozenset({ANALYST, BSA_OFFICER}),
    IdentifySuspect: frozenset({ANALYST, BSA_OFFICER}),
    Decide: frozenset({BSA_OFFICER}),
    RecordFiling: frozenset({BSA_OFFICER}),
    ReviewContinuing: frozenset({BSA_OFFICER}),
}
"""Who may do what: only the BSA officer decides, files and reviews continuing activity."""


def bank_date(moment: datetime) -> date:
    """The New York calendar date of an aware instant."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, found naive {moment.isoformat()}")
    return moment.astimezone(BANK_ZONE).date()


def _names(statuses: frozenset[Status]) -> str:
    return " or ".join(sorted(s.value for s in statuses))


def _check(case: Case | None, event: Event) -> Case:
    kind = type(event)
    if event.role not in ROLES[kind]:
        raise TransitionError(
            f"{kind.__name__} by {event.actor}", f"role {' or '.join(sorted(ROLES[kind]))}", f"role {event.role}"
        )
    if event.at.tzinfo is None or event.at.utcoffset() is None:
        raise TransitionError(f"{kind.__name__} by {event.actor}", "an aware timestamp", event.at.isoformat())
    if case is None:
        raise TransitionError(f"{kind.__name__}", "an open case", "no case")
    if event.at < (case.opened_at):
        raise TransitionError(
            f"{kind.__name__} on case {case.case_id}",
            f"a time at or after the case was opened ({case.opened_at.isoformat()})",
            event.at.isoformat(),
        )
    allowed = ALLOWED[kind]
    if case.status not in allowed:
        raise TransitionError(
            f"cannot {kind.__name__} case {case.case_id}", f"status {_names(allowed)}", f"status {case.status.value}"
        )
    return case


def _open(case: Case | None, event: Open) -> Case:
    if event.role not in ROLES[Open]:
        raise TransitionError(f"Open by {event.actor}", f"role {' or '.join(sorted(ROLES[Open]))}", event.role)
    if case is not None:
        raise TransitionError(f"cannot open case {event.case_id}", "no existing case", f"status {case.status.value}")
    if not event.case_id:
        raise TransitionError("cannot open a case", "a case id", "an empty string")
    if not event.alerts:
        raise TransitionError(f"cannot open case {event.case_id}", "at least one alert", "none")
    if event.at.tzinfo is None or event.at.utcoffset() is None:
        raise TransitionError(f"Open by {event.actor}", "an aware timestamp", event.at.isoformat())
    detected = min(alert.detected_at for alert in event.alerts)
    return Case(
        case_id=event.case_id,
        status=Status.OPEN,
        alerts=tuple(event.alerts),
        opened_at=event.at,
        detected_on=bank_date(detected),
    )


def apply(case: Case | None, event: Event) -> Case:
    """The case after ``event``; raises :class:`TransitionError` when the event is not allowed now."""
    if isinstance(event, Open):
        return _open(case, event)
    case = _check(case, event)
    following = replace(case, version=case.version + 1)
    match event:
        case Assign(assignee=assignee):
            if not assignee:
                raise TransitionError(f"cannot assign case {case.case_id}", "an assignee", "an empty string")
            return replace(following, assignee=assignee, status=Status.INVESTIGATING)
        case AddNote(text=text):
            if not text.strip():
                raise TransitionError(f"cannot add a note to case {case.case_id}", "some text", "an empty note")
            return replace(following, notes=(*case.notes, Note(event.at, event.actor, text)))
        case AddEvidence():
            if not re.fullmatch(r"[0-9a-f]{64}", event.sha256):
                raise TransitionError(
                    f"cannot attach evidence {event.reference!r}", "a SHA-256 in 64 lowercase hex digits", event.sha256
                )
            item = Evidence(event.at, event.actor, event.kind, event.reference, event.sha256, event.description)
            return replace(following, evidence=(*case.evidence, item))
        case IdentifySuspect(identified=identified):
            return replace(following, suspect_identified=identified)
        case Decide(decision=decision, reasons=reasons):
            if not [r for r in reasons if r.strip()]:
                raise TransitionError(f"cannot decide case {case.case_id}", "at least one reason", "none")
            status = Status.SAR_DECIDED if decision == Decision.SAR else Status.CLOSED_NO_SAR
            return replace(
                following, status=status, decision=decision, decision_reasons=tuple(reasons), decided_by=event.actor
            )
        case RecordFiling(filing_hash=filing_hash, bsa_id=bsa_id):
            if not re.fullmatch(r"[0-9a-f]{64}", filing_hash):
                raise TransitionError(
                    f"cannot record the filing of case {case.case_id}",
                    "the filing's SHA-256 in 64 lowercase hex digits",
                    filing_hash,
                )
            if bsa_id and not _BSA_ID.fullmatch(bsa_id):
                raise TransitionError(
                    f"cannot record the filing of case {case.case_id}", "a 14-digit BSA ID", repr(bsa_id)
                )
            due = filing_due(case)
            filing = Filing(
                filed_on=bank_date(event.at),
                filing_hash=filing_hash,
                due=due.due if due else bank_date(event.at),
                continuing=case.status == Status.CONTINUING_SAR_DUE,
                bsa_id=bsa_id,
            )
            return replace(following, status=Status.FILED, filings=(*case.filings, filing))
        case ReviewContinuing(continuing=continuing, reasons=reasons):
            if not [r for r in reasons if r.strip()]:
                raise TransitionError(f"cannot review case {case.case_id}", "at least one reason", "none")
            status = Status.CONTINUING_SAR_DUE if continuing else Status.CLOSED
            return replace(following, status=status, continuing_reviews=(*case.continuing_reviews, bank_date(event.at)))
    raise TypeError(f"expected a case event, found {type(event).__name__}")  # pragma: no cover


def replay(events: list[Event] | tuple[Event, ...]) -> Case:
    """The case the events build, in order (the examiner's check of the trail)."""
    case: Case | None = None
    for event in events:
        case = apply(case, event)
    if case is None:
        raise TransitionError("cannot replay a case", "at least one event", "none")
    return case


# ------------------------------------------------------------------------------------------------- deadlines


def filing_due(case: Case) -> Deadline | None:
    """When the next SAR of the case is due, or None when no SAR is (or may yet be) owed."""
    if case.status in FINAL or case.status == Status.FILED:
        return None
    previous = case.last_filing
    if case.status == Status.CONTINUING_SAR_DUE and previous is not None:
        return Deadline(
            "file_continuing_sar",
            previous.filed_on + timedelta(days=CONTINUING_FILING_DAYS),
            f"{CONTINUING_FILING_DAYS} days after the previous SAR filed on {previous.filed_on.isoformat()}",
        )
    if case.suspect_identified:
        return Deadline(
            "file_sar",
            case.detected_on + timedelta(days=FILING_DAYS),
            f"{FILING_DAYS} calendar days after initial detection on {case.detected_on.isoformat()}",
        )
    return Deadline(
        "file_sar",
        case.detected_on + timedelta(days=FILING_DAYS_NO_SUSPECT),
        f"no suspect identified: at most {FILING_DAYS_NO_SUSPECT} calendar days after initial detection on "
        f"{case.detected_on.isoformat()}",
    )


def review_due(case: Case) -> Deadline | None:
    """When the continuing-activity review of a filed case is due (90 days after the last SAR), or None."""
    previous = case.last_filing
    if case.status != Status.FILED or previous is None:
        return None
    return Deadline(
        "continuing_review",
        previous.filed_on + timedelta(days=CONTINUING_REVIEW_DAYS),
        f"{CONTINUING_REVIEW_DAYS} days after the SAR filed on {previous.filed_on.isoformat()}",
    )


def deadlines(case: Case) -> tuple[Deadline, ...]:
    """Every open deadline of the case, earliest first."""
    found = [d for d in (filing_due(case), review_due(case)) if d is not None]
    return tuple(sorted(found, key=lambda d: d.due))


def overdue(case: Case, today: date) -> tuple[Deadline, ...]:
    """The deadlines already missed on ``today`` (a deadline day itself is still on time)."""
    return tuple(d for d in deadlines(case) if today > d.due)


def days_left(deadline: Deadline, today: date) -> int:
    """Calendar days from ``today`` to the deadline (0 on the day, negative when missed)."""
    return (deadline.due - today).days


@dataclass(frozen=True)
class CaseSummary:
    """What a case list shows: ``{"id", "status", "decision", "accounts"}`` of ``consortia aml cases``."""

    id: str
    status: str
    decision: str | None
    accounts: tuple[str, ...] = field(default=())


def summary(case: Case) -> CaseSummary:
    """The case as a row of the case list."""
    return CaseSummary(case.case_id, case.status.value, case.decision.value if case.decision else None, case.accounts)


# ------------------------------------------------------------------------------------------- ledger records

EVENT_KINDS: dict[str, type] = {
    "open": Open,
    "assign": Assign,
    "note": AddNote,
    "evidence": AddEvidence,
    "suspect": IdentifySuspect,
    "decide": Decide,
    "filing": RecordFiling,
    "continuing_review": ReviewContinuing,
}
"""The name each event is recorded under (the record's ``event`` field)."""

_KIND_OF = {cls: kind for kind, cls in EVENT_KINDS.items()}


def _alert_record(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "typology": alert.typology,
        "accounts": list(alert.accounts),
        "tx_ids": list(alert.tx_ids),
        "score": alert.score,
        "rule_hits": [{"rule": h.rule, "weight": h.weight, "detail": h.detail} for h in alert.rule_hits],
        "detected_at": alert.detected_at.isoformat(),
    }


def _alert_from(record: dict[str, Any]) -> Alert:
    return Alert(
        alert_id=str(record["alert_id"]),
        typology=str(record["typology"]),
        accounts=tuple(record["accounts"]),
        tx_ids=tuple(record["tx_ids"]),
        score=float(record["score"]),
        rule_hits=tuple(RuleHit(str(h["rule"]), float(h["weight"]), str(h["detail"])) for h in record["rule_hits"]),
        detected_at=datetime.fromisoformat(record["detected_at"]),
    )


def to_record(event: Event) -> dict[str, Any]:
    """The event as a JSON-ready mapping (``event`` plus its fields): what a ledger record of the step holds."""
    record: dict[str, Any] = {"event": _KIND_OF[type(event)]}
    for name in event.__dataclass_fields__:
        value = getattr(event, name)
        if name == "alerts":
            value = [_alert_record(alert) for alert in value]
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, StrEnum):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        record[name] = value
    return record


def from_record(record: dict[str, Any]) -> Event:
    """The event a ledger record holds; raises :class:`TransitionError` for an unknown event or missing field."""
    kind = record.get("event")
    cls = EVENT_KINDS.get(str(kind))
    if cls is None:
        raise TransitionError("cannot read a case record", f"event {' or '.join(EVENT_KINDS)}", repr(kind))
    values: dict[str, Any] = {}
    for name, spec in cls.__dataclass_fields__.items():
        if name not in record:
            if spec.default is not MISSING:
                continue
            raise TransitionError(f"cannot read a {kind} record", f"field {name}", "no such field")
        value = record[name]
        if name == "alerts":
            value = tuple(_alert_from(item) for item in value)
        elif name == "at":
            value = datetime.fromisoformat(value)
        elif name == "decision":
            value = Decision(value)
        elif name == "reasons":
            value = tuple(value)
        values[name] = value
    return cls(**values)
