"""Admission: what any ordering service checks before it orders an envelope.

The ordering service does not validate transactions — peers do — but it refuses what no peer could ever accept
and what would let outsiders fill blocks: an envelope larger than a block may be, one that is not a canonically
encoded transaction, one for another channel, or one not signed by a client or admin of a member organisation.
A refusal carries an HTTP-like status (413, 400, 403) and a message the submitter can act on.
"""

from __future__ import annotations

import time

from consortia.channel.rules import ChannelRules
from consortia.identity import Kind, MembershipError
from consortia.identity.batch import verify_one
from consortia.ledger.encoding import MalformedError
from consortia.ledger.transaction import NotATransaction, open_envelope
from consortia.ordering.base import OrderingError

_SUBMITTER_KINDS = frozenset({Kind.CLIENT, Kind.ADMIN})


def admit_envelope(rules: ChannelRules, channel: str, envelope: bytes, max_bytes: int) -> str:
    """Return the envelope's transaction id if it may be ordered on ``channel``; raise OrderingError if not."""
    if len(envelope) > max_bytes:
        raise OrderingError(
            413, f"envelope of {len(envelope)} bytes exceeds the channel's block size limit ({max_bytes} bytes)"
        )
    try:
        opened = open_envelope(envelope)
    except NotATransaction:
        raise OrderingError(400, "only transaction envelopes can be broadcast") from None
    except MalformedError as exc:
        raise OrderingError(400, f"malformed envelope: {exc}") from None
    proposal = opened.proposal
    if proposal.channel != channel:
        raise OrderingError(400, f"envelope is for channel {proposal.channel!r}, not {channel!r}")
    try:
        creator = rules.members.validate(proposal.creator, at_ms=int(time.time() * 1000), kinds=_SUBMITTER_KINDS)
    except MembershipError as exc:
        if exc.code == MembershipError.REVOKED_CERTIFICATE:
            raise OrderingError(403, f"{exc.code}: submitter: {exc.message}", exc.code) from None
        raise OrderingError(403, f"submitter: {exc.message}") from None
    if not verify_one(creator.public_key, opened.envelope.payload, opened.envelope.signature):
        raise OrderingError(403, "the submitter's signature over the envelope does not verify")
    return proposal.tx_id
