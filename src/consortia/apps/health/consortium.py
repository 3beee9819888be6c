"""The consortium: who is on the ``health`` channel, with which roles, and how the contract is deployed.

* **GangwonHealthOffice** — the provincial health office (강원특별자치도 보건정책과), custodian of the records:
  it runs the encrypted store and ingestion (service identity ``client``), has officers (role ``officer``) and
  issues patients' identities (role ``patient``, attribute ``patient_id`` = the pseudonym).
* **ChuncheonHospital**, **WonjuClinic** — a hospital and a clinic; clinicians (role ``clinician``).
* **GangwonCareCentre** — the care-coordination centre; coordinators (role ``coordinator``) follow alerts.
* **GangwonAnalytics** — the analysis service that trains and runs the risk models (role ``analyst``, its
  service identity ``client`` included).

The contract is endorsed by any two of the five organisations' peers, so no single organisation can write the
access log alone. The private collection ``health-keys`` (wrapped data keys) has every organisation as member —
each key inside is usable only by the organisation it was wrapped for; ``health-alerts`` (alert details) has the
care organisations, not the analysis service.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from consortia.contracts.collections_config import CollectionConfig
from consortia.ledger.config import BatchConfig
from consortia.network.spec import ChannelSpec, OrgSpec, UserSpec

if TYPE_CHECKING:
    from consortia.network.embedded import EmbeddedNetwork

CHANNEL = "health"
CONTRACT = "health-records"
REFERENCE = "consortia.apps.health.contract:HealthRecords"
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
POLICY = "OutOf(2, " + ", ".join(f"'{org}.peer'" for org in ORGS) + ")"
COLLECTIONS = (
    CollectionConfig("health-keys", ORGS, blocks_to_live=0),
    CollectionConfig("health-alerts", CARE_ORGS, blocks_to_live=0),
)
STAFF: dict[str, tuple[tuple[str, str], ...]] = {
    CUSTODIAN: (("officer", "officer"),),
    HOSPITAL: (("drkim", "clinician"), ("drlee", "clinician")),
    CLINIC: (("drpark", "clinician"),),
    CARE: (("choi", "coordinator"),),
    ANALYTICS: (("analyst", "analyst"),),
}


def patient_user(number: int) -> str:
    """The login name of the n-th patient (``patient001``)."""
    return f"patient{number:03d}"


def patient_id(number: int) -> str:
    """The pseudonym of the n-th patient (``GW-0001``): the only patient identifier on the ledger."""
    return f"GW-{number:04d}"


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
                    {"role": "patient", "patient_id": patient_id(n)},
                    password if n <= patient_passwords else None,
                )
                for n in range(1, patients + 1)
            ]
        specs.append(OrgSpec(org, DISPLAY[org], tuple(users)))
    return tuple(specs)


def channel_spec(batch: BatchConfig | None = None) -> ChannelSpec:
    """The ``health`` channel of the five organisations."""
    return ChannelSpec(CHANNEL, ORGS, batch or BatchConfig(max_transactions=200, timeout_ms=30))


def deploy(network: EmbeddedNetwork, orgs: Sequence[str] | None = None) -> None:
    """Deploy the contract, initialise it with the custodian and register every organisation's key."""
    from consortia.apps.health.service import HealthService

    network.deploy(CHANNEL, REFERENCE, policy=POLICY, collections=list(COLLECTIONS), orgs=orgs)
    HealthService(network).setup()
