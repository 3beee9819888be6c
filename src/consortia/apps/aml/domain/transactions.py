"""The shared vocabulary of monitoring: a transaction, a rule hit, and an alert built from rule hits.

A bank's monitoring system sees *transactions* — money moving from an originator's account to a beneficiary's
account, by some instrument (cash over the counter, a wire, an ACH entry, a book transfer, a cheque). Rules look
at transactions one at a time or in windows and report *rule hits*: "this account made five cash deposits just
under $10,000 in two business days" (31 USC 5324, structuring). A *typology* is a pattern of money laundering
(structuring, fan-in, a cycle, layering through intermediaries …); it combines rule hits with weights and a
threshold, as Tazama's typology processor does, and when the weighted score reaches the threshold it raises an
*alert*. Every alert carries the hits behind it and the ids of the transactions behind those hits, so an analyst
can see why it fired, and the SAR builder can cite them.

These types are shared by the monitoring engine, the case workflow and the filings; they hold no behaviour but
their own validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

CASH_DEPOSIT = "cash_deposit"
CASH_WITHDRAWAL = "cash_withdrawal"
WIRE = "wire"
ACH = "ach"
TRANSFER = "transfer"
CHECK = "check"

TX_TYPES = frozenset({CASH_DEPOSIT, CASH_WITHDRAWAL, WIRE, ACH, TRANSFER, CHECK})
"""The instruments the monitoring engine knows; anything else is accepted and treated as a non-cash transfer."""

CASH_TYPES = frozenset({CASH_DEPOSIT, CASH_WITHDRAWAL})
"""Currency (cash) transactions: what 31 CFR 1010.311 counts towards a CTR and 31 USC 5324 protects."""

CASH_ACCOUNT = "CASH"
"""The counterparty of a cash transaction: the teller's drawer. A cash deposit is ``CASH → account``; a cash
withdrawal is ``account → CASH``. It is never a person, so no rule counts it as a counterparty."""


@dataclass(frozen=True)
class Transaction:
    """One movement of money from ``orig_account`` to ``bene_account`` at an aware UTC instant."""

    tx_id: str
    timestamp: datetime
    """Aware, in UTC."""
    orig_account: str
    bene_account: str
    amount: Decimal
    """Positive, in ``currency`` (the bank's accounts are USD only)."""
    currency: str
    """ISO 4217, e.g. ``USD``."""
    tx_type: str
    """One of :data:`TX_TYPES` (``cash_deposit``, ``cash_withdrawal``, ``wire``, ``ach``, ``transfer``, ``check``)."""
    orig_country: str
    """ISO 3166-1 alpha-2 of the originator, e.g. ``US``."""
    bene_country: str
    """ISO 3166-1 alpha-2 of the beneficiary."""

    def __post_init__(self) -> None:
        if not self.tx_id:
            raise ValueError("a transaction needs a tx_id, found an empty string")
        if self.timestamp.tzinfo is None or self.timestamp.utcoffset() != timedelta(0):
            raise ValueError(
                f"transaction {self.tx_id}: timestamp must be aware and in UTC, found {self.timestamp.isoformat()}"
            )
        if not isinstance(self.amount, Decimal):
            raise ValueError(f"transaction {self.tx_id}: amount must be a Decimal, found {type(self.amount).__name__}")
        if not self.amount.is_finite() or self.amount <= 0:
            raise ValueError(f"transaction {self.tx_id}: amount must be a positive number, found {self.amount}")

    @property
    def is_cash(self) -> bool:
        """Whether this is a currency transaction (cash in or out over the counter)."""
        return self.tx_type in CASH_TYPES

    @property
    def person(self) -> str:
        """The bank's customer a cash transaction is made for: the depositor's account or the withdrawer's."""
        return self.bene_account if self.tx_type == CASH_DEPOSIT else self.orig_account


@dataclass(frozen=True)
class RuleHit:
    """One rule that fired, with its weight in the typology and a sentence saying what it saw."""

    rule: str
    weight: float
    detail: str


@dataclass(frozen=True)
class Alert:
    """A typology whose weighted rule hits reached its threshold, with the accounts and transactions behind it."""

    alert_id: str
    typology: str
    accounts: tuple[str, ...]
    tx_ids: tuple[str, ...]
    score: float
    rule_hits: tuple[RuleHit, ...]
    detected_at: datetime
    """When the engine detected it: the instant of the last transaction it saw (the domain has no clock)."""
