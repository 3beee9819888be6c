"""The whole demo network, both applications, scanned: no planted personal or commercial value in any block file.

``consortia demo --no-serve`` builds the demo network (the platform's channels, the cold chain and the health
pilot with their scenarios). Then, through the applications' own routes on that network: a patient posts a
blood-pressure crisis with a distinctive value and identifier, grants consent and the clinic reads under it; a
fish market captures EPCIS events naming a distinctive purchase order, parties, quantity and company. Every
byte of every block file (every peer's and the orderer's copy; events travel inside the blocks) is then searched
for those values, for every patient pseudonym, and for the demo scenario's own commercial data; none may be
there. ``consortia verify`` still finds every ledger sound.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from coldchain.test_cc_privacy import ADDRESS, BUYER, COMPANY, PO, QUANTITY, _capture_over_rest, _planted_documents
from consortia.apps.coldchain import consortium as cold
from consortia.apps.coldchain.service.capture import contract_of
from consortia.apps.health import consortium as health
from consortia.cli.main import app as cli
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.network.embedded import EmbeddedNetwork
from health.hl_support import PASSWORD, bp_observation
from ledger_scan import scan_block_files

FHIR = {"content-type": "application/fhir+json"}
PLANTED_IDENTIFIER = "demo-obs-8c1d77-planted"


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo") / "data"
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--data", str(folder), "-n", "60"])
    assert result.exit_code == 0, result.output
    return folder


def test_no_planted_value_reaches_a_block_file_of_the_demo_network(demo_folder: Path) -> None:
    network = EmbeddedNetwork(demo_folder)
    try:
        app = create_app(network, ServerSettings(secure_cookies=False))

        def person(username: str) -> TestClient:
            client = TestClient(app)
            response = client.post("/api/login", json={"username": username, "password": PASSWORD})
            assert response.status_code == 200, response.text
            return client

        patient = person(f"{health.CUSTODIAN}/patient002")
        granted = patient.post("/api/health/consents", json={"actor": health.CLINIC, "purposes": ["TREAT"]})
        assert granted.status_code == 200, granted.text
        observation = bp_observation(183, 119, "2024-05-01T08:00:00+09:00", "GW-0002")
        observation["identifier"] = [{"system": "urn:consortia:test", "value": PLANTED_IDENTIFIER}]
        posted = patient.post("/fhir/Observation", json=observation, headers=FHIR)
        assert posted.status_code == 201, posted.text
        clinic = person(f"{health.CLINIC}/drpark")
        read = clinic.get("/api/health/patients/GW-0002/readings?purpose=TREAT&data_class=blood-pressure")
        assert read.status_code == 200, read.status_code
        assert {"systolic": 183.0, "diastolic": 119.0} in [r["value"] for r in read.json()["readings"]]

        with TestClient(app) as client:
            landing, association = _planted_documents()
            _capture_over_rest(client, network, landing, cold.FISH_MARKET)
            _capture_over_rest(client, network, association, cold.LOGISTICS)
        # The scenario's own commercial data: order and despatch numbers of every shipment of the demo.
        market = contract_of(network.gateway(cold.FISH_MARKET))
        shipped = market.evaluate("query_events", {"EQ_bizStep": "shipping", "perPage": 1000})["events"]
        scenario_orders = [
            t["bizTransaction"].rsplit(":", 1)[-1] for e in shipped for t in e["event"].get("bizTransactionList", [])
        ]
        assert PO in scenario_orders and len(scenario_orders) > 1
    finally:
        network.close()

    pseudonyms = [health.patient_id(n) for n in range(1, 101)]
    needles = [
        "183/119",
        '"value":183',
        PLANTED_IDENTIFIER,
        *pseudonyms,
        PO,
        BUYER,
        str(QUANTITY),
        COMPANY,
        ADDRESS,
        *scenario_orders,
    ]
    assert scan_block_files(demo_folder, needles) == []
    verified = CliRunner().invoke(cli, ["verify", "--data", str(demo_folder), "--json"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["ok"] is True
