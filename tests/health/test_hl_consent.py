"""Consent on the ledger: refused reads are logged, grants open, revocation closes at once, erasure shreds.

One health network per test (five organisations, three patients). Readings go through the service: sealed
under the patient's data key, stored off-chain, anchored on the ledger. Every read is an ``access``
transaction; the access log on the ledger records permitted and refused reads alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consortia.apps.health.consortium import CARE, CLINIC, CUSTODIAN, HOSPITAL
from consortia.apps.health.contract.records import PRIVATE
from consortia.apps.health.domain import consent as consent_rules
from consortia.apps.health.domain.readings import Reading
from consortia.apps.health.service.health import AccessRefused, HealthError, HealthService, service_for, transient
from consortia.client.errors import EndorsementFailed
from consortia.network.embedded import EmbeddedNetwork
from consortia.peer.audit import audit_network

from .hl_support import person, private_key

PATIENT = "GW-0001"


def readings(patient: str = PATIENT, marker: float = 131.0) -> list[Reading]:
    """Two blood pressures and a glucose in the last hours."""
    now = datetime.now(UTC)
    return [
        Reading(patient, "85354-9", "bp", "blood-pressure", marker, "mm[Hg]", now - timedelta(hours=3), value2=84),
        Reading(patient, "85354-9", "bp", "blood-pressure", 126, "mm[Hg]", now - timedelta(hours=2), value2=80),
        Reading(patient, "2339-0", "glucose", "glucose", 104, "mg/dL", now - timedelta(hours=1)),
    ]


def files_containing(folder: Path, needle: bytes) -> list[Path]:
    """Every file under ``folder`` whose bytes contain ``needle``."""
    return [p for p in sorted(folder.rglob("*")) if p.is_file() and needle in p.read_bytes()]


def test_read_without_consent_is_refused_and_logged(hl_network: EmbeddedNetwork) -> None:
    """A clinician without consent is refused; the refusal is in the patient's access log with its reason."""
    service = service_for(hl_network)
    service.ingest(readings())
    drkim = person(hl_network, HOSPITAL, "drkim")
    with pytest.raises(AccessRefused) as refused:
        service.read(drkim, PATIENT, consent_rules.TREAT)
    assert "no active consent permits ChuncheonHospital/drkim TREAT" in refused.value.reason
    patient = person(hl_network, CUSTODIAN, "patient001")
    [entry] = [e for e in service.access_log(patient, PATIENT) if e["accessor"] == "ChuncheonHospital/drkim"]
    assert entry["decision"] == "deny" and entry["purpose"] == "TREAT" and entry["tx_id"] == refused.value.access_id
    assert entry["role"] == "clinician" and entry["org"] == HOSPITAL
    # The patient reads their own data; it is logged too.
    own = service.read(patient, PATIENT, consent_rules.PATRQT)
    assert len(own.readings) == 3 and own.verified == 3 and own.unverified == 0
    assert service.access_log(patient, PATIENT)[0]["purpose"] == "PATRQT"


def test_grant_then_revoke_takes_effect_at_once(hl_network: EmbeddedNetwork) -> None:
    """Grant → the clinician reads (decrypting with its own organisation's key); revoke → the next read fails."""
    service = service_for(hl_network)
    service.ingest(readings())
    patient = person(hl_network, CUSTODIAN, "patient001")
    drkim = person(hl_network, HOSPITAL, "drkim")
    consent = service.grant(patient, HOSPITAL, [consent_rules.TREAT], ["blood-pressure"])
    assert consent["status"] == "active" and consent["provision"]["actor"][0]["reference"] == {
        "reference": f"Organization/{HOSPITAL}"
    }
    data = service.read(drkim, PATIENT, consent_rules.TREAT, ["blood-pressure"])
    assert [r.kind for r in data.readings] == ["bp", "bp"] and data.verified == 2
    # Glucose was not granted; care coordination was not granted; another organisation was not granted.
    with pytest.raises(AccessRefused, match="glucose"):
        service.read(drkim, PATIENT, consent_rules.TREAT, ["glucose"])
    with pytest.raises(AccessRefused, match="needs the role coordinator or clinician"):
        service.read(person(hl_network, CUSTODIAN, "officer"), PATIENT, consent_rules.CAREMGT)
    with pytest.raises(AccessRefused):
        service.read(person(hl_network, CLINIC, "drpark"), PATIENT, consent_rules.TREAT, ["blood-pressure"])
    # A key released for the access is useless after revocation: release_keys re-checks consent.
    request = {"patients": [PATIENT], "purpose": "TREAT", "classes": ["blood-pressure"]}
    access = service.submit(drkim, "access", transient=transient(request=request)).result
    service.revoke(patient, consent["id"])
    released = service.release_keys(drkim, access["access_id"])
    assert "refused" in released[PATIENT]
    with pytest.raises(AccessRefused, match="no active consent"):
        service.read(drkim, PATIENT, consent_rules.TREAT, ["blood-pressure"])
    statuses = {c["id"]: c["status"] for c in service.consents(patient, PATIENT)}
    assert statuses[consent["id"]] == "inactive"
    # The hospital's wrapped key was withdrawn from the private collection.
    keys = (
        hl_network.peer(HOSPITAL)
        .channel("health")
        .ledger.state.private_get("health-records", PRIVATE, private_key(hl_network, "k", "patient", PATIENT))
    )
    assert keys is None or HOSPITAL.encode() not in keys.value


def test_only_the_patient_grants_and_reads_the_log(hl_network: EmbeddedNetwork) -> None:
    """Another patient, a clinician or a bad consent document is refused with a clear message; nothing changes."""
    service = service_for(hl_network)
    other = person(hl_network, CUSTODIAN, "patient002")
    doc = consent_rules.build(
        consent_id="c-x",
        patient=PATIENT,
        actor=HOSPITAL,
        purposes=["TREAT"],
        start="2024-01-01",
        recorded="2024-01-01T00:00:00Z",
    )
    with pytest.raises(EndorsementFailed, match="only patient GW-0001 may grant"):
        service.submit(other, "grant", transient=transient(consent=doc))
    bad = {**doc, "provision": {**doc["provision"], "type": "maybe"}}
    with pytest.raises(EndorsementFailed, match=r"Consent\.provision\.type"):
        service.submit(person(hl_network, CUSTODIAN, "patient001"), "grant", transient=transient(consent=bad))
    with pytest.raises(EndorsementFailed, match="only the patient"):
        service.access_log(person(hl_network, HOSPITAL, "drkim"), PATIENT)
    with pytest.raises(HealthError, match="unknown organisation"):
        service.grant(person(hl_network, CUSTODIAN, "patient001"), "Nowhere", ["TREAT"])
    with pytest.raises(HealthError, match="is not a patient"):
        service.grant(person(hl_network, HOSPITAL, "drkim"), HOSPITAL, ["TREAT"])
    assert service.consents(person(hl_network, CUSTODIAN, "patient001"), PATIENT) == []


def test_consent_to_one_person_and_deny_provisions() -> None:
    """Pure decision rules: person-level actors, periods, deny over permit, roles per purpose."""
    at = datetime(2024, 6, 1, tzinfo=UTC)
    kim = consent_rules.Accessor(HOSPITAL, f"{HOSPITAL}/drkim", "clinician")
    lee = consent_rules.Accessor(HOSPITAL, f"{HOSPITAL}/drlee", "clinician")
    permit = consent_rules.build(
        consent_id="c1",
        patient=PATIENT,
        actor=f"{HOSPITAL}/drkim",
        purposes=["TREAT"],
        start="2024-01-01",
        end="2024-12-31",
        recorded="2024-01-01",
    )
    assert consent_rules.decide([permit], kim, "TREAT", [], at).permit
    assert not consent_rules.decide([permit], lee, "TREAT", [], at).permit
    assert not consent_rules.decide([permit], kim, "TREAT", [], datetime(2025, 1, 2, tzinfo=UTC)).permit
    deny = consent_rules.build(
        consent_id="c2",
        patient=PATIENT,
        actor=HOSPITAL,
        purposes=["TREAT"],
        classes=["glucose"],
        start="2024-01-01",
        provision="deny",
        recorded="2024-01-01",
    )
    decision = consent_rules.decide([permit, deny], kim, "TREAT", ["glucose"], at)
    assert not decision.permit and decision.consents == ("c2",)
    assert consent_rules.decide([permit, deny], kim, "TREAT", ["blood-pressure"], at).permit
    coordinator = consent_rules.Accessor(CARE, f"{CARE}/choi", "coordinator")
    assert "needs the role clinician" in consent_rules.decide([permit], coordinator, "TREAT", [], at).reason


def test_consents_are_valid_fhir_r4_consent_resources() -> None:
    """What the ledger stores parses as a FHIR Consent (R4B models share R4's Consent)."""
    from fhir.resources.R4B.consent import Consent

    for purposes in (["TREAT"], ["HRESCH"]):
        doc = consent_rules.build(
            consent_id="c-1",
            patient=PATIENT,
            actor=f"{HOSPITAL}/drkim",
            purposes=purposes,
            classes=["glucose"],
            start="2024-01-01",
            recorded="2024-01-01T00:00:00Z",
        )
        parsed = Consent.model_validate(doc)
        assert parsed.provision.type == "permit" and parsed.provision.purpose[0].code == purposes[0]
    assert parsed.provision.securityLabel[0].code == "PSEUDED"


def test_erasure_shreds_keeps_the_log_and_verify_passes(hl_network: EmbeddedNetwork) -> None:
    """Erase → unreadable (keys purged, vault key and ciphertexts destroyed), log and hashes stay, audit passes."""
    service = HealthService(hl_network)
    marker = 173.25
    stored = service.ingest(readings(marker=marker))
    service.ingest(readings("GW-0002"))
    patient = person(hl_network, CUSTODIAN, "patient001")
    service.grant(patient, HOSPITAL, [consent_rules.TREAT])
    service.read(person(hl_network, HOSPITAL, "drkim"), PATIENT, consent_rules.TREAT)
    anchor = service.evaluate(patient, "anchor_of", stored.batches[0]["batch"])
    result = service.erase(patient, PATIENT)
    assert result["vault_key_destroyed"] and result["records_deleted"] == 3 and result["consents_ended"] == 1
    # Nobody can read any more — not the patient, not the clinician.
    with pytest.raises(AccessRefused, match="erased"):
        service.read(patient, PATIENT, consent_rules.PATRQT)
    with pytest.raises(AccessRefused, match="erased"):
        service.read(person(hl_network, HOSPITAL, "drkim"), PATIENT, consent_rules.TREAT)
    with pytest.raises(HealthError, match="no data key"):
        service.custodian_key(PATIENT)
    assert service.store.records(PATIENT) == [] and service.store.count("GW-0002") == 3
    wrapped_keys = private_key(hl_network, "k", "patient", PATIENT)
    for org, peer in hl_network.peers.items():
        state = peer.channel("health").ledger.state
        assert state.private_get("health-records", PRIVATE, wrapped_keys) is None, org
    # The log and the anchored hashes remain; the officer can still audit who looked.
    officer = person(hl_network, CUSTODIAN, "officer")
    log = service.access_log(officer, PATIENT)
    assert "ERASURE" in [e["purpose"] for e in log] and {e["accessor"] for e in log} >= {f"{HOSPITAL}/drkim"}
    assert service.evaluate(officer, "anchor_of", stored.batches[0]["batch"]) == anchor
    assert service.evaluate(officer, "patient", PATIENT)["status"] == "erased"
    # Other patients are untouched.
    other = service.read(person(hl_network, CUSTODIAN, "patient002"), "GW-0002", consent_rules.PATRQT)
    assert len(other.readings) == 3 and other.verified == 3
    directory = hl_network.directory
    service.store.close()
    hl_network.close()
    report = audit_network(directory)
    assert report.ok, report.first_failure
    # No file anywhere holds the erased patient's wrapped key any more.
    assert files_containing(directory / "peers", f'"{wrapped_keys}"'.encode()) == []
