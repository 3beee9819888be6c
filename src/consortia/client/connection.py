"""The connection: what a gateway needs from a network, and nothing more.

A :class:`~consortia.client.sdk.Gateway` works over any connection: the embedded network in this process
(:class:`consortia.network.embedded.EmbeddedNetwork`) or a cluster's peers and orderers over HTTP
(:class:`consortia.node.remote.ClusterConnection`). A connection offers three things: the peer of an organisation
on a channel (see :mod:`consortia.client.peer_channel`), the member organisations of a channel, and the ordering
service's broadcast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from consortia.client.peer_channel import ChannelPeer


@runtime_checkable
class Connection(Protocol):
    """Peers by organisation and channel, the channels' members, and broadcast to the ordering service."""

    def peer_channel(self, org: str, channel: str) -> ChannelPeer:
        """The peer of ``org`` on ``channel`` (KeyError: no peer of ``org``; EndorsementError: not on the channel)."""
        ...

    def channel_orgs(self, channel: str) -> Sequence[str]:
        """Member organisations of ``channel``."""
        ...

    def broadcast(self, channel: str, envelope: bytes) -> None:
        """Hand a signed envelope to the ordering service (OrderingError if it refuses)."""
        ...
