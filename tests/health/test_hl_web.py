"""The gateway routes: FHIR endpoints, the JSON API and the pages, with bad input everywhere.

One seeded health network (four synthetic patients, a week of readings) behind the gateway app, called through
Starlette's test client as a patient, a clinician, a coordinator and an outsider.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from consortia.apps.health import consortium
from consortia.apps.health.demo.player import seed
from consortia.apps.health.service.health import service_for
from consortia.client.request_signing import authorization_header
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.identity import SigningIdentity
from consortia.network.embedded import EmbeddedNetwork

from .hl_support import PASSWORD, bp_observation, bundle, glucose_observation, health_spec, person

NOW = "2024-05-01T08:00:00+09:00"


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedNetwork, Any]]:
    """The network and a factory of logged-in clients."""
    network = EmbeddedNetwork.create(tmp_path_factory.mktemp("health-api") / "net", health_spec(4))
    consortium.deploy(network)
    seed(network, Console(quiet=True), 4, days=7, train_model=False)
    app = create_app(network, ServerSettings(secure_cookies=False))  # the test client speaks plain http

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


# -- security: no borrowed identities, consent for alerts, de-duplication, input limits, read scope ---------------


def signed(client: TestClient, identity: SigningIdentity, method: str, path: str, body: Any = None) -> Any:
    """A request a program signs with its own key (``body``: JSON, sent as FHIR JSON to /fhir)."""
    raw = b"" if body is None else json.dumps(body).encode()
    headers = {"authorization": authorization_header(identity, method, path, raw)}
    if body is not None:
        headers["content-type"] = "application/fhir+json" if path.startswith("/fhir") else "application/json"
    return client.request(method, path, content=raw, headers=headers)


def test_a_program_acts_as_itself(web: tuple[EmbeddedNetwork, Any]) -> None:
    """A patient's signed request gets no service identity; an organisation's own service acts as itself."""
    network, client = web
    anyone = client()
    patient_program = person(network, consortium.CUSTODIAN, "patient001")
    for path in ("/api/health/patients/GW-0002/consents", "/api/health/patients/GW-0001/consents"):
        r = signed(anyone, patient_program, "GET", path)
        assert r.status_code == 403 and r.json()["code"] == "SIGN_YOUR_OWN_PROPOSALS", r.text
        assert "/api/channels/health/contracts/health-records/endorse" in r.json()["detail"]
    # The custodian's service is the one program whose key the gateway holds: it acts as itself.
    custodian = network.identity(consortium.CUSTODIAN, "client")
    assert signed(anyone, custodian, "GET", "/api/health/alerts").status_code == 200
    # The hospital's service reads as itself — and is refused and logged under its own name, not a clinician's.
    r = signed(anyone, network.identity(consortium.HOSPITAL, "client"), "GET", "/api/health/patients/GW-0001/readings")
    assert r.status_code == 403 and r.json()["code"] == "ACCESS_REFUSED" and "not service" in r.json()["detail"]
    patient = client("GangwonHealthOffice/patient001")
    log = patient.get("/api/health/patients/GW-0001/access-log").json()
    assert log[0]["accessor"] == "ChuncheonHospital/client" and log[0]["decision"] == "deny"
    # A patient's device posting its own readings: the custodian's service stores them on the patient's behalf.
    r = signed(anyone, patient_program, "POST", "/fhir/Observation", bp_observation(124, 79, NOW, "GW-0001"))
    assert r.status_code == 201, r.text
    entry = patient.get("/api/health/patients/GW-0001/access-log").json()[0]
    assert entry["accessor"] == "GangwonHealthOffice/client" and entry["on_behalf"] == "GangwonHealthOffice/patient001"
    assert entry["tx_id"] == r.json()["batches"][0]["tx_id"]
    r = signed(anyone, patient_program, "POST", "/fhir/Observation", bp_observation(124, 79, NOW, "GW-0002"))
    assert r.status_code == 422 and r.json()["outcome"]["issue"][0]["expression"] == ["Observation.subject.reference"]


def test_alerts_through_the_api_need_consent(web: tuple[EmbeddedNetwork, Any]) -> None:
    """A clinic without the patient's consent is not shown the alert and cannot acknowledge it (403, the reason)."""
    _, client = web
    r = client("GangwonHealthOffice/patient003").post(
        "/fhir/Observation", json=bp_observation(199, 121, "2024-05-02T08:00:00+09:00", "GW-0003"), headers=FHIR
    )
    [alert_id] = r.json()["alerts"]
    clinic = client("WonjuClinic/drpark")  # patient003 (odd) consented to ChuncheonHospital, not WonjuClinic
    assert alert_id not in {a["id"] for a in clinic.get("/api/health/alerts").json()}
    r = clinic.post(f"/api/health/alerts/{alert_id}/ack", json={})
    assert r.status_code == 403 and "no active consent permits WonjuClinic/drpark" in r.json()["detail"]
    assert clinic.get(f"/api/health/alerts/{alert_id}").status_code == 403
    hospital = client("ChuncheonHospital/drkim")
    assert alert_id in {a["id"] for a in hospital.get("/api/health/alerts").json()}
    r = hospital.post(f"/api/health/alerts/{alert_id}/ack", json={"note": "seen"})
    assert r.status_code == 200 and r.json()["status"] == "acknowledged" and r.json()["by"] == "ChuncheonHospital/drkim"


def test_fhir_observations_are_stored_once_per_identifier(web: tuple[EmbeddedNetwork, Any]) -> None:
    """The same Observation (identifier) posted again stores nothing: 200 and where it is; bundles too."""
    network, client = web
    service = service_for(network)
    officer = client("GangwonHealthOffice/officer")
    first = bp_observation(133, 85, "2024-05-03T08:00:00+09:00", "GW-0004")
    first["identifier"] = [{"system": "urn:gw:device", "value": "reading-0001"}]
    second = glucose_observation(101, "mg/dL", "2339-0", "2024-05-03T07:00:00+09:00", "GW-0004")
    second["identifier"] = [{"system": "urn:gw:device", "value": "reading-0002"}]
    before = service.store.count("GW-0004")
    r = officer.post("/fhir/Observation", json=first, headers=FHIR)
    assert r.status_code == 201 and r.json()["stored"] == 1
    stored = r.json()["batches"][0]
    for _ in range(2):
        again = officer.post("/fhir/Observation", json=first, headers=FHIR)
        assert again.status_code == 200 and again.json()["stored"] == 0, again.text
        assert again.json()["duplicates"] == [
            {"identifier": "urn:gw:device|reading-0001", "batch": stored["batch"], "tx_id": stored["tx_id"]}
        ]
    assert service.store.count("GW-0004") == before + 1
    r = officer.post("/fhir", json=bundle(first, second, second), headers=FHIR)
    assert r.status_code == 201 and r.json()["stored"] == 1 and len(r.json()["duplicates"]) == 1
    r = officer.post("/fhir", json=bundle(second, first), headers=FHIR)
    assert r.status_code == 200 and r.json()["stored"] == 0 and len(r.json()["duplicates"]) == 2
    assert service.store.count("GW-0004") == before + 2
    # A signed request sent again is refused by the gateway before it gets here (replay: 401).
    custodian = network.identity(consortium.CUSTODIAN, "client")
    raw = json.dumps(bp_observation(121, 80, "2024-05-03T09:00:00+09:00", "GW-0004")).encode()
    headers = {
        "authorization": authorization_header(custodian, "POST", "/fhir/Observation", raw),
        "content-type": "application/fhir+json",
    }
    anyone = client()
    assert anyone.post("/fhir/Observation", content=raw, headers=headers).status_code == 201
    assert anyone.post("/fhir/Observation", content=raw, headers=headers).status_code == 401
    assert service.store.count("GW-0004") == before + 3


DEEP = b"[" * 3000 + b"]" * 3000


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/fhir", "application/fhir+json"),
        ("/fhir/Observation", "application/fhir+json"),
        ("/api/health/risk", "application/json"),
        ("/api/health/cgm", "application/json"),
    ],
)
def test_deeply_nested_json_is_a_400(web: tuple[EmbeddedNetwork, Any], path: str, kind: str) -> None:
    """JSON nested 3,000 deep is refused with 400 naming the limit, never a 500."""
    _, client = web
    r = client("GangwonHealthOffice/officer").post(path, content=DEEP, headers={"content-type": kind})
    assert r.status_code == 400 and "nested deeper than 64" in r.json()["detail"], r.text
    wrapped = b'{"resourceType": "Bundle", "type": "batch", "entry": ' + DEEP + b"}"
    r = client("GangwonHealthOffice/officer").post(path, content=wrapped, headers={"content-type": kind})
    assert r.status_code == 400, r.text


def test_deep_json_file_is_a_clean_cli_error(tmp_path: Path) -> None:
    """``health import-fhir`` reads files through the same limits: exit 1 and the limit, no traceback."""
    from typer.testing import CliRunner

    from consortia.apps.health.cli import app

    file = tmp_path / "deep.json"
    file.write_bytes(DEEP)
    result = CliRunner().invoke(app, ["import-fhir", str(file), "--patient", "GW-0001", "--dry-run", "--json"])
    assert result.exit_code == 1 and "nested deeper than 64" in json.loads(result.output)["error"]


def test_channel_blocks_for_the_health_office_and_own_proofs_for_patients(web: tuple[EmbeddedNetwork, Any]) -> None:
    """The explorer is the health office's; a patient verifies their own log entries through the app's route."""
    _, client = web
    patient = client("GangwonHealthOffice/patient002")
    entry = patient.get("/api/health/patients/GW-0002/access-log").json()[0]
    tx = entry["tx_id"]
    for who in ("GangwonHealthOffice/patient002", "WonjuClinic/drpark", "GangwonAnalytics/analyst"):
        assert client(who).get(f"/api/channels/health/transactions/{tx}").status_code == 403, who
    assert client("GangwonHealthOffice/auditor").get(f"/api/channels/health/transactions/{tx}").status_code == 200
    proof = patient.get(f"/api/health/patients/GW-0002/access-log/{tx}/proof")
    assert proof.status_code == 200 and proof.json()["tx_id"] == tx and proof.json()["envelope"]
    assert patient.get(f"/api/health/patients/GW-0001/access-log/{tx}/proof").status_code == 403
    assert patient.get(f"/api/health/patients/GW-0002/access-log/{'0' * 64}/proof").status_code == 404
    assert patient.get("/api/health/patients/GW-0002/access-log/not-a-tx/proof").status_code == 400
    consistency = patient.get(f"/api/health/consistency?from=0&to={proof.json()['block']}")
    assert consistency.status_code == 200 and consistency.json()["channel"] == "health"
    assert patient.get("/api/health/consistency?from=%C2%B2&to=1").status_code == 422


def test_a_patient_gives_access_through_the_form_and_the_clinician_then_reads(web: tuple[EmbeddedNetwork, Any]) -> None:
    """The Give-access form offers the programme's organisations only; a grant through it opens the record."""
    _, client = web
    patient = client("GangwonHealthOffice/patient002")  # consented to the clinic for treatment, not the hospital
    clinician = client("ChuncheonHospital/drkim")
    target = "/api/health/patients/GW-0002/readings?purpose=TREAT&data_class=blood-pressure"
    assert clinician.get(target).status_code == 403
    page = patient.get("/health/me?lang=en")
    options = re.findall(r'<option value="([A-Za-z]+)">', page.text.split('name="actor"')[1].split("</select>")[0])
    assert options == ["ChuncheonHospital", "WonjuClinic", "GangwonCareCentre", "GangwonAnalytics"]
    assert "Org1" not in page.text and "Chuncheon University Hospital" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    form = {"csrf": csrf, "actor": "ChuncheonHospital", "purpose": "TREAT", "class": "blood-pressure"}
    granted = patient.post("/health/consents", data=form, follow_redirects=False)
    assert granted.status_code == 303 and "notice=granted" in granted.headers["location"], granted.text
    opened = clinician.get(target)
    assert opened.status_code == 200 and opened.json()["readings"]


def test_the_patients_own_views_are_counted_apart_from_others_reads(web: tuple[EmbeddedNetwork, Any]) -> None:
    """The "who looked at my data" list shows others' reads; the patient's own visits are only counted."""
    _, client = web
    patient = client("GangwonHealthOffice/patient002")
    clinic = client("WonjuClinic/drpark")  # patient002 (even) consented to the clinic for treatment
    assert clinic.get("/api/health/patients/GW-0002/readings?purpose=TREAT").status_code == 200
    patient.get("/health/me?lang=en")
    page = patient.get("/health/me?lang=en").text
    log = patient.get("/api/health/patients/GW-0002/access-log").json()
    mine = [e for e in log if e["accessor"] == "GangwonHealthOffice/patient002" or e.get("on_behalf")]
    others = [e for e in log if e not in mine]
    assert len(mine) >= 2 and others and any(e["accessor"] == "WonjuClinic/drpark" for e in others)
    listed = re.findall(r'<li class="log-entry[^"]*" data-tx-id="([0-9a-f]+)"', page)
    assert set(listed) <= {e["tx_id"] for e in others} and listed
    own = int(re.search(r"<span data-own-views>(\d+)</span>", page).group(1))
    assert own >= 2
