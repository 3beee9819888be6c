"""The FinCEN SAR as a BSA E-Filing batch (``EFilingBatchXML`` with ``FormTypeCode`` ``SARX``).

One batch holds one ``Activity`` — one report — with at least six parties, each with its
``ActivityPartyTypeCode``:

====  =====================================================================================
35    Transmitter: name, address, phone, TIN (type 4) and Transmitter Control Code (type 28)
37    Transmitter contact: a name
30    Filing institution: the bank — regulator, name, address, EIN, depository institution (type 2), and the
      case id as its internal control number (type 29), which is how an acknowledgement is matched to a case
8     Contact office: who at the bank answers FinCEN, with a phone number
34    Financial institution where the activity occurred (the bank's office or branch)
33    Subject: each person or entity the report is about, with its TIN, address and the affected accounts
      (``PartyAccountAssociation`` 7 → institution 41 → ``Account``); when no suspect is known, one subject
      with "all critical subject information unavailable"
====  =====================================================================================

then ``SuspiciousActivity`` — the period, the total amount in whole dollars, and one
``SuspiciousActivityClassification`` per checked box (type and subtype, each subtype once) — and the narrative
in up to five blocks of 4,000 characters. ``ActivityAssociation`` says whether it is an initial report or a
continuing one (which cites the previous report's BSA ID in ``EFilingPriorDocumentNumber``).

The batch attributes are FinCEN's totals: ``ActivityCount`` (activities), ``PartyCount`` (subjects),
``TotalAmount`` (the sum of the total suspicious amounts), ``ActivityAttachmentCount`` and ``AttachmentCount``
(0: no attachments). :func:`build_sar` validates the batch against the XSD and these totals before it returns;
an invalid report raises :class:`~.schema.FilingError` naming the element and no bytes exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from lxml import etree

from ..cases import Case, Decision, Status, bank_date
from ..transactions import Transaction
from .codes import (
    ACCOUNT_INSTITUTION,
    ACTIVITY_AFFECTED_ACCOUNT,
    CONTACT_OFFICE,
    DEPOSITORY_INSTITUTION,
    EIN,
    FILING_INSTITUTION,
    INSTITUTION_OF_ACCOUNT,
    INTERNAL_CONTROL_NUMBER,
    SAR_ACTIVITY_SUBTYPES,
    SUBJECT,
    TCC,
    TIN,
    TIN_TYPES,
    TRANSACTION_LOCATION,
    TRANSMITTER,
    TRANSMITTER_CONTACT,
    Classification,
    classifications_for,
    is_other,
    subtype_type,
)
from .common import Batch, clean, digits, whole_dollars, yyyymmdd
from .model import Filer, Subject, SuspiciousActivity
from .schema import SAR, FilingError

NARRATIVE_BLOCK = 4000
NARRATIVE_BLOCKS = 5


def narrative_blocks(narrative: str) -> tuple[str, ...]:
    """The narrative cut into FinCEN's blocks of at most 4,000 characters, at spaces (at most five blocks)."""
    text = clean(narrative)
    if not text:
        raise FilingError(SAR, "ActivityNarrativeText", "the narrative is empty; every SAR needs one")
    blocks: list[str] = []
    while text:
        if len(text) <= NARRATIVE_BLOCK:
            blocks.append(text)
            break
        cut = text.rfind(" ", 0, NARRATIVE_BLOCK + 1)
        cut = cut if cut > 0 else NARRATIVE_BLOCK
        blocks.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if len(blocks) > NARRATIVE_BLOCKS:
        raise FilingError(
            SAR,
            "ActivityNarrativeText",
            f"the narrative needs {len(blocks)} blocks of {NARRATIVE_BLOCK} characters",
            expected=f"at most {NARRATIVE_BLOCKS} blocks ({NARRATIVE_BLOCKS * NARRATIVE_BLOCK} characters)",
            found=f"{len(clean(narrative))} characters",
        )
    return tuple(blocks)


def _checked(classifications: tuple[Classification, ...]) -> tuple[Classification, ...]:
    if not classifications:
        raise FilingError(SAR, "SuspiciousActivityClassification", "no type of suspicious activity is checked")
    seen: set[str] = set()
    for item in classifications:
        if item.subtype_id in seen:
            raise FilingError(
                SAR, "SuspiciousActivitySubtypeID", f"subtype {item.subtype_id} is checked twice", found=item.subtype_id
            )
        seen.add(item.subtype_id)
        if item.subtype_id.isdigit() and item.subtype_id in SAR_ACTIVITY_SUBTYPES:
            belongs = subtype_type(item.subtype_id)
            if belongs != item.type_id:
                raise FilingError(
                    SAR,
                    "SuspiciousActivityTypeID",
                    f"subtype {item.subtype_id} belongs to type {belongs}",
                    expected=belongs,
                    found=item.type_id,
                )
            if is_other(item.subtype_id) and not clean(item.other_text):
                raise FilingError(
                    SAR,
                    "OtherSuspiciousActivityTypeText",
                    f"the 'Other' subtype {item.subtype_id} needs a description",
                )
    return classifications


def _institution(batch: Batch, activity: etree._Element, filer: Filer, type_code: str, case_id: str) -> None:
    party = batch.section(activity, "Party")
    batch.add(party, "ActivityPartyTypeCode", type_code)
    batch.add(party, "PrimaryRegulatorTypeCode", filer.primary_regulator)
    batch.name(party, filer.name)
    address = filer.address if type_code == FILING_INSTITUTION else (filer.branch_address or filer.address)
    batch.address(party, address)
    batch.identification(party, filer.ein, EIN)
    if type_code == FILING_INSTITUTION and case_id:
        batch.identification(party, case_id, INTERNAL_CONTROL_NUMBER, verbatim=True)
    classification = batch.section(party, "OrganizationClassificationTypeSubtype")
    batch.add(classification, "OrganizationTypeID", DEPOSITORY_INSTITUTION)


def _subject(batch: Batch, activity: etree._Element, subject: Subject, filer: Filer) -> None:
    party = batch.section(activity, "Party")
    batch.add(party, "ActivityPartyTypeCode", SUBJECT)
    if not subject.is_entity and subject.birth_date is None:
        batch.flag(party, "BirthDateUnknownIndicator", True)
    if not subject.is_entity and subject.birth_date is not None:
        batch.add(party, "IndividualBirthDateText", yyyymmdd(subject.birth_date))
    batch.flag(party, "PartyAsEntityOrganizationIndicator", subject.is_entity)
    name = batch.section(party, "PartyName")
    batch.add(name, "PartyNameTypeCode", "L")
    batch.add(name, "RawEntityIndividualLastName", clean(subject.name))
    if not subject.is_entity:
        batch.add(name, "RawIndividualFirstName", clean(subject.first_name))
    if subject.alternate_name:
        batch.name(party, subject.alternate_name, "DBA" if subject.is_entity else "AKA")
    if subject.address is not None:
        batch.address(party, subject.address)
    else:
        unknown = batch.section(party, "Address")
        for flag in ("CityUnknownIndicator", "CountryCodeUnknownIndicator"):
            batch.flag(unknown, flag, True)
        for flag in ("StateCodeUnknownIndicator", "StreetAddressUnknownIndicator", "ZIPCodeUnknownIndicator"):
            batch.flag(unknown, flag, True)
    if subject.tin:
        tin_type = TIN_TYPES.get(subject.tin_type.upper())
        if tin_type is None:
            raise FilingError(
                SAR, "PartyIdentificationTypeCode", "unknown TIN type", f"{', '.join(TIN_TYPES)}", subject.tin_type
            )
        batch.identification(party, subject.tin, tin_type)
    else:
        identification = batch.section(party, "PartyIdentification")
        batch.flag(identification, "TINUnknownIndicator", True)
    if subject.customer:
        association = batch.section(party, "PartyAssociation")
        batch.flag(association, "CustomerIndicator", True)
        batch.add(association, "SubjectRelationshipFinancialInstitutionTINText", digits(filer.ein))
    if subject.accounts:
        accounts = batch.section(party, "PartyAccountAssociation")
        batch.add(accounts, "PartyAccountAssociationTypeCode", ACTIVITY_AFFECTED_ACCOUNT)
        institution = batch.section(accounts, "Party")
        batch.add(institution, "ActivityPartyTypeCode", ACCOUNT_INSTITUTION)
        batch.identification(institution, filer.ein, EIN)
        for number in subject.accounts:
            account = batch.section(institution, "Account")
            batch.add(account, "AccountNumberText", clean(number))
            held = batch.section(account, "PartyAccountAssociation")
            batch.add(held, "PartyAccountAssociationTypeCode", INSTITUTION_OF_ACCOUNT)


def _unknown_subject(batch: Batch, activity: etree._Element) -> None:
    party = batch.section(activity, "Party")
    batch.add(party, "ActivityPartyTypeCode", SUBJECT)
    batch.flag(party, "AllCriticalSubjectInformationUnavailableIndicator", True)
    name = batch.section(party, "PartyName")
    batch.flag(name, "EntityLastNameUnknownIndicator", True)
    batch.flag(name, "FirstNameUnknownIndicator", True)
    batch.add(name, "PartyNameTypeCode", "L")


def build_sar(case: Case, filer: Filer, subjects: tuple[Subject, ...], activity: SuspiciousActivity) -> bytes:
    """The case's SAR as a validated BSA E-Filing batch; raises :class:`FilingError` naming a bad element.

    The case gives the report's internal control number and, when ``activity.classifications`` is empty, the
    classifications of its typologies; a case the BSA officer closed without a SAR has no SAR. A continuing
    case (status ``continuing_sar_due``) makes a continuing report citing the previous BSA ID. With no
    subjects, the report says all critical subject information is unavailable (allowed when no suspect is
    identified).
    """
    if case.decision == Decision.NO_SAR or case.status == Status.CLOSED:
        raise FilingError(
            SAR,
            "Activity",
            f"case {case.case_id} was closed without a SAR",
            expected="a case decided SAR (or under investigation, for a draft)",
            found=f"status {case.status.value}",
        )
    if activity.end < activity.start:
        raise FilingError(
            SAR,
            "SuspiciousActivityToDateText",
            "the activity ends before it starts",
            expected=f">= {activity.start.isoformat()}",
            found=activity.end.isoformat(),
        )
    continuing = case.status == Status.CONTINUING_SAR_DUE
    prior = activity.prior_bsa_id or (case.last_filing.bsa_id if continuing and case.last_filing else "")
    if continuing and not prior:
        raise FilingError(
            SAR,
            "EFilingPriorDocumentNumber",
            "a continuing report must cite the previous report's BSA ID",
            expected="14 digits",
            found="none",
        )
    classifications = _checked(activity.classifications or classifications_for(case.typologies))
    blocks = narrative_blocks(activity.narrative)

    batch = Batch(SAR)
    report = batch.section(batch.root, "Activity")
    if continuing:
        batch.add(report, "EFilingPriorDocumentNumber", digits(prior))
    batch.add(report, "FilingDateText", yyyymmdd(activity.filed_on))
    if activity.note_to_fincen:
        batch.add(report, "FilingInstitutionNotetoFinCEN", clean(activity.note_to_fincen))
    association = batch.section(report, "ActivityAssociation")
    batch.flag(association, "ContinuingActivityReportIndicator", continuing)
    batch.flag(association, "InitialReportIndicator", not continuing)

    transmitter = filer.transmitter
    party = batch.section(report, "Party")
    batch.add(party, "ActivityPartyTypeCode", TRANSMITTER)
    batch.name(party, transmitter.name)
    batch.address(party, transmitter.address)
    batch.phone(party, transmitter.phone)
    batch.identification(party, transmitter.tin, TIN)
    batch.identification(party, transmitter.tcc, TCC)
    party = batch.section(report, "Party")
    batch.add(party, "ActivityPartyTypeCode", TRANSMITTER_CONTACT)
    batch.name(party, transmitter.contact_name)
    _institution(batch, report, filer, FILING_INSTITUTION, case.case_id)
    party = batch.section(report, "Party")
    batch.add(party, "ActivityPartyTypeCode", CONTACT_OFFICE)
    batch.name(party, filer.contact_office)
    batch.phone(party, filer.contact_phone)
    _institution(batch, report, filer, TRANSACTION_LOCATION, case.case_id)
    for subject in subjects:
        _subject(batch, report, subject, filer)
    if not subjects:
        _unknown_subject(batch, report)

    suspicious = batch.section(report, "SuspiciousActivity")
    batch.flag(suspicious, "AmountUnknownIndicator", activity.amount is None)
    if continuing and activity.cumulative_amount is not None:
        batch.add(
            suspicious,
            "CumulativeTotalViolationAmountText",
            whole_dollars(activity.cumulative_amount, SAR, "CumulativeTotalViolationAmountText"),
        )
    batch.add(suspicious, "SuspiciousActivityFromDateText", yyyymmdd(activity.start))
    batch.add(suspicious, "SuspiciousActivityToDateText", yyyymmdd(activity.end))
    total = 0
    if activity.amount is not None:
        amount = whole_dollars(activity.amount, SAR, "TotalSuspiciousAmountText")
        batch.add(suspicious, "TotalSuspiciousAmountText", amount)
        total = int(amount)
    for item in classifications:
        box = batch.section(suspicious, "SuspiciousActivityClassification")
        if item.other_text:
            batch.add(box, "OtherSuspiciousActivityTypeText", clean(item.other_text))
        batch.add(box, "SuspiciousActivitySubtypeID", item.subtype_id)
        batch.add(box, "SuspiciousActivityTypeID", item.type_id)
    for number, block in enumerate(blocks, start=1):
        narrative = batch.section(report, "ActivityNarrativeInformation")
        batch.add(narrative, "ActivityNarrativeSequenceNumber", str(number))
        batch.add(narrative, "ActivityNarrativeText", block)

    return batch.finish(
        activity_count=1,
        party_count=max(len(subjects), 1),
        total_amount=total,
        ActivityAttachmentCount=0,
        AttachmentCount=0,
    )


def _money(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def case_transactions(case: Case, transactions: Iterable[Transaction]) -> tuple[Transaction, ...]:
    """The transactions behind the case's alerts, in time order."""
    wanted = set(case.tx_ids)
    return tuple(sorted((tx for tx in transactions if tx.tx_id in wanted), key=lambda tx: (tx.timestamp, tx.tx_id)))


NARRATIVE_TYPOLOGIES: dict[str, str] = {
    "structuring": "structuring (cash kept under the $10,000 reporting threshold)",
    "ctr": "cash over $10,000 in one business day",
    "fan_in": "fan-in (many new payers into one account)",
    "fan_out": "fan-out (one account paying many new payees)",
    "cycle": "a cycle (funds returning to where they started)",
    "bipartite": "bipartite layering (one group of accounts paying another)",
    "stack": "stacked layering (funds passed through successive intermediaries)",
    "scatter_gather": "scatter-gather (funds spread to intermediaries and gathered again)",
    "gather_scatter": "gather-scatter (funds gathered from many and spread again)",
    "random": "layering through a group of accounts",
    "network": "layering through a group of accounts",
    "high_risk_jurisdiction": "activity with a high-risk jurisdiction",
    "dormant_reactivation": "a dormant account suddenly reactivated",
    "violation": "an account-policy violation",
}
"""How the narrative, read by FinCEN's analysts, names each typology: in words, never as a code."""

NARRATIVE_RULES: dict[str, str] = {
    "ctr_aggregate": "cash over $10,000 in one business day",
    "structuring": "cash deposits kept under $10,000 that together exceed it",
    "just_under_threshold": "an amount just under a reporting threshold",
    "split_cash_same_day": "cash split into several transactions on one day",
    "rapid_movement": "funds moved out soon after they came in",
    "new_relationship": "payments on a new relationship",
    "fan_in": "many new payers",
    "fan_out": "many new payees",
    "pass_through": "funds passing through the account",
    "cycle": "funds returning to their origin",
    "velocity_spike": "activity far above the account's own history",
    "dormant_reactivation": "a dormant account reactivated",
    "high_risk_jurisdiction": "a high-risk jurisdiction",
    "round_amount": "round amounts",
}
"""How the narrative names each monitoring rule a hit came from."""


def _hit_words(rule: str, detail: str) -> str:
    measured = detail.split(": ", 1)[1] if detail.startswith(f"{rule}: ") else detail
    return f"{NARRATIVE_RULES.get(rule, rule.replace('_', ' '))} ({measured})"


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def narrative_date(day: date) -> str:
    """A date as a US report writes it: ``October 5, 2026``."""
    return f"{_MONTHS[day.month - 1]} {day.day}, {day.year}"


def _typology_words(code: str) -> str:
    return NARRATIVE_TYPOLOGIES.get(code, code.replace("_", " "))


def draft_narrative(case: Case, subjects: tuple[Subject, ...], transactions: Iterable[Transaction] = ()) -> str:
    """A factual first draft of the narrative (who, what, when, how, why) for the analyst to complete."""
    behind = case_transactions(case, transactions)
    who = "; ".join(
        (f"{s.first_name} {s.name}".strip() if not s.is_entity else s.name)
        + (f" (accounts {', '.join(s.accounts)})" if s.accounts else "")
        for s in subjects
    )
    parts = [
        f"This report concerns {who}." if who else "The subject could not be identified.",
        f"Transaction monitoring raised {len(case.alerts)} {'alert' if len(case.alerts) == 1 else 'alerts'} of "
        f"{'; '.join(_typology_words(t) for t in case.typologies)} on accounts {', '.join(case.accounts)}; "
        f"initial detection was on {narrative_date(case.detected_on)} (case {case.case_id}).",
    ]
    if behind:
        first, last = bank_date(behind[0].timestamp), bank_date(behind[-1].timestamp)
        total = sum((tx.amount for tx in behind), Decimal(0))
        kinds = ", ".join(sorted({tx.tx_type.replace("_", " ") for tx in behind}))
        parts.append(
            (
                f"On {narrative_date(first)}"
                if first == last
                else f"Between {narrative_date(first)} and {narrative_date(last)}"
            )
            + (
                f", 1 transaction ({kinds}) of {_money(total)} was involved."
                if len(behind) == 1
                else f", {len(behind)} transactions ({kinds}) totalling {_money(total)} were involved."
            )
        )
    for alert in case.alerts:
        hits = "; ".join(_hit_words(hit.rule, hit.detail) for hit in alert.rule_hits)
        parts.append(f"Alert {alert.alert_id} ({_typology_words(alert.typology)}, score {alert.score:.2f}): {hits}.")
    if case.decision_reasons:
        parts.append("The BSA officer's reasons for filing: " + "; ".join(case.decision_reasons) + ".")
    return " ".join(parts)


def activity_from(
    case: Case,
    subjects: tuple[Subject, ...],
    transactions: Iterable[Transaction],
    filed_on: date,
    narrative: str = "",
) -> SuspiciousActivity:
    """The report's period, amount and (drafted unless given) narrative from the case's transactions."""
    behind = case_transactions(case, transactions)
    if not behind:
        raise FilingError(
            SAR,
            "SuspiciousActivityFromDateText",
            "none of the case's transactions were given, so the period of activity is unknown",
            expected=f"transactions among {len(case.tx_ids)} ids of case {case.case_id}",
            found="none",
        )
    return SuspiciousActivity(
        start=bank_date(behind[0].timestamp),
        end=bank_date(behind[-1].timestamp),
        amount=sum((tx.amount for tx in behind), Decimal(0)),
        narrative=narrative or draft_narrative(case, subjects, behind),
        filed_on=filed_on,
    )
