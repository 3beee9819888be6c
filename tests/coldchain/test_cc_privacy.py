"""Privacy and authority (issue 9): nothing commercial on the ledger, consumer proofs that disclose nothing more,
recalls, alarms and master data only by their owners (and the inspector for a recall), bounded JSON input."""

from __future__ import annotations

import base64
import copy
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.domain import commitment, gs1
from consortia.apps.coldchain.domain.document import DocumentRejected, read_document
from consortia.apps.coldchain.domain.facts import CONTEXT, DEVICE_PREFIX, MDA
from consortia.apps.coldchain.domain.readings import Reading, encode, topic
from consortia.apps.coldchain.service import alarms, proofs
from consortia.apps.coldchain.service.capture import Capturer, contract_of, submission
from consortia.apps.coldchain.service.ingest import IngestService
from consortia.client.errors import EndorsementFailed, TransactionInvalid
from consortia.client.request_signing import authorization_header
from consortia.client.sdk import Gateway
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.identity import CertificateAuthority
from consortia.network.bootstrap import crypto_dir
from consortia.network.embedded import EmbeddedNetwork

from .cc_support import scan_block_files, settle

# Distinctive commercial values, planted through the application's normal routes.
PO = "PO-ZX9-PLANT-4471"
SELLER = "8807771"  # GS1 company prefix of the planted seller: in its lot's GTIN, its GLNs and its party id
BUYER = "8807772"
QUANTITY = 4471.25
COMPANY = "Zx9 Plantation Seafood Co."
ADDRESS = "77 Zx9-ro, Gijang-gun"
LOT = gs1.LotId.parse(f"urn:epc:class:lgtin:{SELLER}.012345.ZX9LOT4471")
LOGGER = "ZX9LOG"
REASON = "zx9 metal fragment in the tote"
NOTE = "zx9 closed after the tote was re-iced"
START = 1709560800000  # 2024-03-04 23:00 KST
NOW = START + 10 * 24 * 3_600_000


def signed(network: EmbeddedNetwork, method: str, target: str, body: bytes, org: str) -> dict[str, str]:
    identity = network.identity(org, "client")
    return {"Authorization": authorization_header(identity, method, target, body)}


def _document(events: list[dict], master: list[dict] | None = None) -> dict:
    document = {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-05T00:00:00Z",
        "epcisBody": {"eventList": events},
    }
    if master:
        document["epcisHeader"] = {"epcisMasterData": {"vocabularyList": master}}
    return document


def _location_master(sgln: str, name: str, address: str) -> list[dict]:
    attributes = [
        {"id": MDA + "name", "attribute": name},
        {"id": MDA + "streetAddressOne", "attribute": address},
        {"id": MDA + "latitude", "attribute": 35.24},
        {"id": MDA + "longitude", "attribute": 129.21},
    ]
    return [
        {
            "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
            "vocabularyElementList": [{"id": sgln, "attributes": attributes}],
        }
    ]


def _event(bizstep: str, hour: float, **fields: object) -> dict:
    at = START + int(hour * 3_600_000)
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at / 1000 + 9 * 3600)) + "+09:00"
    event = {
        "type": "ObjectEvent",
        "eventTime": iso,
        "eventTimeZoneOffset": "+09:00",
        "epcList": [],
        "quantityList": [{"epcClass": LOT.canonical, "quantity": QUANTITY, "uom": "KGM"}],
        "action": "OBSERVE",
        "bizStep": bizstep,
        "readPoint": {"id": f"urn:epc:id:sgln:{SELLER}.00001.0"},
        "bizLocation": {"id": f"urn:epc:id:sgln:{SELLER}.00001.0"},
    }
    event.update(fields)
    return event


def _planted_documents() -> list[dict]:
    landing = _event(
        "commissioning",
        10,
        action="ADD",
        disposition="active",
        ilmd={
            "cbvmda:speciesForFisheryStatisticsPurposesName": "Scomber japonicus",
            "cc:species": "mackerel",
            "cbvmda:catchArea": "61",
            "cbvmda:vesselCatchInformationList": [{"cbvmda:vesselName": "Zx9 Maru", "cbvmda:vesselID": "ZX9-VESSEL"}],
        },
        **{"cc:cte": "first_land_based_receiving"},
    )
    shipping = _event(
        "shipping",
        13,
        disposition="in_transit",
        bizTransactionList=[{"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:{SELLER}000017:{PO}"}],
        sourceList=[{"type": "owning_party", "source": f"urn:epc:id:pgln:{SELLER}.00000"}],
        destinationList=[{"type": "owning_party", "destination": f"urn:epc:id:pgln:{BUYER}.00000"}],
    )
    master = _location_master(f"urn:epc:id:sgln:{SELLER}.00001.0", COMPANY, ADDRESS)
    association = {
        "type": "AssociationEvent",
        "eventTime": "2024-03-05T09:00:00+09:00",
        "eventTimeZoneOffset": "+09:00",
        "parentID": f"urn:epc:id:sscc:{SELLER}.0000000001",
        "childEPCs": [f"urn:epc:id:giai:{DEVICE_PREFIX}.{LOGGER}"],
        "childQuantityList": [{"epcClass": LOT.canonical}],
        "action": "ADD",
        "bizStep": "installing",
    }
    return [_document([landing, shipping], master), _document([association])]


def _capture_over_rest(client: TestClient, network: EmbeddedNetwork, document: dict, org: str) -> dict:
    body = json.dumps(document).encode()
    headers = {"Content-Type": "application/ld+json", **signed(network, "POST", "/epcis/capture", body, org)}
    accepted = client.post("/epcis/capture", content=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    url = accepted.headers["location"]
    for _ in range(500):
        job = client.get(url, headers=signed(network, "GET", url, b"", org)).json()
        if not job["running"]:
            break
        time.sleep(0.02)
    assert job["success"] is True, job
    return job


def test_planted_commercial_values_never_reach_a_block_file(cc_network: EmbeddedNetwork) -> None:
    with TestClient(create_app(cc_network)) as client:
        landing, association = _planted_documents()
        _capture_over_rest(client, cc_network, landing, consortium.FISH_MARKET)
        _capture_over_rest(client, cc_network, association, consortium.LOGISTICS)
        settle(cc_network)
        # readings of the logger, three hours too warm: stored off-chain, anchored, and an alarm raised
        ingester = IngestService.for_network(cc_network, window_seconds=300)
        for seq in range(1, 181):
            at = START + 11 * 3_600_000 + seq * 60_000
            ingester.handle(topic("site-zx9", LOGGER), encode(Reading("site-zx9", LOGGER, seq, at, 25.0)), NOW)
        ingester.close()
        assert ingester.counters()["readings_anchored"] == 180 and ingester.counters()["alarms_raised"] >= 1
        settle(cc_network)
        # the owner recalls the lot (its own and the inspection agency's peers endorse)
        order = json.dumps({"lot": LOT.canonical, "reason": REASON}).encode()
        target = "/api/coldchain/recall"
        headers = {"Content-Type": "application/json", **signed(cc_network, "POST", target, order, "BusanFishMarket")}
        recalled = client.post(target, content=order, headers=headers)
        assert recalled.status_code == 200, recalled.text
        settle(cc_network)
        # the lot's own consumer page: its place's name and its vessel, yes; orders, parties, quantities, no
        journey = client.get(f"/api/coldchain/public/journey?lot={quote(LOT.key)}")
        assert journey.status_code == 200 and proofs.journey_holds(journey.json())
        shown = journey.json()
        assert shown["recalled"] and shown["steps"][0]["location"]["name"]["en"] == COMPANY
        envelopes = [base64.b64decode(p["envelope"]) for p in shown["proofs"].values()]
        for needle in (PO, BUYER, str(QUANTITY), ADDRESS, "ZX9-VESSEL", LOGGER, REASON, '"quantity"', "pgln"):
            assert needle not in journey.text and not any(needle.encode() in e for e in envelopes), needle
    settle(cc_network)
    market = contract_of(cc_network.gateway(consortium.FISH_MARKET))
    (alarm, *_) = [a for a in market.evaluate("alarms", True) if a["lots"] == [LOT.key]]
    assert alarms.close_alarm(market, alarm["ref"], NOTE)["status"] == "closed"
    settle(cc_network)
    # members still read everything, from the private collection
    shipped = market.evaluate("query_events", {"EQ_bizStep": "shipping"})["events"]
    assert shipped[0]["event"]["bizTransactionList"][0]["bizTransaction"].endswith(PO)
    assert (
        market.evaluate("master_data")["locations"][gs1.normalise_id(f"urn:epc:id:sgln:{SELLER}.00001.0")]["name"]
        == COMPANY
    )
    assert market.evaluate("alarms", False)[0]["note"] == NOTE
    needles = [PO, SELLER, BUYER, str(QUANTITY), COMPANY, ADDRESS, LOT.lot, LOGGER, REASON, NOTE, "ZX9-VESSEL"]
    assert scan_block_files(cc_network.directory, needles) == []


def test_the_demo_ledger_holds_no_commercial_data_in_clear(demo_network: EmbeddedNetwork) -> None:
    settle(demo_network)
    contract = contract_of(demo_network.gateway(consortium.RETAILER))
    lots = [row["lot"] for row in contract.evaluate("lots")]
    shipped = contract.evaluate("query_events", {"EQ_bizStep": "shipping", "perPage": 1000})["events"]
    references = [ref["bizTransaction"] for e in shipped for ref in e["event"].get("bizTransactionList", [])]
    parties = [p["source"] for e in shipped for p in e["event"].get("sourceList", [])]
    locations = contract.evaluate("master_data")["locations"]
    names = [attributes["name"] for attributes in locations.values()]
    assert lots and references and parties and names
    needles = [
        *(lot.split("/", 1)[1] for lot in lots),
        *(ref.rsplit(":", 1)[1] for ref in references),
        *parties,
        *names,
        "KR-BS-0807",  # the vessel's id
        "Daehyeon",  # and name
        "LG-001",  # a logger
        *(e["eventID"] for e in shipped),  # a CBV hash ID is an unsalted hash of the event: guessable
    ]
    assert scan_block_files(demo_network.directory, needles) == []


@dataclass(frozen=True)
class Lots:
    """A demo retail lot, the other lots of the demo, and the commercial references of the scenario."""

    lot: gs1.LotId
    others: list[str]
    secrets: list[str]


@pytest.fixture(scope="module")
def demo_lots(demo_network: EmbeddedNetwork) -> Lots:
    settle(demo_network)
    contract = contract_of(demo_network.gateway(consortium.RETAILER))
    keys = [row["lot"] for row in contract.evaluate("lots")]
    landing = next(k for k in keys if k.split("/")[1].startswith("MK") and k.endswith("-02"))  # the excursion
    child = next(k for k in keys if k.split("/")[1].startswith("FL") and k.endswith("-02A"))
    events = contract.evaluate("query_events", {"perPage": 1000})["events"]
    secrets = ["KR-BS-0807", "pgln", '"quantity"', "KGM", "sourceList"]
    for record in events:
        for ref in record["event"].get("bizTransactionList", []):
            secrets.append(ref["bizTransaction"].rsplit(":", 1)[1])
    others = [k.split("/")[1] for k in keys if k not in (landing, child)]
    return Lots(gs1.LotId.from_key(child), others, sorted(set(secrets)))


@pytest.fixture(scope="module")
def public(demo_network: EmbeddedNetwork) -> Iterator[TestClient]:
    with TestClient(create_app(demo_network)) as test_client:
        yield test_client


def test_a_journey_names_no_other_lot_and_no_commercial_value_yet_verifies(public, demo_lots: Lots) -> None:
    response = public.get(f"/api/coldchain/public/journey?lot={quote(demo_lots.lot.key)}")
    assert response.status_code == 200, response.text
    journey = response.json()
    assert len(journey["steps"]) >= 6 and journey["alarms"] and journey["inspections"]
    envelopes = [base64.b64decode(p["envelope"]) for p in journey["proofs"].values()]
    for needle in [*demo_lots.others, *demo_lots.secrets]:
        assert needle not in response.text, needle
        assert not any(needle.encode() in envelope for envelope in envelopes), needle
    assert proofs.journey_holds(journey)
    results = proofs.verify_journey(journey)
    assert set(results) == {step["eventID"] for step in journey["steps"]}
    # the anonymous contract function says no more than the page's document
    lot_journey = public.post(
        f"/api/channels/{consortium.CHANNEL}/contracts/{consortium.CONTRACT}/evaluate",
        json={"function": "lot_journey", "args": [demo_lots.lot.key]},
    )
    assert lot_journey.status_code == 200, lot_journey.text
    for needle in [*demo_lots.others, *demo_lots.secrets]:
        assert needle not in lot_journey.text, needle
    # what needs membership is not public
    members_only = public.post(
        f"/api/channels/{consortium.CHANNEL}/contracts/{consortium.CONTRACT}/evaluate",
        json={"function": "master_data", "args": []},
    )
    assert members_only.status_code == 401


def test_a_doctored_journey_fails_the_python_verifier(public, demo_lots: Lots) -> None:
    journey = public.get(f"/api/coldchain/public/journey?lot={quote(demo_lots.lot.key)}").json()
    landing = next(i for i, s in enumerate(journey["steps"]) if s["cte"] == "first_land_based_receiving")
    shown = copy.deepcopy(journey)
    shown["steps"][landing]["kdes"]["catch_area"] = "27"  # the page would say the Atlantic
    assert not proofs.journey_holds(shown)
    leaf = copy.deepcopy(journey)
    text = leaf["steps"][landing]["commitment"]["leaf"]
    leaf["steps"][landing]["commitment"]["leaf"] = text.replace('"catch_area":"61"', '"catch_area":"27"')
    leaf["steps"][landing]["kdes"]["catch_area"] = "27"  # step and leaf agree, but the ledger never saw this leaf
    assert leaf["steps"][landing]["commitment"]["leaf"] != text and not proofs.journey_holds(leaf)
    moved = copy.deepcopy(journey)
    moved["steps"][landing]["commitment"]["index"] += 1
    assert not proofs.journey_holds(moved)


def test_tampered_transaction_proofs_fail_the_python_verifier(demo_network: EmbeddedNetwork, demo_lots: Lots) -> None:
    with TestClient(create_app(demo_network, ServerSettings(tamper_proofs=True))) as tampered:
        journey = tampered.get(f"/api/coldchain/public/journey?lot={quote(demo_lots.lot.key)}").json()
    results = proofs.verify_journey(journey)
    assert results and not any(all(s.ok for s in steps) for steps in results.values())


def test_members_can_check_what_a_leaf_seals(demo_network: EmbeddedNetwork, demo_lots: Lots) -> None:
    contract = contract_of(demo_network.gateway(consortium.PROCESSOR))
    journey = contract.evaluate("lot_journey", demo_lots.lot.key)
    step = journey["events"][0]
    committed = contract.evaluate("event_commitment", step["eventID"])
    assert commitment.sealed_holds(committed["leaf"], committed["event"], committed["salt"])
    altered = dict(committed["event"], quantityList=[])
    assert not commitment.sealed_holds(committed["leaf"], altered, committed["salt"])


# -- the contract's arguments ---------------------------------------------------------------------------------


def _landing(lot: str = "urn:epc:class:lgtin:8801234.012345.AUTH-1") -> dict:
    return _document(
        [
            {
                "type": "ObjectEvent",
                "eventTime": "2024-03-05T10:00:00+09:00",
                "eventTimeZoneOffset": "+09:00",
                "epcList": [],
                "quantityList": [{"epcClass": lot, "quantity": 100, "uom": "KGM"}],
                "action": "ADD",
                "bizStep": "commissioning",
                "disposition": "active",
                "readPoint": {"id": "urn:epc:id:sgln:8801234.00001.0"},
                "ilmd": {"cc:species": "mackerel", "cbvmda:catchArea": "61"},
            }
        ],
        _location_master("urn:epc:id:sgln:8801234.00001.0", "Busan Cooperative Fish Market — dock", "Chungmu-daero"),
    )


def test_a_capture_whose_root_is_not_its_events_is_refused(cc_network: EmbeddedNetwork) -> None:
    contract = contract_of(cc_network.gateway(consortium.FISH_MARKET))
    sent = submission(read_document(_landing()), "capture-1")
    with pytest.raises(EndorsementFailed, match="commitment does not match"):
        contract.submit("capture", "ab" * 32, sent.commitment.count, transient=sent.transient)
    with pytest.raises(EndorsementFailed, match="takes 2 argument"):
        contract.submit("capture", _landing()["epcisBody"]["eventList"], {}, {})  # the old, public way
    with pytest.raises(EndorsementFailed, match="transient data 'capture'"):
        contract.submit("capture", sent.commitment.root.hex(), sent.commitment.count)


# -- authority ----------------------------------------------------------------------------------------------


def _rogue_inspector(network: EmbeddedNetwork, org: str) -> Gateway:
    """A member organisation's own certificate saying role=inspector: the contract must not believe it."""
    ca = CertificateAuthority.load(crypto_dir(network.directory, org) / "ca")
    return Gateway(ca.issue("self-styled-inspector", "client", {"role": "inspector"}), network)


def _recall(lot: str) -> dict:
    return _document(
        [
            {
                "type": "ObjectEvent",
                "eventTime": "2024-03-06T10:00:00+09:00",
                "eventTimeZoneOffset": "+09:00",
                "epcList": [],
                "quantityList": [{"epcClass": lot}],
                "action": "OBSERVE",
                "bizStep": "holding",
                "disposition": "recalled",
            }
        ]
    )


def test_only_the_owner_with_the_inspector_recalls_a_lot(cc_network: EmbeddedNetwork) -> None:
    lot = "urn:epc:class:lgtin:8801234.012345.AUTH-1"
    Capturer(contract_of(cc_network.gateway(consortium.FISH_MARKET))).capture(read_document(_landing(lot)))
    settle(cc_network)
    processor = Capturer(contract_of(cc_network.gateway(consortium.PROCESSOR)))
    with pytest.raises(
        DocumentRejected, match=re.escape("not allowed: only BusanFishMarket (which owns lot")
    ) as refused:
        processor.capture(read_document(_recall(lot)))
    assert refused.value.code == "FORBIDDEN"  # the contract's code, which the routes answer with 403
    rogue = Capturer(contract_of(_rogue_inspector(cc_network, consortium.RETAILER)))
    with pytest.raises(DocumentRejected, match="not allowed: only BusanFishMarket"):
        rogue.capture(read_document(_recall(lot)))
    with pytest.raises(DocumentRejected, match="not allowed: only an inspector of InspectionAgency"):
        rogue.capture(read_document(_inspecting(lot, "non_conformant")))
    # the owner alone, without the inspection agency's peer: the key-level policy of the lot refuses it
    alone = Capturer(contract_of(cc_network.gateway(consortium.FISH_MARKET)), endorsing_orgs=[consortium.FISH_MARKET])
    with pytest.raises(TransactionInvalid) as caught:
        alone.capture(read_document(_recall(lot)))
    assert caught.value.code == "ENDORSEMENT_POLICY_FAILURE" and "InspectionAgency.peer" in caught.value.message
    # the owner with the inspection agency: recalled
    Capturer(contract_of(cc_network.gateway(consortium.FISH_MARKET))).capture(read_document(_recall(lot)))
    settle(cc_network)
    rows = {row["lot"]: row for row in contract_of(cc_network.gateway(consortium.RETAILER)).evaluate("lots")}
    assert rows[gs1.LotId.parse(lot).key]["recalled"] is True


def _inspecting(lot: str, disposition: str) -> dict:
    document = _recall(lot)
    event = document["epcisBody"]["eventList"][0]
    event.update(bizStep="inspecting", disposition=disposition, eventTime="2024-03-06T09:00:00+09:00")
    return document


def test_only_the_owner_closes_an_alarm(cc_network: EmbeddedNetwork) -> None:
    lot = "urn:epc:class:lgtin:8801234.012345.AUTH-2"
    Capturer(contract_of(cc_network.gateway(consortium.FISH_MARKET))).capture(read_document(_landing(lot)))
    settle(cc_network)
    logistics = contract_of(cc_network.gateway(consortium.LOGISTICS))
    alarm = {"id": "AUTH-2#too-warm", "code": "critical_limit_exceeded", "lots": [lot], "message": "too warm"}
    raised = logistics.submit("raise_alarm", transient={"alarm": json.dumps(alarm).encode()}).result
    settle(cc_network)
    ref = raised["ref"]
    assert "AUTH-2" not in json.dumps(raised)  # the submit result is in the block too
    retailer = contract_of(cc_network.gateway(consortium.RETAILER))
    with pytest.raises(
        EndorsementFailed, match=re.escape("not allowed: only the owner of the alarm's lots (BusanFishMarket)")
    ) as refused:
        alarms.close_alarm(retailer, ref, "not mine to close")
    assert refused.value.contract_code == "FORBIDDEN"
    market = contract_of(cc_network.gateway(consortium.FISH_MARKET))
    with pytest.raises(TransactionInvalid) as caught:  # the owner, endorsed by another organisation's peer only
        market.submit("close_alarm", ref, endorsing_orgs=[consortium.RETAILER])
    assert caught.value.code == "ENDORSEMENT_POLICY_FAILURE"
    assert alarms.close_alarm(market, ref, "re-iced")["status"] == "closed"
    settle(cc_network)
    (closed,) = [a for a in retailer.evaluate("alarms", False) if a["ref"] == ref]
    assert closed["status"] == "closed" and closed["closedBy"] == "BusanFishMarket/client"


def test_only_the_owner_changes_master_data(cc_network: EmbeddedNetwork) -> None:
    market = Capturer(contract_of(cc_network.gateway(consortium.FISH_MARKET)))
    market.capture(read_document(_landing("urn:epc:class:lgtin:8801234.012345.AUTH-3")))
    settle(cc_network)
    sgln = "urn:epc:id:sgln:8801234.00001.0"
    renamed = _document(
        [_recall("urn:epc:class:lgtin:8801234.012345.AUTH-3")["epcisBody"]["eventList"][0] | {"disposition": "active"}],
        _location_master(sgln, "Not the fish market", "Elsewhere"),
    )
    processor = Capturer(contract_of(cc_network.gateway(consortium.PROCESSOR)))
    with pytest.raises(
        DocumentRejected, match=re.escape("not allowed: only BusanFishMarket (which recorded it) may change it")
    ):
        processor.capture(read_document(renamed))
    same = copy.deepcopy(_landing("urn:epc:class:lgtin:8801234.012345.AUTH-4"))
    processor.capture(read_document(same))  # the same master data again: nothing changes, nobody's leave needed
    sideways = Capturer(contract_of(cc_network.gateway(consortium.FISH_MARKET)), endorsing_orgs=[consortium.PROCESSOR])
    with pytest.raises(TransactionInvalid) as caught:
        sideways.capture(read_document(renamed))
    assert caught.value.code == "ENDORSEMENT_POLICY_FAILURE"
    market.capture(read_document(renamed))
    settle(cc_network)
    locations = contract_of(cc_network.gateway(consortium.RETAILER)).evaluate("master_data")["locations"]
    assert locations[gs1.normalise_id(sgln)]["name"] == "Not the fish market"


# -- input limits -------------------------------------------------------------------------------------------


def test_deep_json_and_unicode_digits_are_refused_with_400(cc_network: EmbeddedNetwork) -> None:
    with TestClient(create_app(cc_network)) as client:
        body = b'{"type": "EPCISDocument", "epcisBody": {"eventList": [' + b"[" * 3000 + b"]" * 3000 + b"]}}"
        headers = {
            "Content-Type": "application/json",
            **signed(cc_network, "POST", "/epcis/capture", body, "BusanFishMarket"),
        }
        deep = client.post("/epcis/capture", content=body, headers=headers)
        assert deep.status_code == 400, deep.text
        assert "64" in deep.json()["detail"]
        target = "/epcis/events?perPage=%C2%B2"  # '²' is a digit to str.isdigit, not to int()
        squared = client.get(target, headers=signed(cc_network, "GET", target, b"", "BusanFishMarket"))
        assert squared.status_code == 400, squared.text
        assert "perPage must be an integer" in squared.json()["detail"]
