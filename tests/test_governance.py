"""Channel governance on the embedded network: an organisation joins and leaves by configuration updates.

The acceptance of issue 14 on one machine: a fourth organisation is created, added by a majority of admins (a
minority is refused and changes nothing; a malformed update gets a clear error), its peer joins from block 0 and
ends with the same header and state as the others, a contract then requires its endorsement, it is removed again
and its endorsement stops counting — and ``consortia verify`` audits every block under the configuration in
force at its height.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from consortia.channel.update import config_history, config_in_force, propose
from consortia.client.errors import GatewayError, TransactionInvalid
from consortia.ledger.config import ConfigTransaction, OrganisationConfig
from consortia.network.bootstrap import create_organisation, crypto_dir
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec
from consortia.node.peer_node import state_digest
from consortia.ordering.base import OrderingError
from consortia.peer.audit import audit_network
from consortia.peer.snapshot_join import create_snapshot

CHANNEL = "ch1"
ASSETS = "consortia.samples.asset_transfer:AssetTransfer"


@pytest.fixture
def net(tmp_path: Path):
    spec = NetworkSpec(
        orgs=(OrgSpec("Org1"), OrgSpec("Org2"), OrgSpec("Org3")),
        channels=(ChannelSpec(CHANNEL, ("Org1", "Org2", "Org3")),),
    )
    network = EmbeddedNetwork.create(tmp_path / "net", spec, sync=False)
    network.deploy(CHANNEL, ASSETS, policy="AND('Org1.peer','Org2.peer')")
    yield network
    network.close()


def _with_org4(net: EmbeddedNetwork) -> OrganisationConfig:
    create_organisation(net.directory, "Org4")
    pem = (crypto_dir(net.directory, "Org4") / "ca" / "ca.pem").read_bytes()
    return OrganisationConfig("Org4", (pem,))


def _next(net: EmbeddedNetwork, **changes):
    current = net.channel_config(CHANNEL)
    return msgspec.structs.replace(current, version=current.version + 1, **changes)


def _heights(net: EmbeddedNetwork) -> dict[str, int]:
    return {org: peer.channels[CHANNEL].height for org, peer in net.peers.items() if CHANNEL in peer.channels}


def _assets(net: EmbeddedNetwork, org: str = "Org1"):
    return net.gateway(org).network(CHANNEL).contract("asset-transfer")


def test_minority_and_malformed_updates_are_refused_and_change_nothing(net: EmbeddedNetwork) -> None:
    org4 = _with_org4(net)
    before_heights, before = _heights(net), net.channel_config(CHANNEL)
    proposed = _next(net, organisations=(*before.organisations, org4))

    with pytest.raises(OrderingError) as minority:
        net.update_config(CHANNEL, proposed, signers=["Org1"])
    assert minority.value.reason == "CONFIG_POLICY_FAILURE"
    assert "signed by admins of Org1" in minority.value.message

    with pytest.raises(OrderingError) as malformed:
        net.submit_config(CHANNEL, ConfigTransaction(b"\x93not a configuration", ()))
    assert malformed.value.reason == "CONFIG_REJECTED"
    assert "malformed" in malformed.value.message

    with pytest.raises(OrderingError) as stale:
        net.update_config(CHANNEL, msgspec.structs.replace(proposed, version=before.version), signers=["Org1", "Org2"])
    assert stale.value.reason == "CONFIG_REJECTED" and "version" in stale.value.message

    with pytest.raises(OrderingError) as empty:
        net.update_config(CHANNEL, _next(net, organisations=()), signers=["Org1", "Org2", "Org3"])
    assert "without a member" in empty.value.message

    assert net.channel_config(CHANNEL) == before
    assert _heights(net) == before_heights
    for peer in net.peers.values():
        if CHANNEL in peer.channels:
            assert peer.channels[CHANNEL].rules.config == before
    # The channel still works.
    _assets(net).submit("create", "a1", "red", 1, 10)


def test_an_organisation_joins_endorses_and_leaves(net: EmbeddedNetwork) -> None:
    _assets(net).submit("create", "before", "red", 1, 10)
    org4 = _with_org4(net)
    current = net.channel_config(CHANNEL)
    block = net.update_config(CHANNEL, _next(net, organisations=(*current.organisations, org4)), ["Org1", "Org2"])
    assert net.channel_config(CHANNEL).version == 1
    assert "Org4" in net.channel_orgs(CHANNEL)

    # Its peer joins from block 0, validating every block under the configuration in force at its height.
    joined = net.join("Org4", CHANNEL)
    net.wait_for_height(CHANNEL, net.peer_channel("Org1", CHANNEL).height)
    assert joined.rules.config.version == 1
    assert state_digest(joined) == state_digest(net.peer_channel("Org1", CHANNEL))
    record = config_in_force(joined.ledger.state)
    assert record is not None and record.block == block and set(record.signers) == {"Org1/admin", "Org2/admin"}

    # Contracts can name it through the normal lifecycle (now four members approve).
    net.deploy(CHANNEL, ASSETS, policy="AND('Org1.peer','Org4.peer')")
    created = _assets(net).submit("create", "with-org4", "blue", 2, 20)
    assert created.code == "VALID"
    assert _assets(net, "Org4").evaluate("read", "with-org4")["color"] == "blue"

    # It leaves: signed by a majority of the four (three admins).
    remaining = tuple(o for o in net.channel_config(CHANNEL).organisations if o.msp_id != "Org4")
    left_at = net.update_config(CHANNEL, _next(net, organisations=remaining), ["Org1", "Org2", "Org3"])
    assert "Org4" not in net.channel_orgs(CHANNEL)

    # Its endorsement no longer counts: the policy that needs it cannot be met.
    with pytest.raises((TransactionInvalid, GatewayError)) as refused:
        _assets(net).submit("create", "after-leaving", "green", 3, 30, endorsing_orgs=["Org1", "Org4"])
    assert "ENDORSEMENT_POLICY_FAILURE" in str(refused.value) or "Org4" in str(refused.value)

    # ... and its peer receives no further blocks: the ordering service stops delivering to it.
    net.deploy(CHANNEL, ASSETS, policy="AND('Org1.peer','Org2.peer')")
    _assets(net).submit("create", "after", "green", 3, 30)
    assert joined.height <= left_at + 1 < net.peer_channel("Org1", CHANNEL).height

    history = config_history(net.peer_channel("Org1", CHANNEL).ledger.state)
    assert [r.version for r in history] == [0, 1, 2]
    assert [r.block for r in history] == [0, block, left_at]

    net.close()
    report = audit_network(net.directory)
    assert report.ok, report.first_failure
    org1 = next(r for r in report.ledgers if r.node == "Org1.peer0" and r.channel == CHANNEL)
    assert org1.config_blocks == [block, left_at]


def test_a_new_organisation_joins_from_a_snapshot(net: EmbeddedNetwork, tmp_path: Path) -> None:
    for index in range(20):
        _assets(net).submit("create", f"s{index}", "red", 1, index)
    org4 = _with_org4(net)
    current = net.channel_config(CHANNEL)
    net.update_config(CHANNEL, _next(net, organisations=(*current.organisations, org4)), ["Org1", "Org3"])
    org1 = net.peer_channel("Org1", CHANNEL)
    snapshot = tmp_path / "ch1.snapshot"
    create_snapshot(org1.directory, net.peer("Org1").identity, snapshot)
    height = org1.height
    _assets(net).submit("create", "after-snapshot", "blue", 2, 99)

    joined = net.join("Org4", CHANNEL, snapshot=snapshot)
    net.wait_for_height(CHANNEL, org1.height)
    assert joined.ledger.stored_height == org1.height
    assert joined.rules.config.version == 1  # the configuration in force came with the snapshot's state
    assert state_digest(joined) == state_digest(org1)
    # It pulled only the blocks after the snapshot, and proves a later transaction.
    after = _assets(net, "Org4").evaluate("read", "after-snapshot")
    assert after["value"] == 99
    assert height < joined.height

    # consortia verify audits it from the snapshot it joined from.
    final_height = joined.height
    net.close()
    report = audit_network(net.directory)
    assert report.ok, report.first_failure
    org4 = next(r for r in report.ledgers if r.node == "Org4.peer0")
    assert org4.snapshot_height == height
    assert org4.blocks == final_height - height  # only the blocks after the snapshot, each validated again


def test_an_update_in_force_changes_batch_settings_and_read_scope(net: EmbeddedNetwork) -> None:
    current = net.channel_config(CHANNEL)
    batch = msgspec.structs.replace(current.orderer.batch, max_transactions=1)
    net.update_config(
        CHANNEL, _next(net, orderer=msgspec.structs.replace(current.orderer, batch=batch)), ["Org2", "Org3"]
    )
    contract = _assets(net)
    futures = [contract.submit_async("create", f"b{i}", "red", 1, 1) for i in range(4)]
    blocks = {future.result(30).block for future in futures}
    assert len(blocks) == 4  # one transaction per block now


def test_a_genesis_file_that_differs_from_block_0_fails_verify(net: EmbeddedNetwork) -> None:
    net.close()
    genesis = net.directory / "genesis" / f"{CHANNEL}.block"
    data = bytearray(genesis.read_bytes())
    data[-1] ^= 1
    genesis.write_bytes(bytes(data))
    report = audit_network(net.directory)
    assert not report.ok
    assert str(genesis) in (report.first_failure.error or "")


def test_a_config_transaction_alongside_others_is_refused_by_peers(net: EmbeddedNetwork) -> None:
    """Only the ordering service cuts blocks, but a peer judges what it gets: a config tx must be alone."""
    from consortia.channel.update import config_envelope
    from consortia.ledger.block import Block
    from consortia.ledger.codes import Code
    from consortia.ledger.encoding import decode
    from consortia.ordering.solo import make_block

    peer_channel = net.peer_channel("Org1", CHANNEL)
    last = peer_channel.ledger.block(peer_channel.height - 1)
    orderer = net._orderer._chain(CHANNEL)
    other = decode(orderer.store.read(orderer.store.height - 1), Block).transactions[0]
    envelope = config_envelope(propose(_next(net)))
    block, _ = make_block(
        CHANNEL,
        peer_channel.height,
        last.header,
        peer_channel.ledger.history_range(),
        [other, envelope],
        orderer.service.identity,
        last.header.timestamp_ms + 1,
    )
    verdict = peer_channel.validator.validate(block)
    assert verdict.codes[1] == Code.CONFIG_REJECTED
    assert verdict.config is None
