"""Funds returning to where they started: a time-respecting cycle search shared by both engines.

A cycle (round-tripping) is a chain of payments ``a → x1 → … → a`` in which each payment comes after the one
before it, all within a window, and each forwards a similar amount (launderers skim a little at each hop; a
friend paying back dinner is not the same money). When a payment ``a → b`` arrives, the question is whether
``b`` already sent money on a path that came back to ``a`` before this payment: a depth-first search from ``b``
over earlier *fresh* edges (new relationships, :mod:`.frame`) in increasing time, at most ``max_hops - 1`` deep.
Two-account loops are left out on purpose: refunds and repaid loans are everywhere in honest data.

The search reads only edges earlier than the payment, so the batch engine (which knows every edge) and the
streaming engine (which knows the past) find the same path.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Edge:
    """A fresh payment: the graph's unit."""

    seq: int
    t: int
    orig: str
    bene: str
    amount_cents: int
    tx_id: str


@dataclass
class EdgeIndex:
    """Fresh edges by originator, in processing order (appended as they arrive)."""

    out: dict[str, list[Edge]] = field(default_factory=lambda: defaultdict(list))
    times: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, edge: Edge) -> None:
        """Record an edge (edges must arrive in processing order)."""
        self.out[edge.orig].append(edge)
        self.times[edge.orig].append(edge.t)

    def since(self, node: str, earliest: int) -> list[Edge]:
        """The edges out of ``node`` later than ``earliest``, in processing order."""
        edges = self.out.get(node)
        if not edges:
            return []
        return edges[bisect_right(self.times[node], earliest) :]


def _similar(previous: int, following: int, tolerance: float) -> bool:
    return abs(following - previous) <= tolerance * previous


def closing_path(
    index: EdgeIndex, edge: Edge, *, max_hops: int, window_seconds: int, tolerance: float
) -> tuple[Edge, ...] | None:
    """The earlier path ``edge.bene → … → edge.orig`` that ``edge`` closes into a cycle of 3 to ``max_hops``
    accounts, or None. Deterministic: the first path in processing order of the edges."""
    target = edge.orig
    earliest = edge.t - window_seconds
    start = edge.bene

    def search(node: str, after_seq: int, previous: Edge | None, path: list[Edge], seen: set[str]) -> list[Edge] | None:
        for nxt in index.since(node, earliest):
            if nxt.seq >= edge.seq:
                break  # edges are in processing order: the rest are not earlier than the closing payment
            if nxt.seq <= after_seq or nxt.t <= earliest:
                continue
            if previous is not None and not _similar(previous.amount_cents, nxt.amount_cents, tolerance):
                continue
            if nxt.bene == target:
                if len(path) >= 1 and _similar(nxt.amount_cents, edge.amount_cents, tolerance):
                    return [*path, nxt]
                continue
            if nxt.bene in seen or len(path) + 2 >= max_hops:
                continue
            seen.add(nxt.bene)
            found = search(nxt.bene, nxt.seq, nxt, [*path, nxt], seen)
            seen.discard(nxt.bene)
            if found is not None:
                return found
        return None

    found = search(start, -1, None, [], {start, target})
    return tuple(found) if found is not None else None
