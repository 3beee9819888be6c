"""Transaction outcomes: how a peer judged each transaction of a block, as clients and subscribers learn it.

Validation (:mod:`consortia.peer.validator`) produces one :class:`TxOutcome` per transaction, block events
(:mod:`consortia.peer.events`) carry them to subscribers, and a client waiting for its own transaction receives
its outcome. Only valid transactions carry their contract events.
"""

from __future__ import annotations

from dataclasses import dataclass

from consortia.ledger.codes import Code
from consortia.ledger.transaction import ContractEvent


@dataclass(frozen=True)
class TxOutcome:
    """How one transaction of a block was judged, with what a subscriber needs to know about it."""

    index: int
    """Position in the block."""
    tx_id: str
    """Empty when the envelope could not be read."""
    code: Code
    detail: str = ""
    """Why it is invalid (as this peer found when validating; empty when rebuilt from the stored codes)."""
    contract: str = ""
    function: str = ""
    creator_org: str = ""
    events: tuple[ContractEvent, ...] = ()
    """The contract events it emitted (valid transactions only)."""
