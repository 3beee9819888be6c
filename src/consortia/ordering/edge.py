"""The orderer's history edge: the right edge of the ledger-wide history tree, kept next to its block store.

To put the history-tree root into each new header an orderer needs only the tree's right edge (a compact range of
O(log n) hashes), not the tree. It saves the edge after every block; on start it uses the saved edge when that
matches the last stored header, and otherwise (a crash between block and edge) rebuilds it from the blocks.
"""

from __future__ import annotations

import os
from pathlib import Path

from consortia.ledger.block import Block, BlockHeader, transaction_leaves
from consortia.ledger.blockstore import BlockStore
from consortia.ledger.encoding import decode
from consortia.ledger.merkle import CompactRange


def replay_edge(store: BlockStore, end: int) -> CompactRange:
    """The history edge after blocks [0, end) of a store of orderer blocks, rebuilt from their envelopes."""
    edge = CompactRange()
    for number in range(end):
        edge.extend(transaction_leaves(decode(store.read(number), Block).transactions))
    return edge


def load_edge(path: Path, store: BlockStore, last: BlockHeader) -> CompactRange:
    """The saved edge if it matches the last header, else the edge rebuilt from the stored blocks."""
    try:
        edge = CompactRange.from_bytes(path.read_bytes())
        if edge.size == last.history_size and edge.root() == last.history_root:
            return edge
    except (OSError, ValueError):
        pass
    return replay_edge(store, store.height)


def save_edge(path: Path, edge: CompactRange) -> None:
    """Replace the saved edge atomically."""
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(edge.to_bytes())
    os.replace(tmp, path)
