"""Proposals as a client prepares them: signed by the caller, with the private inputs that travel beside them.

A client signs the canonical bytes of a :class:`~consortia.ledger.transaction.Proposal` (channel, contract,
function, JSON arguments, a fresh nonce, its certificate, the time; the transaction id is SHA-256 of nonce and
certificate). Transient data — private inputs such as personal details — never enters the proposal: it goes to
the endorsers beside it, and the proposal carries only its hash. A random salt travels as one more transient
entry, so that contracts can store salted hashes of private values that nobody can guess back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consortia.client.errors import GatewayError
from consortia.contracts.context import SALT_TRANSIENT_KEY
from consortia.identity import SigningIdentity
from consortia.ledger.encoding import canonical_json, encode
from consortia.ledger.transaction import Proposal, SignedProposal, compute_tx_id, make_nonce, transient_hash


@dataclass(frozen=True)
class PreparedProposal:
    """A signed proposal ready for the endorsers: its signed bytes, the proposal itself, and its transient data."""

    signed: bytes
    """Canonical :class:`~consortia.ledger.transaction.SignedProposal` bytes."""
    proposal: Proposal
    transient: Mapping[str, bytes]
    """The transient data sent with it (the caller's, plus the salt), whose hash the proposal holds."""

    @property
    def tx_id(self) -> str:
        """The transaction id the proposal will have once ordered."""
        return self.proposal.tx_id


def build_proposal(
    identity: SigningIdentity,
    channel: str,
    contract: str,
    function: str,
    args: Sequence[Any],
    transient: Mapping[str, bytes] | None,
) -> PreparedProposal:
    """Build and sign a proposal (arguments must be JSON values; GatewayError ``BAD_ARGUMENTS`` if not)."""
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
    return PreparedProposal(signed, proposal, sent)
