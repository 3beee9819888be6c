"""The account policy: USD only, US customers only, nothing crypto — each refusal with its reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from consortia.apps.aml.domain.policy import (
    NO_CRYPTO,
    US_ONLY,
    USD_ONLY,
    Violation,
    check_asset,
    check_country,
    check_currency,
    first_violation,
    violations,
)
from consortia.apps.aml.domain.transactions import Transaction

WIRE = Transaction(
    tx_id="T1",
    timestamp=datetime(2026, 12, 1, 15, 0, tzinfo=UTC),
    orig_account="EXA-1",
    bene_account="C-77",
    amount=Decimal("2500.00"),
    currency="USD",
    tx_type="wire",
    orig_country="US",
    bene_country="US",
)


def test_a_usd_wire_between_us_parties_is_allowed() -> None:
    assert violations(WIRE) == ()
    assert first_violation(WIRE) is None
    assert check_currency("usd") is None  # case is not a violation


def test_non_usd_currency_is_refused_with_expected_and_found() -> None:
    found = first_violation(replace(WIRE, currency="EUR"))
    assert found == Violation(USD_ONLY, "the account is USD only and this transaction is in EUR", "USD", "EUR")


def test_an_empty_currency_is_refused() -> None:
    found = check_currency("")
    assert found is not None and found.rule == USD_ONLY and found.found == ""


def test_non_us_counterparty_is_refused_naming_the_party() -> None:
    found = violations(replace(WIRE, bene_country="MX"))
    assert found == (Violation(US_ONLY, "the beneficiary is in MX; the account serves US customers only", "US", "MX"),)
    both = violations(replace(WIRE, orig_country="GB", bene_country="KY"))
    assert [v.found for v in both] == ["GB", "KY"]
    assert "originator" in both[0].reason and "beneficiary" in both[1].reason


def test_a_malformed_country_code_is_refused_as_such() -> None:
    found = check_country("USA", "originator")
    assert found is not None and found.rule == US_ONLY and "not an ISO 3166-1 alpha-2 code" in found.reason


def test_territories_only_when_the_bank_allows_them() -> None:
    assert check_country("PR", "beneficiary") is not None
    assert check_country("PR", "beneficiary", frozenset({"US", "PR"})) is None


@pytest.mark.parametrize("ticker", ["BTC", "usdt", "ETH", "XBT"])
def test_crypto_currencies_are_refused_as_crypto_not_as_foreign_money(ticker: str) -> None:
    found = first_violation(replace(WIRE, currency=ticker))
    assert found is not None and found.rule == NO_CRYPTO
    assert found.expected == "USD" and found.found == ticker


@pytest.mark.parametrize("kind", ["crypto_transfer", "stablecoin", "virtual_currency", "NFT"])
def test_crypto_instruments_are_refused(kind: str) -> None:
    found = check_asset(kind)
    assert found is not None and found.rule == NO_CRYPTO and found.found == kind


def test_fiat_instruments_pass_the_asset_check() -> None:
    for kind in ("cash_deposit", "cash_withdrawal", "wire", "ach", "transfer", "check"):
        assert check_asset(kind) is None


def test_one_crypto_reason_for_a_crypto_instrument_in_a_crypto_currency() -> None:
    found = violations(replace(WIRE, tx_type="crypto_transfer", currency="BTC", bene_country="SC"))
    assert [v.rule for v in found] == [NO_CRYPTO, US_ONLY]
    assert first_violation(replace(WIRE, tx_type="crypto_transfer", currency="BTC")).found == "crypto_transfer"
