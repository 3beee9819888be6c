"""Same document, or suspiciously alike? Comparing two documents, and grouping a whole batch.

**Duplicate** means one underlying document presented twice (or more): the two agree, after normalisation, on
every field of at least one fingerprint kind (:data:`.fingerprint.FINGERPRINT_KINDS`) — same type, number and
seller; or same type, parties, date, amount and currency; or, for bills of lading, same bill number, vessel and
port of loading. That is exactly what the registry can see through keyed fingerprints, so the offline check and
the ledger agree.

**Suspicious** is for a person to review: not the same document by any fingerprint, but same type, seller, buyer
and currency, amounts within 2 % and issue dates within 3 days (what :func:`.fingerprint.similarity_keys` buckets
find). The *risk* says how alike: ``high`` when the numbers are alike too (:func:`numbers_alike`: the same
digits, or one character left out of each makes them equal — a typo, a character added or dropped, two neighbours
swapped; the registry tests the same thing on keyed hashes, :func:`.fingerprint.alike_number_keys`), ``medium``
when the amounts are equal to the cent but the numbers unlike, ``low`` otherwise.

What must *not* be called a duplicate, and is not, because no fingerprint subset agrees: the next invoice of a
series (``INV-0042`` vs ``INV-0043``, another amount), a split bill of lading (same vessel and port, other bill
numbers and amounts), the same amount on the same day between other parties, the same number from another seller.

:func:`group_rows` runs this over a batch of rows from several banks without comparing every pair: duplicates by
*blocking* on the fingerprint field tuples (a dictionary) and a union-find; suspicious pairs only among rows sharing
a similarity bucket. Rows are grouped; a group of ``suspicious`` rows never splits a ``duplicate`` group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .csvrows import Row
from .documents import TradeDocument
from .fingerprint import (
    AMOUNT_TOLERANCE,
    DATE_TOLERANCE_DAYS,
    fingerprint_fields,
    number_digits,
    number_variants,
    similarity_fields,
)

__all__ = ["REASONS", "Group", "Similarity", "compare", "group_rows", "numbers_alike"]

Kind = Literal["duplicate", "suspicious"]
Risk = Literal["high", "medium", "low"]

REASONS: dict[str, str] = {
    "same_number": "same document type, number and seller",
    "same_parties_date_amount": "same document type, seller, buyer, issue date, amount and currency",
    "same_bill_of_lading": "same bill of lading number, vessel and port of loading",
    "same_parties": "same document type, seller, buyer and currency",
    "amount_within_2pct": "amounts within 2 %",
    "same_amount": "the same amount",
    "dates_within_3_days": "issue dates within 3 days",
    "numbers_alike": "document numbers alike after normalisation",
}
"""Machine reason codes and their message (pages translate by the code)."""

_DUPLICATE_REASON = {"number": "same_number", "parties": "same_parties_date_amount", "bl": "same_bill_of_lading"}
_RISK_ORDER: dict[Risk, int] = {"low": 0, "medium": 1, "high": 2}


@dataclass(frozen=True)
class Similarity:
    """How two documents relate: ``duplicate``, ``suspicious`` (with a risk) or unrelated (``kind`` None)."""

    kind: Kind | None
    risk: Risk | None
    reasons: tuple[str, ...]


def numbers_alike(a: str, b: str) -> bool:
    """Normalised numbers a clerk could mistype one for the other: the same digits, or one deletion from each side
    makes them equal (a typo, a character added or left out, two neighbours swapped)."""
    digits = number_digits(a)
    if digits and digits == number_digits(b):
        return True
    return not number_variants(a).isdisjoint(number_variants(b))


def _close_amounts(a: TradeDocument, b: TradeDocument) -> bool:
    low, high = sorted((a.amount, b.amount))
    return low >= (1 - AMOUNT_TOLERANCE) * high


def compare(a: TradeDocument, b: TradeDocument) -> Similarity:
    """Whether ``a`` and ``b`` are one document (duplicate), look-alikes to review (suspicious), or unrelated."""
    fields_a, fields_b = fingerprint_fields(a), fingerprint_fields(b)
    same = tuple(_DUPLICATE_REASON[k] for k in fields_a if k in fields_b and fields_a[k] == fields_b[k])
    if same:
        return Similarity("duplicate", "high", same)
    if (a.doc_type, a.seller_id, a.buyer_id, a.currency) != (b.doc_type, b.seller_id, b.buyer_id, b.currency):
        return Similarity(None, None, ())
    if not _close_amounts(a, b) or abs((a.issue_date - b.issue_date).days) > DATE_TOLERANCE_DAYS:
        return Similarity(None, None, ())
    reasons = ["same_parties", "amount_within_2pct", "dates_within_3_days"]
    if numbers_alike(a.doc_number, b.doc_number):
        reasons.append("numbers_alike")
        risk: Risk = "high"
    elif a.amount == b.amount:
        reasons.append("same_amount")
        risk = "medium"
    else:
        risk = "low"
    return Similarity("suspicious", risk, tuple(reasons))


# -- batches -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """Rows (CSV data row numbers) that are one document (``duplicate``) or look-alikes to review."""

    rows: tuple[int, ...]
    kind: Kind
    reasons: tuple[str, ...]
    risk: Risk | None = None
    """For ``suspicious`` groups, the highest risk among its pairs; ``high`` for duplicates."""

    def as_json(self) -> dict[str, object]:
        """The group as ``check-duplicates --json`` prints it."""
        return {"rows": list(self.rows), "kind": self.kind, "reasons": list(self.reasons), "risk": self.risk}


class _UnionFind:
    """Disjoint sets over 0..n-1, path halving and union by size."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.size = [1] * n

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        return ra


def _ordered(reasons: set[str]) -> tuple[str, ...]:
    return tuple(code for code in REASONS if code in reasons)


def group_rows(rows: Sequence[Row]) -> list[Group]:
    """Duplicate and suspicious groups of a batch, by blocking (no all-pairs comparison), sorted by first row."""
    n = len(rows)
    documents = [row.document for row in rows]

    # Duplicates: every row meets the first row with the same field tuple of each kind.
    duplicates = _UnionFind(n)
    first_with: dict[tuple[str, tuple[str, ...]], int] = {}
    duplicate_reasons: dict[int, set[str]] = defaultdict(set)  # by the index of the row that met an earlier one
    for index, doc in enumerate(documents):
        for kind, fields in fingerprint_fields(doc).items():
            earlier = first_with.setdefault((kind, fields), index)
            if earlier != index:
                duplicates.union(earlier, index)
                duplicate_reasons[index].add(_DUPLICATE_REASON[kind])

    # Suspicious: compare only within similarity buckets; pairs inside one duplicate group are not news.
    buckets: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for index, doc in enumerate(documents):
        for fields in similarity_fields(doc):
            buckets[fields].append(index)
    suspicious_edges: dict[tuple[int, int], Similarity] = {}
    compared: set[tuple[int, int]] = set()  # a pair may meet in up to four buckets: compare it once
    for members in buckets.values():
        for i, left in enumerate(members):
            for right in members[i + 1 :]:
                pair = (left, right)
                if pair in compared or duplicates.find(left) == duplicates.find(right):
                    continue
                compared.add(pair)
                verdict = compare(documents[left], documents[right])
                if verdict.kind == "suspicious":
                    suspicious_edges[pair] = verdict

    groups: list[Group] = []
    members_of: dict[int, list[int]] = defaultdict(list)
    for index in range(n):
        members_of[duplicates.find(index)].append(index)
    for members in members_of.values():
        if len(members) < 2:
            continue
        reasons = set().union(*(duplicate_reasons[m] for m in members))
        groups.append(Group(tuple(sorted(rows[m].number for m in members)), "duplicate", _ordered(reasons), "high"))

    # Suspicious groups: connected duplicate groups (or single rows) linked by suspicious pairs.
    linked = _UnionFind(n)
    for left, right in suspicious_edges:
        linked.union(duplicates.find(left), duplicates.find(right))
    by_group: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for pair in suspicious_edges:
        by_group[linked.find(duplicates.find(pair[0]))].append(pair)
    for pairs in by_group.values():
        roots = {duplicates.find(i) for pair in pairs for i in pair}
        rows_in = sorted(rows[m].number for root in roots for m in members_of[root])
        reasons = set().union(*(suspicious_edges[p].reasons for p in pairs))
        risk = max((suspicious_edges[p].risk for p in pairs), key=lambda r: _RISK_ORDER[r])  # type: ignore[index]
        groups.append(Group(tuple(rows_in), "suspicious", _ordered(reasons), risk))

    groups.sort(key=lambda g: (g.rows[0], g.kind))
    return groups
