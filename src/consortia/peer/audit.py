"""The audit: proving, from the files alone, that nobody rewrote a ledger.

``consortia verify`` opens every ledger in a data folder read-only — each peer's copy of each channel and the
orderer's — and re-derives everything a peer derived when it committed:

1. every block record is intact (record marker, length, checksum) and the index points where it should;
2. the genesis block's configuration is signed by an admin of every member organisation;
3. each header chains to the previous one, its Merkle root matches its transactions, its history-tree root and
   size match the ledger-wide tree, and the orderer's signature verifies against the ordering CAs of the
   configuration in force at its height;
4. every transaction is validated again, from scratch, against a state rebuilt from the blocks — client and
   endorser signatures, membership, revocations, endorsement policies, MVCC — under the configuration in force
   at its height (a configuration block is judged as an update, and a valid one changes the rules from the next
   block on), and the codes must equal the stored ones;
5. the rebuilt state must equal the peer's state database, row for row;
6. every private value a peer holds must hash to the salted hash the ledger committed to.

The first failure is reported with the block it is in. Purged private data is simply absent, so erasure does not
break the audit.
"""

from __future__ import annotations

import tempfile
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from consortia.channel.rules import ConfigError, check_config_signatures, read_genesis, rules_from_config
from consortia.contracts.context import key_hash, salted_value_hash
from consortia.ledger.block import Block, BlockRecord
from consortia.ledger.blockstore import BlockStore, BlockStoreError
from consortia.ledger.chain import ChainError, check_block
from consortia.ledger.codes import Code, code_name
from consortia.ledger.config import ChannelConfig
from consortia.ledger.encoding import MalformedError, decode_canonical
from consortia.ledger.merkle import CompactRange
from consortia.ledger.snapshot import SnapshotError, joined_snapshot
from consortia.ledger.statedb import StateDB
from consortia.peer.validator import BlockValidator, genesis_batch


@dataclass
class LedgerReport:
    """The audit of one ledger copy."""

    node: str
    channel: str
    path: str
    blocks: int = 0
    transactions: int = 0
    valid: int = 0
    ok: bool = True
    bad_block: int | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    config_blocks: list[int] = field(default_factory=list)
    """Blocks that put a new configuration version in force."""
    snapshot_height: int = 0
    """The height of the snapshot the ledger started from (0: it holds every block from the genesis block)."""

    def fail(self, block: int | None, error: str) -> None:
        """Record the first failure."""
        if self.ok:
            self.ok, self.bad_block, self.error = False, block, error


class _Failed(Exception):
    def __init__(self, block: int | None, reason: str) -> None:
        super().__init__(reason)
        self.block = block
        self.reason = reason


def _read_block(store: BlockStore, number: int, *, peer: bool) -> tuple[bytes, Block, bytes | None]:
    try:
        payload = store.read(number)
    except BlockStoreError as exc:
        raise _Failed(number, str(exc)) from None
    try:
        if peer:
            record = decode_canonical(payload, BlockRecord)
            return record.block, decode_canonical(record.block, Block), record.codes
        return payload, decode_canonical(payload, Block), None
    except MalformedError as exc:
        raise _Failed(number, f"block {number}: {exc}") from None


def audit_ledger(directory: Path, node: str, channel: str, *, peer: bool = True) -> LedgerReport:
    """Audit one ledger copy (a peer's channel folder, or the orderer's)."""
    report = LedgerReport(node, channel, str(directory))
    try:
        store = BlockStore(directory / "blocks", read_only=True)
    except BlockStoreError as exc:
        report.fail(None, str(exc))
        return report
    try:
        _audit(store, directory, report, peer=peer)
    except _Failed as exc:
        report.fail(exc.block, exc.reason)
    finally:
        store.close()
    return report


def _audit(store: BlockStore, directory: Path, report: LedgerReport, *, peer: bool) -> None:
    for repair in store.index_repairs:
        report.warnings.append(f"block store: {repair} (in memory for this audit; the node repairs it on start)")
    try:
        store.check_index()
    except BlockStoreError as exc:
        raise _Failed(exc.block, str(exc)) from None
    if store.height == 0:
        raise _Failed(None, "ledger holds no blocks")
    try:
        joined = joined_snapshot(directory) if peer and store.base > 0 else None
    except SnapshotError as exc:
        raise _Failed(store.base, str(exc)) from None
    genesis, genesis_codes = None, None
    if joined is not None:
        # A peer that joined from a snapshot is audited from it: the snapshot was checked against the orderers'
        # header when the peer joined, and is checked again here (manifest signature, part hashes, header).
        contents = joined.contents
        try:
            config = decode_canonical(contents.config, ChannelConfig)
            rules = rules_from_config(config)
        except (MalformedError, ConfigError) as exc:
            raise _Failed(store.base, f"snapshot configuration: {exc}") from None
        history, previous = contents.frontier.copy(), contents.header
        report.snapshot_height = store.base
        report.warnings.append(f"audited from the snapshot at height {store.base} the peer joined from")
    else:
        _, genesis, genesis_codes = _read_block(store, 0, peer=peer)
        try:
            config, transaction = read_genesis(genesis)
            check_config_signatures(config, transaction)
            rules = rules_from_config(config)
        except ConfigError as exc:
            raise _Failed(0, f"block 0: {exc}") from None
        history = CompactRange()
        previous = None
    if config.name != report.channel:
        raise _Failed(store.base, f"the ledger configures channel {config.name!r}, expected {report.channel!r}")
    with tempfile.TemporaryDirectory(prefix="consortia-audit-") as scratch:
        rebuilt = StateDB(Path(scratch) / "state.sqlite")
        if joined is not None:
            rebuilt.import_rows(joined.contents.height, joined.contents.tables)
        validator = BlockValidator(rules, rebuilt, None)
        state = StateDB(directory / "state.sqlite", read_only=True) if peer else None
        # A node serving the folder keeps committing while the audit runs: every read of its state database goes
        # through one read transaction (one snapshot), so the height, the rows and the private data compared are
        # those of one moment. The node writes a block to the store before applying it to the state, so the store
        # read after the snapshot holds every block the snapshot's state was built from.
        held = state.snapshot() if state is not None else nullcontext()
        held.__enter__()
        state_height = state.height if state is not None else 0
        if state_height > store.height:
            store.refresh()  # the node committed more blocks after the store was opened
        try:
            for number in range(store.base, store.height):
                if number == 0:
                    assert genesis is not None
                    block, codes = genesis, genesis_codes
                else:
                    _, block, codes = _read_block(store, number, peer=peer)
                try:
                    history = check_block(block, previous, history, rules.orderers, report.channel)
                except ChainError as exc:
                    raise _Failed(exc.block, str(exc)) from None
                previous = block.header
                report.blocks += 1
                report.transactions += len(block.transactions)
                if number == 0:
                    rebuilt.apply(genesis_batch(block))
                    report.valid += 1
                else:
                    verdict = validator.validate(block)
                    if peer and codes != verdict.codes:
                        raise _Failed(number, _code_difference(number, codes or b"", verdict.codes))
                    rebuilt.apply(verdict.batch)
                    validator.invalidate_definitions()
                    report.valid += sum(1 for o in verdict.outcomes if o.code == Code.VALID)
                    if verdict.config is not None:
                        rules = rules_from_config(verdict.config)
                        validator.use_rules(rules)
                        report.config_blocks.append(number)
                if state is not None and number + 1 == state_height:
                    _compare_state(number, rebuilt, state)
            if state is not None:
                if state_height > store.height:
                    raise _Failed(None, f"state database is at height {state_height}, beyond the block store")
                if state_height < store.height:
                    report.warnings.append(
                        f"state database is at height {state_height} of {store.height} (it is replayed on start)"
                    )
                _check_private(state, report)
        finally:
            held.__exit__(None, None, None)
            rebuilt.close()
            if state is not None:
                state.close()


def _code_difference(number: int, stored: bytes, recomputed: bytes) -> str:
    if len(stored) != len(recomputed):
        return f"block {number}: {len(stored)} stored validation codes for {len(recomputed)} transactions"
    for index, (a, b) in enumerate(zip(stored, recomputed, strict=True)):
        if a != b:
            return f"block {number}: transaction {index} is stored as {code_name(a)} but re-validates as {code_name(b)}"
    return f"block {number}: validation codes differ"


def _compare_state(number: int, rebuilt: StateDB, state: StateDB) -> None:
    ours = rebuilt.digest_rows()
    theirs = state.digest_rows()
    for position, (mine, stored) in enumerate(zip(ours, theirs, strict=False)):
        if mine != stored:
            raise _Failed(
                None,
                f"state database differs from a replay of blocks 0..{number} at {stored[0]} row {position}: "
                f"stored {stored[1][:3]!r}, replay gives {mine[1][:3]!r}",
            )
    leftover_mine, leftover_theirs = next(ours, None), next(theirs, None)
    if leftover_mine is not None or leftover_theirs is not None:
        extra = leftover_theirs or leftover_mine
        raise _Failed(None, f"state database and replay of blocks 0..{number} differ in size ({extra[0]})")


def _check_private(state: StateDB, report: LedgerReport) -> None:
    for ns, coll, key, value, salt in state.private_rows():
        hashed = state.hashed_get(ns, coll, key_hash(key))
        if hashed is None or salted_value_hash(salt, value) != hashed[0]:
            raise _Failed(
                hashed[1].block if hashed else None,
                f"private value {ns}/{coll}/{key!r} does not match the hash on the ledger",
            )


@dataclass
class AuditReport:
    """The audit of every ledger in a data folder."""

    data: str
    ledgers: list[LedgerReport]

    @property
    def ok(self) -> bool:
        """Whether every ledger is sound."""
        return bool(self.ledgers) and all(ledger.ok for ledger in self.ledgers)

    @property
    def first_failure(self) -> LedgerReport | None:
        """The first ledger that failed."""
        return next((ledger for ledger in self.ledgers if not ledger.ok), None)


def find_ledgers(data: Path) -> list[tuple[str, str, Path, bool]]:
    """(node, channel, folder, is_peer) for every ledger copy under a data folder."""
    found = []
    peers = data / "peers"
    if peers.is_dir():
        for node in sorted(p for p in peers.iterdir() if p.is_dir()):
            for channel in sorted(c for c in node.iterdir() if (c / "blocks").is_dir()):
                found.append((node.name, channel.name, channel, True))
    orderer = data / "orderer"
    if orderer.is_dir():
        for channel in sorted(c for c in orderer.iterdir() if (c / "blocks").is_dir()):
            found.append(("orderer", channel.name, channel, False))
    return found


def audit_network(data: Path) -> AuditReport:
    """Audit every ledger copy under ``data``, and every genesis file a new node would bootstrap from."""
    ledgers = [audit_ledger(path, node, channel, peer=peer) for node, channel, path, peer in find_ledgers(data)]
    for report in ledgers:
        _check_genesis_file(Path(data) / "genesis" / f"{report.channel}.block", Path(report.path), report)
    return AuditReport(str(data), ledgers)


def _check_genesis_file(genesis_file: Path, ledger: Path, report: LedgerReport) -> None:
    """A genesis file must be byte for byte the ledger's block 0, or a node bootstrapping from it forks."""
    if not report.ok or not genesis_file.is_file() or report.snapshot_height:
        return
    store = BlockStore(ledger / "blocks", read_only=True)
    try:
        first, _, _ = _read_block(store, 0, peer=report.node != "orderer")
    except _Failed as exc:
        report.fail(0, exc.reason)
        return
    finally:
        store.close()
    if genesis_file.read_bytes() != first:
        report.fail(0, f"{genesis_file} is not byte for byte block 0 of this ledger (a node started from it forks)")
