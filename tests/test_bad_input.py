"""Bad input: malformed envelopes, proposals, blocks and CLI arguments get clear errors and lose nothing stored."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from consortia.client import build_proposal
from consortia.contracts.lifecycle import LIFECYCLE, approval_key
from consortia.identity import CertificateAuthority, Kind, SigningIdentity
from consortia.ledger.block import Block, BlockHeader, header_signing_bytes
from consortia.ledger.codes import Code
from consortia.ledger.encoding import canonical_json, decode, encode
from consortia.ledger.rwset import KVWrite, RWSet
from consortia.ledger.transaction import (
    ENVELOPE_CONFIG,
    ENVELOPE_TRANSACTION,
    Endorsement,
    Envelope,
    Proposal,
    ResponsePayload,
    SignedProposal,
    Transaction,
    compute_tx_id,
    make_nonce,
    transient_hash,
)
from consortia.network.bootstrap import create_network, genesis_path, orderer_dir, peer_dir, user_dir
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec
from consortia.ordering.base import OrderingError
from consortia.ordering.solo import make_block
from consortia.peer.channel import BlockRejected
from consortia.peer.endorser import EndorsementError
from consortia.peer.peer import Peer

SRC = Path(__file__).resolve().parents[1] / "src"
CONTRACT = "asset-transfer"

# -- helpers -------------------------------------------------------------------------------------------------


def _wide_array(data: bytes) -> bytes:
    """Re-encode a MessagePack fixarray header as array16: the same value in a non-canonical form."""
    assert 0x90 <= data[0] <= 0x9F, "expected a fixarray"
    return bytes([0xDC, 0x00, data[0] & 0x0F]) + data[1:]


def _endorsed(
    net: EmbeddedNetwork,
    function: str,
    *args: Any,
    org: str = "Org1",
    user: str = "client",
    endorsers: tuple[str, ...] = ("Org1", "Org2"),
    contract: str = CONTRACT,
) -> tuple[bytes, Proposal, bytes]:
    """Endorse a call on ch1 and return (envelope, proposal, transaction bytes) without broadcasting it."""
    identity = net.identity(org, user)
    prepared = build_proposal(identity, "ch1", contract, function, args, None)
    signed, proposal, sent = prepared.signed, prepared.proposal, prepared.transient
    responses = [net.peer(o).endorse("ch1", signed, sent) for o in endorsers]
    transaction = encode(Transaction(encode(proposal), responses[0].payload, tuple(r.endorsement for r in responses)))
    envelope = encode(Envelope(ENVELOPE_TRANSACTION, transaction, identity.sign(transaction)))
    return envelope, proposal, transaction


def _envelope_for(identity: SigningIdentity, proposal_bytes: bytes, response: bytes = b"") -> bytes:
    """Wrap proposal bytes (possibly crafted) in a transaction signed by ``identity``."""
    transaction = encode(Transaction(proposal_bytes, response, ()))
    return encode(Envelope(ENVELOPE_TRANSACTION, transaction, identity.sign(transaction)))


def _proposal(identity: SigningIdentity, **changes: Any) -> Proposal:
    """A well-formed proposal by ``identity`` for asset-transfer.read on ch1, with fields overridden."""
    nonce = make_nonce()
    proposal = Proposal(
        channel="ch1",
        contract=CONTRACT,
        function="read",
        args=(canonical_json("a1").decode(),),
        transient_hash=bytes(32),
        nonce=nonce,
        creator=identity.certificate_der,
        timestamp_ms=int(time.time() * 1000),
        tx_id=compute_tx_id(nonce, identity.certificate_der),
    )
    return msgspec.structs.replace(proposal, **changes)


def _signed(identity: SigningIdentity, proposal: Proposal, signer: SigningIdentity | None = None) -> bytes:
    """Encode and sign a proposal (by ``signer`` if given, else its creator)."""
    proposal_bytes = encode(proposal)
    return encode(SignedProposal(proposal_bytes, (signer or identity).sign(proposal_bytes)))


def _state_rows(net: EmbeddedNetwork, channel: str = "ch1") -> dict[str, tuple[int, list[Any]]]:
    """Each channel peer's committed height and every state row."""
    return {
        org: (net.peer(org).channel(channel).height, list(net.peer(org).channel(channel).ledger.state.digest_rows()))
        for org in net.channel_orgs(channel)
    }


def _stranger(org: str = "Org1", kind: Kind = Kind.CLIENT, name: str = "mallory") -> SigningIdentity:
    """An identity issued by a CA that is not the channel's CA (even if it uses a member's name)."""
    return CertificateAuthority.create(org).issue(name, kind)


def _flip_last(data: bytes) -> bytes:
    """Flip one bit of the last byte."""
    return data[:-1] + bytes([data[-1] ^ 0x01])


# -- the orderer's broadcast ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadEnvelope:
    """A broadcast the orderer must refuse: channel, envelope, expected status and message fragment."""

    channel: str
    envelope: bytes
    status: int
    fragment: str


def _garbage(net: EmbeddedNetwork) -> BadEnvelope:
    return BadEnvelope("ch1", b"\x00garbage\xff" * 7, 400, "malformed envelope")


def _empty(net: EmbeddedNetwork) -> BadEnvelope:
    return BadEnvelope("ch1", b"", 400, "malformed envelope")


def _truncated(net: EmbeddedNetwork) -> BadEnvelope:
    envelope, _, _ = _endorsed(net, "create", "t1", "red", 1, 1)
    return BadEnvelope("ch1", envelope[:-3], 400, "truncated")


def _extended(net: EmbeddedNetwork) -> BadEnvelope:
    envelope, _, _ = _endorsed(net, "create", "t1", "red", 1, 1)
    return BadEnvelope("ch1", envelope + b"\x00", 400, "trailing")


def _wide_int_kind(net: EmbeddedNetwork) -> BadEnvelope:
    envelope, _, _ = _endorsed(net, "create", "t1", "red", 1, 1)
    assert envelope[:2] == b"\x93\x00"  # fixarray(3), kind 0 as a positive fixint
    return BadEnvelope("ch1", b"\x93\xcc\x00" + envelope[2:], 400, "not canonically encoded")


def _wide_transaction(net: EmbeddedNetwork) -> BadEnvelope:
    identity = net.identity("Org1")
    _, _, transaction = _endorsed(net, "create", "t1", "red", 1, 1)
    wide = _wide_array(transaction)
    assert decode(wide, Transaction) == decode(transaction, Transaction)
    envelope = encode(Envelope(ENVELOPE_TRANSACTION, wide, identity.sign(wide)))
    return BadEnvelope("ch1", envelope, 400, "Transaction is not canonically encoded")


def _wide_proposal(net: EmbeddedNetwork) -> BadEnvelope:
    identity = net.identity("Org1")
    return BadEnvelope(
        "ch1", _envelope_for(identity, _wide_array(encode(_proposal(identity)))), 400, "Proposal is not canonically"
    )


def _wrong_channel(net: EmbeddedNetwork) -> BadEnvelope:
    envelope, _, _ = _endorsed(net, "create", "t1", "red", 1, 1)
    return BadEnvelope("ch2", envelope, 400, "envelope is for channel 'ch1', not 'ch2'")


def _unknown_channel(net: EmbeddedNetwork) -> BadEnvelope:
    envelope, _, _ = _endorsed(net, "create", "t1", "red", 1, 1)
    return BadEnvelope("no-such-channel", envelope, 404, "does not serve channel 'no-such-channel'")


def _config_kind(net: EmbeddedNetwork) -> BadEnvelope:
    identity = net.identity("Org1", "admin")
    genesis = decode(genesis_path(net.directory, "ch1").read_bytes(), Block)
    config_payload = decode(genesis.transactions[0], Envelope).payload
    envelope = encode(Envelope(ENVELOPE_CONFIG, config_payload, identity.sign(config_payload)))
    # A configuration envelope is a configuration update (issue 14): the genesis configuration sent again is a
    # stale version, refused as such.
    return BadEnvelope("ch1", envelope, 400, "version 0 is in force, so the next is 1")


def _oversized(net: EmbeddedNetwork) -> BadEnvelope:
    identity = net.identity("Org1")
    limit = net.orderer._chain("ch1").config.orderer.batch.max_bytes
    transaction = encode(Transaction(encode(_proposal(identity)), b"x" * limit, ()))
    envelope = encode(Envelope(ENVELOPE_TRANSACTION, transaction, identity.sign(transaction)))
    return BadEnvelope("ch1", envelope, 413, "exceeds the channel's block size limit")


def _bad_signature(net: EmbeddedNetwork) -> BadEnvelope:
    envelope, _, _ = _endorsed(net, "create", "t1", "red", 1, 1)
    return BadEnvelope("ch1", _flip_last(envelope), 403, "signature over the envelope does not verify")


def _signed_by_other_member(net: EmbeddedNetwork) -> BadEnvelope:
    _, _, transaction = _endorsed(net, "create", "t1", "red", 1, 1)
    envelope = encode(Envelope(ENVELOPE_TRANSACTION, transaction, net.identity("Org2").sign(transaction)))
    return BadEnvelope("ch1", envelope, 403, "signature over the envelope does not verify")


def _foreign_submitter(net: EmbeddedNetwork) -> BadEnvelope:
    mallory = _stranger()
    return BadEnvelope("ch1", _envelope_for(mallory, encode(_proposal(mallory))), 403, "submitter:")


def _peer_submitter(net: EmbeddedNetwork) -> BadEnvelope:
    peer = net.peer("Org1").identity
    return BadEnvelope("ch1", _envelope_for(peer, encode(_proposal(peer))), 403, "submitter:")


def _garbage_creator(net: EmbeddedNetwork) -> BadEnvelope:
    identity = net.identity("Org1")
    proposal = _proposal(identity, creator=b"not a certificate")
    return BadEnvelope("ch1", _envelope_for(identity, encode(proposal)), 403, "submitter:")


BAD_ENVELOPES: dict[str, Callable[[EmbeddedNetwork], BadEnvelope]] = {
    "garbage": _garbage,
    "empty": _empty,
    "truncated": _truncated,
    "extended": _extended,
    "wide-int-kind": _wide_int_kind,
    "wide-transaction": _wide_transaction,
    "wide-proposal": _wide_proposal,
    "wrong-channel": _wrong_channel,
    "unknown-channel": _unknown_channel,
    "config-kind": _config_kind,
    "oversized": _oversized,
    "bad-signature": _bad_signature,
    "signed-by-other-member": _signed_by_other_member,
    "foreign-submitter": _foreign_submitter,
    "peer-submitter": _peer_submitter,
    "garbage-creator": _garbage_creator,
}


@pytest.mark.parametrize("case", sorted(BAD_ENVELOPES))
def test_broadcast_refuses_bad_envelope(network: EmbeddedNetwork, case: str) -> None:
    """A bad envelope is refused with a status and a message; nothing is ordered; the network keeps working."""
    bad = BAD_ENVELOPES[case](network)
    heights = {channel: network.orderer.height(channel) for channel in ("ch1", "ch2")}
    before = _state_rows(network)
    with pytest.raises(OrderingError) as info:
        network.orderer.broadcast(bad.channel, bad.envelope)
    assert info.value.status == bad.status, info.value.message
    assert bad.fragment in info.value.message
    assert str(info.value) == info.value.message
    assert {channel: network.orderer.height(channel) for channel in ("ch1", "ch2")} == heights
    assert _state_rows(network) == before

    # A normal transaction still goes through, alone in its block: nothing of the bad envelope was queued.
    good, proposal, _ = _endorsed(network, "create", "after", "blue", 2, 3)
    waiter = network.peer("Org1").channel("ch1").commit_waiter(proposal.tx_id)
    network.orderer.broadcast("ch1", good)
    status = waiter.result(timeout=30)
    assert status.code == Code.VALID
    assert network.orderer.height("ch1") == heights["ch1"] + 1
    assert network.orderer.height("ch2") == heights["ch2"]
    block = decode(network.orderer.block("ch1", status.block), Block)
    assert block.transactions == (good,)
    network.wait_for_height("ch1", heights["ch1"] + 1)
    for org, (height, rows) in _state_rows(network).items():
        assert height == before[org][0] + 1
        assert set(before[org][1]) <= set(rows)


def test_broadcast_rejections_leave_nothing_behind(network: EmbeddedNetwork) -> None:
    """Every bad envelope in a row, then a good one: all refused, the good one commits alone, state intact."""
    heights = network.orderer.height("ch1")
    before = _state_rows(network)
    for name, build in BAD_ENVELOPES.items():
        bad = build(network)
        with pytest.raises(OrderingError):
            network.orderer.broadcast(bad.channel, bad.envelope)
        assert network.orderer.height("ch1") == heights, name
    result = network.gateway("Org2").network("ch1").contract(CONTRACT).submit("create", "ok", "red", 1, 1)
    assert result.block == heights
    assert len(decode(network.orderer.block("ch1", result.block), Block).transactions) == 1
    for org, (_, rows) in _state_rows(network).items():
        assert set(before[org][1]) <= set(rows)


# -- endorsement -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadProposal:
    """A proposal the Org1 peer must refuse: channel, signed bytes, transient map, code and message fragment."""

    channel: str
    signed: bytes
    transient: dict[str, bytes] | None
    code: str
    fragments: tuple[str, ...]


def _p_garbage(net: EmbeddedNetwork) -> BadProposal:
    return BadProposal("ch1", b"\x01\x02garbage", None, "BAD_PROPOSAL", ("malformed SignedProposal",))


def _p_truncated(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    return BadProposal("ch1", _signed(identity, _proposal(identity))[:-1], None, "BAD_PROPOSAL", ("truncated",))


def _p_garbage_inside(net: EmbeddedNetwork) -> BadProposal:
    signed = encode(SignedProposal(b"\xc1not a proposal", b"sig"))
    return BadProposal("ch1", signed, None, "BAD_PROPOSAL", ("malformed Proposal",))


def _p_noncanonical(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    wide = _wide_array(encode(_proposal(identity)))
    signed = encode(SignedProposal(wide, identity.sign(wide)))
    return BadProposal("ch1", signed, None, "BAD_PROPOSAL", ("not canonically encoded",))


def _p_wrong_channel(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    return BadProposal("ch1", _signed(identity, _proposal(identity, channel="ch2")), None, "WRONG_CHANNEL", ("'ch2'",))


def _p_unknown_channel(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    proposal = _proposal(identity, channel="nope")
    return BadProposal("nope", _signed(identity, proposal), None, "UNKNOWN_CHANNEL", ("has not joined 'nope'",))


def _p_bad_signature(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    proposal_bytes = encode(_proposal(identity))
    signed = encode(SignedProposal(proposal_bytes, _flip_last(identity.sign(proposal_bytes))))
    return BadProposal("ch1", signed, None, "BAD_SIGNATURE", ("signature", "does not verify"))


def _p_signed_by_other(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    signed = _signed(identity, _proposal(identity), signer=net.identity("Org2"))
    return BadProposal("ch1", signed, None, "BAD_SIGNATURE", ("does not verify",))


def _p_bad_txid(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    proposal = _proposal(identity, tx_id=compute_tx_id(b"another nonce", identity.certificate_der))
    return BadProposal("ch1", _signed(identity, proposal), None, "BAD_TXID", ("nonce", "creator"))


def _p_foreign_creator(net: EmbeddedNetwork) -> BadProposal:
    mallory = _stranger()
    return BadProposal("ch1", _signed(mallory, _proposal(mallory)), None, "NOT_A_MEMBER", ("CA",))


def _p_peer_creator(net: EmbeddedNetwork) -> BadProposal:
    peer = net.peer("Org2").identity
    return BadProposal("ch1", _signed(peer, _proposal(peer)), None, "NOT_A_MEMBER", ("peer",))


def _p_transient_mismatch(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    proposal = _proposal(identity, transient_hash=transient_hash({"appraisal": b"secret"}))
    return BadProposal(
        "ch1", _signed(identity, proposal), {"appraisal": b"other"}, "BAD_TRANSIENT", ("transient", "hash")
    )


def _p_transient_missing(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    proposal = _proposal(identity, transient_hash=transient_hash({"appraisal": b"secret"}))
    return BadProposal("ch1", _signed(identity, proposal), None, "BAD_TRANSIENT", ("transient",))


def _p_unknown_contract(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    proposal = _proposal(identity, contract="no-such-contract")
    return BadProposal("ch1", _signed(identity, proposal), None, "UNKNOWN_CONTRACT", ("'no-such-contract'", "'ch1'"))


def _p_unknown_function(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    proposal = _proposal(identity, function="steal")
    return BadProposal(
        "ch1",
        _signed(identity, proposal),
        None,
        "UNKNOWN_FUNCTION",
        ("'steal'", "create", "read", "transfer", "touch"),
    )


def _p_private_function_name(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    proposal = _proposal(identity, function="__init__", args=())
    return BadProposal("ch1", _signed(identity, proposal), None, "UNKNOWN_FUNCTION", ("'__init__'",))


def _p_too_few_args(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    proposal = _proposal(identity, function="create", args=('"a9"',))
    return BadProposal(
        "ch1",
        _signed(identity, proposal),
        None,
        "CONTRACT_ERROR",
        ("create takes 4 argument(s)", "asset_id, color, size, value", "got 1"),
    )


def _p_too_many_args(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    proposal = _proposal(identity, function="read", args=('"a1"', '"extra"'))
    return BadProposal("ch1", _signed(identity, proposal), None, "CONTRACT_ERROR", ("read takes 1", "asset_id"))


def _p_wrong_type(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    proposal = _proposal(identity, function="create", args=('"a9"', '"red"', '"big"', "10"))
    return BadProposal(
        "ch1", _signed(identity, proposal), None, "CONTRACT_ERROR", ("argument 'size' must be int", "got str")
    )


def _p_bool_for_int(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    proposal = _proposal(identity, function="create", args=('"a9"', '"red"', "1", "true"))
    return BadProposal("ch1", _signed(identity, proposal), None, "CONTRACT_ERROR", ("argument 'value'", "bool"))


def _p_not_json(net: EmbeddedNetwork) -> BadProposal:
    identity = net.identity("Org1")
    proposal = _proposal(identity, function="read", args=("{not json",))
    return BadProposal("ch1", _signed(identity, proposal), None, "BAD_ARGUMENTS", ("JSON",))


BAD_PROPOSALS: dict[str, Callable[[EmbeddedNetwork], BadProposal]] = {
    "garbage": _p_garbage,
    "truncated": _p_truncated,
    "garbage-inside": _p_garbage_inside,
    "non-canonical": _p_noncanonical,
    "wrong-channel": _p_wrong_channel,
    "unknown-channel": _p_unknown_channel,
    "bad-signature": _p_bad_signature,
    "signed-by-other": _p_signed_by_other,
    "bad-txid": _p_bad_txid,
    "foreign-creator": _p_foreign_creator,
    "peer-creator": _p_peer_creator,
    "transient-mismatch": _p_transient_mismatch,
    "transient-missing": _p_transient_missing,
    "unknown-contract": _p_unknown_contract,
    "unknown-function": _p_unknown_function,
    "private-function-name": _p_private_function_name,
    "too-few-args": _p_too_few_args,
    "too-many-args": _p_too_many_args,
    "wrong-type": _p_wrong_type,
    "bool-for-int": _p_bool_for_int,
    "not-json": _p_not_json,
}


@pytest.mark.parametrize("case", sorted(BAD_PROPOSALS))
def test_endorse_refuses_bad_proposal(network: EmbeddedNetwork, case: str) -> None:
    """A bad proposal is refused with the right code and a message naming the problem; nothing changes."""
    bad = BAD_PROPOSALS[case](network)
    peer = network.peer("Org1")
    before = _state_rows(network)
    with pytest.raises(EndorsementError) as info:
        peer.endorse(bad.channel, bad.signed, bad.transient)
    assert info.value.code == bad.code, info.value.message
    for fragment in bad.fragments:
        assert fragment in info.value.message
    assert str(info.value) == info.value.message
    assert _state_rows(network) == before
    # The same peer still endorses a good proposal, and the network commits it.
    result = network.gateway("Org1").network("ch1").contract(CONTRACT).submit("create", "fine", "red", 1, 1)
    assert result.code == "VALID"


def test_endorse_refuses_committed_transaction_id(network: EmbeddedNetwork) -> None:
    """Re-endorsing an already committed proposal is DUPLICATE_TXID."""
    identity = network.identity("Org1")
    prepared = build_proposal(identity, "ch1", CONTRACT, "create", ("d1", "red", 1, 1), None)
    signed, proposal, sent = prepared.signed, prepared.proposal, prepared.transient
    responses = [network.peer(org).endorse("ch1", signed, sent) for org in ("Org1", "Org2")]
    transaction = encode(Transaction(encode(proposal), responses[0].payload, tuple(r.endorsement for r in responses)))
    waiter = network.peer("Org1").channel("ch1").commit_waiter(proposal.tx_id)
    network.orderer.broadcast("ch1", encode(Envelope(ENVELOPE_TRANSACTION, transaction, identity.sign(transaction))))
    assert waiter.result(timeout=30).code == Code.VALID
    with pytest.raises(EndorsementError) as info:
        network.peer("Org1").endorse("ch1", signed, sent)
    assert info.value.code == "DUPLICATE_TXID"
    assert proposal.tx_id in info.value.message


def test_rejected_proposals_leave_no_transient_data(network: EmbeddedNetwork) -> None:
    """A proposal refused before simulation stores no private plaintext for its transaction id."""
    identity = network.identity("Org1")
    proposal = _proposal(
        identity, function="appraise", args=('"a1"',), transient_hash=transient_hash({"appraisal": b"x"})
    )
    signed = encode(SignedProposal(encode(proposal), _flip_last(identity.sign(encode(proposal)))))
    with pytest.raises(EndorsementError) as info:
        network.peer("Org1").endorse("ch1", signed, {"appraisal": b"x"})
    assert info.value.code == "BAD_SIGNATURE"
    for org in ("Org1", "Org2"):
        assert network.peer(org).channel("ch1").ledger.state.get_transient(proposal.tx_id) == []


# -- blocks a peer receives ------------------------------------------------------------------------------------

SOLO = "solo"


@pytest.fixture(scope="module")
def solo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bootstrapped (not running) one-organisation network folder with channel 'solo'."""
    folder = tmp_path_factory.mktemp("solo-net")
    create_network(folder, NetworkSpec(orgs=(OrgSpec("Org1"),), channels=(ChannelSpec(SOLO, ("Org1",)),)))
    return folder


@dataclass
class SoloPeer:
    """A peer whose block delivery the test controls, the orderer identity, and a valid next block."""

    folder: Path
    directory: Path
    peer: Peer
    orderer: SigningIdentity
    genesis: Block
    next_block: Block
    tx_id: str

    def reopen(self) -> Peer:
        """Close and reopen the peer from its folder."""
        self.peer.close()
        self.peer = Peer(SigningIdentity.load(peer_dir(self.folder, "Org1")), self.directory)
        return self.peer


def _approval_envelope(peer: Peer, admin: SigningIdentity) -> tuple[bytes, str]:
    """An admin's lifecycle approval, endorsed by the (only) peer: a real transaction that writes state."""
    args = ("demo", "1.0", 1, "ab" * 32, "OR('Org1.peer')", [])
    prepared = build_proposal(admin, SOLO, LIFECYCLE, "approve", args, None)
    signed, proposal, sent = prepared.signed, prepared.proposal, prepared.transient
    response = peer.endorse(SOLO, signed, sent)
    transaction = encode(Transaction(encode(proposal), response.payload, (response.endorsement,)))
    return encode(Envelope(ENVELOPE_TRANSACTION, transaction, admin.sign(transaction))), proposal.tx_id


@pytest.fixture
def solo(solo_folder: Path, tmp_path: Path) -> Iterator[SoloPeer]:
    """A fresh peer joined to 'solo' (height 1) and a valid block 1 for it."""
    identity = SigningIdentity.load(peer_dir(solo_folder, "Org1"))
    genesis_bytes = genesis_path(solo_folder, SOLO).read_bytes()
    peer = Peer(identity, tmp_path / "peer", genesis={SOLO: genesis_bytes})
    orderer = SigningIdentity.load(orderer_dir(solo_folder, "OrdererOrg"))
    genesis = decode(genesis_bytes, Block)
    envelope, tx_id = _approval_envelope(peer, SigningIdentity.load(user_dir(solo_folder, "Org1", "admin")))
    history = peer.channel(SOLO).ledger.history_range()
    block, _ = make_block(SOLO, 1, genesis.header, history, [envelope], orderer, genesis.header.timestamp_ms + 1000)
    holder = SoloPeer(solo_folder, tmp_path / "peer", peer, orderer, genesis, block, tx_id)
    try:
        yield holder
    finally:
        holder.peer.close()


def _resign(block: Block, signer: SigningIdentity, **changes: Any) -> bytes:
    """The block with header fields changed, properly signed by ``signer``."""
    header: BlockHeader = msgspec.structs.replace(block.header, **changes)
    return encode(Block(header, block.transactions, signer.certificate_der, signer.sign(header_signing_bytes(header))))


def _b_garbage(s: SoloPeer) -> bytes:
    return b"\x94garbage that is not a block"


def _b_empty_bytes(s: SoloPeer) -> bytes:
    return b""


def _b_truncated(s: SoloPeer) -> bytes:
    return encode(s.next_block)[:-7]


def _b_extended(s: SoloPeer) -> bytes:
    return encode(s.next_block) + b"\x90"


def _b_noncanonical(s: SoloPeer) -> bytes:
    return _wide_array(encode(s.next_block))


def _b_genesis_again(s: SoloPeer) -> bytes:
    return encode(s.genesis)


def _b_skips_a_number(s: SoloPeer) -> bytes:
    return _resign(s.next_block, s.orderer, number=2)


def _b_wrong_channel(s: SoloPeer) -> bytes:
    return _resign(s.next_block, s.orderer, channel="elsewhere")


def _b_previous_hash(s: SoloPeer) -> bytes:
    return _resign(s.next_block, s.orderer, previous_hash=bytes(32))


def _b_data_hash(s: SoloPeer) -> bytes:
    return _resign(s.next_block, s.orderer, data_hash=bytes(32))


def _b_history_root(s: SoloPeer) -> bytes:
    return _resign(s.next_block, s.orderer, history_root=s.genesis.header.history_root)


def _b_history_size(s: SoloPeer) -> bytes:
    return _resign(s.next_block, s.orderer, history_size=s.next_block.header.history_size + 1)


def _b_time_backwards(s: SoloPeer) -> bytes:
    return _resign(s.next_block, s.orderer, timestamp_ms=s.genesis.header.timestamp_ms - 1)


def _b_no_transactions(s: SoloPeer) -> bytes:
    history = s.peer.channel(SOLO).ledger.history_range()
    block, _ = make_block(SOLO, 1, s.genesis.header, history, [], s.orderer, s.genesis.header.timestamp_ms + 1000)
    return encode(block)


def _b_swapped_transactions(s: SoloPeer) -> bytes:
    block = s.next_block
    return encode(Block(block.header, (b"another envelope",), block.orderer, block.signature))


def _b_bad_signature(s: SoloPeer) -> bytes:
    block = s.next_block
    return encode(Block(block.header, block.transactions, block.orderer, _flip_last(block.signature)))


def _b_signature_of_other_header(s: SoloPeer) -> bytes:
    block = s.next_block
    other = msgspec.structs.replace(block.header, timestamp_ms=block.header.timestamp_ms + 1)
    return encode(Block(block.header, block.transactions, block.orderer, s.orderer.sign(header_signing_bytes(other))))


def _b_signed_by_peer(s: SoloPeer) -> bytes:
    return _resign(s.next_block, s.peer.identity)


def _b_signed_by_admin(s: SoloPeer) -> bytes:
    return _resign(s.next_block, SigningIdentity.load(user_dir(s.folder, "Org1", "admin")))


def _b_foreign_orderer(s: SoloPeer) -> bytes:
    return _resign(s.next_block, _stranger("OrdererOrg", Kind.ORDERER, "orderer0"))


def _b_garbage_orderer_cert(s: SoloPeer) -> bytes:
    block = s.next_block
    return encode(Block(block.header, block.transactions, b"not a certificate", block.signature))


BAD_BLOCKS: dict[str, tuple[Callable[[SoloPeer], bytes], str]] = {
    "garbage": (_b_garbage, "unreadable block"),
    "empty-bytes": (_b_empty_bytes, "unreadable block"),
    "truncated": (_b_truncated, "unreadable block"),
    "extended": (_b_extended, "unreadable block"),
    "non-canonical": (_b_noncanonical, "not canonically encoded"),
    "genesis-again": (_b_genesis_again, "block 0 is already committed"),
    "skips-a-number": (_b_skips_a_number, "expected block number 1"),
    "wrong-channel": (_b_wrong_channel, "'elsewhere'"),
    "previous-hash": (_b_previous_hash, "previous_hash"),
    "data-hash": (_b_data_hash, "data_hash"),
    "swapped-transactions": (_b_swapped_transactions, "data_hash"),
    "history-root": (_b_history_root, "history_root"),
    "history-size": (_b_history_size, "history_size"),
    "time-backwards": (_b_time_backwards, "timestamp"),
    "no-transactions": (_b_no_transactions, "no transactions"),
    "bad-signature": (_b_bad_signature, "signature over the header does not verify"),
    "signature-of-other-header": (_b_signature_of_other_header, "signature over the header does not verify"),
    "signed-by-peer": (_b_signed_by_peer, "block signer"),
    "signed-by-admin": (_b_signed_by_admin, "block signer"),
    "foreign-orderer": (_b_foreign_orderer, "block signer"),
    "garbage-orderer-cert": (_b_garbage_orderer_cert, "block signer"),
}


def _ledger_view(peer: Peer) -> tuple[int, int, int, bytes, list[Any]]:
    """Committed height, stored height, history size and root, and every state row of the peer's channel."""
    channel = peer.channel(SOLO)
    ledger = channel.ledger
    assert ledger.history is not None
    return (
        channel.height,
        ledger.stored_height,
        ledger.history.size,
        ledger.history.root(),
        list(ledger.state.digest_rows()),
    )


@pytest.mark.parametrize("case", sorted(BAD_BLOCKS))
def test_receive_block_refuses_bad_block(solo: SoloPeer, case: str) -> None:
    """A bad block is refused with a reason; the ledger is untouched and the real next block still commits."""
    build, fragment = BAD_BLOCKS[case]
    bad = build(solo)
    before = _ledger_view(solo.peer)
    with pytest.raises(BlockRejected) as info:
        solo.peer.channel(SOLO).receive_block(bad)
    message = str(info.value)
    assert message.startswith(f"channel {SOLO}: ")
    assert fragment in message
    assert _ledger_view(solo.peer) == before

    event = solo.peer.channel(SOLO).receive_block(encode(solo.next_block))
    assert event.number == 1
    assert [outcome.code for outcome in event.transactions] == [Code.VALID]
    state = solo.peer.channel(SOLO).ledger.state
    assert state.get(LIFECYCLE, approval_key("demo", 1, "Org1")) is not None
    assert solo.reopen().channel(SOLO).height == 2


def test_many_bad_blocks_then_reopen_loses_nothing(solo: SoloPeer) -> None:
    """Every bad block in a row, then the good one; after reopening, the ledger holds exactly genesis + block 1."""
    channel = solo.peer.channel(SOLO)
    for name, (build, _) in BAD_BLOCKS.items():
        with pytest.raises(BlockRejected):
            channel.receive_block(build(solo))
        assert channel.height == 1, name
    channel.receive_block(encode(solo.next_block))
    with pytest.raises(BlockRejected, match="block 1 is already committed"):
        channel.receive_block(encode(solo.next_block))
    after = _ledger_view(solo.peer)
    peer = solo.reopen()
    assert _ledger_view(peer) == after
    assert peer.channel(SOLO).height == 2
    assert peer.channel(SOLO).ledger.state.tx_position(solo.tx_id) == (1, 0, int(Code.VALID))


def test_block_of_malformed_envelopes_commits_with_codes(solo: SoloPeer) -> None:
    """Malformed envelopes an orderer let through stay in their block, each with its own code; no state from them."""
    admin = SigningIdentity.load(user_dir(solo.folder, "Org1", "admin"))
    good = solo.next_block.transactions[0]
    envelope = decode(good, Envelope)
    transaction = decode(envelope.payload, Transaction)
    other = encode(_proposal(admin, channel="other", contract=LIFECYCLE, function="approve"))
    other_tx = encode(Transaction(other, transaction.response, transaction.endorsements))
    envelopes = [
        b"garbage",
        _wide_array(good),
        solo.genesis.transactions[0],
        encode(Envelope(ENVELOPE_TRANSACTION, other_tx, admin.sign(other_tx))),
        encode(Envelope(ENVELOPE_TRANSACTION, envelope.payload, _flip_last(envelope.signature))),
        good,
        good,
    ]
    history = solo.peer.channel(SOLO).ledger.history_range()
    block, _ = make_block(
        SOLO, 1, solo.genesis.header, history, envelopes, solo.orderer, solo.next_block.header.timestamp_ms
    )
    event = solo.peer.channel(SOLO).receive_block(encode(block))
    assert [outcome.code for outcome in event.transactions] == [
        Code.BAD_PAYLOAD,
        Code.BAD_PAYLOAD,
        Code.CONFIG_REJECTED,
        Code.WRONG_CHANNEL,
        Code.BAD_SIGNATURE,
        Code.VALID,
        Code.DUPLICATE_TXID,
    ]
    state = solo.peer.channel(SOLO).ledger.state
    assert [key for key, _ in state.range(LIFECYCLE, "", "")] == [approval_key("demo", 1, "Org1")]
    assert state.tx_position(solo.tx_id) == (1, 5, int(Code.VALID))
    peer = solo.reopen()
    assert peer.channel(SOLO).height == 2
    assert peer.channel(SOLO).ledger.record(1).codes == bytes(int(o.code) for o in event.transactions)


def _forged_write_envelope(s: SoloPeer, value: bytes) -> bytes:
    """The approval transaction with its rwset replaced by one write of ``value``, endorsed by the channel's peer.

    The peer's signature satisfies the lifecycle policy (the majority of one organisation), as a colluding or
    compromised endorser's would: validation, not the endorser, must keep the ledger sound.
    """
    admin = SigningIdentity.load(user_dir(s.folder, "Org1", "admin"))
    transaction = decode(decode(s.next_block.transactions[0], Envelope).payload, Transaction)
    payload = decode(transaction.response, ResponsePayload)
    namespace = msgspec.structs.replace(payload.rwset.namespaces[0], writes=(KVWrite("forged", value, False),))
    response = encode(msgspec.structs.replace(payload, rwset=RWSet((namespace,))))
    endorser = s.peer.identity
    forged = encode(
        Transaction(transaction.proposal, response, (Endorsement(endorser.certificate_der, endorser.sign(response)),))
    )
    return encode(Envelope(ENVELOPE_TRANSACTION, forged, admin.sign(forged)))


def test_endorsed_json_write_commits(solo: SoloPeer) -> None:
    """Control for the test below: the same forged transaction writing a JSON value commits as valid."""
    envelope = _forged_write_envelope(solo, b'{"ok":1}')
    history = solo.peer.channel(SOLO).ledger.history_range()
    timestamp = solo.next_block.header.timestamp_ms
    block, _ = make_block(SOLO, 1, solo.genesis.header, history, [envelope], solo.orderer, timestamp)
    event = solo.peer.channel(SOLO).receive_block(encode(block))
    assert [outcome.code for outcome in event.transactions] == [Code.VALID]
    stored = solo.reopen().channel(SOLO).ledger.state.get(LIFECYCLE, "forged")
    assert stored is not None
    assert stored.value == b'{"ok":1}'


def test_endorsed_non_utf8_write_does_not_wedge_the_peer(solo: SoloPeer) -> None:
    """A policy-satisfying transaction writing non-UTF-8 bytes is refused (BAD_RWSET) or the block is rejected."""
    envelope = _forged_write_envelope(solo, b"\xff\xfe not UTF-8")
    history = solo.peer.channel(SOLO).ledger.history_range()
    block, _ = make_block(
        SOLO, 1, solo.genesis.header, history, [envelope], solo.orderer, solo.next_block.header.timestamp_ms
    )
    channel = solo.peer.channel(SOLO)
    try:
        event = channel.receive_block(encode(block))
    except BlockRejected:
        assert channel.ledger.stored_height == 1  # refused whole: nothing stored
    else:
        assert [outcome.code for outcome in event.transactions] == [Code.BAD_RWSET]
    assert channel.ledger.stored_height == channel.height
    peer = solo.reopen()
    assert peer.channel(SOLO).ledger.state.get(LIFECYCLE, "forged") is None


def test_block_rejected_carries_the_block_number(solo: SoloPeer) -> None:
    """A readable but bad block is reported with its number; an unreadable one without."""
    with pytest.raises(BlockRejected) as info:
        solo.peer.channel(SOLO).receive_block(_b_data_hash(solo))
    assert info.value.block == 1
    with pytest.raises(BlockRejected) as info:
        solo.peer.channel(SOLO).receive_block(b"junk")
    assert info.value.block is None


# -- the command line ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """The outcome of one ``python -m consortia`` run."""

    args: tuple[str, ...]
    code: int
    output: str

    @property
    def flat(self) -> str:
        """Output with rich's box characters and line wrapping removed."""
        text = self.output
        for ch in "│╭╮╰╯─":
            text = text.replace(ch, " ")
        return " ".join(text.split())


def _cli(args: list[str], cwd: Path, data_default: Path) -> Run:
    """Run the consortia command in a subprocess (never more than 120 s)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "CONSORTIA_DATA": str(data_default),
        "COLUMNS": "200",
        "NO_COLOR": "1",
        "TERM": "dumb",
    }
    env.pop("CONSORTIA_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "consortia", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Run(tuple(args), done.returncode, done.stdout + done.stderr)


def _storage_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every stored file (SQLite's transient -wal/-shm files aside)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.endswith(("-wal", "-shm"))
    }


UNKNOWN_TX = "ab" * 32

# name → (arguments, where "{demo}" is the demo folder and "{plain}" a folder that is not a network; fragment)
BAD_COMMANDS: dict[str, tuple[list[str], str]] = {
    "unknown-command": (["frobnicate"], "No such command 'frobnicate'"),
    "unknown-option": (["verify", "--frobnicate"], "No such option"),
    "verify-missing-folder": (["verify", "--data", "{missing}"], "does not exist"),
    "verify-missing-folder-json": (["verify", "--json", "--data", "{missing}"], "does not exist"),
    "verify-not-a-network": (["verify", "--data", "{plain}"], "no ledgers found"),
    "verify-a-file": (["verify", "--data", "{plain}/notes.txt"], "notes.txt"),
    "proof-not-hex": (["proof", "nothex", "--data", "{demo}"], "'nothex' is not a transaction id"),
    "proof-too-short": (["proof", "abc123", "--data", "{demo}"], "64 hexadecimal digits"),
    "proof-unknown": (["proof", UNKNOWN_TX, "--data", "{demo}"], f"transaction {UNKNOWN_TX} is not in any ledger"),
    "proof-unknown-channel": (
        ["proof", UNKNOWN_TX, "--channel", "nope", "--data", "{demo}"],
        "is not in any ledger",
    ),
    "proof-not-a-network": (["proof", UNKNOWN_TX, "--data", "{plain}"], "is not a Consortia data folder"),
    "proof-missing-argument": (["proof", "--data", "{demo}"], "Missing argument"),
    "bench-zero-seconds": (["bench", "--seconds", "0"], "'--seconds'"),
    "bench-not-a-number": (["bench", "--seconds", "soon"], "'--seconds'"),
    "bench-zero-clients": (["bench", "--clients", "0"], "'--clients'"),
    "demo-zero-transactions": (["demo", "--no-serve", "--transactions", "0"], "'--transactions'"),
    "demo-negative-transactions": (["demo", "--no-serve", "-n", "-5"], "'--transactions'"),
    "demo-into-a-foreign-folder": (
        ["demo", "--no-serve", "--data", "{plain}", "-n", "1"],
        "is not a Consortia data folder",
    ),
}


@dataclass
class CliRuns:
    """The demo folder, its storage digest before the bad commands, and their outcomes."""

    demo: Path
    plain: Path
    cwd: Path
    default_data: Path
    before: dict[str, str]
    plain_before: dict[str, str]
    runs: dict[str, Run]


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> CliRuns:
    """Make a demo folder with the real command, then run every bad command (a few at a time)."""
    root = tmp_path_factory.mktemp("cli")
    demo, plain, cwd, default_data = root / "demo", root / "plain", root / "cwd", root / "default-data"
    plain.mkdir()
    (plain / "notes.txt").write_text("not a ledger\n")
    (plain / "keep").mkdir()
    cwd.mkdir()
    made = _cli(["demo", "--no-serve", "--data", str(demo), "-n", "60"], cwd, default_data)
    assert made.code == 0, made.output
    assert "Traceback" not in made.output
    before = _storage_digest(demo)
    plain_before = _storage_digest(plain)
    substitutions = {"{demo}": str(demo), "{plain}": str(plain), "{missing}": str(root / "missing")}

    def run(item: tuple[str, tuple[list[str], str]]) -> tuple[str, Run]:
        name, (args, _) = item
        concrete = []
        for arg in args:
            for key, value in substitutions.items():
                arg = arg.replace(key, value)
            concrete.append(arg)
        return name, _cli(concrete, cwd, default_data)

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = dict(pool.map(run, BAD_COMMANDS.items()))
    return CliRuns(demo, plain, cwd, default_data, before, plain_before, runs)


@pytest.mark.parametrize("case", sorted(BAD_COMMANDS))
def test_cli_bad_arguments_fail_clearly(cli_runs: CliRuns, case: str) -> None:
    """A bad command exits non-zero with a message saying what is wrong, never a traceback."""
    run = cli_runs.runs[case]
    assert run.code != 0, run.output
    assert "Traceback" not in run.output
    assert BAD_COMMANDS[case][1] in run.flat, run.output


def test_cli_bad_commands_lose_nothing(cli_runs: CliRuns) -> None:
    """After every bad command the demo folder is byte-identical and `consortia verify` still passes."""
    assert _storage_digest(cli_runs.demo) == cli_runs.before
    assert _storage_digest(cli_runs.plain) == cli_runs.plain_before
    assert not cli_runs.default_data.exists()
    assert list(cli_runs.cwd.iterdir()) == []
    verified = _cli(["verify", "--data", str(cli_runs.demo)], cli_runs.cwd, cli_runs.default_data)
    assert verified.code == 0, verified.output
    assert "Every ledger is sound" in verified.flat
    assert "Traceback" not in verified.output


def test_cli_json_errors_are_json(cli_runs: CliRuns) -> None:
    """With --json, a failure is reported as a JSON document with ok=false and the reason."""
    run = cli_runs.runs["verify-missing-folder-json"]
    document = msgspec.json.decode(run.output.strip().encode())
    assert document["ok"] is False
    assert "does not exist" in document["error"]
