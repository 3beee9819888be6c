"""The documents nodes exchange: requests and answers as MessagePack structs.

Signed artefacts travel inside them as the exact bytes that were signed (a signed proposal, an endorsement, an
envelope, a block), never re-encoded, so whoever receives them checks the signatures themselves.
"""

from __future__ import annotations

import msgspec

from consortia.contracts.lifecycle import ContractDefinition
from consortia.ordering.etcd.orderer import Ack
from consortia.peer.events import BlockEvent, CommitStatus


class EndorseItem(msgspec.Struct, array_like=True, frozen=True):
    """One proposal to endorse; the peer first waits (up to ``wait_s`` seconds) until it has ``min_height`` blocks."""

    channel: str
    signed_proposal: bytes
    transient: dict[str, bytes] = {}
    min_height: int = 0
    wait_s: float = 10.0


class EndorseResult(msgspec.Struct, array_like=True, frozen=True):
    """A signed proposal response (canonical bytes), or the code and reason it was refused.

    ``contract_code`` is the contract's own code when the contract refused (``CONTRACT_ERROR``), else empty.
    """

    response: bytes = b""
    code: str = ""
    message: str = ""
    contract_code: str = ""


class EvaluateRequest(msgspec.Struct, array_like=True, frozen=True):
    """A query."""

    channel: str
    signed_proposal: bytes
    transient: dict[str, bytes] = {}


class EvaluateResult(msgspec.Struct, array_like=True, frozen=True):
    """A query's JSON answer, or the code (and the contract's own code) and reason it failed."""

    result: bytes = b""
    code: str = ""
    message: str = ""
    contract_code: str = ""


class DefinitionReply(msgspec.Struct, array_like=True, frozen=True):
    """A contract's committed definition on a channel (None: not committed)."""

    definition: ContractDefinition | None


class CommitStatusReply(msgspec.Struct, array_like=True, frozen=True):
    """The outcome of a committed transaction (None: the peer has not committed it)."""

    status: CommitStatus | None


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
