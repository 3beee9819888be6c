"""Trade documents and the registry's statuses.

The ICC's Digital Standards Initiative names the *key trade documents*; four of them are what banks in the
region finance against, and what this registry fingerprints (:class:`DocType`):

* the **commercial invoice** — the seller's claim for payment (what receivables finance lends against);
* the **bill of lading** — the carrier's receipt for goods shipped on a vessel, and the document of title to them
  (a *split* bill of lading is one shipment divided into several bills, each its own document);
* the **customs declaration** — the exporter's or importer's declaration to customs (报关单);
* the **warehouse receipt** — the warehouse keeper's receipt for goods stored, itself pledgeable (仓单).

A :class:`TradeDocument` is one of them read and normalised (see :mod:`.normalise`): its type, its number in
normalised form, seller and buyer by legal identifier (:mod:`.identifiers`) and by name as written (names are
for people; spaces and spelling kept), issue date, exact amount and ISO 4217 currency, and for a bill of lading
the carrier's bill number, the vessel and the port of loading.

Registration answers with the statuses duplicate registries in trade finance use (:class:`DocStatus`):
``REGU`` registered unique, ``REDU`` registered but a duplicate of a document another registration holds,
``DFIN`` a duplicate of a document already financed, ``FNCD`` financed, ``CANC`` cancelled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from .identifiers import TraderId, parse_trader_id
from .normalise import (
    InvalidField,
    nfkc,
    normalise_doc_number,
    normalise_text,
    parse_amount,
    parse_currency,
    parse_date,
)

__all__ = [
    "BL_FIELDS",
    "MAX_FIELD_LENGTH",
    "DocStatus",
    "DocType",
    "DocumentReading",
    "TradeDocument",
    "document_from_fields",
    "read_document",
]


T = TypeVar("T")


def _alias_key(text: str) -> str:
    """What aliases are compared on: NFKC, case-folded, without spaces or separators."""
    return normalise_text(text).replace(" ", "")


class DocType(StrEnum):
    """The kind of a trade document; ``DocType("B/L")``, ``DocType("INV")``, ``DocType("发票")`` read aliases."""

    INVOICE = "invoice"
    BILL_OF_LADING = "bill_of_lading"
    CUSTOMS_DECLARATION = "customs_declaration"
    WAREHOUSE_RECEIPT = "warehouse_receipt"

    @classmethod
    def _missing_(cls, value: object) -> DocType | None:
        if not isinstance(value, str):
            return None
        return _DOC_TYPE_ALIASES.get(_alias_key(value))

    @classmethod
    def parse(cls, text: str, *, field: str = "doc_type") -> DocType:
        """The document type named by ``text`` (a value or an alias), or :class:`InvalidField`."""
        try:
            return cls(text)
        except ValueError:
            expected = "one of " + ", ".join(t.value for t in cls) + " (or an alias: INV, B/L, 发票 …)"
            raise InvalidField(field, expected, text) from None


_DOC_TYPE_ALIASES: dict[str, DocType] = {
    _alias_key(alias): doc_type
    for doc_type, aliases in {
        DocType.INVOICE: (
            "invoice",
            "inv",
            "commercial invoice",
            "ci",
            "发票",
            "發票",
            "商业发票",
            "商業發票",
            "fatura",
            "factura",
        ),
        DocType.BILL_OF_LADING: ("bill_of_lading", "bill of lading", "b/l", "bl", "bol", "提单", "提單", "海运提单"),
        DocType.CUSTOMS_DECLARATION: (
            "customs_declaration",
            "customs declaration",
            "cd",
            "报关单",
            "報關單",
            "海关报关单",
            "declaração aduaneira",
        ),
        DocType.WAREHOUSE_RECEIPT: (
            "warehouse_receipt",
            "warehouse receipt",
            "wr",
            "仓单",
            "倉單",
            "仓储单",
            "recibo de armazém",
        ),
    }.items()
    for alias in aliases
}


class DocStatus(StrEnum):
    """A registration's status, in the duplicate-registry vocabulary of trade finance."""

    REGU = "REGU"
    """Registered, unique: no other registration holds this document."""
    REDU = "REDU"
    """Registered, duplicate: another registration (maybe at another bank) already holds this document."""
    DFIN = "DFIN"
    """Duplicate of a document already financed: financing it again is refused."""
    FNCD = "FNCD"
    """Financed: a financing against this document has been approved."""
    CANC = "CANC"
    """Cancelled: the registration was withdrawn and no longer counts."""

    @property
    def meaning(self) -> str:
        """One line saying what the status means, in English (pages translate by the status code)."""
        return _STATUS_MEANINGS[self]


_STATUS_MEANINGS = {
    DocStatus.REGU: "registered, unique",
    DocStatus.REDU: "registered, duplicate of a document already registered",
    DocStatus.DFIN: "duplicate of a document already financed",
    DocStatus.FNCD: "financed",
    DocStatus.CANC: "cancelled",
}


@dataclass(frozen=True)
class TradeDocument:
    """One trade document, read and normalised: what its fingerprints and similarity are computed on."""

    doc_type: DocType
    doc_number: str
    """Normalised (:func:`.normalise.normalise_doc_number`)."""
    seller_id: TraderId
    seller_name: str
    """As written (for display; never compared)."""
    buyer_id: TraderId
    buyer_name: str
    issue_date: date
    amount: Decimal
    currency: str
    """ISO 4217."""
    bl_number: str | None = None
    """The carrier's bill of lading number, normalised like a document number."""
    vessel: str | None = None
    """As written; compared through :func:`.normalise.normalise_text`."""
    port_of_loading: str | None = None
    """As written; compared through :func:`.normalise.normalise_text`."""


BL_FIELDS = ("bl_number", "vessel", "port_of_loading")
"""The fields a bill of lading must have and other documents may leave empty."""


@dataclass(frozen=True)
class DocumentReading:
    """The outcome of reading one document's fields: the document, or every problem found (never both)."""

    document: TradeDocument | None
    problems: tuple[InvalidField, ...]


MAX_FIELD_LENGTH = 256
"""No field of a trade document is longer (what the contract's wire form accepts, too)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _required(fields: Mapping[str, str], name: str, problems: list[InvalidField], expected: str) -> str | None:
    value = fields.get(name)
    if value is None or not nfkc(value).strip():
        problems.append(InvalidField(name, expected, value or ""))
        return None
    return _sound(name, value, problems)


def _sound(name: str, value: str, problems: list[InvalidField]) -> str | None:
    """The value, unless it is too long or carries control characters (line breaks inside a quoted cell …)."""
    if len(value) > MAX_FIELD_LENGTH:
        problems.append(InvalidField(name, f"at most {MAX_FIELD_LENGTH} characters", value[:40] + "…"))
        return None
    if _CONTROL.search(value):
        problems.append(InvalidField(name, "text without control characters or line breaks", value))
        return None
    return value


def _parsed(
    fields: Mapping[str, str],
    name: str,
    parse: Callable[..., T],
    expected: str,
    problems: list[InvalidField],
) -> T | None:
    """The field read by ``parse`` (which raises :class:`InvalidField`), or None with the problem recorded."""
    raw = _required(fields, name, problems, expected)
    if raw is None:
        return None
    try:
        return parse(raw, field=name)
    except InvalidField as exc:
        problems.append(exc)
        return None


def read_document(fields: Mapping[str, str]) -> DocumentReading:
    """Read a document from its text fields (the CSV columns but ``bank``), collecting every problem."""
    problems: list[InvalidField] = []
    doc_type = _parsed(fields, "doc_type", DocType.parse, "a document type", problems)
    doc_number = _parsed(fields, "doc_number", _parse_number, "a document number", problems)
    seller_id = _parsed(fields, "seller_id", parse_trader_id, "the seller's legal identifier", problems)
    seller_name = _required(fields, "seller_name", problems, "the seller's name")
    buyer_id = _parsed(fields, "buyer_id", parse_trader_id, "the buyer's legal identifier", problems)
    buyer_name = _required(fields, "buyer_name", problems, "the buyer's name")
    issue_date = _parsed(fields, "issue_date", parse_date, "the issue date", problems)
    amount = _parsed(fields, "amount", parse_amount, "the amount", problems)
    currency = _parsed(fields, "currency", parse_currency, "the currency", problems)

    # The bill of lading's own fields: required on a bill of lading, kept as written on other documents.
    extras: dict[str, str | None] = {}
    for name in BL_FIELDS:
        raw = fields.get(name) or ""
        if doc_type is DocType.BILL_OF_LADING:
            extras[name] = _required(fields, name, problems, "a value (required for a bill of lading)")
        else:
            extras[name] = _sound(name, raw, problems) if nfkc(raw).strip() else None
    bl_number = extras["bl_number"]
    if bl_number is not None:
        try:
            bl_number = _parse_number(bl_number, field="bl_number")
        except InvalidField as exc:
            if doc_type is DocType.BILL_OF_LADING:
                problems.append(exc)
            bl_number = None

    if (
        problems
        or doc_type is None
        or doc_number is None
        or seller_id is None
        or seller_name is None
        or buyer_id is None
        or buyer_name is None
        or issue_date is None
        or amount is None
        or currency is None
    ):
        return DocumentReading(None, tuple(problems))
    document = TradeDocument(
        doc_type=doc_type,
        doc_number=doc_number,
        seller_id=seller_id,
        seller_name=seller_name,
        buyer_id=buyer_id,
        buyer_name=buyer_name,
        issue_date=issue_date,
        amount=amount,
        currency=currency,
        bl_number=bl_number,
        vessel=extras["vessel"],
        port_of_loading=extras["port_of_loading"],
    )
    return DocumentReading(document, ())


def _parse_number(text: str, *, field: str) -> str:
    """A document (or bill of lading) number, normalised; one with no letters or digits is no number."""
    number = normalise_doc_number(text)
    if not number:
        raise InvalidField(field, "a number with letters or digits", text)
    return number


def document_from_fields(fields: Mapping[str, str]) -> TradeDocument:
    """Read a document from its text fields (a form's or a CSV row's), raising the first :class:`InvalidField`."""
    reading = read_document(fields)
    if reading.document is None:
        raise reading.problems[0]
    return reading.document
