"""The embedded network: every organisation's peer and a solo orderer in one process.

This is how Consortia runs on one machine — for development, the demo, the benchmark and the tests. Each peer
still has its own identity, its own ledger files and its own state database, validates every block on its own,
and keeps private data only for the collections its organisation belongs to; they merely share a process, and
private data is handed between member peers by direct call instead of over the network.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from consortia.channel.update import config_envelope, propose, sign_update
from consortia.client.sdk import Gateway
from consortia.contracts.collections_config import CollectionConfig
from consortia.contracts.lifecycle import LIFECYCLE
from consortia.contracts.registry import ContractPackage, ContractRegistry, load_contract
from consortia.identity import SigningIdentity
from consortia.identity.wallet import Wallet
from consortia.ledger.config import ChannelConfig, ConfigTransaction
from consortia.ledger.rwset import PrivateWrites
from consortia.network.bootstrap import create_network, genesis_path, orderer_dir, peer_dir, user_dir, wallet_dir
from consortia.network.spec import Deployment, NetworkSpec, OrgSpec, load_spec, save_spec
from consortia.ordering.base import OrderingService
from consortia.ordering.solo import SoloOrderer
from consortia.peer.channel import PeerChannel
from consortia.peer.peer import Peer
from consortia.peer.snapshot_join import join_from_snapshot

log = logging.getLogger(__name__)


class EmbeddedNetwork:
    """A whole network in one process, opened from (or created in) a data folder."""

    def __init__(self, directory: Path, *, sync: bool = True) -> None:
        self.directory = Path(directory)
        self._sync = sync
        self.spec: NetworkSpec = load_spec(self.directory)
        self._identities: dict[tuple[str, str], tuple[SigningIdentity, int]] = {}
        self._lock = threading.Lock()
        orderer_identity = SigningIdentity.load(orderer_dir(self.directory, self.spec.orderer_org))
        self._orderer = SoloOrderer(orderer_identity, self.directory / "orderer", sync=sync)
        for channel in self.spec.channels:
            self._orderer.create_channel(genesis_path(self.directory, channel.name).read_bytes())
        self.peers: dict[str, Peer] = {}
        for org in self.spec.orgs:
            genesis = {
                channel.name: genesis_path(self.directory, channel.name).read_bytes()
                for channel in self.spec.channels
                if org.name in channel.orgs
            }
            identity = SigningIdentity.load(peer_dir(self.directory, org.name))
            self.peers[org.name] = Peer(
                identity,
                self.directory / "peers" / f"{org.name}.peer0",
                registry=ContractRegistry(),
                genesis=genesis,
                disseminate=self._disseminate,
                sync=sync,
            )
        for deployment in self.spec.deployments:
            package = load_contract(deployment.reference)
            for org in self.spec.channel(deployment.channel).orgs:
                self.peers[org].registry.add(package)
        for peer in self.peers.values():
            peer.start_delivery(self._orderer)

    @classmethod
    def create(cls, directory: Path, spec: NetworkSpec, *, sync: bool = True) -> EmbeddedNetwork:
        """Bootstrap a new network in ``directory`` and open it."""
        create_network(directory, spec)
        return cls(directory, sync=sync)

    # -- the SDK's connection (consortia.client.connection) ---------------------------------------------------

    def peer_channel(self, org: str, channel: str) -> PeerChannel:
        """The peer of ``org`` on ``channel`` (KeyError: no such organisation; EndorsementError: not a member)."""
        return self.peers[org].channel(channel)

    def channel_orgs(self, channel: str) -> Sequence[str]:
        """Member organisations of ``channel`` in the configuration in force."""
        return self._orderer.config(channel).org_ids()

    def broadcast(self, channel: str, envelope: bytes) -> None:
        """Hand a signed envelope to the solo orderer (OrderingError if it refuses)."""
        self._orderer.broadcast(channel, envelope)

    # -- the parts -------------------------------------------------------------------------------------------

    @property
    def orderer(self) -> OrderingService:
        """The ordering service."""
        return self._orderer

    def peer(self, org: str) -> Peer:
        """The peer of ``org``."""
        return self.peers[org]

    # -- what the gateway service reads (consortia.gateway.server.backend.GatewayNetwork) ---------------------

    @property
    def wallet_folder(self) -> Path:
        """The wallet of the network's people."""
        return wallet_dir(self.directory)

    @property
    def home_orgs(self) -> frozenset[str] | None:
        """None: this process holds every organisation's identities."""
        return None

    def channel_names(self) -> list[str]:
        """Every channel of the network."""
        return [channel.name for channel in self.spec.channels]

    def org_names(self) -> list[str]:
        """Every organisation of the network."""
        return [org.name for org in self.spec.orgs]

    def local_peers(self) -> dict[str, Peer]:
        """Every organisation's peer (all of them live in this process)."""
        return self.peers

    # -- identities and gateways -----------------------------------------------------------------------------

    def identity(self, org: str, user: str = "client") -> SigningIdentity:
        """A user's signing identity (loaded again only when its certificate file changed: a renewal)."""
        key = (org, user)
        folder = user_dir(self.directory, org, user)
        try:
            stamp = (folder / "cert.pem").stat().st_mtime_ns
        except OSError:
            stamp = 0
        with self._lock:
            cached = self._identities.get(key)
            if cached is None or cached[1] != stamp:
                cached = (SigningIdentity.load(folder), stamp)
                self._identities[key] = cached
            return cached[0]

    def person(self, org: str, user: str, password: str) -> SigningIdentity:
        """A person's signing identity: their wallet entry, opened with their password (``WalletError`` if wrong)."""
        return Wallet(wallet_dir(self.directory)).login(f"{org}/{user}", password)[1]

    def gateway(self, org: str, user: str = "client") -> Gateway:
        """A gateway acting as ``user`` of ``org``."""
        return Gateway(self.identity(org, user), self)

    def _disseminate(self, channel: str, writes: PrivateWrites, members: tuple[str, ...], sender: str) -> None:
        for org in members:
            if org != sender and org in self.peers and channel in self.peers[org].channels:
                self.peers[org].receive_private(channel, writes)

    # -- contracts -------------------------------------------------------------------------------------------

    def deploy(
        self,
        channel: str,
        reference: str,
        *,
        policy: str,
        collections: Sequence[CollectionConfig] = (),
        orgs: Sequence[str] | None = None,
        version: str | None = None,
    ) -> dict[str, Any]:
        """Install a contract on the channel's peers, have each organisation approve it, and commit it."""
        package: ContractPackage = load_contract(reference)
        channel_orgs = list(self.spec.channel(channel).orgs)
        for org in channel_orgs:
            self.peers[org].registry.add(package)
        current = self.peer_channel(channel_orgs[0], channel).definition(package.name)
        sequence = 1 if current is None else current.sequence + 1
        args = [
            package.name,
            version or package.version,
            sequence,
            package.source_hash,
            policy,
            [msgspec.to_builtins(c) for c in collections],
        ]
        last_block = 0
        for org in orgs or channel_orgs:
            approved = self.gateway(org, "admin").network(channel).contract(LIFECYCLE).submit("approve", *args)
            last_block = max(last_block, approved.block)
        # The committing admin's endorsers must see every approval before they count them.
        self.wait_for_height(channel, last_block + 1)
        result = self.gateway(channel_orgs[0], "admin").network(channel).contract(LIFECYCLE).submit("commit", *args)
        self.wait_for_height(channel, result.block + 1)
        if Deployment(channel, reference) not in self.spec.deployments:
            self.spec = msgspec.structs.replace(
                self.spec, deployments=(*self.spec.deployments, Deployment(channel, reference))
            )
            save_spec(self.directory, self.spec)
        return result.result

    # -- governance ------------------------------------------------------------------------------------------

    def channel_config(self, channel: str) -> ChannelConfig:
        """The configuration in force on ``channel``."""
        return self._orderer.config(channel)

    def submit_config(self, channel: str, transaction: ConfigTransaction) -> int:
        """Order a signed configuration update and wait for the members' peers; return its block number.

        Raises OrderingError (its ``reason`` a code such as ``CONFIG_POLICY_FAILURE``) when the update is refused;
        nothing changes then.
        """
        number = self._orderer.order_config(channel, config_envelope(transaction))
        config = self._orderer.config(channel)
        self._follow_spec(channel, config)
        self.wait_for_height(channel, number + 1)
        return number

    def update_config(self, channel: str, config: ChannelConfig, signers: Sequence[str]) -> int:
        """Propose ``config`` as the next version, signed by the admin of each organisation in ``signers``."""
        transaction = propose(config)
        for org in signers:
            admin = self.identity(org, "admin")
            transaction = sign_update(transaction, admin.certificate_der, admin.sign)
        return self.submit_config(channel, transaction)

    def _follow_spec(self, channel: str, config: ChannelConfig) -> None:
        """Keep ``network.json``'s channel membership equal to the configuration in force."""
        spec_channel = self.spec.channel(channel)
        if tuple(spec_channel.orgs) == config.org_ids():
            return
        known = {org.name for org in self.spec.orgs}
        missing = [org for org in config.org_ids() if org not in known]
        if missing:
            # An organisation created elsewhere (its own folder): the specification learns its name.
            self.spec = msgspec.structs.replace(self.spec, orgs=(*self.spec.orgs, *(OrgSpec(org) for org in missing)))
        channels = tuple(
            msgspec.structs.replace(c, orgs=config.org_ids()) if c.name == channel else c for c in self.spec.channels
        )
        self.spec = msgspec.structs.replace(self.spec, channels=channels)
        save_spec(self.directory, self.spec)

    def join(self, org: str, channel: str, *, snapshot: Path | None = None) -> PeerChannel:
        """Start ``org``'s peer on ``channel`` (a member in the configuration in force): from block 0, or a snapshot."""
        if org not in self.channel_orgs(channel):
            raise ValueError(f"{org} is not a member of channel {channel!r}: add it by a configuration update first")
        genesis = genesis_path(self.directory, channel).read_bytes()
        peer = self.peers.get(org)
        if peer is not None and channel in peer.channels:
            return peer.channels[channel]
        directory = self.directory / "peers" / f"{org}.peer0"
        if snapshot is not None:
            join_from_snapshot(snapshot, directory / channel, lambda number: self._orderer.block(channel, number))
        if peer is None:
            peer = Peer(
                SigningIdentity.load(peer_dir(self.directory, org)),
                directory,
                registry=ContractRegistry(),
                genesis={channel: genesis},
                disseminate=self._disseminate,
                sync=self._sync,
            )
            for deployment in self.spec.deployments:
                if deployment.channel == channel:
                    peer.registry.add(load_contract(deployment.reference))
            self.peers[org] = peer
        else:
            peer.join(genesis, channel)  # after a snapshot the ledger is not empty, and the genesis block unused
        peer.start_delivery(self._orderer, only=channel)
        return peer.channel(channel)

    def wait_for_height(self, channel: str, height: int, timeout: float = 30.0) -> None:
        """Wait until every member's peer of the channel has committed ``height`` blocks."""
        deadline = time.monotonic() + timeout
        for org in self.channel_orgs(channel):
            if org not in self.peers or channel not in self.peers[org].channels:
                continue  # a member whose peer has not joined yet
            peer_channel = self.peers[org].channel(channel)
            while peer_channel.height < height:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"peer of {org} did not reach height {height} on {channel}")
                time.sleep(0.005)

    def close(self) -> None:
        """Stop ordering and delivery, close every ledger."""
        self._orderer.close()
        for peer in self.peers.values():
            peer.close()

    def __enter__(self) -> EmbeddedNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
