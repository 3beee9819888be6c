"""Cases: alert → case → decision → filing, the SAR deadlines at their day boundaries, and refused transitions."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from consortia.apps.aml.domain.cases import (
    ANALYST,
    BSA_OFFICER,
    AddEvidence,
    AddNote,
    Assign,
    Decide,
    Decision,
    IdentifySuspect,
    Open,
    RecordFiling,
    ReviewContinuing,
    Status,
    TransitionError,
    apply,
    days_left,
    deadlines,
    filing_due,
    from_record,
    overdue,
    replay,
    review_due,
    summary,
    to_record,
)
from consortia.apps.aml.domain.transactions import Alert, RuleHit

NY = ZoneInfo("America/New_York")
HASH = hashlib.sha256(b"<EFilingBatchXML/>").hexdigest()


def alert(alert_id: str, detected_at: datetime, accounts: tuple[str, ...] = ("A1", "A2")) -> Alert:
    return Alert(
        alert_id=alert_id,
        typology="structuring",
        accounts=accounts,
        tx_ids=(f"{alert_id}-t1", f"{alert_id}-t2"),
        score=0.8,
        rule_hits=(RuleHit("cash_under_threshold", 0.5, "4 deposits of $9,500 in 2 business days"),),
        detected_at=detected_at,
    )


DETECTED = datetime(2026, 1, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York on Friday 2 January 2026
LATER = DETECTED + timedelta(days=1)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=NY)


def opened(*alerts: Alert) -> list:
    events = [Open("C-1", alerts or (alert("AL-1", DETECTED),), DETECTED + timedelta(hours=1), "ana")]
    events.append(Assign("ana", DETECTED + timedelta(hours=2), "bob", BSA_OFFICER))
    return events


def test_the_whole_path_to_a_filed_sar() -> None:
    events = [
        *opened(),
        AddNote("deposits at three branches the same afternoon", DETECTED + timedelta(hours=3), "ana"),
        AddEvidence("statement", "stmt-2026-01", "a" * 64, DETECTED + timedelta(hours=4), "ana"),
        Decide(Decision.SAR, ("structuring below the CTR threshold",), DETECTED + timedelta(days=3), "bob"),
        RecordFiling(HASH, at(date(2026, 1, 20)), "bob", bsa_id="31000055053784"),
    ]
    case = replay(events)
    assert case.status == Status.FILED
    assert case.detected_on == date(2026, 1, 2)
    assert case.assignee == "ana" and case.decided_by == "bob"
    assert [n.text for n in case.notes] == ["deposits at three branches the same afternoon"]
    assert case.evidence[0].reference == "stmt-2026-01"
    assert case.filings[0].filed_on == date(2026, 1, 20) and not case.filings[0].late
    assert case.filings[0].due == date(2026, 2, 1)
    assert case.version == len(events)
    assert summary(case).status == "filed" and summary(case).decision == "sar"
    assert summary(case).accounts == ("A1", "A2")


def test_sar_is_due_30_calendar_days_after_detection() -> None:
    case = replay(opened())
    due = filing_due(case)
    assert due is not None and due.due == date(2026, 2, 1) and due.kind == "file_sar"
    assert "30 calendar days" in due.basis
    assert overdue(case, date(2026, 2, 1)) == ()  # the 30th day is still on time
    assert [d.kind for d in overdue(case, date(2026, 2, 2))] == ["file_sar"]  # the 31st is late
    assert days_left(due, date(2026, 1, 30)) == 2 and days_left(due, date(2026, 2, 3)) == -2


def test_detection_day_is_the_new_york_date_of_the_earliest_alert() -> None:
    late_evening = datetime(2026, 1, 3, 3, 0, tzinfo=UTC)  # 22:00 on 2 January in New York
    case = replay(opened(alert("AL-2", late_evening), alert("AL-3", late_evening + timedelta(days=5))))
    assert case.detected_on == date(2026, 1, 2)
    assert filing_due(case).due == date(2026, 2, 1)


def test_no_suspect_identified_allows_at_most_60_days() -> None:
    case = replay([*opened(), IdentifySuspect(False, DETECTED + timedelta(days=1), "ana")])
    due = filing_due(case)
    assert due is not None and due.due == date(2026, 3, 3)  # 2 Jan + 60 days
    assert overdue(case, date(2026, 3, 3)) == ()
    assert len(overdue(case, date(2026, 3, 4))) == 1
    found = replay([*opened(), IdentifySuspect(False, LATER, "ana"), IdentifySuspect(True, LATER, "ana")])
    assert filing_due(found).due == date(2026, 2, 1)


def test_a_late_filing_is_recorded_as_late() -> None:
    events = [
        *opened(),
        Decide(Decision.SAR, ("layering",), DETECTED + timedelta(days=20), "bob"),
        RecordFiling(HASH, at(date(2026, 2, 2)), "bob"),
    ]
    assert replay(events).filings[0].late
    on_time = [*events[:-1], RecordFiling(HASH, at(date(2026, 2, 1), 23), "bob")]
    assert not replay(on_time).filings[0].late


def test_continuing_activity_review_at_90_days_and_continuing_sar_at_120() -> None:
    filed = [
        *opened(),
        Decide(Decision.SAR, ("structuring",), DETECTED + timedelta(days=2), "bob"),
        RecordFiling(HASH, at(date(2026, 1, 10)), "bob"),
    ]
    case = replay(filed)
    review = review_due(case)
    assert review is not None and review.due == date(2026, 4, 10)  # 10 Jan + 90 days
    assert filing_due(case) is None
    assert overdue(case, date(2026, 4, 10)) == () and len(overdue(case, date(2026, 4, 11))) == 1

    continuing = replay([*filed, ReviewContinuing(True, ("deposits continue",), at(date(2026, 4, 9)), "bob")])
    assert continuing.status == Status.CONTINUING_SAR_DUE
    due = filing_due(continuing)
    assert due is not None and due.kind == "file_continuing_sar" and due.due == date(2026, 5, 10)  # + 120 days
    assert review_due(continuing) is None

    refiled = apply(continuing, RecordFiling(HASH.replace("0", "1"), at(date(2026, 5, 10)), "bob"))
    assert refiled.status == Status.FILED and refiled.filings[-1].continuing and not refiled.filings[-1].late
    assert review_due(refiled).due == date(2026, 8, 8)  # 90 days after the continuing SAR

    stopped = replay([*filed, ReviewContinuing(False, ("account closed",), at(date(2026, 4, 1)), "bob")])
    assert stopped.status == Status.CLOSED and deadlines(stopped) == ()


def test_no_sar_decision_closes_with_reasons_and_no_deadline() -> None:
    case = replay([*opened(), Decide(Decision.NO_SAR, ("payroll of a known employer",), LATER, "bob")])
    assert case.status == Status.CLOSED_NO_SAR
    assert case.decision_reasons == ("payroll of a known employer",)
    assert deadlines(case) == ()


def test_deciding_before_assignment_is_refused_with_expected_and_found() -> None:
    case = replay(opened()[:1])
    with pytest.raises(TransitionError) as info:
        apply(case, Decide(Decision.SAR, ("x",), DETECTED + timedelta(days=1), "bob"))
    assert info.value.expected == "status investigating" and info.value.found == "status open"
    assert "cannot Decide case C-1" in str(info.value)


def test_filing_without_a_sar_decision_is_refused() -> None:
    case = replay(opened())
    with pytest.raises(TransitionError) as info:
        apply(case, RecordFiling(HASH, DETECTED + timedelta(days=1), "bob"))
    assert info.value.expected == "status continuing_sar_due or sar_decided"
    assert info.value.found == "status investigating"


def test_a_closed_case_takes_no_more_notes() -> None:
    case = replay([*opened(), Decide(Decision.NO_SAR, ("explained",), LATER, "bob")])
    with pytest.raises(TransitionError) as info:
        apply(case, AddNote("late thought", DETECTED + timedelta(days=1), "ana"))
    assert info.value.found == "status closed_no_sar"


def test_only_the_bsa_officer_decides() -> None:
    case = replay(opened())
    with pytest.raises(TransitionError) as info:
        apply(case, Decide(Decision.SAR, ("x",), DETECTED + timedelta(days=1), "ana", ANALYST))
    assert info.value.expected == "role bsa_officer" and info.value.found == "role analyst"


def test_decisions_need_reasons_and_filings_need_a_hash() -> None:
    case = replay(opened())
    with pytest.raises(TransitionError, match="at least one reason"):
        apply(case, Decide(Decision.NO_SAR, ("  ",), LATER, "bob"))
    decided = apply(case, Decide(Decision.SAR, ("structuring",), LATER, "bob"))
    with pytest.raises(TransitionError, match="64 lowercase hex digits"):
        apply(decided, RecordFiling("not-a-hash", LATER, "bob"))
    with pytest.raises(TransitionError, match="14-digit BSA ID"):
        apply(decided, RecordFiling(HASH, LATER, "bob", bsa_id="3100005505"))


def test_opening_twice_or_without_alerts_is_refused() -> None:
    case = replay(opened())
    with pytest.raises(TransitionError, match="expected no existing case"):
        apply(case, Open("C-1", (alert("AL-9", DETECTED),), DETECTED, "ana"))
    with pytest.raises(TransitionError, match="expected at least one alert, found none"):
        apply(None, Open("C-2", (), DETECTED, "ana"))
    with pytest.raises(TransitionError, match="expected an open case, found no case"):
        apply(None, AddNote("hello", LATER, "ana"))


def test_events_are_immutable_steps_the_case_before_is_unchanged() -> None:
    before = replay(opened())
    after = apply(before, AddNote("n", DETECTED + timedelta(hours=5), "ana"))
    assert before.notes == () and after.notes[0].text == "n"
    assert after.version == before.version + 1


def test_every_event_round_trips_through_its_json_record_and_replays_the_same_case() -> None:
    events = [
        *opened(),
        AddNote("deposits at three branches", DETECTED + timedelta(hours=3), "ana"),
        AddEvidence("statement", "stmt-1", "b" * 64, DETECTED + timedelta(hours=4), "ana", description="October"),
        IdentifySuspect(True, DETECTED + timedelta(hours=5), "ana"),
        Decide(Decision.SAR, ("structuring", "no business purpose"), DETECTED + timedelta(days=3), "bob"),
        RecordFiling(HASH, at(date(2026, 1, 20)), "bob", bsa_id="31000055053784"),
        ReviewContinuing(True, ("continues",), at(date(2026, 4, 1)), "bob"),
    ]
    records = [to_record(event) for event in events]
    assert json.loads(json.dumps(records)) == records  # plain JSON
    assert [r["event"] for r in records] == [
        "open",
        "assign",
        "note",
        "evidence",
        "suspect",
        "decide",
        "filing",
        "continuing_review",
    ]
    back = [from_record(r) for r in records]
    assert back == events
    assert replay(back) == replay(events)


def test_a_record_of_unknown_kind_or_missing_field_is_refused() -> None:
    with pytest.raises(TransitionError) as info:
        from_record({"event": "delete"})
    assert info.value.found == "'delete'"
    record = to_record(AddNote("n", DETECTED, "ana"))
    del record["text"]
    with pytest.raises(TransitionError, match="expected field text"):
        from_record(record)
