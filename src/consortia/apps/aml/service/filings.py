"""The bank's filings, built off the ledger: a case's SAR and an account's CTR, from what the ledger holds.

The builders (:mod:`..domain.filings`) are pure and validate against FinCEN's XSDs before returning; this module
gathers their inputs for one caller's :class:`~.aml.AmlService`: the filing bank (:data:`FILER`), the subjects
(each exchange whose accounts a case names, from its due-diligence record: legal name, EIN, the accounts; its
address from the bank's customer file, :data:`ADDRESSES`), and the transactions behind the case's alerts, or an
account's cash on one New York business day. The XML is never built in the contract; the contract only checks
that the bytes it is given hash to the hash it records.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from consortia.apps.aml.consortium import BLUE_RIVER, SUMMIT
from consortia.apps.aml.domain.cases import bank_date
from consortia.apps.aml.domain.filings import (
    CTR_THRESHOLD,
    Address,
    CtrPerson,
    Filer,
    FilingError,
    Subject,
    Transmitter,
    activity_from,
    build_ctr,
    build_sar,
    currency_activity,
    draft_narrative,
    filing_hash,
)
from consortia.apps.aml.domain.transactions import CASH_DEPOSIT, CASH_WITHDRAWAL, Transaction

if TYPE_CHECKING:
    from consortia.apps.aml.service.aml import AmlService, CaseView, SarPreview

BANK_ADDRESS = Address("200 Liberty Street", "New York", "NY", "10281")
FILER = Filer(
    name="Atlantic Commerce Bank, N.A.",
    ein="13-4994650",
    address=BANK_ADDRESS,
    contact_office="BSA/AML Compliance Office",
    contact_phone="212-555-0142",
    transmitter=Transmitter(
        "Atlantic Commerce Bank, N.A.", BANK_ADDRESS, "212-555-0100", "13-4994650", "TBSATEST", "Morgan Ellis"
    ),
)
"""The filing bank and its transmitter (``TBSATEST``: FinCEN's test system's Transmitter Control Code)."""

ADDRESSES = {
    BLUE_RIVER: Address("410 North Michigan Avenue", "Chicago", "IL", "60611"),
    SUMMIT: Address("1200 Smith Street", "Houston", "TX", "77002"),
}
"""The exchanges' registered addresses, from the bank's customer file."""


def digest(xml: bytes) -> str:
    """The SHA-256 the ledger records for a filing's exact bytes."""
    return filing_hash(xml)


def _transactions(service: AmlService) -> dict[str, Transaction]:
    out: dict[str, Transaction] = {}
    for account in service.accounts():
        for view in account.transactions:
            out.setdefault(view.tx_id, view.transaction())
    return out


def subjects_of(service: AmlService, accounts: tuple[str, ...]) -> tuple[Subject, ...]:
    """One subject per exchange whose accounts are among ``accounts``, from its due-diligence record."""
    owners = {a.account: a.exchange for a in service.accounts(transactions=False)}
    by_exchange: dict[str, list[str]] = defaultdict(list)
    for account in accounts:
        if account in owners:
            by_exchange[owners[account]].append(account)
    subjects = []
    for exchange, mine in sorted(by_exchange.items()):
        record = service.onboarding(exchange).record
        if record is None:
            continue
        subjects.append(
            Subject(
                record.legal_name,
                tin=record.ein,
                address=ADDRESSES.get(exchange),
                accounts=tuple(sorted(mine)),
            )
        )
    return tuple(subjects)


def build_sar_for(service: AmlService, view: CaseView, narrative: str, filed_on: date) -> bytes:
    """The validated SAR batch of a case (raises :class:`FilingError` naming the element)."""
    subjects = subjects_of(service, view.case.accounts)
    activity = activity_from(view.case, subjects, _transactions(service).values(), filed_on, narrative)
    return build_sar(view.case, FILER, subjects, activity)


def preview(service: AmlService, view: CaseView, narrative: str, filed_on: date) -> SarPreview:
    """The SAR a case would file, or the error naming the element."""
    from consortia.apps.aml.service.aml import SarPreview

    subjects = subjects_of(service, view.case.accounts)
    transactions = _transactions(service).values()
    text = narrative or draft_narrative(view.case, subjects, transactions)
    try:
        activity = activity_from(view.case, subjects, transactions, filed_on, text)
        xml = build_sar(view.case, FILER, subjects, activity)
    except FilingError as exc:
        return SarPreview(view.case_id, None, "", text, str(exc), exc.element)
    return SarPreview(view.case_id, xml, digest(xml), text, "", "")


def _cash_on(service: AmlService, account: str, day: date) -> list[Transaction]:
    view = service.account(account)
    return [
        t.transaction()
        for t in view.transactions
        if t.tx_type in (CASH_DEPOSIT, CASH_WITHDRAWAL)
        and account in (t.orig_account, t.bene_account)
        and bank_date(t.timestamp) == day
    ]


def build_ctr_for(service: AmlService, account: str, day: date, filed_on: date) -> bytes:
    """The validated CTR of one account's cash on one New York date (raises :class:`FilingError` when no CTR is
    due or the report is invalid)."""
    cash = _cash_on(service, account, day)
    activity = currency_activity(cash, day, filed_on)
    cash_in = sum((item.amount for item in activity.cash_in), Decimal(0))
    cash_out = sum((item.amount for item in activity.cash_out), Decimal(0))
    subjects = subjects_of(service, (account,))
    persons = tuple(
        CtrPerson(
            s,
            cash_in=cash_in,
            cash_out=cash_out,
            accounts_in=(account,) if cash_in else (),
            accounts_out=(account,) if cash_out else (),
        )
        for s in subjects
    )
    return build_ctr(FILER, persons, activity)


def ctr_candidates(service: AmlService) -> list[tuple[str, date]]:
    """(account, New York date) of every day an account's cash in or out exceeds $10,000, in order."""
    totals: dict[tuple[str, date, str], Decimal] = defaultdict(Decimal)
    for account in service.accounts():
        for t in account.transactions:
            if t.tx_type == CASH_DEPOSIT and t.bene_account == account.account:
                totals[(account.account, bank_date(t.timestamp), "in")] += t.amount
            elif t.tx_type == CASH_WITHDRAWAL and t.orig_account == account.account:
                totals[(account.account, bank_date(t.timestamp), "out")] += t.amount
    due = {(a, d) for (a, d, _), total in totals.items() if total > CTR_THRESHOLD}
    return sorted(due, key=lambda item: (item[1], item[0]))
