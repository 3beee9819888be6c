"""The JSON form of a trade document as it travels to the contract (transient data) and rests in a bank's collection.

A :class:`~consortia.apps.tradefinance.domain.documents.TradeDocument` holds typed values (a ``date``, a
``Decimal``, :class:`TraderId` s); the wire form spells each one canonically (ISO date, plain decimal digits,
``kind`` and ``value`` of each identifier), so the contract rebuilds exactly the document the bank parsed and every
endorsing peer computes the same fingerprints.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from consortia.apps.tradefinance.domain.documents import DocType, TradeDocument
from consortia.apps.tradefinance.domain.identifiers import TraderId

FIELDS = (
    "doc_type",
    "doc_number",
    "seller_id",
    "seller_name",
    "buyer_id",
    "buyer_name",
    "issue_date",
    "amount",
    "currency",
    "bl_number",
    "vessel",
    "port_of_loading",
)
TRADER_KINDS = ("USCC", "HKBR", "MOCR")


class CodecError(ValueError):
    """A document's JSON form that cannot be read: which field, what was expected, what was found."""

    def __init__(self, field: str, expected: str, found: Any) -> None:
        super().__init__(f"document field {field}: expected {expected}, found {found!r}")
        self.field = field
        self.expected = expected
        self.found = found


def _plain(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


def document_to_json(document: TradeDocument) -> dict[str, Any]:
    """The canonical JSON form of a parsed document."""
    return {
        "doc_type": str(document.doc_type),
        "doc_number": document.doc_number,
        "seller_id": {"kind": document.seller_id.kind, "value": document.seller_id.value},
        "seller_name": document.seller_name,
        "buyer_id": {"kind": document.buyer_id.kind, "value": document.buyer_id.value},
        "buyer_name": document.buyer_name,
        "issue_date": document.issue_date.isoformat(),
        "amount": _plain(document.amount),
        "currency": document.currency,
        "bl_number": document.bl_number,
        "vessel": document.vessel,
        "port_of_loading": document.port_of_loading,
    }


def _text(value: dict[str, Any], name: str, *, optional: bool = False) -> str | None:
    found = value.get(name)
    if found is None and optional:
        return None
    if not isinstance(found, str) or not found or len(found) > 256:
        raise CodecError(name, "a text of 1–256 characters", found)
    return found


def _trader(value: dict[str, Any], name: str) -> TraderId:
    found = value.get(name)
    if (
        not isinstance(found, dict)
        or found.get("kind") not in TRADER_KINDS
        or not isinstance(found.get("value"), str)
        or not 1 <= len(found["value"]) <= 32
    ):
        raise CodecError(name, "{kind: USCC|HKBR|MOCR, value}", found)
    return TraderId(found["kind"], found["value"])


def document_from_json(value: Any) -> TradeDocument:
    """Rebuild a document from its JSON form (CodecError naming the field when it is not one)."""
    if not isinstance(value, dict):
        raise CodecError("document", "an object", value)
    unknown = sorted(set(value) - set(FIELDS))
    if unknown:
        raise CodecError(unknown[0], f"only the fields {', '.join(FIELDS)}", value[unknown[0]])
    try:
        doc_type = DocType(value.get("doc_type"))
    except ValueError:
        raise CodecError("doc_type", " | ".join(str(t) for t in DocType), value.get("doc_type")) from None
    try:
        issue = date.fromisoformat(str(value.get("issue_date")))
    except ValueError:
        raise CodecError("issue_date", "an ISO date", value.get("issue_date")) from None
    raw_amount = value.get("amount")
    try:
        amount = Decimal(raw_amount) if isinstance(raw_amount, str) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        raise CodecError("amount", "a positive decimal as text", raw_amount)
    currency = _text(value, "currency")
    if currency is None or len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise CodecError("currency", "an ISO 4217 code", value.get("currency"))
    return TradeDocument(
        doc_type=doc_type,
        doc_number=_text(value, "doc_number") or "",
        seller_id=_trader(value, "seller_id"),
        seller_name=_text(value, "seller_name") or "",
        buyer_id=_trader(value, "buyer_id"),
        buyer_name=_text(value, "buyer_name") or "",
        issue_date=issue,
        amount=amount,
        currency=currency,
        bl_number=_text(value, "bl_number", optional=True),
        vessel=_text(value, "vessel", optional=True),
        port_of_loading=_text(value, "port_of_loading", optional=True),
    )
