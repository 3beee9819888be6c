"""The account policy: USD only, US customers only, nothing crypto.

The bank opens cash-management accounts for crypto exchanges on three conditions, agreed after due diligence and
written into the account agreement:

* **USD only** (rule ``usd_only``): every transaction is in US dollars (ISO 4217 ``USD``). A euro wire is
  refused, not converted.
* **US customers only** (rule ``us_only``): both the originator and the beneficiary are in the United States
  (ISO 3166-1 alpha-2 ``US``). The bank's policy names only ``US``; a bank that also serves the territories
  (``PR``, ``GU``, ``VI`` …) passes them in ``allowed_countries``.
* **Nothing crypto** (rule ``no_crypto``): the accounts hold fiat money only; a transaction whose asset is a
  virtual currency or a token — by its instrument (``crypto_transfer``, ``stablecoin`` …) or by its
  "currency" (``BTC``, ``USDT`` …, codes outside ISO 4217 that exchanges use) — is refused as crypto, which is
  a more useful reason to an analyst than "not USD".

Each check is a pure function that returns a :class:`Violation` — the rule, a sentence saying why, what was
expected and what was found — or ``None``. The contract rejects a transaction with a violation and records it,
and the violation appears in the analyst's queue (issue 13, item 2); the same functions run in the contract and
in the monitoring service, so both agree on what is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from .transactions import Transaction

USD_ONLY = "usd_only"
US_ONLY = "us_only"
NO_CRYPTO = "no_crypto"
RULES = (USD_ONLY, US_ONLY, NO_CRYPTO)

USD = "USD"
US = "US"

CRYPTO_ASSET_TYPES = frozenset(
    {
        "crypto",
        "crypto_transfer",
        "crypto_deposit",
        "crypto_withdrawal",
        "cryptocurrency",
        "virtual_currency",
        "convertible_virtual_currency",
        "cvc",
        "digital_asset",
        "stablecoin",
        "token",
        "nft",
    }
)
"""Instruments (``tx_type``) that move a virtual asset rather than dollars."""

CRYPTO_CODES = frozenset(
    {
        "BTC",
        "XBT",
        "ETH",
        "USDT",
        "USDC",
        "DAI",
        "BUSD",
        "PYUSD",
        "XRP",
        "SOL",
        "ADA",
        "DOGE",
        "LTC",
        "BCH",
        "XMR",
        "ZEC",
        "DOT",
        "TRX",
        "BNB",
        "AVAX",
        "MATIC",
        "LINK",
        "XLM",
        "GUSD",
    }
)
"""Tickers exchanges put where a currency code goes; none is an ISO 4217 code (XBT is a proposed ISO-style
code, never adopted). Any non-USD code is refused anyway; these are refused with the crypto reason."""


@dataclass(frozen=True)
class Violation:
    """A refused transaction: which rule, why in a sentence, what the rule expected and what it found."""

    rule: str
    reason: str
    expected: str
    found: str


def _code(value: str) -> str:
    return value.strip().upper()


def check_currency(currency: str) -> Violation | None:
    """``usd_only`` (or ``no_crypto`` for a crypto ticker): the transaction's currency must be USD."""
    code = _code(currency)
    if code == USD:
        return None
    if code in CRYPTO_CODES:
        return Violation(
            NO_CRYPTO,
            f"{code} is a virtual currency; the account holds US dollars only and takes no crypto assets",
            USD,
            currency,
        )
    if not code:
        return Violation(USD_ONLY, "the transaction names no currency; the account is USD only", USD, currency)
    return Violation(USD_ONLY, f"the account is USD only and this transaction is in {code}", USD, currency)


def check_country(country: str, party: str, allowed_countries: frozenset[str] = frozenset({US})) -> Violation | None:
    """``us_only``: a party's country (ISO 3166-1 alpha-2) must be the United States."""
    code = _code(country)
    if code in allowed_countries:
        return None
    expected = " or ".join(sorted(allowed_countries))
    if len(code) != 2 or not code.isalpha():
        reason = f"the {party}'s country {country!r} is not an ISO 3166-1 alpha-2 code; US customers only"
    else:
        reason = f"the {party} is in {code}; the account serves US customers only"
    return Violation(US_ONLY, reason, expected, country)


def check_asset(tx_type: str) -> Violation | None:
    """``no_crypto``: the instrument must move dollars, not a virtual asset."""
    kind = tx_type.strip().lower()
    if kind in CRYPTO_ASSET_TYPES:
        return Violation(
            NO_CRYPTO,
            f"a {kind} transaction moves a virtual asset; the account takes no crypto assets",
            "a fiat instrument (cash, wire, ACH, transfer, check)",
            tx_type,
        )
    return None


def violations(tx: Transaction, allowed_countries: frozenset[str] = frozenset({US})) -> tuple[Violation, ...]:
    """Every policy violation of ``tx``, crypto first, then currency, then the originator's and beneficiary's
    countries (empty when the transaction is allowed)."""
    found: list[Violation] = []
    asset = check_asset(tx.tx_type)
    if asset:
        found.append(asset)
    currency = check_currency(tx.currency)
    if currency and not (asset and currency.rule == NO_CRYPTO):
        found.append(currency)
    for country, party in ((tx.orig_country, "originator"), (tx.bene_country, "beneficiary")):
        violation = check_country(country, party, allowed_countries)
        if violation:
            found.append(violation)
    return tuple(found)


def first_violation(tx: Transaction, allowed_countries: frozenset[str] = frozenset({US})) -> Violation | None:
    """The violation the contract reports when it refuses ``tx`` (the first of :func:`violations`), or None."""
    found = violations(tx, allowed_countries)
    return found[0] if found else None
