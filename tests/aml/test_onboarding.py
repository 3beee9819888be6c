"""Exchange due diligence: MSB number, state licences, beneficial owners at 25 %, risk and EDD dates, approvals."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from consortia.apps.aml.domain.onboarding import (
    ANALYST,
    BSA_OFFICER,
    Approval,
    ApprovalPolicy,
    BeneficialOwner,
    EddReview,
    ExchangeRecord,
    OnboardingError,
    RiskFactor,
    RiskRating,
    StateLicence,
    add_months,
    beneficial_owner_problems,
    employer_id,
    licence_gaps,
    msb_registration_number,
    next_review_due,
    ownership_prong,
    problems,
    rate,
    record_hash,
    review_overdue,
    state_code,
)

ON = date(2026, 12, 1)


def test_msb_registration_number_is_14_digits_starting_31000() -> None:
    assert msb_registration_number("31000123456789") == "31000123456789"
    assert msb_registration_number("31000-1234-56789") == "31000123456789"
    assert msb_registration_number(" 31000 123456789 ") == "31000123456789"
    for bad in ("3100012345678", "310001234567890", "32000123456789", "31000ABCDEFGHI", ""):
        with pytest.raises(OnboardingError) as info:
            msb_registration_number(bad)
        assert info.value.field == "msb_registration_number" and "beginning with 31000" in info.value.expected


def test_employer_id_and_state_codes() -> None:
    assert employer_id("98-7654321") == "987654321"
    with pytest.raises(OnboardingError, match="employer identification number"):
        employer_id("00-1234567")  # 00 is no IRS campus prefix
    assert state_code("ny") == "NY" and state_code("PR") == "PR" and state_code("DC") == "DC"
    for bad in ("XX", "New York", "UM", ""):
        with pytest.raises(OnboardingError) as info:
            state_code(bad)
        assert info.value.field == "state"


def test_licences_current_on_their_days_and_gaps_by_state() -> None:
    ny = StateLicence("NY", "MT-123", date(2024, 1, 1), date(2026, 12, 31))
    ca = StateLicence("ca", "2160", date(2023, 6, 1))
    assert ca.state == "CA"
    assert ny.current(date(2026, 12, 31)) and not ny.current(date(2027, 1, 1))
    assert not ny.current(date(2023, 12, 31))
    assert licence_gaps(("NY", "CA", "TX", "MT"), (ny, ca), ON) == ("TX",)  # Montana licenses no transmitters
    assert licence_gaps(("NY",), (ny,), date(2027, 1, 1)) == ("NY",)
    with pytest.raises(OnboardingError, match=r"licence\.expires"):
        StateLicence("NY", "1", date(2026, 1, 1), date(2025, 1, 1))
    with pytest.raises(OnboardingError) as info:
        StateLicence("ZZ", "1", date(2026, 1, 1))
    assert info.value.found == "'ZZ'"


def test_ownership_prong_counts_25_percent_and_not_24_99() -> None:
    owners = (
        BeneficialOwner("A", Decimal("25.00"), control=True),
        BeneficialOwner("B", Decimal("24.99")),
        BeneficialOwner("C", Decimal("50")),
    )
    assert [o.name for o in ownership_prong(owners)] == ["A", "C"]
    assert beneficial_owner_problems(owners) == ()


def test_beneficial_owner_problems() -> None:
    none_in_control = (BeneficialOwner("A", Decimal(60)), BeneficialOwner("B", Decimal(30)))
    [problem] = beneficial_owner_problems(none_in_control)
    assert problem.rule == "control_prong" and problem.found == "0 (none)"
    too_much = (BeneficialOwner("A", Decimal(60), True), BeneficialOwner("B", Decimal("40.01")))
    assert [p.rule for p in beneficial_owner_problems(too_much)] == ["ownership_total"]
    twice = (BeneficialOwner("Ann Lee", Decimal(30), True), BeneficialOwner("ann lee ", Decimal(30)))
    assert [p.rule for p in beneficial_owner_problems(twice)] == ["owner_listed_twice"]
    with pytest.raises(OnboardingError):
        BeneficialOwner("X", Decimal("100.01"))


def test_rating_is_the_highest_factor() -> None:
    assert rate(()) == RiskRating.LOW
    factors = (
        RiskFactor("geography", RiskRating.LOW, "US customers only"),
        RiskFactor("product", RiskRating.HIGH, "virtual currency exchange"),
        RiskFactor("volume", RiskRating.MEDIUM, "$40m a month"),
    )
    assert rate(factors) == RiskRating.HIGH
    assert rate(factors[::2]) == RiskRating.MEDIUM


def test_next_edd_review_by_rating_and_month_ends() -> None:
    assert next_review_due(EddReview(date(2026, 3, 15), "bob", RiskRating.HIGH, "")) == date(2027, 3, 15)
    assert next_review_due(EddReview(date(2026, 3, 15), "bob", RiskRating.MEDIUM, "")) == date(2028, 3, 15)
    assert next_review_due(EddReview(date(2026, 3, 15), "bob", RiskRating.LOW, "")) == date(2029, 3, 15)
    assert next_review_due(EddReview(date(2024, 2, 29), "bob", RiskRating.HIGH, "")) == date(2025, 2, 28)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    reviews = (EddReview(date(2025, 12, 1), "bob", RiskRating.HIGH, "ok"),)
    assert not review_overdue(reviews, date(2026, 12, 1))  # due day itself
    assert review_overdue(reviews, date(2026, 12, 2))
    assert review_overdue((), ON)


def record(**changes) -> ExchangeRecord:
    base = ExchangeRecord(
        exchange_id="EXA",
        legal_name="Example Exchange LLC",
        ein="98-7654321",
        msb_registration="31000-123456789",
        states_served=("ny", "CA"),
        licences=(StateLicence("NY", "1", date(2024, 1, 1)), StateLicence("CA", "2", date(2024, 1, 1))),
        owners=(BeneficialOwner("Ann Lee", Decimal(60), True), BeneficialOwner("Raj Rao", Decimal(40))),
        risk_factors=(RiskFactor("product", RiskRating.HIGH, "virtual currency exchange"),),
        reviews=(EddReview(date(2026, 6, 1), "bob", RiskRating.HIGH, "site visit, SOC 2 report"),),
    )
    return replace(base, **changes)


def test_a_complete_record_has_no_problems_and_normalises_its_ids() -> None:
    exa = record()
    assert exa.ein == "987654321" and exa.msb_registration == "31000123456789"
    assert exa.states_served == ("CA", "NY") and exa.rating == RiskRating.HIGH
    assert problems(exa, ON) == ()


def test_record_problems_block_approval() -> None:
    found = problems(record(states_served=("NY", "CA", "TX"), reviews=()), ON)
    assert [(p.rule, p.found) for p in found] == [("state_licences", "TX"), ("edd_review", "none")]
    late = problems(record(reviews=(EddReview(date(2025, 6, 1), "bob", RiskRating.HIGH, "ok"),)), ON)
    assert [(p.rule, p.expected) for p in late] == [("edd_review", "a review by 2026-06-01")]
    with pytest.raises(OnboardingError):
        record(msb_registration="3100012345678")


def test_record_hash_changes_with_the_record() -> None:
    assert record_hash(record()) == record_hash(record())
    assert record_hash(record()) != record_hash(record(legal_name="Example Exchange Inc"))
    assert len(record_hash(record())) == 64


def approval(role: str, person: str, version: str, org: str = "Bank") -> Approval:
    return Approval(role, person, org, datetime(2026, 12, 1, 15, tzinfo=UTC), version)


def test_approval_needs_the_analyst_and_the_bsa_officer() -> None:
    policy = ApprovalPolicy("Bank")
    assert policy.describe() == "one approval each by analyst and bsa_officer of Bank, by different people"
    version = record_hash(record())
    one = policy.evaluate(version, (approval(ANALYST, "ana", version),))
    assert not one.approved and one.missing_roles == (BSA_OFFICER,)
    both = policy.evaluate(version, (approval(ANALYST, "ana", version), approval(BSA_OFFICER, "bob", version)))
    assert both.approved and both.missing_roles == () and both.problems == ()


def test_one_person_in_both_roles_is_not_enough() -> None:
    version = record_hash(record())
    state = ApprovalPolicy("Bank").evaluate(
        version, (approval(ANALYST, "ana", version), approval(BSA_OFFICER, "ana", version))
    )
    assert not state.approved and [p.rule for p in state.problems] == ["four_eyes"]


def test_an_approval_of_an_older_version_or_another_org_does_not_count() -> None:
    old, new = record_hash(record()), record_hash(record(legal_name="Example Exchange Inc"))
    state = ApprovalPolicy("Bank").evaluate(
        new, (approval(ANALYST, "ana", old), approval(BSA_OFFICER, "bob", new), approval(ANALYST, "eve", new, "Exa"))
    )
    assert not state.approved and state.missing_roles == (ANALYST,)
    assert [p.rule for p in state.problems] == ["approval_stale", "approval_org"]
