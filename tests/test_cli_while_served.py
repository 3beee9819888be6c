"""The commands the README and the demo summary print work on a data folder while a node serves it.

``make demo`` keeps the network open (and its history trees locked) while it serves the explorer; a person then
copies ``consortia proof <tx_id> --data .consortia`` or ``consortia verify`` from the summary. Those commands read
the folder read-only — block store, SQLite state and the history tree without taking its lock — so they answer
while the node runs. Here the embedded network stays open in this process (its locks held) while each command
runs against the same folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortia.cli.main import app
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[EmbeddedNetwork, str]]:
    spec = NetworkSpec(orgs=(OrgSpec("Org1"), OrgSpec("Org2")), channels=(ChannelSpec("c", ("Org1", "Org2")),))
    network = EmbeddedNetwork.create(tmp_path / "data", spec)
    try:
        network.deploy("c", "consortia.samples.asset_transfer:AssetTransfer", policy="OR('Org1.peer','Org2.peer')")
        done = network.gateway("Org1").network("c").contract("asset-transfer").submit("create", "a1", "red", 1, 5)
        network.wait_for_height("c", done.block + 1)
        yield network, done.tx_id
    finally:
        network.close()


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_proof_while_served(served: tuple[EmbeddedNetwork, str]) -> None:
    network, tx_id = served
    document = json.loads(run("proof", tx_id, "--data", str(network.directory), "--json"))
    assert document["tx_id"] == tx_id
    assert document["self_check"] and all(step["ok"] for step in document["self_check"])


def test_verify_blocks_and_tx_while_served(served: tuple[EmbeddedNetwork, str]) -> None:
    network, tx_id = served
    report = json.loads(run("verify", "--data", str(network.directory), "--json"))
    assert report["ok"] is True
    table = run("blocks", "c", "--org", "Org1", "--data", str(network.directory))
    assert "time (UTC)" in table and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", table)
    assert json.loads(run("tx", "c", tx_id, "--org", "Org1", "--data", str(network.directory)))["tx_id"] == tx_id


def test_a_command_needing_the_writable_network_says_what_to_run_instead(
    served: tuple[EmbeddedNetwork, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Applications open the network through ``open_network``: on a served folder it is one line and exit 2."""
    import typer

    from consortia.cli.common import folder_served, open_network
    from consortia.ledger.history import open_elsewhere

    network, _ = served
    folder = network.directory
    assert folder_served(folder)
    assert all(open_elsewhere(level.parent) for level in folder.glob("**/history/level-00.hashes"))
    with pytest.raises(typer.Exit) as exited, open_network(folder, channel="c"):
        pass
    assert exited.value.exit_code == 2
    said = capsys.readouterr().err
    assert "in use by a running node" in said and "--server URL" in said and "Traceback" not in said


def test_a_folder_nobody_serves_is_not_in_use(tmp_path: Path) -> None:
    from consortia.cli.common import folder_served

    spec = NetworkSpec(orgs=(OrgSpec("Org1"),), channels=(ChannelSpec("c", ("Org1",)),))
    EmbeddedNetwork.create(tmp_path / "data", spec).close()
    assert not folder_served(tmp_path / "data")
    assert not folder_served(tmp_path / "nothing-here")


def _create(network: EmbeddedNetwork, asset: str) -> int:
    done = network.gateway("Org1").network("c").contract("asset-transfer").submit("create", asset, "red", 1, 5)
    network.wait_for_height("c", done.block + 1)
    return done.block


def test_the_audit_sees_blocks_committed_after_it_opened_the_store(served: tuple[EmbeddedNetwork, str]) -> None:
    """A node commits while ``verify`` runs: the audit compares state and blocks of one moment, not of two."""
    from consortia.ledger.blockstore import BlockStore
    from consortia.peer.audit import LedgerReport, _audit

    network, _ = served
    ledger = network.directory / "peers" / "Org1.peer0" / "c"
    store = BlockStore(ledger / "blocks", read_only=True)
    try:
        opened_at = store.height
        last = max(_create(network, f"later-{n}") for n in range(3))
        report = LedgerReport("Org1.peer0", "c", str(ledger))
        _audit(store, ledger, report, peer=True)
    finally:
        store.close()
    assert report.ok, report.error
    assert report.blocks >= last + 1 > opened_at


def test_verify_while_the_node_keeps_committing(served: tuple[EmbeddedNetwork, str]) -> None:
    """``consortia verify`` on a folder whose node commits a block in the middle of every audit."""
    import threading

    network, _ = served
    stop = threading.Event()

    def traffic() -> None:
        n = 0
        while not stop.is_set():
            _create(network, f"busy-{n}")
            n += 1

    writer = threading.Thread(target=traffic, daemon=True)
    writer.start()
    try:
        reports = [json.loads(run("verify", "--data", str(network.directory), "--json")) for _ in range(3)]
    finally:
        stop.set()
        writer.join(timeout=30)
    assert all(report["ok"] for report in reports)
