"""Validation negative cases: each transaction is rejected with its reason code on every peer, and state is unchanged.

Transactions are assembled by hand from the real pieces — a signed proposal from ``build_proposal``, endorsements
from ``Peer.endorse``, a ``Transaction`` wrapped in an ``Envelope`` — and handed to the ordering service with
``broadcast``. Where a case needs an exact block (two transactions in one block, an envelope the ordering service
refuses to order), the test cuts the block itself, signs it with the orderer's identity and hands it to every peer
with ``receive_block`` while the ordering service stays idle: peers must reach the same verdict on their own.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from conftest import three_org_spec
from consortia.client import Contract, EndorsementFailed, Gateway, TransactionInvalid, build_proposal
from consortia.identity import CertificateAuthority, Kind, SigningIdentity
from consortia.ledger.block import Block
from consortia.ledger.codes import Code
from consortia.ledger.encoding import canonical_json, decode, encode, parse_json
from consortia.ledger.rwset import Version
from consortia.ledger.transaction import (
    ENVELOPE_TRANSACTION,
    Endorsement,
    Envelope,
    Proposal,
    ProposalResponse,
    ResponsePayload,
    Transaction,
)
from consortia.network.bootstrap import crypto_dir
from consortia.network.embedded import EmbeddedNetwork
from consortia.ordering.base import OrderingError, OrderingService
from consortia.ordering.solo import SoloOrderer, make_block
from consortia.peer.channel import PeerChannel
from consortia.peer.endorser import EndorsementError
from consortia.peer.events import BlockEvent, CommitStatus

CHANNEL = "ch1"
CONTRACT = "asset-transfer"
PEER_ORGS = ("Org1", "Org2", "Org3")
POLICY = "AND('Org1.peer','Org2.peer')"
TIMEOUT = 20.0
CLOCK = "clock"
CLOCK_REFERENCE = f"{Path(__file__).resolve().parent / 'contracts' / 'clock.py'}:ClockContract"

World = dict[str, tuple[bytes, Version, str | None]]


# -- building transactions by hand -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Endorsed:
    """A signed proposal and its endorsing peers' responses, ready to be wrapped in an envelope."""

    client: SigningIdentity
    signed: bytes
    sent: dict[str, bytes]
    proposal: Proposal
    responses: tuple[ProposalResponse, ...]

    @property
    def tx_id(self) -> str:
        """The transaction id."""
        return self.proposal.tx_id

    @property
    def payload(self) -> bytes:
        """The response payload bytes the endorsers signed."""
        return self.responses[0].payload

    @property
    def endorsements(self) -> tuple[Endorsement, ...]:
        """The endorsers' signatures."""
        return tuple(response.endorsement for response in self.responses)

    def envelope(
        self,
        *,
        endorsements: Sequence[Endorsement] | None = None,
        response: bytes | None = None,
        signer: SigningIdentity | None = None,
    ) -> bytes:
        """The envelope bytes: the transaction signed by ``signer`` (by default the proposal's creator)."""
        transaction = encode(
            Transaction(
                proposal=encode(self.proposal),
                response=self.payload if response is None else response,
                endorsements=tuple(self.endorsements if endorsements is None else endorsements),
            )
        )
        return encode(Envelope(ENVELOPE_TRANSACTION, transaction, (signer or self.client).sign(transaction)))

    def written(self, key: str) -> bytes:
        """The value this transaction writes under ``key``."""
        rwset = decode(self.payload, ResponsePayload).rwset
        return next(write.value for ns in rwset.namespaces for write in ns.writes if write.key == key)


def endorse(
    network: EmbeddedNetwork,
    function: str,
    *args: Any,
    client: tuple[str, str] = ("Org1", "client"),
    endorsers: Sequence[str] = ("Org1", "Org2"),
    contract: str = CONTRACT,
) -> Endorsed:
    """Sign a proposal as ``client`` and have the peers of ``endorsers`` endorse it (they must agree)."""
    caught_up(network)
    identity = network.identity(*client)
    prepared = build_proposal(identity, CHANNEL, contract, function, list(args), None)
    signed, proposal, sent = prepared.signed, prepared.proposal, prepared.transient
    responses = tuple(network.peer(org).endorse(CHANNEL, signed, sent) for org in endorsers)
    assert all(response.payload == responses[0].payload for response in responses)
    return Endorsed(identity, signed, sent, proposal, responses)


def tx_id_of(envelope: bytes) -> str:
    """The transaction id inside an envelope."""
    transaction = decode(decode(envelope, Envelope).payload, Transaction)
    return decode(transaction.proposal, Proposal).tx_id


def solo(network: EmbeddedNetwork) -> SoloOrderer:
    """The network's solo ordering service (its identity signs hand-made blocks)."""
    orderer = network.orderer
    assert isinstance(orderer, SoloOrderer)
    return orderer


# -- committing and observing ----------------------------------------------------------------------------------


def caught_up(network: EmbeddedNetwork) -> None:
    """Wait until every ch1 peer committed what the orderer cut, and check they agree on the last header."""
    network.wait_for_height(CHANNEL, network.orderer.height(CHANNEL), timeout=TIMEOUT)
    channels = [network.peer(org).channel(CHANNEL) for org in PEER_ORGS]
    assert len({channel.height for channel in channels}) == 1
    assert len({encode(channel.ledger.last_header) for channel in channels}) == 1


def world(network: EmbeddedNetwork, namespace: str = CONTRACT) -> World:
    """Every key of a namespace with its value, version and key-level policy (identical on every peer)."""
    caught_up(network)
    views = []
    for org in PEER_ORGS:
        state = network.peer(org).channel(CHANNEL).ledger.state
        views.append(
            {
                key: (value.value, value.version, state.key_policy(namespace, key))
                for key, value in state.range(namespace, "", "")
            }
        )
    assert all(view == views[0] for view in views[1:])
    return views[0]


def positions(network: EmbeddedNetwork, tx_id: str) -> set[tuple[int, int, int] | None]:
    """Where each peer recorded a transaction id (block, index, code), as a set over peers."""
    return {network.peer(org).channel(CHANNEL).ledger.state.tx_position(tx_id) for org in PEER_ORGS}


def first_commit(channel: PeerChannel, tx_id: str) -> Future[CommitStatus]:
    """The first commit of ``tx_id`` on a peer: the recorded one if it already committed, else the next one."""
    waiter = channel.commit_waiter(tx_id)
    committed = channel.commit_status(tx_id)
    if committed is None:
        return waiter
    waiter.cancel()
    done: Future[CommitStatus] = Future()
    done.set_result(committed)
    return done


@dataclass(frozen=True)
class Placed:
    """Where one broadcast envelope landed, the code every peer gave it, and the detail its commit event gave."""

    block: int
    index: int
    code: Code
    detail: str


def order(network: EmbeddedNetwork, envelopes: Sequence[bytes]) -> list[Placed]:
    """Broadcast envelopes in order, wait until every peer committed them all, and say where each landed."""
    caught_up(network)
    home = network.peer("Org1").channel(CHANNEL)
    start = home.height
    tx_ids = list(dict.fromkeys(tx_id_of(envelope) for envelope in envelopes))
    waiters: dict[tuple[str, str], Future[CommitStatus]] = {
        (org, tx_id): first_commit(network.peer(org).channel(CHANNEL), tx_id) for org in PEER_ORGS for tx_id in tx_ids
    }
    for envelope in envelopes:
        network.orderer.broadcast(CHANNEL, envelope)
    height, counted = start, 0
    deadline = time.monotonic() + TIMEOUT
    while counted < len(envelopes):
        if home.height > height:
            counted += len(home.ledger.block(height).transactions)
            height += 1
        elif time.monotonic() > deadline:
            raise TimeoutError(f"only {counted} of {len(envelopes)} transactions committed")
        else:
            home.wait_for_height(height + 1, 0.05)
    assert counted == len(envelopes), "another transaction was ordered concurrently"
    network.wait_for_height(CHANNEL, height, timeout=TIMEOUT)
    views = []
    for org in PEER_ORGS:
        ledger = network.peer(org).channel(CHANNEL).ledger
        rows = []
        for number in range(start, height):
            record = ledger.record(number)
            block = decode(record.block, Block)
            assert len(record.codes) == len(block.transactions)
            rows += [
                (number, index, envelope, Code(code))
                for index, (envelope, code) in enumerate(zip(block.transactions, record.codes, strict=True))
            ]
        views.append(rows)
    assert all(view == views[0] for view in views[1:]), "peers disagree on the validation codes"
    assert [row[2] for row in views[0]] == list(envelopes), "the ordering service changed the order"
    statuses = {key: future.result(TIMEOUT) for key, future in waiters.items()}
    placed = []
    for number, index, envelope, code in views[0]:
        tx_id = tx_id_of(envelope)
        status = statuses[("Org1", tx_id)]
        detail = status.detail if (status.block, status.code) == (number, code) else ""
        placed.append(Placed(number, index, code, detail))
    for (org, tx_id), status in statuses.items():
        # A waiter reports the first commit of its id: the recorded one, or (for unrecorded codes) this one.
        recorded = network.peer(org).channel(CHANNEL).ledger.state.tx_position(tx_id)
        first = next(p for p, row in zip(placed, views[0], strict=True) if tx_id_of(row[2]) == tx_id)
        expected = (recorded[0], recorded[2]) if recorded else (first.block, int(first.code))
        assert (status.block, status.code) == expected
    return placed


def deliver_directly(network: EmbeddedNetwork, envelopes: Sequence[bytes]) -> list[BlockEvent]:
    """Cut the next block of ``envelopes`` ourselves, signed by the orderer, and hand it to every ch1 peer.

    The ordering service is left idle, so this block is the peers' next block; a test that uses it must not
    broadcast afterwards (the ordering service's own next block would then fork from the peers' chain).
    """
    caught_up(network)
    ledger = network.peer("Org1").channel(CHANNEL).ledger
    last = ledger.last_header
    assert last is not None
    block, _ = make_block(
        CHANNEL,
        last.number + 1,
        last,
        ledger.history_range(),
        list(envelopes),
        solo(network).identity,
        max(int(time.time() * 1000), last.timestamp_ms),
    )
    block_bytes = encode(block)
    events = [network.peer(org).channel(CHANNEL).receive_block(block_bytes) for org in PEER_ORGS]
    codes = [tuple(outcome.code for outcome in event.transactions) for event in events]
    assert all(row == codes[0] for row in codes[1:]), "peers disagree on the validation codes"
    for org in PEER_ORGS:
        record = network.peer(org).channel(CHANNEL).ledger.record(block.header.number)
        assert record.codes == bytes(int(code) for code in codes[0])
    return events


def codes(event: BlockEvent) -> list[Code]:
    """The validation codes of a block event."""
    return [outcome.code for outcome in event.transactions]


def gateway_contract(network: EmbeddedNetwork, org: str = "Org1", contract: str = CONTRACT) -> Contract:
    """A gateway contract handle for ``org``'s client on ch1."""
    return network.gateway(org).network(CHANNEL).contract(contract)


# -- 1. forged client signature --------------------------------------------------------------------------------


def _forge(endorsed: Endorsed, network: EmbeddedNetwork, forgery: str) -> bytes:
    if forgery == "other-client-key":
        return endorsed.envelope(signer=network.identity("Org2", "client"))
    if forgery == "same-org-other-key":
        return endorsed.envelope(signer=network.identity("Org1", "auditor"))
    genuine = decode(endorsed.envelope(), Envelope)
    tampered = bytes([genuine.signature[0] ^ 0x01]) + genuine.signature[1:]
    return encode(Envelope(genuine.kind, genuine.payload, tampered))


@pytest.mark.parametrize("forgery", ["other-client-key", "same-org-other-key", "flipped-bit"])
def test_forged_client_signature_is_refused_by_orderer_and_peers(network: EmbeddedNetwork, forgery: str) -> None:
    """An envelope not signed by its creator is refused by the orderer (403) and, delivered anyway, BAD_SIGNATURE."""
    endorsed = endorse(network, "create", "forged", "red", 1, 100)
    genuine = endorsed.envelope()
    forged = _forge(endorsed, network, forgery)
    assert forged != genuine
    height = network.orderer.height(CHANNEL)
    before = world(network)

    with pytest.raises(OrderingError) as refused:
        network.orderer.broadcast(CHANNEL, forged)
    assert refused.value.status == 403
    assert "signature" in refused.value.message
    assert network.orderer.height(CHANNEL) == height

    # Peers do not rely on the orderer: the same envelope in a properly signed block is judged on its own.
    event = deliver_directly(network, [forged])[0]
    assert codes(event) == [Code.BAD_SIGNATURE]
    assert "signature" in event.transactions[0].detail
    assert world(network) == before
    assert positions(network, endorsed.tx_id) == {None}, "a forged envelope must not use up the transaction id"

    # The genuine envelope of the same transaction is still valid afterwards.
    event = deliver_directly(network, [genuine])[0]
    assert codes(event) == [Code.VALID]
    asset = world(network)["asset:forged"]
    assert parse_json(asset[0])["owner"] == "Org1"
    assert positions(network, endorsed.tx_id) == {(event.number, 0, Code.VALID)}


def test_forged_copy_does_not_shadow_genuine_copy_in_the_same_block(network: EmbeddedNetwork) -> None:
    """A forged copy ahead of the genuine envelope in one block is BAD_SIGNATURE; the genuine one stays VALID."""
    endorsed = endorse(network, "create", "shadow", "red", 1, 100)
    forged = endorsed.envelope(signer=network.identity("Org2", "client"))
    [event, *_] = deliver_directly(network, [forged, endorsed.envelope()])
    assert codes(event) == [Code.BAD_SIGNATURE, Code.VALID]
    assert positions(network, endorsed.tx_id) == {(event.number, 1, Code.VALID)}


def test_client_of_a_non_member_organisation_is_refused(network: EmbeddedNetwork) -> None:
    """A creator certified by a CA that is not on the channel: no endorsement, orderer 403, peers NOT_A_MEMBER."""
    outsider = CertificateAuthority.create("Org9").issue("client", Kind.CLIENT)
    prepared = build_proposal(outsider, CHANNEL, CONTRACT, "create", ["intruder", "red", 1, 1], None)
    signed, proposal, sent = prepared.signed, prepared.proposal, prepared.transient
    with pytest.raises(EndorsementError) as refused:
        network.peer("Org1").endorse(CHANNEL, signed, sent)
    assert refused.value.code == "NOT_A_MEMBER"

    # Borrow a member's genuine endorsements and sign the envelope with the outsider's own (valid) key.
    donor = endorse(network, "create", "intruder", "red", 1, 1)
    transaction = encode(Transaction(encode(proposal), donor.payload, donor.endorsements))
    envelope = encode(Envelope(ENVELOPE_TRANSACTION, transaction, outsider.sign(transaction)))
    before = world(network)
    with pytest.raises(OrderingError) as rejected:
        network.orderer.broadcast(CHANNEL, envelope)
    assert rejected.value.status == 403
    [event, *_] = deliver_directly(network, [envelope])
    assert codes(event) == [Code.NOT_A_MEMBER]
    assert world(network) == before
    assert positions(network, proposal.tx_id) == {None}


# -- 2. endorsement from a non-member organisation -------------------------------------------------------------


@pytest.mark.parametrize("impostor_org", ["Org9", "Org2"], ids=["unknown-org", "rogue-ca-named-Org2"])
def test_endorsement_from_non_member_organisation(network: EmbeddedNetwork, impostor_org: str) -> None:
    """Org2's endorsement replaced by a peer certified by a CA not on the channel → ENDORSEMENT_POLICY_FAILURE."""
    endorsed = endorse(network, "create", "n1", "blue", 5, 50)
    impostor = CertificateAuthority.create(impostor_org).issue("peer0", Kind.PEER)
    assert impostor.org == impostor_org
    forged = Endorsement(impostor.certificate_der, impostor.sign(endorsed.payload))
    envelope = endorsed.envelope(endorsements=[endorsed.responses[0].endorsement, forged])
    before = world(network)

    [placed] = order(network, [envelope])

    assert placed.code == Code.ENDORSEMENT_POLICY_FAILURE
    assert "endorsed by Org1)" in placed.detail, placed.detail
    assert world(network) == before
    assert positions(network, endorsed.tx_id) == {(placed.block, placed.index, Code.ENDORSEMENT_POLICY_FAILURE)}


# -- 3. policy not met -----------------------------------------------------------------------------------------


def _second_org1_peer(network: EmbeddedNetwork) -> SigningIdentity:
    ca = CertificateAuthority.load(crypto_dir(network.directory, "Org1") / "ca")
    return ca.issue("peer1", Kind.PEER)


@pytest.mark.parametrize(
    ("shape", "orgs"),
    [
        ("Org1 only", "Org1"),
        ("Org1 twice", "Org1"),
        ("Org1 and a second Org1 peer", "Org1"),
        ("Org1 and Org3", "Org1, Org3"),
    ],
)
def test_policy_not_met(network: EmbeddedNetwork, shape: str, orgs: str) -> None:
    """Endorsements that do not satisfy AND(Org1, Org2) → ENDORSEMENT_POLICY_FAILURE, nothing written."""
    endorsers = ("Org1", "Org3") if shape == "Org1 and Org3" else ("Org1",)
    endorsed = endorse(network, "create", "p1", "green", 2, 20, endorsers=endorsers)
    endorsements = list(endorsed.endorsements)
    if shape == "Org1 twice":
        endorsements *= 2
    if shape == "Org1 and a second Org1 peer":
        peer1 = _second_org1_peer(network)
        endorsements.append(Endorsement(peer1.certificate_der, peer1.sign(endorsed.payload)))
    before = world(network)

    [placed] = order(network, [endorsed.envelope(endorsements=endorsements)])

    assert placed.code == Code.ENDORSEMENT_POLICY_FAILURE
    assert f"endorsed by {orgs})" in placed.detail, placed.detail
    assert world(network) == before
    assert positions(network, endorsed.tx_id) == {(placed.block, placed.index, Code.ENDORSEMENT_POLICY_FAILURE)}


def test_response_altered_after_endorsement(network: EmbeddedNetwork) -> None:
    """A client that rewrites the endorsed write set invalidates every endorsement → ENDORSEMENT_POLICY_FAILURE."""
    endorsed = endorse(network, "create", "altered", "red", 1, 10)
    payload = decode(endorsed.payload, ResponsePayload)
    [namespace] = payload.rwset.namespaces
    [write] = namespace.writes
    asset = parse_json(write.value)
    asset["value"] = 1_000_000
    altered_write = msgspec.structs.replace(write, value=canonical_json(asset))
    altered = msgspec.structs.replace(
        payload,
        rwset=msgspec.structs.replace(
            payload.rwset, namespaces=(msgspec.structs.replace(namespace, writes=(altered_write,)),)
        ),
    )
    before = world(network)

    [placed] = order(network, [endorsed.envelope(response=encode(altered))])

    assert placed.code == Code.ENDORSEMENT_POLICY_FAILURE
    assert "endorsed by nobody" in placed.detail, placed.detail
    assert world(network) == before


def test_key_level_policy(network: EmbeddedNetwork) -> None:
    """A key protected by AND(Org2, Org3) refuses writes endorsed by Org1+Org2 and accepts them with Org3."""
    contract = gateway_contract(network)
    contract.submit("create", "k1", "gold", 1, 1000)
    key_policy = "AND('Org2.peer','Org3.peer')"
    contract.submit("protect", "k1", key_policy)
    state = world(network)
    assert state["asset:k1"][2] == key_policy

    # Org1 + Org2 satisfy the contract's policy but not the key's.
    refused = endorse(network, "touch", "k1")
    [placed] = order(network, [refused.envelope()])
    assert placed.code == Code.ENDORSEMENT_POLICY_FAILURE
    assert "key-level policy" in placed.detail and "asset:k1" in placed.detail, placed.detail
    assert world(network) == state

    # Nor may they lift the key's policy.
    lifted = endorse(network, "protect", "k1", "OR('Org1.peer')")
    [placed] = order(network, [lifted.envelope()])
    assert placed.code == Code.ENDORSEMENT_POLICY_FAILURE
    assert world(network) == state

    # With Org3's endorsement too, the write is valid.
    accepted = endorse(network, "touch", "k1", endorsers=("Org1", "Org2", "Org3"))
    [placed] = order(network, [accepted.envelope()])
    assert placed.code == Code.VALID
    after = world(network)
    assert parse_json(after["asset:k1"][0])["touches"] == 1
    assert after["asset:k1"][1:] == (Version(placed.block, placed.index), key_policy)

    # The key's policy replaces the contract's for that key: Org2 + Org3 alone suffice.
    key_only = endorse(network, "touch", "k1", endorsers=("Org2", "Org3"))
    [placed] = order(network, [key_only.envelope()])
    assert placed.code == Code.VALID
    assert parse_json(world(network)["asset:k1"][0])["touches"] == 2


# -- 4. replayed transaction id --------------------------------------------------------------------------------


def test_replayed_envelope_in_a_later_block(network: EmbeddedNetwork) -> None:
    """The ordering service accepts a replay, but every peer marks it DUPLICATE_TXID and changes nothing."""
    # count_range reads an empty range and blindly writes a summary: replayed, it would pass MVCC, so only the
    # duplicate check can stop it.
    endorsed = endorse(network, "count_range", "q", "r")
    envelope = endorsed.envelope()
    [first] = order(network, [envelope])
    assert first.code == Code.VALID
    after_first = world(network)
    assert after_first["count:last"][1] == Version(first.block, first.index)

    [replay] = order(network, [envelope])

    assert replay.code == Code.DUPLICATE_TXID
    assert replay.block > first.block
    assert world(network) == after_first
    assert positions(network, endorsed.tx_id) == {(first.block, first.index, Code.VALID)}
    # Endorsers refuse the committed proposal too.
    with pytest.raises(EndorsementError) as refused:
        network.peer("Org2").endorse(CHANNEL, endorsed.signed, endorsed.sent)
    assert refused.value.code == "DUPLICATE_TXID"


def test_same_envelope_twice_in_one_block(network: EmbeddedNetwork) -> None:
    """Two copies of one envelope in one block: the first VALID, the second DUPLICATE_TXID."""
    endorsed = endorse(network, "count_range", "q", "r")
    envelope = endorsed.envelope()
    before = world(network)
    [event, *_] = deliver_directly(network, [envelope, envelope])
    assert codes(event) == [Code.VALID, Code.DUPLICATE_TXID]
    after = world(network)
    assert set(after) - set(before) == {"count:last"}
    assert after["count:last"][1] == Version(event.number, 0)
    assert positions(network, endorsed.tx_id) == {(event.number, 0, Code.VALID)}


def test_same_envelope_broadcast_twice(network: EmbeddedNetwork) -> None:
    """Broadcast twice back to back (one block or two): first VALID, second DUPLICATE_TXID."""
    endorsed = endorse(network, "count_range", "q", "r")
    envelope = endorsed.envelope()
    first, second = order(network, [envelope, envelope])
    assert (first.code, second.code) == (Code.VALID, Code.DUPLICATE_TXID)
    assert world(network)["count:last"][1] == Version(first.block, first.index)


# -- 5. two transactions in one block reading the same key -----------------------------------------------------


def _two_touches(network: EmbeddedNetwork) -> tuple[Endorsed, Endorsed, World]:
    gateway_contract(network).submit("create", "m1", "white", 3, 30)
    first = endorse(network, "touch", "m1")
    second = endorse(network, "touch", "m1", client=("Org2", "client"))
    return first, second, world(network)


def _check_first_touch_only(network: EmbeddedNetwork, first: Endorsed, before: World, block: int, index: int) -> None:
    after = world(network)
    assert after["asset:m1"] == (first.written("asset:m1"), Version(block, index), None)
    assert parse_json(after["asset:m1"][0])["touches"] == 1
    del after["asset:m1"], before["asset:m1"]
    assert after == before


def test_two_reads_of_one_key_in_one_block(network: EmbeddedNetwork) -> None:
    """Two touches endorsed on the same state, in one block: first VALID, second MVCC_READ_CONFLICT."""
    first, second, before = _two_touches(network)
    [event, *_] = deliver_directly(network, [first.envelope(), second.envelope()])
    assert codes(event) == [Code.VALID, Code.MVCC_READ_CONFLICT]
    assert "asset:m1" in event.transactions[1].detail
    _check_first_touch_only(network, first, before, event.number, 0)
    assert positions(network, second.tx_id) == {(event.number, 1, Code.MVCC_READ_CONFLICT)}


def test_two_reads_of_one_key_through_the_orderer(network: EmbeddedNetwork) -> None:
    """The same pair broadcast back to back: first VALID, second MVCC_READ_CONFLICT (same block or not)."""
    first, second, before = _two_touches(network)
    one, two = order(network, [first.envelope(), second.envelope()])
    assert (one.code, two.code) == (Code.VALID, Code.MVCC_READ_CONFLICT)
    assert "asset:m1" in two.detail
    _check_first_touch_only(network, first, before, one.block, one.index)


class HeldOrderer(OrderingService):
    """An ordering service that holds broadcasts until released, so that endorsements all see the same state."""

    def __init__(self, inner: OrderingService) -> None:
        self.inner = inner
        self.held: list[tuple[str, bytes]] = []

    def broadcast(self, channel: str, envelope: bytes) -> None:
        """Hold an envelope."""
        self.held.append((channel, envelope))

    def release(self) -> None:
        """Broadcast every held envelope, in order."""
        held, self.held = self.held, []
        for channel, envelope in held:
            self.inner.broadcast(channel, envelope)

    def deliver(self, channel: str, start: int, stop: threading.Event | None = None) -> Iterator[bytes]:
        """Delegate."""
        return self.inner.deliver(channel, start, stop)

    def height(self, channel: str) -> int:
        """Delegate."""
        return self.inner.height(channel)

    def close(self) -> None:
        """Nothing to close: the inner service belongs to the network."""


class HeldConnection:
    """The embedded network as a gateway connection, with broadcasts held back."""

    def __init__(self, network: EmbeddedNetwork) -> None:
        self.network = network
        self.orderer = HeldOrderer(network.orderer)

    def peer_channel(self, org: str, channel: str) -> PeerChannel:
        """The peer of ``org`` on ``channel``."""
        return self.network.peer_channel(org, channel)

    def channel_orgs(self, channel: str) -> Sequence[str]:
        """Member organisations of ``channel``."""
        return self.network.channel_orgs(channel)

    def broadcast(self, channel: str, envelope: bytes) -> None:
        """Hold the envelope back until released."""
        self.orderer.broadcast(channel, envelope)


def test_gateway_raises_transaction_invalid_for_a_conflicting_pair(network: EmbeddedNetwork) -> None:
    """Two submit_async touches of one key: the first commits, the second raises TransactionInvalid(MVCC)."""
    gateway_contract(network).submit("create", "g1", "black", 1, 1)
    caught_up(network)
    connection = HeldConnection(network)
    contract = Gateway(network.identity("Org1"), connection).network(CHANNEL).contract(CONTRACT)
    first = contract.submit_async("touch", "g1")
    second = contract.submit_async("touch", "g1")
    assert len(connection.orderer.held) == 2
    connection.orderer.release()

    committed = first.result(TIMEOUT)
    assert committed.code == "VALID" and committed.result == 1
    with pytest.raises(TransactionInvalid) as invalid:
        second.result(TIMEOUT)
    error = invalid.value
    assert error.code == "MVCC_READ_CONFLICT"
    assert error.block >= committed.block
    assert error.tx_id is not None
    caught_up(network)
    [position] = positions(network, error.tx_id)
    assert position is not None and (position[0], position[2]) == (error.block, Code.MVCC_READ_CONFLICT)
    asset = world(network)["asset:g1"]
    assert parse_json(asset[0])["touches"] == 1
    assert asset[1].block == committed.block


# -- 6. phantom in a range query -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("insert inside", Code.PHANTOM_READ_CONFLICT),
        ("update inside", Code.PHANTOM_READ_CONFLICT),
        ("delete inside", Code.PHANTOM_READ_CONFLICT),
        ("insert outside", Code.VALID),
    ],
    ids=["insert-inside", "update-inside", "delete-inside", "insert-outside"],
)
def test_phantom_in_a_range_query(network: EmbeddedNetwork, change: str, expected: Code) -> None:
    """count_range over [a, z) endorsed, then the range changes before it commits → PHANTOM_READ_CONFLICT."""
    contract = gateway_contract(network)
    contract.submit("create", "c", "red", 1, 1)
    counted = endorse(network, "count_range", "a", "z")
    assert parse_json(decode(counted.payload, ResponsePayload).response.payload) == 1
    if change == "insert inside":
        contract.submit("create", "m", "blue", 1, 1)
    elif change == "update inside":
        contract.submit("touch", "c")
    elif change == "delete inside":
        contract.submit("delete", "c")
    else:
        contract.submit("create", "zz", "blue", 1, 1)
    before = world(network)

    [placed] = order(network, [counted.envelope()])

    assert placed.code == expected
    after = world(network)
    if expected == Code.VALID:
        assert parse_json(after.pop("count:last")[0]) == {"start": "a", "end": "z", "count": 1}
    else:
        assert "range" in placed.detail, placed.detail
    assert after == before


def test_phantom_from_an_earlier_transaction_of_the_same_block(network: EmbeddedNetwork) -> None:
    """A create and a range count endorsed on the same state, in one block: the count is a PHANTOM_READ_CONFLICT."""
    created = endorse(network, "create", "m", "blue", 1, 1)
    counted = endorse(network, "count_range", "a", "z")
    before = world(network)
    [event, *_] = deliver_directly(network, [created.envelope(), counted.envelope()])
    assert codes(event) == [Code.VALID, Code.PHANTOM_READ_CONFLICT]
    after = world(network)
    assert set(after) - set(before) == {"asset:m"}
    assert "count:last" not in after


# -- 7. a contract that reads the clock ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clock_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNetwork]:
    """A network with the clock test contract committed on ch1 under AND(Org1, Org2)."""
    net = EmbeddedNetwork.create(tmp_path_factory.mktemp("clock") / "net", three_org_spec())
    try:
        net.deploy(CHANNEL, CLOCK_REFERENCE, policy=POLICY)
        yield net
    finally:
        net.close()


_ESCAPE = "the determinism guard does not cover {}: the call runs and endorsers disagree (ENDORSEMENT_MISMATCH)"


@pytest.mark.parametrize(
    ("function", "call", "advice"),
    [
        ("wall_time", "time.time()", "ctx.timestamp"),
        ("monotonic", "time.monotonic()", "ctx.timestamp"),
        ("now", "datetime.now()", "ctx.timestamp"),
        ("today", "date.today()", "ctx.timestamp"),
        ("gmtime", "time.gmtime()", "ctx.timestamp"),
        ("strftime", "time.strftime()", "ctx.timestamp"),
        ("rand", "random.random()", "ctx.tx_id"),
        ("randint", "random.randint()", "ctx.tx_id"),
        ("token", "secrets.token_hex()", "ctx.tx_id"),
        ("new_uuid", "uuid.uuid4()", "ctx.tx_id"),
        ("urandom", "os.urandom", None),
        ("read_file", "open()", "files or the network"),
        ("connect", "socket.socket", "files or the network"),
        pytest.param(
            "clock_gettime",
            "time.clock_gettime",
            "ctx.timestamp",
        ),
        pytest.param(
            "system_random",
            "SystemRandom",
            "ctx.tx_id",
        ),
        pytest.param(
            "unseeded_generator",
            "random.Random()",
            "ctx.tx_id",
        ),
    ],
)
def test_contract_reading_the_clock_is_refused(
    clock_network: EmbeddedNetwork, function: str, call: str, advice: str | None
) -> None:
    """A nondeterministic call fails endorsement with NONDETERMINISTIC_CONTRACT, naming it; nothing is ordered."""
    network = clock_network
    caught_up(network)
    height = network.orderer.height(CHANNEL)
    before = world(network, CLOCK)

    with pytest.raises(EndorsementFailed) as refused:
        gateway_contract(network, contract=CLOCK).submit(function)

    error = refused.value
    assert error.code == "NONDETERMINISTIC_CONTRACT", error.message
    assert f"called {call}" in error.message
    assert "; " in error.message.partition(f"called {call}")[2], "the message should say what to do instead"
    if advice is not None:
        assert advice in error.message
    assert "'clock' is not deterministic" in error.message
    assert network.orderer.height(CHANNEL) == height
    assert world(network, CLOCK) == before
    assert error.tx_id is not None and positions(network, error.tx_id) == {None}


def test_contract_using_ctx_timestamp_is_deterministic(clock_network: EmbeddedNetwork) -> None:
    """The same contract's functions using ctx.timestamp and a tx_id-seeded generator commit on every peer."""
    network = clock_network
    contract = gateway_contract(network, contract=CLOCK)
    stamped = contract.submit("stamp")
    value = stamped.result
    caught_up(network)
    assert parse_json(world(network, CLOCK)["stamp"][0]) == value
    assert value["tx_id"] == stamped.tx_id
    # The stamp is the proposal's timestamp as the ledger holds it.
    position = network.peer("Org3").channel(CHANNEL).ledger.state.tx_position(stamped.tx_id)
    assert position is not None and position[2] == Code.VALID
    envelope = network.peer("Org3").channel(CHANNEL).ledger.block(position[0]).transactions[position[1]]
    proposal = decode(decode(decode(envelope, Envelope).payload, Transaction).proposal, Proposal)
    assert value["ms"] == proposal.timestamp_ms
    assert value["at"] == datetime.fromtimestamp(proposal.timestamp_ms / 1000, tz=UTC).isoformat()

    drawn = contract.submit("lucky")
    assert drawn.result == random.Random(drawn.tx_id).random()
    # The guard is scoped to contract calls: the test's own thread keeps its clock.
    assert time.time() > 0
