"""Read-write sets: what a simulated transaction read and what it wants to write.

Endorsing peers run a contract against their committed state without changing it, and record every key read
with the version (block, transaction) it had, every range scanned with the keys it returned, and every key
written. Validation later accepts the writes only if every recorded read is still current (multi-version
concurrency control, MVCC): this is how execute–order–validate keeps concurrent transactions serialisable
without running contracts a second time.

Private data appears here only as hashes: a key hash and a salted value hash per write. The plaintext travels
separately (:class:`PrivateWrites`) and only to member organisations' peers.
"""

from __future__ import annotations

import msgspec


class Version(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """The position of the transaction that last wrote a key: block number and index within the block."""

    block: int
    tx: int


class KVRead(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A key read during simulation and the version it had (None: the key did not exist)."""

    key: str
    version: Version | None


class KVWrite(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A key written (canonical JSON value) or deleted."""

    key: str
    value: bytes
    is_delete: bool


class RangeRead(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A range scan [start, end) and the keys with versions it returned, re-checked for phantoms."""

    start: str
    end: str
    exhausted: bool
    results: tuple[KVRead, ...]


class PolicyWrite(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A key-level endorsement policy set on a key ("" removes it)."""

    key: str
    policy: str


class HashedRead(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A private key read, by the hash of the key."""

    key_hash: bytes
    version: Version | None


class HashedWrite(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A private write: key hash and salted value hash; delete and purge carry an empty value hash."""

    key_hash: bytes
    value_hash: bytes
    is_delete: bool
    is_purge: bool


class CollectionRWSet(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Hashed reads and writes of one private data collection."""

    collection: str
    reads: tuple[HashedRead, ...]
    writes: tuple[HashedWrite, ...]


class NamespaceRWSet(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Everything a transaction read and wrote in one namespace (a contract's world state)."""

    namespace: str
    reads: tuple[KVRead, ...]
    ranges: tuple[RangeRead, ...]
    writes: tuple[KVWrite, ...]
    policy_writes: tuple[PolicyWrite, ...]
    collections: tuple[CollectionRWSet, ...]


class RWSet(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """The read-write set of a transaction, one entry per namespace touched."""

    namespaces: tuple[NamespaceRWSet, ...]


class PrivateWrite(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """The plaintext of one private write, with the salt its value hash was computed with."""

    key: str
    value: bytes
    salt: bytes
    is_delete: bool
    is_purge: bool


class PrivateWrites(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Plaintext private writes of one transaction in one collection; never part of a block."""

    tx_id: str
    namespace: str
    collection: str
    writes: tuple[PrivateWrite, ...]
