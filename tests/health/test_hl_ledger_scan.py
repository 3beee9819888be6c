"""Nothing personal on the ledger in clear: plant distinctive values through the routes, then scan every block file.

A seeded pilot (four synthetic patients) behind the gateway app, then, through the REST and FHIR routes: a patient
grants consent and posts a hypertensive crisis of 187/117 mm Hg with a distinctive Observation identifier, the
custodian's officer posts a level-2 hypoglycaemia for another patient, a clinic reads under consent and a
hospital without it (refused, logged), the coordinator acknowledges the alert with a distinctive note, the patient
revokes the consent, and a patient erases their data. Then every byte of every block file — every peer's and the
orderer's copy, events included (they travel inside the block) — is searched for what must never be there in
clear: pseudonyms, reading and alert values, alert ids and kinds, consent ids, purposes, data classes, notes,
identifiers, the access log's reasons. The ledger still verifies afterwards.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from rich.console import Console

from consortia.apps.health import consortium
from consortia.apps.health.demo.player import seed
from consortia.apps.health.service.health import service_for
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.network.embedded import EmbeddedNetwork
from consortia.peer.audit import audit_network
from ledger_scan import scan_block_files

from .hl_support import PASSWORD, bp_observation, bundle, glucose_observation, health_spec

FHIR = {"content-type": "application/fhir+json"}
NOW = "2024-05-01T08:00:00+09:00"
PLANTED_IDENTIFIER = "obs-7f3a9c-planted"
PLANTED_NOTE = "planted-note-31415926"


def test_no_planted_value_is_in_any_block_file(tmp_path: Path) -> None:
    """Pseudonyms, readings, alerts, consents, purposes and who-read-whom never reach a block in clear."""
    network = EmbeddedNetwork.create(tmp_path / "net", health_spec(4))
    consortium.deploy(network)
    seed(network, Console(quiet=True), 4, days=3, train_model=False)
    app = create_app(network, ServerSettings(secure_cookies=False))

    def client(username: str) -> TestClient:
        c = TestClient(app)
        assert c.post("/api/login", json={"username": username, "password": PASSWORD}).status_code == 200
        return c

    patient = client("GangwonHealthOffice/patient002")
    granted = patient.post("/api/health/consents", json={"actor": "WonjuClinic", "purposes": ["TREAT"]})
    assert granted.status_code == 200, granted.text
    consent_id = granted.json()["id"]
    observation = bp_observation(187, 117, NOW, "GW-0002")
    observation["identifier"] = [{"system": "urn:consortia:test", "value": PLANTED_IDENTIFIER}]
    posted = patient.post("/fhir/Observation", json=observation, headers=FHIR)
    assert posted.status_code == 201, posted.text
    [alert_id] = posted.json()["alerts"]
    batch = posted.json()["batches"][0]["batch"]

    officer = client("GangwonHealthOffice/officer")
    hypo = officer.post("/fhir", json=bundle(glucose_observation(47, "mg/dL", "2339-0", NOW, "GW-0003")), headers=FHIR)
    assert hypo.status_code == 201 and len(hypo.json()["alerts"]) == 1, hypo.text

    clinic = client("WonjuClinic/drpark")
    assert clinic.get("/api/health/patients/GW-0002/readings?purpose=TREAT").status_code == 200
    assert client("ChuncheonHospital/drlee").get("/api/health/patients/GW-0004/readings").status_code == 403
    coordinator = client("GangwonCareCentre/choi")
    acked = coordinator.post(f"/api/health/alerts/{alert_id}/ack", json={"note": PLANTED_NOTE})
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged", acked.text
    assert patient.post(f"/api/health/consents/{consent_id}/revoke", json={}).status_code == 200
    erased = client("GangwonHealthOffice/patient001").post("/api/health/patients/GW-0001/erase", json={})
    assert erased.status_code == 200, erased.text

    service = service_for(network)
    custodian = service.identity(consortium.CUSTODIAN, "officer", PASSWORD)
    pseudonyms = [consortium.patient_id(n) for n in range(1, 5)]
    consent_ids = {c["id"] for p in pseudonyms for c in service.consents(custodian, p)}
    alert_ids = {a["id"] for a in service.alerts(custodian)}
    assert consent_id in consent_ids and alert_id in alert_ids and len(alert_ids) == 2
    log = service.access_log(custodian, "GW-0002")
    assert {"WonjuClinic/drpark", "GangwonHealthOffice/client"} <= {e["accessor"] for e in log}
    needles = [
        *pseudonyms,
        *consent_ids,
        *alert_ids,
        "187/117",
        "47 mg/dL",
        "hypertensive-crisis",
        "hypoglycaemia-level-2",
        PLANTED_IDENTIFIER,
        PLANTED_NOTE,
        "TREAT",
        "CAREMGT",
        "HRESCH",
        "PATRQT",
        "ERASURE",
        "blood-pressure",
        "glucose",
        "permitted by consent",
        "no active consent",
        "patient_id",
    ]
    directory = network.directory
    service.store.close()
    network.close()

    assert scan_block_files(directory, [batch]) != []  # the scan sees what is public: the anchored batch id
    found = scan_block_files(directory, needles)
    assert found == [], "\n".join(f"{f.needle!r} in {f.path} at byte {f.offset}" for f in found)
    report = audit_network(directory)
    assert report.ok, report.first_failure
