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

Times are scaled to ``hours`` (48 by default). Every logger is associated with the lots it watches by
AssociationEvents (added and removed at the stage boundaries), which is how readings find their lots. The
scenario is deterministic for given arguments, so the demo, the tests and ``simulate --register`` agree on
identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from consortia.apps.coldchain.consortium import FISH_MARKET, INSPECTION, LOGISTICS, PROCESSOR, RETAILER
from consortia.apps.coldchain.domain import gs1, timestamps
from consortia.apps.coldchain.domain.document import read_document
from consortia.apps.coldchain.domain.facts import CONTEXT, DEVICE_PREFIX, MDA, NS, PREFIX
from consortia.apps.coldchain.service.capture import Capturer, CaptureResult, contract_of, settle

if TYPE_CHECKING:
    from consortia.network.embedded import EmbeddedNetwork

OFFSET = "+09:00"

COMPANY = {FISH_MARKET: "8801234", PROCESSOR: "8805678", LOGISTICS: "8809012", RETAILER: "8803456"}


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


SITES = {
    "dock": Site(
        "dock",
        FISH_MARKET,
        "00001",
        {"en": "Busan Cooperative Fish Market — landing dock", "ko": "부산공동어시장 양륙장"},
        35.0933,
        129.0262,
    ),
    "coldroom": Site(
        "coldroom",
        FISH_MARKET,
        "00002",
        {"en": "Busan Cooperative Fish Market — cold room", "ko": "부산공동어시장 저온창고"},
        35.0939,
        129.0251,
    ),
    "plant": Site(
        "plant",
        PROCESSOR,
        "00001",
        {"en": "Gamcheon Seafood Processing plant, Busan", "ko": "감천수산가공 공장 (부산 사하구)"},
        35.0806,
        129.0046,
    ),
    "hub": Site(
        "hub",
        LOGISTICS,
        "00001",
        {"en": "Hanbit Cold Logistics reefer fleet, Busan", "ko": "한빛콜드물류 냉장차량 (부산)"},
        35.1013,
        128.9869,
    ),
    "shop": Site(
        "shop",
        RETAILER,
        "00001",
        {"en": "Seoul Fresh Mart, Mapo store", "ko": "서울신선마트 마포점"},
        37.5563,
        126.9220,
    ),
}


@dataclass(frozen=True)
class Product:
    """A trade item (GTIN) with its names, and the organisation whose item it is."""

    gtin: str
    names: dict[str, str]
    species: str
    org: str


def _gtin(org: str, item: str) -> str:
    return gs1.with_check_digit("0" + COMPANY[org] + item)


PRODUCTS = {
    "mackerel-whole": Product(
        _gtin(FISH_MARKET, "00011"),
        {"en": "Chub mackerel, whole, iced", "ko": "생고등어 (통)"},
        "mackerel",
        FISH_MARKET,
    ),
    "monkfish-whole": Product(
        _gtin(FISH_MARKET, "00022"), {"en": "Monkfish, whole, iced", "ko": "생아귀 (통)"}, "monkfish", FISH_MARKET
    ),
    "mackerel-fillet": Product(
        _gtin(PROCESSOR, "00101"),
        {"en": "Chub mackerel fillets, 2 pieces", "ko": "고등어 필렛 2쪽"},
        "mackerel",
        PROCESSOR,
    ),
    "monkfish-pack": Product(
        _gtin(PROCESSOR, "00202"), {"en": "Monkfish for stew, 1 kg", "ko": "아귀찜용 1kg"}, "monkfish", PROCESSOR
    ),
}

SPECIES_KDES = {
    "mackerel": {
        "cbvmda:speciesForFisheryStatisticsPurposesName": "Scomber japonicus",
        "cbvmda:speciesForFisheryStatisticsPurposesCode": "MAS",
        f"{PREFIX}:marketName": "Mackerel",
        f"{PREFIX}:marketNameKo": "고등어",
        f"{PREFIX}:species": "mackerel",
    },
    "monkfish": {
        "cbvmda:speciesForFisheryStatisticsPurposesName": "Lophius litulon",
        f"{PREFIX}:marketName": "Monkfish",
        f"{PREFIX}:marketNameKo": "아귀",
        f"{PREFIX}:species": "monkfish",
    },
}

VESSEL = {
    "cbvmda:vesselName": "Daehyeon 807 (대현807호)",
    "cbvmda:vesselID": "KR-BS-0807",
    "cbvmda:fishingGearTypeCode": "01.1",
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


def _quantities(lots: list[gs1.LotId], kg: dict[str, float]) -> list[dict[str, Any]]:
    return [{"epcClass": lot.canonical, "quantity": kg[lot.key], "uom": "KGM"} for lot in lots]


def _event(kind: str, at: int, site: str, **fields: Any) -> dict[str, Any]:
    event = {
        "type": kind,
        "eventTime": timestamps.iso_local(at, OFFSET),
        "eventTimeZoneOffset": OFFSET,
    }
    event.update(fields)
    event["readPoint"] = {"id": SITES[site].sgln}
    event.setdefault("bizLocation", {"id": SITES[site].sgln})
    return event


def _association(action: str, at: int, site: str, device: Device, lots: list[gs1.LotId], parent: str) -> dict:
    return _event(
        "AssociationEvent",
        at,
        site,
        parentID=parent,
        childEPCs=[device.giai],
        childQuantityList=[{"epcClass": lot.canonical} for lot in lots],
        action=action,
        bizStep="installing" if action == "ADD" else "removing",
    )


def build(
    lots: int = 3,
    devices: int | None = None,
    hours: float = 48.0,
    start_ms: int = 0,
    *,
    first_lot: int = 1,
    device_prefix: str = "LG",
) -> Scenario:
    """The scenario for ``lots`` landing lots over ``hours`` hours from ``start_ms`` (harvest start).

    ``first_lot`` numbers the lots (and the pallet and transformations made of them) and ``device_prefix`` names
    the loggers, so that two trips recorded on one ledger do not share identifiers.
    """
    if lots < 1:
        raise ValueError("the scenario needs at least one lot")
    scale = hours / 48.0

    def at(hour: float) -> int:
        return start_ms + int(hour * scale * 3_600_000)

    day = timestamps.iso_local(at(10), OFFSET)[2:10].replace("-", "")
    landing: list[gs1.LotId] = []
    species_of: dict[str, str] = {}
    kg: dict[str, float] = {}
    outputs: dict[str, list[gs1.LotId]] = {}
    for i in range(lots):
        kind = "monkfish" if i % 3 == 2 else "mackerel"
        whole = PRODUCTS[f"{kind}-whole"]
        number = i + first_lot
        lot = gs1.LotId(whole.gtin, f"{'MF' if kind == 'monkfish' else 'MK'}{day}-{number:02d}")
        landing.append(lot)
        species_of[lot.key] = kind
        kg[lot.key] = 600.0 + 150 * (i % 4) if kind == "mackerel" else 180.0 + 20 * (i % 3)
        pack = PRODUCTS["monkfish-pack" if kind == "monkfish" else "mackerel-fillet"]
        letters = "A" if kind == "monkfish" else "AB"
        outputs[lot.key] = [
            gs1.LotId(pack.gtin, f"{'MP' if kind == 'monkfish' else 'FL'}{day}-{number:02d}{x}") for x in letters
        ]
        for out in outputs[lot.key]:
            species_of[out.key] = kind
            kg[out.key] = round(kg[lot.key] * (0.42 if kind == "mackerel" else 0.8) / len(letters), 1)
    retail = [out for lot in landing for out in outputs[lot.key]]
    excursion = landing[1] if len(landing) > 1 else None
    pallet = gs1.sscc_urn(COMPANY[PROCESSOR], "0" + day[-5:] + f"{first_lot:04d}")

    # loggers: the roles each stage needs, mapped onto the number of devices asked for
    roles = ["boat", *(f"dock-{i}" for i in range(lots)), "coldroom", "truck0", "plant", "truck1", "display"]
    count = devices or len(roles)
    fleet = [Device(f"{device_prefix}-{n + 1:03d}") for n in range(count)]
    role_device = {role: fleet[i % count] for i, role in enumerate(roles)}
    extra = fleet[len(roles) :]
    captures: list[Capture] = []

    def stage(role: str, start: float, end: float, watched: list[gs1.LotId], site: str, profile: str) -> None:
        device = role_device[role]
        device.stages.append(DeviceStage(at(start), at(end), tuple(x.key for x in watched), site, profile))

    def associate(
        org: str, start: float, end: float, role: str, watched: list[gs1.LotId], site: str, label: str
    ) -> None:
        device = role_device[role]
        parent = gs1.sscc_urn(COMPANY[LOGISTICS], "0" + day[-5:] + f"{first_lot * 100 + fleet.index(device):04d}")
        if role in ("truck1", "display"):
            parent = pallet
        captures.append(
            Capture(
                org,
                "client",
                _document([_association("ADD", at(start), site, device, watched, parent)]),
                f"{label}: logger on",
            )
        )
        captures.append(
            Capture(
                org,
                "client",
                _document([_association("DELETE", at(end), site, device, watched, parent)]),
                f"{label}: logger off",
            )
        )

    # 0–10 h: fishing, the boat's hold logger
    stage("boat", 0, 10, landing, "dock", "boat")
    associate(FISH_MARKET, 0, 10, "boat", landing, "dock", "fishing trip")
    # 10 h: landing (first land-based receiving)
    landing_events = []
    for lot in landing:
        ilmd = {
            **SPECIES_KDES[species_of[lot.key]],
            "cbvmda:catchArea": "61",
            "cbvmda:harvestStartDate": timestamps.iso_local(at(0), OFFSET),
            "cbvmda:harvestEndDate": timestamps.iso_local(at(8), OFFSET),
            "cbvmda:vesselCatchInformationList": [{**VESSEL, "cbvmda:catchArea": "61"}],
        }
        landing_events.append(
            _event(
                "ObjectEvent",
                at(10),
                "dock",
                epcList=[],
                quantityList=_quantities([lot], kg),
                action="ADD",
                bizStep="commissioning",
                disposition="active",
                ilmd=ilmd,
                **{f"{PREFIX}:cte": "first_land_based_receiving"},
            )
        )
    captures.insert(0, Capture(FISH_MARKET, "client", _document(landing_events, master_data(FISH_MARKET)), "landing"))
    # 10–11 h: on the dock, one logger per lot's tote
    for i, lot in enumerate(landing):
        hot = lot == excursion
        stage(f"dock-{i}", 10, 11 + (2 if hot else 0), [lot], "dock", "dock-hot" if hot else "dock")
        associate(FISH_MARKET, 10, 11 + (2 if hot else 0), f"dock-{i}", [lot], "dock", "dock")
    # 11 h: cooling in the cold room (the excursion lot only at 13 h)
    cooled = [x for x in landing if x != excursion]
    captures.append(
        Capture(
            FISH_MARKET,
            "client",
            _document(
                [
                    _event(
                        "ObjectEvent",
                        at(11),
                        "coldroom",
                        epcList=[],
                        quantityList=_quantities(cooled, kg),
                        action="OBSERVE",
                        bizStep="storing",
                        disposition="in_progress",
                        **{f"{PREFIX}:cte": "cooling"},
                    )
                ]
            ),
            "cooling",
        )
    )
    if excursion is not None:
        captures.append(
            Capture(
                FISH_MARKET,
                "client",
                _document(
                    [
                        _event(
                            "ObjectEvent",
                            at(13),
                            "coldroom",
                            epcList=[],
                            quantityList=_quantities([excursion], kg),
                            action="OBSERVE",
                            bizStep="storing",
                            disposition="in_progress",
                            **{f"{PREFIX}:cte": "cooling"},
                        )
                    ]
                ),
                "late cooling",
            )
        )
    stage("coldroom", 11, 13.5, landing, "coldroom", "coldroom")
    associate(FISH_MARKET, 11, 13.5, "coldroom", cooled, "coldroom", "cold room")
    if excursion is not None:
        associate(FISH_MARKET, 13, 13.5, "coldroom", [excursion], "coldroom", "cold room (late)")
    for extra_device in extra:
        extra_device.stages.append(DeviceStage(at(11), at(13.5), tuple(x.key for x in landing), "coldroom", "coldroom"))
        role_device[f"extra-{extra_device.token}"] = extra_device
        associate(FISH_MARKET, 11, 13.5, f"extra-{extra_device.token}", landing, "coldroom", "cold room (spare)")
    # 13.5 h: auction sale, shipping to the processor; 14 h receiving
    sale = {"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:{SITES['dock'].gln}:AUC-{day}"}
    source = [{"type": "owning_party", "source": f"urn:epc:id:pgln:{COMPANY[FISH_MARKET]}.00000"}]
    destination = [{"type": "owning_party", "destination": f"urn:epc:id:pgln:{COMPANY[PROCESSOR]}.00000"}]
    captures.append(
        Capture(
            FISH_MARKET,
            "client",
            _document(
                [
                    _event(
                        "ObjectEvent",
                        at(13.5),
                        "coldroom",
                        epcList=[],
                        quantityList=_quantities(landing, kg),
                        action="OBSERVE",
                        bizStep="shipping",
                        disposition="in_transit",
                        bizTransactionList=[sale],
                        sourceList=source,
                        destinationList=destination,
                    )
                ]
            ),
            "shipping to the processor",
        )
    )
    stage("truck0", 13.5, 14, landing, "hub", "truck")
    associate(LOGISTICS, 13.5, 14, "truck0", landing, "hub", "truck to the processor")
    captures.append(
        Capture(
            PROCESSOR,
            "client",
            _document(
                [
                    _event(
                        "ObjectEvent",
                        at(14),
                        "plant",
                        epcList=[],
                        quantityList=_quantities(landing, kg),
                        action="OBSERVE",
                        bizStep="receiving",
                        disposition="in_progress",
                        bizTransactionList=[sale],
                        sourceList=source,
                        destinationList=destination,
                    )
                ],
                master_data(PROCESSOR),
            ),
            "receiving at the processor",
        )
    )
    stage("plant", 14, 17, landing + retail, "plant", "plant")
    associate(PROCESSOR, 14, 15, "plant", landing, "plant", "plant (landing lots)")
    associate(PROCESSOR, 15, 17, "plant", retail, "plant", "plant (packs)")
    # 14.5 h: the inspection agency tests the excursion lot for histamine
    if excursion is not None:
        inspection = _event(
            "ObjectEvent",
            at(14.5),
            "plant",
            epcList=[],
            quantityList=_quantities([excursion], kg),
            action="OBSERVE",
            bizStep="inspecting",
            disposition="conformant",
            **{
                f"{PREFIX}:histaminePpm": 12,
                f"{PREFIX}:result": "Histamine 12 ppm, below the 50 ppm defect action level; released",
                f"{PREFIX}:resultKo": "히스타민 12 ppm (기준 50 ppm 미만) — 적합",
            },
        )
        captures.append(Capture(INSPECTION, "inspector", _document([inspection]), "inspection"))
    # 15 h: transformation (filleting, portioning)
    for lot in landing:
        event = _event(
            "TransformationEvent",
            at(15),
            "plant",
            inputQuantityList=_quantities([lot], kg),
            outputQuantityList=_quantities(outputs[lot.key], kg),
            transformationID=f"urn:epc:id:gdti:{COMPANY[PROCESSOR]}.00001.XF{day}{landing.index(lot) + first_lot:02d}",
            bizStep="commissioning",
            disposition="active",
            ilmd={**SPECIES_KDES[species_of[lot.key]]},
        )
        captures.append(Capture(PROCESSOR, "client", _document([event]), "transformation"))
    # 16 h: packing onto a pallet; 17 h shipping to Seoul; 22 h receiving at the shop
    captures.append(
        Capture(
            PROCESSOR,
            "client",
            _document(
                [
                    _event(
                        "AggregationEvent",
                        at(16),
                        "plant",
                        parentID=pallet,
                        childEPCs=[],
                        childQuantityList=_quantities(retail, kg),
                        action="ADD",
                        bizStep="packing",
                        disposition="in_progress",
                        **{f"{PREFIX}:cte": "initial_packing"},
                    )
                ]
            ),
            "packing",
        )
    )
    order = {"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:{SITES['shop'].gln}:PO-{day}"}
    despatch = {"type": "desadv", "bizTransaction": f"urn:epcglobal:cbv:bt:{SITES['plant'].gln}:DA-{day}"}
    to_shop = [{"type": "owning_party", "destination": f"urn:epc:id:pgln:{COMPANY[RETAILER]}.00000"}]
    from_plant = [{"type": "owning_party", "source": f"urn:epc:id:pgln:{COMPANY[PROCESSOR]}.00000"}]
    captures.append(
        Capture(
            LOGISTICS,
            "client",
            _document(
                [
                    _event(
                        "ObjectEvent",
                        at(17),
                        "hub",
                        epcList=[pallet],
                        action="OBSERVE",
                        bizStep="shipping",
                        disposition="in_transit",
                        bizTransactionList=[order, despatch],
                        sourceList=from_plant,
                        destinationList=to_shop,
                    )
                ],
                master_data(LOGISTICS),
            ),
            "shipping to Seoul",
        )
    )
    stage("truck1", 17, 22, retail, "hub", "truck")
    associate(LOGISTICS, 17, 22, "truck1", retail, "hub", "reefer truck to Seoul")
    captures.append(
        Capture(
            RETAILER,
            "client",
            _document(
                [
                    _event(
                        "ObjectEvent",
                        at(22),
                        "shop",
                        epcList=[pallet],
                        action="OBSERVE",
                        bizStep="receiving",
                        disposition="sellable_accessible",
                        bizTransactionList=[order, despatch],
                        sourceList=from_plant,
                        destinationList=to_shop,
                    )
                ],
                master_data(RETAILER),
            ),
            "receiving in Seoul",
        )
    )
    stage("display", 22, 48, retail, "shop", "display")
    captures.append(
        Capture(
            RETAILER,
            "client",
            _document([_association("ADD", at(22), "shop", role_device["display"], retail, pallet)]),
            "display case: logger on",
        )
    )
    # 30 h+: retail sales of part of each pack lot
    for n, lot in enumerate(retail):
        sold = {lot.key: round(kg[lot.key] * 0.3, 1)}
        captures.append(
            Capture(
                RETAILER,
                "client",
                _document(
                    [
                        _event(
                            "ObjectEvent",
                            at(30 + n),
                            "shop",
                            epcList=[],
                            quantityList=[{"epcClass": lot.canonical, "quantity": sold[lot.key], "uom": "KGM"}],
                            action="DELETE",
                            bizStep="retail_selling",
                            disposition="retail_sold",
                        )
                    ]
                ),
                "retail sale",
            )
        )
    captures.sort(key=lambda c: timestamps.to_ms(c.document["epcisBody"]["eventList"][0]["eventTime"]))
    return Scenario(
        start_ms=start_ms,
        hours=hours,
        captures=captures,
        devices=fleet,
        landing_lots=landing,
        retail_lots=retail,
        excursion_lot=excursion,
        species_of=species_of,
        pallet=pallet,
    )


def record(network: EmbeddedNetwork, scenario: Scenario) -> list[CaptureResult]:
    """Capture the scenario's documents in time order, each by the organisation that handles the fish then."""
    results = []
    for capture in scenario.captures:
        document = read_document(capture.document, capture.label)
        results.append(Capturer(contract_of(network.gateway(capture.org, capture.user))).capture(document))
        settle(network)  # the next organisation reads what this one wrote (containers, associations)
    return results
