"""The transaction context: everything a contract function may see and do, and the record of what it did.

A contract never touches the database. It calls the context, which reads the endorsing peer's committed state
inside one snapshot and records each read with its version, buffers each write, and records range scans so that
validation can detect phantoms. What the contract did becomes the read-write set of its endorsement.

The context also tells the contract who is calling (organisation, certificate name, kind, attributes such as
``role=regulator``), the transaction id, the proposal's timestamp (the only clock a contract has), transient
inputs, and gives access to private data collections with membership enforced.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from consortia.contracts.collections_config import CollectionConfig
from consortia.contracts.contract import ContractError
from consortia.ledger.encoding import canonical_json, parse_json
from consortia.ledger.rwset import (
    CollectionRWSet,
    HashedRead,
    HashedWrite,
    KVRead,
    KVWrite,
    NamespaceRWSet,
    PolicyWrite,
    PrivateWrite,
    PrivateWrites,
    RangeRead,
    Version,
)
from consortia.ledger.statedb import HistoryEntry, PrivateValue, StateValue
from consortia.ledger.transaction import ContractEvent
from consortia.policy.evaluate import Signer

MAX_KEY_LENGTH = 1024
SALT_TRANSIENT_KEY = "__consortia_salt__"


class StateReader(Protocol):
    """The committed state an endorsing peer simulates against."""

    def get(self, ns: str, key: str) -> StateValue | None: ...
    def range(self, ns: str, start: str, end: str, limit: int | None = None) -> list[tuple[str, StateValue]]: ...
    def query(self, ns: str, query: Any) -> list[tuple[str, StateValue]]: ...
    def history(self, ns: str, key: str, limit: int = 1000) -> list[HistoryEntry]: ...
    def key_policy(self, ns: str, key: str) -> str | None: ...
    def hashed_get(self, ns: str, coll: str, key_hash: bytes) -> tuple[bytes, Version] | None: ...
    def private_get(self, ns: str, coll: str, key: str) -> PrivateValue | None: ...


@dataclass(frozen=True)
class Caller:
    """The identity that signed the proposal."""

    org: str
    name: str
    kind: str
    attributes: Mapping[str, str]
    cert_hash: bytes

    @property
    def role(self) -> str | None:
        """The application role attribute (``regulator``, ``clinician``, ``patient``…), if any."""
        return self.attributes.get("role")

    @property
    def id(self) -> str:
        """A stable identifier of the caller: ``org/name``."""
        return f"{self.org}/{self.name}"

    def as_signer(self) -> Signer:
        """The caller as a policy signer, role attribute included (for approvals decided by a policy)."""
        return Signer(self.org, self.kind, self.cert_hash, self.role)


def key_hash(key: str) -> bytes:
    """The hash under which a private key appears on the ledger."""
    return hashlib.sha256(key.encode()).digest()


def salted_value_hash(salt: bytes, value: bytes) -> bytes:
    """The salted hash of a private value that the ledger keeps."""
    return hashlib.sha256(salt + value).digest()


def prefix_end(prefix: str) -> str:
    """The smallest string greater than every string that starts with ``prefix`` ('' when there is none)."""
    chars = list(prefix)
    while chars:
        last = ord(chars[-1])
        if last < 0x10FFFF:
            chars[-1] = chr(last + 1)
            return "".join(chars)
        chars.pop()
    return ""


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ContractError(f"a key must be a non-empty string, got {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise ContractError(f"key is longer than {MAX_KEY_LENGTH} characters")
    if "\x00" in key:
        raise ContractError("a key must not contain NUL characters")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise ContractError(f"key {key!r} is not valid Unicode text (it holds a lone surrogate)") from None
    return key


def _decode(value: bytes) -> Any:
    return parse_json(value)


@dataclass
class _Collection:
    reads: dict[bytes, Version | None] = field(default_factory=dict)
    writes: dict[str, PrivateWrite] = field(default_factory=dict)


class Context:
    """What a contract function receives as ``ctx``."""

    def __init__(
        self,
        *,
        channel: str,
        namespace: str,
        tx_id: str,
        timestamp_ms: int,
        caller: Caller,
        state: StateReader,
        peer_org: str,
        collections: Mapping[str, CollectionConfig] | None = None,
        transient: Mapping[str, bytes] | None = None,
        read_only: bool = False,
        channel_orgs: tuple[str, ...] = (),
    ) -> None:
        self.channel = channel
        self.channel_orgs = channel_orgs
        self.namespace = namespace
        self.tx_id = tx_id
        self.timestamp_ms = timestamp_ms
        self.caller = caller
        self.peer_org = peer_org
        self.read_only = read_only
        self._state = state
        self._collections = dict(collections or {})
        transient = dict(transient or {})
        self._salt_secret = transient.pop(SALT_TRANSIENT_KEY, None)
        self.transient: Mapping[str, bytes] = transient
        self._reads: dict[str, Version | None] = {}
        self._writes: dict[str, KVWrite] = {}
        self._ranges: list[RangeRead] = []
        self._policy_writes: dict[str, str] = {}
        self._events: list[ContractEvent] = []
        self._private: dict[str, _Collection] = {}

    # -- time and identity ------------------------------------------------------------------------------------

    @property
    def timestamp(self) -> datetime:
        """The proposal's timestamp (UTC): the contract's only clock."""
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)

    # -- public state ----------------------------------------------------------------------------------------

    def get_state(self, key: str) -> Any | None:
        """The JSON value of ``key`` (this transaction's own write if it made one), or None."""
        _check_key(key)
        written = self._writes.get(key)
        if written is not None:
            return None if written.is_delete else _decode(written.value)
        current = self._state.get(self.namespace, key)
        if key not in self._reads:
            self._reads[key] = current.version if current else None
        return _decode(current.value) if current else None

    def put_state(self, key: str, value: Any) -> None:
        """Write a JSON value under ``key``."""
        self._check_writable()
        _check_key(key)
        if value is None:
            raise ContractError(f"cannot store null under {key!r}; use delete_state to remove a key")
        try:
            encoded = canonical_json(value)
        except ValueError as exc:
            raise ContractError(f"value for {key!r}: {exc}") from None
        self._writes[key] = KVWrite(key, encoded, False)

    def delete_state(self, key: str) -> None:
        """Delete ``key``."""
        self._check_writable()
        _check_key(key)
        self._writes[key] = KVWrite(key, b"", True)

    def get_range(self, start: str, end: str = "", limit: int | None = None) -> list[tuple[str, Any]]:
        """Keys in [start, end) with their values, in key order (committed state; phantom-checked)."""
        if not isinstance(start, str) or not isinstance(end, str):
            raise ContractError("range bounds must be strings")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ContractError("range limit must be a positive integer")
        rows = self._state.range(self.namespace, start, end, None if limit is None else limit + 1)
        exhausted = limit is None or len(rows) <= limit
        rows = rows[:limit] if limit is not None else rows
        self._ranges.append(RangeRead(start, end, exhausted, tuple(KVRead(key, value.version) for key, value in rows)))
        return [(key, _decode(value.value)) for key, value in rows]

    def get_prefix(self, prefix: str, limit: int | None = None) -> list[tuple[str, Any]]:
        """All keys starting with ``prefix`` (a range scan)."""
        return self.get_range(prefix, prefix_end(prefix), limit)

    def query(self, query: Any) -> list[tuple[str, Any]]:
        """Rich query over JSON values (Mango-style selector); results are recorded as reads."""
        try:
            rows = self._state.query(self.namespace, query)
        except ValueError as exc:
            raise ContractError(f"bad query: {exc}") from None
        for key, value in rows:
            self._reads.setdefault(key, value.version)
        return [(key, _decode(value.value)) for key, value in rows]

    def get_history(self, key: str, limit: int = 1000) -> list[dict[str, Any]]:
        """Every committed write of ``key``, newest first (not MVCC-checked, as in Fabric)."""
        _check_key(key)
        return [
            {
                "tx_id": entry.tx_id,
                "block": entry.block,
                "tx": entry.tx,
                "timestamp_ms": entry.timestamp_ms,
                "is_delete": entry.value is None,
                "value": None if entry.value is None else _decode(entry.value),
            }
            for entry in self._state.history(self.namespace, key, limit)
        ]

    # -- key-level endorsement policies ----------------------------------------------------------------------

    def set_key_policy(self, key: str, policy: str | None) -> None:
        """Require ``policy`` (e.g. ``"AND('Org1.peer','Org3.peer')"``) to endorse later writes of ``key``."""
        self._check_writable()
        _check_key(key)
        if policy:
            from consortia.policy import PolicySyntaxError, parse_policy

            try:
                parse_policy(policy)
            except PolicySyntaxError as exc:
                raise ContractError(f"key policy for {key!r}: {exc}") from None
        self._policy_writes[key] = policy or ""

    def get_key_policy(self, key: str) -> str | None:
        """The key-level endorsement policy of ``key``, if set."""
        _check_key(key)
        if key in self._policy_writes:
            return self._policy_writes[key] or None
        return self._state.key_policy(self.namespace, key)

    # -- events ----------------------------------------------------------------------------------------------

    def set_event(self, name: str, payload: Any = None) -> None:
        """Emit an event delivered to subscribers when the transaction commits as valid."""
        if not isinstance(name, str) or not name:
            raise ContractError("an event needs a non-empty name")
        try:
            self._events.append(ContractEvent(name, canonical_json(payload)))
        except ValueError as exc:
            raise ContractError(f"event {name!r}: {exc}") from None

    # -- private data ----------------------------------------------------------------------------------------

    def _collection(self, name: str) -> CollectionConfig:
        config = self._collections.get(name)
        if config is None:
            known = ", ".join(sorted(self._collections)) or "none"
            raise ContractError(f"contract {self.namespace!r} has no private data collection {name!r} (has: {known})")
        return config

    def _record(self, name: str) -> _Collection:
        return self._private.setdefault(name, _Collection())

    def _check_private_read(self, config: CollectionConfig) -> None:
        if config.member_only_read and not config.is_member(self.caller.org):
            raise ContractError(
                f"{self.caller.org} is not a member of collection {config.name!r} "
                f"(members: {', '.join(config.members)}): read refused"
            )
        if not config.is_member(self.peer_org):
            raise ContractError(
                f"this peer's organisation {self.peer_org} is not a member of collection {config.name!r} "
                f"and holds none of its data; ask a peer of {', '.join(config.members)}"
            )

    def get_private(self, collection: str, key: str) -> Any | None:
        """The JSON value of a private key (member organisations only), or None (absent or purged)."""
        config = self._collection(collection)
        _check_key(key)
        self._check_private_read(config)
        record = self._record(collection)
        written = record.writes.get(key)
        if written is not None:
            return None if (written.is_delete or written.is_purge) else _decode(written.value)
        hashed = self._state.hashed_get(self.namespace, collection, key_hash(key))
        record.reads.setdefault(key_hash(key), hashed[1] if hashed else None)
        plain = self._state.private_get(self.namespace, collection, key)
        return _decode(plain.value) if plain else None

    def get_private_hash(self, collection: str, key: str) -> str | None:
        """Hex of the salted hash the ledger holds for a private key (anyone may ask), or None."""
        self._collection(collection)
        _check_key(key)
        hashed = self._state.hashed_get(self.namespace, collection, key_hash(key))
        self._record(collection).reads.setdefault(key_hash(key), hashed[1] if hashed else None)
        return hashed[0].hex() if hashed else None

    def _check_private_write(self, config: CollectionConfig) -> None:
        self._check_writable()
        if config.member_only_write and not config.is_member(self.caller.org):
            raise ContractError(f"{self.caller.org} may not write collection {config.name!r}", code="FORBIDDEN")

    def _salt(self, collection: str, key: str) -> bytes:
        if self._salt_secret is None:
            raise ContractError(
                f"private write to {collection!r} needs a salt secret in the transient data "
                f"({SALT_TRANSIENT_KEY!r}); the Consortia SDK adds one to every proposal"
            )
        message = f"{self.tx_id}\x00{self.namespace}\x00{collection}\x00{key}".encode()
        return hmac.new(self._salt_secret, message, hashlib.sha256).digest()

    def put_private(self, collection: str, key: str, value: Any) -> None:
        """Write a private JSON value: plaintext to member peers, salted hash to the ledger."""
        config = self._collection(collection)
        _check_key(key)
        self._check_private_write(config)
        if value is None:
            raise ContractError("cannot store null; use delete_private")
        try:
            encoded = canonical_json(value)
        except ValueError as exc:
            raise ContractError(f"private value for {key!r}: {exc}") from None
        self._record(collection).writes[key] = PrivateWrite(key, encoded, self._salt(collection, key), False, False)

    def delete_private(self, collection: str, key: str) -> None:
        """Delete a private key (plaintext and hash)."""
        config = self._collection(collection)
        _check_key(key)
        self._check_private_write(config)
        self._record(collection).writes[key] = PrivateWrite(key, b"", b"", True, False)

    def purge_private(self, collection: str, key: str) -> None:
        """Erase a private key's plaintext from every member peer (members only); its hash stays on the ledger."""
        config = self._collection(collection)
        _check_key(key)
        self._check_private_write(config)
        if not config.is_member(self.caller.org):
            # Erasing is never open to outsiders, whatever the collection lets them write.
            raise ContractError(
                f"{self.caller.org} is not a member of collection {config.name!r} and may not purge its data"
            )
        self._record(collection).writes[key] = PrivateWrite(key, b"", b"", False, True)

    # -- results ---------------------------------------------------------------------------------------------

    def _check_writable(self) -> None:
        if self.read_only:
            raise ContractError("this function is read-only (evaluate): it cannot write")

    def rwset(self) -> NamespaceRWSet:
        """The namespace read-write set this simulation produced (sorted, hence deterministic)."""
        collections = []
        for name in sorted(self._private):
            record = self._private[name]
            hashed_writes = []
            for key in sorted(record.writes):
                write = record.writes[key]
                value_hash = b"" if (write.is_delete or write.is_purge) else salted_value_hash(write.salt, write.value)
                hashed_writes.append(HashedWrite(key_hash(key), value_hash, write.is_delete, write.is_purge))
            collections.append(
                CollectionRWSet(
                    name,
                    tuple(HashedRead(kh, v) for kh, v in sorted(record.reads.items())),
                    tuple(hashed_writes),
                )
            )
        return NamespaceRWSet(
            namespace=self.namespace,
            reads=tuple(KVRead(key, version) for key, version in sorted(self._reads.items())),
            ranges=tuple(self._ranges),
            writes=tuple(self._writes[key] for key in sorted(self._writes)),
            policy_writes=tuple(PolicyWrite(key, self._policy_writes[key]) for key in sorted(self._policy_writes)),
            collections=tuple(collections),
        )

    def private_writes(self) -> list[PrivateWrites]:
        """The plaintext of this simulation's private writes, one entry per collection."""
        return [
            PrivateWrites(self.tx_id, self.namespace, name, tuple(record.writes[k] for k in sorted(record.writes)))
            for name, record in sorted(self._private.items())
            if record.writes
        ]

    def events(self) -> tuple[ContractEvent, ...]:
        """Events emitted, in order."""
        return tuple(self._events)
