"""Exchange due diligence: what the bank checks before, and keeps checking after, it opens an exchange's account.

A crypto exchange that serves US customers is a **money services business** (a money transmitter, 31 CFR
1010.100(ff)(5); FinCEN guidance FIN-2013-G001 and FIN-2019-G001 on convertible virtual currency), and a bank
that banks it must know it well (FFIEC BSA/AML Examination Manual, "Money Services Businesses"). The record
built here holds what that takes:

* **FinCEN MSB registration.** An MSB registers with FinCEN on Form 107 (31 CFR 1022.380) and renews every two
  years. The number FinCEN's *MSB Registrant Search* publishes is the BSA Identifier of the accepted Form 107:
  **14 digits, beginning with 31000** — the same form as every BSA ID FinCEN returns in its acknowledgements
  (the shared ``sar_acknowledgement.xml`` has ``31000055053784``) and the 14-digit
  ``EFilingPriorDocumentNumber`` of the SAR schema. (The issue's ``31000xxxxxxxx`` writes one digit too few.)
  :func:`msb_registration_number` accepts it with spaces or hyphens and returns the 14 digits.
* **State money-transmitter licences.** Most states license money transmitters themselves; each licence has a
  state (a USPS code: 50 states, DC, and the territories that license — PR, GU, VI, AS, MP), a number, and an
  expiry. :func:`licence_gaps` lists the states the exchange serves without a current licence. Montana has no
  money-transmitter licensing law, so no licence is expected there.
* **Beneficial owners** (31 CFR 1010.230, the CDD rule): every individual who directly or indirectly owns
  **25 % or more** of the equity (the ownership prong — 25.00 % counts, 24.99 % does not), and **one**
  individual with significant responsibility to control the company (the control prong).
  :func:`beneficial_owner_problems` checks a declared list.
* **Risk rating and enhanced due diligence.** The bank rates the relationship (low, medium, high — a virtual
  currency exchange starts at high in most banks' models) from its factors, the highest factor deciding, and
  reviews it with enhanced due diligence on a schedule set by the rating: every 12 months when high, 24 when
  medium, 36 when low (:data:`REVIEW_MONTHS` — the bank's policy; the FFIEC manual asks for risk-based
  frequency without fixing one). :func:`next_review_due` gives the date.
* **Approval by two roles.** Onboarding is approved by an **analyst** and the **BSA officer** — two people, two
  roles, both approving the *same* version of the record (its hash). The approvals are data
  (:class:`Approval`): each is its own ledger transaction, signed by the person who approves, whose role the
  contract reads from the caller's certificate (``ctx.caller.role``, counted only from the bank's organisation).
  :class:`ApprovalPolicy` says when the recorded approvals satisfy the rule, so the contract decides from
  signatures, never from a flag a program sets. (The platform's endorsement-policy language names identity
  kinds — ``'Bank.peer'``, ``'Bank.admin'`` — not application roles, so this rule is the contract's, over the
  approvals it has recorded.)

All of it is pure: dates are inputs, never read from a clock.
"""

from __future__ import annotations

import hashlib
import json
import re
from calendar import monthrange
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import holidays
from stdnum.exceptions import ValidationError
from stdnum.us import ein as us_ein

ANALYST = "analyst"
BSA_OFFICER = "bsa_officer"

OWNERSHIP_THRESHOLD = Decimal("25")
"""Percent of equity at or above which an individual is a beneficial owner (31 CFR 1010.230(d)(1))."""

LICENSING_JURISDICTIONS = frozenset(holidays.US.subdivisions) - {"UM"}
"""USPS codes of the states, DC and territories (the minor outlying islands have no licensing authority)."""

NO_MONEY_TRANSMITTER_LICENSING = frozenset({"MT"})
"""Jurisdictions with no money-transmitter licensing law: no licence is expected there."""

_MSB_NUMBER = re.compile(r"31000\d{9}")

# python-stdnum reads its table of IRS campus prefixes on first use and caches it; read it now, at import, so
# that a contract validating an EIN does no file access while it runs (the determinism guard refuses it).
us_ein.is_valid("04-3106165")


class OnboardingError(ValueError):
    """A field of the due-diligence record that is not valid: which, what was expected, what was found."""

    def __init__(self, field_name: str, expected: str, found: str) -> None:
        super().__init__(f"{field_name}: expected {expected}, found {found}")
        self.field = field_name
        self.expected = expected
        self.found = found


def msb_registration_number(text: str) -> str:
    """FinCEN's MSB registration number as 14 digits starting 31000 (spaces and hyphens dropped)."""
    number = re.sub(r"[\s-]", "", text)
    if not _MSB_NUMBER.fullmatch(number):
        raise OnboardingError(
            "msb_registration_number", "14 digits beginning with 31000 (FinCEN's BSA ID of Form 107)", repr(text)
        )
    return number


def employer_id(text: str) -> str:
    """A US EIN as 9 digits (validated by ``python-stdnum``: format and IRS campus prefix)."""
    try:
        return us_ein.validate(text)
    except ValidationError:
        raise OnboardingError("ein", "a US employer identification number, e.g. 12-3456789", repr(text)) from None


def state_code(text: str) -> str:
    """A USPS state, DC or territory code, upper case."""
    code = text.strip().upper()
    if code not in LICENSING_JURISDICTIONS:
        raise OnboardingError("state", "a USPS code of a US state, DC or territory (e.g. NY)", repr(text))
    return code


@dataclass(frozen=True)
class StateLicence:
    """A state money-transmitter licence."""

    state: str
    number: str
    issued: date
    expires: date | None = None
    """None for licences that do not expire (renewed by annual report instead)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", state_code(self.state))
        if not self.number.strip():
            raise OnboardingError("licence.number", "the licence number", "an empty string")
        if self.expires is not None and self.expires < self.issued:
            raise OnboardingError(
                "licence.expires", f"a date on or after {self.issued.isoformat()}", self.expires.isoformat()
            )

    def current(self, on: date) -> bool:
        """Whether the licence is in force on ``on`` (the expiry day included)."""
        return self.issued <= on and (self.expires is None or on <= self.expires)


def licence_gaps(
    states_served: tuple[str, ...] | frozenset[str], licences: tuple[StateLicence, ...], on: date
) -> tuple[str, ...]:
    """The states the exchange serves without a current licence on ``on``, sorted."""
    licensed = {licence.state for licence in licences if licence.current(on)}
    needed = {state_code(s) for s in states_served} - NO_MONEY_TRANSMITTER_LICENSING
    return tuple(sorted(needed - licensed))


@dataclass(frozen=True)
class BeneficialOwner:
    """An individual declared by the legal entity: ownership in percent and whether they control it."""

    name: str
    ownership: Decimal
    """Percent of equity, directly or indirectly (0–100)."""
    control: bool = False
    """The one individual with significant responsibility to control the entity (the control prong)."""

    def __post_init__(self) -> None:
        if not isinstance(self.ownership, Decimal) or not (Decimal(0) <= self.ownership <= Decimal(100)):
            raise OnboardingError(f"owner {self.name!r}.ownership", "a Decimal percentage 0–100", str(self.ownership))

    @property
    def beneficial_owner(self) -> bool:
        """Whether the ownership prong makes them a beneficial owner (25 % or more)."""
        return self.ownership >= OWNERSHIP_THRESHOLD


@dataclass(frozen=True)
class Problem:
    """Something that blocks approval: which rule, why, expected and found."""

    rule: str
    reason: str
    expected: str
    found: str


def ownership_prong(owners: tuple[BeneficialOwner, ...]) -> tuple[BeneficialOwner, ...]:
    """The owners of 25 % or more."""
    return tuple(owner for owner in owners if owner.beneficial_owner)


def beneficial_owner_problems(owners: tuple[BeneficialOwner, ...]) -> tuple[Problem, ...]:
    """What is wrong with a declared list of beneficial owners (31 CFR 1010.230)."""
    problems: list[Problem] = []
    total = sum((owner.ownership for owner in owners), Decimal(0))
    if total > 100:
        problems.append(
            Problem("ownership_total", "declared ownership adds up to more than 100 %", "<= 100", str(total))
        )
    controllers = [owner.name for owner in owners if owner.control]
    if len(controllers) != 1:
        problems.append(
            Problem(
                "control_prong",
                "the CDD rule asks for exactly one individual with significant responsibility to control the entity",
                "1 control person",
                f"{len(controllers)} ({', '.join(controllers) or 'none'})",
            )
        )
    names = [owner.name.strip().casefold() for owner in owners]
    duplicates = sorted({owner.name for owner in owners if names.count(owner.name.strip().casefold()) > 1})
    if duplicates:
        problems.append(
            Problem("owner_listed_twice", "an individual is listed twice", "each once", ", ".join(duplicates))
        )
    return tuple(problems)


class RiskRating(StrEnum):
    """The relationship's risk rating, lowest first."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


_ORDER = {RiskRating.LOW: 0, RiskRating.MEDIUM: 1, RiskRating.HIGH: 2}

REVIEW_MONTHS = {RiskRating.HIGH: 12, RiskRating.MEDIUM: 24, RiskRating.LOW: 36}
"""Months between enhanced-due-diligence reviews by rating (the bank's policy)."""


@dataclass(frozen=True)
class RiskFactor:
    """One factor of the rating, with the level it indicates and why."""

    name: str
    level: RiskRating
    reason: str


def rate(factors: tuple[RiskFactor, ...]) -> RiskRating:
    """The relationship's rating: the highest level any factor indicates (LOW when there are none)."""
    return max((factor.level for factor in factors), key=_ORDER.__getitem__, default=RiskRating.LOW)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day (31 Jan + 1 → 28/29 Feb)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


@dataclass(frozen=True)
class EddReview:
    """An enhanced-due-diligence review: when, by whom, the rating it reached, what it found."""

    on: date
    reviewer: str
    rating: RiskRating
    summary: str


def next_review_due(last: EddReview) -> date:
    """When the next review is due after ``last``, by its rating."""
    return add_months(last.on, REVIEW_MONTHS[last.rating])


def review_overdue(reviews: tuple[EddReview, ...], on: date) -> bool:
    """Whether the latest review's next one is past due on ``on`` (True when there has been none)."""
    if not reviews:
        return True
    latest = max(reviews, key=lambda review: review.on)
    return on > next_review_due(latest)


@dataclass(frozen=True)
class Document:
    """A due-diligence document kept in the bank's private data: its kind, a reference and the hash."""

    kind: str
    reference: str
    sha256: str


@dataclass(frozen=True)
class ExchangeRecord:
    """The due-diligence record of one exchange."""

    exchange_id: str
    legal_name: str
    ein: str
    msb_registration: str
    states_served: tuple[str, ...]
    licences: tuple[StateLicence, ...]
    owners: tuple[BeneficialOwner, ...]
    risk_factors: tuple[RiskFactor, ...]
    reviews: tuple[EddReview, ...] = ()
    documents: tuple[Document, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "ein", employer_id(self.ein))
        object.__setattr__(self, "msb_registration", msb_registration_number(self.msb_registration))
        object.__setattr__(self, "states_served", tuple(sorted({state_code(s) for s in self.states_served})))

    @property
    def rating(self) -> RiskRating:
        """The rating from the record's risk factors."""
        return rate(self.risk_factors)


def problems(record: ExchangeRecord, on: date) -> tuple[Problem, ...]:
    """Everything that blocks approving ``record`` on ``on``: owners, licences, the EDD review."""
    found = list(beneficial_owner_problems(record.owners))
    gaps = licence_gaps(record.states_served, record.licences, on)
    if gaps:
        found.append(
            Problem(
                "state_licences",
                "the exchange serves states where it holds no current money-transmitter licence",
                "a current licence in every state served",
                ", ".join(gaps),
            )
        )
    if not record.reviews:
        found.append(Problem("edd_review", "no enhanced-due-diligence review is on file", "a review", "none"))
    elif review_overdue(record.reviews, on):
        latest = max(record.reviews, key=lambda review: review.on)
        found.append(
            Problem(
                "edd_review",
                "the enhanced-due-diligence review is overdue",
                f"a review by {next_review_due(latest).isoformat()}",
                f"last on {latest.on.isoformat()}",
            )
        )
    return tuple(found)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def record_hash(record: ExchangeRecord) -> str:
    """SHA-256 of the record's canonical JSON: what each approval names, so a later change voids it."""
    canonical = json.dumps(_plain(asdict(record)), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Approval:
    """One person's approval of one version of a record, in one role."""

    role: str
    person: str
    org: str
    at: datetime
    record_hash: str


@dataclass(frozen=True)
class ApprovalState:
    """Whether a record is approved, and if not, what is missing."""

    approved: bool
    missing_roles: tuple[str, ...]
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class ApprovalPolicy:
    """Onboarding needs one approval per role, by distinct people of the bank, on the same record version."""

    org: str
    roles: tuple[str, ...] = (ANALYST, BSA_OFFICER)

    def describe(self) -> str:
        """The rule in words, e.g. ``one approval each by analyst and bsa_officer of Bank, by different people``."""
        return f"one approval each by {' and '.join(self.roles)} of {self.org}, by different people"

    def evaluate(self, record_hash: str, approvals: tuple[Approval, ...]) -> ApprovalState:
        """Which roles have approved this version, and whether the policy is met."""
        issues: list[Problem] = []
        valid: dict[str, Approval] = {}
        for approval in approvals:
            if approval.org != self.org:
                issues.append(Problem("approval_org", "an approval from another organisation", self.org, approval.org))
            elif approval.record_hash != record_hash:
                issues.append(
                    Problem(
                        "approval_stale",
                        f"{approval.person}'s approval is for another version of the record",
                        record_hash[:12],
                        approval.record_hash[:12],
                    )
                )
            elif approval.role in self.roles:
                valid.setdefault(approval.role, approval)
        people = [a.person for a in valid.values()]
        if len(people) != len(set(people)):
            issues.append(
                Problem("four_eyes", "one person approved in two roles", "distinct people", ", ".join(sorted(people)))
            )
        missing = tuple(role for role in self.roles if role not in valid)
        approved = not missing and len(people) == len(set(people))
        return ApprovalState(approved, missing, tuple(issues))
