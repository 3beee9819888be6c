"""A channel's ledger on one node: the block store, the history tree and the state database together.

The three are written in a fixed order for each block — block record (synced), history tree leaves, state
updates with the new height (one SQLite transaction) — so that a crash at any moment leaves the block store
ahead of or equal to the others, never behind. Opening a ledger brings the history tree back in line with the
block store (it is derived data, truncated or re-extended from the stored blocks); bringing the state database
forward is the peer's job, because replaying a block needs the contract definitions and validation rules.

Reading goes through the same object: a block with the codes this node gave its transactions
(:meth:`ChannelLedger.committed_block`), and a transaction by its id (:meth:`ChannelLedger.find_transaction`:
the state database's index of transaction ids gives the block and position, the block store the block).

A ledger started from a snapshot at height ``h`` (:func:`prepare_from_snapshot`, used by
:mod:`consortia.peer.snapshot_join`) holds blocks from ``h`` on only: the header of block ``h - 1`` is kept in
``snapshot-header.bin`` (it is what block ``h`` chains to), its block store starts at ``h`` and its history tree
at the frontier of that header's tree. :attr:`ChannelLedger.first_block` says where the ledger begins, and
:meth:`ChannelLedger.header` serves header ``h - 1`` as well as those of stored blocks.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from consortia.ledger.block import Block, BlockHeader, BlockRecord, transaction_leaves
from consortia.ledger.blockstore import BlockStore, BlockStoreError, start_at
from consortia.ledger.encoding import MalformedError, decode, decode_canonical, encode
from consortia.ledger.history import HistoryTree, seed_from_frontier
from consortia.ledger.merkle import CompactRange
from consortia.ledger.statedb import StateDB
from consortia.ledger.updates import UpdateBatch


class LedgerError(Exception):
    """The ledger cannot be opened or extended; the message says why."""


SNAPSHOT_HEADER_FILE = "snapshot-header.bin"
"""Canonical bytes of the header of the last block before a snapshot-started ledger's first block."""


def read_snapshot_header(directory: Path) -> BlockHeader | None:
    """The header a ledger in ``directory`` was started from (a snapshot's last block), or None."""
    path = Path(directory) / SNAPSHOT_HEADER_FILE
    if not path.exists():
        return None
    try:
        return decode_canonical(path.read_bytes(), BlockHeader)
    except MalformedError as exc:
        raise LedgerError(f"{path}: {exc}") from None


def prepare_from_snapshot(directory: Path, header: BlockHeader, frontier: CompactRange) -> None:
    """Lay out an empty ledger directory that continues after block ``header.number`` (a checked snapshot's).

    The state database is the caller's to fill (:meth:`~consortia.ledger.statedb.StateDB.import_rows`).
    """
    directory = Path(directory)
    if frontier.size != header.history_size or frontier.root() != header.history_root:
        raise LedgerError(
            f"history frontier (size {frontier.size}, root {frontier.root().hex()}) is not the tree of header "
            f"{header.number} (size {header.history_size}, root {header.history_root.hex()})"
        )
    for part in ("blocks", "history", "state.sqlite", SNAPSHOT_HEADER_FILE):
        if (directory / part).exists():
            raise LedgerError(f"{directory} already holds a ledger ({part})")
    directory.mkdir(parents=True, exist_ok=True)
    try:
        start_at(directory / "blocks", header.number + 1)
    except BlockStoreError as exc:
        raise LedgerError(str(exc)) from None
    seed_from_frontier(directory / "history", frontier)
    path = directory / SNAPSHOT_HEADER_FILE
    with open(path, "wb") as handle:
        handle.write(encode(header))
        handle.flush()
        os.fsync(handle.fileno())


@dataclass(frozen=True)
class CommittedBlock:
    """A block as this node committed it: the orderer's block and the validation code of each transaction."""

    block: Block
    codes: bytes

    @classmethod
    def from_record(cls, record: BlockRecord) -> CommittedBlock:
        """Decode a stored record (LedgerError if its block is not canonically encoded)."""
        try:
            return cls(decode_canonical(record.block, Block), record.codes)
        except MalformedError as exc:
            raise LedgerError(f"stored block: {exc}") from None

    @property
    def number(self) -> int:
        """The block number."""
        return self.block.header.number

    def code(self, index: int) -> int:
        """The validation code of transaction ``index`` (255 when the record holds none for it)."""
        return self.codes[index] if index < len(self.codes) else 255


@dataclass(frozen=True)
class FoundTransaction:
    """A committed transaction found by its id: its block, its position in the block and its validation code."""

    block: Block
    index: int
    code: int

    @property
    def number(self) -> int:
        """The number of the block holding it."""
        return self.block.header.number

    @property
    def envelope(self) -> bytes:
        """The transaction's envelope, as ordered."""
        return self.block.transactions[self.index]


class ChannelLedger:
    """Block store + history tree + state database of one channel on one node."""

    def __init__(self, directory: Path, *, read_only: bool = False, sync: bool = True) -> None:
        self.directory = Path(directory)
        self.read_only = read_only
        if not read_only:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.snapshot_header = read_snapshot_header(self.directory)
        """Header of the last block before this ledger's first, when it was started from a snapshot."""
        self.blocks = BlockStore(self.directory / "blocks", read_only=read_only, sync=sync)
        expected_base = 0 if self.snapshot_header is None else self.snapshot_header.number + 1
        if self.blocks.base != expected_base:
            self.blocks.close()
            raise LedgerError(
                f"{self.directory}: block store starts at block {self.blocks.base}, but the snapshot header says "
                f"{expected_base}"
            )
        self.state = StateDB(self.directory / "state.sqlite", read_only=read_only)
        self.history = None if read_only else HistoryTree(self.directory / "history")
        self._lock = threading.Lock()
        self._last_header: BlockHeader | None = None
        self._applied = self.state.height if not read_only else self.blocks.height
        if self.blocks.height > self.blocks.base:
            self._last_header = self.block(self.blocks.height - 1).header
        else:
            self._last_header = self.snapshot_header
        if self.history is not None:
            started = self.snapshot_header.history_size if self.snapshot_header is not None else 0
            if self.history.start != started:
                self.close()
                raise LedgerError(
                    f"{self.directory}: history tree starts at leaf {self.history.start}, the ledger at {started}"
                )
            self._align_history()

    # -- reading ---------------------------------------------------------------------------------------------

    @property
    def height(self) -> int:
        """Number of blocks fully committed (stored, and applied to the state database)."""
        return min(self.blocks.height, self._applied)

    @property
    def last_header(self) -> BlockHeader | None:
        """Header of the last stored block."""
        return self._last_header

    @property
    def first_block(self) -> int:
        """Number of the first block this ledger holds: 0, or the height of the snapshot it started from."""
        return self.blocks.base

    def header(self, number: int) -> BlockHeader:
        """Header of block ``number``: a stored block's, or the snapshot's last block's."""
        if self.snapshot_header is not None and number == self.snapshot_header.number:
            return self.snapshot_header
        return self.block(number).header

    def record(self, number: int) -> BlockRecord:
        """The stored record (block bytes and validation codes) of block ``number``."""
        try:
            return decode(self.blocks.read(number), BlockRecord)
        except MalformedError as exc:
            raise LedgerError(f"block {number}: {exc}") from None

    def block(self, number: int) -> Block:
        """Block ``number`` as the orderer signed it."""
        try:
            return decode(self.record(number).block, Block)
        except MalformedError as exc:
            raise LedgerError(f"block {number}: {exc}") from None

    def committed_block(self, number: int) -> CommittedBlock:
        """Block ``number`` with the validation codes this node stored for it."""
        record = self.record(number)
        try:
            return CommittedBlock.from_record(record)
        except LedgerError as exc:
            raise LedgerError(f"block {number}: {exc}") from None

    def find_transaction(self, tx_id: str) -> FoundTransaction | None:
        """The committed transaction with id ``tx_id`` (its block, index and code), or None if there is none."""
        position = self.state.tx_position(tx_id)
        if position is None:
            return None
        return FoundTransaction(self.block(position.block), position.index, position.code)

    def history_range(self) -> CompactRange:
        """The history tree's right edge after the last stored block."""
        if self.history is None:
            raise LedgerError("history tree is not open")
        return self.history.compact_range()

    # -- writing ---------------------------------------------------------------------------------------------

    def append(self, block_bytes: bytes, block: Block, codes: bytes, batch: UpdateBatch) -> None:
        """Store a validated block, extend the history tree and apply its state updates."""
        if self.read_only or self.history is None:
            raise LedgerError("ledger is open read-only")
        with self._lock:
            if block.header.number != self.blocks.height:
                raise LedgerError(f"block {block.header.number} is not the next block ({self.blocks.height})")
            self.blocks.append(encode(BlockRecord(block_bytes, codes)))
            self.history.append(transaction_leaves(block.transactions))
            self.history.flush(sync=False)
            self._last_header = block.header
            self.state.apply(batch)
            self._applied = batch.height

    def _align_history(self) -> None:
        """Make the history tree hold exactly the leaves of the stored blocks."""
        assert self.history is not None
        expected = self._last_header.history_size if self._last_header else 0
        if self.history.size > expected:
            self.history.truncate(expected)
        first = self.blocks.base
        if self.history.size < expected:
            # Find the first block not (fully) in the tree and re-append from there.
            number = self.blocks.height - 1
            while number > first and self.header(number - 1).history_size > self.history.size:
                number -= 1
            start_size = self.header(number - 1).history_size if number > 0 else 0
            self.history.truncate(min(self.history.size, start_size))
            for n in range(number, self.blocks.height):
                self.history.append(transaction_leaves(self.block(n).transactions))
            self.history.flush(sync=False)
        if self._last_header and self.history.root() != self._last_header.history_root:
            # The derived tree disagrees with the signed headers: rebuild it from the blocks (a snapshot-started
            # tree from its frontier, which it checks against the snapshot header on opening).
            self.history.truncate(self.history.start)
            for n in range(first, self.blocks.height):
                self.history.append(transaction_leaves(self.block(n).transactions))
            self.history.flush(sync=False)

    def apply_replayed(self, batch: UpdateBatch) -> None:
        """Apply the state updates of a stored block replayed after a crash."""
        self.state.apply(batch)
        self._applied = batch.height

    @property
    def stored_height(self) -> int:
        """Number of blocks in the block store (may exceed ``height`` right after a crash)."""
        return self.blocks.height

    def close(self) -> None:
        """Close the stores."""
        self.blocks.close()
        self.state.close()
        if self.history is not None:
            self.history.close()
