"""A peer node: one organisation's peer in its own process, serving its API over HTTP.

The node wraps a :class:`~consortia.peer.peer.Peer` — the same code that endorses, validates and commits in the
embedded network — and gives it a network around it:

* **blocks in**: delivery threads pull each channel's blocks from the orderers (long polls, falling back to
  other peers), starting at the peer's own height, so a peer that was down catches up with what it missed and a
  new peer joins from block 1 after its genesis block. Every block is checked and validated as always: a block
  with a wrong previous hash or a bad orderer signature is refused (logged, the source is changed) and the peer
  carries on;
* **requests**: endorse (batched), evaluate, private data from other organisations' endorsers, block events for
  clients waiting for their commits, blocks for other peers, a block pushed by an orderer or a peer;
* **comparison**: the header hash and a hash of the whole state at the current height, so that copies can be
  compared across organisations (``consortia cluster compare``);
* **gateway**: with a ``[gateway]`` table, the organisation's REST API, explorer and login pages are served
  next to the peer (:mod:`consortia.node.gateway_network`), reading this peer's ledgers in process;
* **renewal**: the node follows its identity folder (an :class:`~consortia.identity.signing.IdentityWatch`); a
  certificate renewed there (``consortia identity renew``) signs endorsements and requests from the next second on,
  without a restart.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

import msgspec

from consortia.contracts.registry import ContractRegistry
from consortia.identity import Kind, SigningIdentity
from consortia.identity.signing import IdentityWatch
from consortia.ledger.block import header_hash
from consortia.ledger.encoding import MalformedError, canonical_json, decode_canonical, encode
from consortia.ledger.rwset import PrivateWrites
from consortia.ledger.snapshot import SnapshotError, read_snapshot
from consortia.node.common import base_status, follow_configs, node_membership, require_reader
from consortia.node.config import ConfigError, LoadedConfig, node_tls, tls_cas
from consortia.node.gateway_network import NodeGateway, open_gateway
from consortia.node.messages import (
    BlocksReply,
    CommitStatusReply,
    DefinitionReply,
    EndorseItem,
    EndorseResult,
    EvaluateRequest,
    EvaluateResult,
    EventsReply,
    PrivateRequest,
)
from consortia.node.remote import RemoteOrderer
from consortia.node.transport import (
    ANY_KIND,
    CLIENT_KINDS,
    HttpError,
    NodeClient,
    NodeServer,
    Reply,
    Request,
    Route,
    json_reply,
    msgpack_reply,
)
from consortia.peer.channel import BlockRejected, PeerChannel
from consortia.peer.endorser import EndorsementError
from consortia.peer.events import BlockEvent, iterate
from consortia.peer.peer import Peer
from consortia.peer.snapshot_join import join_from_snapshot

log = logging.getLogger(__name__)

_ROW_ENCODER = msgspec.msgpack.Encoder()
SNAPSHOT_BLOCK_WAIT = 30.0
"""Seconds a peer joining from a snapshot waits for the orderers to serve the snapshot's last block."""
MAX_ENDORSE_WAIT = 30.0
"""Seconds an endorsement request may ask the peer to wait for the height it names."""


def state_digest(channel: PeerChannel) -> dict[str, Any]:
    """Height, last header hash and SHA-256 of every state row, read from one consistent snapshot."""
    state = channel.ledger.state
    digest = hashlib.sha256()
    with state.snapshot():
        height = state.height
        for table, row in state.digest_rows():
            digest.update(_ROW_ENCODER.encode([table, list(row)]))
    last = channel.ledger.header(height - 1) if height else None
    return {
        "height": height,
        "last_header_hash": header_hash(last).hex() if last else "",
        "state_hash": digest.hexdigest(),
    }


class _EventLog:
    """Recent block events of one channel, kept for clients that long-poll for their commits."""

    def __init__(self, channel: PeerChannel, keep: int = 512) -> None:
        self.channel = channel
        self.keep = keep
        self.events: dict[int, BlockEvent] = {}
        self.condition = threading.Condition()
        self.subscription = channel.events.subscribe(maxsize=1_000_000)
        self.next = channel.height
        self.thread = threading.Thread(target=self._record, name=f"events-{channel.name}", daemon=True)
        self.thread.start()

    def _record(self) -> None:
        for event in iterate(self.subscription):
            with self.condition:
                self.events[event.number] = event
                self.events.pop(event.number - self.keep, None)
                self.next = max(self.next, event.number + 1)
                self.condition.notify_all()

    def read(self, start: int, limit: int, wait: float, stop: threading.Event) -> list[BlockEvent]:
        """Events from ``start`` (waiting up to ``wait`` seconds for the first)."""
        deadline = time.monotonic() + wait
        with self.condition:
            while self.next <= start and not stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self.condition.wait(min(remaining, 0.5))
            upto = min(self.next, start + limit)
            live = {n: self.events.get(n) for n in range(start, upto)}
        return [event if event is not None else self.channel.stored_event(n) for n, event in live.items()]


class PeerNode:
    """A peer in its own process: the peer, its delivery from the orderers, and its HTTP API."""

    def __init__(self, loaded: LoadedConfig) -> None:
        config = loaded.config
        self.loaded = loaded
        self.name = config.name
        self.identity = loaded.identity
        self.identity_watch: IdentityWatch | None = None
        self.started = time.monotonic()
        self.stop = threading.Event()
        registry = ContractRegistry()
        for index, reference in enumerate(config.contracts):
            try:
                registry.install(reference)
            except Exception as exc:
                raise ConfigError(f"contracts[{index}]", f"cannot install {reference!r}: {exc}") from None
        self.configs = dict(loaded.channel_configs)
        # One TLS object for both ends: the server checks callers against it, clients present its certificate.
        self.tls = node_tls(loaded, self.configs)
        self.orderer = RemoteOrderer(
            [ref.endpoint for ref in config.orderers],
            loaded.identity,
            sources=[ref.endpoint for ref in config.peers],
            tls=self.tls,
        )
        if loaded.join_snapshot is not None:
            self._join_from_snapshot(loaded.join_snapshot)
        self.peer = Peer(
            loaded.identity,
            loaded.data / "peers" / config.name,
            registry=registry,
            genesis=loaded.genesis,
            disseminate=self._disseminate,
            sync=config.sync,
        )
        # The configuration in force may be a later version than the genesis block's.
        self.configs.update({name: ch.rules.config for name, ch in self.peer.channels.items() if name in self.configs})
        if self.tls is not None:
            self.tls.trust(self._tls_cas())
        self.gateway = self._open_gateway()
        self.others = [
            (ref.org, NodeClient(ref.endpoint, loaded.identity, timeout=5, tls=self.tls)) for ref in config.peers
        ]
        self.event_logs = {name: _EventLog(channel) for name, channel in self.peer.channels.items()}
        routes = [
            Route("GET", "/status", self._status, None),
            Route("GET", "/channels/{channel}/height", self._height, None),
            Route("GET", "/channels/{channel}/digest", self._digest, ANY_KIND),
            Route("GET", "/channels/{channel}/blocks", self._blocks, ANY_KIND),
            Route("POST", "/channels/{channel}/blocks", self._push_block, frozenset({Kind.ORDERER, Kind.PEER})),
            Route("GET", "/channels/{channel}/events", self._events, ANY_KIND),
            Route("GET", "/channels/{channel}/definitions/{contract}", self._definition, ANY_KIND),
            Route("GET", "/channels/{channel}/transactions/{tx_id}", self._commit_status, ANY_KIND),
            Route("POST", "/endorse", self._endorse, CLIENT_KINDS),
            Route("POST", "/evaluate", self._evaluate, CLIENT_KINDS),
            Route("POST", "/private", self._private, frozenset({Kind.PEER})),
        ]
        self.server = NodeServer(
            loaded.host, loaded.port, routes, node_membership(self.configs), tls=self.tls, tls_cas=self._tls_cas
        )

    def _open_gateway(self) -> NodeGateway | None:
        """The organisation's gateway beside the peer, if configured (ConfigError if it cannot listen)."""
        try:
            return open_gateway(self.loaded, self.peer, self.tls)
        except BaseException:
            # Nothing serves yet: closing the ledgers and the orderer client is all there is to undo.
            self.orderer.close()
            self.peer.close()
            raise

    def _tls_cas(self) -> list[bytes]:
        """The TLS CAs this node trusts: those of its channels' configurations in force, and the extra ones."""
        return [*self.loaded.tls_extra_cas, *tls_cas(self.configs)]

    def _join_from_snapshot(self, file: Path) -> None:
        """Lay out the snapshot's channel before the peer opens its channels (``--join-snapshot``; once only)."""
        try:
            channel = read_snapshot(file).contents.channel
        except SnapshotError as exc:
            raise ConfigError("--join-snapshot", str(exc)) from None
        if channel not in self.configs:
            raise ConfigError(
                "--join-snapshot",
                f"{file} is a snapshot of channel {channel!r}, which {self.loaded.path} does not list under channels",
            )
        directory = self.loaded.data / "peers" / self.name / channel
        if (directory / "state.sqlite").exists():
            log.info("peer %s already holds channel %s; not joining from %s again", self.name, channel, file)
            return
        try:
            info = join_from_snapshot(file, directory, lambda number: self._orderer_block(channel, number))
        except SnapshotError as exc:
            raise ConfigError("--join-snapshot", str(exc)) from None
        log.info(
            "peer %s joined %s from %s at height %d (signed by %s); pulling blocks from there",
            self.name,
            channel,
            file,
            info.height,
            info.signer,
        )

    def _orderer_block(self, channel: str, number: int) -> bytes:
        """Block ``number`` of ``channel`` from the orderers (TimeoutError if none serves it in time)."""
        stop = threading.Event()
        timer = threading.Timer(SNAPSHOT_BLOCK_WAIT, stop.set)
        timer.start()
        try:
            for data in self.orderer.deliver(channel, number, stop):
                return data
        finally:
            timer.cancel()
        raise TimeoutError(f"no orderer served block {number} of {channel} within {SNAPSHOT_BLOCK_WAIT:.0f} s")

    def start(self) -> None:
        """Serve requests and start pulling blocks."""
        self.server.start()
        self.peer.start_delivery(self.orderer)
        follow_configs(self.configs, lambda channel: self.peer.channel(channel).rules.config, self.server, self.stop)
        folder = Path(self.loaded.config.identity).expanduser()
        if not folder.is_absolute():
            folder = self.loaded.path.resolve().parent / folder
        self.identity_watch = IdentityWatch(folder, self.identity, self._use_identity).start()
        if self.gateway is not None:
            self.gateway.start()

    def _use_identity(self, identity: SigningIdentity) -> None:
        """Sign with a renewed certificate from now on: endorsements, and requests to orderers and peers."""
        self.peer.use_identity(identity)
        self.identity = identity
        self.orderer.identity = identity
        # NodeClient reads its identity once per request, so replacing it is enough.
        clients = [client for _, client in self.others]
        for attribute in ("_clients", "_source_clients"):
            clients.extend(getattr(self.orderer, attribute, {}).values())
        for client in clients:
            client.identity = identity

    def close(self) -> None:
        """Stop delivery and serving; close the ledgers."""
        self.stop.set()
        if self.gateway is not None:
            self.gateway.close()
        if self.identity_watch is not None:
            self.identity_watch.stop()
        self.orderer.close()
        self.server.close()
        self.peer.close()

    # -- helpers ---------------------------------------------------------------------------------------------

    def _channel(self, request: Request) -> PeerChannel:
        name = request.params["channel"]
        # The live configuration, not the polled copy: a block after a removal is never served to the removed.
        live = {name: self.peer.channels[name].rules.config} if name in self.peer.channels else self.configs
        require_reader(request, live, name)
        channel = self.peer.channels.get(name)
        if channel is None:
            raise HttpError(404, f"this peer has not joined channel {name!r}")
        return channel

    def _disseminate(self, channel: str, writes: PrivateWrites, members: tuple[str, ...], sender: str) -> None:
        body = PrivateRequest(channel, encode(writes))
        for org, client in self.others:
            if org in members and org != sender:
                try:
                    client.call("POST", "/private", body)
                except Exception as exc:  # the endorsement stands; that peer will lack the plaintext
                    log.warning("private data for %s not delivered to %s: %s", org, client.endpoint, exc)

    # -- routes ----------------------------------------------------------------------------------------------

    def _status(self, request: Request) -> Reply:
        status = base_status(self.name, "peer", self.identity.org, self.loaded.endpoint, self.started)
        channels = {}
        for name, channel in self.peer.channels.items():
            height = channel.height
            last = channel.ledger.header(height - 1) if height else None
            channels[name] = {"height": height, "last_header_hash": header_hash(last).hex() if last else ""}
        status["channels"] = channels
        return json_reply(status)

    def _height(self, request: Request) -> Reply:
        name = request.params["channel"]
        channel = self.peer.channels.get(name)
        if channel is None:
            raise HttpError(404, f"this peer has not joined channel {name!r}")
        return json_reply({"height": channel.height})

    def _digest(self, request: Request) -> Reply:
        return json_reply(state_digest(self._channel(request)))

    def _blocks(self, request: Request) -> Reply:
        channel = self._channel(request)
        start = request.arg("from", 0)
        limit = max(1, min(request.arg("limit", 32), 256))
        wait = min(max(request.arg("wait", 0), 0), 30)
        first = channel.ledger.first_block
        if start < first:  # joined from a snapshot: the asker must fetch these from another source
            raise HttpError(404, f"block {start} is before this peer's snapshot at height {first}")
        channel.wait_for_height(start + 1, wait)
        blocks, size = [], 0
        for number in range(start, min(channel.height, start + limit)):
            data = channel.ledger.record(number).block
            if blocks and size + len(data) > 8 << 20:
                break
            blocks.append(data)
            size += len(data)
        return msgpack_reply(BlocksReply(blocks, channel.height))

    def _push_block(self, request: Request) -> Reply:
        channel = self._channel(request)
        try:
            event = channel.receive_block(request.body)
        except BlockRejected as exc:
            log.error("peer %s refused a pushed block: %s", self.name, exc)
            raise HttpError(422, str(exc)) from None
        return json_reply({"committed": event.number})

    def _events(self, request: Request) -> Reply:
        channel = self._channel(request)
        start = request.arg("from", 0)
        limit = max(1, min(request.arg("limit", 64), 1024))
        try:
            wait = min(max(float(request.query.get("wait", "0")), 0.0), 30.0)
        except ValueError:
            raise HttpError(400, "query parameter 'wait' must be a number of seconds") from None
        events = self.event_logs[channel.name].read(start, limit, wait, self.stop)
        return msgpack_reply(EventsReply(events, channel.height))

    def _definition(self, request: Request) -> Reply:
        channel = self._channel(request)
        return msgpack_reply(DefinitionReply(channel.definition(request.params["contract"])))

    def _commit_status(self, request: Request) -> Reply:
        channel = self._channel(request)
        return msgpack_reply(CommitStatusReply(channel.commit_status(request.params["tx_id"])))

    def _endorse(self, request: Request) -> Reply:
        items = request.decode(list[EndorseItem])
        results = []
        for item in items:
            try:
                channel = self.peer.channel(item.channel)
                wait = min(max(item.wait_s, 0.0), MAX_ENDORSE_WAIT)
                response = channel.endorse(
                    item.signed_proposal, item.transient, min_height=item.min_height, timeout=wait
                )
                results.append(EndorseResult(encode(response)))
            except EndorsementError as exc:
                results.append(EndorseResult(b"", exc.code, exc.message, exc.contract_code or ""))
        return msgpack_reply(results)

    def _evaluate(self, request: Request) -> Reply:
        query = request.decode(EvaluateRequest)
        try:
            result = self.peer.evaluate(query.channel, query.signed_proposal, query.transient)
            return msgpack_reply(EvaluateResult(canonical_json(result)))
        except EndorsementError as exc:
            return msgpack_reply(EvaluateResult(b"", exc.code, exc.message, exc.contract_code or ""))

    def _private(self, request: Request) -> Reply:
        message = request.decode(PrivateRequest)
        config = self.configs.get(message.channel)
        if config is None or request.caller is None or request.caller.org not in config.org_ids():
            raise HttpError(403, "only peers of the channel's organisations may hand over private data")
        try:
            writes = decode_canonical(message.writes, PrivateWrites)
        except MalformedError as exc:
            raise HttpError(400, str(exc)) from None
        try:
            self.peer.receive_private(message.channel, writes)
        except EndorsementError as exc:
            raise HttpError(404, exc.message) from None
        return msgpack_reply(writes.tx_id)
