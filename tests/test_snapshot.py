"""Snapshots: a new peer joins a channel from a member peer's snapshot and ends with the same ledger as the others.

One embedded network is built for the module (a few hundred transactions, private data hashes, a key-level
policy); snapshots are taken from its peers while it runs, and fresh peer directories join from them. Each test
checks a real outcome: header and state hashes equal to the other peers', proofs that verify, refusals that name
the file and what is wrong, and a history tree started from a frontier that answers exactly as the full tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli_run import consortia as run_consortia
from cli_run import source_first
from conftest import ASSET_TRANSFER, IN_CI, three_org_spec
from consortia.channel.rules import rules_from_config
from consortia.cli.main import app
from consortia.client import Gateway
from consortia.cluster import Cluster
from consortia.cluster.layout import ASSET_TRANSFER as CLUSTER_CONTRACT
from consortia.cluster.layout import create_cluster, free_ports, issue_node_tls
from consortia.cluster.processes import etcd_binary, spawn, stop_process
from consortia.contracts.collections_config import CollectionConfig
from consortia.contracts.registry import ContractRegistry, load_contract
from consortia.identity import CertificateAuthority, Kind, SigningIdentity
from consortia.ledger import merkle
from consortia.ledger.block import Block, header_hash
from consortia.ledger.blockstore import BlockStoreError
from consortia.ledger.chain import check_block
from consortia.ledger.config import BatchConfig, ChannelConfig
from consortia.ledger.encoding import decode, decode_canonical
from consortia.ledger.history import BeforeSnapshotError, HistoryTree, seed_from_frontier
from consortia.ledger.ledger import ChannelLedger
from consortia.ledger.proof import build_consistency, build_transaction_proof, check_proof, proof_holds
from consortia.ledger.snapshot import MAGIC, PART_NAMES, SnapshotError, joined_snapshot, read_snapshot
from consortia.ledger.statedb import StateDB
from consortia.network.bootstrap import crypto_dir, genesis_path, peer_dir, user_dir
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.workload import run_workload
from consortia.node.config import NodeConfig, NodeRef, write_config
from consortia.node.messages import BlocksReply
from consortia.node.peer_node import state_digest
from consortia.node.run import run_node
from consortia.node.transport import NodeClient, NodeError
from consortia.peer.channel import PeerChannel
from consortia.peer.snapshot_join import create_snapshot, join_from_snapshot
from consortia.peer.validator import BlockValidator

TIMEOUT = 30.0


def _job(prefix: str):
    def job(number: int) -> tuple[str, tuple]:
        if number % 4 == 0:
            return "touch", (f"hot{number % 7}",)
        return "create", (f"{prefix}{number}", ("red", "green")[number % 2], 1 + number % 5, 10 * number)

    return job


def _caught_up(network: EmbeddedNetwork, channel: str) -> None:
    network.wait_for_height(channel, network.orderer.height(channel), timeout=TIMEOUT)


def _load(network: EmbeddedNetwork, count: int, prefix: str) -> None:
    contracts = [network.gateway(org).network("ch1").contract("asset-transfer") for org in ("Org1", "Org2", "Org3")]
    result = run_workload(contracts, _job(prefix), count=count, window=6)
    assert result.committed >= count * 0.9, result.outcomes
    _caught_up(network, "ch1")


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNetwork]:
    """A running network whose ch1 holds a few hundred transactions, appraisal hashes and a key-level policy."""
    folder = tmp_path_factory.mktemp("snapshot") / "net"
    net = EmbeddedNetwork.create(folder, three_org_spec(BatchConfig(max_transactions=10, timeout_ms=20)))
    try:
        net.deploy(
            "ch1",
            ASSET_TRANSFER,
            policy="AND('Org1.peer','Org2.peer')",
            collections=[CollectionConfig("appraisals", ("Org1", "Org2"))],
        )
        net.deploy("ch2", ASSET_TRANSFER, policy="AND('Org2.peer','Org3.peer')")
        org1 = net.gateway("Org1").network("ch1").contract("asset-transfer")
        for number in range(3):
            org1.submit("create", f"p{number}", "blue", 1, 100)
            org1.submit("appraise", f"p{number}", transient={"appraisal": f"worth {number}".encode()})
        org1.submit("protect", "p0", "AND('Org1.peer','Org2.peer')")
        _load(net, 300, "s")
        yield net
    finally:
        net.close()


def _registry() -> ContractRegistry:
    registry = ContractRegistry()
    registry.add(load_contract(ASSET_TRANSFER))
    return registry


def _peer_identity(network: EmbeddedNetwork, org: str) -> SigningIdentity:
    return SigningIdentity.load(peer_dir(network.directory, org))


def _ledger_dir(network: EmbeddedNetwork, org: str, channel: str = "ch1") -> Path:
    return network.directory / "peers" / f"{org}.peer0" / channel


def _orderer_block(network: EmbeddedNetwork, channel: str = "ch1"):
    return lambda number: network.orderer.block(channel, number)  # type: ignore[attr-defined]


def _catch_up(network: EmbeddedNetwork, channel: PeerChannel) -> None:
    for number in range(channel.height, network.orderer.height(channel.name)):
        channel.receive_block(network.orderer.block(channel.name, number))  # type: ignore[attr-defined]


def _snapshot(network: EmbeddedNetwork, tmp_path: Path, org: str = "Org2", channel: str = "ch1") -> Path:
    out = tmp_path / f"{channel}-{org}.snapshot"
    create_snapshot(_ledger_dir(network, org, channel), _peer_identity(network, org), out)
    return out


# -- joining and catching up -------------------------------------------------------------------------------------


def test_a_peer_joined_from_a_snapshot_ends_with_the_same_header_and_state_as_the_others(
    network: EmbeddedNetwork, tmp_path: Path
) -> None:
    snapshot = _snapshot(network, tmp_path)
    height = read_snapshot(snapshot).contents.height
    assert height > 20
    directory = tmp_path / "newpeer" / "ch1"
    info = join_from_snapshot(snapshot, directory, _orderer_block(network))
    assert (info.channel, info.height, info.signer) == ("ch1", height, "Org2/peer0")

    channel = PeerChannel("ch1", _peer_identity(network, "Org3"), directory, _registry())
    try:
        assert channel.height == height
        assert channel.ledger.first_block == height
        with pytest.raises(BlockStoreError, match=f"block 5 is before this peer's snapshot at height {height}"):
            channel.ledger.block(5)
        _load(network, 60, "t")
        _catch_up(network, channel)
        reference = network.peer("Org3").channel("ch1")
        assert channel.height == reference.height > height
        assert state_digest(channel) == state_digest(reference)
        # Every block it holds is the orderer's, byte for byte, with the same validation codes as a full peer's.
        for number in range(height, channel.height):
            assert channel.ledger.record(number) == reference.ledger.record(number)
    finally:
        channel.close()


def test_a_peer_joined_from_block_0_ends_with_the_same_hashes(network: EmbeddedNetwork, tmp_path: Path) -> None:
    genesis = network.orderer.block("ch1", 0)  # type: ignore[attr-defined]
    channel = PeerChannel("ch1", _peer_identity(network, "Org3"), tmp_path / "full" / "ch1", _registry(), genesis)
    try:
        _catch_up(network, channel)
        reference = network.peer("Org3").channel("ch1")
        assert state_digest(channel) == state_digest(reference)
    finally:
        channel.close()


def test_proofs_of_later_transactions_and_consistency_from_the_snapshot_verify(
    network: EmbeddedNetwork, tmp_path: Path
) -> None:
    snapshot = _snapshot(network, tmp_path, org="Org1")
    contents = read_snapshot(snapshot).contents
    directory = tmp_path / "proofpeer" / "ch1"
    join_from_snapshot(snapshot, directory, _orderer_block(network))
    org1 = network.gateway("Org1").network("ch1").contract("asset-transfer")
    later = [org1.submit("create", f"later{n}", "red", 1, 1) for n in range(3)]
    _caught_up(network, "ch1")
    channel = PeerChannel("ch1", _peer_identity(network, "Org1"), directory, _registry())
    try:
        _catch_up(network, channel)
        reference = network.peer("Org1").channel("ch1")
        orderer_cas = reference.rules.config.orderer_cas()
        for result in later:
            proof = build_transaction_proof(channel.ledger, result.tx_id, orderer_cas)
            assert proof == build_transaction_proof(reference.ledger, result.tx_id, orderer_cas)
            assert proof_holds(check_proof(proof, orderer_cas))
        tree = channel.ledger.history
        assert tree is not None and reference.ledger.history is not None
        start, end = contents.frontier.size, tree.size
        for size1 in (start, start + 1, (start + end) // 2, end):
            document = build_consistency(tree, size1, end)
            assert document == build_consistency(reference.ledger.history, size1, end)
            assert merkle.verify_consistency(
                size1,
                end,
                [bytes.fromhex(h) for h in document["path"]],
                bytes.fromhex(document["root1"]),
                bytes.fromhex(document["root2"]),
            )
        # A transaction before the snapshot is known (duplicate checks need its id) but its block is not here.
        early = reference.ledger.block(2)
        from consortia.ledger.transaction import open_envelope

        tx_id = open_envelope(early.transactions[0]).tx_id
        assert channel.ledger.state.tx_position(tx_id) is not None
        with pytest.raises(BlockStoreError, match="before this peer's snapshot"):
            build_transaction_proof(channel.ledger, tx_id, orderer_cas)
    finally:
        channel.close()


def test_a_peer_joined_from_a_snapshot_reopens_and_keeps_going(network: EmbeddedNetwork, tmp_path: Path) -> None:
    snapshot = _snapshot(network, tmp_path)
    directory = tmp_path / "reopen" / "ch1"
    join_from_snapshot(snapshot, directory, _orderer_block(network))
    channel = PeerChannel("ch1", _peer_identity(network, "Org3"), directory, _registry())
    channel.close()
    _load(network, 30, "r")
    channel = PeerChannel("ch1", _peer_identity(network, "Org3"), directory, _registry())
    try:
        _catch_up(network, channel)
        assert state_digest(channel) == state_digest(network.peer("Org3").channel("ch1"))
    finally:
        channel.close()
    # A snapshot of a snapshot-started peer is as good as one of a full peer.
    second = tmp_path / "second.snapshot"
    create_snapshot(directory, _peer_identity(network, "Org3"), second)
    info = join_from_snapshot(second, tmp_path / "third" / "ch1", _orderer_block(network))
    assert info.signer == "Org3/peer0"


def test_an_audit_can_start_from_the_snapshot_the_peer_joined_from(network: EmbeddedNetwork, tmp_path: Path) -> None:
    """What consortia verify needs for such a ledger: a replay from the kept snapshot reproduces codes and state."""
    snapshot = _snapshot(network, tmp_path)
    directory = tmp_path / "audited" / "ch1"
    join_from_snapshot(snapshot, directory, _orderer_block(network))
    channel = PeerChannel("ch1", _peer_identity(network, "Org3"), directory, _registry())
    try:
        _load(network, 30, "v")
        _catch_up(network, channel)
    finally:
        channel.close()
    assert joined_snapshot(_ledger_dir(network, "Org3")) is None  # a ledger from block 0 has none
    kept = joined_snapshot(directory)
    assert kept is not None and kept.contents == read_snapshot(snapshot).contents
    rebuilt = StateDB(tmp_path / "scratch.sqlite")
    ledger = ChannelLedger(directory, read_only=True)
    try:
        rebuilt.import_rows(kept.contents.height, kept.contents.tables)
        rules = rules_from_config(decode_canonical(kept.contents.config, ChannelConfig))
        validator = BlockValidator(rules, rebuilt, None)
        history, previous = kept.contents.frontier.copy(), kept.contents.header
        assert ledger.first_block == kept.contents.height < ledger.blocks.height
        for number in range(ledger.first_block, ledger.blocks.height):
            committed = ledger.committed_block(number)
            history = check_block(committed.block, previous, history, rules.orderers, "ch1")
            verdict = validator.validate(committed.block)
            assert verdict.codes == committed.codes, number
            rebuilt.apply(verdict.batch)
            validator.invalidate_definitions()
            previous = committed.block.header
        assert list(rebuilt.digest_rows()) == list(ledger.state.digest_rows())
    finally:
        ledger.close()
        rebuilt.close()
    # The kept copy is checked like any snapshot: a changed byte is refused, naming it.
    kept_file = directory / "snapshot.bin"
    start, length = _part_offsets(kept_file.read_bytes())["txids"]
    _flipped(kept_file, kept_file, start + length // 2)
    with pytest.raises(SnapshotError, match="part 'txids' has SHA-256") as refused:
        joined_snapshot(directory)
    assert str(kept_file) in str(refused.value)


@pytest.mark.parametrize("damage", ["lost tail", "altered leaf"])
def test_a_snapshot_started_history_tree_is_brought_back_in_line_with_its_blocks(
    network: EmbeddedNetwork, tmp_path: Path, damage: str
) -> None:
    snapshot = _snapshot(network, tmp_path)
    directory = tmp_path / "crashed" / "ch1"
    join_from_snapshot(snapshot, directory, _orderer_block(network))
    channel = PeerChannel("ch1", _peer_identity(network, "Org3"), directory, _registry())
    try:
        _load(network, 20, f"x{damage[0]}")
        _catch_up(network, channel)
        expected = channel.ledger.history_range()
    finally:
        channel.close()
    level0 = directory / "history" / "level-00.hashes"
    data = bytearray(level0.read_bytes())
    if damage == "lost tail":  # a crash after the block was stored, before its leaves reached the disk
        del data[-3 * 32 :]
    else:  # a leaf after the snapshot no longer matches its block: the tree is rebuilt from the frontier
        data[-1] ^= 0xFF
    level0.write_bytes(bytes(data))
    channel = PeerChannel("ch1", _peer_identity(network, "Org3"), directory, _registry())
    try:
        assert channel.ledger.history_range() == expected
        assert channel.ledger.history is not None
        assert channel.ledger.history.start == read_snapshot(snapshot).contents.frontier.size
        _catch_up(network, channel)
        assert state_digest(channel) == state_digest(network.peer("Org3").channel("ch1"))
    finally:
        channel.close()


# -- refusals ----------------------------------------------------------------------------------------------------


def _part_offsets(data: bytes) -> dict[str, tuple[int, int]]:
    """Where each section's bytes lie in a snapshot file."""
    offsets = {}
    position = len(MAGIC)
    while position < len(data):
        name_length = int.from_bytes(data[position : position + 2], "big")
        name = data[position + 2 : position + 2 + name_length].decode()
        length = int.from_bytes(data[position + 2 + name_length : position + 10 + name_length], "big")
        start = position + 10 + name_length
        offsets[name] = (start, length)
        position = start + length
    return offsets


def _flipped(source: Path, target: Path, offset: int) -> Path:
    data = bytearray(source.read_bytes())
    data[offset] ^= 0x01
    target.write_bytes(bytes(data))
    return target


def test_one_changed_byte_in_any_part_is_refused_naming_the_file_and_the_part(
    network: EmbeddedNetwork, tmp_path: Path
) -> None:
    snapshot = _snapshot(network, tmp_path)
    offsets = _part_offsets(snapshot.read_bytes())
    assert set(PART_NAMES) | {"manifest", "signature"} == set(offsets)
    for part in PART_NAMES:
        start, length = offsets[part]
        assert length > 0, part
        bad = _flipped(snapshot, tmp_path / f"bad-{part}.snapshot", start + length // 2)
        directory = tmp_path / f"join-{part}" / "ch1"
        with pytest.raises(SnapshotError) as refused:
            join_from_snapshot(bad, directory, _orderer_block(network))
        assert str(bad) in str(refused.value)
        assert f"part {part!r} has SHA-256" in str(refused.value)
        assert not directory.exists(), "a refused join must leave nothing behind"
    for section in ("manifest", "signature"):
        start, length = offsets[section]
        bad = _flipped(snapshot, tmp_path / f"bad-{section}.snapshot", start + length // 2)
        with pytest.raises(SnapshotError, match="manifest") as refused:
            read_snapshot(bad)
        assert str(bad) in str(refused.value)


def test_every_sampled_single_byte_change_is_refused(network: EmbeddedNetwork, tmp_path: Path) -> None:
    snapshot = _snapshot(network, tmp_path)
    size = snapshot.stat().st_size
    rng = random.Random(14)
    positions = sorted({*rng.sample(range(size), 60), 0, len(MAGIC), len(MAGIC) + 5, size - 1})
    for offset in positions:
        bad = _flipped(snapshot, tmp_path / "bad.snapshot", offset)
        with pytest.raises(SnapshotError) as refused:
            join_from_snapshot(bad, tmp_path / f"j{offset}" / "ch1", _orderer_block(network))
        assert str(bad) in str(refused.value), offset


def test_a_header_the_ordering_service_does_not_serve_is_refused_with_height_and_both_hashes(
    network: EmbeddedNetwork, tmp_path: Path
) -> None:
    snapshot = _snapshot(network, tmp_path)
    header = read_snapshot(snapshot).contents.header
    wrong = network.orderer.block("ch1", header.number - 1)  # type: ignore[attr-defined]
    directory = tmp_path / "wrong" / "ch1"
    with pytest.raises(SnapshotError) as refused:
        join_from_snapshot(snapshot, directory, lambda number: wrong)
    message = str(refused.value)
    assert str(snapshot) in message
    assert f"block {header.number}" in message and f"height {header.number + 1}" in message
    assert header_hash(header).hex() in message
    assert header_hash(decode(wrong, Block).header).hex() in message
    assert not directory.exists()


def test_an_unreachable_ordering_service_means_no_join(network: EmbeddedNetwork, tmp_path: Path) -> None:
    snapshot = _snapshot(network, tmp_path)

    def down(number: int) -> bytes:
        raise ConnectionError("connection refused")

    with pytest.raises(SnapshotError, match=r"cannot fetch block .* connection refused"):
        join_from_snapshot(snapshot, tmp_path / "down" / "ch1", down)


def test_a_snapshot_of_another_channel_or_signed_by_a_non_member_or_a_client_is_refused(
    network: EmbeddedNetwork, tmp_path: Path
) -> None:
    ch2 = _snapshot(network, tmp_path, org="Org2", channel="ch2")
    with pytest.raises(SnapshotError, match="channel 'ch2', not 'ch1'"):
        join_from_snapshot(ch2, tmp_path / "other" / "ch1", _orderer_block(network))
    # Org1 is no member of ch2: its peer cannot vouch for ch2's state.
    foreign = tmp_path / "foreign.snapshot"
    create_snapshot(_ledger_dir(network, "Org2", "ch2"), _peer_identity(network, "Org1"), foreign)
    with pytest.raises(SnapshotError, match="not a peer of a member of 'ch2'") as refused:
        join_from_snapshot(foreign, tmp_path / "foreign" / "ch2", _orderer_block(network, "ch2"))
    assert str(foreign) in str(refused.value)
    # A member's client is not a peer.
    by_client = tmp_path / "client.snapshot"
    client = SigningIdentity.load(user_dir(network.directory, "Org2", "client"))
    create_snapshot(_ledger_dir(network, "Org2"), client, by_client)
    with pytest.raises(SnapshotError, match="not a peer of a member"):
        join_from_snapshot(by_client, tmp_path / "client" / "ch1", _orderer_block(network))


def test_a_directory_that_already_holds_a_ledger_is_not_overwritten(network: EmbeddedNetwork, tmp_path: Path) -> None:
    snapshot = _snapshot(network, tmp_path)
    directory = tmp_path / "twice" / "ch1"
    join_from_snapshot(snapshot, directory, _orderer_block(network))
    before = sorted(p.name for p in directory.iterdir())
    with pytest.raises(SnapshotError, match="already holds a ledger"):
        join_from_snapshot(snapshot, directory, _orderer_block(network))
    assert sorted(p.name for p in directory.iterdir()) == before


def test_not_a_snapshot_and_a_truncated_one_are_refused(network: EmbeddedNetwork, tmp_path: Path) -> None:
    junk = tmp_path / "junk.snapshot"
    junk.write_bytes(b"hello")
    with pytest.raises(SnapshotError, match="not a Consortia snapshot"):
        read_snapshot(junk)
    snapshot = _snapshot(network, tmp_path)
    cut = tmp_path / "cut.snapshot"
    cut.write_bytes(snapshot.read_bytes()[:-10])
    with pytest.raises(SnapshotError, match="truncated") as refused:
        read_snapshot(cut)
    assert str(cut) in str(refused.value)
    with pytest.raises(SnapshotError, match="cannot be read"):
        read_snapshot(tmp_path / "missing.snapshot")


# -- the command -------------------------------------------------------------------------------------------------


def test_snapshot_create_command_on_a_stopped_network_and_its_refusals(tmp_path: Path) -> None:
    folder = tmp_path / "cli"
    net = EmbeddedNetwork.create(folder, three_org_spec())
    try:
        net.deploy("ch1", ASSET_TRANSFER, policy="AND('Org1.peer','Org2.peer')")
        net.gateway("Org1").network("ch1").contract("asset-transfer").submit("create", "c1", "red", 1, 1)
        _caught_up(net, "ch1")
        runner = CliRunner()
        served = runner.invoke(
            app, ["snapshot", "create", "--channel", "ch1", "--data", str(folder), "--out", str(tmp_path / "x")]
        )
        assert served.exit_code == 2 and "in use by a running node" in served.output
    finally:
        net.close()
    out = tmp_path / "ch1.snapshot"
    result = runner.invoke(
        app, ["snapshot", "create", "--channel", "ch1", "--data", str(folder), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert '"signer": "Org1/peer0"' in result.output and out.is_file()
    shown = runner.invoke(app, ["snapshot", "show", str(out)])
    assert shown.exit_code == 0 and "channel ch1" in shown.output
    out2 = tmp_path / "ch2.snapshot"
    by_org3 = runner.invoke(
        app, ["snapshot", "create", "--channel", "ch2", "--org", "Org3", "--data", str(folder), "--out", str(out2)]
    )
    assert by_org3.exit_code == 0, by_org3.output
    assert "snapshot of ch2 at height 1 (1 transactions in its history) signed by Org3/peer0" in " ".join(
        by_org3.output.split()
    )

    for args, expected in (
        (["--channel", "nope"], "has no 'nope' channel"),
        (["--channel", "ch2", "--org", "Org1"], "Org1 is not a member of channel 'ch2'"),
        (["--channel", "ch1", "--data", str(tmp_path / "empty")], "neither a Consortia data folder"),
    ):
        argv = ["snapshot", "create", "--data", str(folder), "--out", str(tmp_path / "y"), *args]
        refused = runner.invoke(app, argv)
        assert refused.exit_code == 1 and expected in " ".join(refused.output.split()), refused.output
        assert not (tmp_path / "y").exists()
    broken = tmp_path / "broken.snapshot"
    broken.write_bytes(out.read_bytes()[:-1])
    shown = runner.invoke(app, ["snapshot", "show", str(broken)])
    assert shown.exit_code == 1 and str(broken) in " ".join(shown.output.split())

    # The written snapshot joins a new peer against the reopened network's orderer.
    net = EmbeddedNetwork(folder)
    try:
        info = join_from_snapshot(out2, tmp_path / "joined" / "ch2", _orderer_block(net, "ch2"))
        channel = PeerChannel("ch2", _peer_identity(net, "Org2"), tmp_path / "joined" / "ch2", _registry())
        try:
            assert channel.height == info.height
            assert state_digest(channel) == state_digest(net.peer("Org3").channel("ch2"))
        finally:
            channel.close()
    finally:
        net.close()


# -- the history tree from a frontier ----------------------------------------------------------------------------


def _leaves(count: int) -> list[bytes]:
    return [hashlib.sha256(str(i).encode()).digest() for i in range(count)]


@pytest.mark.parametrize("start", [0, 1, 2, 5, 8, 13, 16, 31, 37])
def test_a_tree_started_from_a_frontier_answers_every_later_proof_as_the_full_tree(tmp_path: Path, start: int) -> None:
    leaves = _leaves(80)
    frontier = merkle.CompactRange()
    frontier.extend(leaves[:start])
    seed_from_frontier(tmp_path / "h", frontier)
    tree = HistoryTree(tmp_path / "h")
    try:
        assert tree.size == start and tree.start == start and tree.root() == merkle.root(leaves[:start])
        for size in range(start, len(leaves) + 1):
            if size > start:
                tree.append([leaves[size - 1]])
            if size % 9 == 4:  # reopened from disk part of the time
                tree.close()
                tree = HistoryTree(tmp_path / "h")
            prefix = leaves[:size]
            assert tree.root() == merkle.root(prefix)
            assert tree.compact_range().root() == merkle.root(prefix)
            for index in range(start, size):
                assert tree.inclusion_proof(index) == merkle.inclusion_proof(prefix, index), (start, size, index)
            for size1 in range(max(start, 1), size + 1):
                assert tree.consistency_proof(size1) == merkle.consistency_proof(prefix, size1, size)
        if start >= 2:
            with pytest.raises(BeforeSnapshotError, match=f"snapshot at size {start}"):
                tree.inclusion_proof(0)
            with pytest.raises(BeforeSnapshotError):
                tree.truncate(start - 1)
        tree.truncate(start)
        assert tree.root() == merkle.root(leaves[:start])
    finally:
        tree.close()


def test_a_seeded_tree_repairs_its_upper_levels_but_never_loses_its_frontier(tmp_path: Path) -> None:
    leaves = _leaves(60)
    frontier = merkle.CompactRange()
    frontier.extend(leaves[:21])
    seed_from_frontier(tmp_path / "h", frontier)
    with HistoryTree(tmp_path / "h") as tree:
        tree.append(leaves[21:])
    level2 = tmp_path / "h" / "level-02.hashes"
    damaged = bytearray(level2.read_bytes())
    damaged[-1] ^= 0xFF
    level2.write_bytes(bytes(damaged))
    with HistoryTree(tmp_path / "h") as tree:
        assert tree.root() == merkle.root(leaves)
        assert tree.inclusion_proof(30) == merkle.inclusion_proof(leaves, 30)
    (tmp_path / "h" / "level-04.hashes").write_bytes(b"")  # the frontier's level-4 subtree is gone
    with pytest.raises(OSError, match="frontier"):
        HistoryTree(tmp_path / "h")


def test_seeding_refuses_a_directory_in_use(tmp_path: Path) -> None:
    HistoryTree(tmp_path / "h").close()
    with pytest.raises(ValueError, match="not empty"):
        seed_from_frontier(tmp_path / "h", merkle.CompactRange())
    shutil.rmtree(tmp_path / "h")


# -- a cluster node joins from a snapshot --------------------------------------------------------------------------

JOIN = (
    "import logging, sys; from pathlib import Path; from consortia.node.run import run_node; "
    "logging.basicConfig(format='%(levelname)s %(name)s: %(message)s'); "
    "sys.exit(run_node(Path(sys.argv[1]), join_snapshot=Path(sys.argv[2])))"
)


def _env() -> dict[str, str]:
    return {**os.environ, **source_first()}


_consortia = partial(run_consortia, timeout=180, env=source_first())


def _submit(cluster: Cluster, count: int, prefix: str) -> None:
    connection = cluster.connection("Org1")
    try:
        contract = Gateway(connection.identity, connection).network("ch1").contract("asset-transfer")
        futures = [contract.submit_async("create", f"{prefix}{n}", "blue", 1, n) for n in range(count)]
        for future in futures:
            future.result(60)
    finally:
        connection.close()


def _wait_for(client: NodeClient, height: int, log: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            reached = client.get_json("/channels/ch1/height")["height"]
        except NodeError:
            reached = 0
        if reached >= height:
            return
        assert time.monotonic() < deadline, f"the new peer reached {reached} of {height} blocks\n{log.read_text()}"
        time.sleep(0.2)


@pytest.mark.skipif(etcd_binary() is None and not IN_CI, reason="etcd is not installed (apt-get install etcd-server)")
def test_a_cluster_peer_joins_from_a_snapshot_and_matches_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    made = _consortia(
        "cluster", "up", "--orgs", "3", "--orderers", "1", "--etcd", "1", "--no-deploy", "--data", str(folder)
    )
    if made.returncode != 0:
        _consortia("cluster", "down", "--data", str(folder))  # whatever it started
    assert made.returncode == 0, made.stdout + made.stderr
    cluster = Cluster.open(folder)
    pid = None
    config_path = tmp_path / "node.toml"
    try:
        # A peer that started before the orderer listened may be left polling other peers for ever
        # (RemoteOrderer.deliver stays on a source that answers with no blocks); restarted now, each starts with
        # the orderer. Not what this test is about, so it is taken out of its way.
        for peer in cluster.layout.peers:
            cluster.stop_process(peer.name)
            cluster.start_process(peer.name)
            cluster.wait_node(peer.name, 30)
        cluster.deploy()
        _submit(cluster, 40, "k")
        cluster.wait_heights("ch1", cluster.height("Org1.peer0", "ch1"), 30)
        node_folder = Path(cluster.layout.node("Org2.peer0").config).parent
        snapshot = tmp_path / "ch1.snapshot"
        create = ("snapshot", "create", "--channel", "ch1", "--data", str(node_folder), "--out", str(snapshot))
        served = _consortia(*create)
        assert served.returncode == 2 and "in use by a running node" in served.stderr, served.stderr
        cluster.stop_process("Org2.peer0")
        written = _consortia(*create, "--json")
        assert written.returncode == 0, written.stdout + written.stderr
        height = json.loads(written.stdout)["height"]
        cluster.start_process("Org2.peer0")
        cluster.wait_node("Org2.peer0", 30)

        ca = CertificateAuthority.load(crypto_dir(cluster.data, "Org3") / "ca")
        identity_dir = tmp_path / "identity"
        ca.issue("peer1", Kind.PEER).save(identity_dir)
        (port,) = free_ports(1)
        write_config(
            config_path,
            NodeConfig(
                name="Org3.peer1",
                role="peer",
                listen=f"127.0.0.1:{port}",
                data=str(tmp_path / "data"),
                identity=str(identity_dir),
                channels={"ch1": str(genesis_path(cluster.data, "ch1"))},
                contracts=[CLUSTER_CONTRACT],
                orderers=[NodeRef(n.name, n.endpoint) for n in cluster.layout.orderers],
                tls=issue_node_tls(cluster.layout, "Org3", "Org3.peer1", tmp_path / "peer1-tls"),
            ),
        )
        log = tmp_path / "peer1.log"
        pid = spawn([sys.executable, "-c", JOIN, str(config_path), str(snapshot)], log, _env())
        scheme = "https" if cluster.tls else "http"
        client = NodeClient(
            f"{scheme}://127.0.0.1:{port}", cluster.identity("Org3", "admin"), timeout=30, tls=cluster.tls
        )
        _wait_for(client, height, log)
        _submit(cluster, 20, "after")
        target = cluster.height("Org1.peer0", "ch1")
        _wait_for(client, target, log)
        assert f"joined ch1 from {snapshot} at height {height}" in log.read_text()
        reference = cluster.client("Org1.peer0", cluster.identity("Org1", "admin"))
        assert client.get_json("/channels/ch1/digest") == reference.get_json("/channels/ch1/digest")
        # Its ledger starts at the snapshot: asking it for an earlier block says so (another source must serve it).
        with pytest.raises(NodeError, match=f"block 1 is before this peer's snapshot at height {height}"):
            client.call("GET", "/channels/ch1/blocks?from=1&limit=1", reply=BlocksReply, timeout=10)
        later = client.call("GET", f"/channels/ch1/blocks?from={height}&limit=1", reply=BlocksReply, timeout=10)
        assert decode(later.blocks[0], Block).header.number == height
    finally:
        if pid is not None:
            stop_process(pid, str(config_path))
        cluster.down()
    # A snapshot the orderer does not vouch for (another channel's) makes the node exit 2 naming the file.
    refused = subprocess.run(
        [sys.executable, "-c", JOIN, str(config_path), str(tmp_path / "missing.snapshot")],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert refused.returncode == 2 and "missing.snapshot is not a file" in refused.stderr, refused.stderr


def test_a_node_refuses_a_snapshot_it_cannot_join_from_naming_the_file(
    network: EmbeddedNetwork, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``run_node(join_snapshot=…)`` exits 2 before serving, naming the file and what is wrong (no etcd needed)."""
    create_cluster(tmp_path / "c", orgs=2, orderers=1, etcd_members=1)
    peer = tmp_path / "c" / "nodes" / "Org2.peer0" / "node.toml"
    orderer = tmp_path / "c" / "nodes" / "orderer0" / "node.toml"
    ch1 = _snapshot(network, tmp_path)
    damaged = tmp_path / "damaged.snapshot"
    start, length = _part_offsets(ch1.read_bytes())["state"]
    _flipped(ch1, damaged, start + length // 2)
    cases = [
        (peer, tmp_path / "missing.snapshot", "missing.snapshot is not a file"),
        (orderer, ch1, "only a peer joins from a snapshot"),
        (peer, damaged, "part 'state' has SHA-256"),
        (peer, _snapshot(network, tmp_path, channel="ch2"), "channel 'ch2', which"),
    ]
    for config, snapshot, expected in cases:
        assert run_node(config, join_snapshot=snapshot) == 2, expected
        message = " ".join(capsys.readouterr().err.split())
        assert expected in message and str(snapshot.name) in message, message
    assert not list((tmp_path / "c" / "nodes" / "Org2.peer0").rglob("state.sqlite")), "nothing was joined"
