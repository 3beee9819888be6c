"""The FinCEN CTR as a BSA E-Filing batch (``EFilingBatchXML`` with ``FormTypeCode`` ``CTRX``).

A bank files a Currency Transaction Report for each business day on which a person's cash in, or cash out,
exceeds $10,000 — several transactions aggregated when the bank knows they are by or for the same person
(31 CFR 1010.311, 1010.313); $10,000.00 exactly is no CTR, $10,000.01 is. It is due within 15 calendar days
(31 CFR 1010.306(a)(1)).

One ``Activity`` holds: ``ActivityAssociation`` (initial report), the parties — transmitter (35), transmitter
contact (37), the filing institution (30), its contact office (8), the transaction location (34, with the cash
in and out there), and each person involved (50 on their own behalf, 17 for another, 23 on whose behalf), with
their accounts marked cash in (8) or cash out (9) — and ``CurrencyTransactionActivity``: the totals, the
business day, and one detail line per kind of cash (``55`` deposits, ``56`` withdrawals …). The batch's
``PartyCount`` counts every party, ``TotalAmount`` adds the detail lines, both in whole dollars rounded up.
:func:`build_ctr` validates against FinCEN's XSD and these totals before returning.
:func:`currency_activity` builds the cash lines from the monitoring engine's transactions of one business day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

from ..transactions import CASH_DEPOSIT, CASH_WITHDRAWAL, Transaction
from .codes import (
    CASH_IN_DETAIL_TYPES,
    CASH_OUT_DETAIL_TYPES,
    CONTACT_OFFICE,
    CTR_ACCOUNT_CASH_IN,
    CTR_ACCOUNT_CASH_OUT,
    CTR_PERSON_TYPES,
    DEPOSITORY_INSTITUTION,
    DEPOSITS,
    EIN,
    FILING_INSTITUTION,
    TCC,
    TIN,
    TIN_TYPES,
    TRANSACTION_LOCATION,
    TRANSMITTER,
    TRANSMITTER_CONTACT,
    WITHDRAWALS,
)
from .common import Batch, clean, whole_dollars, yyyymmdd
from .model import CashItem, CtrPerson, CurrencyActivity, Filer
from .schema import CTR, FilingError

CTR_THRESHOLD = Decimal("10000")
"""A CTR is due for cash in or cash out of *more than* this in one business day (31 CFR 1010.311)."""

CTR_FILING_DAYS = 15
"""Calendar days after the transaction within which the CTR is filed (31 CFR 1010.306(a)(1))."""


def ctr_due(transaction_date: date) -> date:
    """The last day to file the CTR of a business day's transactions."""
    return transaction_date + timedelta(days=CTR_FILING_DAYS)


def currency_activity(transactions: Iterable[Transaction], transaction_date: date, filed_on: date) -> CurrencyActivity:
    """The cash lines of one business day's transactions: deposits in, withdrawals out (others ignored)."""
    cash_in = Decimal(0)
    cash_out = Decimal(0)
    count = 0
    for tx in transactions:
        if tx.tx_type == CASH_DEPOSIT:
            cash_in += tx.amount
            count += 1
        elif tx.tx_type == CASH_WITHDRAWAL:
            cash_out += tx.amount
            count += 1
    return CurrencyActivity(
        transaction_date=transaction_date,
        filed_on=filed_on,
        cash_in=(CashItem(DEPOSITS, cash_in),) if cash_in else (),
        cash_out=(CashItem(WITHDRAWALS, cash_out),) if cash_out else (),
        aggregated=count > 1,
    )


def _lines(items: tuple[CashItem, ...], allowed: frozenset[str], side: str) -> list[tuple[CashItem, int]]:
    lines = []
    for item in items:
        if item.code not in allowed:
            raise FilingError(
                CTR,
                "CurrencyTransactionActivityDetailTypeCode",
                f"code {item.code} is not a cash-{side} kind",
                expected=f"one of {', '.join(sorted(allowed, key=int))}",
                found=item.code,
            )
        lines.append((item, int(whole_dollars(item.amount, CTR, "DetailTransactionAmountText"))))
    return lines


def build_ctr(filer: Filer, persons: tuple[CtrPerson, ...], activity: CurrencyActivity) -> bytes:
    """A validated CTR batch for one business day; raises :class:`FilingError` naming a bad element.

    Refused when neither cash in nor cash out exceeds $10,000 (no CTR is due) or no person is named.
    """
    cash_in_exact = sum((item.amount for item in activity.cash_in), Decimal(0))
    cash_out_exact = sum((item.amount for item in activity.cash_out), Decimal(0))
    if cash_in_exact <= CTR_THRESHOLD and cash_out_exact <= CTR_THRESHOLD:
        raise FilingError(
            CTR,
            "TotalCashInReceiveAmountText",
            "no CTR is due: neither cash in nor cash out exceeds $10,000 in the business day",
            expected="more than 10000.00 in or out",
            found=f"in {cash_in_exact}, out {cash_out_exact}",
        )
    if not persons:
        raise FilingError(CTR, "Party", "a CTR names at least one person involved in the transactions")
    lines_in = _lines(activity.cash_in, CASH_IN_DETAIL_TYPES, "in")
    lines_out = _lines(activity.cash_out, CASH_OUT_DETAIL_TYPES, "out")
    total_in = sum(amount for _, amount in lines_in)
    total_out = sum(amount for _, amount in lines_out)

    batch = Batch(CTR)
    report = batch.section(batch.root, "Activity")
    batch.add(report, "FilingDateText", yyyymmdd(activity.filed_on))
    association = batch.section(report, "ActivityAssociation")
    batch.add(association, "CorrectsAmendsPriorReportIndicator", "")
    batch.add(association, "FinCENDirectBackFileIndicator", "")
    batch.add(association, "InitialReportIndicator", "Y")

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
    for type_code in (FILING_INSTITUTION, TRANSACTION_LOCATION):
        party = batch.section(report, "Party")
        batch.add(party, "ActivityPartyTypeCode", type_code)
        if type_code == TRANSACTION_LOCATION:
            batch.add(party, "IndividualEntityCashInAmountText", str(total_in) if total_in else "")
            batch.add(party, "IndividualEntityCashOutAmountText", str(total_out) if total_out else "")
        batch.add(party, "PrimaryRegulatorTypeCode", filer.primary_regulator)
        batch.name(party, filer.name)
        where = filer.address if type_code == FILING_INSTITUTION else (filer.branch_address or filer.address)
        batch.address(party, where)
        batch.identification(party, filer.ein, EIN)
        classification = batch.section(party, "OrganizationClassificationTypeSubtype")
        batch.add(classification, "OrganizationTypeID", DEPOSITORY_INSTITUTION)
    party = batch.section(report, "Party")
    batch.add(party, "ActivityPartyTypeCode", CONTACT_OFFICE)
    batch.name(party, filer.contact_office)
    batch.phone(party, filer.contact_phone)

    for person in persons:
        subject = person.subject
        if person.role not in CTR_PERSON_TYPES:
            raise FilingError(
                CTR,
                "ActivityPartyTypeCode",
                "not a kind of person involved in a CTR",
                expected=", ".join(sorted(CTR_PERSON_TYPES)),
                found=person.role,
            )
        party = batch.section(report, "Party")
        batch.add(party, "ActivityPartyTypeCode", person.role)
        if not subject.is_entity and subject.birth_date is None:
            batch.flag(party, "BirthDateUnknownIndicator", True)
        if not subject.is_entity and subject.birth_date is not None:
            batch.add(party, "IndividualBirthDateText", yyyymmdd(subject.birth_date))
        if person.cash_in:
            batch.add(
                party,
                "IndividualEntityCashInAmountText",
                whole_dollars(person.cash_in, CTR, "IndividualEntityCashInAmountText"),
            )
        if person.cash_out:
            batch.add(
                party,
                "IndividualEntityCashOutAmountText",
                whole_dollars(person.cash_out, CTR, "IndividualEntityCashOutAmountText"),
            )
        batch.flag(party, "MultipleTransactionsPersonsIndividualsIndicator", activity.aggregated)
        batch.flag(party, "PartyAsEntityOrganizationIndicator", subject.is_entity)
        name = batch.section(party, "PartyName")
        batch.add(name, "PartyNameTypeCode", "L")
        batch.add(name, "RawEntityIndividualLastName", clean(subject.name))
        if not subject.is_entity:
            batch.add(name, "RawIndividualFirstName", clean(subject.first_name))
        if subject.address is not None:
            batch.address(party, subject.address)
        if subject.tin:
            tin_type = TIN_TYPES.get(subject.tin_type.upper())
            if tin_type is None:
                raise FilingError(
                    CTR, "PartyIdentificationTypeCode", "unknown TIN type", ", ".join(TIN_TYPES), subject.tin_type
                )
            batch.identification(party, subject.tin, tin_type)
        else:
            identification = batch.section(party, "PartyIdentification")
            batch.flag(identification, "TINUnknownIndicator", True)
        for numbers, code in ((person.accounts_in, CTR_ACCOUNT_CASH_IN), (person.accounts_out, CTR_ACCOUNT_CASH_OUT)):
            for number in numbers:
                account = batch.section(party, "Account")
                batch.add(account, "AccountNumberText", clean(number))
                held = batch.section(account, "PartyAccountAssociation")
                batch.add(held, "PartyAccountAssociationTypeCode", code)

    cash = batch.section(report, "CurrencyTransactionActivity")
    batch.add(cash, "AggregateTransactionIndicator", "Y" if activity.aggregated else "")
    for indicator in (
        "ArmoredCarServiceIndicator",
        "ATMIndicator",
        "MailDepositShipmentIndicator",
        "NightDepositIndicator",
        "SharedBranchingIndicator",
    ):
        batch.add(cash, indicator, "")
    batch.add(cash, "TotalCashInReceiveAmountText", str(total_in) if total_in else "")
    batch.add(cash, "TotalCashOutAmountText", str(total_out) if total_out else "")
    batch.add(cash, "TransactionDateText", yyyymmdd(activity.transaction_date))
    for item, amount in (*lines_in, *lines_out):
        detail = batch.section(cash, "CurrencyTransactionActivityDetail")
        batch.add(detail, "CurrencyTransactionActivityDetailTypeCode", item.code)
        batch.add(detail, "DetailTransactionAmountText", str(amount))
        batch.add(detail, "OtherCurrencyTransactionActivityDetailText", clean(item.other_text))
        batch.add(detail, "OtherForeignCurrencyCountryText", "")

    return batch.finish(activity_count=1, party_count=5 + len(persons), total_amount=total_in + total_out)
