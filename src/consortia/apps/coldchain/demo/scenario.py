"""The Busan scenario: mackerel and monkfish from a fishing trip to a Seoul shop, as EPCIS documents and loggers.

One fishing trip of a purse seiner in FAO major fishing area 61 (Northwest Pacific) lands ``lots`` lots at the
Busan Cooperative Fish Market — chub mackerel, and every third lot monkfish. Each lot then goes through the
critical tracking events of the chain, recorded by the organisation that handles it:

====== ===================================================================== ==================
hour   event                                                                 recorded by
====== ===================================================================== ==================
0–8    fishing; the boat's ice-hold logger watches the catch                  fish market
10     landing (first land-based receiving, ``commissioning`` with ilmd)      fish market
10–11  on the dock (a warm hour; lot 2 sits in the sun — the excursion)      fish market
11     cooling in the market's cold room                                      fish market
13     shipping to the processor (auction sale), 14 receiving                 fish market, processor
14.5   inspection of the excursion lot (histamine test)                       inspection agency
15     transformation: mackerel lot → two fillet lots, monkfish lot → one    processor
16     packing onto a pallet (SSCC), 17 shipping by reefer truck              processor, logistics
22     receiving at the Seoul shop, into the display case                    retailer
30+    retail sale                                                            retailer
====== ===================================================================== ==================

The trip is data — ``busan.toml`` beside this module: the sites, products and species, and the steps of the table
above at their hours — and this module is its player: :func:`build` turns it into EPCIS documents and logger stages
for a number of lots, and :func:`record` captures them. Times are scaled to ``hours`` (48 by default). Every logger
is associated with the lots it watches by AssociationEvents (added and removed at the stage boundaries), which is
how readings find their lots. The scenario is deterministic for given arguments, so the demo, the tests and
``simulate --register`` agree on identifiers.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.domain import gs1, timestamps
from consortia.apps.coldchain.domain.document import read_document
from consortia.apps.coldchain.domain.facts import CONTEXT, DEVICE_PREFIX, MDA, NS
from consortia.apps.coldchain.service.capture import Capturer, CaptureResult, contract_of, settle

if TYPE_CHECKING:
    from consortia.network.embedded import EmbeddedNetwork

DATA = Path(__file__).with_name("busan.toml")
TRIP: dict[str, Any] = tomllib.loads(DATA.read_text(encoding="utf-8"))
OPTIONAL = frozenset(step["optional"] for step in TRIP["steps"] if "optional" in step)
"""Names of the steps a variant of the scenario may leave out (``build(without=…)``)."""
"""The scenario as data (see the comments in ``busan.toml``)."""

ORG_OF_ROLE = {
    "fish_market": consortium.FISH_MARKET,
    "processor": consortium.PROCESSOR,
    "logistics": consortium.LOGISTICS,
    "retailer": consortium.RETAILER,
    "inspection": consortium.INSPECTION,
}
OFFSET: str = TRIP["offset"]
ZONE = "Asia/Seoul"
"""The time zone of every place of the scenario (its offset is :data:`OFFSET`)."""
COMPANY = {ORG_OF_ROLE[role]: prefix for role, prefix in TRIP["companies"].items()}


@dataclass(frozen=True)
class Site:
    """A place (GLN) with its names and coordinates."""

    key: str
    org: str
    location: str
    names: dict[str, str]
    lat: float
    lon: float

    @property
    def sgln(self) -> str:
        """The EPC URI of the location."""
        return f"urn:epc:id:sgln:{COMPANY[self.org]}.{self.location}.0"

    @property
    def gln(self) -> str:
        """The 13-digit GLN."""
        return gs1.with_check_digit(COMPANY[self.org] + self.location)


@dataclass(frozen=True)
class Product:
    """A trade item (GTIN) with its names, and the organisation whose item it is."""

    gtin: str
    names: dict[str, str]
    species: str
    org: str


SITES = {
    key: Site(key, ORG_OF_ROLE[s["org"]], s["location"], dict(s["names"]), s["lat"], s["lon"])
    for key, s in TRIP["sites"].items()
}
PRODUCTS = {
    key: Product(
        gs1.with_check_digit("0" + COMPANY[ORG_OF_ROLE[p["org"]]] + p["item"]),
        dict(p["names"]),
        p["species"],
        ORG_OF_ROLE[p["org"]],
    )
    for key, p in TRIP["products"].items()
}


@dataclass(frozen=True)
class DeviceStage:
    """One stretch of time a logger spends watching some lots at a site, with its temperature profile."""

    start_ms: int
    end_ms: int
    lots: tuple[str, ...]
    site: str
    profile: str


@dataclass
class Device:
    """A temperature logger: its MQTT id, its GS1 asset id, and its stages."""

    token: str
    stages: list[DeviceStage] = field(default_factory=list)

    @property
    def giai(self) -> str:
        """The logger's EPC URI (GIAI)."""
        return gs1.giai_urn(DEVICE_PREFIX, self.token)

    @property
    def canonical(self) -> str:
        """The logger's canonical Digital Link."""
        return gs1.normalise_id(self.giai)


@dataclass(frozen=True)
class Capture:
    """An EPCIS document to capture, and who captures it."""

    org: str
    user: str
    document: dict[str, Any]
    label: str


@dataclass
class Scenario:
    """Everything the scenario records and publishes."""

    start_ms: int
    hours: float
    captures: list[Capture]
    devices: list[Device]
    landing_lots: list[gs1.LotId]
    retail_lots: list[gs1.LotId]
    excursion_lot: gs1.LotId | None
    species_of: dict[str, str]
    pallet: str


def master_data(org: str | None = None) -> list[dict[str, Any]]:
    """Location and product master data (names in English and Korean, coordinates), of one organisation or all.

    Each organisation records its own sites and trade items, so each owns its entries: only it may change them.
    """
    locations = [
        {
            "id": site.sgln,
            "attributes": [
                {"id": MDA + "name", "attribute": site.names["en"]},
                {"id": NS + "nameKo", "attribute": site.names["ko"]},
                {"id": MDA + "latitude", "attribute": site.lat},
                {"id": MDA + "longitude", "attribute": site.lon},
                {"id": MDA + "countryCode", "attribute": "KR"},
            ],
        }
        for site in SITES.values()
        if org is None or site.org == org
    ]
    products = [
        {
            "id": f"{gs1.CANONICAL_DOMAIN}/01/{product.gtin}",
            "attributes": [
                {"id": MDA + "descriptionShort", "attribute": product.names["en"]},
                {"id": NS + "descriptionKo", "attribute": product.names["ko"]},
                {"id": NS + "species", "attribute": product.species},
            ],
        }
        for product in PRODUCTS.values()
        if org is None or product.org == org
    ]
    return [
        {"type": "urn:epcglobal:epcis:vtype:BusinessLocation", "vocabularyElementList": locations},
        {"type": "urn:epcglobal:epcis:vtype:EPCClass", "vocabularyElementList": products},
    ]


def _document(events: list[dict[str, Any]], master: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": events[0]["eventTime"],
        "epcisBody": {"eventList": events},
    }
    if master:
        document["epcisHeader"] = {"epcisMasterData": {"vocabularyList": master}}
    return document


class _Player:
    """Expands the trip's steps for a number of lots into documents and logger stages."""

    def __init__(self, lots: int, devices: int | None, hours: float, start_ms: int, first_lot: int, prefix: str):
        self.scale = hours / TRIP["hours"]
        self.start_ms = start_ms
        self.first_lot = first_lot
        self.day = timestamps.iso_local(self.at(TRIP["landing_day_hour"]), OFFSET)[2:10].replace("-", "")
        self.kg: dict[str, float] = {}
        self.species_of: dict[str, str] = {}
        self.outputs: dict[str, list[gs1.LotId]] = {}
        self.landing: list[gs1.LotId] = []
        for i in range(lots):
            kind = TRIP["landing_species"][i % len(TRIP["landing_species"])]
            spec = TRIP["species"][kind]
            number = i + first_lot
            lot = gs1.LotId(PRODUCTS[spec["whole"]].gtin, self.text(spec["lot"], number=number))
            self.landing.append(lot)
            self.species_of[lot.key] = kind
            weight = spec["kg"]
            self.kg[lot.key] = weight["base"] + weight["step"] * (i % weight["every"])
            pack = PRODUCTS[spec["pack"]].gtin
            self.outputs[lot.key] = [
                gs1.LotId(pack, self.text(spec["pack_lot"], number=number) + x) for x in spec["letters"]
            ]
            for out in self.outputs[lot.key]:
                self.species_of[out.key] = kind
                self.kg[out.key] = round(self.kg[lot.key] * spec["yield"] / len(spec["letters"]), 1)
        self.retail = [out for lot in self.landing for out in self.outputs[lot.key]]
        self.excursion = self.landing[1] if len(self.landing) > 1 else None
        self.pallet = self._sscc(TRIP["pallet"])
        roles = [r.format(i=i) for r in TRIP["logger_roles"] for i in (range(lots) if "{i}" in r else [0])]
        count = devices or len(roles)
        self.fleet = [Device(f"{prefix}-{n + 1:03d}") for n in range(count)]
        self.role_device = {role: self.fleet[i % count] for i, role in enumerate(roles)}
        self.spares = self.fleet[len(roles) :]
        self.captures: list[Capture] = []

    def at(self, hour: float) -> int:
        return self.start_ms + int(hour * self.scale * 3_600_000)

    def text(self, template: str, **more: Any) -> str:
        places = {
            "day": self.day,
            "day5": self.day[-5:],
            "first_lot": self.first_lot,
            "company": {role: COMPANY[org] for role, org in ORG_OF_ROLE.items() if org in COMPANY},
            "gln": {key: site.gln for key, site in SITES.items()},
            "pallet": getattr(self, "pallet", ""),
        }
        return template.format_map({**places, **more})

    def _sscc(self, spec: Mapping[str, str], **more: Any) -> str:
        return gs1.sscc_urn(COMPANY[ORG_OF_ROLE[spec["org"]]], self.text(spec["serial"], **more))

    def lots(self, names: list[str]) -> list[gs1.LotId]:
        sets = {
            "landing": self.landing,
            "retail": self.retail,
            "excursion": [self.excursion] if self.excursion else [],
            "cooled": [x for x in self.landing if x != self.excursion],
        }
        return [lot for name in names for lot in sets[name]]

    def filled(self, value: Any, lot: gs1.LotId | None, **more: Any) -> Any:
        """A value of the data with its placeholders, times and species filled in."""
        if isinstance(value, str):
            return self.text(value, **more)
        if isinstance(value, list):
            return [self.filled(v, lot, **more) for v in value]
        if isinstance(value, dict):
            if set(value) == {"hour"}:
                return timestamps.iso_local(self.at(value["hour"]), OFFSET)
            out: dict[str, Any] = {}
            for key, v in value.items():
                if key == "@species":
                    assert lot is not None
                    out.update(TRIP["species"][self.species_of[lot.key]]["kdes"])
                elif key == "@vessel":
                    out.update(TRIP["vessel"])
                else:
                    out[key] = self.filled(v, lot, **more)
            return out
        return value

    def quantities(self, lots: list[gs1.LotId], share: float | None = None) -> list[dict[str, Any]]:
        if share is None:
            return [{"epcClass": lot.canonical, "quantity": self.kg[lot.key], "uom": "KGM"} for lot in lots]
        return [
            {"epcClass": lot.canonical, "quantity": round(self.kg[lot.key] * share, 1), "uom": "KGM"} for lot in lots
        ]

    def event(self, step: Mapping[str, Any], at_ms: int, lots: list[gs1.LotId]) -> dict[str, Any]:
        lot = lots[0] if len(lots) == 1 else None
        number = self.landing.index(lot) + self.first_lot if lot in self.landing else None
        fields = dict(step["event"])
        event: dict[str, Any] = {
            "type": fields.pop("type"),
            "eventTime": timestamps.iso_local(at_ms, OFFSET),
            "eventTimeZoneOffset": OFFSET,
        }
        where = step.get("quantities", "quantityList")
        if step.get("epcs") == "pallet":
            event["epcList"] = [self.pallet]
        elif where == "inputQuantityList":
            assert lot is not None
            event["inputQuantityList"] = self.quantities([lot])
            event["outputQuantityList"] = self.quantities(self.outputs[lot.key])
        elif where == "childQuantityList":  # after the parent and its (no) child EPCs, as EPCIS lists them
            event["parentID"] = self.text(fields.pop("parentID"))
            event["childEPCs"] = fields.pop("childEPCs")
            event["childQuantityList"] = self.quantities(lots)
        else:
            event["epcList"] = []
            event["quantityList"] = self.quantities(lots, step.get("share"))
        filled = self.filled(fields, lot, number=number)
        event.update((k, v) for k, v in filled.items() if ":" not in k)  # standard fields, then ilmd, extensions
        if "ilmd" in step:
            event["ilmd"] = self.filled(step["ilmd"], lot, number=number)
        event.update((k, v) for k, v in filled.items() if ":" in k)
        event["readPoint"] = {"id": SITES[step["site"]].sgln}
        event.setdefault("bizLocation", {"id": SITES[step["site"]].sgln})
        return event

    def play_event(self, step: Mapping[str, Any]) -> None:
        org = ORG_OF_ROLE[step["org"]]
        user = step.get("user", "client")
        master = master_data(org) if step.get("master") else None
        if step.get("epcs") == "pallet":
            groups = [[]]
        else:
            lots = self.lots(step["lots"])
            if not lots:
                return
            groups = [[lot] for lot in lots] if step.get("each") or step.get("per_event") else [lots]
        events = [
            self.event(step, self.at(step["at"] + n * step.get("at_step", 0)), group) for n, group in enumerate(groups)
        ]
        if step.get("per_event"):
            self.captures.append(Capture(org, user, _document(events, master), step["label"]))
        else:
            self.captures.extend(Capture(org, user, _document([e], master), step["label"]) for e in events)

    def association(
        self, action: str, at_ms: int, step: Mapping[str, Any], device: Device, lots: list[gs1.LotId]
    ) -> dict[str, Any]:
        if step.get("parent") == "pallet":
            parent = self.pallet
        else:
            parent = self._sscc(TRIP["logger_parent"], logger=self.first_lot * 100 + self.fleet.index(device))
        event = {
            "type": "AssociationEvent",
            "eventTime": timestamps.iso_local(at_ms, OFFSET),
            "eventTimeZoneOffset": OFFSET,
            "parentID": parent,
            "childEPCs": [device.giai],
            "childQuantityList": [{"epcClass": lot.canonical} for lot in lots],
            "action": action,
            "bizStep": "installing" if action == "ADD" else "removing",
            "readPoint": {"id": SITES[step["site"]].sgln},
            "bizLocation": {"id": SITES[step["site"]].sgln},
        }
        return _document([event])

    def play_logger(self, step: Mapping[str, Any], device: Device, lots: list[gs1.LotId]) -> None:
        start, end = self.at(step["from"]), self.at(step["to"])
        if step.get("watch", True):
            device.stages.append(DeviceStage(start, end, tuple(x.key for x in lots), step["site"], step["profile"]))
        attached = self.lots(step["associate"]) if "associate" in step else lots
        if not step.get("attach", True) or not attached:
            return
        org = ORG_OF_ROLE[step["org"]]
        self.captures.append(
            Capture(
                org, "client", self.association("ADD", start, step, device, attached), step["label"] + ": logger on"
            )
        )
        if step.get("detach", True):
            off = self.association("DELETE", end, step, device, attached)
            self.captures.append(Capture(org, "client", off, step["label"] + ": logger off"))

    def play(self, step: Mapping[str, Any]) -> None:
        if step["kind"] == "event":
            self.play_event(step)
        elif "per_lot" in step:
            for i, lot in enumerate(self.lots([step["per_lot"]])):
                here = {**step, **step.get("if_excursion", {})} if lot == self.excursion else step
                self.play_logger(here, self.role_device[step["role"].format(i=i)], [lot])
        elif step.get("spares"):
            for device in self.spares:
                self.play_logger(step, device, self.lots(step["lots"]))
        else:
            self.play_logger(step, self.role_device[step["role"]], self.lots(step["lots"]))


def build(
    lots: int = 3,
    devices: int | None = None,
    hours: float = 48.0,
    start_ms: int = 0,
    *,
    first_lot: int = 1,
    device_prefix: str = "LG",
    without: Collection[str] = (),
) -> Scenario:
    """The scenario for ``lots`` landing lots over ``hours`` hours from ``start_ms`` (harvest start).

    ``first_lot`` numbers the lots (and the pallet and transformations made of them) and ``device_prefix`` names
    the loggers, so that two trips recorded on one ledger do not share identifiers. ``without`` leaves out the
    steps marked ``optional`` with one of its names — ``{"inspection"}`` is the variant in which nobody tests the
    excursion lot, so it stays held for inspection.
    """
    if lots < 1:
        raise ValueError("the scenario needs at least one lot")
    unknown = set(without) - OPTIONAL
    if unknown:
        raise ValueError(f"no optional steps named {sorted(unknown)}; the scenario has {sorted(OPTIONAL)}")
    player = _Player(lots, devices, hours, start_ms, first_lot, device_prefix)
    for step in TRIP["steps"]:
        if step.get("optional") in without:
            continue
        player.play(step)
    captures = sorted(
        player.captures, key=lambda c: timestamps.to_ms(c.document["epcisBody"]["eventList"][0]["eventTime"])
    )
    return Scenario(
        start_ms=start_ms,
        hours=hours,
        captures=captures,
        devices=player.fleet,
        landing_lots=player.landing,
        retail_lots=player.retail,
        excursion_lot=player.excursion,
        species_of=player.species_of,
        pallet=player.pallet,
    )


def record(network: EmbeddedNetwork, scenario: Scenario) -> list[CaptureResult]:
    """Capture the scenario's documents in time order, each by the organisation that handles the fish then."""
    results = []
    for capture in scenario.captures:
        document = read_document(capture.document, capture.label)
        results.append(Capturer(contract_of(network.gateway(capture.org, capture.user))).capture(document))
        settle(network)  # the next organisation reads what this one wrote (containers, associations)
    return results
