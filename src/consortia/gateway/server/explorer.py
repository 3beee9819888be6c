"""The explorer service: search the ledgers, locate a transaction, prove it — one answer for API and pages.

The REST API (:mod:`consortia.gateway.server.api`) and the explorer pages (:mod:`consortia.gateway.server.pages`)
show the same things; both ask this module, so they cannot drift apart:

* :func:`search` — what a text names on the channels the caller may read: a transaction id (64 hex digits, with
  its block and validation code), a block number, or a state key (in every namespace holding it, with its version
  and the transaction that last wrote it);
* :func:`locate` — a committed transaction by id on one channel, after the caller's read check (404 otherwise);
* :func:`transaction_proof` — its proof document (inclusion in the block and in the history tree, signed
  header), built by :func:`consortia.ledger.proof.build_transaction_proof`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consortia.gateway.server.auth import Principal
from consortia.gateway.server.backend import Backend
from consortia.gateway.server.limits import ascii_int
from consortia.gateway.server.problems import Problem
from consortia.ledger.codes import code_name
from consortia.ledger.encoding import MalformedError
from consortia.ledger.ledger import FoundTransaction, LedgerError
from consortia.ledger.proof import UnknownTransaction, build_transaction_proof, corrupt_in_transit
from consortia.ledger.transaction import open_envelope
from consortia.peer.channel import PeerChannel

MAX_TX_ID = 128
"""Longer texts are not looked up as transaction ids."""


@dataclass(frozen=True)
class SearchHit:
    """One thing a search text names: a transaction, a block, or a state key in one namespace."""

    type: str
    """``transaction``, ``block`` or ``key``."""
    channel: str
    block: int | None = None
    tx_id: str | None = None
    code: str | None = None
    """The transaction's validation code name."""
    namespace: str | None = None
    key: str | None = None
    version: tuple[int, int] | None = None
    """The key's version: (block, transaction index) of its last write."""
    writer: str | None = None
    """The id of the transaction that last wrote the key (None if it cannot be read)."""

    def as_json(self) -> dict[str, Any]:
        """The hit as the API and the search page show it (only the fields of its type)."""
        if self.type == "transaction":
            return {
                "type": self.type,
                "channel": self.channel,
                "tx_id": self.tx_id,
                "block": self.block,
                "code": self.code,
            }
        if self.type == "block":
            return {"type": self.type, "channel": self.channel, "block": self.block}
        return {
            "type": self.type,
            "channel": self.channel,
            "namespace": self.namespace,
            "key": self.key,
            "version": list(self.version or ()),
            "writer": self.writer,
        }


@dataclass(frozen=True)
class Located:
    """A committed transaction found on a channel, with the peer channel it was read from."""

    peer_channel: PeerChannel
    transaction: FoundTransaction


def _is_tx_id(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def _writer(peer_channel: PeerChannel, block: int, index: int) -> str | None:
    try:
        committed = peer_channel.ledger.committed_block(block)
        if index >= len(committed.block.transactions):
            return None
        return open_envelope(committed.block.transactions[index]).tx_id
    except (MalformedError, LedgerError, OSError):
        return None


def search_channel(peer_channel: PeerChannel, text: str) -> list[SearchHit]:
    """What ``text`` names on one channel (no access check: see :func:`search`)."""
    name = peer_channel.name
    hits: list[SearchHit] = []
    if _is_tx_id(text):
        tx_id = text.lower()
        position = peer_channel.ledger.state.tx_position(tx_id)
        if position is not None:
            hits.append(SearchHit("transaction", name, position.block, tx_id, code_name(position.code)))
    number = ascii_int(text)
    if number is not None and number < peer_channel.height:
        hits.append(SearchHit("block", name, number))
    for namespace, value in peer_channel.ledger.state.find_key(text):
        version = value.version
        hits.append(
            SearchHit(
                "key",
                name,
                namespace=namespace,
                key=text,
                version=(version.block, version.tx),
                writer=_writer(peer_channel, version.block, version.tx),
            )
        )
    return hits


def search(backend: Backend, principal: Principal, text: str) -> list[SearchHit]:
    """What ``text`` (stripped) names on every channel ``principal`` may read, channel by channel."""
    query = text.strip()
    if not query:
        return []
    hits: list[SearchHit] = []
    for name in backend.channel_names():
        if backend.can_read(principal, name):
            hits.extend(search_channel(backend.peer_channel(name, principal), query))
    return hits


def _unknown(tx_id: str, channel: str) -> Problem:
    return Problem(404, f"transaction {tx_id[:MAX_TX_ID]} is not on channel {channel!r}", code="UNKNOWN_TRANSACTION")


def _normalised(tx_id: str) -> str:
    return tx_id.strip().lower()


def locate(backend: Backend, principal: Principal | None, channel: str, tx_id: str) -> Located:
    """The committed transaction ``tx_id`` on ``channel``, if the caller may read it (401/403/404 problems)."""
    backend.require_read(principal, channel)
    peer_channel = backend.peer_channel(channel, principal)
    wanted = _normalised(tx_id)
    found = peer_channel.ledger.find_transaction(wanted) if len(wanted) <= MAX_TX_ID else None
    if found is None:
        raise _unknown(tx_id, channel)
    return Located(peer_channel, found)


def transaction_proof(peer_channel: PeerChannel, tx_id: str, *, tamper: bool = False) -> dict[str, Any]:
    """The proof document of a committed transaction (404 problem if there is none); ``tamper`` is for tests."""
    wanted = _normalised(tx_id)
    if len(wanted) > MAX_TX_ID:
        raise _unknown(tx_id, peer_channel.name)
    try:
        document = build_transaction_proof(peer_channel.ledger, wanted, peer_channel.rules.config.orderer_cas())
    except UnknownTransaction:
        raise _unknown(tx_id, peer_channel.name) from None
    if tamper:
        corrupt_in_transit(document)  # test-only: the verifiers must catch it
    return document
