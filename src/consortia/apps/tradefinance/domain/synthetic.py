"""A deterministic synthetic batch of trade documents with planted duplicates and look-alikes (being written)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["SyntheticBatch", "generate_batch"]


@dataclass(frozen=True)
class SyntheticBatch:
    """A CSV batch and the truth planted in it: groups of row numbers that are one document, or look-alikes."""

    csv_text: str
    truth_duplicates: frozenset[frozenset[int]]
    truth_suspicious: frozenset[frozenset[int]]


def generate_batch(seed: int, rows: int, banks: Sequence[str]) -> SyntheticBatch:
    """A batch of ``rows`` documents presented by ``banks``, the same for the same arguments."""
    raise NotImplementedError("synthetic batches land in the next commit")
