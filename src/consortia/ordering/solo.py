"""The solo ordering service: one orderer in the same process, for one machine and for tests.

It checks each envelope it is given (well formed, for this channel, signed by a member client), queues it in
the block cutter, and a thread per channel turns batches into blocks: header (number, previous header hash,
Merkle root of the envelopes, history-tree root and size, time), signed with the orderer's key, stored durably in
the orderer's own block store before any peer can receive it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from consortia.channel.rules import ChannelRules, read_genesis
from consortia.channel.update import ConfigRefused, is_config_envelope
from consortia.identity import Kind, SigningIdentity
from consortia.ledger.block import Block, BlockHeader, data_hash, header_hash, header_signing_bytes, transaction_leaves
from consortia.ledger.blockstore import BlockStore
from consortia.ledger.chain import ChainError, check_block
from consortia.ledger.config import ChannelConfig
from consortia.ledger.encoding import MalformedError, decode, decode_canonical, encode
from consortia.ledger.merkle import CompactRange
from consortia.ordering.admission import admit_envelope
from consortia.ordering.base import OrderingError, OrderingService
from consortia.ordering.config_track import ConfigTracker, refusal_message, refusal_status
from consortia.ordering.cutter import BlockCutter
from consortia.ordering.edge import load_edge, replay_edge, save_edge

log = logging.getLogger(__name__)

_CLIENT_KINDS = frozenset({Kind.CLIENT, Kind.ADMIN})


def make_block(
    channel: str,
    number: int,
    previous: BlockHeader | None,
    history: CompactRange,
    transactions: list[bytes],
    signer: SigningIdentity,
    timestamp_ms: int,
) -> tuple[Block, CompactRange]:
    """Build and sign a block; return it with the history tree's right edge after it."""
    after = history.copy()
    after.extend(transaction_leaves(transactions))
    header = BlockHeader(
        channel=channel,
        number=number,
        previous_hash=bytes(32) if previous is None else header_hash(previous),
        data_hash=data_hash(transactions),
        history_root=after.root(),
        history_size=after.size,
        timestamp_ms=timestamp_ms,
    )
    block = Block(header, tuple(transactions), signer.certificate_der, signer.sign(header_signing_bytes(header)))
    return block, after


class _ChannelChain:
    """One channel's ordering state: its block store, last header, history edge and cutter."""

    def __init__(self, service: SoloOrderer, directory: Path, genesis: bytes | None) -> None:
        self.service = service
        self.store = BlockStore(directory / "blocks", sync=service.sync)
        self.frontier_path = directory / "history.edge"
        if self.store.height == 0:
            if genesis is None:
                raise OrderingError(404, f"no genesis block for {directory.name}")
            self.store.append(genesis)
        genesis_block = decode(self.store.read(0), Block)
        config, _ = read_genesis(genesis_block)
        self.name = config.name
        self.tracker = ConfigTracker(directory, self.store)
        self._check_reindexed()
        self.last: BlockHeader = decode(self.store.read(self.store.height - 1), Block).header
        self.history = load_edge(self.frontier_path, self.store, self.last)
        self.cutter = BlockCutter(self.config.orderer.batch)
        self.condition = threading.Condition()
        self.blocks_condition = threading.Condition()
        self.thread = threading.Thread(target=self._run, name=f"orderer-{self.name}", daemon=True)
        self.thread.start()

    def _check_reindexed(self) -> None:
        """Adopt blocks found beyond the index after a crash only if they chain and carry this service's signature."""
        numbers = self.store.reindexed
        if not numbers or numbers.start == 0:
            return
        edge = replay_edge(self.store, numbers.start)
        previous = decode(self.store.read(numbers.start - 1), Block).header
        for number in numbers:
            block = decode(self.store.read(number), Block)
            try:
                edge = check_block(block, previous, edge, self.rules.orderers, self.name)
            except ChainError as exc:
                self.store.drop_reindexed()
                self.store.close()
                raise OrderingError(
                    500,
                    f"channel {self.name}: block {number} was found beyond the index after a crash but does not "
                    f"follow the chain ({exc.reason}); refusing to adopt it",
                ) from None
            previous = block.header

    @property
    def config(self) -> ChannelConfig:
        """The channel configuration in force at this orderer's tip."""
        return self.tracker.config

    @property
    def rules(self) -> ChannelRules:
        """The rules of the configuration in force."""
        return self.tracker.rules

    def submit_config(self, envelope: bytes) -> int:
        """Order a configuration update in a block of its own, after the pending batch; return its block number."""
        with self.condition:
            batch = self.cutter.cut()
            if batch:
                self._write(batch)
            timestamp = max(int(time.time() * 1000), self.last.timestamp_ms)
            try:
                self.tracker.judge(envelope, timestamp)
            except ConfigRefused as refused:
                raise OrderingError(refusal_status(refused), refusal_message(refused), refused.code.name) from None
            number = self.store.height
            self._write([envelope], timestamp)
            self.cutter = BlockCutter(self.config.orderer.batch)
            return number

    def submit(self, envelope: bytes) -> None:
        with self.condition:
            was_idle = not self.cutter.pending
            for batch in self.cutter.add(envelope):
                self._write(batch)
            # The cutter thread only needs waking when a new batch (and so a new deadline) starts: waking it for
            # every envelope costs a context switch per transaction.
            if was_idle and self.cutter.pending:
                self.condition.notify()

    def _run(self) -> None:
        while not self.service.stopped.is_set():
            with self.condition:
                deadline = self.cutter.deadline()
                if deadline is None:
                    self.condition.wait(0.5)
                    continue
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    self.condition.wait(remaining)
                    continue
                batch = self.cutter.cut()
                if batch:
                    self._write(batch)

    def _write(self, batch: list[bytes], timestamp: int | None = None) -> None:
        if timestamp is None:
            timestamp = max(int(time.time() * 1000), self.last.timestamp_ms)
        block, history = make_block(
            self.name, self.store.height, self.last, self.history, batch, self.service.identity, timestamp
        )
        self.store.append(encode(block))
        self.last, self.history = block.header, history
        save_edge(self.frontier_path, history)
        self.tracker.observe(block)
        with self.blocks_condition:
            self.blocks_condition.notify_all()

    def close(self) -> None:
        with self.condition:
            self.condition.notify_all()
        with self.blocks_condition:
            self.blocks_condition.notify_all()
        self.thread.join(timeout=5)
        self.store.close()


class SoloOrderer(OrderingService):
    """An in-process ordering service with one block cutter per channel."""

    def __init__(self, identity: SigningIdentity, directory: Path, *, sync: bool = True) -> None:
        if identity.kind != Kind.ORDERER:
            raise ValueError(f"{identity.name} is a {identity.kind.value}, not an orderer")
        self.identity = identity
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.sync = sync
        self.stopped = threading.Event()
        self._chains: dict[str, _ChannelChain] = {}
        for path in sorted(self.directory.iterdir()):
            if (path / "blocks").is_dir():
                chain = _ChannelChain(self, path, None)
                self._chains[chain.name] = chain

    def create_channel(self, genesis: bytes) -> None:
        """Start ordering a channel from its genesis block (no-op if it exists)."""
        try:
            block = decode_canonical(genesis, Block)
            config, _ = read_genesis(block)
        except (MalformedError, ValueError) as exc:
            raise OrderingError(400, f"genesis block: {exc}") from None
        if config.name in self._chains:
            return
        self._chains[config.name] = _ChannelChain(self, self.directory / config.name, genesis)

    def _chain(self, channel: str) -> _ChannelChain:
        chain = self._chains.get(channel)
        if chain is None:
            raise OrderingError(404, f"the ordering service does not serve channel {channel!r}")
        return chain

    def broadcast(self, channel: str, envelope: bytes) -> None:
        """Check an envelope and queue it for the next block."""
        if self.stopped.is_set():
            raise OrderingError(503, "the ordering service is shutting down")
        chain = self._chain(channel)
        if is_config_envelope(envelope):
            chain.submit_config(envelope)
            return
        admit_envelope(chain.rules, channel, envelope, chain.config.orderer.batch.max_bytes)
        chain.submit(envelope)

    def deliver(
        self, channel: str, start: int, stop: threading.Event | None = None, reader: str | None = None
    ) -> Iterator[bytes]:
        """Yield stored blocks from ``start``, then new ones as they are cut (to members only, given ``reader``)."""
        chain = self._chain(channel)
        number = start
        while not self.stopped.is_set() and not (stop is not None and stop.is_set()):
            if number < chain.store.height:
                if reader is not None and number > 0 and not chain.tracker.may_read(reader, number):
                    raise OrderingError(403, f"{reader} is no longer a member of channel {channel!r}")
                yield chain.store.read(number)
                number += 1
                continue
            with chain.blocks_condition:
                if number >= chain.store.height:
                    chain.blocks_condition.wait(0.5)

    def config(self, channel: str) -> ChannelConfig:
        """The configuration in force on ``channel`` at the last block cut."""
        return self._chain(channel).config

    def order_config(self, channel: str, envelope: bytes) -> int:
        """Order a configuration update in a block of its own; return the block's number (OrderingError if refused)."""
        if self.stopped.is_set():
            raise OrderingError(503, "the ordering service is shutting down")
        return self._chain(channel).submit_config(envelope)

    def height(self, channel: str) -> int:
        """Number of blocks cut on ``channel``."""
        return self._chain(channel).store.height

    def block(self, channel: str, number: int) -> bytes:
        """A stored block's bytes."""
        return self._chain(channel).store.read(number)

    def channels(self) -> list[str]:
        """Channels this orderer serves."""
        return sorted(self._chains)

    def close(self) -> None:
        """Stop the cutter threads and close the stores."""
        self.stopped.set()
        for chain in self._chains.values():
            chain.close()
