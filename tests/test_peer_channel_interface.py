"""One peer-channel interface: the in-process peer channel and the remote one offer the SDK the same methods.

Without a type checker in the tool chain, this compares the implementations with the protocols of
:mod:`consortia.client.peer_channel` and :mod:`consortia.client.connection` method by method — names, parameter
names, kinds and defaults — so that an implementation cannot drift from the interface unnoticed.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from conftest import three_org_spec
from consortia.client import ChannelPeer, Connection
from consortia.identity import SigningIdentity
from consortia.network.bootstrap import create_network, user_dir
from consortia.network.embedded import EmbeddedNetwork
from consortia.node.remote import ClusterConnection, RemotePeerChannel
from consortia.peer.channel import PeerChannel


def _members(protocol: type) -> dict[str, inspect.Signature | None]:
    """The protocol's methods with their signatures (None for properties)."""
    found: dict[str, inspect.Signature | None] = {}
    for name, value in vars(protocol).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property):
            found[name] = None
        elif callable(value):
            found[name] = inspect.signature(value)
    return found


def _parameters(signature: inspect.Signature) -> list[tuple[str, inspect._ParameterKind, object]]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize(
    ("protocol", "implementation"),
    [
        (ChannelPeer, PeerChannel),
        (ChannelPeer, RemotePeerChannel),
        (Connection, EmbeddedNetwork),
        (Connection, ClusterConnection),
    ],
)
def test_implementation_matches_the_protocol(protocol: type, implementation: type) -> None:
    """Every method of the protocol exists on the implementation with the same parameters."""
    for name, signature in _members(protocol).items():
        if signature is None:
            continue  # a property: checked on instances below
        implemented = getattr(implementation, name)
        where = f"{implementation.__name__}.{name}"
        assert _parameters(inspect.signature(implemented)) == _parameters(signature), where


def _has_every_member(instance: object, protocol: type) -> bool:
    """Like isinstance with a runtime-checkable protocol, without calling properties (no network needed)."""
    return all(
        inspect.getattr_static(instance, name, None) is not None or name in vars(instance)
        for name in _members(protocol)
    )


def test_both_peer_channels_are_channel_peers(tmp_path: Path) -> None:
    """At run time, too: the embedded network's peer channel and a cluster's are ChannelPeers, both connections
    are Connections."""
    network = EmbeddedNetwork.create(tmp_path / "net", three_org_spec())
    try:
        assert isinstance(network, Connection)
        assert isinstance(network.peer_channel("Org1", "ch1"), ChannelPeer)
    finally:
        network.close()
    folder = tmp_path / "other"
    create_network(folder, three_org_spec())
    identity = SigningIdentity.load(user_dir(folder, "Org1", "client"))
    connection = ClusterConnection(identity, {"Org1": "http://127.0.0.1:9"}, ["http://127.0.0.1:9"], {"ch1": ["Org1"]})
    try:
        assert _has_every_member(connection, Connection)
        assert _has_every_member(connection.peer_channel("Org1", "ch1"), ChannelPeer)
    finally:
        connection.close()
