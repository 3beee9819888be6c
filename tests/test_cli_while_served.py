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
