"""An orderer node: one member of the ordering service in its own process, serving HTTP.

The node wraps an :class:`~consortia.ordering.etcd.EtcdOrderer` and gives it a network around it: clients
broadcast envelopes to any orderer (a follower forwards them to the leader, signing the forwarded request as
an orderer, so the leader need not check the envelopes again); peers and fellow orderers pull blocks from its
copy of each chain; ``/status`` says whether it leads. The node follows its identity folder, so a renewed
orderer certificate signs the next block without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from consortia.identity import Kind, SigningIdentity
from consortia.identity.signing import IdentityWatch
from consortia.ledger.block import header_hash
from consortia.node.common import base_status, follow_configs, node_membership, require_reader
from consortia.node.config import LoadedConfig, node_tls, tls_cas
from consortia.node.messages import BlocksReply, BroadcastReply, BroadcastRequest
from consortia.node.transport import (
    ANY_KIND,
    CLIENT_KINDS,
    HttpError,
    NodeClient,
    NodeError,
    NodeServer,
    Reply,
    Request,
    Route,
    json_reply,
    msgpack_reply,
)
from consortia.ordering.base import OrderingError
from consortia.ordering.etcd.client import EtcdClient
from consortia.ordering.etcd.orderer import ACK_TIMEOUT, Ack, EtcdOrderer

log = logging.getLogger(__name__)


class OrdererNode:
    """An orderer in its own process: the etcd ordering service and its HTTP API."""

    def __init__(self, loaded: LoadedConfig) -> None:
        config = loaded.config
        self.loaded = loaded
        self.name = config.name
        self.identity = loaded.identity
        self.identity_watch: IdentityWatch | None = None
        self.started = time.monotonic()
        self.configs = dict(loaded.channel_configs)
        # One TLS object for both ends: the server checks callers against it, clients present its certificate.
        self.tls = node_tls(loaded, self.configs)
        self.fellows = {
            ref.endpoint: NodeClient(ref.endpoint, loaded.identity, timeout=ACK_TIMEOUT + 10, tls=self.tls)
            for ref in config.orderers
            if ref.name != config.name and ref.endpoint != loaded.endpoint
        }
        self._lock = threading.Lock()
        self.etcd = EtcdClient(config.etcd.endpoints, tls=self.tls.client_context() if self.tls is not None else None)
        self.orderer = EtcdOrderer(
            loaded.identity,
            loaded.data / "orderer",
            self.etcd,
            name=config.name,
            endpoint=loaded.endpoint,
            prefix=config.etcd.prefix,
            lease_ttl=config.etcd.lease_ttl,
            retain_blocks=config.etcd.retain_blocks,
            sync=config.sync,
            forward=self._forward,
            fetch=self._fetch,
        )
        for genesis in loaded.genesis.values():
            self.orderer.create_channel(genesis)
        # The configuration in force may be a later version than the genesis block's.
        self.configs.update({name: self.orderer.config(name) for name in self.configs})
        if self.tls is not None:
            self.tls.trust(self._tls_cas())
        routes = [
            Route("GET", "/status", self._status, None),
            Route("GET", "/channels/{channel}/height", self._height, None),
            Route("GET", "/channels/{channel}/blocks", self._blocks, ANY_KIND),
            Route("POST", "/broadcast", self._broadcast, CLIENT_KINDS | {Kind.ORDERER}),
        ]
        self.server = NodeServer(
            loaded.host, loaded.port, routes, node_membership(self.configs), tls=self.tls, tls_cas=self._tls_cas
        )

    def _tls_cas(self) -> list[bytes]:
        """The TLS CAs this node trusts: those of its channels' configurations in force, and the extra ones."""
        return [*self.loaded.tls_extra_cas, *tls_cas(self.configs)]

    def start(self) -> None:
        """Serve requests and join the ordering service."""
        self.server.start()
        self.orderer.start()
        follow_configs(self.configs, self.orderer.config, self.server, self.orderer.stopped)
        folder = Path(self.loaded.config.identity).expanduser()
        if not folder.is_absolute():
            folder = self.loaded.path.resolve().parent / folder
        # A certificate renewed in the identity folder (consortia identity renew) is used without a restart.
        self.identity_watch = IdentityWatch(folder, self.identity, self._use_identity).start()
        threading.Thread(target=self._check_fellows, name="fellows", daemon=True).start()

    def _check_fellows(self) -> None:
        """Refuse to order if a fellow orderer uses another etcd prefix: two logs would fork the chain."""
        prefix = self.loaded.config.etcd.prefix
        while not self.orderer.stopped.wait(5.0):
            for endpoint, client in list(self.fellows.items()):
                try:
                    theirs = client.get_json("/status", timeout=2).get("etcd_prefix")
                except (NodeError, ValueError, AttributeError):
                    continue
                if theirs is not None and theirs != prefix:
                    message = (
                        f"the orderer at {endpoint} orders under etcd prefix {theirs!r}, this one under {prefix!r}: "
                        "their chains would fork; fix etcd.prefix in the configurations"
                    )
                    log.critical(message)
                    self.orderer.halt(message)
                    return

    def _use_identity(self, identity: SigningIdentity) -> None:
        """Sign blocks and requests to fellow orderers with a renewed certificate from now on."""
        self.identity = identity
        self.orderer.identity = identity  # read once per block the orderer cuts
        with self._lock:
            for client in self.fellows.values():
                client.identity = identity

    def close(self) -> None:
        """Resign if leading, stop serving, close the stores."""
        if self.identity_watch is not None:
            self.identity_watch.stop()
        self.orderer.close()
        self.server.close()
        self.etcd.close()

    # -- the orderer's callbacks -----------------------------------------------------------------------------

    def _client(self, endpoint: str) -> NodeClient:
        with self._lock:
            client = self.fellows.get(endpoint)
            if client is None:
                client = self.fellows[endpoint] = NodeClient(
                    endpoint, self.identity, timeout=ACK_TIMEOUT + 10, tls=self.tls
                )
            return client

    def _forward(self, endpoint: str, channel: str, envelopes: list[bytes]) -> list[Ack]:
        try:
            reply: BroadcastReply = self._client(endpoint).call(
                "POST", "/broadcast", BroadcastRequest(channel, envelopes), reply=BroadcastReply
            )
        except NodeError as exc:
            return [Ack(503, -1, f"the leader at {endpoint} did not answer ({exc.message}); resend")] * len(envelopes)
        return reply.acks

    def _fetch(self, channel: str, start: int) -> list[bytes]:
        for endpoint in list(self.fellows):
            try:
                reply: BlocksReply = self._client(endpoint).call(
                    "GET", f"/channels/{channel}/blocks?from={start}&limit=64", reply=BlocksReply, timeout=30
                )
            except NodeError as exc:
                log.info("fetching %s blocks from %s: %s", channel, endpoint, exc)
                continue
            if reply.blocks:
                return reply.blocks
        return []

    # -- routes ----------------------------------------------------------------------------------------------

    def _status(self, request: Request) -> Reply:
        status = base_status(self.name, "orderer", self.identity.org, self.loaded.endpoint, self.started)
        leader = self.orderer.leader
        status["leader"] = bool(self.orderer.leading_term())
        status["leader_name"] = leader.name if leader else None
        status["leader_endpoint"] = leader.endpoint if leader else None
        status["term"] = leader.term if leader else 0
        status["etcd_prefix"] = self.loaded.config.etcd.prefix
        channels = {}
        for name in self.orderer.channels():
            channels[name] = {
                "height": self.orderer.height(name),
                "last_header_hash": header_hash(self.orderer.last_header(name)).hex(),
                "error": self.orderer.chain_error(name),
            }
        status["channels"] = channels
        return json_reply(status)

    def _height(self, request: Request) -> Reply:
        try:
            return json_reply({"height": self.orderer.height(request.params["channel"])})
        except OrderingError as exc:
            raise HttpError(exc.status, exc.message) from None

    def _blocks(self, request: Request) -> Reply:
        channel = request.params["channel"]
        require_reader(request, self.configs, channel)
        start = request.arg("from", 0)
        limit = max(1, min(request.arg("limit", 32), 256))
        wait = min(max(request.arg("wait", 0), 0), 30)
        caller = request.caller
        if caller is not None and not self.orderer.may_read(channel, caller.org, start):
            raise HttpError(403, f"{caller.org} is no longer a member of channel {channel!r}")
        blocks = self.orderer.read_blocks(channel, start, limit, 8 << 20, wait)
        if caller is not None:
            # Exact to the block: an organisation removed by block b gets blocks up to b and none after.
            readable = 0
            while readable < len(blocks) and self.orderer.may_read(channel, caller.org, start + readable):
                readable += 1
            blocks = blocks[:readable]
        return msgpack_reply(BlocksReply(blocks, self.orderer.height(channel)))

    def _broadcast(self, request: Request) -> Reply:
        message = request.decode(BroadcastRequest)
        if message.channel not in self.configs:
            raise HttpError(404, f"the ordering service does not serve channel {message.channel!r}")
        ordering_orgs = {org.msp_id for org in self.configs[message.channel].orderer.organisations}
        forwarded = request.caller is not None and request.caller.kind == Kind.ORDERER
        if forwarded and request.caller.org not in ordering_orgs:
            raise HttpError(403, f"{request.caller.org} is not an ordering organisation of {message.channel!r}")
        acks = self.orderer.broadcast_many(message.channel, message.envelopes, checked=forwarded)
        leader = self.orderer.leader
        return msgpack_reply(BroadcastReply(acks, leader.endpoint if leader else ""))
