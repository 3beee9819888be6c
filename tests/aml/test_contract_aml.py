"""The ``aml`` contract over a real embedded network, through the client SDK and the service.

One network per module (the bank, two exchanges, the examiners): onboarding needs an analyst *and* the BSA
officer, two people, each in their own signed transaction, decided by the platform's policy evaluator over role
principals; accounts open only after approval; the account policy refuses non-USD, non-US and crypto transactions
with ``INVALID`` and the refusal is recorded for the analyst's queue; bad input is refused naming the field and
nothing is stored; case steps carry the caller's role and are refused (and logged) for the wrong one; the
examiner writes notes and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from consortia.apps.aml import consortium as c
from consortia.apps.aml.contract import codec
from consortia.apps.aml.contract.contract import policy_decides
from consortia.apps.aml.domain.onboarding import (
    BeneficialOwner,
    EddReview,
    ExchangeRecord,
    RiskFactor,
    RiskRating,
    StateLicence,
)
from consortia.apps.aml.domain.transactions import Transaction
from consortia.apps.aml.service.aml import AmlError, AmlService, PolicyRejected, Refused
from consortia.client.errors import GatewayError
from consortia.ledger.config import BatchConfig
from consortia.ledger.encoding import canonical_json
from consortia.network.embedded import EmbeddedNetwork

TODAY = datetime.now(UTC).date()
NOW = datetime.now(UTC)


def record(exchange: str, name: str = "") -> ExchangeRecord:
    """A clean due-diligence record (licences in every state served, one control person, a recent review)."""
    return ExchangeRecord(
        exchange_id=exchange,
        legal_name=name or c.DISPLAY[exchange],
        ein="36-4187290",
        msb_registration="31000187654321",
        states_served=("NY", "IL"),
        licences=(StateLicence("NY", "BL-1", date(2024, 1, 1)), StateLicence("IL", "MT-2", date(2024, 1, 1))),
        owners=(BeneficialOwner("Dana Whitfield", Decimal("60"), control=True),),
        risk_factors=(RiskFactor("business", RiskRating.HIGH, "virtual currency exchange"),),
        reviews=(EddReview(TODAY - timedelta(days=20), "AtlanticBank/analyst", RiskRating.HIGH, "site visit"),),
    )


def tx(tx_id: str, orig: str, bene: str, amount: str, *, currency: str = "USD", kind: str = "wire",
       orig_country: str = "US", bene_country: str = "US", minutes: int = 0) -> Transaction:  # fmt: skip
    return Transaction(tx_id, NOW - timedelta(days=2) + timedelta(minutes=minutes), orig, bene, Decimal(amount),
                       currency, kind, orig_country, bene_country)  # fmt: skip


@dataclass(frozen=True)
class Site:
    network: EmbeddedNetwork
    analyst: AmlService
    analyst2: AmlService
    officer: AmlService
    core: AmlService
    blue: AmlService
    summit: AmlService
    examiner: AmlService


def person(network: EmbeddedNetwork, org: str, user: str) -> AmlService:
    return AmlService.as_user(network, org, user, c.DEMO_PASSWORD)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder: Path = tmp_path_factory.mktemp("aml-contract") / "net"
    network = EmbeddedNetwork.create(folder, c.network_spec(BatchConfig(max_transactions=100, timeout_ms=15)))
    try:
        c.deploy(network)
        yield Site(
            network,
            person(network, c.BANK, c.ANALYST_USER),
            person(network, c.BANK, c.SECOND_ANALYST_USER),
            person(network, c.BANK, c.BSA_OFFICER_USER),
            AmlService.as_user(network, c.BANK),
            person(network, c.BLUE_RIVER, c.COMPLIANCE_USER),
            person(network, c.SUMMIT, c.COMPLIANCE_USER),
            person(network, c.EXAMINERS, c.EXAMINER_USER),
        )
    finally:
        network.close()


@pytest.fixture(scope="module")
def opened(site: Site) -> Site:
    """Both exchanges approved by an analyst and the BSA officer, with two accounts each."""
    for exchange, prefix in ((c.BLUE_RIVER, "BRX"), (c.SUMMIT, "SMT")):
        view = site.analyst.submit_onboarding(record(exchange))
        site.analyst.approve_onboarding(exchange, view.record_hash)
        assert site.officer.approve_onboarding(exchange, view.record_hash).approved
        site.core.open_accounts(exchange, [f"{prefix}-1", f"{prefix}-2"])
    return site


# -- the approval policy, by the platform's evaluator --------------------------------------------------------------


def approval(org: str, role: str, cert: str, kind: str = "client") -> dict[str, str]:
    return {"org": org, "kind": kind, "cert": cert, "role": role}


def test_the_approval_policy_needs_both_roles_from_two_identities_of_the_bank() -> None:
    policy = c.APPROVAL_POLICY
    analyst = approval(c.BANK, "analyst", "aa" * 32)
    officer = approval(c.BANK, "bsa_officer", "bb" * 32)
    assert policy_decides(policy, [analyst, officer]) is True
    assert policy_decides(policy, [analyst]) is False
    assert policy_decides(policy, [officer]) is False
    assert policy_decides(policy, [analyst, analyst]) is False
    assert policy_decides(policy, [analyst, approval(c.BANK, "analyst", "cc" * 32)]) is False
    assert policy_decides(policy, [analyst, approval(c.SUMMIT, "bsa_officer", "dd" * 32)]) is False


def test_the_brief_spelling_of_role_principals_is_read_as_the_platform_s() -> None:
    spelled = f"AND('{c.BANK}.analyst','{c.BANK}.bsa_officer')"
    both = [approval(c.BANK, "analyst", "aa" * 32), approval(c.BANK, "bsa_officer", "bb" * 32)]
    assert policy_decides(spelled, both) is True
    assert policy_decides(spelled, both[:1]) is False


# -- onboarding through the ledger ---------------------------------------------------------------------------------


def test_an_analyst_alone_does_not_approve_and_accounts_stay_closed(site: Site) -> None:
    view = site.analyst.submit_onboarding(record(c.BLUE_RIVER, "Blue River (analyst alone)"))
    after = site.analyst.approve_onboarding(c.BLUE_RIVER, view.record_hash)
    assert not after.approved and after.missing_roles == ("bsa_officer",)
    assert after.decided_by == "policy"
    with pytest.raises(Refused) as refused:
        site.core.open_accounts(c.BLUE_RIVER, ["BRX-EARLY"])
    assert refused.value.code == "CONFLICT" and refused.value.tx_id
    # The same person approving again is refused, logged, and still one approval.
    with pytest.raises(Refused) as twice:
        site.analyst.approve_onboarding(c.BLUE_RIVER, view.record_hash)
    assert twice.value.code == "CONFLICT"
    assert not site.analyst.onboarding(c.BLUE_RIVER).approved
    refusals = {r["tx"] for r in site.officer.refusals()}
    assert {refused.value.tx_id, twice.value.tx_id} <= refusals


def test_the_officer_alone_does_not_approve(site: Site) -> None:
    view = site.analyst.submit_onboarding(record(c.SUMMIT, "Summit (officer alone)"))
    after = site.officer.approve_onboarding(c.SUMMIT, view.record_hash)
    assert not after.approved and after.missing_roles == ("analyst",)


def test_two_analysts_do_not_make_an_officer(site: Site) -> None:
    view = site.analyst.submit_onboarding(record(c.SUMMIT, "Summit (two analysts)"))
    site.analyst.approve_onboarding(c.SUMMIT, view.record_hash)
    after = site.analyst2.approve_onboarding(c.SUMMIT, view.record_hash)
    assert not after.approved and after.missing_roles == ("bsa_officer",)


def test_a_changed_record_voids_earlier_approvals(site: Site) -> None:
    first = site.analyst.submit_onboarding(record(c.SUMMIT, "Summit (first version)"))
    site.analyst.approve_onboarding(c.SUMMIT, first.record_hash)
    second = site.analyst.submit_onboarding(record(c.SUMMIT, "Summit (second version)"))
    assert second.record_hash != first.record_hash
    with pytest.raises(Refused) as stale:
        site.officer.approve_onboarding(c.SUMMIT, first.record_hash)
    assert stale.value.code == "CONFLICT"
    after = site.officer.approve_onboarding(c.SUMMIT, second.record_hash)
    assert not after.approved and after.missing_roles == ("analyst",)
    analysts = [a for a in after.approvals if a.role == "analyst"]
    assert analysts and not any(a.current for a in analysts)
    assert [a.record_hash for a in analysts][-1] == first.record_hash


def test_only_bank_people_approve(site: Site) -> None:
    view = site.analyst.onboarding(c.SUMMIT)
    for outsider in (site.core, site.examiner, site.blue):
        with pytest.raises((Refused, AmlError)) as info:
            outsider.approve_onboarding(c.SUMMIT, view.record_hash)
        assert info.value.code == "FORBIDDEN"


def test_a_record_with_a_licence_gap_cannot_be_approved(site: Site) -> None:
    gap = replace(record(c.SUMMIT, "Summit (gap)"), states_served=("NY", "IL", "CA"))
    view = site.analyst.submit_onboarding(gap)
    assert [p.rule for p in view.problems] == ["state_licences"]
    with pytest.raises(Refused) as refused:
        site.analyst.approve_onboarding(c.SUMMIT, view.record_hash)
    assert "CA" in str(refused.value)


def test_a_malformed_record_is_refused_naming_the_field_and_nothing_is_stored(site: Site) -> None:
    before = site.analyst.onboarding(c.BLUE_RIVER).record_hash
    bad = codec.record_to_json(record(c.BLUE_RIVER))
    bad["msb_registration"] = "3100012345"
    contract = site.network.gateway(c.BANK, "client").network(c.CHANNEL).contract(c.CONTRACT)
    analyst_contract = site.analyst._contract()
    with pytest.raises(GatewayError) as info:
        analyst_contract.submit("submit_onboarding", c.BLUE_RIVER, transient={"record": canonical_json(bad)})
    assert info.value.contract_code == "INVALID" and "msb_registration" in str(info.value)
    assert contract is not None
    assert site.analyst.onboarding(c.BLUE_RIVER).record_hash == before


def test_both_roles_approve_and_accounts_open(opened: Site) -> None:
    view = opened.analyst.onboarding(c.BLUE_RIVER)
    assert view.approved and view.decided_by == "policy" and view.missing_roles == ()
    assert {a.role for a in view.approvals if a.current} == {"analyst", "bsa_officer"}
    assert {a.account for a in opened.analyst.accounts()} == {"BRX-1", "BRX-2", "SMT-1", "SMT-2"}


# -- the account policy -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        (tx("EUR-1", "BRX-1", "EXT-9", "2500.00", currency="EUR"), "usd_only"),
        (tx("DE-1", "BRX-1", "EXT-9", "2500.00", bene_country="DE"), "us_only"),
        (tx("CA-1", "EXT-7", "SMT-1", "900.00", orig_country="CA"), "us_only"),
        (tx("BTC-1", "BRX-2", "EXT-9", "0.25", currency="BTC"), "no_crypto"),
    ],
    ids=["euro", "german beneficiary", "canadian originator", "bitcoin"],
)
def test_policy_violations_are_rejected_and_recorded(opened: Site, bad: Transaction, rule: str) -> None:
    with pytest.raises(PolicyRejected) as info:
        opened.core.post_transaction(bad)
    assert info.value.code == "INVALID" and info.value.violation.rule == rule
    queued = {v.violation_id: v for v in opened.analyst.violations()}
    recorded = queued[info.value.violation_id]
    assert recorded.rule == rule and recorded.transaction.tx_id == bad.tx_id and recorded.reason
    # Refused means not posted: no account shows it.
    assert all(t.tx_id != bad.tx_id for a in opened.analyst.accounts() for t in a.transactions)


def test_the_contract_itself_refuses_a_violation_with_invalid(opened: Site) -> None:
    bad = tx("EUR-RAW", "BRX-1", "EXT-9", "10.00", currency="EUR")
    raw = opened.core._contract()
    with pytest.raises(GatewayError) as info:
        raw.submit("post", transient={"transactions": canonical_json([codec.transaction_to_json(bad)])})
    assert info.value.contract_code == "INVALID" and "usd_only" in str(info.value)


def test_a_clean_transaction_cannot_be_recorded_as_a_violation(opened: Site) -> None:
    clean = tx("OK-AS-VIOLATION", "BRX-1", "EXT-9", "10.00")
    raw = opened.core._contract()
    with pytest.raises(GatewayError) as info:
        raw.submit("record_violation", transient={"transaction": canonical_json(codec.transaction_to_json(clean))})
    assert info.value.contract_code == "INVALID"


def test_bad_postings_are_refused_naming_the_field_and_nothing_is_stored(opened: Site) -> None:
    raw = opened.core._contract()
    good = codec.transaction_to_json(tx("GOOD-1", "BRX-1", "EXT-9", "10.00"))
    cases = [
        ({**good, "amount": "ten"}, "amount"),
        ({**good, "amount": "-5.00"}, "amount"),
        ({**good, "amount": "1.001"}, "amount"),
        ({**good, "timestamp": "yesterday"}, "timestamp"),
        ({**good, "timestamp": "2026-11-02T10:00:00"}, "timestamp"),
        ({**good, "orig_account": "EXT-1", "bene_account": "EXT-2"}, "account at the bank"),
    ]
    for body, named in cases:
        with pytest.raises(GatewayError) as info:
            raw.submit("post", transient={"transactions": canonical_json([good, {**body, "tx_id": "BAD-1"}])})
        assert info.value.contract_code == "INVALID", body
        assert named in str(info.value), (named, str(info.value))
    assert all(t.tx_id != "GOOD-1" for a in opened.analyst.accounts() for t in a.transactions)


def test_only_the_core_banking_program_posts(opened: Site) -> None:
    for caller in (opened.analyst, opened.examiner):
        with pytest.raises(Refused) as info:
            caller.post_transactions([tx("NOT-YOURS", "BRX-1", "EXT-9", "10.00")], monitor=False)
        assert info.value.code == "FORBIDDEN"


def test_a_transaction_is_posted_once(opened: Site) -> None:
    once = tx("ONCE-1", "BRX-2", "EXT-9", "75.00")
    opened.core.post_transactions([once], monitor=False)
    with pytest.raises(AmlError) as info:
        opened.core.post_transactions([once], monitor=False)
    assert info.value.code == "CONFLICT"


# -- cases ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alerted(opened: Site) -> Site:
    """Three cash deposits just under $10,000 on one business day: structuring alerts, streaming."""
    deposits = [tx(f"DEP-{n}", "CASH", "SMT-2", "9500.00", kind="cash_deposit", minutes=n) for n in range(3)]
    results = opened.core.post_transactions(deposits)
    assert any(a.typology == "structuring" for r in results for a in r.alerts)
    return opened


def test_case_steps_follow_roles_and_refusals_are_logged(alerted: Site) -> None:
    alert = next(a for a in alerted.analyst.alerts() if a.typology == "structuring" and not a.case_id)
    case = alerted.analyst.open_case([alert.alert_id])
    assert case.status == "open" and case.steps[0].role == "analyst"
    assert case.steps[0].actor == f"{c.BANK}/{c.ANALYST_USER}"
    with pytest.raises(Refused) as again:
        alerted.analyst.open_case([alert.alert_id])
    assert again.value.code == "CONFLICT"
    alerted.officer.case_step(case.case_id, {"event": "assign", "assignee": "AtlanticBank/analyst"})
    with pytest.raises(Refused) as wrong_role:
        alerted.analyst.case_step(case.case_id, {"event": "decide", "decision": "sar", "reasons": ["x"]})
    assert wrong_role.value.code == "FORBIDDEN"
    with pytest.raises(Refused) as examiner:
        alerted.examiner.case_step(case.case_id, {"event": "note", "text": "I may not write here"})
    assert examiner.value.code == "FORBIDDEN"
    # The request names another actor and role; the ledger's are the caller's.
    after = alerted.analyst.case_step(
        case.case_id, {"event": "note", "text": "asked the exchange", "actor": "someone", "role": "bsa_officer"}
    )
    last = after.steps[-1]
    assert (last.actor, last.role) == (f"{c.BANK}/{c.ANALYST_USER}", "analyst")
    decided = alerted.officer.case_step(case.case_id, {"event": "decide", "decision": "no_sar", "reasons": ["ok"]})
    assert decided.status == "closed_no_sar" and decided.decision == "no_sar"
    with pytest.raises(Refused) as closed:
        alerted.analyst.case_step(case.case_id, {"event": "note", "text": "too late"})
    assert closed.value.code == "CONFLICT"
    logged = {r["tx"]: r for r in alerted.examiner.refusals()}
    assert {again.value.tx_id, wrong_role.value.tx_id, examiner.value.tx_id, closed.value.tx_id} <= set(logged)
    assert logged[wrong_role.value.tx_id]["reason"] and logged[wrong_role.value.tx_id]["function"] == "case_step"


def test_a_malformed_case_step_is_refused_and_nothing_is_stored(alerted: Site) -> None:
    case = alerted.analyst.cases()[0]
    with pytest.raises(AmlError) as info:
        alerted.analyst.case_step(case.case_id, {"event": "teleport"})
    assert info.value.code == "INVALID"
    with pytest.raises(AmlError) as missing:
        alerted.analyst.case_step("C-0000000000", {"event": "note", "text": "x"})
    assert missing.value.code == "NOT_FOUND"
    assert len(alerted.analyst.case(case.case_id).steps) == len(case.steps)


def test_a_filing_step_needs_the_xml_whose_hash_it_records(alerted: Site) -> None:
    alert = next(a for a in alerted.analyst.alerts() if not a.case_id)
    case = alerted.analyst.open_case([alert.alert_id])
    alerted.officer.case_step(case.case_id, {"event": "assign", "assignee": "AtlanticBank/analyst"})
    alerted.officer.case_step(case.case_id, {"event": "decide", "decision": "sar", "reasons": ["pattern"]})
    raw = alerted.officer._contract()
    event = canonical_json({"event": "filing", "filing_hash": "ab" * 32})
    with pytest.raises(GatewayError) as info:
        raw.submit("case_step", case.case_id, transient={"event": event, "xml": b"<not the filed bytes/>"})
    assert info.value.contract_code == "INVALID"
    assert alerted.officer.case(case.case_id).status == "sar_decided"


# -- the examiner --------------------------------------------------------------------------------------------------


def test_the_examiner_reads_everything_and_writes_only_notes(alerted: Site) -> None:
    examiner = alerted.examiner
    assert examiner.alerts() and examiner.cases() and examiner.violations()
    assert {a.account for a in examiner.accounts()} >= {"BRX-1", "SMT-1"}
    assert examiner.onboarding(c.BLUE_RIVER).approved
    note = examiner.examination_note("case:" + examiner.cases()[0].case_id, "Decision documented; no exception.")
    assert note.note_id in {n.note_id for n in alerted.analyst.examination_notes()}
    writes = [
        lambda: examiner.post_transactions([tx("EXAM-1", "BRX-1", "EXT-9", "1.00")], monitor=False),
        lambda: examiner.open_accounts(c.BLUE_RIVER, ["BRX-EXAM"]),
        lambda: examiner.open_case([examiner.alerts()[0].alert_id]),
        lambda: examiner.record_alerts(examiner.alerts()[0:1], source="batch"),
        lambda: examiner.submit_onboarding(record(c.BLUE_RIVER, "examiner's version")),
    ]
    for write in writes:
        with pytest.raises(Refused) as info:
            write()
        assert info.value.code == "FORBIDDEN"


def test_nobody_else_writes_examination_notes(alerted: Site) -> None:
    for caller in (alerted.analyst, alerted.officer, alerted.core, alerted.blue):
        with pytest.raises(Refused) as info:
            caller.examination_note("case", "not an examiner")
        assert info.value.code == "FORBIDDEN"
    assert all(n.by.startswith(c.EXAMINERS + "/") for n in alerted.examiner.examination_notes())
