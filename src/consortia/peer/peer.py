"""A peer: one organisation's node that endorses proposals and keeps a copy of each channel's ledger.

A peer holds a signing identity issued by its organisation's CA, the contract packages installed on it, and
one :class:`PeerChannel` per channel it joined. It answers three requests:

* ``endorse`` — simulate a signed proposal and sign the result (disseminating private writes to the peers of
  the collection's member organisations);
* ``evaluate`` — simulate a read-only query and return its answer without signing anything;
* ``receive_block`` — check, validate and commit the next block of a channel.

Delivery threads pull blocks from the ordering service and hand them to ``receive_block``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from consortia.contracts.registry import ContractPackage, ContractRegistry
from consortia.identity import SigningIdentity
from consortia.ledger.encoding import encode
from consortia.ledger.rwset import PrivateWrites
from consortia.ledger.transaction import Endorsement, ProposalResponse
from consortia.ordering.base import OrderingService
from consortia.peer.channel import BlockRejected, PeerChannel, open_channels
from consortia.peer.endorser import EndorsementError, simulate

log = logging.getLogger(__name__)

Disseminate = Callable[[str, PrivateWrites, tuple[str, ...], str], None]
"""(channel, private writes, member orgs, sending peer's org) → deliver to member peers."""


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
        self.channels: dict[str, PeerChannel] = open_channels(self.directory, self.org, self.registry, genesis)
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def channel(self, name: str) -> PeerChannel:
        """The joined channel ``name``; EndorsementError if this peer is not on it."""
        channel = self.channels.get(name)
        if channel is None:
            raise EndorsementError("UNKNOWN_CHANNEL", f"peer {self.name} of {self.org} has not joined {name!r}")
        return channel

    def join(self, genesis_bytes: bytes, name: str) -> PeerChannel:
        """Join a channel from its genesis block."""
        if name not in self.channels:
            self.channels[name] = PeerChannel(name, self.org, self.directory / name, self.registry, genesis_bytes)
        return self.channels[name]

    def install(self, reference: str) -> ContractPackage:
        """Install contract code (``module:Class``) on this peer."""
        return self.registry.install(reference)

    # -- requests --------------------------------------------------------------------------------------------

    def endorse(
        self, channel: str, signed_proposal: bytes, transient: Mapping[str, bytes] | None = None
    ) -> ProposalResponse:
        """Simulate a proposal and return the signed response (raises EndorsementError)."""
        peer_channel = self.channel(channel)
        simulation = simulate(peer_channel, signed_proposal, transient)
        payload = encode(simulation.payload)
        if simulation.private:
            definition = peer_channel.validator.definition(None, simulation.proposal.contract)
            for writes in simulation.private:
                config = definition.collection(writes.collection) if definition else None
                members = config.members if config else ()
                if self.org in members:
                    peer_channel.store_transient(writes)
                if self.disseminate is not None:
                    self.disseminate(channel, writes, members, self.org)
        return ProposalResponse(payload, Endorsement(self.identity.certificate_der, self.identity.sign(payload)))

    def evaluate(self, channel: str, signed_proposal: bytes, transient: Mapping[str, bytes] | None = None) -> Any:
        """Run a query and return its JSON result (raises EndorsementError)."""
        return simulate(self.channel(channel), signed_proposal, transient, read_only=True).result

    def receive_private(self, channel: str, writes: PrivateWrites) -> None:
        """Accept private plaintext disseminated by an endorser of another (or the same) organisation."""
        self.channel(channel).store_transient(writes)

    # -- delivery --------------------------------------------------------------------------------------------

    def start_delivery(self, orderer: OrderingService) -> None:
        """Start one thread per channel that pulls blocks from the ordering service and commits them."""
        for name, peer_channel in self.channels.items():
            thread = threading.Thread(
                target=self._deliver, args=(orderer, peer_channel), name=f"deliver-{self.org}-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _deliver(self, orderer: OrderingService, peer_channel: PeerChannel) -> None:
        while not self._stop.is_set():
            try:
                for block_bytes in orderer.deliver(peer_channel.name, peer_channel.height, self._stop):
                    try:
                        peer_channel.receive_block(block_bytes)
                    except BlockRejected as exc:
                        log.error("peer %s refused a block: %s", self.name, exc)
                        self._stop.wait(1.0)
                        break
                else:
                    self._stop.wait(0.1)  # the service stopped delivering (shutting down): do not spin
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
