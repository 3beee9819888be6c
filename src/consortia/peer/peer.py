"""A peer: one organisation's node that endorses proposals and keeps a copy of each channel's ledger.

A peer holds a signing identity issued by its organisation's CA, the contract packages installed on it, and
one :class:`PeerChannel` per channel it joined, which does the work: ``endorse`` (simulate a signed proposal and
sign the result, disseminating private writes to the peers of the collection's member organisations),
``evaluate`` (a read-only query, nothing signed) and ``receive_block`` (check, validate and commit the next
block). The peer routes requests to its channels by name.

Delivery threads pull blocks from the ordering service and hand them to ``receive_block``.

A renewed certificate is taken in while running (:meth:`Peer.use_identity`, fed by an
:class:`~consortia.identity.signing.IdentityWatch` on the peer's identity folder): endorsements are signed with the
new one from then on, and those already signed with the old one still validate while it is valid.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from consortia.contracts.registry import ContractPackage, ContractRegistry
from consortia.identity import SigningIdentity
from consortia.ledger.rwset import PrivateWrites
from consortia.ledger.transaction import ProposalResponse
from consortia.ordering.base import OrderingError, OrderingService
from consortia.peer.channel import BlockRejected, Disseminate, PeerChannel, open_channels
from consortia.peer.endorser import EndorsementError

log = logging.getLogger(__name__)


class Peer:
    """An organisation's peer node, hosting one ledger per joined channel."""

    def __init__(
        self,
        identity: SigningIdentity,
        directory: Path,
        *,
        registry: ContractRegistry | None = None,
        genesis: Mapping[str, bytes] | None = None,
        disseminate: Disseminate | None = None,
        sync: bool = True,
    ) -> None:
        self.identity = identity
        self.org = identity.org
        self.name = identity.name
        self.directory = Path(directory)
        self.registry = registry or ContractRegistry()
        self.disseminate = disseminate
        self.sync = sync
        self.channels: dict[str, PeerChannel] = open_channels(
            self.directory, identity, self.registry, genesis, disseminate=disseminate, sync=sync
        )
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._identity_lock = threading.Lock()

    def use_identity(self, identity: SigningIdentity) -> None:
        """Sign with a renewed identity of this same peer from now on (its channels too)."""
        if (identity.org, identity.name, identity.kind) != (self.org, self.name, self.identity.kind):
            raise ValueError(
                f"{identity.info.describe()} ({identity.kind.value}) cannot replace {self.identity.info.describe()} "
                f"({self.identity.kind.value}): a renewal keeps who the peer is"
            )
        with self._identity_lock:
            self.identity = identity
            for peer_channel in list(self.channels.values()):
                peer_channel.identity = identity

    def channel(self, name: str) -> PeerChannel:
        """The joined channel ``name``; EndorsementError if this peer is not on it."""
        channel = self.channels.get(name)
        if channel is None:
            raise EndorsementError("UNKNOWN_CHANNEL", f"peer {self.name} of {self.org} has not joined {name!r}")
        return channel

    def join(self, genesis_bytes: bytes, name: str) -> PeerChannel:
        """Join a channel from its genesis block."""
        if name not in self.channels:
            with self._identity_lock:
                identity = self.identity
            self.channels[name] = PeerChannel(
                name,
                identity,
                self.directory / name,
                self.registry,
                genesis_bytes,
                disseminate=self.disseminate,
                sync=self.sync,
            )
        return self.channels[name]

    def install(self, reference: str) -> ContractPackage:
        """Install contract code (``module:Class``) on this peer."""
        return self.registry.install(reference)

    # -- requests --------------------------------------------------------------------------------------------

    def endorse(
        self, channel: str, signed_proposal: bytes, transient: Mapping[str, bytes] | None = None
    ) -> ProposalResponse:
        """Simulate a proposal on channel ``channel`` and return the signed response (raises EndorsementError)."""
        return self.channel(channel).endorse(signed_proposal, transient or {})

    def evaluate(self, channel: str, signed_proposal: bytes, transient: Mapping[str, bytes] | None = None) -> Any:
        """Run a query on channel ``channel`` and return its JSON result (raises EndorsementError)."""
        return self.channel(channel).evaluate(signed_proposal, transient or {})

    def receive_private(self, channel: str, writes: PrivateWrites) -> None:
        """Accept private plaintext disseminated by an endorser of another (or the same) organisation."""
        self.channel(channel).store_transient(writes)

    # -- delivery --------------------------------------------------------------------------------------------

    def start_delivery(self, orderer: OrderingService, only: str | None = None) -> None:
        """Start a thread per channel (or for channel ``only``) pulling blocks from the orderer and committing them."""
        for name, peer_channel in self.channels.items():
            if only is not None and name != only:
                continue
            thread = threading.Thread(
                target=self._deliver, args=(orderer, peer_channel), name=f"deliver-{self.org}-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _deliver(self, orderer: OrderingService, peer_channel: PeerChannel) -> None:
        while not self._stop.is_set():
            try:
                for block_bytes in orderer.deliver(peer_channel.name, peer_channel.height, self._stop, reader=self.org):
                    try:
                        peer_channel.receive_block(block_bytes)
                    except BlockRejected as exc:
                        log.error("peer %s refused a block: %s", self.name, exc)
                        self._stop.wait(1.0)
                        break
                else:
                    self._stop.wait(0.1)  # the service stopped delivering (shutting down): do not spin
            except OrderingError as exc:
                if exc.status != 403:
                    log.warning("peer %s: delivery of %s: %s; retrying", self.name, peer_channel.name, exc.message)
                    self._stop.wait(0.5)
                    continue
                # The organisation left the channel: the ordering service sends it nothing more.
                log.warning("peer %s: delivery of %s ended: %s", self.name, peer_channel.name, exc.message)
                return
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("peer %s: delivery of %s failed; retrying", self.name, peer_channel.name)
                self._stop.wait(0.5)

    def close(self) -> None:
        """Stop delivery and close every channel."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for peer_channel in self.channels.values():
            peer_channel.close()
