"""An organisation's gateway on its own peer node: the REST API, explorer and login next to one peer.

On the embedded network the gateway service sees every organisation's peer in its own process. On a cluster each
organisation runs its own node, and ``consortia node`` serves that organisation's gateway beside its peer, in the
same process. :class:`NodeNetwork` is what the gateway (:class:`~consortia.gateway.server.backend.Backend`) sees
there:

* **reads** (blocks, transactions, proofs, the explorer, the membership in force) come from the node's own
  :class:`~consortia.peer.peer.Peer`, in this process — no other organisation's node is asked;
* **endorsements** go through the client SDK, which picks the endorsers the contract's policy needs: the own
  organisation's peer is called in process, other organisations' peers over HTTP (with the node's TLS certificate)
  only when the policy needs them;
* **ordering** goes to the orderers over HTTP, and the commit is awaited on the own peer;
* **identities**: only the organisation's own (its ``crypto/<org>/users/*`` folders, and people in the wallet). A
  member of another organisation authenticates here as anywhere (signed requests are verified against the
  channel's membership in force) and may read what the channel's read scope lets it read, but logs in, submits and
  queries through its own organisation's gateway: this gateway holds no key of theirs, and its peer is not theirs.

The service itself is the same FastAPI application ``consortia serve`` runs (:func:`create_app`), served by uvicorn
on a thread of the node (:class:`NodeGateway`).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from consortia.client.peer_channel import ChannelPeer
from consortia.gateway.server.backend import PeerHandle
from consortia.identity import SigningIdentity
from consortia.network.bootstrap import wallet_dir
from consortia.node.config import ConfigError, LoadedConfig
from consortia.node.remote import RemoteOrderer, RemotePeer
from consortia.node.transport import NodeTls
from consortia.peer.peer import Peer

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger(__name__)

STARTUP_WAIT = 30.0
"""Seconds the node waits for its gateway to accept connections before it reports itself started."""


@dataclass(frozen=True)
class GatewayPlan:
    """Where a node's gateway listens and what it signs with, resolved from the node's configuration."""

    host: str
    port: int
    identity_dir: Path
    wallet: Path

    @property
    def url(self) -> str:
        """The gateway's address for browsers and programs."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def plan_gateway(loaded: LoadedConfig) -> GatewayPlan | None:
    """The gateway a peer's configuration asks for (None without a ``[gateway]`` table)."""
    settings = loaded.config.gateway
    if settings is None:
        return None
    base = loaded.path.resolve().parent

    def resolve(value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else base / path

    if settings.identity:
        identity_dir = resolve(settings.identity)
    else:
        # crypto/<org>/peers/<peer> → crypto/<org>/users/client
        identity_dir = resolve(loaded.config.identity).parent.parent / "users" / "client"
    for name in ("cert.pem", "key.pem"):
        if not (identity_dir / name).is_file():
            raise ConfigError("gateway.identity", f"{identity_dir} has no {name}")
    host, _, port = settings.listen.rpartition(":")
    return GatewayPlan(
        host.strip("[]"),
        int(port),
        identity_dir,
        resolve(settings.wallet) if settings.wallet else wallet_dir(loaded.data),
    )


class _Peers(Mapping[str, PeerHandle]):
    """Every organisation's peer as the API reaches it: the own one in process, the others over HTTP."""

    def __init__(self, network: NodeNetwork) -> None:
        self._network = network

    def __getitem__(self, org: str) -> PeerHandle:
        if org == self._network.org:
            return self._network.peer
        return self._network.remote_peer(org)

    def __iter__(self) -> Iterator[str]:
        return iter([self._network.org, *self._network.remote_orgs])

    def __len__(self) -> int:
        return 1 + len(self._network.remote_orgs)


class NodeNetwork:
    """One organisation's view of a cluster, from its peer node: what the gateway service needs (GatewayNetwork)."""

    def __init__(
        self,
        peer: Peer,
        *,
        directory: Path,
        wallet: Path,
        identity_dir: Path,
        orderers: list[str],
        remote_peers: Mapping[str, str],
        tls: NodeTls | None,
    ) -> None:
        self.peer = peer
        self.org = peer.identity.org
        self._directory = Path(directory)
        self._wallet = Path(wallet)
        self._crypto_users = identity_dir.parent
        self._client = SigningIdentity.load(identity_dir)
        if self._client.org != self.org:
            raise ConfigError(
                "gateway.identity",
                f"{identity_dir} is an identity of {self._client.org}, but this is a peer of {self.org}",
            )
        self._tls = tls
        self._endpoints = {org: endpoint for org, endpoint in remote_peers.items() if org != self.org}
        self._remote: dict[str, RemotePeer] = {}
        self._lock = threading.Lock()
        self._identities: dict[str, tuple[SigningIdentity, int]] = {}
        # Envelopes are signed by their submitters; the request carrying them is signed as the gateway's client.
        self.orderer = RemoteOrderer(orderers, self._client, tls=tls)

    # -- the SDK's connection (consortia.client.connection) ---------------------------------------------------

    def peer_channel(self, org: str, channel: str) -> ChannelPeer:
        """The own peer's channel in process; another organisation's over HTTP (KeyError: no peer of ``org``)."""
        if org == self.org:
            return self.peer.channel(channel)
        return self.remote_peer(org).channel(channel)

    def channel_orgs(self, channel: str) -> list[str]:
        """Member organisations of ``channel`` in the configuration in force on the own peer."""
        return list(self.peer.channel(channel).rules.config.org_ids())

    def broadcast(self, channel: str, envelope: bytes) -> None:
        """Hand a signed envelope to the orderers (OrderingError if they refuse it)."""
        self.orderer.broadcast(channel, envelope)

    # -- what the gateway service reads (GatewayNetwork) -------------------------------------------------------

    @property
    def directory(self) -> Path:
        """The node's data folder: where the gateway's applications keep their files."""
        return self._directory

    @property
    def wallet_folder(self) -> Path:
        """The wallet of the people who log in here."""
        return self._wallet

    @property
    def home_orgs(self) -> frozenset[str]:
        """Only this node's organisation: the gateway holds no other organisation's keys."""
        return frozenset({self.org})

    @property
    def peers(self) -> Mapping[str, PeerHandle]:
        """The own peer and every other organisation's peer this node knows of."""
        return _Peers(self)

    @property
    def remote_orgs(self) -> list[str]:
        """Organisations whose peers this gateway reaches over HTTP."""
        return list(self._endpoints)

    def channel_names(self) -> list[str]:
        """The channels the own peer has joined."""
        return list(self.peer.channels)

    def org_names(self) -> list[str]:
        """Every organisation the channels' configurations in force name."""
        names: list[str] = []
        for channel in list(self.peer.channels.values()):
            names.extend(org for org in channel.rules.config.org_ids() if org not in names)
        return names

    def local_peers(self) -> dict[str, Peer]:
        """The own peer: the only one whose ledgers are in this process."""
        return {self.org: self.peer}

    def identity(self, org: str, user: str = "client") -> SigningIdentity:
        """An own user's identity (reloaded when its certificate changes); KeyError for another organisation."""
        if org != self.org:
            raise KeyError(f"this gateway holds no identity of {org} (only {self.org}'s)")
        folder = self._crypto_users / user
        try:
            stamp = (folder / "cert.pem").stat().st_mtime_ns
        except OSError:
            stamp = 0
        with self._lock:
            cached = self._identities.get(user)
            if cached is None or cached[1] != stamp:
                cached = (SigningIdentity.load(folder), stamp)
                self._identities[user] = cached
            return cached[0]

    def remote_peer(self, org: str) -> RemotePeer:
        """Another organisation's peer node, over HTTP (KeyError if this node knows none of ``org``)."""
        with self._lock:
            peer = self._remote.get(org)
            if peer is None:
                peer = self._remote[org] = RemotePeer(org, self._endpoints[org], self._client, tls=self._tls)
            return peer

    def close(self) -> None:
        """Stop the remote peers' followers and the orderer client (the own peer is the node's to close)."""
        self.orderer.close()
        with self._lock:
            remote, self._remote = list(self._remote.values()), {}
        for peer in remote:
            peer.close()


class NodeGateway:
    """The gateway service of a peer node: uvicorn serving :func:`create_app` on a thread of the node."""

    def __init__(self, plan: GatewayPlan, network: NodeNetwork) -> None:
        import uvicorn

        from consortia.gateway.server.app import ServerSettings, create_app

        self.plan = plan
        self.network = network
        family = socket.AF_INET6 if ":" in plan.host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            # Bound now, so that a port in use is a configuration error before the node starts anything.
            self._socket.bind((plan.host, plan.port))
        except OSError as exc:
            self._socket.close()
            raise ConfigError("gateway.listen", f"cannot listen on {plan.host}:{plan.port}: {exc.strerror}") from None
        app = create_app(network, ServerSettings())
        level = logging.getLevelName(logging.getLogger().level).lower()
        config = uvicorn.Config(
            app,
            log_level=level if level in ("debug", "info", "warning", "error") else "info",
            log_config=None,  # the node's logging stays as the node set it up
        )
        self._server: uvicorn.Server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="gateway", daemon=True)

    def _serve(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException:  # uvicorn exits with SystemExit on startup failures; the node logs and carries on
            log.exception("the gateway on %s stopped", self.plan.url)

    def start(self) -> None:
        """Serve, and wait (bounded) until connections are accepted."""
        self._thread.start()
        deadline = time.monotonic() + STARTUP_WAIT
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if self._server.started:
            log.info("gateway of %s serving on %s", self.network.org, self.plan.url)
        else:
            log.error("the gateway of %s did not start on %s", self.network.org, self.plan.url)

    def close(self) -> None:
        """Stop serving (open event streams are cut) and release the remote clients."""
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()
        self.network.close()


def open_gateway(loaded: LoadedConfig, peer: Peer, tls: NodeTls | None) -> NodeGateway | None:
    """The gateway a peer's configuration asks for, bound but not yet serving (None without ``[gateway]``)."""
    plan = plan_gateway(loaded)
    if plan is None:
        return None
    remote: dict[str, str] = {}
    for ref in loaded.config.peers:
        remote.setdefault(ref.org, ref.endpoint)  # the first peer named of each organisation
    network = NodeNetwork(
        peer,
        directory=loaded.data,
        wallet=plan.wallet,
        identity_dir=plan.identity_dir,
        orderers=[ref.endpoint for ref in loaded.config.orderers],
        remote_peers=remote,
        tls=tls,
    )
    try:
        return NodeGateway(plan, network)
    except BaseException:
        network.close()
        raise
