"""Blocks: ordered batches of transactions, chained by header hashes and signed by the ordering service.

A block header commits to everything a verifier needs without trusting the peer that serves it:

* ``previous_hash`` chains it to the header before (SHA-256 of that header's canonical bytes), so rewriting an
  old block changes every later header;
* ``data_hash`` is the RFC 9162 Merkle root over the block's envelopes, so one transaction can be proven to be in
  the block with a logarithmic inclusion proof;
* ``history_root`` / ``history_size`` are the root and size of the ledger-wide Merkle tree over every envelope
  ever ordered on the channel, so any later header proves (by a consistency proof) that the earlier history was
  only appended to, never rewritten;
* the orderer signs the header's canonical bytes with its Ed25519 key.

Validation codes are not in the header: the orderer does not validate, and each peer computes them itself. A
peer stores them next to the block (:class:`BlockRecord`); ``consortia verify`` recomputes them.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from consortia.ledger import merkle
from consortia.ledger.encoding import encode, sha256

GENESIS_PREVIOUS_HASH = bytes(32)


class BlockHeader(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """The signed summary of a block."""

    channel: str
    number: int
    previous_hash: bytes
    data_hash: bytes
    history_root: bytes
    history_size: int
    timestamp_ms: int


class Block(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A header, the envelopes it commits to, and the orderer's certificate and signature over the header."""

    header: BlockHeader
    transactions: tuple[bytes, ...]
    orderer: bytes
    signature: bytes


class BlockRecord(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A block as a peer stores it: the orderer's block bytes and this peer's validation code per transaction."""

    block: bytes
    codes: bytes


def header_hash(header: BlockHeader) -> bytes:
    """SHA-256 of the header's canonical encoding: what the next block's ``previous_hash`` holds."""
    return sha256(encode(header))


def transaction_leaves(transactions: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 leaf hashes of a block's envelopes (the same leaves feed the history tree)."""
    return [merkle.leaf_hash(envelope) for envelope in transactions]


def data_hash(transactions: Sequence[bytes]) -> bytes:
    """The Merkle root over a block's envelopes."""
    return merkle.root(transaction_leaves(transactions))


def header_signing_bytes(header: BlockHeader) -> bytes:
    """The bytes the orderer signs: a domain tag and the canonical header."""
    return b"consortia/block-header/v1\x00" + encode(header)
