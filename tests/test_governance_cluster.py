"""Channel governance on a cluster: real etcd members and node processes, changed by the real commands.

A fourth organisation is created (``consortia org create``), added by a majority of admins (``consortia channel
update/sign/submit`` — a minority first, refused), its peer joins from block 0 and a second peer of it from a
snapshot (``consortia snapshot create`` on Org1's peer, ``consortia node --join-snapshot``); both end with the
same header and state hashes as the others (``consortia cluster compare``); a contract then requires Org4's
endorsement; Org4 is removed and its endorsement stops counting; every node's data passes ``consortia verify``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from cli_run import QUIET_LOG
from cli_run import consortia as run_consortia
from consortia.client import Gateway, GatewayError
from consortia.cluster import Cluster
from consortia.cluster.layout import user_tls
from consortia.cluster.processes import etcd_binary
from consortia.network.bootstrap import crypto_dir

IN_CI = os.environ.get("CI") == "true"
CHANNEL = "ch1"
ASSETS = "consortia.samples.asset_transfer:AssetTransfer"

if etcd_binary() is None:
    if IN_CI:
        raise RuntimeError("etcd is not installed: CI must run ./scripts/system-deps (Debian etcd-server)")
    pytest.skip("etcd is not installed (apt-get install etcd-server)", allow_module_level=True)


consortia = partial(run_consortia, timeout=180, env=QUIET_LOG)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("gov-cluster") / "c"
    made = consortia("cluster", "up", "--orgs", "3", "--orderers", "3", "--data", str(folder))
    assert made.returncode == 0, made.stdout + made.stderr
    cluster = Cluster.open(folder)
    try:
        yield cluster
    finally:
        cluster.down()


def _submit_update(cluster: Cluster, tmp_path: Path, name: str, change: list[str], signers: list[str]) -> int:
    data = str(cluster.data)
    update = tmp_path / f"{name}.update"
    made = consortia("channel", "update", CHANNEL, *change, "--out", str(update), "--data", data)
    assert made.returncode == 0, made.stderr
    for org in signers:
        signed = consortia("channel", "sign", str(update), "--org", org, "--data", data)
        assert signed.returncode == 0, signed.stderr
    submitted = consortia("channel", "submit", str(update), "--data", data, "--json")
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    return json.loads(submitted.stdout)["block"]


def _compare(cluster: Cluster) -> dict:
    compared = cluster.compare(wait=30)
    assert compared["ok"], json.dumps(compared, indent=2)
    return compared["channels"][CHANNEL]


def _assets(cluster: Cluster, org: str):
    connection = cluster.connection(org)
    return connection, Gateway(connection.identity, connection).network(CHANNEL).contract("asset-transfer")


def test_a_fourth_organisation_joins_endorses_and_leaves_a_cluster(cluster: Cluster, tmp_path: Path) -> None:
    data = str(cluster.data)
    connection, org1 = _assets(cluster, "Org1")
    try:
        org1.submit("create", "g-before", "red", 1, 1)
    finally:
        connection.close()

    created = consortia("org", "create", "Org4", "--data", data)
    assert created.returncode == 0, created.stderr
    ca = str(crypto_dir(cluster.data, "Org4") / "ca" / "ca.pem")
    # With mutual TLS, Org4's nodes connect only once the channel lists its TLS CA too.
    tls_ca = str(crypto_dir(cluster.data, "Org4") / "tlsca" / "ca.pem")

    # A minority is refused, with its reason code, and nothing changes.
    minority = tmp_path / "minority.update"
    assert consortia("channel", "update", CHANNEL, "--add-org", "Org4", "--ca-cert", ca, "--tls-ca-cert", tls_ca,
                     "--out", str(minority), "--data", data).returncode == 0  # fmt: skip
    assert consortia("channel", "sign", str(minority), "--org", "Org3", "--data", data).returncode == 0
    refused = consortia("channel", "submit", str(minority), "--data", data, "--json")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert json.loads(refused.stdout)["reason"] == "CONFIG_POLICY_FAILURE"
    shown = json.loads(consortia("channel", "config", CHANNEL, "--data", data, "--json").stdout)
    assert shown["version"] == 0

    added_at = _submit_update(
        cluster, tmp_path, "add", ["--add-org", "Org4", "--ca-cert", ca, "--tls-ca-cert", tls_ca], ["Org1", "Org2"]
    )
    shown = json.loads(consortia("channel", "config", CHANNEL, "--data", data, "--json").stdout)
    assert shown["version"] == 1 and shown["set_by_block"] == added_at

    # Org4's peer joins from block 0 ...
    cluster.add_peer("Org4", CHANNEL)
    cluster.wait_node("Org4.peer0", 30)
    # ... and a second peer of Org4 from a snapshot of Org1's peer.
    snapshot = tmp_path / "ch1.snapshot"
    org1_node = cluster.layout.peer_of("Org1")
    cluster.stop_process(org1_node.name)  # a snapshot is taken from a ledger no node is writing
    made = consortia(
        "snapshot", "create", "--channel", CHANNEL, "--data", str(Path(org1_node.data)), "--out", str(snapshot)
    )
    assert made.returncode == 0, made.stdout + made.stderr
    cluster.start_process(org1_node.name)
    cluster.wait_node(org1_node.name, 30)
    cluster.add_peer("Org4", CHANNEL, peer="peer1", snapshot=snapshot)
    cluster.wait_node("Org4.peer1", 30)
    compared = _compare(cluster)
    assert {"Org4.peer0", "Org4.peer1"} <= set(compared["state"])

    # A contract now requires Org4's endorsement, through the normal lifecycle (four members approve).
    cluster.deploy(CHANNEL, ASSETS, "AND('Org1.peer','Org4.peer')")
    connection, org1 = _assets(cluster, "Org1")
    try:
        result = org1.submit("create", "g-with-org4", "blue", 2, 2)
        assert result.code == "VALID"
    finally:
        connection.close()

    # Org4 leaves (three of four admins); its endorsement stops counting.
    # This one is submitted as from another machine: to the orderers' URLs, over the admin's mutual TLS.
    remove = tmp_path / "remove.update"
    made = consortia("channel", "update", CHANNEL, "--remove-org", "Org4", "--out", str(remove), "--data", data)
    assert made.returncode == 0, made.stderr
    for org in ("Org1", "Org2", "Org3"):
        assert consortia("channel", "sign", str(remove), "--org", org, "--data", data).returncode == 0
    urls = [arg for node in cluster.layout.orderers for arg in ("--orderer", node.endpoint)]
    tls_args: list[str] = []
    if cluster.layout.tls:
        user_tls(cluster.layout, "Org1", "admin")  # the admin's TLS client certificate, issued once
        tls_dir = crypto_dir(cluster.data, "Org1") / "users" / "admin" / "tls"
        tls_ca = crypto_dir(cluster.data, cluster.layout.orderer_org) / "tlsca" / "ca.pem"
        tls_args = ["--tls", str(tls_dir), "--tls-ca", str(tls_ca)]
    submitted = consortia("channel", "submit", str(remove), "--org", "Org1", *urls, *tls_args, "--data", data, "--json")
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    assert json.loads(submitted.stdout)["ordered"] is True
    for _ in range(100):
        shown = json.loads(consortia("channel", "config", CHANNEL, "--data", data, "--json").stdout)
        if shown["version"] == 2:
            break
        time.sleep(0.1)
    left_at = shown["set_by_block"]
    assert shown["version"] == 2 and "Org4" not in [o["msp_id"] for o in shown["organisations"]]
    cluster.set_members(CHANNEL, ["Org1", "Org2", "Org3"])
    connection, org1 = _assets(cluster, "Org1")
    try:
        with pytest.raises(GatewayError) as refused_tx:
            org1.submit("create", "g-after", "green", 3, 3, endorsing_orgs=["Org1", "Org4"])
        assert "ENDORSEMENT_POLICY_FAILURE" in str(refused_tx.value) or "Org4" in str(refused_tx.value)
    finally:
        connection.close()
    cluster.deploy(CHANNEL, ASSETS, "AND('Org1.peer','Org2.peer')")
    connection, org1 = _assets(cluster, "Org1")
    try:
        org1.submit("create", "g-after", "green", 3, 3)
    finally:
        connection.close()
    time.sleep(1.0)
    members_height = cluster.height("Org1.peer0", CHANNEL)
    assert cluster.height("Org4.peer0", CHANNEL) <= left_at + 1 < members_height  # no further blocks for Org4
    _compare(cluster)

    cluster.down()
    for node in cluster.layout.nodes:
        verified = consortia("verify", "--data", node.data)
        assert verified.returncode == 0, node.name + verified.stdout + verified.stderr
    cluster.up()
