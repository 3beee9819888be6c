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

A gateway works over any :class:`Connection`: the embedded network in this process, or (later) remote nodes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from consortia.contracts.context import SALT_TRANSIENT_KEY
from consortia.identity import SigningIdentity
from consortia.ledger.codes import Code, code_name
from consortia.ledger.encoding import canonical_json, decode, encode, parse_json
from consortia.ledger.transaction import (
    ENVELOPE_TRANSACTION,
    Envelope,
    Proposal,
    ProposalResponse,
    ResponsePayload,
    SignedProposal,
    Transaction,
    compute_tx_id,
    make_nonce,
    transient_hash,
)
from consortia.ordering.base import OrderingError, OrderingService
from consortia.peer.endorser import EndorsementError
from consortia.peer.events import BlockEvent, CommitStatus
from consortia.peer.peer import Peer
from consortia.policy import minimal_org_sets, parse_policy_cached


class GatewayError(Exception):
    """A submission or query that did not succeed; ``code`` classifies it, the message explains."""

    def __init__(self, code: str, message: str, tx_id: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.tx_id = tx_id


class EndorsementFailed(GatewayError):
    """A peer refused to endorse (contract error, not a member, unknown contract…), or endorsers disagreed."""


class OrderingFailed(GatewayError):
    """The ordering service refused the envelope."""


class TransactionInvalid(GatewayError):
    """The transaction was ordered and committed as invalid; ``code`` is the validation code name."""

    def __init__(self, code: str, message: str, tx_id: str, block: int) -> None:
        super().__init__(code, message, tx_id)
        self.block = block


class CommitTimeout(GatewayError):
    """The transaction was submitted but its commit was not seen in time (it may still commit)."""


@dataclass(frozen=True)
class SubmitResult:
    """A committed, valid transaction."""

    tx_id: str
    block: int
    code: str
    result: Any


class Connection(Protocol):
    """What a gateway needs from a network: peers by organisation and an ordering service."""

    @property
    def orderer(self) -> OrderingService: ...

    def peer(self, org: str) -> Peer: ...

    def channel_orgs(self, channel: str) -> Sequence[str]: ...


def build_proposal(
    identity: SigningIdentity,
    channel: str,
    contract: str,
    function: str,
    args: Sequence[Any],
    transient: Mapping[str, bytes] | None,
) -> tuple[bytes, Proposal, dict[str, bytes]]:
    """Build and sign a proposal; return (signed proposal bytes, proposal, transient map actually sent)."""
    sent = dict(transient or {})
    for key, value in sent.items():
        if not isinstance(key, str) or not isinstance(value, bytes):
            raise TypeError("transient data must map str keys to bytes values")
    sent[SALT_TRANSIENT_KEY] = os.urandom(32)
    try:
        encoded_args = tuple(canonical_json(arg).decode() for arg in args)
    except ValueError as exc:
        raise GatewayError("BAD_ARGUMENTS", f"arguments must be JSON values: {exc}") from None
    nonce = make_nonce()
    creator = identity.certificate_der
    proposal = Proposal(
        channel=channel,
        contract=contract,
        function=function,
        args=encoded_args,
        transient_hash=transient_hash(sent),
        nonce=nonce,
        creator=creator,
        timestamp_ms=int(time.time() * 1000),
        tx_id=compute_tx_id(nonce, creator),
    )
    proposal_bytes = encode(proposal)
    signed = encode(SignedProposal(proposal_bytes, identity.sign(proposal_bytes)))
    return signed, proposal, sent


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

    def home_peer(self) -> Peer:
        """The peer of the caller's own organisation (it evaluates queries and reports commits)."""
        return self.gateway.connection.peer(self.gateway.org)

    def events(
        self, start: int = 0, stop: threading.Event | None = None, timeout: float | None = None
    ) -> Iterator[BlockEvent]:
        """Block events from block ``start``: stored ones first, then live ones as they commit."""
        return self.home_peer().channel(self.channel).block_events(start, stop, timeout)

    def height(self) -> int:
        """Blocks committed on the home peer."""
        return self.home_peer().channel(self.channel).height


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
        home = self.network.home_peer().channel(self.network.channel)
        definition = home.validator.definition(None, self.name)
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

        Endorsement and ordering errors are raised here; the future raises TransactionInvalid.
        """
        gateway = self._gateway
        signed, proposal, sent = build_proposal(
            gateway.identity, self.network.channel, self.name, function, args, transient
        )
        transaction_bytes = self.endorse(signed, proposal, sent, endorsing_orgs=endorsing_orgs, timeout=timeout)
        envelope = encode(Envelope(ENVELOPE_TRANSACTION, transaction_bytes, gateway.identity.sign(transaction_bytes)))
        return self.order(proposal.tx_id, envelope, transaction_bytes, fresh=True)

    def endorse(
        self,
        signed: bytes,
        proposal: Proposal,
        transient: Mapping[str, bytes],
        *,
        endorsing_orgs: Sequence[str] | None = None,
        timeout: float = 30.0,
    ) -> bytes:
        """Collect endorsements of a signed proposal; return the transaction bytes the submitter must sign."""
        gateway = self._gateway
        channel = self.network.channel
        orgs = list(endorsing_orgs) if endorsing_orgs else self.endorsing_orgs()
        home = self.network.home_peer().channel(channel)
        # Endorsers must agree on what they read: bring them all to the highest height any of them (or the caller's
        # own peer) has reached before simulating, so that a lagging peer does not endorse stale reads.
        try:
            peers = [(org, gateway.connection.peer(org)) for org in orgs]
        except KeyError as exc:
            raise EndorsementFailed("NO_PEER", f"no peer of {exc.args[0]} is reachable", proposal.tx_id) from None
        target = home.height
        for _, peer in peers:
            with suppress(EndorsementError):  # a peer not on the channel is reported by endorsing below
                target = max(target, peer.channel(channel).height)
        responses: list[ProposalResponse] = []
        for org, peer in peers:
            try:
                peer.channel(channel).wait_for_height(target, timeout)
                responses.append(peer.endorse(channel, signed, transient))
            except EndorsementError as exc:
                raise EndorsementFailed(exc.code, f"peer of {org}: {exc.message}", proposal.tx_id) from None
        payload = responses[0].payload
        if any(response.payload != payload for response in responses[1:]):
            raise EndorsementFailed(
                "ENDORSEMENT_MISMATCH",
                "endorsing peers returned different results (is the contract deterministic, "
                "and are the peers at the same height?)",
                proposal.tx_id,
            )
        return encode(
            Transaction(
                proposal=encode(proposal),
                response=payload,
                endorsements=tuple(response.endorsement for response in responses),
            )
        )

    def order(
        self, tx_id: str, envelope: bytes, transaction_bytes: bytes, *, fresh: bool = False
    ) -> Future[SubmitResult]:
        """Send a signed envelope to the ordering service; return a future resolved at commit.

        ``fresh``: the transaction id was just made from a new nonce, so it cannot have committed already and the
        ledger need not be asked first.
        """
        channel = self.network.channel
        home = self.network.home_peer().channel(channel)
        waiter = home.events.waiter(tx_id) if fresh else home.waiter(tx_id)
        try:
            self._gateway.connection.orderer.broadcast(channel, envelope)
        except OrderingError as exc:
            home.events.forget(tx_id, waiter)
            raise OrderingFailed(f"ORDERING_{exc.status}", exc.message, tx_id) from None
        payload = decode(transaction_bytes, Transaction).response
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
            value = parse_json(decode(payload, ResponsePayload).response.payload)
            result.set_result(SubmitResult(tx_id, status.block, "VALID", value))

        waiter.add_done_callback(finish)
        return result

    def evaluate(
        self, function: str, *args: Any, transient: Mapping[str, bytes] | None = None, org: str | None = None
    ) -> Any:
        """Run a query on one peer (the caller's organisation's, unless ``org`` names another)."""
        gateway = self._gateway
        signed, _, sent = build_proposal(gateway.identity, self.network.channel, self.name, function, args, transient)
        try:
            peer = gateway.connection.peer(org or gateway.org)
        except KeyError:
            raise EndorsementFailed("NO_PEER", f"no peer of {org or gateway.org} is reachable") from None
        try:
            return peer.evaluate(self.network.channel, signed, sent)
        except EndorsementError as exc:
            raise EndorsementFailed(exc.code, exc.message) from None

    def events(
        self, start: int = 0, stop: threading.Event | None = None, timeout: float | None = None
    ) -> Iterator[tuple[BlockEvent, str, str, Any]]:
        """This contract's events from valid transactions: (block event, tx_id, event name, payload)."""
        for block in self.network.events(start, stop, timeout):
            for outcome in block.transactions:
                if outcome.contract != self.name or outcome.code != Code.VALID:
                    continue
                for event in outcome.events:
                    yield block, outcome.tx_id, event.name, parse_json(event.payload)
