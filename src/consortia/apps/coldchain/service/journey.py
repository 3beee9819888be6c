"""A lot's journey for consumers: what the QR code's page shows, with the proofs that let the phone check it.

The contract's public ``lot_journey`` gives the recorded facts as consumers may see them — the lot's events and
those of the lots it was made from, each as the *public projection* committed in its capture's Merkle tree
(:mod:`consortia.apps.coldchain.domain.commitment`), inspection verdicts, alarms, the names and coordinates of the
places on the way — and the members-only ``lot_sensors`` says which loggers watched it when (this server's own
business: it never reaches the page). :func:`build` turns them into what a person reads: names in Korean and
English, the catch area and vessel, one step per critical tracking event with place and time, the temperature
history (raw readings from the off-chain store when this server has them, else the anchored batch means), the
freshness gauge from the rules, and, for every step, its leaf with the inclusion path to its capture's root and
the transaction proof of that capture against its orderer-signed block header. The page verifies those proofs
itself (``consumer.js`` with the gateway's ``verifier.js``); the server is not trusted for them. Nothing in the
document names a lot outside the journey, a party, an order or a quantity: the envelopes carry only roots,
opaque references and hashes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consortia.apps.coldchain.domain import gs1, safety, species
from consortia.apps.coldchain.domain.cte import CTES
from consortia.apps.coldchain.service import history
from consortia.apps.coldchain.service.proofs import ProofError, transaction_proof
from consortia.apps.coldchain.service.store import ReadingStore
from consortia.peer.channel import PeerChannel

FAO_AREAS = {
    "61": {"en": "Northwest Pacific (FAO major fishing area 61)", "ko": "북서태평양 (FAO 61 해역)"},
    "67": {"en": "Northeast Pacific (FAO major fishing area 67)", "ko": "북동태평양 (FAO 67 해역)"},
    "71": {"en": "Western Central Pacific (FAO major fishing area 71)", "ko": "중서부태평양 (FAO 71 해역)"},
    "27": {"en": "Northeast Atlantic (FAO major fishing area 27)", "ko": "북동대서양 (FAO 27 해역)"},
}
MAX_POINTS = 1500


def _location(master: Mapping[str, Any], identifier: str | None) -> dict[str, Any] | None:
    if not identifier:
        return None
    attributes = master.get(identifier, {})
    gln = identifier.split("/414/", 1)[1].split("/", 1)[0] if "/414/" in identifier else None
    return {
        "id": identifier,
        "gln": gln,
        "name": {
            "en": attributes.get("name") or gln or identifier,
            "ko": attributes.get("nameKo") or attributes.get("name") or gln or identifier,
        },
        "lat": attributes.get("latitude"),
        "lon": attributes.get("longitude"),
    }


def _series(
    journey: Mapping[str, Any], store: ReadingStore | None, samples: list[Any]
) -> tuple[list[list[float]], str]:
    if samples:
        step = max(1, len(samples) // MAX_POINTS)
        return [[s.ts_ms, s.celsius] for s in samples[::step]], "readings"
    points = []
    for batch in journey.get("sensor_batches", []):
        if batch.get("mean") is not None and batch.get("start_ms") is not None:
            points.append([(batch["start_ms"] + (batch.get("end_ms") or batch["start_ms"])) // 2, batch["mean"]])
    points.sort()
    return points[:: max(1, len(points) // MAX_POINTS)], "batches"


def _safety(
    assessment: Any, samples: Sequence[Any], limits: Any, steps: Sequence[Mapping[str, Any]], recalled: bool
) -> safety.Safety:
    """The lot's one safety state from its rules, its inspections (the steps the lot's consumers see) and a recall."""
    inspections = [
        safety.Inspection(step["time_ms"], step["disposition"] == "conformant", step["kdes"].get("result"))
        for step in steps
        if step["cte"] == "inspection" and step["disposition"] in ("conformant", "non_conformant")
    ]

    def last_above(celsius: float | None) -> int | None:
        times = [s.ts_ms for s in samples if celsius is not None and s.celsius > celsius]
        return max(times) if times else None

    ends = {
        "high_temperature_exposure": last_above(limits.high_celsius if limits is not None else None),
        "critical_limit_exceeded": last_above(limits.abuse_celsius if limits is not None else None),
    }
    return safety.safety_state(
        [alarm.code for alarm in assessment.alarms] if assessment is not None else [],
        None if assessment is None else assessment.remaining_shelf_life_days / assessment.shelf_life_days_at_0c,
        inspections,
        recalled=recalled,
        exposure_end_ms=ends,
    )


def _steps(journey: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The consumer's steps (one per critical tracking event) and the lot's origin (its landing)."""
    locations = journey.get("locations", {})
    steps = []
    origin: dict[str, Any] = {}
    for event in journey.get("events", []):
        cte = event.get("cte")
        if cte is None:
            continue
        kdes = event.get("kdes", {})
        steps.append(
            {
                "eventID": event["eventID"],
                "txID": event["txID"],
                "cte": cte,
                "label": {"en": CTES[cte][0], "ko": CTES[cte][1]},
                "time_ms": event["eventTimeMs"],
                "offset": event.get("offset", "+00:00"),
                "bizStep": event.get("bizStep"),
                "disposition": event.get("disposition"),
                "location": _location(locations, event.get("location")),
                "lots": [event["lot"]] if event.get("lot") else [],
                "kdes": kdes,
                "commitment": event.get("commitment"),
            }
        )
        if cte == "first_land_based_receiving" and not origin:
            area = str(kdes.get("catch_area", ""))
            origin = {
                "catch_area": area,
                "catch_area_name": FAO_AREAS.get(area, {"en": f"FAO area {area}", "ko": f"FAO {area} 해역"}),
                "vessel_name": kdes.get("vessel_name"),
                "harvest_start": kdes.get("harvest_start"),
                "harvest_end": kdes.get("harvest_end"),
                "landed_ms": event["eventTimeMs"],
                "landed_at": _location(locations, event.get("location")),
                "species_scientific_name": kdes.get("species_scientific_name"),
                "market_name": {"en": kdes.get("market_name"), "ko": kdes.get("market_name_ko")},
            }
    return steps, origin


@dataclass(frozen=True)
class Assessed:
    """A lot's species, its temperature samples, the rules' assessment and the one safety state they give."""

    fish: species.Species | None
    samples: list[Any]
    assessment: Any
    safety: safety.Safety


def assess(
    journey: Mapping[str, Any], store: ReadingStore | None, table: species.SpeciesTable, now_ms: int
) -> Assessed:
    """The lot's safety state from its recorded journey (``lot_journey`` + ``lot_sensors``) and its readings.

    The one derivation every page and the API use: the consumer page, the dashboard, the QR page.
    """
    steps, _ = _steps(journey)
    fish, samples, assessment = (
        history.assess_lot(journey, store, table, now_ms) if store is not None else (None, [], None)
    )
    if fish is None:
        fish = history.species_of(journey, table)
    limits = fish.limits if fish and fish.scombrotoxin else None
    verdict = _safety(assessment, samples, limits, steps, bool(journey.get("recalled")))
    return Assessed(fish, list(samples), assessment, verdict)


def build(
    journey: Mapping[str, Any],
    peer_channel: PeerChannel,
    store: ReadingStore | None,
    table: species.SpeciesTable,
    *,
    tamper: bool = False,
    now_ms: int | None = None,
    proof_of: Callable[[PeerChannel, str, bool], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The consumer journey document of a lot (see the module docstring)."""
    now_ms = now_ms or int(time.time() * 1000)
    lot = gs1.LotId.from_key(journey["lot"])
    product = journey.get("products", {}).get(lot.gtin, {})
    steps, origin = _steps(journey)
    assessed = assess(journey, store, table, now_ms)
    fish, samples, assessment = assessed.fish, assessed.samples, assessed.assessment
    series, source = _series(journey, store, samples)
    make_proof = proof_of or (lambda channel, tx, bad: transaction_proof(channel, tx, tamper=bad))
    proofs: dict[str, Any] = {}
    for step in steps:
        if step["txID"] not in proofs:
            try:
                proofs[step["txID"]] = make_proof(peer_channel, step["txID"], tamper)
            except ProofError:
                proofs[step["txID"]] = None
    limits = fish.limits if fish and fish.scombrotoxin else None
    verdicts = journey.get("inspections", {})
    verdict = assessed.safety
    return {
        "lot": lot.key,
        "gtin": lot.gtin,
        "lot_number": lot.lot,
        "digital_link": lot.canonical,
        "channel": peer_channel.name,
        "product": {
            "en": product.get("descriptionShort") or (fish.label("en") if fish else lot.gtin),
            "ko": product.get("descriptionKo") or (fish.label("ko") if fish else lot.gtin),
        },
        "species": None
        if fish is None
        else {
            "name": fish.name,
            "scientific_name": fish.scientific_name,
            "label": {"en": fish.label("en"), "ko": fish.label("ko")},
            "scombrotoxin": fish.scombrotoxin,
            "shelf_life_days_at_0c": fish.shelf_life_days_at_0c,
            "shelf_life_source": fish.shelf_life_source,
        },
        "limits": None
        if limits is None
        else {
            "abuse_celsius": limits.abuse_celsius,
            "high_celsius": limits.high_celsius,
            "max_hours_above_abuse": limits.max_hours_above_abuse,
            "max_hours_above_abuse_if_high": limits.max_hours_above_abuse_if_high,
            "citation": limits.citation,
        },
        "origin": origin,
        "steps": steps,
        "temperature": {"series": series, "source": source},
        "assessment": None if assessment is None else assessment.as_dict(),
        "freshness": None
        if assessment is None
        else {
            "remaining_days": round(assessment.remaining_shelf_life_days, 2),
            "shelf_life_days": assessment.shelf_life_days_at_0c,
            "fraction": max(0.0, min(1.0, assessment.remaining_shelf_life_days / assessment.shelf_life_days_at_0c)),
        },
        "inspections": [
            {"lot": key, **{k: v for k, v in verdict.items() if k in ("disposition", "time", "result", "eventID")}}
            for key, verdict in sorted(verdicts.items())
        ],
        "inspection_texts": [
            {"en": s["kdes"].get("result"), "ko": s["kdes"].get("resultKo"), "time_ms": s["time_ms"]}
            for s in steps
            if s["cte"] == "inspection" and s["kdes"].get("result")
        ],
        "alarms": journey.get("alarms", []),
        "safety": verdict.as_dict(),
        "recalled": bool(journey.get("recalled")),
        "upstream": journey.get("upstream", []),
        "proofs": proofs,
        "generated_ms": now_ms,
    }
