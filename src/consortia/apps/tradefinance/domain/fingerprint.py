"""Keyed fingerprints: how banks find a shared document without showing it to each other.

A plain hash of an invoice's fields would not do: invoice numbers, amounts and dates are guessable, and anyone
reading the channel could test guesses against the hashes. So each fingerprint is an **HMAC-SHA-256** under the
*consortium key*, which only member banks hold (a private collection; regulators and outsiders never see it).
Keys rotate by **epoch**; the epoch is part of every message, so fingerprints of two epochs never collide even if
a key were reused, and a registry lookup says in which epoch it is looking.

One fingerprint is not enough: a forger who changes one field defeats it. So a document is registered under
several :data:`FINGERPRINT_KINDS`, each over a different subset of normalised fields — a copy disguised on some
fields still meets its original on another subset:

* ``number`` — document type, normalised number, seller;
* ``parties`` — document type, seller, buyer, issue date, amount, currency;
* ``bl`` — carrier's bill of lading number, vessel, port of loading (bills of lading only).

Messages are unambiguous by construction: a domain-separation tag (``consortia/tradefinance/…``), the kind, the
epoch, then every field **length-prefixed** (4-byte big-endian length, UTF-8 bytes), so ``("AB", "C")`` and
``("A", "BC")`` can never hash alike, and a ``number`` fingerprint can never equal a ``parties`` one.

:func:`similarity_keys` adds coarse keyed *buckets* for near duplicates ("suspiciously similar": same type,
parties and currency, amount within :data:`AMOUNT_TOLERANCE`, dates within :data:`DATE_TOLERANCE_DAYS`). Two
shifted grids per dimension make this exact without a range query: any two values within the tolerance ``t`` share
a bucket of width ``2t`` in at least one of the two grids (offsets ``0`` and ``t``), so a document emits four keys
(one per pair of grids) and any near duplicate shares at least one of them. Sharing a key is a *candidate*, not a
verdict: values up to ``2t`` apart may share one too. The amount dimension is logarithmic (a relative tolerance)
and computed with :mod:`decimal`, whose ``ln`` is correctly rounded, so every peer finds the same bucket.

:func:`alike_number_keys` grade such a candidate: keyed over type, parties, currency and each *deletion variant*
of the normalised number (the number with one character left out, :func:`number_variants`) plus its digits, two
documents share one exactly when their numbers are alike in the sense :mod:`.similarity` uses — a typo, a swap of
two digits, a letter added, the same digits — so the registry can say "high risk" without seeing a number.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Context, Decimal

from .documents import DocType, TradeDocument
from .normalise import amount_text, normalise_text

__all__ = [
    "AMOUNT_TOLERANCE",
    "DATE_TOLERANCE_DAYS",
    "FINGERPRINT_KINDS",
    "Fingerprint",
    "FingerprintKind",
    "alike_number_fields",
    "alike_number_keys",
    "fingerprint_fields",
    "fingerprints",
    "hmac_sha256",
    "number_digits",
    "number_variants",
    "similarity_fields",
    "similarity_keys",
]

DOMAIN_TAG = b"consortia/tradefinance/fingerprint/v1"
SIMILARITY_TAG = b"consortia/tradefinance/similarity/v1"
ALIKE_TAG = b"consortia/tradefinance/alike-number/v1"

AMOUNT_TOLERANCE = Decimal("0.02")
"""Two amounts are "close" when the smaller is at least 98 % of the larger."""
DATE_TOLERANCE_DAYS = 3
"""Two issue dates are "close" when at most three days apart."""


@dataclass(frozen=True)
class FingerprintKind:
    """One subset of fields a document is registered under."""

    name: str
    fields: tuple[str, ...]
    doc: str


FINGERPRINT_KINDS: tuple[FingerprintKind, ...] = (
    FingerprintKind(
        "number",
        ("doc_type", "doc_number", "seller_id"),
        "Document type + normalised number + seller id: the document as its issuer numbered it. Meets a copy whose "
        "parties, date, amount or currency were altered or reformatted.",
    ),
    FingerprintKind(
        "parties",
        ("doc_type", "seller_id", "buyer_id", "issue_date", "amount", "currency"),
        "Document type + seller id + buyer id + issue date + amount + currency: the transaction it records. Meets a "
        "copy presented under another number (renumbered, or a number typed differently beyond normalisation).",
    ),
    FingerprintKind(
        "bl",
        ("bl_number", "vessel", "port_of_loading"),
        "Carrier's bill of lading number + vessel + port of loading (bills of lading only): the shipment as the "
        "carrier knows it, whoever claims to be seller or buyer.",
    ),
)
"""The kinds of fingerprint every document is registered under, each with what it is for."""


@dataclass(frozen=True)
class Fingerprint:
    """A keyed fingerprint: its kind and the hex of its HMAC-SHA-256."""

    kind: str
    value: str


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA-256 (RFC 2104 / FIPS 198-1) of ``message`` under ``key``."""
    return hmac.new(key, message, hashlib.sha256).digest()


def _message(tag: bytes, kind: str, epoch: int, fields: tuple[str, ...]) -> bytes:
    if epoch < 0:
        raise ValueError(f"epoch: expected a non-negative integer, found {epoch}")
    parts = [tag, kind.encode(), str(epoch).encode(), *(f.encode("utf-8") for f in fields)]
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def fingerprint_fields(doc: TradeDocument) -> dict[str, tuple[str, ...]]:
    """The normalised field values each fingerprint kind hashes, by kind (``bl`` only for bills of lading)."""
    found = {
        "number": (doc.doc_type.value, doc.doc_number, doc.seller_id.key),
        "parties": (
            doc.doc_type.value,
            doc.seller_id.key,
            doc.buyer_id.key,
            doc.issue_date.isoformat(),
            amount_text(doc.amount),
            doc.currency,
        ),
    }
    if doc.doc_type is DocType.BILL_OF_LADING and doc.bl_number and doc.vessel and doc.port_of_loading:
        found["bl"] = (doc.bl_number, normalise_text(doc.vessel), normalise_text(doc.port_of_loading))
    return found


def fingerprints(doc: TradeDocument, key: bytes, epoch: int) -> tuple[Fingerprint, ...]:
    """The document's keyed fingerprints under the consortium ``key`` of ``epoch``, one per applicable kind."""
    return tuple(
        Fingerprint(kind, hmac_sha256(key, _message(DOMAIN_TAG, kind, epoch, fields)).hex())
        for kind, fields in fingerprint_fields(doc).items()
    )


# -- near-duplicate buckets ----------------------------------------------------------------------------------------

# ln(1 / (1 - tolerance)): amounts a, b (a ≤ b) are close when a ≥ (1 - tolerance)·b, i.e. ln b - ln a ≤ this.
_CONTEXT = Context(prec=34)
_LOG_TOLERANCE = _CONTEXT.ln(1 / (1 - AMOUNT_TOLERANCE))


def _bucket(position: Decimal, tolerance: Decimal, shifted: bool) -> int:
    """The index of the width-2t bucket holding ``position`` in the grid at offset 0 or t."""
    offset = tolerance if shifted else Decimal(0)
    return int(_CONTEXT.divide(position - offset, 2 * tolerance).to_integral_value(rounding=ROUND_FLOOR))


def similarity_fields(doc: TradeDocument) -> tuple[tuple[str, ...], ...]:
    """The unkeyed bucket tuples behind :func:`similarity_keys` (four per document; also what batches block on)."""
    if not doc.amount > 0:
        raise ValueError(f"amount: expected a positive amount, found {doc.amount}")
    base = (doc.doc_type.value, doc.seller_id.key, doc.buyer_id.key, doc.currency)
    amount_position = _CONTEXT.ln(doc.amount)
    day = Decimal(doc.issue_date.toordinal())
    out = []
    for amount_grid in (False, True):
        amount_bucket = _bucket(amount_position, _LOG_TOLERANCE, amount_grid)
        for date_grid in (False, True):
            date_bucket = _bucket(day, Decimal(DATE_TOLERANCE_DAYS), date_grid)
            out.append(
                (*base, f"a{int(amount_grid)}:{amount_bucket}", f"d{int(date_grid)}:{date_bucket}"),
            )
    return tuple(out)


def similarity_keys(doc: TradeDocument, key: bytes, epoch: int) -> tuple[Fingerprint, ...]:
    """Keyed near-duplicate buckets (kind ``similar``): a document close to this one shares at least one."""
    return tuple(
        Fingerprint("similar", hmac_sha256(key, _message(SIMILARITY_TAG, "similar", epoch, fields)).hex())
        for fields in similarity_fields(doc)
    )


# -- alike numbers -------------------------------------------------------------------------------------------------


def number_variants(number: str) -> frozenset[str]:
    """The number and every string one character shorter (its deletion neighbourhood), never the empty string.

    Two numbers share a variant exactly when deleting at most one character from each makes them equal: one
    substitution, one insertion or deletion, one swap of neighbours (``INV42``/``INV24``), or a deletion on each
    side. That is what "numbers alike" means here, because it can be tested on keyed hashes too.
    """
    variants = {number, *(number[:i] + number[i + 1 :] for i in range(len(number)))}
    variants.discard("")
    return frozenset(variants)


def number_digits(number: str) -> str:
    """The digits of a number in order (``HK-2026-42`` → ``202642``): numbers with the same digits are alike."""
    return "".join(c for c in number if c.isdigit())


def alike_number_fields(doc: TradeDocument) -> tuple[tuple[str, ...], ...]:
    """The unkeyed tuples behind :func:`alike_number_keys`: same type, parties and currency, and one variant."""
    base = (doc.doc_type.value, doc.seller_id.key, doc.buyer_id.key, doc.currency)
    found = [(*base, "v:" + variant) for variant in sorted(number_variants(doc.doc_number))]
    digits = number_digits(doc.doc_number)
    if digits:
        found.append((*base, "d:" + digits))
    return tuple(found)


def alike_number_keys(doc: TradeDocument, key: bytes, epoch: int) -> tuple[Fingerprint, ...]:
    """Keyed keys (kind ``alike_number``) a document shares with another of the same type, parties and currency
    exactly when their numbers are alike (:func:`number_variants`, or the same digits) — how a registry grades a
    near duplicate found by :func:`similarity_keys` as high risk without seeing either number."""
    return tuple(
        Fingerprint("alike_number", hmac_sha256(key, _message(ALIKE_TAG, "alike_number", epoch, fields)).hex())
        for fields in alike_number_fields(doc)
    )
