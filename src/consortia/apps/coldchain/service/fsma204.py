"""The FSMA 204 "electronic sortable spreadsheet": every critical tracking event of a period, one row per lot.

When FDA asks, a handler of foods on the Food Traceability List must produce, within 24 hours, its traceability
records for a period as an electronic sortable spreadsheet (21 CFR 1.1455(c)(3)(ii)). This module reads the
critical tracking events recorded on the ledger between two dates (inclusive, in a given time zone), joins each
lot with its origin (the landing's species, harvest dates and area, vessel) and the location and product master
data, and writes one row per event and traceability lot code, as CSV or as an Excel workbook with a frozen,
filterable header row.

The traceability lot code (TLC) of a GS1 lot is its GTIN and lot number as a GS1 element string,
``(01)08801234000015(10)MK-0305-1``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

from consortia.apps.coldchain.domain import gs1, timestamps
from consortia.apps.coldchain.domain.cte import CTES, FSMA_CTES, kdes
from consortia.apps.coldchain.domain.facts import event_facts
from consortia.apps.coldchain.service.capture import contract_of
from consortia.client.sdk import Gateway

COLUMNS = (
    "Critical Tracking Event",
    "Traceability Lot Code",
    "Traceability Lot Code (GS1 Digital Link)",
    "Product Description",
    "Species (scientific name)",
    "Market Name",
    "Quantity",
    "Unit of Measure",
    "Event Date",
    "Event Time",
    "Location (GLN)",
    "Location Description",
    "Immediate Previous Source",
    "Immediate Subsequent Recipient",
    "Reference Document Type",
    "Reference Document Number",
    "Harvest Start Date",
    "Harvest End Date",
    "Harvest Area (FAO major fishing area)",
    "Vessel Name",
    "Vessel ID",
    "Landing Date",
    "Landing Place",
    "Input Traceability Lot Codes",
    "Traceability Lot Code Source",
    "EPCIS Event ID",
    "Ledger Transaction ID",
)


@dataclass(frozen=True)
class Row:
    """One row of the spreadsheet (values by column name)."""

    values: dict[str, Any]

    def cells(self) -> list[Any]:
        """The row's cells in column order."""
        return [self.values.get(column, "") for column in COLUMNS]


def tlc(lot_key: str) -> str:
    """The traceability lot code of a lot as a GS1 element string."""
    lot = gs1.LotId.from_key(lot_key)
    return f"(01){lot.gtin}(10){lot.lot}"


def _day_bounds(first: date, last: date, offset: str) -> tuple[str, str]:
    start = f"{first.isoformat()}T00:00:00{offset}"
    end = f"{(last + timedelta(days=1)).isoformat()}T00:00:00{offset}"
    return start, end


def _gln(identifier: str | None) -> str:
    if identifier and "/414/" in identifier:
        return identifier.split("/414/", 1)[1].split("/", 1)[0]
    return identifier or ""


def _name(master: dict[str, Any], identifier: str | None) -> str:
    attributes = master.get("locations", {}).get(identifier or "", {})
    return str(attributes.get("name", "")) if attributes else ""


class Evaluator(Protocol):
    """Anything that evaluates the cold-chain contract's query functions: the SDK's contract, or a node's API."""

    def evaluate(self, function: str, *args: Any) -> Any:
        """Evaluate one query function."""
        ...


def collect(gateway: Gateway, first: date, last: date, offset: str = "+09:00") -> list[Row]:
    """The spreadsheet rows of every critical tracking event from ``first`` to ``last`` (inclusive)."""
    return collect_from(contract_of(gateway), first, last, offset)


def collect_from(contract: Evaluator, first: date, last: date, offset: str = "+09:00") -> list[Row]:
    """:func:`collect` through any :class:`Evaluator` (e.g. a running node's API)."""
    start, end = _day_bounds(first, last, offset)
    records: list[dict[str, Any]] = []
    token = None
    while True:
        params: dict[str, Any] = {"GE_eventTime": start, "LT_eventTime": end, "perPage": 1000}
        if token:
            params["nextPageToken"] = token
        page = contract.evaluate("query_events", params)
        records.extend(page["events"])
        token = page["nextPageToken"]
        if not token:
            break
    master = contract.evaluate("master_data")
    origins: dict[str, dict[str, Any]] = {}
    rows = []
    for record in records:
        cte = record.get("cte")
        if cte not in FSMA_CTES and cte != "retail_sale":
            continue
        event = record["event"]
        facts = event_facts(event)
        data = kdes(event, facts)
        lots = list(facts.output_lots) if cte == "transformation" else list(facts.lots)
        quantities = {q.lot: q for q in facts.quantities}
        for lot in lots:
            if lot not in origins:
                origins[lot] = contract.evaluate("lot_origin", lot)
            origin = origins[lot]
            landing = (origin["landings"] or [{}])[0]
            landing_kdes = landing.get("kdes", {})
            created = origin.get("created") or {}
            product = master.get("products", {}).get(f"{gs1.CANONICAL_DOMAIN}/01/{lot.split('/')[0]}", {})
            references = data.get("reference_documents", [])
            quantity = quantities.get(lot)
            values = {
                "Critical Tracking Event": CTES[cte][0],
                "Traceability Lot Code": tlc(lot),
                "Traceability Lot Code (GS1 Digital Link)": gs1.LotId.from_key(lot).canonical,
                "Product Description": product.get("descriptionShort") or product.get("tradeItemDescription", ""),
                "Species (scientific name)": landing_kdes.get("species_scientific_name", ""),
                "Market Name": landing_kdes.get("market_name", ""),
                "Quantity": quantity.quantity if quantity and quantity.quantity is not None else "",
                "Unit of Measure": quantity.uom if quantity and quantity.uom else "",
                "Event Date": timestamps.iso_local(record["eventTimeMs"], offset)[:10],
                "Event Time": timestamps.iso_local(record["eventTimeMs"], offset)[11:],
                "Location (GLN)": _gln(data.get("location")),
                "Location Description": _name(master, data.get("location")),
                "Immediate Previous Source": "; ".join(s["id"] for s in data.get("sources", [])),
                "Immediate Subsequent Recipient": "; ".join(d["id"] for d in data.get("destinations", [])),
                "Reference Document Type": "; ".join(r["type"] for r in references),
                "Reference Document Number": "; ".join(r["id"] for r in references),
                "Harvest Start Date": landing_kdes.get("harvest_start", ""),
                "Harvest End Date": landing_kdes.get("harvest_end", ""),
                "Harvest Area (FAO major fishing area)": landing_kdes.get("catch_area", ""),
                "Vessel Name": landing_kdes.get("vessel_name", ""),
                "Vessel ID": landing_kdes.get("vessel_id", ""),
                "Landing Date": timestamps.iso_local(landing["eventTimeMs"], offset)[:10] if landing else "",
                "Landing Place": _name(master, landing.get("location")) or _gln(landing.get("location")),
                "Input Traceability Lot Codes": "; ".join(tlc(x) for x in data.get("input_lots", [])),
                "Traceability Lot Code Source": _name(master, created.get("location")) or _gln(created.get("location")),
                "EPCIS Event ID": record["eventID"],
                "Ledger Transaction ID": record["txID"],
            }
            rows.append(Row(values))
    rows.sort(key=lambda r: (r.values["Event Date"], r.values["Event Time"], r.values["Traceability Lot Code"]))
    return rows


def write(rows: list[Row], path: Path) -> None:
    """Write the rows as CSV (UTF-8 with BOM, for spreadsheet programs) or as an .xlsx workbook."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook
        from openpyxl.styles import Font

        workbook = Workbook()
        sheet = workbook.active
        sheet.title = "FSMA 204"
        sheet.append(list(COLUMNS))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(row.cells())
        sheet.freeze_panes = "A2"
        sheet.auto_filter.ref = sheet.dimensions
        for index, column in enumerate(COLUMNS, start=1):
            width = max([len(column)] + [len(str(r.cells()[index - 1])) for r in rows[:200]])
            sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = min(60, width + 2)
        workbook.save(path)
        return
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(row.cells())
