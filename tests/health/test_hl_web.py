"""The gateway routes: FHIR endpoints, the JSON API and the pages, with bad input everywhere.

One seeded health network (four synthetic patients, a week of readings) behind the gateway app, called through
Starlette's test client as a patient, a clinician, a coordinator and an outsider.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from consortia.apps.health import consortium
from consortia.apps.health.demo import seed
from consortia.apps.health.service import service_for
from consortia.gateway.server.app import create_app
from consortia.network.embedded import EmbeddedNetwork

from .hl_support import PASSWORD, bp_observation, bundle, glucose_observation, health_spec

NOW = "2024-05-01T08:00:00+09:00"


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedNetwork, Any]]:
    """The network and a factory of logged-in clients."""
    network = EmbeddedNetwork.create(tmp_path_factory.mktemp("health-api") / "net", health_spec(4))
    consortium.deploy(network)
    seed(network, Console(quiet=True), 4, days=7, train_model=False)
    app = create_app(network)

    def client(username: str | None = None) -> TestClient:
        c = TestClient(app)
        if username:
            r = c.post("/api/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
        return c

    try:
        yield network, client
    finally:
        network.close()


FHIR = {"content-type": "application/fhir+json"}


def test_post_observation_as_patient_stores_and_alerts(web: tuple[EmbeddedNetwork, Any]) -> None:
    """A patient posts their own crisis reading: 201, stored, anchored, an alert recorded."""
    _, client = web
    patient = client("GangwonHealthOffice/patient001")
    r = patient.post("/fhir/Observation", json=bp_observation(195, 110, NOW, "GW-0001"), headers=FHIR)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["observations"] == 1 and body["stored"] == 1 and body["rejected"] == []
    assert body["items"][0]["value"] == {"systolic": 195.0, "diastolic": 110.0} and len(body["alerts"]) == 1
    coordinator = client("GangwonCareCentre/choi")
    alert = coordinator.get(f"/api/health/alerts/{body['alerts'][0]}").json()
    assert alert["detail"]["kind"] == "hypertensive-crisis" and alert["patient"] == "GW-0001"
    # Someone else's readings are refused for a patient, by path.
    r = patient.post("/fhir/Observation", json=bp_observation(patient="GW-0002"), headers=FHIR)
    assert r.status_code == 422
    assert r.json()["outcome"]["issue"][0]["expression"] == ["Observation.subject.reference"]


def test_post_bundle_reports_each_rejection_with_its_path(web: tuple[EmbeddedNetwork, Any]) -> None:
    """A batch keeps good entries; the OperationOutcome names each bad element; a bad transaction stores nothing."""
    network, client = web
    service = service_for(network)
    officer = client("GangwonHealthOffice/officer")
    before = service.store.count("GW-0003")
    doc = bundle(glucose_observation(6.1, "mmol/L", "1558-6", NOW, "GW-0003"), bp_observation(400, 80, NOW, "GW-0003"))
    r = officer.post("/fhir", json=doc, headers=FHIR)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["stored"] == 1 and body["items"][0]["unit"] == "mg/dL"
    assert body["outcome"]["issue"][0]["expression"] == ["Bundle.entry[1].resource.component[0].valueQuantity.value"]
    assert service.store.count("GW-0003") == before + 1
    r = officer.post("/fhir", json={**doc, "type": "transaction"}, headers=FHIR)
    assert r.status_code == 422 and r.json()["stored"] == 0
    assert service.store.count("GW-0003") == before + 1


@pytest.mark.parametrize(
    ("path", "body", "headers", "status"),
    [
        ("/fhir/Observation", b"{not json", FHIR, 400),
        ("/fhir/Observation", b"{}", {"content-type": "text/plain"}, 415),
        ("/fhir/Observation", b'{"resourceType": "Patient"}', FHIR, 422),
        ("/fhir", b'{"resourceType": "Observation"}', FHIR, 422),
        ("/fhir", b"[]", FHIR, 422),
    ],
)
def test_fhir_bad_input(web: tuple[EmbeddedNetwork, Any], path: str, body: bytes, headers: dict, status: int) -> None:
    """Malformed requests get clear errors and store nothing."""
    network, client = web
    service = service_for(network)
    before = service.store.count()
    r = client("GangwonHealthOffice/officer").post(path, content=body, headers=headers)
    assert r.status_code == status, r.text
    assert service.store.count() == before


def test_fhir_needs_a_member_of_the_custodian(web: tuple[EmbeddedNetwork, Any]) -> None:
    """Anonymous callers are 401; a hospital's clinician cannot post readings (403)."""
    _, client = web
    assert client().post("/fhir/Observation", json=bp_observation(), headers=FHIR).status_code == 401
    r = client("ChuncheonHospital/drkim").post("/fhir/Observation", json=bp_observation(), headers=FHIR)
    assert r.status_code == 403


def test_api_consent_read_revoke(web: tuple[EmbeddedNetwork, Any]) -> None:
    """Through the JSON API: a clinician's read needs consent, and a revocation refuses the next read (403)."""
    _, client = web
    patient = client("GangwonHealthOffice/patient002")
    clinic = client("WonjuClinic/drpark")  # patient002 (even) has consented to WonjuClinic for treatment
    r = clinic.get("/api/health/patients/GW-0002/readings?purpose=TREAT&data_class=blood-pressure")
    assert r.status_code == 200 and r.json()["readings"] and r.json()["verified"] > 0
    consents = patient.get("/api/health/patients/GW-0002/consents").json()
    [clinic_consent] = [c for c in consents if c["provision"]["actor"][0]["reference"].get("reference") ==
                        "Organization/WonjuClinic"]  # fmt: skip
    assert patient.post(f"/api/health/consents/{clinic_consent['id']}/revoke", json={}).status_code == 200
    r = clinic.get("/api/health/patients/GW-0002/readings?purpose=TREAT")
    assert r.status_code == 403 and r.json()["code"] == "ACCESS_REFUSED"
    log = patient.get("/api/health/patients/GW-0002/access-log").json()
    assert log[0]["accessor"] == "WonjuClinic/drpark" and log[0]["decision"] == "deny"
    # Grant again through the API; bad grants are 400 with the reason.
    r = patient.post("/api/health/consents", json={"actor": "WonjuClinic", "purposes": ["TREAT"]})
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert patient.post("/api/health/consents", json={"actor": "Nowhere", "purposes": ["TREAT"]}).status_code == 400
    r = patient.post("/api/health/consents", json={"actor": "WonjuClinic", "purposes": ["SPY"]})
    assert r.status_code == 400 and "purpose" in r.json()["detail"]
    assert patient.post("/api/health/consents", content=b"x", headers={"content-type": "text/plain"}).status_code == 415
    assert clinic.get("/api/health/patients/GW-0002/readings?data_class=blood").status_code == 400
    assert clinic.get("/api/health/patients/GW-0002/access-log").status_code == 403


def test_risk_and_cgm_calculators(web: tuple[EmbeddedNetwork, Any]) -> None:
    """The risk calculator needs no login; bad factors name the field; CGM metrics from a series."""
    _, client = web
    anonymous = client()
    factors = {"age": 55, "sex": "male", "race": "african-american", "total_chol": 213, "hdl": 50, "sbp": 120,
               "bp_treated": False, "smoker": False, "diabetes": False}  # fmt: skip
    r = anonymous.post("/api/health/risk", json=factors)
    assert r.status_code == 200 and r.json()["risk_10y"] == pytest.approx(0.0607, abs=0.001)
    r = anonymous.post("/api/health/risk", json={**factors, "sbp": 999})
    assert r.status_code == 400 and r.json()["field"] == "sbp"
    r = anonymous.post("/api/health/risk", json={k: v for k, v in factors.items() if k != "hdl"})
    assert r.status_code == 400 and r.json()["field"] == "hdl"
    series = {"times": [f"2024-05-01T{h:02d}:00:00Z" for h in range(4)], "values": [50, 100, 150, 200]}
    r = anonymous.post("/api/health/cgm", json=series)
    assert r.status_code == 200 and r.json()["in_range_pct"] == 50.0 and r.json()["below_54_pct"] == 25.0
    assert anonymous.post("/api/health/cgm", json={"times": ["x"], "values": [1]}).status_code == 400


def test_pages_by_role(web: tuple[EmbeddedNetwork, Any]) -> None:
    """/health sends patients to their page and staff to the worklist; anonymous visitors to the login page."""
    _, client = web
    assert client().get("/health", follow_redirects=False).headers["location"].startswith("/login")
    patient = client("GangwonHealthOffice/patient003")
    page = patient.get("/health?lang=en")
    assert page.url.path == "/health/me" and "risk-gauge" in page.text and "Synthetic pilot data" in page.text
    assert "Content-Security-Policy" in page.headers
    assert "내 정보를 열람한 기록" in patient.get("/health/me?lang=ko").text
    coordinator = client("GangwonCareCentre/choi")
    worklist = coordinator.get("/health")
    assert worklist.url.path == "/health/worklist" and worklist.text.count("data-patient=") == 4
    assert coordinator.get("/health/patients/GW-0001").status_code == 200
    assert coordinator.get("/health/patients/GW-9999").status_code in (403, 404)
    # A form without the session's CSRF token changes nothing.
    r = patient.post("/health/consents/c-x/revoke", data={"csrf": "wrong"})
    assert r.status_code == 403
