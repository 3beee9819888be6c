"""A lot's temperature history: the readings of the loggers that watched it, and of the lots it was made from.

The ledger says which logger watched a lot when (association intervals, see ``ColdChain.lot_sensors``), and
for a lot made by transformation, which loggers watched its input lots until the transformation. Where two
intervals overlap — a tote logger still attached when the cold room's logger takes over — the logger associated
later speaks for the lot from then on. :func:`segments` resolves that into one logger per stretch of time;
:func:`lot_samples` reads those stretches from the off-chain reading store; :func:`assess_lot` applies the
species' rules to the result, which is what the consumer page's gauge, the dashboard and the alarms show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consortia.apps.coldchain.domain import gs1, rules
from consortia.apps.coldchain.domain.facts import DEVICE_PREFIX
from consortia.apps.coldchain.domain.species import Species, SpeciesTable
from consortia.apps.coldchain.service.store import ReadingStore

STALE_MS = 3_600_000
"""A still-associated logger silent for longer than this is not extrapolated to the present."""


@dataclass(frozen=True)
class Segment:
    """One logger speaking for the lot over [start, end) (``end_ms`` None: until now)."""

    device: str
    start_ms: int
    end_ms: int | None
    lot: str


def device_token(uri: str, company_prefix: str = DEVICE_PREFIX) -> str | None:
    """The MQTT id of a device from its canonical Digital Link (None if it is not one of ours)."""
    prefix = f"{gs1.CANONICAL_DOMAIN}/8004/{company_prefix}"
    return uri[len(prefix) :] if uri.startswith(prefix) else None


def segments(intervals: Sequence[Mapping[str, Any]]) -> list[Segment]:
    """Non-overlapping stretches of time, each covered by the most recently associated logger."""
    if not intervals:
        return []
    far = 1 << 62
    ordered = sorted(intervals, key=lambda i: (i["from"], i["device"]))
    points = sorted({i["from"] for i in ordered} | {i["to"] for i in ordered if i["to"] is not None})
    out: list[Segment] = []
    for start, end in zip(points, [*points[1:], far], strict=True):
        covering = [i for i in ordered if i["from"] <= start and (i["to"] is None or i["to"] > start)]
        if not covering:
            continue
        chosen = max(covering, key=lambda i: i["from"])
        stop = None if end == far else end
        if out and out[-1].device == chosen["device"] and out[-1].end_ms == start:
            out[-1] = Segment(out[-1].device, out[-1].start_ms, stop, chosen.get("lot", ""))
        else:
            out.append(Segment(chosen["device"], start, stop, chosen.get("lot", "")))
    return out


def lot_samples(
    store: ReadingStore, parts: Sequence[Segment], company_prefix: str = DEVICE_PREFIX, limit: int = 20_000
) -> list[rules.Sample]:
    """The readings covering a lot's history, in time order."""
    samples: list[rules.Sample] = []
    per_segment = max(100, limit // max(1, len(parts)))
    for part in parts:
        token = device_token(part.device, company_prefix)
        if token is None:
            continue
        for ts, celsius in store.series(token, part.start_ms, part.end_ms, per_segment):
            samples.append(rules.Sample(ts, celsius))
    samples.sort(key=lambda s: s.ts_ms)
    return samples


def species_of(journey: Mapping[str, Any], table: SpeciesTable) -> Species | None:
    """The species of a journey's lot, from the landing's (or transformation's) key data elements."""
    for event in journey.get("events", []):
        kdes = event.get("kdes", {})
        if isinstance(kdes.get("species"), str):
            try:
                return table.get(kdes["species"])
            except ValueError:
                pass
        found = table.by_scientific_name(kdes.get("species_scientific_name"))
        if found is not None:
            return found
    return None


def assess_lot(
    journey: Mapping[str, Any],
    store: ReadingStore,
    table: SpeciesTable,
    now_ms: int | None = None,
    company_prefix: str = DEVICE_PREFIX,
) -> tuple[Species | None, list[rules.Sample], rules.Assessment | None]:
    """A lot's species, its temperature history and the rules' verdict on it (None without species or readings)."""
    species = species_of(journey, table)
    samples = lot_samples(store, segments(journey.get("device_intervals", [])), company_prefix)
    if species is None or not samples:
        return species, samples, None
    end = now_ms
    open_ended = any(i.get("to") is None for i in journey.get("device_intervals", []) if i.get("lot") == journey["lot"])
    if not open_ended or now_ms is None or now_ms - samples[-1].ts_ms > STALE_MS:
        end = None  # not watched any more, or the logger went quiet: the history ends with its last reading
    return species, samples, rules.assess(samples, species, now_ms=end)
