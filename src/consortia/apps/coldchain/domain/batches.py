"""Batches of readings: one per device and time window, committed to by a Merkle root that the ledger keeps.

Per device, readings fall into fixed windows of event time (``window = ts // W``, five minutes by default). A
window is *sealed* once the device's newest reading is past the window's end by the allowed lateness: its
readings, in time order, become the leaves of an RFC 9162 Merkle tree, and the batch — count, min, max, mean,
the root — is anchored as an EPCIS ``sensor_reporting`` ObjectEvent of the lots the device watched (kept by the
members, committed to on the ledger by its capture's Merkle root).
A reading that arrives after its window was sealed opens a further *part* of that window, sealed and anchored
in turn, so late readings are proven too.

A leaf is the canonical JSON of the reading prefixed with a domain tag,
``coldchain-reading/v1\\x00{"celsius":1.8,"device":"LG-007","seq":1042,"ts_ms":1709579400000}``, so a reading's
inclusion proof needs only the reading, the path and the root.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from consortia.apps.coldchain.domain import timestamps
from consortia.apps.coldchain.domain.facts import NS, PREFIX
from consortia.apps.coldchain.domain.gs1 import LotId
from consortia.ledger import merkle
from consortia.ledger.encoding import canonical_json

LEAF_TAG = b"coldchain-reading/v1\x00"
LEAF_FORMAT = "coldchain-reading/v1"
PROCESSING_METHOD = NS + "merkle-batch-v1"


def leaf_bytes(device: str, seq: int, ts_ms: int, celsius: float) -> bytes:
    """The leaf data of a reading."""
    return LEAF_TAG + canonical_json({"celsius": celsius, "device": device, "seq": seq, "ts_ms": ts_ms})


@dataclass(frozen=True)
class Sealed:
    """A sealed batch: statistics and Merkle root of its readings."""

    device: str
    window: int
    part: int
    start_ms: int
    end_ms: int
    count: int
    min: float
    max: float
    mean: float
    root: bytes
    first_seq: int
    last_seq: int


def seal(device: str, window: int, part: int, window_ms: int, rows: Sequence[tuple[int, int, float]]) -> Sealed:
    """Seal a batch from its readings ``(seq, ts_ms, celsius)`` (sorted here into leaf order)."""
    if not rows:
        raise ValueError("a batch needs at least one reading")
    ordered = sorted(rows, key=lambda r: (r[1], r[0]))
    leaves = [merkle.leaf_hash(leaf_bytes(device, seq, ts, c)) for seq, ts, c in ordered]
    values = [c for _, _, c in ordered]
    seqs = [s for s, _, _ in ordered]
    return Sealed(
        device=device,
        window=window,
        part=part,
        start_ms=window * window_ms,
        end_ms=(window + 1) * window_ms,
        count=len(ordered),
        min=min(values),
        max=max(values),
        mean=round(sum(values) / len(values), 3),
        root=merkle.root(leaves),
        first_seq=min(seqs),
        last_seq=max(seqs),
    )


def anchor_event(
    batch: Sealed,
    device_uri: str,
    lots: Sequence[str],
    *,
    read_point: str | None = None,
    alarm_above: float | None = None,
    offset: str = "+09:00",
) -> dict[str, Any]:
    """The EPCIS ``sensor_reporting`` ObjectEvent that puts a batch's root on the ledger."""
    report: dict[str, Any] = {
        "type": "Temperature",
        "minValue": batch.min,
        "maxValue": batch.max,
        "meanValue": batch.mean,
        "uom": "CEL",
    }
    alarm = alarm_above is not None and batch.max > alarm_above
    if alarm:
        report["exception"] = "ALARM_CONDITION"
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": timestamps.iso_local(batch.end_ms, offset),
        "eventTimeZoneOffset": offset,
        "epcList": [],
        "action": "OBSERVE",
        "bizStep": "sensor_reporting",
        "sensorElementList": [
            {
                "sensorMetadata": {
                    "deviceID": device_uri,
                    "startTime": timestamps.iso_local(batch.start_ms, offset),
                    "endTime": timestamps.iso_local(batch.end_ms, offset),
                    "dataProcessingMethod": PROCESSING_METHOD,
                },
                "sensorReport": [report],
            }
        ],
        f"{PREFIX}:batch": {
            "merkleRoot": batch.root.hex(),
            "count": batch.count,
            "part": batch.part,
            "firstSeq": batch.first_seq,
            "lastSeq": batch.last_seq,
            "leafFormat": LEAF_FORMAT,
        },
    }
    if lots:
        event["quantityList"] = [{"epcClass": LotId.from_key(lot).canonical} for lot in lots]
    if read_point:
        event["readPoint"] = {"id": read_point}
    if alarm:
        event[f"{PREFIX}:alarm"] = True
    return event
