"""What a person reads instead of a raw value: times in Busan's zone, codes by name, places by name, round ticks.

The services speak in instants (epoch milliseconds), CBV and rule codes (``retail_sale``, ``conformant``,
``high_temperature_exposure``) and location identifiers (SGLN URIs). The pages must not: every time is shown in
:data:`ZONE` (Asia/Seoul — the fish market, the processor and the Seoul shop are all in Korea) with the zone named
(:mod:`consortia.ui.timefmt`), every code by its name from :mod:`.catalogue`, every place by its master-data name
with the GLN only in a tooltip, and chart axes on round ticks (:mod:`consortia.ui.ticks`).

:func:`journey_display` adds to a lot's public journey the text its consumer page shows in one language, so the
page's script only places text and never formats it; :func:`lot_row_display` does the same for a dashboard row.
Among it are the readings the page offers to prove one by one (:func:`offered_readings`): the warmest and the
latest of the chart, when the chart is of single readings (not of anchored batch means, which have no leaf).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consortia.apps.coldchain.domain import timestamps
from consortia.apps.coldchain.web.catalogue import CATALOGUE, named
from consortia.ui import ticks, timefmt

ZONE = "Asia/Seoul"
STALE_AFTER_MS = 15 * 60 * 1000
"""A live reading older than this is marked stale (a logger reports every few seconds to minutes)."""


def when(ms: int | None, lang: str) -> str:
    """An instant as ``5 Dec 2026, 09:14 KST`` (or its Korean form), or the empty string."""
    return "" if ms is None else timefmt.format_datetime(int(ms), ZONE, lang)


def zone_note(lang: str) -> dict[str, str]:
    """The zone the times are in: its name in ``lang`` (``Times: Korea Standard Time``) and its IANA id apart.

    The id (``Asia/Seoul``) is an identifier, not a word: pages show it in an element marked ``translate="no"``.
    """
    label = timefmt.zone_label(ZONE, lang)
    name = label[: -len(f"({ZONE})")].strip() if label.endswith(f"({ZONE})") else label
    return {"text": CATALOGUE.text(lang, "zone_note", zone=name), "id": ZONE}


def gln_of(identifier: str | None) -> str | None:
    """The 13-digit GLN inside an SGLN Digital Link (``…/414/<gln>/254/<ext>``), if there is one."""
    if not identifier or "/414/" not in identifier:
        return None
    return identifier.split("/414/", 1)[1].split("/", 1)[0]


@dataclass(frozen=True)
class Place:
    """A place as shown: its name in the page's language, and its GLN (for a tooltip)."""

    name: str
    gln: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "gln": self.gln}


def place(identifier: str | None, names: Mapping[str, Mapping[str, Any]], lang: str) -> Place | None:
    """A location identifier by its master-data name (``name`` / ``nameKo``); the GLN if it has none."""
    if not identifier:
        return None
    attributes = names.get(identifier) or {}
    english = attributes.get("name")
    korean = attributes.get("nameKo") or english
    gln = gln_of(identifier)
    return Place((korean if lang == "ko" else english) or gln or identifier, gln)


def _localised(value: Any, lang: str) -> str:
    if isinstance(value, Mapping):
        return str(value.get(lang) or value.get("en") or "")
    return "" if value is None else str(value)


def axis_ticks(values: Sequence[float], limits: Sequence[float]) -> list[float]:
    """Round temperature ticks covering the readings, the limits drawn and a cold-chain band (-2 to 8 °C)."""
    low = min([-2.0, *values])
    high = max([8.0, *values, *limits])
    return list(ticks.nice_ticks(low, high))


def celsius_text(celsius: float) -> str:
    """A reading's temperature as written on a page: its value as recorded, with the unit (``1.83 °C``)."""
    return f"{celsius:g} °C"


def offered_readings(series: Sequence[Sequence[float]], source: str | None, lang: str) -> list[dict[str, Any]]:
    """The chart's readings a page offers to prove: the warmest and the latest (one, when they are the same)."""
    if source != "readings" or not series:
        return []
    warmest = max(series, key=lambda point: (point[1], -point[0]))  # the first time it was that warm
    chosen = [("warmest", warmest)]
    if series[-1][0] != warmest[0]:
        chosen.append(("latest", series[-1]))
    return [
        {
            "kind": kind,
            "ts_ms": int(point[0]),
            "celsius": point[1],
            "label": CATALOGUE.text(lang, f"rp.{kind}"),
            "text": CATALOGUE.text(lang, "rp.reading", celsius=celsius_text(point[1]), when=when(int(point[0]), lang)),
        }
        for kind, point in chosen
    ]


def journey_display(journey: Mapping[str, Any], lang: str, now_ms: int) -> dict[str, Any]:
    """The text the consumer page shows for a journey, in ``lang`` (see the module docstring)."""
    table = CATALOGUE.table(lang)
    steps = []
    for step in journey.get("steps", []):
        location = step.get("location") or {}
        steps.append(
            {
                "title": _localised(step.get("label"), lang) or named(lang, "cte", step.get("cte")),
                "when": when(step.get("time_ms"), lang),
                "place": _localised(location.get("name"), lang),
                "gln": location.get("gln"),
            }
        )
    origin = journey.get("origin") or {}
    origin_text: dict[str, Any] = {}
    if origin.get("catch_area_name"):
        area = _localised(origin["catch_area_name"], lang)
        origin_text["caught"] = CATALOGUE.text(lang, "caught_by" if origin.get("vessel_name") else "caught", area=area)
        origin_text["vessel"] = origin.get("vessel_name")
        if origin.get("harvest_start"):
            origin_text["fishing"] = CATALOGUE.text(
                lang,
                "fishing",
                start=_iso_when(origin.get("harvest_start"), lang),
                end=_iso_when(origin.get("harvest_end"), lang),
            )
        if origin.get("landed_at"):
            origin_text["landed"] = CATALOGUE.text(
                lang,
                "landed",
                place=_localised(origin["landed_at"].get("name"), lang),
                when=when(origin["landed_ms"], lang),
            )
            origin_text["landed_gln"] = origin["landed_at"].get("gln")
        origin_text["market"] = _localised(origin.get("market_name"), lang)
        origin_text["scientific"] = origin.get("species_scientific_name")
    safety = journey.get("safety") or {}
    cleared = {
        f["code"]: CATALOGUE.text(
            lang,
            "cleared_by_result" if (f["cleared_by"] or {}).get("result") else "cleared_by",
            when=when(f["cleared_by"]["time_ms"], lang),
            result=_inspection_result(journey, f["cleared_by"]["time_ms"], lang) or f["cleared_by"].get("result"),
        )
        for f in safety.get("findings", [])
        if f.get("cleared_by")
    }
    alarms = []
    for alarm in journey.get("alarms", []):
        alarms.append(
            {
                "code": alarm.get("code"),
                "name": named(lang, "alarm", alarm.get("code")),
                "detail": alarm.get("message_ko" if lang == "ko" else "message") or "",  # no English on a Korean page
            }
        )
    inspections = []
    for verdict in journey.get("inspections", []):
        result = _inspection_result(journey, verdict.get("time"), lang)
        text = CATALOGUE.text(
            lang,
            "inspection_on",
            when=when(verdict.get("time"), lang),
            verdict=named(lang, "disposition", verdict.get("disposition")),
        )
        inspections.append(
            {"disposition": verdict.get("disposition"), "text": f"{text} — {result}" if result else text}
        )
    temperature = journey.get("temperature") or {}
    series = temperature.get("series") or []
    limits = journey.get("limits")
    limit_values = [limits["abuse_celsius"], limits["high_celsius"]] if limits else [4.4]
    chart = {
        "ticks": axis_ticks([p[1] for p in series], limit_values),
        "start": when(series[0][0], lang) if series else "",
        "end": when(series[-1][0], lang) if series else "",
        "note": CATALOGUE.plural(
            lang, "readings" if temperature.get("source") == "readings" else "batches", len(series)
        ),
        "limits": [
            {"celsius": value, "label": table["limit_high" if i else "limit_abuse"]}
            for i, value in enumerate(limit_values)
        ],
    }
    freshness = journey.get("freshness")
    assessment = journey.get("assessment")
    species = journey.get("species")
    return {
        "lang": lang,
        "zone": zone_note(lang),
        "product": _localised(journey.get("product"), lang),
        "state": {"code": safety.get("state"), "text": named(lang, "state", safety.get("state"))},
        "alarms": alarms,
        "cleared": cleared,
        "steps": steps,
        "origin": origin_text,
        "inspections": inspections,
        "chart": chart,
        "readings": offered_readings(series, temperature.get("source"), lang),
        "freshness": None
        if not freshness
        else {
            "days": f"{max(0.0, freshness['remaining_days']):.1f}",
            "text": CATALOGUE.text(
                lang,
                "days_of",
                days=f"{max(0.0, freshness['remaining_days']):.1f}",
                total=f"{freshness['shelf_life_days']:g}",
            ),
        },
        "hours_above": None
        if not assessment
        else CATALOGUE.text(lang, "hours_above", hours=f"{assessment['hours_above_4_4c']:.1f}"),
        "species": None
        if not species
        else {"label": _localised(species.get("label"), lang), "scientific": species.get("scientific_name")},
        "generated": when(now_ms, lang),
    }


def _inspection_result(journey: Mapping[str, Any], time_ms: int | None, lang: str) -> str | None:
    """An inspection's written result in ``lang`` (the event's ``result`` / ``resultKo``)."""
    for text in journey.get("inspection_texts", []):
        if text.get("time_ms") == time_ms:
            return (text.get("ko") if lang == "ko" else None) or text.get("en")
    return None


def _iso_when(text: str | None, lang: str) -> str:
    """An ISO 8601 time from an event (harvest dates) shown like every other time; unparseable text as is."""
    if not text:
        return ""
    try:
        return when(timestamps.to_ms(text), lang)
    except timestamps.TimestampError:  # a KDE that is not a time: show it rather than nothing
        return text


def lot_row_display(row: Mapping[str, Any], names: Mapping[str, Mapping[str, Any]], lang: str) -> dict[str, Any]:
    """A dashboard row's text: last step by name, time in Busan's zone, place by name, alarms counted in words."""
    where = place(row.get("last_location"), names, lang)
    inspection = row.get("inspection")
    return {
        "last_step": named(lang, "cte", row.get("last_cte")) if row.get("last_cte") else "",
        "when": when(row.get("last_ms"), lang),
        "where": None if where is None else where.as_dict(),
        "alarms": CATALOGUE.plural(lang, "dash.alarms", int(row.get("open_alarms") or 0))
        if row.get("open_alarms")
        else "",
        "inspected": None
        if not inspection
        else CATALOGUE.text(lang, "dash.inspected", verdict=named(lang, "disposition", inspection.get("disposition"))),
        "state": named(lang, "state_short", (row.get("safety") or {}).get("state")),
    }


def reading_display(ts_ms: int, now_ms: int, lang: str) -> dict[str, Any]:
    """A live reading's time, and whether (and how long ago) it went stale."""
    stale = now_ms - ts_ms > STALE_AFTER_MS
    return {
        "when": when(ts_ms, lang),
        "stale": stale,
        "age": CATALOGUE.text(lang, "dash.stale", age=timefmt.relative(ts_ms, now_ms, lang)) if stale else "",
    }
