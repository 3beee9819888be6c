"""Critical tracking events (FSMA 204) and their key data elements, read off EPCIS events.

The US FDA Food Traceability Rule (21 CFR part 1 subpart S, "FSMA 204") lists foods — finfish among them — whose
handlers must keep *key data elements* (KDEs) for each *critical tracking event* (CTE) and hand them over as a
sortable spreadsheet within 24 hours of a request. For fish caught at sea the chain is: first land-based
receiving (the landing: species and acceptable market name, quantity and unit, harvest dates and area, vessel,
landing date and place), cooling, initial packing, shipping, receiving, transformation (input lots → new lots),
and, outside the rule but of interest to consumers, the retail sale.

EPCIS already records these: :func:`classify` names the CTE of an event (an explicit ``cc:cte`` extension wins;
otherwise the business step and event type decide) and :func:`kdes` gathers its KDEs from the event's fields,
its ``ilmd`` (CBV master data attributes such as ``cbvmda:vesselCatchInformationList``, ``cbvmda:catchArea``,
``cbvmda:harvestStartDate``) and this application's ``cc:`` extensions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consortia.apps.coldchain.domain import timestamps, vocab
from consortia.apps.coldchain.domain.facts import EventFacts, extension, mda

CTES = {
    "first_land_based_receiving": ("Landing (first land-based receiving)", "양륙 (최초 육상 입고)"),
    "cooling": ("Cooling", "냉각"),
    "initial_packing": ("Initial packing", "최초 포장"),
    "shipping": ("Shipping", "출하"),
    "receiving": ("Receiving", "입고"),
    "transformation": ("Transformation (processing)", "가공"),
    "retail_sale": ("Retail sale", "소매 판매"),
    "inspection": ("Inspection", "검사"),
}
FSMA_CTES = ("first_land_based_receiving", "cooling", "initial_packing", "shipping", "receiving", "transformation")

_BY_STEP = {
    "shipping": "shipping",
    "departing": "shipping",
    "receiving": "receiving",
    "arriving": "receiving",
    "packing": "initial_packing",
    "retail_selling": "retail_sale",
    "inspecting": "inspection",
}


def classify(event: Mapping[str, Any], facts: EventFacts) -> str | None:
    """The critical tracking event an EPCIS event records, or None (e.g. sensor reports)."""
    explicit = extension(event, "cte")
    if isinstance(explicit, str) and explicit in CTES:
        return explicit
    if facts.event_type == "TransformationEvent" or facts.transformation_id:
        return "transformation"
    if facts.biz_step == "commissioning" and facts.action == "ADD" and _landing(event.get("ilmd")):
        return "first_land_based_receiving"
    return _BY_STEP.get(facts.biz_step or "")


def _landing(ilmd: Any) -> bool:
    if not isinstance(ilmd, Mapping):
        return False
    return any(
        mda(ilmd, name) is not None
        for name in (
            "vesselCatchInformationList",
            "catchArea",
            "harvestStartDate",
            "speciesForFisheryStatisticsPurposesName",
        )
    )


def _first(value: Any) -> Mapping[str, Any]:
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return value[0]
    return value if isinstance(value, Mapping) else {}


def kdes(event: Mapping[str, Any], facts: EventFacts) -> dict[str, Any]:
    """The key data elements an event carries (absent ones are omitted)."""
    out: dict[str, Any] = {
        "event_time": timestamps.iso_local(facts.time_ms, facts.offset),
        "location": facts.biz_location or facts.read_point,
        "lots": list(facts.lots),
        "quantities": [{"lot": q.lot, "quantity": q.quantity, "uom": q.uom} for q in facts.quantities],
    }
    references = []
    for element in event.get("bizTransactionList") or []:
        if isinstance(element, Mapping) and isinstance(element.get("bizTransaction"), str):
            kind = element.get("type") if isinstance(element.get("type"), str) else ""
            references.append({"type": vocab.short("bizTransactionType", kind) or "", "id": element["bizTransaction"]})
    if references:
        out["reference_documents"] = references
    if facts.sources:
        out["sources"] = [{"type": t, "id": i} for t, i in facts.sources]
    if facts.destinations:
        out["destinations"] = [{"type": t, "id": i} for t, i in facts.destinations]
    if facts.event_type == "TransformationEvent" or facts.transformation_id:
        out["input_lots"] = list(facts.input_lots)
        out["output_lots"] = list(facts.output_lots)
    ilmd = event.get("ilmd")
    if isinstance(ilmd, Mapping):
        vessel = _first(mda(ilmd, "vesselCatchInformationList"))
        vessel = _first(vessel.get("cbvmda:vesselCatchInformation", vessel)) if vessel else {}
        found = {
            "species_scientific_name": mda(ilmd, "speciesForFisheryStatisticsPurposesName"),
            "species_code": mda(ilmd, "speciesForFisheryStatisticsPurposesCode"),
            "market_name": extension(ilmd, "marketName"),
            "market_name_ko": extension(ilmd, "marketNameKo"),
            "harvest_start": mda(ilmd, "harvestStartDate"),
            "harvest_end": mda(ilmd, "harvestEndDate"),
            "catch_area": mda(ilmd, "catchArea") or mda(vessel, "catchArea"),
            "vessel_name": mda(vessel, "vesselName"),
            "vessel_id": mda(vessel, "vesselID"),
            "fishing_gear": mda(vessel, "fishingGearTypeCode"),
            "production_method": mda(ilmd, "productionMethodForFishAndSeafoodCode"),
            "species": extension(ilmd, "species"),
        }
        out.update({k: v for k, v in found.items() if v is not None})
    for name in ("species", "result", "resultKo", "histaminePpm", "note"):
        value = extension(event, name)
        if value is not None:
            out[name] = value
    return out
