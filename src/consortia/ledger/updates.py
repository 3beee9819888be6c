"""State updates: everything one block changes in the state database, as named records.

Validation (:mod:`consortia.peer.validator`) applies each valid transaction of a block to an in-memory
:class:`UpdateBatch`, which later transactions of the same block read through (a key written earlier in the block
has that version for MVCC); the state database (:mod:`consortia.ledger.statedb`) then applies the whole batch and
the new height in one SQLite transaction. A batch holds:

* ``state`` — the new value of each key written (:class:`KeyWrite`; ``value`` None for a delete);
* ``policies`` — key-level endorsement policies set (None: removed);
* ``history`` — one :class:`HistoryRecord` per write, for key-history queries;
* ``hashed`` — the salted hash of each private key written (:class:`HashedWrite`), which every peer keeps;
* ``private`` — private plaintext a member peer stores (:class:`PrivateEntry`; None: removed);
* ``purges`` — private keys whose plaintext goes, and why (:class:`Purge`);
* ``txids`` — each authenticated transaction's id with its position and code (:class:`TxIdRecord`);
* ``transient_done`` — transactions whose transient private data may be forgotten.

Keys of the dictionaries are the natural keys of the tables: (namespace, key), (namespace, collection, key hash)
and (namespace, collection, key).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consortia.ledger.rwset import Version

StateKey = tuple[str, str]
"""(namespace, key)."""
HashedKey = tuple[str, str, bytes]
"""(namespace, collection, SHA-256 of the key)."""
PrivateKey = tuple[str, str, str]
"""(namespace, collection, key)."""


@dataclass(frozen=True, slots=True)
class KeyWrite:
    """A key's new value (canonical JSON bytes; None when deleted) and the version (block, tx) that wrote it."""

    value: bytes | None
    version: Version


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """One write of a key, as key-history queries list it."""

    namespace: str
    key: str
    block: int
    tx: int
    tx_id: str
    value: bytes | None
    """None for a delete."""
    timestamp_ms: int
    """The proposal's timestamp."""


@dataclass(frozen=True, slots=True)
class HashedWrite:
    """The salted hash of a private value (None when deleted) and the version that wrote it."""

    value_hash: bytes | None
    version: Version


@dataclass(frozen=True, slots=True)
class PrivateEntry:
    """Private plaintext as a member peer stores it, with its salt, version and expiry block (0: never)."""

    value: bytes
    salt: bytes
    version: Version
    expires: int


@dataclass(frozen=True, slots=True)
class Purge:
    """A private key whose plaintext is purged at ``block`` (its hash stays), and why."""

    namespace: str
    collection: str
    key_hash: bytes
    block: int
    reason: str


@dataclass(frozen=True, slots=True)
class TxIdRecord:
    """A transaction id used up in this block: where it is and the code it got."""

    tx_id: str
    block: int
    index: int
    code: int


@dataclass
class UpdateBatch:
    """Everything one block changes, applied in a single database transaction with the new height."""

    height: int
    state: dict[StateKey, KeyWrite] = field(default_factory=dict)
    policies: dict[StateKey, str | None] = field(default_factory=dict)
    history: list[HistoryRecord] = field(default_factory=list)
    hashed: dict[HashedKey, HashedWrite] = field(default_factory=dict)
    private: dict[PrivateKey, PrivateEntry | None] = field(default_factory=dict)
    purges: list[Purge] = field(default_factory=list)
    txids: list[TxIdRecord] = field(default_factory=list)
    transient_done: list[str] = field(default_factory=list)

    def touches(self, namespace: str) -> bool:
        """Whether any key of ``namespace`` is written by this batch."""
        return any(ns == namespace for ns, _ in self.state)
