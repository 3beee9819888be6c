"""How the ordering log is laid out in etcd: keys under one cluster prefix, and blocks stored compressed.

::

    leader                      {"name", "endpoint"}, attached to the leader's lease; create_revision = term
    orderers/<name>             {"endpoint", "heights"}: each live orderer's copy, attached to its lease
    channels/<ch>/genesis       hash of the genesis header every orderer must share
    channels/<ch>/blocks/<n>    block n (n zero-padded, so key order is block order)
    channels/<ch>/tip           number of the last block written

etcd refuses requests over 1.5 MiB, so a block carries at most :data:`MAX_BLOCK_BYTES` of envelopes; it is stored
zlib-compressed (envelopes repeat the same few certificates, so blocks shrink about fourfold), and inflating a
stored value is bounded so that a corrupt one cannot exhaust memory.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from consortia.ledger.encoding import MalformedError

MAX_BLOCK_BYTES = 1_000_000
"""Envelope bytes per block: with the header, the orderer's certificate and framing, under etcd's 1.5 MiB."""


@dataclass(frozen=True)
class Keys:
    """Where things live in etcd, under one cluster prefix."""

    prefix: str

    def _k(self, *parts: str) -> bytes:
        return "/".join((self.prefix.rstrip("/"), *parts)).encode()

    @property
    def leader(self) -> bytes:
        """The leader key."""
        return self._k("leader")

    @property
    def orderers(self) -> bytes:
        """Prefix of the orderers' presence keys."""
        return self._k("orderers", "")

    def orderer(self, name: str) -> bytes:
        """An orderer's presence key."""
        return self._k("orderers", name)

    def genesis(self, channel: str) -> bytes:
        """A channel's genesis hash."""
        return self._k("channels", channel, "genesis")

    def tip(self, channel: str) -> bytes:
        """A channel's last block number."""
        return self._k("channels", channel, "tip")

    def blocks(self, channel: str) -> bytes:
        """Prefix of a channel's block keys."""
        return self._k("channels", channel, "blocks", "")

    def block(self, channel: str, number: int) -> bytes:
        """A block's key."""
        return self._k("channels", channel, "blocks", f"{number:016d}")

    @staticmethod
    def number(key: bytes) -> int:
        """The block number of a block key."""
        return int(key.rsplit(b"/", 1)[1])


_COMPRESSED = b"\x01"


def pack_block(data: bytes) -> bytes:
    """How a block is stored in etcd: a format byte and the zlib-compressed block (deterministic)."""
    return _COMPRESSED + zlib.compress(data, 1)


def unpack_block(value: bytes) -> bytes:
    """The block bytes of an etcd value written by :func:`pack_block`."""
    if value[:1] != _COMPRESSED:
        raise MalformedError("unknown block format in etcd")
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(value[1:], 4 * MAX_BLOCK_BYTES)
        if inflater.unconsumed_tail:
            raise MalformedError("block in etcd inflates beyond the block size limit")
        return data
    except zlib.error as exc:
        raise MalformedError(f"corrupt block in etcd: {exc}") from None
