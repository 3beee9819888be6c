"""Shared fixtures: embedded networks in temporary folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from consortia.contracts.collections_config import CollectionConfig
from consortia.ledger.config import BatchConfig
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec, UserSpec

ASSET_TRANSFER = "consortia.samples.asset_transfer:AssetTransfer"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
IN_CI = os.environ.get("CI") == "true"

USERS = (
    UserSpec("admin", "admin"),
    UserSpec("client", "client"),
    UserSpec("auditor", "client", {"role": "auditor"}),
)


def three_org_spec(batch: BatchConfig | None = None) -> NetworkSpec:
    """Org1, Org2, Org3 on channel 'ch1'; Org2 and Org3 on channel 'ch2'."""
    batch = batch or BatchConfig(max_transactions=50, timeout_ms=20)
    return NetworkSpec(
        orgs=(OrgSpec("Org1", users=USERS), OrgSpec("Org2", users=USERS), OrgSpec("Org3", users=USERS)),
        channels=(ChannelSpec("ch1", ("Org1", "Org2", "Org3"), batch), ChannelSpec("ch2", ("Org2", "Org3"), batch)),
    )


@pytest.fixture
def network(tmp_path: Path) -> Iterator[EmbeddedNetwork]:
    """A running three-organisation network with asset-transfer on ch1 under AND(Org1, Org2)."""
    net = EmbeddedNetwork.create(tmp_path / "net", three_org_spec())
    net.deploy(
        "ch1",
        ASSET_TRANSFER,
        policy="AND('Org1.peer','Org2.peer')",
        collections=[CollectionConfig("appraisals", ("Org1", "Org2"))],
    )
    try:
        yield net
    finally:
        net.close()
