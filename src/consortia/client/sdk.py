"""The client SDK: how an application submits transactions and reads results.

    gateway = Gateway(identity, connection)
    contract = gateway.network("trade").contract("asset-transfer")
    result = contract.submit("transfer", "asset-1", "bob")      # endorse → order → wait for commit
    asset = contract.evaluate("read", "asset-1")                # query one peer

``submit`` signs a proposal with the caller's key, asks peers of enough organisations to satisfy the contract's
endorsement policy, checks that their signed responses agree byte for byte, wraps them in an envelope signed by
the caller, hands it to the ordering service and waits until the caller's own organisation's peer has committed
the block. It returns the result with the transaction id, block number and validation code; if the transaction
was committed as invalid it raises :class:`TransactionInvalid` carrying the reason code (``MVCC_READ_CONFLICT``,
``ENDORSEMENT_POLICY_FAILURE``…), so an application can retry or report.

A gateway works over any :class:`~consortia.client.connection.Connection` — the embedded network in this
process or a cluster's nodes over HTTP — and talks to peers only through the peer-channel interface
(:mod:`consortia.client.peer_channel`), so the same code runs on both.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from consortia.client.connection import Connection
from consortia.client.errors import (
    CommitTimeout,
    EndorsementFailed,
    GatewayError,
    OrderingFailed,
    TransactionInvalid,
)
from consortia.client.peer_channel import ChannelPeer
from consortia.client.proposal import PreparedProposal, build_proposal
from consortia.identity import SigningIdentity
from consortia.ledger.codes import Code, code_name
from consortia.ledger.encoding import MalformedError, decode, encode, parse_json
from consortia.ledger.transaction import (
    ENVELOPE_TRANSACTION,
    Envelope,
    ProposalResponse,
    ResponsePayload,
    Transaction,
    open_envelope,
)
from consortia.ordering.base import OrderingError
from consortia.peer.endorser import EndorsementError
from consortia.peer.events import BlockEvent, CommitStatus
from consortia.policy import minimal_org_sets, parse_policy_cached


@dataclass(frozen=True)
class SubmitResult:
    """A committed, valid transaction."""

    tx_id: str
    block: int
    code: str
    result: Any


@dataclass(frozen=True)
class CommittedEvent:
    """An event a contract emitted in a valid, committed transaction, with the block it committed in."""

    block: BlockEvent
    tx_id: str
    name: str
    payload: Any


def endorsement_failed(exc: EndorsementError, prefix: str = "", tx_id: str | None = None) -> EndorsementFailed:
    """The SDK's error for a peer's refusal (the contract's own code kept)."""
    return EndorsementFailed(exc.code, prefix + exc.message, tx_id, contract_code=exc.contract_code)


@lru_cache(maxsize=256)
def _endorser_sets(policy: str) -> list[frozenset[str]]:
    return minimal_org_sets(parse_policy_cached(policy), "peer")


class Gateway:
    """A client identity connected to a network."""

    def __init__(self, identity: SigningIdentity, connection: Connection) -> None:
        self.identity = identity
        self.connection = connection

    @property
    def org(self) -> str:
        """The caller's organisation."""
        return self.identity.org

    def network(self, channel: str) -> Network:
        """A channel of the network."""
        return Network(self, channel)


class Network:
    """A channel as seen through a gateway."""

    def __init__(self, gateway: Gateway, channel: str) -> None:
        self.gateway = gateway
        self.channel = channel

    def contract(self, name: str) -> Contract:
        """A contract on this channel."""
        return Contract(self, name)

    def peer_channel(self, org: str | None = None) -> ChannelPeer:
        """The peer of ``org`` (default: the caller's own organisation, which evaluates and reports commits)."""
        who = org or self.gateway.org
        try:
            return self.gateway.connection.peer_channel(who, self.channel)
        except KeyError:
            raise EndorsementFailed("NO_PEER", f"no peer of {who} is reachable") from None
        except EndorsementError as exc:
            raise endorsement_failed(exc, f"peer of {who}: ") from None

    def events(
        self, start: int = 0, stop: threading.Event | None = None, timeout: float | None = None
    ) -> Iterator[BlockEvent]:
        """Block events from block ``start``: stored ones first, then live ones as they commit."""
        return self.peer_channel().block_events(start, stop, timeout)

    def height(self) -> int:
        """Blocks committed on the home peer."""
        try:
            return self.peer_channel().height
        except EndorsementError as exc:
            raise endorsement_failed(exc) from None


class Contract:
    """A contract on a channel: submit transactions, evaluate queries, watch its events."""

    def __init__(self, network: Network, name: str) -> None:
        self.network = network
        self.name = name

    @property
    def _gateway(self) -> Gateway:
        return self.network.gateway

    def endorsing_orgs(self) -> list[str]:
        """The organisations whose peers this gateway asks to endorse (smallest set meeting the policy)."""
        try:
            definition = self.network.peer_channel().definition(self.name)
        except EndorsementError as exc:
            raise endorsement_failed(exc) from None
        if definition is None:
            raise EndorsementFailed(
                "UNKNOWN_CONTRACT", f"contract {self.name!r} is not committed on channel {self.network.channel!r}"
            )
        candidates = _endorser_sets(definition.policy)
        on_channel = set(self._gateway.connection.channel_orgs(self.network.channel))
        candidates = [c for c in candidates if c <= on_channel]
        if not candidates:
            raise EndorsementFailed("NO_ENDORSERS", f"no set of peers can satisfy {definition.policy}")
        own = self._gateway.org
        best = min(candidates, key=lambda c: (own not in c, len(c), sorted(c)))
        return sorted(best, key=lambda org: (org != own, org))

    def submit(
        self,
        function: str,
        *args: Any,
        transient: Mapping[str, bytes] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
        timeout: float = 30.0,
    ) -> SubmitResult:
        """Endorse, order and commit a transaction; return its result or raise a GatewayError subclass."""
        future = self.submit_async(function, *args, transient=transient, endorsing_orgs=endorsing_orgs, timeout=timeout)
        try:
            return future.result(timeout)
        except FutureTimeout:
            raise CommitTimeout("COMMIT_TIMEOUT", f"no commit seen within {timeout:g} s") from None

    def submit_async(
        self,
        function: str,
        *args: Any,
        transient: Mapping[str, bytes] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
        timeout: float = 30.0,
    ) -> Future[SubmitResult]:
        """Endorse and order a transaction now; return a future resolved when it commits (or fails).

        Endorsement and ordering errors are raised here; the future raises TransactionInvalid. ``timeout`` bounds
        how long a lagging endorser may take to catch up before it simulates.
        """
        gateway = self._gateway
        prepared = build_proposal(gateway.identity, self.network.channel, self.name, function, args, transient)
        transaction = self._collect_endorsements(prepared, endorsing_orgs, timeout)
        transaction_bytes = encode(transaction)
        envelope = encode(Envelope(ENVELOPE_TRANSACTION, transaction_bytes, gateway.identity.sign(transaction_bytes)))
        # The id was just made from a fresh nonce: it cannot have committed yet, so no ledger lookup is needed.
        waiter = self.network.peer_channel().commit_waiter(prepared.tx_id)
        return self._order(prepared.tx_id, envelope, transaction.response, waiter)

    def endorse(
        self, prepared: PreparedProposal, *, endorsing_orgs: Sequence[str] | None = None, timeout: float = 30.0
    ) -> bytes:
        """Collect endorsements of a signed proposal; return the transaction bytes the submitter must sign."""
        return encode(self._collect_endorsements(prepared, endorsing_orgs, timeout))

    def _collect_endorsements(
        self, prepared: PreparedProposal, endorsing_orgs: Sequence[str] | None, timeout: float
    ) -> Transaction:
        tx_id = prepared.tx_id
        orgs = list(endorsing_orgs) if endorsing_orgs else self.endorsing_orgs()
        home = self.network.peer_channel()
        peers = [(org, self.network.peer_channel(org)) for org in orgs]
        # Endorsers must agree on what they read: each simulates only once it has the highest height any of them
        # (or the caller's own peer) has reached, so that a lagging peer does not endorse stale reads.
        target = home.height
        for _, peer in peers:
            with suppress(EndorsementError):  # a peer that cannot answer is reported by endorsing below
                target = max(target, peer.height)
        responses: list[ProposalResponse] = []
        for org, peer in peers:
            try:
                responses.append(peer.endorse(prepared.signed, prepared.transient, min_height=target, timeout=timeout))
            except EndorsementError as exc:
                raise endorsement_failed(exc, f"peer of {org}: ", tx_id) from None
        payload = responses[0].payload
        if any(response.payload != payload for response in responses[1:]):
            raise EndorsementFailed(
                "ENDORSEMENT_MISMATCH",
                "endorsing peers returned different results (is the contract deterministic, "
                "and are the peers at the same height?)",
                tx_id,
            )
        return Transaction(
            proposal=encode(prepared.proposal),
            response=payload,
            endorsements=tuple(response.endorsement for response in responses),
        )

    def order(self, envelope: bytes) -> Future[SubmitResult]:
        """Send a signed transaction envelope to the ordering service; return a future resolved at commit.

        The envelope may come from elsewhere (a program that signed it itself): if its transaction has already
        committed, the future carries that outcome.
        """
        try:
            opened = open_envelope(envelope)
        except MalformedError as exc:
            raise GatewayError("BAD_ENVELOPE", str(exc)) from None
        home = self.network.peer_channel()
        waiter = home.commit_waiter(opened.tx_id)
        try:
            committed = home.commit_status(opened.tx_id)
        except EndorsementError as exc:
            waiter.cancel()
            raise endorsement_failed(exc, "", opened.tx_id) from None
        if committed is not None:
            waiter.cancel()
            waiter = Future()
            waiter.set_result(committed)
        return self._order(opened.tx_id, envelope, opened.transaction.response, waiter)

    def _order(
        self, tx_id: str, envelope: bytes, response: bytes, waiter: Future[CommitStatus]
    ) -> Future[SubmitResult]:
        channel = self.network.channel
        try:
            self._gateway.connection.broadcast(channel, envelope)
        except OrderingError as exc:
            waiter.cancel()
            raise OrderingFailed(f"ORDERING_{exc.status}", exc.message, tx_id) from None
        result: Future[SubmitResult] = Future()

        def finish(done: Future[CommitStatus]) -> None:
            try:
                status = done.result()
            except Exception as exc:
                result.set_exception(CommitTimeout("COMMIT_FAILED", str(exc), tx_id))
                return
            if status.code != Code.VALID:
                message = status.detail or f"transaction committed as {code_name(status.code)}"
                result.set_exception(TransactionInvalid(code_name(status.code), message, tx_id, status.block))
                return
            value = parse_json(decode(response, ResponsePayload).response.payload)
            result.set_result(SubmitResult(tx_id, status.block, "VALID", value))

        waiter.add_done_callback(finish)
        return result

    def evaluate(
        self, function: str, *args: Any, transient: Mapping[str, bytes] | None = None, org: str | None = None
    ) -> Any:
        """Run a query on one peer (the caller's organisation's, unless ``org`` names another)."""
        gateway = self._gateway
        prepared = build_proposal(gateway.identity, self.network.channel, self.name, function, args, transient)
        peer = self.network.peer_channel(org)
        try:
            return peer.evaluate(prepared.signed, prepared.transient)
        except EndorsementError as exc:
            raise endorsement_failed(exc) from None

    def events(
        self, start: int = 0, stop: threading.Event | None = None, timeout: float | None = None
    ) -> Iterator[CommittedEvent]:
        """This contract's events from valid transactions, block by block from ``start``."""
        for block in self.network.events(start, stop, timeout):
            for outcome in block.transactions:
                if outcome.contract != self.name or outcome.code != Code.VALID:
                    continue
                for event in outcome.events:
                    yield CommittedEvent(block, outcome.tx_id, event.name, parse_json(event.payload))
