"""A peer's membership of one channel: its ledger, its validator, the proposals it endorses, the blocks it commits.

Joining a channel means storing its genesis block, whose configuration sets the first rules; a configuration
block later puts the next version in force from the block after it (:mod:`consortia.channel.update`), and the
configuration in force is kept in the state, so a peer reopening — or starting from a snapshot — finds it there.
After joining, the peer receives blocks (from the ordering service or another peer) one at a time; each
block's chain is checked (:mod:`consortia.ledger.chain`), its transactions validated
(:mod:`consortia.peer.validator`), and the block, its codes and its state updates committed; then waiting
clients and subscribers are told.

A :class:`PeerChannel` is also what clients talk to: it implements the peer-channel interface of
:mod:`consortia.client.peer_channel` (height, committed definitions, endorse, evaluate, wait for a height, commit
waiters, block events), exactly as a remote peer node does, so the SDK cannot tell them apart.

On opening, a peer whose state database is behind its block store (it crashed between the two writes) replays
the missing blocks with the codes it stored, so state always equals a replay of the blocks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from consortia.channel.rules import ChannelRules, ConfigError, check_config_signatures, read_genesis, rules_from_config
from consortia.channel.update import config_in_force, is_config_block, record_config
from consortia.contracts.lifecycle import LIFECYCLE, ContractDefinition
from consortia.contracts.registry import ContractRegistry
from consortia.identity import SigningIdentity
from consortia.ledger.block import Block, header_hash
from consortia.ledger.chain import ChainError, check_block
from consortia.ledger.codes import Code
from consortia.ledger.config import ChannelConfig
from consortia.ledger.encoding import MalformedError, decode_canonical, encode
from consortia.ledger.ledger import ChannelLedger, LedgerError
from consortia.ledger.rwset import PrivateWrites
from consortia.ledger.transaction import Endorsement, ProposalResponse, open_envelope
from consortia.peer.endorser import EndorsementError, simulate
from consortia.peer.events import BlockEvent, CommitStatus, EventHub
from consortia.peer.outcome import TxOutcome
from consortia.peer.validator import BlockValidator, genesis_batch

log = logging.getLogger(__name__)

Disseminate = Callable[[str, PrivateWrites, tuple[str, ...], str], None]
"""(channel, private writes, member orgs, sending peer's org) → deliver to member peers."""


class BlockRejected(Exception):
    """A block this peer refused (it keeps running); ``block`` is its number when known."""

    def __init__(self, message: str, block: int | None = None) -> None:
        super().__init__(message)
        self.block = block


def genesis_outcome() -> TxOutcome:
    """The outcome recorded for the configuration transaction of a genesis block."""
    return TxOutcome(index=0, tx_id="", code=Code.VALID, detail="channel configuration")


class PeerChannel:
    """One channel as seen by one peer."""

    def __init__(
        self,
        name: str,
        identity: SigningIdentity,
        directory: Path,
        registry: ContractRegistry,
        genesis: bytes | None = None,
        *,
        disseminate: Disseminate | None = None,
        sync: bool = True,
    ) -> None:
        self.name = name
        self.identity = identity
        self.org = identity.org
        self.registry = registry
        self.disseminate = disseminate
        self.directory = Path(directory)
        self.ledger = ChannelLedger(self.directory, sync=sync)
        self.events = EventHub()
        self._lock = threading.Lock()
        self._height_changed = threading.Condition()
        if self.ledger.stored_height == 0:
            if genesis is None:
                raise ConfigError(f"peer has not joined channel {name!r} and no genesis block was given")
            self._join(genesis)
        self.rules: ChannelRules = rules_from_config(self._config_in_state())
        self.validator = BlockValidator(self.rules, self.ledger.state, self.org, self.ledger.state.get_transient)
        self._check_reindexed()
        self._history = self.ledger.history_range()
        self._recover()

    def _config_in_state(self) -> ChannelConfig:
        """The configuration in force at the state's height (the genesis one for a ledger without a record)."""
        record = config_in_force(self.ledger.state) if self.ledger.state.height > 0 else None
        if record is not None:
            return record_config(record)
        config, _ = read_genesis(self.ledger.block(0))
        return config

    def _use_config(self, config: ChannelConfig) -> None:
        """Judge the following blocks under ``config``."""
        self._use_rules(rules_from_config(config))

    def _use_rules(self, rules: ChannelRules) -> None:
        self.rules = rules
        self.validator.use_rules(rules)
        log.info("channel %s: configuration version %d in force", self.name, rules.config.version)

    # -- joining and recovery --------------------------------------------------------------------------------

    def _join(self, genesis_bytes: bytes) -> None:
        try:
            block = decode_canonical(genesis_bytes, Block)
        except MalformedError as exc:
            raise ConfigError(f"genesis block: {exc}") from None
        config, transaction = read_genesis(block)
        if config.name != self.name:
            raise ConfigError(f"genesis block is for channel {config.name!r}, not {self.name!r}")
        check_config_signatures(config, transaction)
        rules = rules_from_config(config)
        try:
            check_block(block, None, self.ledger.history_range(), rules.orderers, self.name)
        except ChainError as exc:
            raise ConfigError(str(exc)) from None
        self.ledger.append(genesis_bytes, block, bytes([Code.VALID]), genesis_batch(block))

    def _check_reindexed(self) -> None:
        """Blocks found beyond the index after a crash are adopted only if they chain and the orderer signed them."""
        numbers = self.ledger.blocks.reindexed
        if not numbers or numbers.start == 0:
            return
        history_tree = self.ledger.history
        assert history_tree is not None
        previous = self.ledger.header(numbers.start - 1)
        for number in numbers:
            block = self.ledger.block(number)
            try:
                check_block(
                    block, previous, history_tree.compact_range(previous.history_size), self.rules.orderers, self.name
                )
            except ChainError as exc:
                self.ledger.blocks.drop_reindexed()
                self.ledger.close()
                raise LedgerError(
                    f"channel {self.name}: block {number} was found beyond the index after a crash but does not "
                    f"follow the chain ({exc.reason}); refusing to adopt it — inspect {self.directory}"
                ) from None
            previous = block.header

    def _recover(self) -> None:
        state = self.ledger.state
        if state.height == 0 and self.ledger.stored_height >= 1:
            self.ledger.apply_replayed(genesis_batch(self.ledger.block(0)))
        for number in range(max(state.height, 1), self.ledger.stored_height):
            committed = self.ledger.committed_block(number)
            before = config_in_force(state)
            self.ledger.apply_replayed(self.validator.replay(committed.block, committed.codes))
            self.validator.invalidate_definitions()
            after = config_in_force(state)
            if after is not None and after != before:
                self._use_config(record_config(after))
            log.info("channel %s: replayed block %d into the state database", self.name, number)

    # -- reading ---------------------------------------------------------------------------------------------

    @property
    def height(self) -> int:
        """Number of blocks committed."""
        return self.ledger.height

    def wait_for_height(self, height: int, timeout: float) -> bool:
        """Wait until ``height`` blocks are committed; return whether they are."""
        deadline = time.monotonic() + timeout
        with self._height_changed:
            while self.ledger.height < height:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._height_changed.wait(remaining)
        return True

    def definition(self, contract: str) -> ContractDefinition | None:
        """The committed definition of ``contract`` on this channel, or None."""
        return self.validator.definition(None, contract)

    # -- endorsing and evaluating ----------------------------------------------------------------------------

    def endorse(
        self, signed_proposal: bytes, transient: Mapping[str, bytes], *, min_height: int = 0, timeout: float = 10.0
    ) -> ProposalResponse:
        """Simulate a proposal once ``min_height`` blocks are committed; return the signed response.

        Raises EndorsementError (``BEHIND`` when the blocks do not arrive within ``timeout`` seconds). Private
        writes are kept here if this organisation is a member of their collection, and handed to the other
        members' peers.
        """
        if min_height > self.height and not self.wait_for_height(min_height, timeout):
            raise EndorsementError(
                "BEHIND", f"peer of {self.org} has {self.height} blocks of {self.name}, not the {min_height} asked for"
            )
        simulation = simulate(self, signed_proposal, transient)
        payload = encode(simulation.payload)
        if simulation.private:
            definition = self.definition(simulation.proposal.contract)
            for writes in simulation.private:
                config = definition.collection(writes.collection) if definition else None
                members = config.members if config else ()
                if self.org in members:
                    self.store_transient(writes)
                if self.disseminate is not None:
                    self.disseminate(self.name, writes, members, self.org)
        identity = self.identity  # once: a renewal may swap it between the certificate and the signature
        return ProposalResponse(payload, Endorsement(identity.certificate_der, identity.sign(payload)))

    def evaluate(self, signed_proposal: bytes, transient: Mapping[str, bytes]) -> Any:
        """Run a query and return its JSON result (raises EndorsementError)."""
        return simulate(self, signed_proposal, transient, read_only=True).result

    # -- private data dissemination --------------------------------------------------------------------------

    def store_transient(self, writes: PrivateWrites) -> None:
        """Keep private plaintext received from an endorser until its transaction commits."""
        self.ledger.state.put_transient(
            writes.tx_id, writes.namespace, writes.collection, encode(writes), int(time.time() * 1000)
        )

    # -- committing ------------------------------------------------------------------------------------------

    def receive_block(self, block_bytes: bytes) -> BlockEvent:
        """Check, validate and commit the next block; raise BlockRejected (and change nothing) if it is bad."""
        try:
            block = decode_canonical(block_bytes, Block)
        except MalformedError as exc:
            raise BlockRejected(f"channel {self.name}: unreadable block: {exc}") from None
        with self._lock:
            if block.header.number < self.ledger.stored_height:
                raise BlockRejected(
                    f"channel {self.name}: block {block.header.number} is already committed", block.header.number
                )
            try:
                history = check_block(block, self.ledger.last_header, self._history, self.rules.orderers, self.name)
            except ChainError as exc:
                raise BlockRejected(f"channel {self.name}: {exc}", exc.block) from None
            try:
                verdict = self.validator.validate(block)
            except Exception as exc:  # a block this code cannot judge must not take the peer down
                log.exception("channel %s: validating block %d failed", self.name, block.header.number)
                raise BlockRejected(
                    f"channel {self.name}: block {block.header.number} could not be validated: "
                    f"{type(exc).__name__}: {exc}",
                    block.header.number,
                ) from None
            # The next rules are built before the block is stored, so that they are in force (one assignment
            # later) by the time anyone sees the new height.
            next_rules = rules_from_config(verdict.config) if verdict.config is not None else None
            try:
                self.ledger.append(block_bytes, block, verdict.codes, verdict.batch)
            except LedgerError as exc:
                raise BlockRejected(f"channel {self.name}: {exc}", block.header.number) from None
            if next_rules is not None:
                self._use_rules(next_rules)
            self._history = history
            if verdict.batch.touches(LIFECYCLE):
                self.validator.invalidate_definitions()
        with self._height_changed:
            self._height_changed.notify_all()
        event = BlockEvent(
            self.name, block.header.number, header_hash(block.header), block.header.timestamp_ms, verdict.outcomes
        )
        self.events.publish(event)
        return event

    def commit_waiter(self, tx_id: str) -> Future[CommitStatus]:
        """A future resolved when ``tx_id`` commits here from now on (cancel it to stop waiting)."""
        return self.events.waiter(tx_id)

    def commit_status(self, tx_id: str) -> CommitStatus | None:
        """The outcome of ``tx_id`` if it has already committed here, else None."""
        position = self.ledger.state.tx_position(tx_id)
        if position is None:
            return None
        return CommitStatus(tx_id=tx_id, block=position.block, code=position.code, detail="", outcome=None)

    def block_events(
        self, start: int, stop: threading.Event | None = None, timeout: float | None = None
    ) -> Iterator[BlockEvent]:
        """Block events from ``start``: stored blocks replayed first, then live ones."""
        subscription = self.events.subscribe()
        try:
            number = start
            while number < self.ledger.height:
                yield self.stored_event(number)
                number += 1
            deadline = None if timeout is None else time.monotonic() + timeout
            while stop is None or not stop.is_set():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return
                try:
                    event = subscription.get(timeout=min(remaining, 0.5) if remaining is not None else 0.5)
                except Exception:
                    continue
                if event is None:
                    return
                if event.number < number:
                    continue
                while number < event.number:  # fill a gap from the ledger
                    yield self.stored_event(number)
                    number += 1
                yield event
                number = event.number + 1
        finally:
            self.events.unsubscribe(subscription)

    def stored_event(self, number: int) -> BlockEvent:
        """Rebuild the block event of a committed block from the ledger."""
        record = self.ledger.record(number)
        block = decode_canonical(record.block, Block)
        if number == 0:
            outcomes: tuple[TxOutcome, ...] = (genesis_outcome(),)
        elif is_config_block(block):
            code = Code(record.codes[0]) if record.codes else Code.BAD_PAYLOAD
            outcomes = (TxOutcome(index=0, tx_id="", code=code, detail="channel configuration", function="config"),)
        else:
            outcomes = tuple(self._describe(block, record.codes))
        return BlockEvent(self.name, number, header_hash(block.header), block.header.timestamp_ms, outcomes)

    def _describe(self, block: Block, codes: bytes) -> Iterator[TxOutcome]:
        for index, envelope_bytes in enumerate(block.transactions):
            code = Code(codes[index]) if index < len(codes) else Code.BAD_PAYLOAD
            try:
                opened = open_envelope(envelope_bytes)
                payload = opened.payload
            except MalformedError:
                yield TxOutcome(index=index, tx_id="", code=code)
                continue
            yield TxOutcome(
                index=index,
                tx_id=opened.tx_id,
                code=code,
                contract=opened.proposal.contract,
                function=opened.proposal.function,
                events=payload.events if code == Code.VALID else (),
            )

    def close(self) -> None:
        """Close the ledger and wake subscribers."""
        self.events.close()
        self.ledger.close()


def open_channels(
    directory: Path,
    identity: SigningIdentity,
    registry: ContractRegistry,
    genesis: Mapping[str, bytes] | None = None,
    *,
    disseminate: Disseminate | None = None,
    sync: bool = True,
) -> dict[str, PeerChannel]:
    """Open every channel stored under ``directory`` (and join those with a genesis block given)."""
    channels: dict[str, PeerChannel] = {}
    names = {p.name for p in directory.iterdir() if p.is_dir()} if directory.exists() else set()
    names |= set(genesis or {})
    for name in sorted(names):
        channels[name] = PeerChannel(
            name, identity, directory / name, registry, (genesis or {}).get(name), disseminate=disseminate, sync=sync
        )
    return channels
