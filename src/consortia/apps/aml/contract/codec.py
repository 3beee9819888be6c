"""JSON shapes of what the contract stores: transactions, alerts and due-diligence records.

The contract and the service exchange domain values (:mod:`..domain`) as plain JSON — transient data going in,
private-collection records coming out. Each ``*_from_json`` checks the shape and raises :class:`CodecError`
naming the field, what was expected and what was found, so a malformed request is refused before anything is
written. Amounts travel as decimal text (never floats); instants as ISO 8601 with their offset.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from consortia.apps.aml.domain.cases import _alert_from, _alert_record
from consortia.apps.aml.domain.onboarding import (
    BeneficialOwner,
    Document,
    EddReview,
    ExchangeRecord,
    OnboardingError,
    RiskFactor,
    RiskRating,
    StateLicence,
)
from consortia.apps.aml.domain.transactions import Alert, Transaction

MAX_TEXT = 200


class CodecError(ValueError):
    """A JSON value that is not the shape expected: which field, what was expected, what was found."""

    def __init__(self, field: str, expected: str, found: Any) -> None:
        shown = repr(found)
        super().__init__(f"{field}: expected {expected}, found {shown[:80]}")
        self.field = field
        self.expected = expected
        self.found = shown[:80]


def _text(value: Any, field: str, max_len: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise CodecError(field, f"non-empty text of at most {max_len} characters", value)
    return value


def _mapping(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CodecError(field, "an object", value)
    return value


# -- transactions ------------------------------------------------------------------------------------------------


def transaction_to_json(tx: Transaction) -> dict[str, Any]:
    """A transaction as JSON (amount as decimal text, the instant as ISO 8601 UTC)."""
    return {
        "tx_id": tx.tx_id,
        "timestamp": tx.timestamp.isoformat(),
        "orig_account": tx.orig_account,
        "bene_account": tx.bene_account,
        "amount": format(tx.amount, "f"),
        "currency": tx.currency,
        "tx_type": tx.tx_type,
        "orig_country": tx.orig_country,
        "bene_country": tx.bene_country,
    }


def transaction_from_json(value: Any) -> Transaction:
    """A transaction from its JSON; raises :class:`CodecError` naming the bad field."""
    data = _mapping(value, "transaction")
    tx_id = _text(data.get("tx_id"), "transaction.tx_id", 64)
    where = f"transaction {tx_id}"
    try:
        moment = datetime.fromisoformat(_text(data.get("timestamp"), f"{where}.timestamp", 40))
    except ValueError:
        raise CodecError(f"{where}.timestamp", "an ISO 8601 instant with its offset", data.get("timestamp")) from None
    if moment.tzinfo is None:
        raise CodecError(f"{where}.timestamp", "an ISO 8601 instant with its offset", data.get("timestamp"))
    raw_amount = data.get("amount")
    try:
        amount = Decimal(_text(raw_amount, f"{where}.amount", 24))
    except InvalidOperation:
        raise CodecError(f"{where}.amount", "a positive decimal amount as text, e.g. 9500.00", raw_amount) from None
    if not amount.is_finite() or amount <= 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise CodecError(f"{where}.amount", "a positive amount in whole cents, e.g. 9500.00", raw_amount)
    try:
        return Transaction(
            tx_id=tx_id,
            timestamp=moment.astimezone(UTC),
            orig_account=_text(data.get("orig_account"), f"{where}.orig_account", 64),
            bene_account=_text(data.get("bene_account"), f"{where}.bene_account", 64),
            amount=amount,
            currency=_text(data.get("currency"), f"{where}.currency", 12),
            tx_type=_text(data.get("tx_type"), f"{where}.tx_type", 32),
            orig_country=_text(data.get("orig_country"), f"{where}.orig_country", 8),
            bene_country=_text(data.get("bene_country"), f"{where}.bene_country", 8),
        )
    except ValueError as exc:
        if isinstance(exc, CodecError):
            raise
        raise CodecError(where, "a valid transaction", str(exc)) from None


# -- alerts ------------------------------------------------------------------------------------------------------


def alert_to_json(alert: Alert) -> dict[str, Any]:
    """An alert as JSON (the same shape a case's ``open`` record holds)."""
    return _alert_record(alert)


def alert_from_json(value: Any) -> Alert:
    """An alert from its JSON; raises :class:`CodecError` naming the problem."""
    data = _mapping(value, "alert")
    try:
        alert = _alert_from(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise CodecError(
            "alert", "alert_id, typology, accounts, tx_ids, score, rule_hits, detected_at", str(exc)
        ) from None
    _text(alert.alert_id, "alert.alert_id", 64)
    if not alert.accounts or alert.detected_at.tzinfo is None:
        raise CodecError(f"alert {alert.alert_id}", "accounts and an aware detected_at", data.get("detected_at"))
    return alert


# -- due-diligence records ---------------------------------------------------------------------------------------


def record_to_json(record: ExchangeRecord) -> dict[str, Any]:
    """An exchange's due-diligence record as JSON."""
    return {
        "exchange_id": record.exchange_id,
        "legal_name": record.legal_name,
        "ein": record.ein,
        "msb_registration": record.msb_registration,
        "states_served": list(record.states_served),
        "licences": [
            {
                "state": lic.state,
                "number": lic.number,
                "issued": lic.issued.isoformat(),
                "expires": lic.expires.isoformat() if lic.expires else None,
            }
            for lic in record.licences
        ],
        "owners": [{"name": o.name, "ownership": str(o.ownership), "control": o.control} for o in record.owners],
        "risk_factors": [
            {"name": f.name, "level": RiskRating(f.level).value, "reason": f.reason} for f in record.risk_factors
        ],
        "reviews": [
            {"on": r.on.isoformat(), "reviewer": r.reviewer, "rating": RiskRating(r.rating).value, "summary": r.summary}
            for r in record.reviews
        ],
        "documents": [{"kind": d.kind, "reference": d.reference, "sha256": d.sha256} for d in record.documents],
    }


def _date(value: Any, field: str) -> date:
    try:
        return date.fromisoformat(_text(value, field, 10))
    except ValueError:
        raise CodecError(field, "a date YYYY-MM-DD", value) from None


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise CodecError(field, "a list", value)
    return value


def record_from_json(value: Any) -> ExchangeRecord:
    """A due-diligence record from its JSON, validated (EIN, MSB number, states, owners …)."""
    data = _mapping(value, "record")
    try:
        licences = tuple(
            StateLicence(
                state=_text(item.get("state"), "licence.state", 4),
                number=_text(item.get("number"), "licence.number", 64),
                issued=_date(item.get("issued"), "licence.issued"),
                expires=_date(item["expires"], "licence.expires") if item.get("expires") else None,
            )
            for item in (_mapping(x, "licence") for x in _list(data.get("licences"), "licences"))
        )
        owners = []
        for item in (_mapping(x, "owner") for x in _list(data.get("owners"), "owners")):
            try:
                share = Decimal(str(item.get("ownership")))
            except InvalidOperation:
                raise CodecError("owner.ownership", "a percentage as text, e.g. 25.00", item.get("ownership")) from None
            owners.append(BeneficialOwner(_text(item.get("name"), "owner.name"), share, bool(item.get("control"))))
        factors = tuple(
            RiskFactor(
                _text(item.get("name"), "risk_factor.name"), RiskRating(item.get("level")), str(item.get("reason", ""))
            )
            for item in (_mapping(x, "risk_factor") for x in _list(data.get("risk_factors"), "risk_factors"))
        )
        reviews = tuple(
            EddReview(
                _date(item.get("on"), "review.on"),
                _text(item.get("reviewer"), "review.reviewer"),
                RiskRating(item.get("rating")),
                str(item.get("summary", ""))[:2000],
            )
            for item in (_mapping(x, "review") for x in _list(data.get("reviews", []), "reviews"))
        )
        documents = tuple(
            Document(_text(item.get("kind"), "document.kind"), _text(item.get("reference"), "document.reference"),
                     _text(item.get("sha256"), "document.sha256", 64))
            for item in (_mapping(x, "document") for x in _list(data.get("documents", []), "documents"))
        )  # fmt: skip
        return ExchangeRecord(
            exchange_id=_text(data.get("exchange_id"), "exchange_id", 64),
            legal_name=_text(data.get("legal_name"), "legal_name"),
            ein=_text(data.get("ein"), "ein", 16),
            msb_registration=_text(data.get("msb_registration"), "msb_registration", 24),
            states_served=tuple(
                _text(s, "states_served", 4) for s in _list(data.get("states_served"), "states_served")
            ),
            licences=licences,
            owners=tuple(owners),
            risk_factors=factors,
            reviews=reviews,
            documents=documents,
        )
    except OnboardingError as exc:
        raise CodecError(exc.field, exc.expected, exc.found) from None
    except ValueError as exc:
        if isinstance(exc, CodecError):
            raise
        raise CodecError("record", "a valid due-diligence record", str(exc)) from None
