"""Gateway routes: EPCIS REST binding, public consumer page and journey (proofs, tamper switch), dashboard API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.domain import gs1, readings
from consortia.client.request_signing import authorization_header
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.ledger.proof import check_proof, proof_holds
from consortia.network.embedded import EmbeddedNetwork

from .cc_support import EVENT_HASH, load, settle


@dataclass(frozen=True)
class Demo:
    """The demo's lots, as the tests need them."""

    landing: list[gs1.LotId]
    retail: list[gs1.LotId]
    excursion: gs1.LotId


@pytest.fixture(scope="module")
def seeded(demo_network: EmbeddedNetwork) -> tuple[EmbeddedNetwork, Demo]:
    """The demo network and its lots (the excursion lot is the landing lot with open alarms)."""
    settle(demo_network)
    contract = demo_network.gateway(consortium.RETAILER).network(consortium.CHANNEL).contract(consortium.CONTRACT)
    rows = contract.evaluate("lots")
    landing = [gs1.LotId.from_key(r["lot"]) for r in rows if r["lot"].split("/")[1][:2] in ("MK", "MF")]
    retail = [gs1.LotId.from_key(r["lot"]) for r in rows if r["lot"].split("/")[1][:2] in ("FL", "MP")]
    excursion = next(
        gs1.LotId.from_key(r["lot"]) for r in rows if r["open_alarms"] and r["lot"] in {x.key for x in landing}
    )
    return demo_network, Demo(landing, retail, excursion)


@pytest.fixture(scope="module")
def client(seeded) -> Iterator[TestClient]:
    network, _ = seeded
    with TestClient(create_app(network)) as test_client:
        yield test_client


def signed(network: EmbeddedNetwork, method: str, target: str, body: bytes = b"", org: str = "BusanFishMarket") -> dict:
    identity = network.identity(org, "client")
    return {"Authorization": authorization_header(identity, method, target, body)}


def test_consumer_page_is_public_and_bilingual(client, seeded) -> None:
    _, plan = seeded
    lot = plan.retail[0]
    page = client.get(lot.path)
    assert page.status_code == 200 and "data-journey-url" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    korean = client.get(lot.path + "?lang=ko")
    assert '<html lang="ko">' in korean.text and "이 생선이 온 길" in korean.text
    assert '<html lang="ko">' in client.get(lot.path, headers={"Accept-Language": "ko-KR,ko;q=0.9"}).text
    missing = client.get("/01/09506000134353/10/A?lang=en")
    assert missing.status_code == 404 and "check digit" in missing.text


def test_public_journey_carries_proofs_that_verify(client, seeded) -> None:
    _, plan = seeded
    excursion_child = next(x for x in plan.retail if x.lot.split("-")[1][:2] == plan.excursion.lot.split("-")[1])
    response = client.get(f"/api/coldchain/public/journey?lot={quote(excursion_child.canonical)}")
    assert response.status_code == 200, response.text
    journey = response.json()
    ctes = [step["cte"] for step in journey["steps"]]
    assert ctes[0] == "first_land_based_receiving" and "transformation" in ctes
    assert journey["origin"]["catch_area"] == "61" and journey["origin"]["vessel_name"].startswith("Daehyeon")
    assert journey["species"]["name"] == "mackerel" and journey["limits"]["high_celsius"] == 21.1
    assert journey["temperature"]["source"] == "readings" and len(journey["temperature"]["series"]) > 100
    assert 0 < journey["freshness"]["remaining_days"] < 10
    assert journey["assessment"]["status"] == "alarm"
    assert {a["code"] for a in journey["alarms"]} >= {"high_temperature_exposure"}
    assert journey["inspections"][0]["disposition"] == "conformant"
    # One verdict: the exposure is shown together with the histamine test that cleared it (issue 11, item 1).
    assert journey["safety"]["saleable"], journey["safety"]
    [exposure] = [f for f in journey["safety"]["findings"] if f["code"] == "high_temperature_exposure"]
    assert exposure["cleared_by"]["conformant"] and "Histamine" in exposure["cleared_by"]["result"]
    assert set(journey["proofs"]) == {step["txID"] for step in journey["steps"]}
    for tx_id, proof in journey["proofs"].items():
        assert proof["tx_id"] == tx_id and proof_holds(check_proof(proof))
    assert client.get("/api/coldchain/public/journey?lot=09506000134352/NOPE").status_code == 404
    assert client.get("/api/coldchain/public/journey?lot=12345").status_code == 400
    qr = client.get(f"/api/coldchain/public/qr.svg?lot={quote(excursion_child.key)}")
    assert qr.status_code == 200 and qr.text.lstrip().startswith("<?xml")


def test_the_tamper_switch_breaks_every_proof(seeded) -> None:
    network, plan = seeded
    with TestClient(create_app(network, ServerSettings(tamper_proofs=True))) as tampered:
        journey = tampered.get(f"/api/coldchain/public/journey?lot={quote(plan.retail[0].key)}").json()
    assert journey["proofs"] and not any(proof_holds(check_proof(p)) for p in journey["proofs"].values())


def test_epcis_capture_and_query_over_rest(client, seeded) -> None:
    network, _ = seeded
    document = load(EVENT_HASH / "ReferenceEventHashAlgorithm2.jsonld")
    body = json.dumps(document).encode()
    assert client.post("/epcis/capture", content=body).status_code == 401
    headers = {"Content-Type": "application/ld+json", **signed(network, "POST", "/epcis/capture", body)}
    accepted = client.post("/epcis/capture", content=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    job_url = accepted.headers["location"]
    assert job_url == f"/epcis/capture/{accepted.json()['captureID']}"
    for _ in range(200):
        job = client.get(job_url, headers=signed(network, "GET", job_url)).json()
        if not job["running"]:
            break
        time.sleep(0.02)
    assert (
        job["success"] is True
        and job["eventIDs"] == (EVENT_HASH / "ReferenceEventHashAlgorithm2.hashes").read_text().split()
    )
    settle(network)
    target = "/epcis/events?EQ_bizStep=inspecting&MATCH_epc=urn:epc:id:sgtin:4012345.011111.9876"
    found = client.get(target, headers=signed(network, "GET", target, org="SeoulRetail"))
    assert found.status_code == 200
    events = found.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["eventID"] for e in events] == job["eventIDs"] and "recordTime" in events[0]
    paged = "/epcis/events?EQ_bizStep=shipping&perPage=1"
    first = client.get(paged, headers=signed(network, "GET", paged))
    assert len(first.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 1
    assert 'rel="next"' in first.headers["link"]
    following = first.headers["link"].split(">")[0].lstrip("<")
    second = client.get(following, headers=signed(network, "GET", following))
    assert second.status_code == 200 and second.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    bad_param = "/epcis/events?EQ_colour=red"
    assert client.get(bad_param, headers=signed(network, "GET", bad_param)).status_code == 400


def test_a_program_captures_as_itself_never_with_a_borrowed_identity(client, seeded) -> None:
    """Finding 5: the organisation's admin program signs a capture request; the gateway lends it no other key."""
    network, _ = seeded
    document = load(EVENT_HASH / "ReferenceEventHashAlgorithm2.jsonld")
    body = json.dumps(document).encode()
    identity = network.identity("BusanFishMarket", "admin")
    headers = {
        "Content-Type": "application/ld+json",
        "Authorization": authorization_header(identity, "POST", "/epcis/capture", body),
    }
    refused = client.post("/epcis/capture", content=body, headers=headers)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "SIGN_YOUR_OWN" and "sign your own proposal" in refused.json()["detail"]


def test_epcis_capture_refuses_bad_documents_whole(client, seeded) -> None:
    network, _ = seeded
    document = load(EVENT_HASH / "epcisDocWithSingleEvent.jsonld")
    document["epcisBody"]["eventList"][0]["epcList"] = ["https://id.gs1.org/01/09506000134353/21/1"]
    body = json.dumps(document).encode()
    headers = {"Content-Type": "application/json", **signed(network, "POST", "/epcis/capture", body)}
    refused = client.post("/epcis/capture", content=body, headers=headers)
    assert refused.status_code == 400
    problem = refused.json()
    assert problem["code"] == "EPCIS_VALIDATION" and problem["rejections"][0]["field"] == "epcList[0]"
    text = b"not an epcis document"
    plain = {"Content-Type": "text/plain", **signed(network, "POST", "/epcis/capture", text)}
    assert client.post("/epcis/capture", content=text, headers=plain).status_code == 415
    garbage = b"{oops"
    broken = {"Content-Type": "application/json", **signed(network, "POST", "/epcis/capture", garbage)}
    assert "not valid JSON" in client.post("/epcis/capture", content=garbage, headers=broken).json()["detail"]


def test_dashboard_needs_a_member(client, seeded) -> None:
    network, plan = seeded
    redirect = client.get("/coldchain/dashboard", follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"].startswith("/login")
    assert client.get("/api/coldchain/lots").status_code == 401
    lots = client.get("/api/coldchain/lots", headers=signed(network, "GET", "/api/coldchain/lots")).json()["lots"]
    assert {row["lot"] for row in lots} >= {x.key for x in plan.retail}
    assert any(row["open_alarms"] for row in lots)
    assert any(row["in_transit"] for row in lots)  # the demo's second trip is on the truck to Seoul
    landing = plan.landing[0]
    target = f"/api/coldchain/trace?lot={quote(landing.key)}&direction=forward"
    downstream = client.get(target, headers=signed(network, "GET", target)).json()
    made = {x.key for x in plan.retail if x.lot.split("-")[1][:2] == landing.lot.split("-")[1]}
    assert set(downstream["ends"]) == made
    alarms = client.get(
        "/api/coldchain/alarms?open=true", headers=signed(network, "GET", "/api/coldchain/alarms?open=true")
    )
    assert alarms.status_code == 200 and alarms.json()["alarms"]


def test_reading_topics_are_as_documented() -> None:
    assert readings.topic("busan-dock", "LG-001") == "coldchain/busan-dock/LG-001/temperature"
    assert Path(readings.__file__).exists()


def test_recall_reaches_everything_downstream(client, seeded) -> None:
    network, plan = seeded
    monkfish = next(x for x in plan.landing if x.lot.startswith("MF"))
    order = json.dumps({"lot": monkfish.canonical, "reason": "metal fragment found"}).encode()
    unsigned = client.post("/api/coldchain/recall", content=order, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    # the processor owns the fillets made from it, not the landing lot: refused, naming the owner
    headers = {
        "Content-Type": "application/json",
        **signed(network, "POST", "/api/coldchain/recall", order, "SeafoodProcessor"),
    }
    refused = client.post("/api/coldchain/recall", content=order, headers=headers)
    assert refused.status_code == 403, refused.text
    assert "only BusanFishMarket (which owns lot" in refused.json()["detail"]
    # the inspection agency recalls it, endorsed by every owner's peer and its own
    headers = {
        "Content-Type": "application/json",
        **signed(network, "POST", "/api/coldchain/recall", order, "InspectionAgency"),
    }
    recalled = client.post("/api/coldchain/recall", content=order, headers=headers)
    assert recalled.status_code == 200, recalled.text
    made = {x.key for x in plan.retail if x.lot.split("-")[1][:2] == monkfish.lot.split("-")[1]}
    assert set(recalled.json()["recalled"]) == {monkfish.key, *made}
    settle(network)
    lots = client.get("/api/coldchain/lots", headers=signed(network, "GET", "/api/coldchain/lots")).json()["lots"]
    assert {row["lot"] for row in lots if row["recalled"]} == {monkfish.key, *made}
    bad = json.dumps({"lot": "nonsense", "reason": "why not"}).encode()
    headers = {"Content-Type": "application/json", **signed(network, "POST", "/api/coldchain/recall", bad)}
    assert client.post("/api/coldchain/recall", content=bad, headers=headers).status_code == 400


def test_the_cold_chain_api_is_described_apart(client) -> None:
    platform = client.get("/openapi.json").json()["paths"]
    assert not any(path.startswith(("/epcis", "/api/coldchain", "/01/")) for path in platform)
    own = client.get("/coldchain/openapi.json").json()["paths"]
    assert {"/epcis/capture", "/epcis/events", "/api/coldchain/public/journey", "/01/{gtin}/10/{lot}"} <= set(own)
