"""Chain checks: is this block the honest successor of the last one?

Before a peer validates a block's transactions it checks the block itself, using nothing but the previous header,
the history tree's right edge (a compact range of O(log n) hashes) and the orderers' CA certificates:

* the number is one more than the previous block's, and the channel is the same;
* ``previous_hash`` is the hash of the previous header (genesis: 32 zero bytes);
* ``data_hash`` is the Merkle root of the block's envelopes;
* ``history_root``/``history_size`` are what appending those envelopes to the history tree gives;
* time never runs backwards;
* the orderer's certificate is an orderer of the channel's ordering organisations, valid at the block's time,
  and its signature over the header verifies.

``consortia verify`` runs the same checks over a whole stored ledger.
"""

from __future__ import annotations

from consortia.identity import Kind, Membership, MembershipError
from consortia.identity.batch import verify_one
from consortia.ledger.block import (
    GENESIS_PREVIOUS_HASH,
    Block,
    BlockHeader,
    data_hash,
    header_hash,
    header_signing_bytes,
    transaction_leaves,
)
from consortia.ledger.merkle import CompactRange

_ORDERER = frozenset({Kind.ORDERER})


class ChainError(Exception):
    """A block that does not follow the chain; ``block`` is its number."""

    def __init__(self, block: int, reason: str) -> None:
        super().__init__(f"block {block}: {reason}")
        self.block = block
        self.reason = reason


def check_block(
    block: Block, previous: BlockHeader | None, history: CompactRange, orderers: Membership, channel: str
) -> CompactRange:
    """Check a block against its predecessor; return the history tree's right edge after it."""
    header = block.header
    number = header.number
    expected_number = 0 if previous is None else previous.number + 1
    if number != expected_number:
        raise ChainError(number, f"expected block number {expected_number}")
    if header.channel != channel:
        raise ChainError(number, f"block is for channel {header.channel!r}, not {channel!r}")
    expected_previous = GENESIS_PREVIOUS_HASH if previous is None else header_hash(previous)
    if header.previous_hash != expected_previous:
        raise ChainError(number, "previous_hash does not match the hash of the previous header")
    if not block.transactions:
        raise ChainError(number, "block holds no transactions")
    if data_hash(block.transactions) != header.data_hash:
        raise ChainError(number, "data_hash is not the Merkle root of the block's transactions")
    after = history.copy()
    after.extend(transaction_leaves(block.transactions))
    if header.history_size != after.size:
        raise ChainError(number, f"history_size {header.history_size} should be {after.size}")
    if header.history_root != after.root():
        raise ChainError(number, "history_root is not the root of the ledger-wide history tree")
    if previous is not None and header.timestamp_ms < previous.timestamp_ms:
        raise ChainError(number, "timestamp is earlier than the previous block's")
    try:
        info = orderers.validate(block.orderer, at_ms=header.timestamp_ms, kinds=_ORDERER)
    except MembershipError as exc:
        raise ChainError(number, f"block signer: {exc.message}") from None
    if not verify_one(info.public_key, header_signing_bytes(header), block.signature):
        raise ChainError(number, "orderer signature over the header does not verify")
    return after
