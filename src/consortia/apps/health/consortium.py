"""The consortium: who is on the ``health`` channel, with which roles, and how the contract is deployed.

* **GangwonHealthOffice** — the provincial health office (강원특별자치도 보건정책과), custodian of the records:
  it runs the encrypted store and ingestion (service identity ``client``), has officers (role ``officer``) and an
  auditor (role ``auditor``: with its admins, the only readers of the channel's blocks through the gateway), and
  issues patients' identities (role ``patient``). A patient's certificate carries no pseudonym — it would be in
  every block the patient signs — the contract learns at enrolment which account is which patient.
* **ChuncheonHospital**, **WonjuClinic** — a hospital and a clinic; clinicians (role ``clinician``).
* **GangwonCareCentre** — the care-coordination centre; coordinators (role ``coordinator``) follow alerts.
* **GangwonAnalytics** — the analysis service that trains and runs the risk models (role ``analyst``, its
  service identity ``client`` included).

A role counts only from the organisations :data:`ROLE_ORGS` names for it (the contract's configuration): a
``role=patient`` certificate of the hospital's CA is nobody's patient.

Everything personal is in one private data collection, ``health-care`` (:data:`.contract.records.PRIVATE`), whose
members are the custodian and the three care organisations — the organisations whose peers may hold patients' consents,
access logs and alerts in plaintext. The analysis service is not a member: it reads what consent permits
through the contract, on a member's peer. A peer can only simulate a contract that reads a collection it is a
member of, so the contract is endorsed by any two of those four organisations' peers (no single organisation
writes the access log alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from consortia.apps.health.contract.records import PRIVATE
from consortia.contracts.collections_config import CollectionConfig
from consortia.ledger.config import BatchConfig
from consortia.network.spec import ChannelSpec, OrgSpec, UserSpec

if TYPE_CHECKING:
    from consortia.network.embedded import EmbeddedNetwork

CHANNEL = "health"
CONTRACT = "health-records"
REFERENCE = "consortia.apps.health.contract.records:HealthRecords"
CUSTODIAN = "GangwonHealthOffice"
HOSPITAL = "ChuncheonHospital"
CLINIC = "WonjuClinic"
CARE = "GangwonCareCentre"
ANALYTICS = "GangwonAnalytics"
ORGS = (CUSTODIAN, HOSPITAL, CLINIC, CARE, ANALYTICS)
CARE_ORGS = (CUSTODIAN, HOSPITAL, CLINIC, CARE)
DISPLAY = {
    CUSTODIAN: "Gangwon Provincial Health Office",
    HOSPITAL: "Chuncheon University Hospital",
    CLINIC: "Wonju Community Clinic",
    CARE: "Gangwon Care-Coordination Centre",
    ANALYTICS: "Gangwon Health Analytics",
}
DEMO_PASSWORD = "consortia-demo"
CLINICAL_ORGS = (HOSPITAL, CLINIC, CARE)
ENDORSERS = CARE_ORGS
"""The organisations whose peers endorse: exactly the members of the private collection."""
POLICY = "OutOf(2, " + ", ".join(f"'{org}.peer'" for org in ENDORSERS) + ")"
COLLECTIONS = (CollectionConfig(PRIVATE, CARE_ORGS, blocks_to_live=0, member_only_read=False),)
ROLE_ORGS: dict[str, list[str]] = {
    "patient": [CUSTODIAN],
    "officer": [CUSTODIAN],
    "service": list(ORGS),
    "clinician": list(CLINICAL_ORGS),
    "coordinator": list(CLINICAL_ORGS),
    "analyst": [ANALYTICS],
}
"""Which organisations' certificates may carry each role (the contract's configuration)."""
READERS = (f"{CUSTODIAN}:admin", f"{CUSTODIAN}:auditor")
"""The channel's read scope: only the health office's admins and auditors read its blocks through the gateway."""
STAFF: dict[str, tuple[tuple[str, str], ...]] = {
    CUSTODIAN: (("officer", "officer"), ("auditor", "auditor")),
    HOSPITAL: (("drkim", "clinician"), ("drlee", "clinician")),
    CLINIC: (("drpark", "clinician"),),
    CARE: (("choi", "coordinator"),),
    ANALYTICS: (("analyst", "analyst"),),
}


def patient_user(number: int) -> str:
    """The login name of the n-th patient (``patient001``)."""
    return f"patient{number:03d}"


def patient_id(number: int) -> str:
    """The pseudonym of the n-th patient (``GW-0001``): known to the contract, never written to a block."""
    return f"GW-{number:04d}"


def patient_account(number: int) -> str:
    """The account (``Org/name``) of the n-th patient's certificate."""
    return f"{CUSTODIAN}/{patient_user(number)}"


def demo_accounts(count: int) -> dict[str, str]:
    """The demo's patients ``1..count``: pseudonym → account, for enrolment."""
    return {patient_id(n): patient_account(n) for n in range(1, count + 1)}


def org_specs(patients: int = 0, *, passwords: bool = True, patient_passwords: int = 3) -> tuple[OrgSpec, ...]:
    """The five organisations with their staff and ``patients`` patient identities (the first few can log in)."""
    password = DEMO_PASSWORD if passwords else None
    specs = []
    for org in ORGS:
        service_role = "analyst" if org == ANALYTICS else "service"
        users = [UserSpec("admin", "admin"), UserSpec("client", "client", {"role": service_role})]
        users += [UserSpec(name, "client", {"role": role}, password) for name, role in STAFF[org]]
        if org == CUSTODIAN:
            users += [
                UserSpec(
                    patient_user(n),
                    "client",
                    {"role": "patient"},
                    password if n <= patient_passwords else None,
                )
                for n in range(1, patients + 1)
            ]
        specs.append(OrgSpec(org, DISPLAY[org], tuple(users)))
    return tuple(specs)


def channel_spec(batch: BatchConfig | None = None) -> ChannelSpec:
    """The ``health`` channel of the five organisations; through the gateway, only the custodian's admins and
    auditors read its blocks."""
    return ChannelSpec(CHANNEL, ORGS, batch or BatchConfig(max_transactions=200, timeout_ms=30), readers=READERS)


def deploy(network: EmbeddedNetwork, orgs: Sequence[str] | None = None) -> None:
    """Deploy the contract, initialise it with the custodian and register every organisation's key."""
    from consortia.apps.health.service.health import HealthService

    network.deploy(CHANNEL, REFERENCE, policy=POLICY, collections=list(COLLECTIONS), orgs=orgs)
    HealthService(network).setup()
