"""A channel's ledger on one node: the block store, the history tree and the state database together.

The three are written in a fixed order for each block — block record (synced), history tree leaves, state
updates with the new height (one SQLite transaction) — so that a crash at any moment leaves the block store
ahead of or equal to the others, never behind. Opening a ledger brings the history tree back in line with the
block store (it is derived data, truncated or re-extended from the stored blocks); bringing the state database
forward is the peer's job, because replaying a block needs the contract definitions and validation rules.

Reading goes through the same object: a block with the codes this node gave its transactions
(:meth:`ChannelLedger.committed_block`), and a transaction by its id (:meth:`ChannelLedger.find_transaction`:
the state database's index of transaction ids gives the block and position, the block store the block).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from consortia.ledger.block import Block, BlockHeader, BlockRecord, transaction_leaves
from consortia.ledger.blockstore import BlockStore
from consortia.ledger.encoding import MalformedError, decode, decode_canonical, encode
from consortia.ledger.history import HistoryTree
from consortia.ledger.merkle import CompactRange
from consortia.ledger.statedb import StateDB
from consortia.ledger.updates import UpdateBatch


class LedgerError(Exception):
    """The ledger cannot be opened or extended; the message says why."""


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
        self.blocks = BlockStore(self.directory / "blocks", read_only=read_only, sync=sync)
        self.state = StateDB(self.directory / "state.sqlite", read_only=read_only)
        self.history = None if read_only else HistoryTree(self.directory / "history")
        self._lock = threading.Lock()
        self._last_header: BlockHeader | None = None
        self._applied = self.state.height if not read_only else self.blocks.height
        if self.blocks.height:
            self._last_header = self.block(self.blocks.height - 1).header
        if self.history is not None:
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
        if self.history.size < expected:
            # Find the first block not (fully) in the tree and re-append from there.
            number = self.blocks.height - 1
            while number > 0 and self.block(number - 1).header.history_size > self.history.size:
                number -= 1
            start_size = self.block(number - 1).header.history_size if number > 0 else 0
            self.history.truncate(min(self.history.size, start_size))
            for n in range(number, self.blocks.height):
                self.history.append(transaction_leaves(self.block(n).transactions))
            self.history.flush(sync=False)
        if self._last_header and self.history.root() != self._last_header.history_root:
            # The derived tree disagrees with the signed headers: rebuild it from the blocks.
            self.history.truncate(0)
            for n in range(self.blocks.height):
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
