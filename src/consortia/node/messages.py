"""The documents nodes exchange: requests and answers as MessagePack structs.

Signed artefacts travel inside them as the exact bytes that were signed (a signed proposal, an endorsement, an
envelope, a block), never re-encoded, so whoever receives them checks the signatures themselves.
"""

from __future__ import annotations

import msgspec

from consortia.ordering.etcd.orderer import Ack
from consortia.peer.events import BlockEvent


class EndorseItem(msgspec.Struct, array_like=True, frozen=True):
    """One proposal to endorse; the peer first waits (briefly) until it has ``min_height`` blocks."""

    channel: str
    signed_proposal: bytes
    transient: dict[str, bytes] = {}
    min_height: int = 0


class EndorseResult(msgspec.Struct, array_like=True, frozen=True):
    """A signed proposal response (canonical bytes), or the code and reason it was refused."""

    response: bytes = b""
    code: str = ""
    message: str = ""


class EvaluateRequest(msgspec.Struct, array_like=True, frozen=True):
    """A query."""

    channel: str
    signed_proposal: bytes
    transient: dict[str, bytes] = {}


class EvaluateResult(msgspec.Struct, array_like=True, frozen=True):
    """A query's JSON answer, or the code and reason it failed."""

    result: bytes = b""
    code: str = ""
    message: str = ""


class BroadcastRequest(msgspec.Struct, array_like=True, frozen=True):
    """Envelopes for the ordering service."""

    channel: str
    envelopes: list[bytes]


class BroadcastReply(msgspec.Struct, array_like=True, frozen=True):
    """One acknowledgement per envelope, and the leader's endpoint as the answering orderer knows it."""

    acks: list[Ack]
    leader: str = ""


class BlocksReply(msgspec.Struct, array_like=True, frozen=True):
    """Blocks (as the orderer signed them) from the number asked for, and the sender's height."""

    blocks: list[bytes]
    height: int


class EventsReply(msgspec.Struct, array_like=True, frozen=True):
    """Block events from the number asked for, and the peer's height."""

    events: list[BlockEvent]
    height: int


class PrivateRequest(msgspec.Struct, array_like=True, frozen=True):
    """Private writes an endorsing peer hands to a member organisation's peer (``writes``: PrivateWrites bytes)."""

    channel: str
    writes: bytes
