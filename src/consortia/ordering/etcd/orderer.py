"""The etcd ordering service: orderer nodes share one replicated log, written only by an elected leader.

Every orderer node keeps its own copy of each channel's chain (a block store, as the solo orderer does) and
mirrors the log from etcd; one of them, elected through etcd (:mod:`consortia.ordering.etcd.election`), cuts
blocks. The keys it uses are described in :mod:`consortia.ordering.etcd.layout`.

**Writing a block.** The leader builds block *n* on its copy of block *n − 1* and writes it with one transaction:
*if* ``create_revision(leader) == term`` *and* ``create_revision(blocks/n) == 0`` *then* put the block and the tip.
The second comparison means block *n* is written at most once, ever — two leaders can never give the same number
to two different blocks; the first means that a deposed leader (its lease expired, perhaps while it was paused)
cannot write at all. A write whose answer was lost is repeated with the same bytes: if the first attempt landed,
the repeat fails its comparison and reading block *n* back shows our own bytes.

**Acknowledging an envelope.** ``broadcast`` returns only when the block holding the envelope has been written to
etcd — committed by a majority of etcd members, on their disks. An acknowledged envelope therefore survives the
loss of any orderer and of any minority of etcd members. Until then the envelope lives only in the leader's
memory, and the client still holds its connection: if the leader dies, the connection fails (or a follower that
forwarded it answers 503), the client learns the envelope was *not* acknowledged, and sends it again. Sending
again is safe: the leader remembers the transaction ids of recent blocks and answers a resent envelope with the
block it is already in, and even if it did not, every peer marks a second copy ``DUPLICATE_TXID``.

**Taking over.** A new leader first reads the tip from etcd (a linearizable read, after its election, so it sees
every block the old leader managed to write), waits until its copy holds every block up to the tip, and only
then accepts envelopes — so it builds on the last block and knows every transaction id already ordered.

**Keeping etcd small.** etcd refuses requests over 1.5 MiB and keeps every revision until compacted. Blocks are cut
at :data:`MAX_BLOCK_BYTES` of envelopes (an envelope larger than that is refused), so a block always fits in one
request, and are stored zlib-compressed: envelopes repeat the same few certificates, so a block shrinks about
fourfold, and with it everything etcd does per block (Raft replication, disk writes, watch streams). The orderers'
block stores, not etcd, are the archive peers pull from: every few seconds the leader deletes from etcd the blocks
every live orderer has copied (keeping ``retain_blocks`` more) and compacts the revision history. An orderer
that was down longer fetches the blocks it missed from another orderer, checking each one's chain and signature as
it would a block from etcd.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import msgspec

from consortia.channel.rules import ChannelRules, read_genesis
from consortia.channel.update import ConfigRefused, is_config_envelope
from consortia.identity import Kind, SigningIdentity
from consortia.ledger.block import Block, BlockHeader, header_hash
from consortia.ledger.blockstore import BlockStore
from consortia.ledger.chain import ChainError, check_block
from consortia.ledger.config import BatchConfig, ChannelConfig
from consortia.ledger.encoding import MalformedError, decode, decode_canonical, encode, sha256
from consortia.ledger.merkle import CompactRange
from consortia.ledger.transaction import NotATransaction, open_envelope
from consortia.ordering.admission import admit_envelope
from consortia.ordering.base import OrderingError, OrderingService
from consortia.ordering.config_track import ConfigTracker, refusal_message, refusal_status
from consortia.ordering.cutter import BlockCutter
from consortia.ordering.edge import load_edge, save_edge
from consortia.ordering.etcd.client import (
    EtcdClient,
    EtcdCompacted,
    EtcdError,
    EtcdUnavailable,
    Get,
    Put,
    absent,
    created_at,
    prefix_end,
)
from consortia.ordering.etcd.election import Election, Leadership, Session
from consortia.ordering.etcd.layout import MAX_BLOCK_BYTES, Keys, pack_block, unpack_block
from consortia.ordering.solo import make_block

log = logging.getLogger(__name__)

ORDERING_KIND = "etcd"
RETAIN_BLOCKS = 64
"""Blocks kept in etcd behind the slowest live orderer's copy (by default)."""
DEDUPE_BLOCKS = 256
"""Recent blocks whose transaction ids an orderer loads on start, to answer resent envelopes."""
DEDUPE_LIMIT = 500_000
"""Transaction ids remembered at most (the oldest are forgotten first)."""
ACK_TIMEOUT = 30.0
"""Seconds a broadcast waits for its envelope's block to be written before answering 503."""

_CLIENT_KINDS = frozenset({Kind.CLIENT, Kind.ADMIN})

Forward = Callable[[str, str, list[bytes]], list["Ack"]]
"""(leader endpoint, channel, envelopes) → acknowledgements: hands envelopes to the leader."""
Fetch = Callable[[str, int], list[bytes]]
"""(channel, first block number) → blocks from another orderer's copy (for blocks no longer in etcd)."""


class Ack(msgspec.Struct, array_like=True, frozen=True):
    """The ordering service's answer for one envelope: 200 with its block, 4xx refused, 503 not ordered."""

    status: int
    block: int = -1
    message: str = ""


CONFIG_ID_PREFIX = "config:"


def envelope_tx_id(envelope: bytes) -> str | None:
    """The transaction id inside an envelope (``config:<sha256>`` for a configuration update; None if unreadable)."""
    try:
        return open_envelope(envelope).tx_id
    except NotATransaction:
        return CONFIG_ID_PREFIX + sha256(envelope).hex() if is_config_envelope(envelope) else None
    except MalformedError:
        return None


def check_envelope(rules: ChannelRules, channel: str, envelope: bytes, max_bytes: int) -> tuple[str | None, Ack | None]:
    """What the orderer checks before ordering: (tx_id, None) when acceptable, else (None, refusal)."""
    try:
        return admit_envelope(rules, channel, envelope, max_bytes), None
    except OrderingError as exc:
        return None, Ack(exc.status, -1, exc.message)


class _Ticket:
    __slots__ = ("envelope", "future", "tx_id")

    def __init__(self, envelope: bytes, tx_id: str) -> None:
        self.envelope = envelope
        self.tx_id = tx_id
        self.future: Future[Ack] = Future()


class _Outcome:
    WRITTEN = "written"
    LOST = "lost"
    UNKNOWN = "unknown"


class _Chain:
    """One channel on one orderer: its copy of the chain, its mirror of etcd and (when leading) its cutter."""

    def __init__(self, service: EtcdOrderer, directory: Path, genesis: bytes | None) -> None:
        self.service = service
        self.directory = directory
        self.store = BlockStore(directory / "blocks", sync=service.sync)
        if self.store.height == 0:
            if genesis is None:
                raise OrderingError(404, f"no genesis block for {directory.name}")
            self.store.append(genesis)
        genesis_block = decode(self.store.read(0), Block)
        config, _ = read_genesis(genesis_block)
        if config.orderer.kind != ORDERING_KIND:
            raise OrderingError(
                400, f"channel {config.name!r} is ordered by {config.orderer.kind!r}, not {ORDERING_KIND!r}"
            )
        self.name = config.name
        self.tracker = ConfigTracker(directory, self.store)
        self.genesis_hash = header_hash(genesis_block.header)
        self.batch = _batch_settings(self.config)
        self.keys = service.keys
        self.lock = threading.Condition()  # guards the copy: store, last, history, seen
        self.last: BlockHeader = decode(self.store.read(self.store.height - 1), Block).header
        self.edge_path = directory / "history.edge"
        self.history = load_edge(self.edge_path, self.store, self.last)
        self.seen: collections.OrderedDict[str, int] = collections.OrderedDict()
        for number in range(max(1, self.store.height - DEDUPE_BLOCKS), self.store.height):
            self._remember(number, decode(self.store.read(number), Block).transactions)
        # Leader side: pending envelopes and the batches ready to be written.
        self.pending = threading.Condition()
        self.cutter = BlockCutter(self.batch)
        self.tickets: collections.deque[_Ticket] = collections.deque()
        self.ready: collections.deque[list[_Ticket]] = collections.deque()
        self.waiting: dict[str, _Ticket] = {}
        self.ready_term = 0
        self.genesis_checked = False
        self.error: str | None = None
        self.trimmed_below = 0
        self.threads = [
            threading.Thread(target=self._mirror, name=f"mirror-{self.name}", daemon=True),
            threading.Thread(target=self._write_loop, name=f"writer-{self.name}", daemon=True),
        ]

    @property
    def config(self) -> ChannelConfig:
        """The channel configuration in force at this orderer's tip."""
        return self.tracker.config

    @property
    def rules(self) -> ChannelRules:
        """The rules of the configuration in force."""
        return self.tracker.rules

    def _follow_config(self) -> None:
        """A configuration block was stored: cut later blocks with its batch settings."""
        self.batch = _batch_settings(self.config)
        with self.pending:
            waiting, self.tickets = list(self.tickets), collections.deque()
            self.cutter = BlockCutter(self.batch)
            for ticket in waiting:
                self.tickets.append(ticket)
                for batch in self.cutter.add(ticket.envelope):
                    self.ready.append([self.tickets.popleft() for _ in batch])

    def start(self) -> None:
        """Start mirroring etcd and (when leading) cutting blocks."""
        for thread in self.threads:
            thread.start()

    # -- the local copy --------------------------------------------------------------------------------------

    def _remember(self, number: int, transactions: Sequence[bytes], tx_ids: Sequence[str] | None = None) -> None:
        for tx_id in tx_ids if tx_ids is not None else map(envelope_tx_id, transactions):
            if tx_id is not None:
                self.seen[tx_id] = number
        while len(self.seen) > DEDUPE_LIMIT:
            self.seen.popitem(last=False)

    @property
    def height(self) -> int:
        """Blocks in this orderer's copy."""
        return self.store.height

    def append(
        self,
        number: int,
        data: bytes,
        block: Block | None = None,
        after: CompactRange | None = None,
        tx_ids: Sequence[str] | None = None,
    ) -> bool:
        """Add block ``number`` to the copy (checking it unless we built it); False if it was already there."""
        with self.lock:
            if number < self.store.height:
                stored = self.store.read(number)
                if stored != data:
                    log.critical("channel %s: block %d differs from the copy already stored", self.name, number)
                return False
            if number > self.store.height:
                raise ChainError(number, f"expected block {self.store.height}")
            if block is None or after is None:
                block = decode_canonical(data, Block)
                after = check_block(block, self.last, self.history, self.rules.orderers, self.name)
            self.store.append(data)
            self.last, self.history = block.header, after
            save_edge(self.edge_path, after)
            self._remember(number, block.transactions, tx_ids)
            if self.tracker.observe(block):
                self._follow_config()
            self.lock.notify_all()
            return True

    def read_blocks(self, start: int, limit: int, max_bytes: int, wait: float) -> list[bytes]:
        """Stored blocks from ``start`` (waiting up to ``wait`` seconds for the first one)."""
        deadline = time.monotonic() + wait
        with self.lock:
            while self.store.height <= start:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.service.stopped.is_set():
                    return []
                self.lock.wait(min(remaining, 0.5))
        blocks, size = [], 0
        for number in range(start, min(self.store.height, start + limit)):
            data = self.store.read(number)
            if blocks and size + len(data) > max_bytes:
                break
            blocks.append(data)
            size += len(data)
        return blocks

    # -- following etcd --------------------------------------------------------------------------------------

    def _check_genesis(self) -> None:
        etcd, key = self.service.etcd, self.keys.genesis(self.name)
        result = etcd.txn([absent(key)], [Put(key, self.genesis_hash.hex().encode())], [Get(key)])
        if not result.succeeded:
            stored = result.reads[0][0].value.decode() if result.reads and result.reads[0] else ""
            if stored != self.genesis_hash.hex():
                self.error = f"channel {self.name}: this orderer's genesis block differs from the cluster's"
                log.critical(self.error)
                return
        self.genesis_checked = True

    def _mirror(self) -> None:
        """Copy blocks from etcd as they are written: catch up by reads, then follow a watch."""
        etcd, stop = self.service.etcd, self.service.stopped
        first, end = self.keys.blocks(self.name), prefix_end(self.keys.blocks(self.name))
        while not stop.is_set() and self.error is None:
            try:
                if not self.genesis_checked:
                    self._check_genesis()
                    continue
                revision = self._catch_up()
                for _, events in etcd.watch(first, end, revision + 1):
                    gap = False
                    for event in events:
                        if event.kind != "PUT" or stop.is_set():
                            continue
                        number = Keys.number(event.kv.key)
                        if number > self.height:
                            gap = True
                            break
                        if number < self.height or self.ready_term == self.service.leading_term() != 0:
                            continue  # already ours, or written by our own writer, which appends it itself
                        self.append(number, unpack_block(event.kv.value))
                    if gap or stop.is_set():
                        break
            except EtcdCompacted:
                continue
            except (EtcdError, ChainError, MalformedError) as exc:
                log.warning("channel %s: mirroring etcd: %s", self.name, exc)
                stop.wait(0.5)

    def _catch_up(self) -> int:
        """Copy every block etcd holds beyond ours; return the etcd revision read at."""
        etcd = self.service.etcd
        end = prefix_end(self.keys.blocks(self.name))
        while True:
            kvs, revision, more = etcd.range(self.keys.block(self.name, self.height), end, limit=16)
            if kvs and Keys.number(kvs[0].key) > self.height:
                self._fetch_trimmed(Keys.number(kvs[0].key))
                continue
            for kv in kvs:
                self.append(Keys.number(kv.key), unpack_block(kv.value))
            if not more:
                return revision

    def _fetch_trimmed(self, available_from: int) -> None:
        """Blocks we lack are no longer in etcd: copy them from another orderer."""
        fetch = self.service.fetch
        if fetch is None:
            raise EtcdError(f"blocks {self.height}..{available_from - 1} are no longer in etcd and no orderer to ask")
        log.info(
            "channel %s: blocks %d..%d are no longer in etcd; copying them from another orderer",
            self.name,
            self.height,
            available_from - 1,
        )
        while self.height < available_from and not self.service.stopped.is_set():
            blocks = fetch(self.name, self.height)
            if not blocks:
                raise EtcdError(f"no orderer could supply block {self.height}")
            for data in blocks:
                self.append(decode(data, Block).header.number, data)

    # -- leading ---------------------------------------------------------------------------------------------

    def _write_loop(self) -> None:
        stop = self.service.stopped
        while not stop.is_set():
            try:
                term = self.service.leading_term()
                if not term or self.error is not None or not self.genesis_checked:
                    stop.wait(0.05)
                    continue
                if self.ready_term != term:
                    self._prepare(term)
                    continue
                batch = self._next_batch()
                if batch:
                    self._write(batch, term)
            except Exception:  # never let the writer die: log, fail what is pending, and carry on
                log.exception("channel %s: block writer failed", self.name)
                self.fail_pending(503, "the orderer failed while ordering; resend")
                stop.wait(0.5)

    def _prepare(self, term: int) -> None:
        """After winning an election: make sure our copy holds every block in etcd before cutting."""
        tip_kv = self.service.etcd.get(self.keys.tip(self.name))
        tip = int(tip_kv.value) if tip_kv else 0
        if tip < self.height - 1:
            self.error = (
                f"channel {self.name}: etcd's log ends at block {tip} but this orderer holds {self.height - 1}: "
                "was the etcd cluster replaced? Refusing to lead this channel"
            )
            log.critical(self.error)
            return
        deadline = time.monotonic() + 10
        with self.lock:
            while self.height <= tip and time.monotonic() < deadline and self.service.leading_term() == term:
                self.lock.wait(0.1)
        if self.height > tip and self.service.leading_term() == term:
            self.ready_term = term
            log.info("channel %s: leading from block %d (term %d)", self.name, self.height, term)

    def _next_batch(self) -> list[_Ticket]:
        with self.pending:
            if not self.ready:
                deadline = self.cutter.deadline()
                timeout = 0.05 if deadline is None else max(0.0, deadline - time.monotonic())
                if timeout > 0:
                    self.pending.wait(timeout)
            if self.ready:
                return self.ready.popleft()
            deadline = self.cutter.deadline()
            if deadline is not None and deadline <= time.monotonic():
                self.cutter.cut()
                batch, self.tickets = list(self.tickets), collections.deque()
                return batch
        return []

    def _write(self, batch: list[_Ticket], term: int) -> None:
        with self.lock:
            number = self.height
            timestamp = max(int(time.time() * 1000), self.last.timestamp_ms)
            if len(batch) == 1 and batch[0].tx_id.startswith(CONFIG_ID_PREFIX):
                try:  # judged when submitted, but an earlier update may have changed what is in force since
                    self.tracker.judge(batch[0].envelope, timestamp)
                except ConfigRefused as refused:
                    self._resolve(batch, Ack(refusal_status(refused), -1, refusal_message(refused)))
                    return
            block, after = make_block(
                self.name,
                number,
                self.last,
                self.history,
                [t.envelope for t in batch],
                self.service.identity,
                timestamp,
            )
        data = encode(block)
        outcome = self._compare_and_swap(number, data, term)
        if outcome == _Outcome.WRITTEN:
            self.append(number, data, block, after, [t.tx_id for t in batch])
            self._resolve(batch, Ack(200, number))
            return
        self.ready_term = 0
        if outcome == _Outcome.LOST:
            self._resolve(batch, Ack(503, -1, "the orderer lost its leadership before ordering the envelope; resend"))
        else:
            self._resolve(
                batch,
                Ack(503, -1, "etcd did not confirm the block before the leadership ended; outcome unknown, resend"),
            )
        self.fail_pending(503, "the orderer lost its leadership; resend")

    def _compare_and_swap(self, number: int, data: bytes, term: int) -> str:
        """Write block ``number`` once, under our term; repeat an unanswered write with the same bytes."""
        etcd, keys = self.service.etcd, self.keys
        key = keys.block(self.name, number)
        value = pack_block(data)
        delay = 0.05
        while not self.service.stopped.is_set():
            try:
                result = etcd.txn(
                    [created_at(keys.leader, term), absent(key)],
                    [Put(key, value), Put(keys.tip(self.name), str(number).encode())],
                    [Get(keys.leader, keys_only=True), Get(key)],
                    deadline=2.0,
                )
            except EtcdUnavailable as exc:
                if self.service.leading_term() != term:
                    return _Outcome.UNKNOWN
                log.warning("channel %s: writing block %d: %s; retrying", self.name, number, exc)
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            if result.succeeded:
                return _Outcome.WRITTEN
            leader, existing = result.reads if len(result.reads) == 2 else ((), ())
            if existing and existing[0].value == value:
                return _Outcome.WRITTEN  # an earlier, unanswered attempt landed
            if not leader or leader[0].create_revision != term:
                log.warning("channel %s: block %d not written: term %d is over", self.name, number, term)
                return _Outcome.LOST
            log.error("channel %s: block %d already holds another block under our term", self.name, number)
            return _Outcome.LOST
        return _Outcome.UNKNOWN

    def _resolve(self, batch: list[_Ticket], ack: Ack) -> None:
        with self.pending:
            for ticket in batch:
                if self.waiting.get(ticket.tx_id) is ticket:
                    del self.waiting[ticket.tx_id]
        for ticket in batch:
            if not ticket.future.done():
                ticket.future.set_result(ack)

    def fail_pending(self, status: int, message: str) -> None:
        """Answer every envelope not yet written (on losing the leadership or shutting down)."""
        with self.pending:
            tickets = [t for batch in self.ready for t in batch] + list(self.tickets)
            self.ready.clear()
            self.tickets.clear()
            self.cutter.cut()
        self._resolve(tickets, Ack(status, -1, message))

    def submit(self, items: list[tuple[int, bytes, str]], acks: list[Ack | None]) -> list[tuple[int, Future[Ack]]]:
        """Queue checked envelopes for the next blocks; fill ``acks`` for those already ordered."""
        waits: list[tuple[int, Future[Ack]]] = []
        with self.pending:
            for index, envelope, tx_id in items:
                number = self.seen.get(tx_id)
                if number is not None:
                    acks[index] = Ack(200, number, "already ordered")
                    continue
                ticket = self.waiting.get(tx_id)
                if ticket is None or ticket.future.done():
                    ticket = _Ticket(envelope, tx_id)
                    self.waiting[tx_id] = ticket
                    if tx_id.startswith(CONFIG_ID_PREFIX):
                        # A configuration update is cut into a block of its own, after what is pending.
                        if self.cutter.cut():
                            self.ready.append(list(self.tickets))
                            self.tickets.clear()
                        self.ready.append([ticket])
                    else:
                        self.tickets.append(ticket)
                        for batch in self.cutter.add(envelope):
                            self.ready.append([self.tickets.popleft() for _ in batch])
                waits.append((index, ticket.future))
            self.pending.notify_all()
        return waits

    def close(self) -> None:
        """Stop the threads and close the store."""
        self.fail_pending(503, "the orderer is shutting down; resend")
        with self.lock:
            self.lock.notify_all()
        for thread in self.threads:
            if thread.is_alive():
                thread.join(timeout=3)
        self.store.close()


class EtcdOrderer(OrderingService):
    """An orderer node of a cluster that orders through etcd."""

    def __init__(
        self,
        identity: SigningIdentity,
        directory: Path,
        etcd: EtcdClient,
        *,
        name: str,
        endpoint: str,
        prefix: str = "/consortia",
        lease_ttl: int = 3,
        retain_blocks: int = RETAIN_BLOCKS,
        sync: bool = True,
        forward: Forward | None = None,
        fetch: Fetch | None = None,
    ) -> None:
        if identity.kind != Kind.ORDERER:
            raise ValueError(f"{identity.name} is a {identity.kind.value}, not an orderer")
        self.identity = identity
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.etcd = etcd
        self.name = name
        self.endpoint = endpoint
        self.keys = Keys(prefix)
        self.retain_blocks = retain_blocks
        self.sync = sync
        self.forward = forward
        self.fetch = fetch
        self.stopped = threading.Event()
        self.session = Session(etcd, lease_ttl)
        self.election = Election(etcd, self.session, self.keys.leader, name, endpoint, self._leadership_changed)
        self._chains: dict[str, _Chain] = {}
        for path in sorted(self.directory.iterdir()):
            if (path / "blocks").is_dir():
                chain = _Chain(self, path, None)
                self._chains[chain.name] = chain
        self._started = False
        self._housekeeper = threading.Thread(target=self._housekeeping, name="etcd-housekeeping", daemon=True)

    # -- lifecycle -------------------------------------------------------------------------------------------

    def create_channel(self, genesis: bytes) -> None:
        """Order a channel from its genesis block (no-op if it exists)."""
        try:
            block = decode_canonical(genesis, Block)
            config, _ = read_genesis(block)
        except (MalformedError, ValueError) as exc:
            raise OrderingError(400, f"genesis block: {exc}") from None
        existing = self._chains.get(config.name)
        if existing is not None:
            if existing.genesis_hash != header_hash(block.header):
                raise OrderingError(409, f"channel {config.name!r} is stored here with another genesis block")
            return
        chain = _Chain(self, self.directory / config.name, genesis)
        self._chains[config.name] = chain
        if self._started:
            chain.start()

    def start(self) -> None:
        """Start campaigning, mirroring and housekeeping."""
        self._started = True
        for chain in self._chains.values():
            chain.start()
        self.election.start()
        self._housekeeper.start()

    def _leadership_changed(self, leadership: Leadership | None, leading: bool) -> None:
        if not leading:
            for chain in self._chains.values():
                chain.ready_term = 0
                chain.fail_pending(503, "the orderer lost its leadership; resend")

    def leading_term(self) -> int:
        """The term this orderer leads in, or 0."""
        return self.election.term if self.election.leading else 0

    @property
    def leader(self) -> Leadership | None:
        """The current leadership as last observed."""
        return self.election.current

    # -- ordering --------------------------------------------------------------------------------------------

    def _chain(self, channel: str) -> _Chain:
        chain = self._chains.get(channel)
        if chain is None:
            raise OrderingError(404, f"the ordering service does not serve channel {channel!r}")
        return chain

    def broadcast(self, channel: str, envelope: bytes) -> None:
        """Order one envelope; return once its block is durably written (raises OrderingError)."""
        ack = self.broadcast_many(channel, [envelope])[0]
        if ack.status != 200:
            raise OrderingError.answered(ack.status, ack.message)

    def broadcast_many(self, channel: str, envelopes: Sequence[bytes], *, checked: bool = False) -> list[Ack]:
        """Order envelopes; answer each once its block is written, refused, or known not to be ordered.

        ``checked`` envelopes come from a fellow orderer that already checked them.
        """
        if self.stopped.is_set():
            return [Ack(503, -1, "the orderer is shutting down; resend")] * len(envelopes)
        chain = self._chain(channel)
        if chain.error is not None:
            return [Ack(500, -1, chain.error)] * len(envelopes)
        acks: list[Ack | None] = [None] * len(envelopes)
        items: list[tuple[int, bytes, str]] = []
        for index, envelope in enumerate(envelopes):
            if checked:
                tx_id = envelope_tx_id(envelope)
                refusal = None if tx_id else Ack(400, -1, "malformed envelope")
            elif is_config_envelope(envelope):
                tx_id, refusal = envelope_tx_id(envelope), None
                try:
                    chain.tracker.judge(envelope, int(time.time() * 1000))
                except ConfigRefused as refused:
                    tx_id, refusal = None, Ack(refusal_status(refused), -1, refusal_message(refused))
            else:
                tx_id, refusal = check_envelope(chain.rules, channel, envelope, chain.batch.max_bytes)
            if refusal is not None or tx_id is None:
                acks[index] = refusal
            else:
                items.append((index, envelope, tx_id))
        if items:
            self._order(chain, items, acks)
        return [ack or Ack(503, -1, "not ordered; resend") for ack in acks]

    def _order(self, chain: _Chain, items: list[tuple[int, bytes, str]], acks: list[Ack | None]) -> None:
        term = self.leading_term()
        if not term:
            self._forward(chain, items, acks)
            return
        deadline = time.monotonic() + 5
        while chain.ready_term != term and time.monotonic() < deadline and self.leading_term() == term:
            time.sleep(0.02)
        if chain.ready_term != term or self.leading_term() != term:
            for index, _, _ in items:
                acks[index] = Ack(503, -1, "the leader is still taking over; resend")
            return
        waits = chain.submit(items, acks)
        wait_until = time.monotonic() + ACK_TIMEOUT
        for index, future in waits:
            try:
                acks[index] = future.result(max(0.0, wait_until - time.monotonic()))
            except FutureTimeout:
                acks[index] = Ack(503, -1, f"not ordered within {ACK_TIMEOUT:g} s; outcome unknown, resend")

    def _forward(self, chain: _Chain, items: list[tuple[int, bytes, str]], acks: list[Ack | None]) -> None:
        leader = self.election.current
        if leader is None or leader.name == self.name or not leader.endpoint or self.forward is None:
            message = "no orderer leads at the moment (an election is under way); resend"
            for index, _, _ in items:
                acks[index] = Ack(503, -1, message)
            return
        try:
            answers = self.forward(leader.endpoint, chain.name, [envelope for _, envelope, _ in items])
        except Exception as exc:
            answers = [Ack(503, -1, f"the leader {leader.name} did not answer ({exc}); resend")] * len(items)
        for (index, _, _), ack in zip(items, answers, strict=False):
            acks[index] = ack

    # -- delivering ------------------------------------------------------------------------------------------

    def deliver(
        self, channel: str, start: int, stop: threading.Event | None = None, reader: str | None = None
    ) -> Iterator[bytes]:
        """Yield this orderer's copy of the channel from ``start``, then new blocks as they arrive."""
        chain = self._chain(channel)
        number = start
        while not self.stopped.is_set() and not (stop is not None and stop.is_set()):
            for data in chain.read_blocks(number, 64, 8 << 20, 0.5):
                if reader is not None and number > 0 and not chain.tracker.may_read(reader, number):
                    raise OrderingError(403, f"{reader} is no longer a member of channel {channel!r}")
                yield data
                number += 1

    def read_blocks(self, channel: str, start: int, limit: int = 64, max_bytes: int = 8 << 20, wait: float = 0.0):
        """Blocks of this orderer's copy from ``start`` (waiting up to ``wait`` seconds for one)."""
        return self._chain(channel).read_blocks(start, limit, max_bytes, wait)

    def config(self, channel: str) -> ChannelConfig:
        """The configuration in force at the tip of this orderer's copy of ``channel``."""
        return self._chain(channel).config

    def may_read(self, channel: str, org: str, number: int) -> bool:
        """Whether ``org`` may pull block ``number`` of ``channel`` (a member now, or before it was removed)."""
        return self._chain(channel).tracker.may_read(org, number)

    def height(self, channel: str) -> int:
        """Blocks in this orderer's copy of ``channel``."""
        return self._chain(channel).height

    def last_header(self, channel: str) -> BlockHeader:
        """The header of the last block in this orderer's copy."""
        return self._chain(channel).last

    def channels(self) -> list[str]:
        """Channels this orderer serves."""
        return sorted(self._chains)

    def halt(self, reason: str) -> None:
        """Stop ordering every channel (a configuration problem that would fork the chain was found)."""
        for chain in self._chains.values():
            chain.error = reason
            chain.fail_pending(500, reason)
        self.election.resign()

    def chain_error(self, channel: str) -> str | None:
        """Why this orderer cannot serve ``channel`` (None when it can)."""
        return self._chain(channel).error

    # -- housekeeping ----------------------------------------------------------------------------------------

    def _housekeeping(self) -> None:
        """Publish our heights; when leading, trim copied blocks from etcd and compact its history."""
        last_trim = time.monotonic()
        compact_at = 0
        while not self.stopped.wait(1.0):
            try:
                if self.session.alive:
                    presence = {"endpoint": self.endpoint, "heights": {n: c.height for n, c in self._chains.items()}}
                    self.etcd.put(self.keys.orderer(self.name), json.dumps(presence).encode(), lease=self.session.lease)
                if self.leading_term() and time.monotonic() - last_trim >= 5:
                    last_trim = time.monotonic()
                    revision = self._trim()
                    if compact_at:
                        self.etcd.compact(compact_at)
                    compact_at = revision
            except EtcdError as exc:
                log.info("housekeeping: %s", exc)

    def _trim(self) -> int:
        """Delete blocks every live orderer has copied (keeping RETAIN_BLOCKS); return the store revision."""
        kvs, revision, _ = self.etcd.range(self.keys.orderers, prefix_end(self.keys.orderers))
        heights: dict[str, list[int]] = {}
        for kv in kvs:
            try:
                for channel, height in json.loads(kv.value)["heights"].items():
                    heights.setdefault(channel, []).append(int(height))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
        for name, chain in self._chains.items():
            below = min([*heights.get(name, [0]), chain.height]) - self.retain_blocks
            if below > max(chain.trimmed_below, 1):
                _, revision = self.etcd.delete_range(
                    self.keys.block(name, max(chain.trimmed_below, 1)), self.keys.block(name, below)
                )
                log.info("channel %s: trimmed blocks below %d from etcd", name, below)
                chain.trimmed_below = below
        return revision

    def close(self) -> None:
        """Resign (handing over at once), stop the threads and close the stores."""
        self.election.resign()
        self.stopped.set()
        for chain in self._chains.values():
            chain.close()
        if self._housekeeper.is_alive():
            self._housekeeper.join(timeout=2)
        self.session.close()


def _batch_settings(config: ChannelConfig) -> BatchConfig:
    """The channel's batch settings, with blocks capped at what one etcd request can carry."""
    batch = config.orderer.batch
    return BatchConfig(batch.max_transactions, min(batch.max_bytes, MAX_BLOCK_BYTES), batch.timeout_ms)
