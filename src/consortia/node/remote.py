"""Using a cluster from another process: the ordering service and peers behind HTTP, as the SDK expects them.

The client SDK (:mod:`consortia.client.sdk`) works over a :class:`~consortia.client.connection.Connection`: the
peer of an organisation on a channel, the channels' members, and broadcast. :class:`ClusterConnection` is that
connection for a cluster, so ``Gateway(identity, ClusterConnection(...))`` submits and evaluates exactly as it
does in the embedded network:

* :class:`RemoteOrderer` sends envelopes to the orderers (batched). It returns only when an orderer
  acknowledged the envelope — that is, when its block is written to etcd. An envelope answered 503 (the leader
  died, an election is under way, the outcome is unknown) is sent again, to the leader the orderers name or the
  next orderer, until it is acknowledged or ``resend_for`` seconds pass; resending is safe because the
  transaction id identifies it. Refusals (400, 403, 413) are final. The same class pulls blocks for a peer node.
* :class:`RemotePeerChannel` is a peer's channel behind HTTP, implementing the same peer-channel interface
  (:mod:`consortia.client.peer_channel`) as the in-process :class:`~consortia.peer.channel.PeerChannel`:
  endorsements are batched (per :class:`RemotePeer`) and the peer itself waits for the height asked for; a
  thread follows the peer's block events (long polls), resolves the futures of transactions waiting for their
  commit and tracks the height, just as the peer's own event hub would in process.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from consortia.contracts.lifecycle import ContractDefinition
from consortia.identity import SigningIdentity
from consortia.ledger.encoding import MalformedError, decode, parse_json
from consortia.ledger.transaction import ProposalResponse
from consortia.node.batching import Batcher
from consortia.node.messages import (
    BlocksReply,
    BroadcastReply,
    BroadcastRequest,
    CommitStatusReply,
    DefinitionReply,
    EndorseItem,
    EndorseResult,
    EvaluateRequest,
    EvaluateResult,
    EventsReply,
)
from consortia.node.transport import NodeClient, NodeError, NodeTls
from consortia.ordering.base import OrderingError, OrderingService
from consortia.ordering.etcd.orderer import ACK_TIMEOUT, Ack
from consortia.peer.endorser import EndorsementError
from consortia.peer.events import BlockEvent, CommitStatus, EventHub

log = logging.getLogger(__name__)

_FINAL = frozenset({400, 403, 404, 409, 413})


def _code(exc: Exception) -> str:
    if isinstance(exc, NodeError):
        return "NO_PEER" if exc.status == 0 else f"HTTP_{exc.status}"
    return "BAD_RESPONSE"


class RemoteOrderer(OrderingService):
    """The ordering service of a cluster, over HTTP: broadcast (batched, resent on 503) and block delivery."""

    def __init__(
        self,
        endpoints: Sequence[str],
        identity: SigningIdentity,
        *,
        sources: Sequence[str] = (),
        resend_for: float = 30.0,
        senders: int = 4,
        tls: NodeTls | None = None,
    ) -> None:
        if not endpoints:
            raise ValueError("a remote orderer needs at least one endpoint")
        self.identity = identity
        self._clients = {e: NodeClient(e, identity, timeout=ACK_TIMEOUT + 10, tls=tls) for e in endpoints}
        self._order = list(self._clients)
        self._sources = list(self._order) + [s for s in sources if s not in self._clients]
        self._source_clients = {
            s: self._clients.get(s) or NodeClient(s, identity, timeout=15, tls=tls) for s in self._sources
        }
        self.resend_for = resend_for
        self._senders = senders
        self._target = self._order[0]
        self._bad: dict[str, float] = {}
        self._lock = threading.Lock()
        self._batchers: dict[str, Batcher[bytes, Ack]] = {}
        self._delivery_start: dict[str, int] = {}
        self._stopped = threading.Event()

    # -- broadcast -------------------------------------------------------------------------------------------

    def _batcher(self, channel: str) -> Batcher[bytes, Ack]:
        with self._lock:
            batcher = self._batchers.get(channel)
            if batcher is None:
                batcher = Batcher(
                    lambda envelopes: self._send(channel, envelopes),
                    max_items=512,
                    senders=self._senders,
                    name=f"broadcast-{channel}",
                )
                self._batchers[channel] = batcher
            return batcher

    def _pick(self) -> str:
        with self._lock:
            now = time.monotonic()
            if self._bad.get(self._target, 0) <= now:
                return self._target
            for endpoint in self._order:
                if self._bad.get(endpoint, 0) <= now:
                    self._target = endpoint
                    return endpoint
            return self._target

    def _demote(self, endpoint: str) -> None:
        with self._lock:
            self._bad[endpoint] = time.monotonic() + 1.0
            if self._target == endpoint:
                index = self._order.index(endpoint) if endpoint in self._order else -1
                self._target = self._order[(index + 1) % len(self._order)]

    def _send(self, channel: str, envelopes: list[bytes]) -> list[Ack]:
        endpoint = self._pick()
        try:
            reply: BroadcastReply = self._clients[endpoint].call(
                "POST", "/broadcast", BroadcastRequest(channel, envelopes), reply=BroadcastReply
            )
        except NodeError as exc:
            if exc.status == 0:
                self._demote(endpoint)
                return [Ack(0, -1, f"orderer {endpoint} unreachable: {exc.message}")] * len(envelopes)
            return [Ack(exc.status, -1, exc.message)] * len(envelopes)
        if reply.leader and reply.leader in self._clients:
            with self._lock:
                self._target = reply.leader
        return reply.acks

    def broadcast(self, channel: str, envelope: bytes) -> None:
        """Return once an orderer acknowledged the envelope (its block is in etcd); raise OrderingError if not."""
        deadline = time.monotonic() + self.resend_for
        delay = 0.05
        while True:
            ack = self._batcher(channel).call(envelope)
            if ack.status == 200:
                return
            if ack.status in _FINAL:
                raise OrderingError.answered(ack.status, ack.message)
            if time.monotonic() >= deadline or self._stopped.is_set():
                raise OrderingError(503, f"not acknowledged after {self.resend_for:g} s: {ack.message}")
            log.info("resending an envelope on %s: %s", channel, ack.message)
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    # -- delivery --------------------------------------------------------------------------------------------

    def deliver(
        self, channel: str, start: int, stop: threading.Event | None = None, reader: str | None = None
    ) -> Iterator[bytes]:
        """Pull blocks from ``start`` from the orderers (then other sources), long-polling for new ones.

        ``reader`` is implied: the orderer judges the organisation of the certificate the request is signed with.

        If the consumer abandons the stream (it refused a block), the next stream starts at the next source.
        """
        with self._lock:
            first = self._delivery_start.get(channel, 0)
        sources = itertools.islice(itertools.cycle(range(len(self._sources))), first, None)
        index = next(sources)
        number = start
        finished = False
        try:
            while not self._stopped.is_set() and not (stop is not None and stop.is_set()):
                client = self._source_clients[self._sources[index]]
                try:
                    reply: BlocksReply = client.call(
                        "GET",
                        f"/channels/{channel}/blocks?from={number}&limit=32&wait=2",
                        reply=BlocksReply,
                        timeout=10,
                    )
                except NodeError as exc:
                    log.info("blocks of %s from %s: %s", channel, client.endpoint, exc.message)
                    index = next(sources)
                    (stop or self._stopped).wait(0.2)
                    continue
                if not reply.blocks and self._sources[index] not in self._clients:
                    # A fellow peer with nothing new may simply be behind (or waiting too): ask the next source,
                    # so that delivery comes back to the orderers instead of peers polling one another for ever.
                    index = next(sources)
                    continue
                for data in reply.blocks:
                    yield data
                    number += 1
            finished = True
        finally:
            if not finished:
                with self._lock:
                    self._delivery_start[channel] = (index + 1) % len(self._sources)

    def height(self, channel: str) -> int:
        """The channel's height at the first orderer that answers."""
        for endpoint in self._order:
            try:
                return int(self._clients[endpoint].get_json(f"/channels/{channel}/height")["height"])
            except (NodeError, KeyError, ValueError):
                continue
        raise OrderingError(503, "no orderer answered")

    def close(self) -> None:
        """Stop resending and delivering."""
        self._stopped.set()
        for batcher in self._batchers.values():
            batcher.close()


@dataclass(frozen=True)
class _CachedDefinition:
    expires: float
    definition: ContractDefinition | None


class RemotePeerChannel:
    """A channel on a remote peer: the peer-channel interface (:mod:`consortia.client.peer_channel`) over HTTP.

    Endorsements go through the peer's batcher; a background thread follows the peer's block events (long
    polls) once anything asks for the height or a commit, resolves commit waiters and tracks the height, which
    ``wait_for_height`` waits on.
    """

    def __init__(self, peer: RemotePeer, name: str) -> None:
        self.peer = peer
        self.name = name
        self.events = EventHub()
        self._height = -1
        self._height_changed = threading.Condition()
        self._follower: threading.Thread | None = None
        self._lock = threading.Lock()
        self._definitions: dict[str, _CachedDefinition] = {}

    def _refused(self, exc: NodeError) -> EndorsementError:
        return EndorsementError(_code(exc), f"peer {self.peer.endpoint}: {exc.message}")

    def _fetch_height(self) -> int:
        try:
            return int(self.peer.client.get_json(f"/channels/{self.name}/height")["height"])
        except NodeError as exc:
            raise self._refused(exc) from None
        except (KeyError, ValueError) as exc:
            raise EndorsementError("BAD_RESPONSE", f"peer {self.peer.endpoint}: unexpected answer: {exc}") from None

    def _follow(self) -> None:
        with self._lock:
            if self._follower is not None:
                return
            self._height = self._fetch_height()
            self._follower = threading.Thread(target=self._run, name=f"events-{self.peer.org}-{self.name}", daemon=True)
            self._follower.start()

    def _run(self) -> None:
        client = NodeClient(self.peer.endpoint, self.peer.identity, timeout=15, tls=self.peer.tls)
        while not self.peer.stopped.is_set():
            try:
                reply: EventsReply = client.call(
                    "GET", f"/channels/{self.name}/events?from={self._height}&wait=2", reply=EventsReply, timeout=10
                )
            except NodeError as exc:
                log.info("events of %s from %s: %s", self.name, self.peer.endpoint, exc.message)
                self.peer.stopped.wait(0.3)
                continue
            for event in reply.events:
                if event.number != self._height:
                    continue
                self.events.publish(event)
                with self._height_changed:
                    self._height = event.number + 1
                    self._height_changed.notify_all()
        client.close()

    # -- the peer-channel interface --------------------------------------------------------------------------

    @property
    def height(self) -> int:
        """Blocks the peer has committed, as far as this client has seen."""
        self._follow()
        return self._height

    def definition(self, contract: str) -> ContractDefinition | None:
        """The committed definition of ``contract`` (asked of the peer, remembered for two seconds)."""
        cached = self._definitions.get(contract)
        if cached is not None and cached.expires > time.monotonic():
            return cached.definition
        try:
            reply: DefinitionReply = self.peer.client.call(
                "GET", f"/channels/{self.name}/definitions/{contract}", reply=DefinitionReply
            )
        except NodeError as exc:
            raise self._refused(exc) from None
        self._definitions[contract] = _CachedDefinition(time.monotonic() + 2.0, reply.definition)
        return reply.definition

    def endorse(
        self, signed_proposal: bytes, transient: Mapping[str, bytes], *, min_height: int = 0, timeout: float = 10.0
    ) -> ProposalResponse:
        """Have the peer simulate and sign a proposal once it has ``min_height`` blocks (it waits, not us)."""
        item = EndorseItem(self.name, signed_proposal, dict(transient), min_height, timeout)
        result = self.peer.endorse_item(item)
        if result.code:
            raise EndorsementError(result.code, result.message, result.contract_code or None)
        try:
            return decode(result.response, ProposalResponse)
        except MalformedError as exc:
            raise EndorsementError("BAD_RESPONSE", f"peer {self.peer.endpoint}: {exc}") from None

    def evaluate(self, signed_proposal: bytes, transient: Mapping[str, bytes]) -> Any:
        """Run a query on the peer and return its JSON answer."""
        try:
            result: EvaluateResult = self.peer.client.call(
                "POST",
                "/evaluate",
                EvaluateRequest(self.name, signed_proposal, dict(transient)),
                reply=EvaluateResult,
            )
        except NodeError as exc:
            raise self._refused(exc) from None
        if result.code:
            raise EndorsementError(result.code, result.message, result.contract_code or None)
        return parse_json(result.result)

    def wait_for_height(self, height: int, timeout: float) -> bool:
        """Wait until the peer has committed ``height`` blocks (as its block events tell); return whether it has."""
        self._follow()
        deadline = time.monotonic() + timeout
        with self._height_changed:
            while self._height < height:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._height_changed.wait(remaining)
        return True

    def commit_waiter(self, tx_id: str) -> Future[CommitStatus]:
        """A future resolved when the peer commits ``tx_id`` from now on (cancel it to stop waiting)."""
        self._follow()
        return self.events.waiter(tx_id)

    def commit_status(self, tx_id: str) -> CommitStatus | None:
        """The outcome of ``tx_id`` if the peer has already committed it, else None."""
        try:
            reply: CommitStatusReply = self.peer.client.call(
                "GET", f"/channels/{self.name}/transactions/{tx_id}", reply=CommitStatusReply
            )
        except NodeError as exc:
            raise self._refused(exc) from None
        return reply.status

    def block_events(
        self, start: int, stop: threading.Event | None = None, timeout: float | None = None
    ) -> Iterator[BlockEvent]:
        """Block events from ``start`` (stored ones first, then live ones), read from the peer."""
        client = NodeClient(self.peer.endpoint, self.peer.identity, timeout=15, tls=self.peer.tls)
        deadline = None if timeout is None else time.monotonic() + timeout
        number = start
        try:
            while stop is None or not stop.is_set():
                remaining = 2.0 if deadline is None else min(2.0, deadline - time.monotonic())
                if remaining <= 0:
                    return
                reply: EventsReply = client.call(
                    "GET",
                    f"/channels/{self.name}/events?from={number}&wait={remaining:.2f}",
                    reply=EventsReply,
                    timeout=remaining + 10,
                )
                for event in reply.events:
                    yield event
                    number = event.number + 1
        finally:
            client.close()


class RemotePeer:
    """A peer node seen from a client: its channels (see :class:`RemotePeerChannel`) and one endorsement batcher."""

    def __init__(
        self, org: str, endpoint: str, identity: SigningIdentity, *, senders: int = 2, tls: NodeTls | None = None
    ) -> None:
        self.org = org
        self.name = endpoint
        self.endpoint = endpoint
        self.identity = identity
        self.tls = tls
        self.client = NodeClient(endpoint, identity, timeout=30, tls=tls)
        self.stopped = threading.Event()
        self._channels: dict[str, RemotePeerChannel] = {}
        self._lock = threading.Lock()
        self._endorser: Batcher[EndorseItem, EndorseResult] = Batcher(
            self._endorse_batch, max_items=256, senders=senders, name=f"endorse-{org}"
        )

    def channel(self, name: str) -> RemotePeerChannel:
        """The channel ``name`` on this peer."""
        with self._lock:
            channel = self._channels.get(name)
            if channel is None:
                channel = self._channels[name] = RemotePeerChannel(self, name)
            return channel

    def _endorse_batch(self, items: list[EndorseItem]) -> list[EndorseResult]:
        try:
            return self.client.call("POST", "/endorse", items, reply=list[EndorseResult])
        except NodeError as exc:
            return [EndorseResult(b"", _code(exc), f"peer {self.endpoint}: {exc.message}")] * len(items)

    def endorse_item(self, item: EndorseItem) -> EndorseResult:
        """Send one proposal to endorse with others of this moment, in one request; return the peer's answer."""
        return self._endorser.call(item)

    def close(self) -> None:
        """Stop following events and sending."""
        self.stopped.set()
        self._endorser.close()
        for channel in self._channels.values():
            channel.events.close()


class ClusterConnection:
    """The SDK's connection to a cluster: one peer per organisation, the orderers, and the channels' members.

    ``tls`` (for ``https://`` endpoints) holds the user's TLS client certificate and the TLS CAs its servers'
    certificates must come from.
    """

    def __init__(
        self,
        identity: SigningIdentity,
        peers: Mapping[str, str],
        orderers: Sequence[str],
        channels: Mapping[str, Sequence[str]],
        *,
        resend_for: float = 30.0,
        tls: NodeTls | None = None,
    ) -> None:
        self.identity = identity
        self._peers = {org: RemotePeer(org, endpoint, identity, tls=tls) for org, endpoint in peers.items()}
        self._orderer = RemoteOrderer(orderers, identity, resend_for=resend_for, tls=tls)
        self._channels = {name: tuple(orgs) for name, orgs in channels.items()}

    # -- the SDK's connection (consortia.client.connection) ---------------------------------------------------

    def peer_channel(self, org: str, channel: str) -> RemotePeerChannel:
        """The peer of ``org`` on ``channel`` (KeyError if this connection knows no peer of ``org``)."""
        return self._peers[org].channel(channel)

    def channel_orgs(self, channel: str) -> Sequence[str]:
        """Member organisations of ``channel``."""
        return self._channels[channel]

    def broadcast(self, channel: str, envelope: bytes) -> None:
        """Hand a signed envelope to the orderers; return once one acknowledged it (OrderingError if refused)."""
        self._orderer.broadcast(channel, envelope)

    # -- the parts -------------------------------------------------------------------------------------------

    @property
    def orderer(self) -> RemoteOrderer:
        """The ordering service."""
        return self._orderer

    def peer(self, org: str) -> RemotePeer:
        """The peer of ``org`` (KeyError if this connection knows none)."""
        return self._peers[org]

    def close(self) -> None:
        """Stop every background thread."""
        self._orderer.close()
        for peer in self._peers.values():
            peer.close()
