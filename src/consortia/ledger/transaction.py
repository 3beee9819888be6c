"""Proposals, endorsements and envelopes: a transaction from the client's signature to the block.

1. A client builds a :class:`Proposal` (channel, contract, function, arguments, a nonce, its own certificate,
   a timestamp) and signs its canonical bytes. The transaction id is SHA-256(nonce ‖ creator), so it is unique
   per client and cannot be chosen to collide with another client's.
2. Each endorsing peer simulates the call and signs a :class:`ResponsePayload` — the proposal's hash, the
   read-write set, contract events and the result. Endorsements are signatures over those exact bytes.
3. The client checks that the endorsements agree, wraps proposal, response and endorsements in a
   :class:`Transaction`, signs it, and sends the :class:`Envelope` to the ordering service.

Each layer travels as the exact bytes that were signed, so reading a transaction means decoding layer by layer;
:func:`open_envelope` does that once for everyone (validation, ordering admission, the explorer, the SDK) and
insists that every layer is canonically encoded; :func:`open_signed_proposal` does the same for a proposal on its
way to the endorsers.

Transient inputs (private data passed to a contract) are never part of the envelope: the proposal carries only
their hash.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import msgspec

from consortia.ledger.encoding import MalformedError, decode_canonical, encode, sha256
from consortia.ledger.rwset import RWSet

ENVELOPE_TRANSACTION = 0
ENVELOPE_CONFIG = 1


class Proposal(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A client's request to run a contract function."""

    channel: str
    contract: str
    function: str
    args: tuple[str, ...]
    transient_hash: bytes
    nonce: bytes
    creator: bytes
    timestamp_ms: int
    tx_id: str


class SignedProposal(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Canonical proposal bytes and the creator's signature over them."""

    proposal: bytes
    signature: bytes


class ContractEvent(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """An event a contract emitted; delivered to subscribers once the transaction is valid."""

    name: str
    payload: bytes


class Response(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """The outcome of the contract call: status 200 and a JSON payload, or an error message."""

    status: int
    message: str
    payload: bytes


class ResponsePayload(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """What an endorser signs: the proposal hash, the contract version, read-write set, events, result."""

    proposal_hash: bytes
    contract: str
    version: str
    rwset: RWSet
    events: tuple[ContractEvent, ...]
    response: Response


class Endorsement(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """An endorsing peer's certificate and its signature over the response payload bytes."""

    endorser: bytes
    signature: bytes


class ProposalResponse(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """An endorser's answer: the response payload bytes and its endorsement of them."""

    payload: bytes
    endorsement: Endorsement


class Transaction(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """An endorsed transaction: proposal bytes, the agreed response payload bytes and the endorsements."""

    proposal: bytes
    response: bytes
    endorsements: tuple[Endorsement, ...]


class Envelope(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """What the ordering service orders: a typed payload and the submitter's signature over it."""

    kind: int
    payload: bytes
    signature: bytes


def make_nonce() -> bytes:
    """24 random bytes for a proposal nonce."""
    return os.urandom(24)


def compute_tx_id(nonce: bytes, creator: bytes) -> str:
    """The transaction id: hex SHA-256 of the nonce followed by the creator's certificate."""
    return sha256(nonce + creator).hex()


def proposal_hash(proposal_bytes: bytes) -> bytes:
    """The hash an endorsement binds to: SHA-256 of the canonical proposal bytes."""
    return sha256(proposal_bytes)


def transient_hash(transient: dict[str, bytes] | None) -> bytes:
    """Hash of the transient map (sorted by key) that the proposal commits to; empty map → 32 zero bytes."""
    if not transient:
        return bytes(32)
    return sha256(encode(sorted(transient.items())))


class NotATransaction(MalformedError):
    """An envelope that is well formed but holds something other than a transaction (a configuration update)."""

    def __init__(self, kind: int) -> None:
        super().__init__(f"envelope of kind {kind} holds no transaction")
        self.kind = kind


@dataclass(frozen=True)
class OpenedEnvelope:
    """An envelope decoded into its named parts: envelope → transaction → proposal → response payload.

    The response payload (the read-write set, events and result) is decoded when first asked for: ordering
    admission needs only the proposal. A payload that is not canonically encoded raises MalformedError then.
    """

    envelope: Envelope
    transaction: Transaction
    proposal: Proposal

    @property
    def tx_id(self) -> str:
        """The transaction id (from the proposal)."""
        return self.proposal.tx_id

    @cached_property
    def payload(self) -> ResponsePayload:
        """The endorsed response payload (MalformedError if it is not canonical)."""
        return decode_canonical(self.transaction.response, ResponsePayload)


@dataclass(frozen=True)
class OpenedProposal:
    """A signed proposal decoded: the signed bytes with their signature, and the proposal they hold."""

    signed: SignedProposal
    proposal: Proposal


def open_signed_proposal(signed_bytes: bytes) -> OpenedProposal:
    """Decode a signed proposal and the proposal inside it (MalformedError unless both are canonical)."""
    signed = decode_canonical(signed_bytes, SignedProposal)
    return OpenedProposal(signed, decode_canonical(signed.proposal, Proposal))


def open_envelope(envelope_bytes: bytes) -> OpenedEnvelope:
    """Decode a transaction envelope and every part inside it, each canonically encoded.

    Raises :class:`NotATransaction` for a configuration envelope and :class:`MalformedError` for anything else
    that is not a well-formed transaction (the response payload is checked when first read).
    """
    envelope = decode_canonical(envelope_bytes, Envelope)
    if envelope.kind != ENVELOPE_TRANSACTION:
        raise NotATransaction(envelope.kind)
    transaction = decode_canonical(envelope.payload, Transaction)
    return OpenedEnvelope(envelope, transaction, decode_canonical(transaction.proposal, Proposal))
