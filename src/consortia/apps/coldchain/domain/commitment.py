"""Commitments: how a capture proves each event to consumers without putting the event on the ledger.

An EPCIS event is commercial: it names order and despatch numbers, source and destination parties, owning
parties, quantities, and every lot it touches. None of that may go on the ledger in clear, yet a consumer who
scans a lot's QR code must be able to check each step of its journey against the orderer-signed block header.
The two meet in a Merkle tree per capture transaction:

* The capturing client sends the whole events only as *transient data* (they reach the endorsing peers, never
  the block). For every event it draws a random *salt*.
* For every lot an event names directly, the event contributes one **leaf**: the canonical JSON of its *public
  projection* — what the consumer page shows (event time and offset, business step, disposition, critical
  tracking event, the location drawn on the map, that one lot, the event ID, the key data elements consumers
  see) — plus ``"sealed"``, the hex SHA-256 of ``salt ‖ canonical JSON of the full event``. An event that names
  no lot directly (a pallet shipped) or names containers besides lots gets one leaf with ``"lot": null``. A leaf
  never names a second lot: the lots a transformation made from the same input are in other leaves.
* The transaction's only public argument is the RFC 9162 Merkle **root** of those leaves, with their **count**.
  The contract recomputes the leaves from the transient events and refuses the capture if the root differs, so
  the root on the ledger commits to exactly the events the members stored in their private collection.

A consumer then gets, per step: the leaf, its index, the count and the inclusion path; and the platform's proof
of the capture transaction. They check leaf → root (RFC 9162 inclusion), root = the envelope's argument, and
envelope → signed block header. The siblings on the path are hashes of salted leaves: they disclose nothing. A
member holding the full event and its salt can also check ``"sealed"`` (:func:`sealed_holds`).

The module is shared by the contract (which must compute exactly what the client computed), the capturing
client, the journey builder and the Python verifier; everything here is deterministic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consortia.apps.coldchain.domain import gs1, timestamps
from consortia.apps.coldchain.domain.cte import classify, kdes
from consortia.apps.coldchain.domain.facts import EventFacts, event_facts, extension
from consortia.ledger import merkle
from consortia.ledger.encoding import canonical_json, parse_json
from consortia.ledger.transaction import open_envelope

LEAF_FORMAT = "coldchain-leaf/v1"
CAPTURE_FUNCTION = "capture"
MIN_SALT_BYTES = 16
MAX_SALT_BYTES = 64

PUBLIC_KDES = (
    "species_scientific_name",
    "species",
    "market_name",
    "market_name_ko",
    "harvest_start",
    "harvest_end",
    "catch_area",
    "vessel_name",
    "result",
    "resultKo",
    "histaminePpm",
)
"""Key data elements a consumer sees (the consumer page draws these); vessel ids, gear, notes stay private."""


@dataclass(frozen=True)
class Leaf:
    """One leaf of a capture's tree: which event and lot it is about, and its bytes (canonical JSON)."""

    event_index: int
    lot: str | None
    data: bytes

    @property
    def hash(self) -> bytes:
        """The RFC 9162 leaf hash, SHA-256(0x00 ‖ data)."""
        return merkle.leaf_hash(self.data)


@dataclass(frozen=True)
class Commitment:
    """What a capture transaction puts on the ledger: the Merkle root of its leaves and how many there are."""

    root: bytes
    count: int


@dataclass(frozen=True)
class CaptureCall:
    """What a transaction envelope says it calls, read from its proposal (the Python verifier's view)."""

    contract: str
    function: str
    tx_id: str
    args: tuple[Any, ...]


def stored_event(event: Mapping[str, Any], event_id: str) -> dict[str, Any]:
    """The event as the members store it: its fields with ``eventID`` first (the one assigned, given or hashed)."""
    return {"eventID": event_id, **{k: v for k, v in event.items() if k != "eventID"}}


def seal(salt: bytes, event: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the salt and the canonical JSON of the full event (the leaf's ``sealed`` field)."""
    return hashlib.sha256(salt + canonical_json(event)).hexdigest()


def check_salt(text: Any, where: str) -> bytes:
    """A salt from its hex form; raise ValueError naming ``where`` unless it is 16 to 64 bytes of hex."""
    try:
        salt = bytes.fromhex(text) if isinstance(text, str) else b""
    except ValueError:
        salt = b""
    if not MIN_SALT_BYTES <= len(salt) <= MAX_SALT_BYTES:
        raise ValueError(
            f"{where}: a salt must be {MIN_SALT_BYTES} to {MAX_SALT_BYTES} bytes in hex, got {str(text)[:20]!r}"
        )
    return salt


def leaf_lots(facts: EventFacts) -> list[str | None]:
    """The lots an event's leaves are about: each lot it names directly, and None for its containers or itself."""
    lots: list[str | None] = list(facts.lots)
    if not lots or facts.containers:
        lots.append(None)
    return lots


def public_kdes(event: Mapping[str, Any], facts: EventFacts, lot: str | None) -> dict[str, Any]:
    """The key data elements of an event a consumer of ``lot`` may see (never another lot's name)."""
    return _for_lot(_public(event, facts), facts, lot)


def _public(event: Mapping[str, Any], facts: EventFacts) -> dict[str, Any]:
    data = kdes(event, facts)
    return {k: data[k] for k in PUBLIC_KDES if k in data}


def _for_lot(public: Mapping[str, Any], facts: EventFacts, lot: str | None) -> dict[str, Any]:
    out = dict(public)
    if lot is not None and (facts.event_type == "TransformationEvent" or facts.transformation_id):
        if lot in facts.output_lots:
            out["input_lots"] = list(facts.input_lots)  # what the lot was made from: its own upstream
            out["output_lots"] = [lot]
        elif lot in facts.input_lots:
            out["input_lots"] = [lot]  # what else was made from it is none of this lot's consumers' business
    return out


def _ms(text: Any) -> int | None:
    try:
        return timestamps.to_ms(text) if isinstance(text, str) else None
    except timestamps.TimestampError:
        return None


def sensor_summary(event: Mapping[str, Any], prefixes: Mapping[str, str] | None) -> dict[str, Any] | None:
    """For a ``sensor_reporting`` event: its logger, period, temperature statistics and anchored batch root."""
    elements = event.get("sensorElementList")
    if not isinstance(elements, list) or not elements or not isinstance(elements[0], Mapping):
        return None
    element = elements[0]
    metadata = element.get("sensorMetadata") if isinstance(element.get("sensorMetadata"), Mapping) else {}
    reports = element.get("sensorReport") if isinstance(element.get("sensorReport"), list) else []
    report = next(
        (r for r in reports if isinstance(r, Mapping) and r.get("type") in ("Temperature", "gs1:Temperature")), {}
    )
    batch = extension(event, "batch", prefixes)
    batch = batch if isinstance(batch, Mapping) else {}
    device = metadata.get("deviceID")
    return {
        "device": gs1.normalise_id(device) if isinstance(device, str) else None,
        "start_ms": _ms(metadata.get("startTime")),
        "end_ms": _ms(metadata.get("endTime")),
        "min": report.get("minValue"),
        "max": report.get("maxValue"),
        "mean": report.get("meanValue"),
        "uom": report.get("uom"),
        "alarm": report.get("exception") == "ALARM_CONDITION",
        "merkleRoot": batch.get("merkleRoot"),
        "count": batch.get("count"),
        "part": batch.get("part"),
    }


def projection(
    event: Mapping[str, Any],
    event_id: str,
    facts: EventFacts,
    cte: str | None,
    prefixes: Mapping[str, str] | None,
    lot: str | None,
    sealed: str,
    public: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The public projection of an event for one lot, as committed in its leaf (``public``: its public KDEs)."""
    out: dict[str, Any] = {
        "format": LEAF_FORMAT,
        "eventID": event_id,
        "eventType": facts.event_type,
        "eventTime": facts.time_ms,
        "offset": facts.offset,
        "bizStep": facts.biz_step,
        "disposition": facts.disposition,
        "cte": cte,
        "location": facts.biz_location or facts.read_point,
        "lot": lot,
        "kdes": _for_lot(public if public is not None else _public(event, facts), facts, lot),
        "sealed": sealed,
    }
    if facts.biz_step == "sensor_reporting":
        out["sensor"] = sensor_summary(event, prefixes)
    return out


def event_leaves(
    event: Mapping[str, Any],
    event_id: str,
    facts: EventFacts,
    cte: str | None,
    prefixes: Mapping[str, str] | None,
    salt: bytes,
    event_index: int,
) -> list[Leaf]:
    """The leaves of one event (``event`` as stored, see :func:`stored_event`)."""
    sealed = seal(salt, event)
    public = _public(event, facts)
    return [
        Leaf(event_index, lot, canonical_json(projection(event, event_id, facts, cte, prefixes, lot, sealed, public)))
        for lot in leaf_lots(facts)
    ]


def capture_leaves(
    events: Sequence[Mapping[str, Any]],
    event_ids: Sequence[str],
    prefixes: Mapping[str, str] | None,
    salts: Sequence[bytes],
) -> list[Leaf]:
    """Every leaf of a capture, in order: events in document order, each event's lots in the order it names them."""
    if not len(events) == len(event_ids) == len(salts):
        raise ValueError(f"{len(events)} events need as many event IDs and salts, got {len(event_ids)}, {len(salts)}")
    leaves: list[Leaf] = []
    for index, (event, event_id, salt) in enumerate(zip(events, event_ids, salts, strict=True)):
        stored = stored_event(event, event_id)
        facts = event_facts(stored)
        leaves.extend(event_leaves(stored, event_id, facts, classify(stored, facts), prefixes, salt, index))
    return leaves


def commit(leaves: Sequence[Leaf]) -> Commitment:
    """The Merkle root and count of a capture's leaves."""
    return Commitment(merkle.root([leaf.hash for leaf in leaves]), len(leaves))


def sealed_holds(leaf_text: str, event: Mapping[str, Any], salt_hex: str) -> bool:
    """Whether a leaf's ``sealed`` commits to this full event and salt (what a member holding both can check)."""
    try:
        leaf = parse_json(leaf_text)
        return isinstance(leaf, dict) and leaf.get("sealed") == seal(bytes.fromhex(salt_hex), event)
    except ValueError:
        return False


def capture_call(envelope: bytes) -> CaptureCall:
    """The contract, function, transaction id and decoded arguments of a transaction envelope."""
    proposal = open_envelope(envelope).proposal
    return CaptureCall(
        proposal.contract, proposal.function, proposal.tx_id, tuple(parse_json(arg) for arg in proposal.args)
    )


def committed_root(envelope: bytes, contract: str) -> Commitment:
    """The commitment a capture transaction's envelope carries; ValueError when it is not such a transaction."""
    call = capture_call(envelope)
    if call.contract != contract or call.function != CAPTURE_FUNCTION:
        raise ValueError(f"the transaction calls {call.contract}.{call.function}, not {contract}.{CAPTURE_FUNCTION}")
    if len(call.args) != 2 or not isinstance(call.args[0], str) or not isinstance(call.args[1], int):
        raise ValueError(f"a capture's arguments are (root hex, leaf count), found {list(call.args)[:2]!r}")
    return Commitment(bytes.fromhex(call.args[0]), call.args[1])


def leaf_holds(leaf_text: str, index: int, count: int, path: Sequence[str], commitment: Commitment) -> bool:
    """Whether a leaf sits at ``index`` of the capture tree whose root and size the ledger committed to."""
    try:
        proof = [bytes.fromhex(h) for h in path]
    except (TypeError, ValueError):
        return False
    leaf = merkle.leaf_hash(leaf_text.encode())
    return count == commitment.count and merkle.verify_inclusion(leaf, index, count, proof, commitment.root)
