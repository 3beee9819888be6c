"""The peer-channel interface: one organisation's peer on one channel, as a client uses it.

The SDK never reaches into a peer. Everything it needs from the peer of an organisation on a channel is this
narrow interface, which the in-process peer (:class:`consortia.peer.channel.PeerChannel`) and a peer node behind
HTTP (:class:`consortia.node.remote.RemotePeerChannel`) implement alike, so an application runs unchanged on the
embedded network and on a cluster:

* ``height`` — the number of blocks the peer has committed;
* ``definition(contract)`` — the contract definition committed on the channel (version, endorsement policy,
  collections), or None;
* ``endorse`` — simulate a signed proposal once the peer has at least ``min_height`` blocks (waiting a bounded
  time for them, else refusing with ``BEHIND``), and sign the result;
* ``evaluate`` — run a query and return its JSON answer, signing nothing;
* ``wait_for_height`` — wait until the peer has committed a number of blocks;
* ``commit_waiter`` / ``commit_status`` — a future resolved when a transaction commits on this peer, and the
  outcome of one that already has (subscribe first, then look: nothing is missed in between);
* ``block_events`` — what committed in each block from a given number on, stored blocks first, then live ones.

A peer that refuses a request, or cannot be reached, raises :class:`~consortia.peer.endorser.EndorsementError`
with a code (``UNKNOWN_CONTRACT``, ``CONTRACT_ERROR``, ``NO_PEER``…) and a message.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from typing import Any, Protocol, runtime_checkable

from consortia.contracts.lifecycle import ContractDefinition
from consortia.ledger.transaction import ProposalResponse
from consortia.peer.events import BlockEvent, CommitStatus


@runtime_checkable
class ChannelPeer(Protocol):
    """One organisation's peer on one channel (see the module docstring for what each method promises)."""

    @property
    def name(self) -> str:
        """The channel's name."""
        ...

    @property
    def height(self) -> int:
        """Blocks the peer has committed."""
        ...

    def definition(self, contract: str) -> ContractDefinition | None:
        """The committed definition of ``contract`` on this channel, or None."""
        ...

    def endorse(
        self, signed_proposal: bytes, transient: Mapping[str, bytes], *, min_height: int = 0, timeout: float = 10.0
    ) -> ProposalResponse:
        """Simulate a signed proposal once ``min_height`` blocks are committed (waiting up to ``timeout`` s)."""
        ...

    def evaluate(self, signed_proposal: bytes, transient: Mapping[str, bytes]) -> Any:
        """Run a query and return its JSON value."""
        ...

    def wait_for_height(self, height: int, timeout: float) -> bool:
        """Wait until ``height`` blocks are committed; return whether they are."""
        ...

    def commit_waiter(self, tx_id: str) -> Future[CommitStatus]:
        """A future resolved when ``tx_id`` commits from now on (cancel it to stop waiting)."""
        ...

    def commit_status(self, tx_id: str) -> CommitStatus | None:
        """The outcome of ``tx_id`` if it has already committed, else None."""
        ...

    def block_events(
        self, start: int, stop: threading.Event | None = None, timeout: float | None = None
    ) -> Iterator[BlockEvent]:
        """Block events from ``start``: stored blocks first, then live ones (until ``stop`` or ``timeout``)."""
        ...
