"""Validation: every peer decides on its own, transaction by transaction, which ones change the state.

The ordering service fixes the order but checks little; a peer trusts nothing it did not check itself. For each
transaction of a block, in order, a peer checks that:

1. the envelope is well formed and canonically encoded, and belongs to this channel;
2. the transaction id is SHA-256(nonce ‖ creator) and the creator's certificate is a member's, valid at the
   block's time, and the creator's signature over the envelope verifies (``NOT_A_MEMBER``, ``BAD_SIGNATURE``);
3. the id was never seen before (``DUPLICATE_TXID``);
4. the contract is defined on the channel with the version endorsed (``UNKNOWN_CONTRACT``);
5. the endorsements — signatures of member peers over the same response bytes — satisfy the contract's
   endorsement policy, or the key-level policy of every key written that has one
   (``ENDORSEMENT_POLICY_FAILURE``);
6. every version read is still current, counting the writes of earlier valid transactions of this block
   (``MVCC_READ_CONFLICT``), and every range scanned still returns exactly the same keys
   (``PHANTOM_READ_CONFLICT``).

A block holding one configuration transaction alone (after the genesis block) is judged instead by
:func:`consortia.channel.update.judge_update` under the configuration in force (``CONFIG_REJECTED``,
``CONFIG_POLICY_FAILURE``); when valid, its :class:`~consortia.channel.update.ConfigRecord` is written to the
state and :attr:`ValidatedBlock.config` tells the peer to judge the next block under the new rules. A creator or
endorser whose certificate its CA has revoked is ``REVOKED_CERTIFICATE`` (an endorsement by one does not count).

Signature checks are independent of each other, so they are collected first and verified in parallel; the
order-dependent checks (duplicates, policies that may change within the block, MVCC) run sequentially after.
Valid transactions are applied to an in-memory :class:`~consortia.ledger.updates.UpdateBatch` that later
transactions read through, and the batch is committed with the block in one database transaction.
:meth:`BlockValidator.validate` returns a :class:`ValidatedBlock`: the codes, the batch and one
:class:`~consortia.peer.outcome.TxOutcome` per transaction.

Beside it, :meth:`BlockValidator.replay` recomputes the updates of a block that was validated before — its codes
are stored with it — when a peer restarts after a crash between storing a block and applying its updates. It
checks nothing again: it applies the transactions the stored codes call valid. ``consortia verify`` re-validates
a whole ledger from scratch with :meth:`~BlockValidator.validate` and compares the codes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import msgspec

from consortia.channel.rules import ChannelRules, read_genesis
from consortia.channel.update import (
    CONFIG_KEY,
    CONFIG_NAMESPACE,
    AcceptedUpdate,
    ConfigRecord,
    ConfigRefused,
    encode_record,
    genesis_record,
    is_config_block,
    judge_envelope,
    record_of,
)
from consortia.contracts.collections_config import CollectionConfig
from consortia.contracts.context import key_hash, salted_value_hash
from consortia.contracts.lifecycle import LIFECYCLE, ContractDefinition, definition_from_json, definition_key
from consortia.identity import CertInfo, Kind, MembershipError
from consortia.identity.batch import SignatureJob, verify_many
from consortia.ledger.block import Block
from consortia.ledger.codes import Code
from consortia.ledger.config import ChannelConfig
from consortia.ledger.encoding import MalformedError, decode, parse_json, sha256
from consortia.ledger.rwset import NamespaceRWSet, PrivateWrites, RangeRead, Version
from consortia.ledger.statedb import StateDB
from consortia.ledger.transaction import (
    NotATransaction,
    Proposal,
    ResponsePayload,
    compute_tx_id,
    open_envelope,
)
from consortia.ledger.updates import (
    HashedWrite,
    HistoryRecord,
    KeyWrite,
    PrivateEntry,
    Purge,
    TxIdRecord,
    UpdateBatch,
)
from consortia.peer.outcome import TxOutcome
from consortia.policy import Signer, parse_policy_cached, satisfied

log = logging.getLogger(__name__)

_CLIENT_KINDS = frozenset({Kind.CLIENT, Kind.ADMIN})
_PEER_KINDS = frozenset({Kind.PEER})

# Transactions whose creator was authenticated: their ids are used up, whatever else failed. (Ids of forged or
# unreadable transactions are not recorded, or a forger could burn another client's transaction id.)
_RECORDED_CODES = frozenset(
    {
        Code.VALID,
        Code.MVCC_READ_CONFLICT,
        Code.PHANTOM_READ_CONFLICT,
        Code.ENDORSEMENT_POLICY_FAILURE,
        Code.UNKNOWN_CONTRACT,
        Code.BAD_RWSET,
        Code.CONTRACT_VERSION_MISMATCH,
    }
)

TransientSource = Callable[[str], list[tuple[str, str, bytes]]]


@dataclass(frozen=True)
class ValidatedBlock:
    """A block's verdict: one validation code per transaction, the state updates, and the outcomes to publish."""

    codes: bytes
    batch: UpdateBatch
    outcomes: tuple[TxOutcome, ...]
    config: ChannelConfig | None = None
    """The configuration this block put in force (a valid configuration block), else None."""


@dataclass
class _Tx:
    index: int
    envelope_bytes: bytes
    code: Code = Code.VALID
    detail: str = ""
    proposal: Proposal | None = None
    payload: ResponsePayload | None = None
    creator: CertInfo | None = None
    endorsers: list[CertInfo] = field(default_factory=list)
    signature_jobs: range = range(0)
    authenticated: bool = False

    def fail(self, code: Code, detail: str) -> None:
        if self.code == Code.VALID:
            self.code, self.detail = code, detail


@lru_cache(maxsize=4096)
def _definition_from_bytes(value: bytes) -> ContractDefinition | None:
    try:
        return definition_from_json(parse_json(value))
    except (ValueError, msgspec.ValidationError):
        # Only a colluding majority of lifecycle endorsers could store this; treat the contract as undefined
        # rather than let one unreadable definition stop the channel.
        log.error("unreadable contract definition on the ledger: %r", value[:200])
        return None


def _is_json(value: bytes) -> bool:
    try:
        parse_json(value)
    except ValueError:
        return False
    return True


class BlockValidator:
    """Validates the transactions of one channel's blocks against a state database."""

    def __init__(
        self, rules: ChannelRules, state: StateDB, peer_org: str | None, transient: TransientSource | None = None
    ) -> None:
        self.state = state
        self.peer_org = peer_org
        self.transient = transient or (lambda tx_id: [])
        self._prefetched: dict[tuple[str, str], Version] = {}
        self._prefetch_complete = False
        self.use_rules(rules)

    def use_rules(self, rules: ChannelRules) -> None:
        """Judge the following blocks under ``rules`` (a configuration block changed them)."""
        self.rules = rules
        self._definitions: dict[str, ContractDefinition | None] = {}
        self._lifecycle_definition = ContractDefinition(LIFECYCLE, "1", 1, "", rules.lifecycle_policy_text, ())

    # -- decoding and signatures (order-independent) ----------------------------------------------------------

    def _decode(self, tx: _Tx, at_ms: int, jobs: list[SignatureJob]) -> None:
        channel = self.rules.name
        try:
            opened = open_envelope(tx.envelope_bytes)
            payload = opened.payload
        except NotATransaction:
            tx.fail(Code.CONFIG_REJECTED, "a configuration transaction must be alone in its block")
            return
        except MalformedError as exc:
            tx.fail(Code.BAD_PAYLOAD, str(exc))
            return
        envelope, transaction = opened.envelope, opened.transaction
        tx.proposal = proposal = opened.proposal
        tx.payload = payload
        if proposal.channel != channel:
            tx.fail(Code.WRONG_CHANNEL, f"transaction is for channel {proposal.channel!r}, not {channel!r}")
            return
        if compute_tx_id(proposal.nonce, proposal.creator) != proposal.tx_id:
            tx.fail(Code.BAD_TXID, "transaction id is not SHA-256(nonce ‖ creator)")
            return
        try:
            tx.creator = self.rules.members.validate(proposal.creator, at_ms=at_ms, kinds=_CLIENT_KINDS)
        except MembershipError as exc:
            revoked = exc.code == MembershipError.REVOKED_CERTIFICATE
            tx.fail(Code.REVOKED_CERTIFICATE if revoked else Code.NOT_A_MEMBER, f"creator: {exc.message}")
            return
        if payload.proposal_hash != sha256(transaction.proposal):
            tx.fail(Code.BAD_RESPONSE, "endorsed response does not belong to this proposal")
            return
        if payload.response.status != 200:
            tx.fail(Code.BAD_RESPONSE, f"endorsed response has status {payload.response.status}")
            return
        if payload.contract != proposal.contract:
            tx.fail(Code.BAD_RESPONSE, "endorsed response names another contract")
            return
        start = len(jobs)
        jobs.append((tx.creator.public_key, envelope.payload, envelope.signature))
        for endorsement in transaction.endorsements:
            try:
                info = self.rules.members.validate(endorsement.endorser, at_ms=at_ms, kinds=_PEER_KINDS)
            except MembershipError as exc:
                # A non-member's endorsement simply does not count towards the policy.
                tx.detail = f"ignored endorsement: {exc.message}"
                continue
            tx.endorsers.append(info)
            jobs.append((info.public_key, transaction.response, endorsement.signature))
        tx.signature_jobs = range(start, len(jobs))

    # -- state lookups through the block's pending updates ---------------------------------------------------

    def _version(self, batch: UpdateBatch, ns: str, key: str) -> Version | None:
        pending = batch.state.get((ns, key))
        if pending is not None:
            return None if pending.value is None else pending.version
        if self._prefetch_complete:
            return self._prefetched.get((ns, key))
        return self.state.get_version(ns, key)

    def _prefetch_versions(self, txs: list[_Tx]) -> None:
        """Read the committed versions of every key the block's transactions read, in one query."""
        keys = [
            (ns.namespace, read.key)
            for tx in txs
            if tx.code == Code.VALID and tx.payload is not None
            for ns in tx.payload.rwset.namespaces
            for read in ns.reads
        ]
        self._prefetched = self.state.versions(keys)
        self._prefetch_complete = True

    def _key_policy(self, batch: UpdateBatch, ns: str, key: str) -> str | None:
        if (ns, key) in batch.policies:
            return batch.policies[(ns, key)] or None
        pending = batch.state.get((ns, key))
        if pending is not None and pending.value is None:
            return None  # deleted keys lose their policy
        if not self.state.has_key_policies(ns):
            return None
        return self.state.key_policy(ns, key)

    def _hashed_version(self, batch: UpdateBatch, ns: str, coll: str, khash: bytes) -> Version | None:
        pending = batch.hashed.get((ns, coll, khash))
        if pending is not None:
            return None if pending.value_hash is None else pending.version
        found = self.state.hashed_get(ns, coll, khash)
        return found[1] if found else None

    def definition(self, batch: UpdateBatch | None, name: str) -> ContractDefinition | None:
        """The committed definition of a contract, as of the transactions applied so far."""
        if name == LIFECYCLE:
            return self._lifecycle_definition
        key = definition_key(name)
        pending = batch.state.get((LIFECYCLE, key)) if batch is not None else None
        if pending is not None:
            return _definition_from_bytes(pending.value) if pending.value else None
        if name in self._definitions:
            return self._definitions[name]
        current = self.state.get(LIFECYCLE, key)
        definition = _definition_from_bytes(current.value) if current else None
        self._definitions[name] = definition
        return definition

    def invalidate_definitions(self) -> None:
        """Forget cached definitions (after a block that changed the lifecycle namespace was applied)."""
        self._definitions = {}

    def _range_now(self, batch: UpdateBatch, ns: str, query: RangeRead) -> list[tuple[str, Version]]:
        rows = {key: value.version for key, value in self.state.range(ns, query.start, query.end)}
        for (pending_ns, key), pending in batch.state.items():
            if pending_ns != ns or key < query.start or (query.end and key >= query.end):
                continue
            if pending.value is None:
                rows.pop(key, None)
            else:
                rows[key] = pending.version
        return sorted(rows.items())

    # -- order-dependent checks ------------------------------------------------------------------------------

    def _check_policy(
        self, tx: _Tx, batch: UpdateBatch, definition: ContractDefinition, rwset: NamespaceRWSet, signers: list[Signer]
    ) -> bool:
        written = {w.key for w in rwset.writes} | {p.key for p in rwset.policy_writes}
        needs_contract_policy = not written
        for key in sorted(written):
            policy_text = self._key_policy(batch, rwset.namespace, key)
            if policy_text is None:
                needs_contract_policy = True
            elif not satisfied(parse_policy_cached(policy_text), signers):
                tx.fail(Code.ENDORSEMENT_POLICY_FAILURE, f"key-level policy {policy_text} of {key!r} not met")
                return False
        if needs_contract_policy and not satisfied(parse_policy_cached(definition.policy), signers):
            orgs = ", ".join(sorted({s.org for s in signers})) or "nobody"
            tx.fail(Code.ENDORSEMENT_POLICY_FAILURE, f"policy {definition.policy} not met (endorsed by {orgs})")
            return False
        return True

    def _check_reads(self, tx: _Tx, batch: UpdateBatch, rwset: NamespaceRWSet) -> bool:
        ns = rwset.namespace
        for read in rwset.reads:
            if self._version(batch, ns, read.key) != read.version:
                tx.fail(Code.MVCC_READ_CONFLICT, f"key {read.key!r} changed after it was read")
                return False
        for coll in rwset.collections:
            for hashed in coll.reads:
                if self._hashed_version(batch, ns, coll.collection, hashed.key_hash) != hashed.version:
                    tx.fail(Code.MVCC_READ_CONFLICT, f"a private key of {coll.collection!r} changed after it was read")
                    return False
        for query in rwset.ranges:
            now = self._range_now(batch, ns, query)
            seen = [(read.key, read.version) for read in query.results]
            if not query.exhausted:
                last = seen[-1][0] if seen else ""
                now = [row for row in now if row[0] <= last]
            if now != seen:
                tx.fail(
                    Code.PHANTOM_READ_CONFLICT, f"range [{query.start!r}, {query.end!r}) returns different keys now"
                )
                return False
        return True

    def _check(self, tx: _Tx, batch: UpdateBatch, seen: set[str]) -> ContractDefinition | None:
        proposal, payload = tx.proposal, tx.payload
        assert proposal is not None and payload is not None
        if proposal.tx_id in seen:
            tx.fail(Code.DUPLICATE_TXID, f"transaction id {proposal.tx_id} was already used")
            return None
        seen.add(proposal.tx_id)
        definition = self.definition(batch, proposal.contract)
        if definition is None:
            tx.fail(Code.UNKNOWN_CONTRACT, f"contract {proposal.contract!r} is not committed on this channel")
            return None
        if payload.version != definition.version:
            tx.fail(
                Code.CONTRACT_VERSION_MISMATCH,
                f"endorsed with version {payload.version}, the channel runs {definition.version}",
            )
            return None
        namespaces = payload.rwset.namespaces
        if len(namespaces) > 1 or any(ns.namespace != proposal.contract for ns in namespaces):
            tx.fail(Code.BAD_RWSET, f"a transaction of {proposal.contract!r} may only touch its own state")
            return None
        for ns in namespaces:
            for write in ns.writes:
                if not write.is_delete and not _is_json(write.value):
                    tx.fail(Code.BAD_RWSET, f"the value written to {write.key!r} is not a JSON document")
                    return None
            for coll in ns.collections:
                if definition.collection(coll.collection) is None:
                    tx.fail(Code.BAD_RWSET, f"contract has no collection {coll.collection!r}")
                    return None
        signers = [Signer(info.org, info.kind.value, info.cert_hash) for info in tx.endorsers]
        for ns in namespaces:
            if not self._check_policy(tx, batch, definition, ns, signers):
                return None
        if not namespaces and not satisfied(parse_policy_cached(definition.policy), signers):
            tx.fail(Code.ENDORSEMENT_POLICY_FAILURE, f"policy {definition.policy} not met")
            return None
        for ns in namespaces:
            if not self._check_reads(tx, batch, ns):
                return None
        return definition

    # -- applying --------------------------------------------------------------------------------------------

    def _apply(self, tx: _Tx, batch: UpdateBatch, block_number: int, definition: ContractDefinition | None) -> None:
        proposal, payload = tx.proposal, tx.payload
        assert proposal is not None and payload is not None
        version = Version(block_number, tx.index)
        private_plain: dict[tuple[str, str], PrivateWrites] | None = None
        for ns in payload.rwset.namespaces:
            for write in ns.writes:
                value = None if write.is_delete else write.value
                batch.state[(ns.namespace, write.key)] = KeyWrite(value, version)
                batch.history.append(
                    HistoryRecord(
                        ns.namespace, write.key, block_number, tx.index, proposal.tx_id, value, proposal.timestamp_ms
                    )
                )
                if write.is_delete:
                    batch.policies[(ns.namespace, write.key)] = None
            for policy_write in ns.policy_writes:
                batch.policies[(ns.namespace, policy_write.key)] = policy_write.policy or None
            for coll in ns.collections:
                config = definition.collection(coll.collection) if definition else None
                member = config is not None and self.peer_org is not None and config.is_member(self.peer_org)
                if member and private_plain is None:
                    private_plain = self._private_plaintext(proposal.tx_id)
                plain = (private_plain or {}).get((ns.namespace, coll.collection)) if member else None
                self._apply_collection(
                    batch, ns.namespace, coll.collection, coll.writes, plain, config, version, proposal.tx_id
                )
        batch.transient_done.append(proposal.tx_id)

    def _private_plaintext(self, tx_id: str) -> dict[tuple[str, str], PrivateWrites]:
        found = {}
        for ns, coll, data in self.transient(tx_id):
            try:
                found[(ns, coll)] = decode(data, PrivateWrites)
            except MalformedError:
                log.warning("transient private data of %s is unreadable", tx_id)
        return found

    def _apply_collection(
        self,
        batch: UpdateBatch,
        ns: str,
        coll: str,
        writes: tuple,
        plain: PrivateWrites | None,
        config: CollectionConfig | None,
        version: Version,
        tx_id: str,
    ) -> None:
        by_hash = {key_hash(w.key): w for w in plain.writes} if plain else {}
        for write in writes:
            if write.is_purge:
                plain_write = by_hash.get(write.key_hash)
                if plain_write is not None:
                    batch.private[(ns, coll, plain_write.key)] = None
                batch.purges.append(Purge(ns, coll, write.key_hash, version.block, f"purged by {tx_id}"))
                continue
            value_hash = None if write.is_delete else write.value_hash
            batch.hashed[(ns, coll, write.key_hash)] = HashedWrite(value_hash, version)
            plain_write = by_hash.get(write.key_hash)
            if plain_write is None:
                if plain is not None or (config is not None and self.peer_org in config.members):
                    log.warning("missing private data for %s in %s/%s", tx_id, ns, coll)
                continue
            if write.is_delete:
                batch.private[(ns, coll, plain_write.key)] = None
                continue
            if salted_value_hash(plain_write.salt, plain_write.value) != write.value_hash:
                log.warning("private data for %s in %s/%s does not match its hash; not stored", tx_id, ns, coll)
                continue
            expires = version.block + config.blocks_to_live + 1 if config and config.blocks_to_live else 0
            entry = PrivateEntry(plain_write.value, plain_write.salt, version, expires)
            batch.private[(ns, coll, plain_write.key)] = entry

    def _expire_private(self, batch: UpdateBatch, block_number: int) -> None:
        for ns, coll, key in self.state.expired_private(block_number):
            batch.private[(ns, coll, key)] = None
            batch.purges.append(Purge(ns, coll, key_hash(key), block_number, "blocks-to-live expired"))

    # -- the block -------------------------------------------------------------------------------------------

    def _open_block(self, block: Block) -> tuple[list[_Tx], list[SignatureJob]]:
        txs = [_Tx(index, envelope) for index, envelope in enumerate(block.transactions)]
        jobs: list[SignatureJob] = []
        for tx in txs:
            self._decode(tx, block.header.timestamp_ms, jobs)
        return txs, jobs

    @staticmethod
    def _authenticate(txs: list[_Tx], jobs: list[SignatureJob]) -> None:
        """Verify every signature of the block at once; keep only the endorsements that verify."""
        results = verify_many(jobs)
        for tx in txs:
            if tx.code != Code.VALID or not tx.signature_jobs:
                continue
            first = tx.signature_jobs.start
            if not results[first]:
                tx.fail(Code.BAD_SIGNATURE, "creator's signature over the transaction does not verify")
                continue
            tx.authenticated = True
            tx.endorsers = [
                info for info, ok in zip(tx.endorsers, results[first + 1 : tx.signature_jobs.stop], strict=True) if ok
            ]

    def _record(self, tx: _Tx, batch: UpdateBatch, number: int, definition: ContractDefinition | None) -> None:
        """Apply a transaction's effects if it is valid, and use up its id if its creator was authenticated."""
        if tx.code == Code.VALID:
            self._apply(tx, batch, number, definition)
        if tx.proposal is not None and tx.code in _RECORDED_CODES:
            batch.txids.append(TxIdRecord(tx.proposal.tx_id, number, tx.index, int(tx.code)))

    @staticmethod
    def _outcome(tx: _Tx) -> TxOutcome:
        return TxOutcome(
            index=tx.index,
            tx_id=tx.proposal.tx_id if tx.proposal else "",
            code=tx.code,
            detail=tx.detail,
            contract=tx.proposal.contract if tx.proposal else "",
            function=tx.proposal.function if tx.proposal else "",
            creator_org=tx.creator.org if tx.creator else "",
            events=tx.payload.events if (tx.payload and tx.code == Code.VALID) else (),
        )

    def _config_block(self, block: Block, update: AcceptedUpdate | None, code: Code, detail: str) -> ValidatedBlock:
        """The verdict on a configuration block: its record written to the state when the update is valid."""
        number = block.header.number
        batch = UpdateBatch(height=number + 1)
        self._expire_private(batch, number)
        if update is not None:
            write_config_record(batch, record_of(update, number, block.header.timestamp_ms))
            detail = f"channel configuration version {update.config.version}, signed by {', '.join(update.signers)}"
        outcome = TxOutcome(index=0, tx_id="", code=code, detail=detail, function="config")
        return ValidatedBlock(bytes([int(code)]), batch, (outcome,), update.config if update else None)

    def validate(self, block: Block) -> ValidatedBlock:
        """Judge every transaction of a block in order; return its codes, state updates and outcomes."""
        number = block.header.number
        if is_config_block(block):
            try:
                update = judge_envelope(self.rules, block.transactions[0], block.header.timestamp_ms)
            except ConfigRefused as refused:
                return self._config_block(block, None, refused.code, refused.message)
            return self._config_block(block, update, Code.VALID, "")
        txs, jobs = self._open_block(block)
        self._authenticate(txs, jobs)
        seen = self.state.tx_seen(tx.proposal.tx_id for tx in txs if tx.authenticated and tx.proposal)
        batch = UpdateBatch(height=number + 1)
        self._expire_private(batch, number)
        self._prefetch_versions(txs)
        try:
            for tx in txs:
                definition = self._check(tx, batch, seen) if tx.code == Code.VALID else None
                self._record(tx, batch, number, definition)
        finally:
            self._prefetched, self._prefetch_complete = {}, False
        codes = bytes(int(tx.code) for tx in txs)
        return ValidatedBlock(codes, batch, tuple(self._outcome(tx) for tx in txs))

    def replay(self, block: Block, codes: bytes) -> UpdateBatch:
        """The state updates of a block validated before, from its stored codes (crash recovery; no checks)."""
        number = block.header.number
        if is_config_block(block):
            # A configuration block is rare and small: judge it again to rebuild its record (the stored code says
            # it was valid under the rules in force, which the peer restores before replaying the next block).
            return self.validate(block).batch
        txs, _ = self._open_block(block)
        if len(codes) != len(txs):
            raise ValueError(f"block {number}: {len(codes)} stored codes for {len(txs)} transactions")
        batch = UpdateBatch(height=number + 1)
        self._expire_private(batch, number)
        for tx, code in zip(txs, codes, strict=True):
            tx.code, tx.detail = Code(code), ""
            definition = None
            if tx.code == Code.VALID and tx.proposal is not None:
                definition = self.definition(batch, tx.proposal.contract)
            self._record(tx, batch, number, definition)
        return batch


def write_config_record(batch: UpdateBatch, record: ConfigRecord) -> None:
    """Put a configuration record in the state (and its key history) as part of ``batch``."""
    value = encode_record(record)
    version = Version(record.block, 0)
    batch.state[(CONFIG_NAMESPACE, CONFIG_KEY)] = KeyWrite(value, version)
    batch.history.append(HistoryRecord(CONFIG_NAMESPACE, CONFIG_KEY, record.block, 0, "", value, record.timestamp_ms))


def genesis_batch(genesis: Block) -> UpdateBatch:
    """The state updates of the genesis block: the record of configuration version 0."""
    config, transaction = read_genesis(genesis)
    batch = UpdateBatch(height=1)
    write_config_record(batch, genesis_record(config, transaction, genesis.header.timestamp_ms))
    return batch
