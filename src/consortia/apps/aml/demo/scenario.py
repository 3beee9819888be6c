"""The AML demo scenario as data: two exchanges' due diligence, a month of account activity, the cases' story.

* **Due diligence.** Both exchanges are registered MSBs (FinCEN BSA IDs beginning 31000), hold money-transmitter
  licences in every state they serve (Montana needs none), declare their beneficial owners with one control person,
  are rated high (a virtual-currency exchange) and had their enhanced-due-diligence review a month ago.
* **Activity.** :func:`activity` draws a month of account activity from the labelled generator
  (:mod:`..domain.generator`, seed :data:`SEED`): ordinary traffic plus planted *structuring* (cash deposits just
  under $10,000) and *layering* (stacks of intermediaries, scatter-gather and gather-scatter). The generator's
  customers become the exchanges' customer sub-accounts at the bank (for-benefit-of accounts): even-numbered ones
  Blue River's, odd-numbered ones Summit's. The dates are moved so the month ends yesterday (New York).
* **Refused transactions.** A euro wire and a wire from a Canadian originator, each refused by the account policy
  and recorded for the analyst's queue.
* **Cases.** The structuring alert becomes a case decided SAR and filed; another alert becomes a case closed
  without a SAR, with the reasons; the first business day whose cash exceeds $10,000 gets its CTR.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import polars as pl

from consortia.apps.aml.consortium import BLUE_RIVER, DISPLAY, SUMMIT, ZONE
from consortia.apps.aml.domain.generator import GeneratorConfig, generate
from consortia.apps.aml.domain.monitoring.frame import transactions_of
from consortia.apps.aml.domain.onboarding import (
    BeneficialOwner,
    Document,
    EddReview,
    ExchangeRecord,
    RiskFactor,
    RiskRating,
    StateLicence,
)
from consortia.apps.aml.domain.transactions import Transaction

SEED = 3
"""The generator's seed for the demo month (not a seed the rules were tuned on)."""
PEOPLE = 150
DAYS = 35
WARMUP_DAYS = 5
KEPT_TYPOLOGIES = ("structuring", "stack", "scatter_gather", "gather_scatter")
"""Planted patterns kept in the demo: structuring and layering through intermediaries."""
PREFIX = {BLUE_RIVER: "BRX", SUMMIT: "SMT"}
ZONE_INFO = ZoneInfo(ZONE)


def records(today: date) -> tuple[ExchangeRecord, ...]:
    """The two exchanges' due-diligence records, reviewed a month before ``today``."""
    reviewed = today - timedelta(days=30)
    return (
        ExchangeRecord(
            exchange_id=BLUE_RIVER,
            legal_name=DISPLAY[BLUE_RIVER],
            ein="36-4187290",
            msb_registration="31000187654321",
            states_served=("IL", "NY", "MT", "WI"),
            licences=(
                StateLicence("IL", "MT.0000412", date(2022, 3, 1)),
                StateLicence("NY", "BL-102144", date(2023, 6, 15), date(2027, 6, 14)),
                StateLicence("WI", "WI-MT-4410", date(2022, 9, 1), date(2027, 8, 31)),
            ),
            owners=(
                BeneficialOwner("Dana Whitfield", Decimal("40.00"), control=True),
                BeneficialOwner("Marco Ruiz", Decimal("25.00")),
                BeneficialOwner("Seed Ventures Fund II (no individual ≥ 25 %)", Decimal("20.00")),
            ),
            risk_factors=(
                RiskFactor("business", RiskRating.HIGH, "convertible virtual currency exchange (FIN-2019-G001)"),
                RiskFactor("geography", RiskRating.MEDIUM, "US customers only, four states"),
            ),
            reviews=(
                EddReview(reviewed, "AtlanticBank/analyst", RiskRating.HIGH, "site visit; AML programme reviewed"),
            ),
            documents=(
                Document("msb_registration", "FinCEN MSB search 31000187654321", "a3" * 32),
                Document("aml_programme", "BRX AML Policy v7 (2026)", "b4" * 32),
            ),
        ),
        ExchangeRecord(
            exchange_id=SUMMIT,
            legal_name=DISPLAY[SUMMIT],
            ein="76-0598712",
            msb_registration="31000198765432",
            states_served=("TX", "NY"),
            licences=(
                StateLicence("TX", "TX-MT-3349", date(2021, 11, 1)),
                StateLicence("NY", "BL-102377", date(2024, 2, 1), date(2028, 1, 31)),
            ),
            owners=(
                BeneficialOwner("Priya Natarajan", Decimal("55.00"), control=True),
                BeneficialOwner("Owen Castillo", Decimal("30.00")),
            ),
            risk_factors=(
                RiskFactor("business", RiskRating.HIGH, "convertible virtual currency exchange (FIN-2019-G001)"),
            ),
            reviews=(EddReview(reviewed, "AtlanticBank/analyst", RiskRating.HIGH, "annual EDD; no adverse media"),),
            documents=(Document("msb_registration", "FinCEN MSB search 31000198765432", "c5" * 32),),
        ),
    )


@dataclass(frozen=True)
class Activity:
    """The demo month: the accounts per exchange and the transactions in time order."""

    accounts: dict[str, tuple[str, ...]]
    transactions: tuple[Transaction, ...]


def account_of(customer: str) -> str:
    """The bank account of a generator customer (``ACC000012`` → ``BRX-ACC000012``); ``CASH`` stays."""
    if not customer.startswith("ACC"):
        return customer
    exchange = BLUE_RIVER if int(customer[3:]) % 2 == 0 else SUMMIT
    return f"{PREFIX[exchange]}-{customer}"


def _ours(account: str) -> bool:
    return any(account.startswith(prefix + "-") for prefix in PREFIX.values())


def activity(today: date) -> Activity:
    """A month of activity ending the day before ``today`` with planted structuring and layering."""
    start = today - timedelta(days=DAYS + 1)
    config = GeneratorConfig(seed=SEED, people=PEOPLE, days=DAYS, start=start, warmup_days=WARMUP_DAYS,
                             patterns_per_typology=2)  # fmt: skip
    frame = generate(config).frame
    frame = frame.filter(pl.col("typology").is_null() | pl.col("typology").is_in(KEPT_TYPOLOGIES))
    frame = frame.with_columns(
        pl.col("orig_account").map_elements(account_of, return_dtype=pl.String),
        pl.col("bene_account").map_elements(account_of, return_dtype=pl.String),
    )
    end = datetime(today.year, today.month, today.day, tzinfo=UTC)
    # Only what touches an account at the bank: payments between outsiders are another bank's to see.
    txs = tuple(
        tx
        for tx in transactions_of(frame)
        if tx.timestamp < end and any(_ours(a) for a in (tx.orig_account, tx.bene_account))
    )
    accounts: dict[str, set[str]] = {BLUE_RIVER: set(), SUMMIT: set()}
    for tx in txs:
        for account in (tx.orig_account, tx.bene_account):
            for exchange, prefix in PREFIX.items():
                if account.startswith(prefix + "-"):
                    accounts[exchange].add(account)
    return Activity({k: tuple(sorted(v)) for k, v in accounts.items()}, txs)


def refused(today: date) -> tuple[Transaction, ...]:
    """Two transactions the account policy refuses: a euro wire, and a wire from a Canadian originator."""
    at = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(hours=20)
    return (
        Transaction("DEMO-EUR-1", at, "BRX-ACC000002", "EXT-DE-4471", Decimal("25000.00"), "EUR", "wire", "US", "DE"),
        Transaction("DEMO-CA-1", at + timedelta(minutes=7), "EXT-CA-0931", "SMT-ACC000003", Decimal("8800.00"), "USD",
                    "wire", "CA", "US"),
    )  # fmt: skip


SAR_REASONS = (
    "cash deposits kept just under $10,000 on consecutive business days with no business reason",
    "the pattern continued after the customer was asked about the source of the cash",
)
NO_SAR_REASONS = (
    "the counterparties are the exchange's payroll and settlement accounts, documented in the onboarding file",
    "amounts and timing match the exchange's declared settlement schedule",
)
