"""Proofs: that an event is on the ledger, and that a single raw reading is in an anchored batch.

An *event proof* is the platform's transaction proof (:func:`consortia.ledger.proof.build_proof`) of the
transaction that recorded the event: its envelope, its RFC 9162 inclusion in the block and in the ledger-wide
history tree, and the orderer-signed header. The consumer page checks these in the browser.

A *reading proof* chains three links, each checkable without trusting the server:

1. the reading's leaf (``coldchain-reading/v1`` canonical JSON) is at ``index`` of the batch's Merkle tree whose
   root is ``root`` (RFC 9162 inclusion proof);
2. ``root`` is the ``cc:batch.merkleRoot`` of a ``sensor_reporting`` event of the same device inside the
   anchoring transaction's envelope (its proposal's arguments), and that event's CBV 2.0 hash is the event ID;
3. the transaction is in the ledger (the transaction proof above).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from consortia.apps.coldchain import gs1
from consortia.apps.coldchain.batches import leaf_bytes
from consortia.apps.coldchain.eventhash import context_prefixes, event_hash_id
from consortia.apps.coldchain.facts import extension
from consortia.apps.coldchain.ingest import store_path as _store_path
from consortia.apps.coldchain.scenario import DEVICE_PREFIX
from consortia.apps.coldchain.store import ReadingStore
from consortia.ledger import merkle
from consortia.ledger.block import Block
from consortia.ledger.codes import code_name
from consortia.ledger.encoding import MalformedError, decode, decode_canonical
from consortia.ledger.proof import Step, build_proof, check_proof, corrupt_in_transit
from consortia.ledger.transaction import Envelope, Proposal, Transaction
from consortia.peer.channel import PeerChannel

READING_PROOF_FORMAT = "coldchain-reading-proof/v1"


class ProofError(LookupError):
    """No proof can be built (unknown reading or transaction, batch not anchored yet)."""


def store_path(data: Path) -> Path:
    """Where a data folder's readings are kept."""
    return _store_path(data)


def transaction_proof(peer_channel: PeerChannel, tx_id: str, *, tamper: bool = False) -> dict[str, Any]:
    """The platform proof document of a committed transaction (corrupted in transit when ``tamper``, for tests)."""
    position = peer_channel.ledger.state.tx_position(tx_id.lower())
    if position is None:
        raise ProofError(f"transaction {tx_id} is not on channel {peer_channel.name!r}")
    number, index, code = position
    block = decode_canonical(peer_channel.ledger.record(number).block, Block)
    cas = {o.msp_id: o.ca_certificate for o in peer_channel.rules.config.orderer.organisations}
    document = build_proof(block, index, peer_channel.ledger.history, cas, code_name(code))
    document["tx_id"] = tx_id.lower()
    if tamper:
        corrupt_in_transit(document)
    return document


def reading_proof(store: ReadingStore, peer_channel: PeerChannel, device: str, seq: int) -> dict[str, Any]:
    """The proof document of one stored reading."""
    found = store.reading(device, seq)
    if found is None:
        raise ProofError(f"no reading {seq} of device {device!r} is stored")
    ts_ms, celsius, window, part = found
    batch = store.batch(device, window, part)
    if batch is None or batch.status != "anchored" or batch.tx_id is None:
        raise ProofError(f"reading {seq} of {device!r} is not anchored yet (batch {window}/{part})")
    rows = store.batch_readings(device, window, part)
    order = sorted(rows, key=lambda r: (r[1], r[0]))
    index = next(i for i, row in enumerate(order) if row[0] == seq)
    leaves = [merkle.leaf_hash(leaf_bytes(device, s, t, c)) for s, t, c in order]
    return {
        "format": READING_PROOF_FORMAT,
        "reading": {"device": device, "seq": seq, "ts_ms": ts_ms, "celsius": celsius},
        "leaf_hash": leaves[index].hex(),
        "batch": {
            "device": device,
            "device_uri": f"{gs1.CANONICAL_DOMAIN}/8004/{DEVICE_PREFIX}{device}",
            "window": window,
            "part": part,
            "count": len(order),
            "index": index,
            "root": batch.root.hex(),
            "path": [h.hex() for h in merkle.inclusion_proof(leaves, index)],
            "event_id": batch.event_id,
            "tx_id": batch.tx_id,
        },
        "transaction_proof": transaction_proof(peer_channel, batch.tx_id),
    }


def anchored_events(envelope: bytes) -> tuple[list[dict[str, Any]], Any]:
    """The events and @context a capture transaction's envelope carries (its proposal's arguments)."""
    outer = decode(envelope, Envelope)
    transaction = decode(outer.payload, Transaction)
    proposal = decode(transaction.proposal, Proposal)
    if proposal.function != "capture" or len(proposal.args) < 2:
        raise ValueError(f"the transaction calls {proposal.contract}.{proposal.function}, not capture")
    return json.loads(proposal.args[0]), json.loads(proposal.args[1])


def verify_reading_proof(doc: Any) -> list[Step]:
    """Check a reading proof link by link; every step must hold (never raises for bad input)."""
    steps: list[Step] = []

    def step(name: str, ok: bool, detail: str = "") -> bool:
        steps.append(Step(name, bool(ok), detail))
        return bool(ok)

    try:
        reading, batch = doc["reading"], doc["batch"]
        leaf = merkle.leaf_hash(leaf_bytes(reading["device"], reading["seq"], reading["ts_ms"], reading["celsius"]))
        root = bytes.fromhex(batch["root"])
        path = [bytes.fromhex(h) for h in batch["path"]]
        tx_doc = doc["transaction_proof"]
        envelope = base64.b64decode(tx_doc["envelope"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        step("proof document is readable", False, str(exc))
        return steps
    step("proof document is readable", True)
    if not step("reading leaf hash", leaf.hex() == doc.get("leaf_hash"), leaf.hex()):
        return steps
    step(
        "reading is in its batch (RFC 9162 inclusion up to the batch root)",
        merkle.verify_inclusion(leaf, batch["index"], batch["count"], path, root),
        f"leaf {batch['index']} of {batch['count']}",
    )
    try:
        events, context = anchored_events(envelope)
    except (MalformedError, ValueError, TypeError) as exc:
        step("the anchoring transaction carries the batch root", False, str(exc))
        return steps
    prefixes = context_prefixes(context)
    match = None
    for event in events:
        info = extension(event, "batch", prefixes) or {}
        metadata = (event.get("sensorElementList") or [{}])[0].get("sensorMetadata", {})
        same_device = gs1.normalise_id(str(metadata.get("deviceID", ""))) == batch.get("device_uri")
        if isinstance(info, dict) and info.get("merkleRoot") == batch["root"] and same_device:
            match = event
            break
    if not step("the anchoring transaction carries the batch root", match is not None, batch["root"][:16] + "…"):
        return steps
    assert match is not None
    step("the batch event's CBV 2.0 hash is its event ID", event_hash_id(match, prefixes) == batch["event_id"])
    for inner in check_proof(tx_doc):
        steps.append(Step(f"transaction: {inner.name}", inner.ok, inner.detail))
    return steps
