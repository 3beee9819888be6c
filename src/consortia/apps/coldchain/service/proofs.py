"""Proofs: that a step of a lot's journey is on the ledger, and that a single raw reading is in an anchored batch.

Neither proof discloses what it does not prove. A capture transaction carries no event, only the Merkle root of
its events' public projections (:mod:`consortia.apps.coldchain.domain.commitment`); so each proof goes through that
root.

A *journey step* (the consumer page's, :func:`verify_journey` here and ``consumer.js`` in the browser) holds when

1. its leaf — the canonical JSON of the step's public projection — says exactly what the step shows;
2. the leaf is at ``index`` of the capture's tree of ``count`` leaves whose root the capture transaction's
   envelope carries as its argument (RFC 9162 inclusion);
3. that envelope is the transaction named, in the ledger under an orderer-signed block header (the platform's
   transaction proof, :func:`consortia.ledger.proof.build_transaction_proof`).

A *reading proof* chains:

1. the reading's leaf (``coldchain-reading/v1`` canonical JSON) is at ``index`` of the batch's Merkle tree whose
   root is ``root`` (RFC 9162 inclusion);
2. the anchoring ``sensor_reporting`` event's leaf names the same logger and that batch root, and sits in its
   capture's tree whose root the anchoring transaction carries;
3. for members, who hold the full event and its salt: the leaf's ``sealed`` hash is over that event, and the
   event's CBV 2.0 hash is its event ID;
4. the transaction is in the ledger (the transaction proof).

Other loggers' batches anchored in the same transaction appear in either proof only as sibling hashes.

Browsers verify reading proofs too (``readingproof.js`` with the gateway's ``verifier.js``, step for step as
:func:`verify_reading_proof`, whose step names it shares). What a browser gets is :func:`browser_reading_proof`:
no ``sealed`` part (the full event names every lot the logger watched, and the salt is the members'), and the
anchoring event's leaf for the lot the page is about, never another lot's. A consumer's proof is chosen by the
instant of a reading the page already shows (:func:`public_reading_proof`): the logger is the one that spoke for
the lot then, so nobody can ask for a reading of a logger that never watched the lot. The reading's leaf commits to
the logger's id and its sequence number, and the anchoring leaf names the logger: both are in the document, and
the page shows them beside the reading.

Proofs are built from a member peer's channel: the open :class:`~consortia.peer.channel.PeerChannel` of a running
network, or a :class:`LedgerView` — the same peer's ledger opened read-only beside the node that serves the folder
(no lock, no repair), which is how ``consortia coldchain reading-proof`` works while ``consortia demo`` serves.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consortia.apps.coldchain.consortium import COLLECTION, CONTRACT
from consortia.apps.coldchain.contract.contract import SECRET_KEY, event_key, leaf_texts, reference
from consortia.apps.coldchain.domain import commitment, gs1
from consortia.apps.coldchain.domain.batches import leaf_bytes
from consortia.apps.coldchain.domain.eventhash import context_prefixes, event_hash_id
from consortia.apps.coldchain.domain.facts import DEVICE_PREFIX
from consortia.apps.coldchain.service.history import device_token, segments
from consortia.apps.coldchain.service.ingest import store_path as _store_path
from consortia.apps.coldchain.service.store import ReadingStore
from consortia.ledger import merkle
from consortia.ledger.encoding import MalformedError, parse_json
from consortia.ledger.history import HistoryTree
from consortia.ledger.ledger import ChannelLedger
from consortia.ledger.proof import (
    Step,
    UnknownTransaction,
    build_transaction_proof,
    check_proof,
    corrupt_in_transit,
)
from consortia.peer.channel import PeerChannel

READING_PROOF_FORMAT = "coldchain-reading-proof/v2"
SEP = "\x1f"


class ProofError(LookupError):
    """No proof can be built (unknown reading or transaction, batch not anchored yet)."""


def store_path(data: Path) -> Path:
    """Where a data folder's readings are kept."""
    return _store_path(data)


@dataclass(frozen=True)
class LedgerView:
    """A member peer's channel ledger, open read-only beside the node that serves it (a command's view)."""

    org: str
    ledger: ChannelLedger
    history: HistoryTree
    orderer_cas: Mapping[str, bytes]

    @classmethod
    def open(cls, directory: Path, org: str) -> LedgerView:
        """Open the peer ledger in ``directory`` (``peers/<org>/<channel>``) read-only, with its history tree."""
        from consortia.channel.rules import read_genesis

        ledger = ChannelLedger(directory, read_only=True)
        try:
            history = HistoryTree(directory / "history", read_only=True)
        except BaseException:
            ledger.close()
            raise
        config, _ = read_genesis(ledger.block(0))
        return cls(org, ledger, history, config.orderer_cas())

    def close(self) -> None:
        """Close the ledger and the tree."""
        self.ledger.close()
        self.history.close()


Channel = PeerChannel | LedgerView
"""Where a proof is read from: a running peer's channel, or a read-only view of its ledger."""


def transaction_proof(peer_channel: Channel, tx_id: str, *, tamper: bool = False) -> dict[str, Any]:
    """The platform proof document of a committed transaction (corrupted in transit when ``tamper``, for tests)."""
    try:
        if isinstance(peer_channel, LedgerView):
            document = build_transaction_proof(
                peer_channel.ledger, tx_id.lower(), peer_channel.orderer_cas, peer_channel.history
            )
        else:
            cas = peer_channel.rules.config.orderer_cas()
            document = build_transaction_proof(peer_channel.ledger, tx_id.lower(), cas)
    except UnknownTransaction as exc:
        raise ProofError(str(exc)) from None
    if tamper:
        corrupt_in_transit(document)
    return document


def _private(peer_channel: Channel, key: str) -> Any:
    """A private record of the cold-chain collection as this (member) peer holds it, or None."""
    found = peer_channel.ledger.state.private_get(CONTRACT, COLLECTION, key)
    return None if found is None else parse_json(found.value)


def _leaf_for(texts: list[str], lot: str | None) -> int:
    """Which of an event's leaves to prove: the one about ``lot`` (else the lot-less one); the first when no lot."""
    if lot is None:
        return 0
    lots = [parse_json(text).get("lot") for text in texts]
    for wanted in (lot, None):
        if wanted in lots:
            return lots.index(wanted)
    raise ProofError(f"the anchoring event has no leaf about lot {lot}")


def event_commitment(peer_channel: Channel, event_id: str, lot: str | None = None) -> dict[str, Any]:
    """An event's leaf (about ``lot``, else its first), its path to its capture's root, and the full event and salt."""
    secret = _private(peer_channel, SECRET_KEY)
    key = event_key(reference(bytes.fromhex(secret["secret"]), "ev", event_id)) if secret else None
    record = _private(peer_channel, key) if key else None
    if record is None:
        raise ProofError(
            f"event {event_id} is not in the private collection of {peer_channel.org}'s peer (is it a member?)"
        )
    committed = record["commitment"]
    capture = _private(peer_channel, f"cap{SEP}{committed['txID']}") or {"leaves": []}
    leaves = [bytes.fromhex(h) for h in capture["leaves"]]
    texts = leaf_texts(record)
    offset = _leaf_for(texts, lot)
    index = committed["first"] + offset
    if index >= len(leaves):
        raise ProofError(f"the capture record of transaction {committed['txID']} lacks leaf {index}")
    return {
        "tx_id": committed["txID"],
        "leaf": texts[offset],
        "index": index,
        "count": len(leaves),
        "path": [h.hex() for h in merkle.inclusion_proof(leaves, index)],
        "sealed": {"event": record["event"], "salt": committed["salt"], "prefixes": record.get("prefixes", {})},
    }


def reading_proof(
    store: ReadingStore, peer_channel: Channel, device: str, seq: int, *, lot: str | None = None, tamper: bool = False
) -> dict[str, Any]:
    """The proof document of one stored reading (through the anchoring leaf about ``lot``, when given)."""
    found = store.reading(device, seq)
    if found is None:
        raise ProofError(f"no reading {seq} of device {device!r} is stored")
    ts_ms, celsius, window, part = found
    batch = store.batch(device, window, part)
    if batch is None or batch.status != "anchored" or batch.tx_id is None or batch.event_id is None:
        raise ProofError(f"reading {seq} of {device!r} is not anchored yet (batch {window}/{part})")
    rows = store.batch_readings(device, window, part)
    order = sorted(rows, key=lambda r: (r[1], r[0]))
    index = next(i for i, row in enumerate(order) if row[0] == seq)
    leaves = [merkle.leaf_hash(leaf_bytes(device, s, t, c)) for s, t, c in order]
    event = event_commitment(peer_channel, batch.event_id, lot)
    sealed = event.pop("sealed")
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
        "event": event,
        "sealed": sealed,
        "transaction_proof": transaction_proof(peer_channel, batch.tx_id, tamper=tamper),
    }


def browser_reading_proof(
    store: ReadingStore, peer_channel: Channel, device: str, seq: int, *, lot: str | None = None, tamper: bool = False
) -> dict[str, Any]:
    """A reading proof as a browser gets it: without the members' ``sealed`` part (see the module docstring)."""
    document = reading_proof(store, peer_channel, device, seq, lot=lot, tamper=tamper)
    del document["sealed"]
    return document


def reading_at(store: ReadingStore, device: str, ts_ms: int) -> int | None:
    """The sequence number of a logger's reading taken at ``ts_ms``, if one is in a sealed batch."""
    for batch in store.batches():
        if batch.device != device or not batch.start_ms <= ts_ms < batch.end_ms:
            continue
        for seq, ts, _ in store.batch_readings(device, batch.window, batch.part):
            if ts == ts_ms:
                return seq
    return None


def public_reading_proof(
    store: ReadingStore, peer_channel: Channel, recorded: Mapping[str, Any], ts_ms: int, *, tamper: bool = False
) -> dict[str, Any]:
    """The browser proof of the reading a lot's page shows at ``ts_ms`` (``recorded``: its lot_journey + lot_sensors).

    The logger is the one that spoke for the lot (or a lot it was made from) at that instant, and the anchoring
    leaf is the one about that lot: a consumer learns nothing about a lot that is not on the journey.
    """
    journey_lots = {recorded.get("lot"), *(recorded.get("upstream") or [])}
    for part in segments(recorded.get("device_intervals") or []):
        if part.start_ms <= ts_ms and (part.end_ms is None or ts_ms < part.end_ms):
            device = device_token(part.device)
            if device is None:
                break
            seq = reading_at(store, device, ts_ms)
            if seq is None:
                break
            lot = part.lot if part.lot in journey_lots else recorded.get("lot")
            return browser_reading_proof(store, peer_channel, device, seq, lot=lot, tamper=tamper)
    raise ProofError(f"no reading of lot {recorded.get('lot')} was taken at {ts_ms} (or it is not sealed yet)")


def _envelope(tx_doc: Mapping[str, Any]) -> bytes:
    return base64.b64decode(tx_doc["envelope"], validate=True)


def _commitment_steps(
    leaf_text: str, index: int, count: int, path: list[str], tx_doc: Mapping[str, Any], tx_id: str
) -> list[Step]:
    """Leaf → capture root → root is the envelope's argument → envelope is ``tx_id`` → transaction proof."""
    steps: list[Step] = []
    try:
        envelope = _envelope(tx_doc)
        call = commitment.capture_call(envelope)
        committed = commitment.committed_root(envelope, CONTRACT)
    except (KeyError, TypeError, ValueError, MalformedError) as exc:
        steps.append(Step("the capture transaction carries a Merkle root", False, str(exc)))
        return steps
    steps.append(
        Step(
            "leaf is in the capture's tree whose root the transaction carries (RFC 9162 inclusion)",
            commitment.leaf_holds(leaf_text, index, count, path, committed),
            f"leaf {index} of {count}, root {committed.root.hex()[:16]}…",
        )
    )
    steps.append(Step("the envelope is the capture transaction named", call.tx_id == tx_id.lower(), call.tx_id))
    for inner in check_proof(tx_doc):
        steps.append(Step(f"transaction: {inner.name}", inner.ok, inner.detail))
    return steps


MAX_SAFE_INTEGER = (1 << 53) - 1
"""Largest integer a browser reads exactly from JSON: a reading's seq and time must be below it for both verifiers."""


def _whole(value: Any, what: str) -> int:
    """An integer field of a reading (2.0 counts as 2, as it does for a browser); TypeError otherwise."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_SAFE_INTEGER:
        raise TypeError(f"{what} must be an integer, found {value!r:.40}")
    return value


def _reading_leaf(reading: Mapping[str, Any]) -> bytes:
    """The leaf hash of a proof's reading; TypeError or KeyError when a field is missing or of the wrong type."""
    device, celsius = reading["device"], reading["celsius"]
    if not isinstance(device, str):
        raise TypeError(f"device must be a string, found {device!r:.40}")
    if isinstance(celsius, bool) or not isinstance(celsius, int | float):
        raise TypeError(f"celsius must be a number, found {celsius!r:.40}")
    # The leaf format writes celsius as a float (readings are parsed with float()); JSON may have lost the ".0".
    return merkle.leaf_hash(
        leaf_bytes(device, _whole(reading["seq"], "seq"), _whole(reading["ts_ms"], "ts_ms"), float(celsius))
    )


def verify_reading_proof(doc: Any) -> list[Step]:
    """Check a reading proof link by link; every step must hold (never raises for bad input)."""
    steps: list[Step] = []

    def step(name: str, ok: bool, detail: str = "") -> bool:
        steps.append(Step(name, bool(ok), detail))
        return bool(ok)

    try:
        reading, batch, event = doc["reading"], doc["batch"], doc["event"]
        leaf = _reading_leaf(reading)
        root = bytes.fromhex(batch["root"])
        path = [bytes.fromhex(h) for h in batch["path"]]
        index, count = batch["index"], batch["count"]
        tx_doc = doc["transaction_proof"]
        anchored = parse_json(event["leaf"])
        sensor = anchored["sensor"] or {}
        if not isinstance(sensor, Mapping):
            raise TypeError("the anchoring leaf's sensor must be an object")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        step("proof document is readable", False, str(exc))
        return steps
    step("proof document is readable", True)
    if not step("reading leaf hash", leaf.hex() == doc.get("leaf_hash"), leaf.hex()):
        return steps
    step(
        "reading is in its batch (RFC 9162 inclusion up to the batch root)",
        merkle.verify_inclusion(leaf, index, count, path, root),
        f"leaf {index} of {count}",
    )
    step(
        "the anchoring event's leaf names this logger and this batch root",
        sensor.get("merkleRoot") == batch["root"]
        and sensor.get("device") == batch.get("device_uri")
        and sensor.get("count") == count
        and anchored.get("eventID") == batch.get("event_id"),
        batch["root"][:16] + "…",
    )
    sealed = doc.get("sealed")
    if isinstance(sealed, Mapping):  # a member's proof: the full event and its salt
        try:
            full, salt = sealed["event"], sealed["salt"]
            step("the leaf's sealed hash is over the full event", commitment.sealed_holds(event["leaf"], full, salt))
            unnamed = {k: v for k, v in full.items() if k != "eventID"}
            prefixes = context_prefixes([sealed.get("prefixes") or {}])
            step(
                "the batch event's CBV 2.0 hash is its event ID",
                event_hash_id(unnamed, prefixes) == batch["event_id"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            step("the leaf's sealed hash is over the full event", False, str(exc))
    try:
        steps.extend(
            _commitment_steps(event["leaf"], event["index"], event["count"], event["path"], tx_doc, batch["tx_id"])
        )
    except (KeyError, TypeError, AttributeError) as exc:
        step("the capture transaction carries a Merkle root", False, str(exc))
    return steps


def _same(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)


def step_matches_leaf(step: Mapping[str, Any], leaf: Mapping[str, Any], lots: set[str]) -> list[str]:
    """What a journey step shows that its leaf does not say (empty when the step shows only committed facts)."""
    problems = []
    location = step.get("location")
    for name, shown, committed in (
        ("eventID", step.get("eventID"), leaf.get("eventID")),
        ("time", step.get("time_ms"), leaf.get("eventTime")),
        ("offset", step.get("offset"), leaf.get("offset")),
        ("cte", step.get("cte"), leaf.get("cte")),
        ("bizStep", step.get("bizStep"), leaf.get("bizStep")),
        ("disposition", step.get("disposition"), leaf.get("disposition")),
        ("location", location.get("id") if isinstance(location, Mapping) else None, leaf.get("location")),
        ("kdes", step.get("kdes"), leaf.get("kdes")),
        ("lots", step.get("lots"), [leaf["lot"]] if leaf.get("lot") else []),
    ):
        if not _same(shown, committed):
            problems.append(f"{name}: shown {shown!r:.60}, committed {committed!r:.60}")
    if leaf.get("format") != commitment.LEAF_FORMAT:
        problems.append(f"leaf format {leaf.get('format')!r}, expected {commitment.LEAF_FORMAT}")
    if leaf.get("lot") is not None and leaf["lot"] not in lots:
        problems.append(f"the leaf is about lot {leaf['lot']}, which is not on this journey")
    return problems


def verify_journey(journey: Mapping[str, Any]) -> dict[str, list[Step]]:
    """Check every step of a consumer journey document: the steps of each, by event ID (never raises)."""
    out: dict[str, list[Step]] = {}
    proofs = journey.get("proofs") or {}
    lots = set(journey.get("upstream") or []) | {journey.get("lot")}
    for index, step in enumerate(journey.get("steps") or []):
        name = str(step.get("eventID", index)) if isinstance(step, Mapping) else str(index)
        steps: list[Step] = []
        try:
            committed = step["commitment"]
            leaf = parse_json(committed["leaf"])
            tx_doc = proofs[step["txID"]]
            if not isinstance(leaf, Mapping) or not isinstance(tx_doc, Mapping):
                raise TypeError("the leaf and the transaction proof must be JSON objects")
        except (KeyError, TypeError, ValueError) as exc:
            out[name] = [Step("step carries its leaf, path and transaction proof", False, str(exc))]
            continue
        problems = step_matches_leaf(step, leaf, lots)
        steps.append(Step("the step shows what its leaf commits to", not problems, "; ".join(problems)))
        try:
            steps.extend(
                _commitment_steps(
                    committed["leaf"], committed["index"], committed["count"], committed["path"], tx_doc, step["txID"]
                )
            )
        except (KeyError, TypeError) as exc:
            steps.append(Step("the capture transaction carries a Merkle root", False, str(exc)))
        out[name] = steps
    return out


def journey_holds(journey: Mapping[str, Any]) -> bool:
    """Whether a journey has steps and every check of every step held."""
    results = verify_journey(journey)
    return bool(results) and all(steps and all(s.ok for s in steps) for steps in results.values())
