"""Authority: a role counts only from the organisation that may issue it, and alerts need the record's consent.

Contract rules, exercised through the service as an attacker holding a member organisation's CA would: a
certificate that ChuncheonHospital's CA issued with ``role=patient, patient_id=GW-0002`` is nobody's patient; an
officer, analyst or clinician certificate from the wrong organisation is no officer, analyst or clinician. Every
such attempt is refused by the contract with a message that says why (or, for a read, refused and logged). Then
the alert rules: a clinician without consent neither sees nor acknowledges a patient's alert; and a consent that
names no purpose covers care, never research.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consortia.apps.health.consortium import ANALYTICS, CARE, CLINIC, CUSTODIAN, HOSPITAL
from consortia.apps.health.domain import consent as consent_rules
from consortia.apps.health.domain.readings import Reading
from consortia.apps.health.service.health import AccessRefused, HealthError, service_for, transient
from consortia.client.errors import EndorsementFailed
from consortia.identity import CertificateAuthority, SigningIdentity
from consortia.network.bootstrap import crypto_dir
from consortia.network.embedded import EmbeddedNetwork

from .hl_support import person

NOT_OUR_PATIENT = "recognised only by a certificate of GangwonHealthOffice"


def issued_by(network: EmbeddedNetwork, org: str, name: str, attributes: dict[str, str]) -> SigningIdentity:
    """A certificate ``org``'s CA issues — as anyone holding that CA's key could."""
    return CertificateAuthority.load(crypto_dir(network.directory, org) / "ca").issue(name, "client", attributes)


def crisis(patient: str) -> Reading:
    """A hypertensive crisis an hour ago."""
    when = datetime.now(UTC) - timedelta(hours=1)
    return Reading(patient, "85354-9", "bp", "blood-pressure", 192, "mm[Hg]", when, value2=118)


def test_a_patient_certificate_of_another_organisation_is_nobodys_patient(hl_network: EmbeddedNetwork) -> None:
    """ChuncheonHospital's ``role=patient, patient_id=GW-0002`` reads nothing of GW-0002 and erases nobody."""
    service = service_for(hl_network)
    service.ingest([crisis("GW-0002")])
    forged = issued_by(hl_network, HOSPITAL, "patient002", {"role": "patient", "patient_id": "GW-0002"})
    consent = consent_rules.build(
        consent_id="c-forged",
        patient="GW-0002",
        actor=HOSPITAL,
        purposes=["TREAT"],
        start="2024-01-01",
        recorded="2024-01-01T00:00:00Z",
    )
    request = {"patients": ["GW-0002"], "purpose": "PATRQT", "classes": []}
    attempts = {
        "whoami": lambda: service.evaluate(forged, "whoami"),
        "patient": lambda: service.evaluate(forged, "patient", "GW-0002"),
        "consents": lambda: service.evaluate(forged, "consents", "GW-0002"),
        "access_log": lambda: service.evaluate(forged, "access_log", "GW-0002", 10),
        "read": lambda: service.submit(forged, "access", transient=transient(request=request)),
        "grant": lambda: service.submit(forged, "grant", transient=transient(consent=consent)),
        "revoke": lambda: service.submit(forged, "revoke", transient=transient(consent_id="c-any")),
        "erase": lambda: service.submit(forged, "erase", transient=transient(patient="GW-0003")),
    }
    for name, attempt in attempts.items():
        with pytest.raises(EndorsementFailed) as refused:
            attempt()
        assert refused.value.code == "CONTRACT_ERROR", name
        assert NOT_OUR_PATIENT in refused.value.message, (name, refused.value.message)
        assert "issued by ChuncheonHospital" in refused.value.message, (name, refused.value.message)
    with pytest.raises(HealthError, match=NOT_OUR_PATIENT):
        service.patient_of(forged)
    # The custodian's own CA, but no enrolment bound to the account: not a patient either.
    stranger = issued_by(hl_network, CUSTODIAN, "mallory", {"role": "patient", "patient_id": "GW-0002"})
    with pytest.raises(EndorsementFailed, match="GangwonHealthOffice/mallory is not enrolled as a patient"):
        service.evaluate(stranger, "consents", "GW-0002")
    # Nothing changed: GW-0003 is not erased, GW-0002 has no consent, and the real patient is still recognised.
    officer = person(hl_network, CUSTODIAN, "officer")
    assert service.evaluate(officer, "patient", "GW-0003")["status"] == "active"
    assert service.consents(officer, "GW-0002") == []
    assert service.patient_of(person(hl_network, CUSTODIAN, "patient002")) == "GW-0002"


def test_staff_roles_count_only_from_their_organisations(hl_network: EmbeddedNetwork) -> None:
    """An officer of the hospital erases nothing; a clinician of the analysis service is refused (and logged)."""
    service = service_for(hl_network)
    service.grant(person(hl_network, CUSTODIAN, "patient001"), HOSPITAL, [consent_rules.TREAT])
    fake_officer = issued_by(hl_network, HOSPITAL, "officer", {"role": "officer"})
    with pytest.raises(EndorsementFailed, match="only the patient or a custodian officer may erase"):
        service.submit(fake_officer, "erase", transient=transient(patient="GW-0001"))
    with pytest.raises(EndorsementFailed, match="access log: the role officer counts only from GangwonHealthOffice"):
        service.access_log(fake_officer, "GW-0001")
    fake_clinician = issued_by(hl_network, ANALYTICS, "drfake", {"role": "clinician"})
    with pytest.raises(AccessRefused, match="the role clinician counts only from ChuncheonHospital, WonjuClinic"):
        service.read(fake_clinician, "GW-0001", consent_rules.TREAT)
    fake_analyst = issued_by(hl_network, HOSPITAL, "quant", {"role": "analyst"})
    with pytest.raises(EndorsementFailed, match="the role analyst counts only from GangwonAnalytics"):
        service.submit(fake_analyst, "register_model", "fhs-chd10", "1.0.0-00000000", "0" * 64, {})
    fake_coordinator = issued_by(hl_network, ANALYTICS, "coord", {"role": "coordinator"})
    with pytest.raises(EndorsementFailed, match="only care staff may list alerts: the role coordinator counts only"):
        service.alerts(fake_coordinator)
    # The real ones work, and the refusal of the fake clinician is in the patient's log under its own name.
    assert service.read(person(hl_network, HOSPITAL, "drkim"), "GW-0001", consent_rules.TREAT).verified == 0
    log = service.access_log(person(hl_network, CUSTODIAN, "officer"), "GW-0001")
    assert [e["decision"] for e in log if e["accessor"] == "GangwonAnalytics/drfake"] == ["deny"]


def test_service_delegation_is_checked(hl_network: EmbeddedNetwork) -> None:
    """The custodian's service stores for a patient only under that patient's own account; nobody else may."""
    service = service_for(hl_network)
    documents = [crisis("GW-0001").record()]
    with pytest.raises(EndorsementFailed, match="on behalf of the patient's own account only"):
        service.put_documents("GW-0001", documents, service.custodian(), on_behalf="GangwonHealthOffice/patient002")
    with pytest.raises(EndorsementFailed, match="only the custodian's service may store records on behalf"):
        service.put_documents(
            "GW-0001", documents, person(hl_network, CUSTODIAN, "officer"), on_behalf="GangwonHealthOffice/patient001"
        )
    stored = service.put_documents(
        "GW-0001", documents, service.custodian(), on_behalf="GangwonHealthOffice/patient001"
    )
    [entry] = service.access_log(person(hl_network, CUSTODIAN, "patient001"), "GW-0001")
    assert entry["tx_id"] == stored["tx_id"] and entry["accessor"] == "GangwonHealthOffice/client"
    assert entry["on_behalf"] == "GangwonHealthOffice/patient001" and entry["purpose"] == "PATRQT"


def test_alerts_need_the_consent_that_reading_the_record_needs(hl_network: EmbeddedNetwork) -> None:
    """Without consent a clinician neither lists, opens nor acknowledges an alert; the coordinator with consent does."""
    service = service_for(hl_network)
    patient = person(hl_network, CUSTODIAN, "patient001")
    coordination = service.grant(patient, CARE, [consent_rules.CAREMGT])
    [alert] = service.ingest([crisis("GW-0001")]).alerts
    drpark = person(hl_network, CLINIC, "drpark")
    assert service.alerts(drpark) == [] and service.alerts(drpark, "", "GW-0001") == []
    with pytest.raises(EndorsementFailed, match="no active consent permits WonjuClinic/drpark"):
        service.alert_detail(drpark, alert["id"])
    with pytest.raises(EndorsementFailed, match="WonjuClinic/drpark may not acknowledge alert"):
        service.acknowledge(drpark, alert["id"])
    officer = person(hl_network, CUSTODIAN, "officer")
    assert [a["id"] for a in service.alerts(officer, "open")] == [alert["id"]]  # the custodian, as custodian
    choi = person(hl_network, CARE, "choi")
    assert [a["id"] for a in service.alerts(choi, "open")] == [alert["id"]]
    # Revoking the consent hides the alert from the coordinator too.
    service.revoke(patient, coordination["id"])
    assert service.alerts(choi) == []
    with pytest.raises(EndorsementFailed, match="no active consent permits GangwonCareCentre/choi"):
        service.acknowledge(choi, alert["id"])
    service.grant(patient, CARE, [consent_rules.CAREMGT], ["blood-pressure"])
    acknowledged = service.acknowledge(choi, alert["id"], "called the patient")
    assert acknowledged["status"] == "acknowledged" and acknowledged["by"] == "GangwonCareCentre/choi"
    assert acknowledged["detail"]["value"] == "192/118 mm Hg"


def test_a_consent_without_purpose_covers_care_not_research(hl_network: EmbeddedNetwork) -> None:
    """No purpose listed: treatment and care coordination, never HRESCH research."""
    at = datetime(2024, 6, 1, tzinfo=UTC)
    open_ended = consent_rules.build(
        consent_id="c-any", patient="GW-0001", actor=ANALYTICS, purposes=[], start="2024-01-01", recorded="2024-01-01"
    )
    analyst = consent_rules.Accessor(ANALYTICS, f"{ANALYTICS}/analyst", "analyst")
    research = consent_rules.decide([open_ended], analyst, consent_rules.HRESCH, [], at)
    assert not research.permit and "no active consent permits GangwonAnalytics/analyst HRESCH" in research.reason
    assert consent_rules.decide([open_ended], analyst, consent_rules.CAREMGT, [], at).permit
    assert consent_rules.DEFAULT_PURPOSES == (consent_rules.TREAT, consent_rules.CAREMGT)
    # On the ledger: the same consent, granted by the patient, lets the analyst coordinate care but not research.
    service = service_for(hl_network)
    service.ingest([crisis("GW-0001")])
    service.grant(person(hl_network, CUSTODIAN, "patient001"), ANALYTICS, [])
    analyst_id = person(hl_network, ANALYTICS, "analyst")
    with pytest.raises(AccessRefused, match="HRESCH"):
        service.read(analyst_id, "GW-0001", consent_rules.HRESCH)
    assert service.read(analyst_id, "GW-0001", consent_rules.CAREMGT).verified == 1
    assert service.evaluate(analyst_id, "my_patients", consent_rules.HRESCH) == []
    assert service.evaluate(analyst_id, "my_patients", consent_rules.CAREMGT) == ["GW-0001"]
