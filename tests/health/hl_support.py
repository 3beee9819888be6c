"""Helpers of the health tests: network specifications, people from the wallet, FHIR examples."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

from consortia.apps.health import consortium
from consortia.apps.health.contract.records import PRIVATE, token
from consortia.apps.health.service.health import HealthService
from consortia.identity import SigningIdentity
from consortia.ledger.config import BatchConfig
from consortia.ledger.encoding import parse_json
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import NetworkSpec

PATIENTS = ("GW-0001", "GW-0002", "GW-0003")
PASSWORD = consortium.DEMO_PASSWORD


def health_spec(patients: int = 3) -> NetworkSpec:
    """The health consortium with ``patients`` patients, of whom the first three can log in."""
    return NetworkSpec(
        orgs=consortium.org_specs(patients),
        channels=(consortium.channel_spec(BatchConfig(max_transactions=200, timeout_ms=15)),),
    )


def make_network(folder: Path, patients: int = 3) -> EmbeddedNetwork:
    """Create, deploy and enrol."""
    network = EmbeddedNetwork.create(folder, health_spec(patients))
    consortium.deploy(network)
    accounts = consortium.demo_accounts(patients)
    HealthService(network).enroll(list(accounts), accounts)
    return network


_PEOPLE: dict[tuple[str, str, str], SigningIdentity] = {}


def person(network: EmbeddedNetwork, org: str, user: str) -> SigningIdentity:
    """A person's identity, opened from the wallet with the demo password (cached per network)."""
    key = (str(network.directory), org, user)
    if key not in _PEOPLE:
        _PEOPLE[key] = HealthService(network).identity(org, user, PASSWORD)
    return _PEOPLE[key]


def bp_observation(
    sbp: Any = 128, dbp: Any = 82, when: str = "2024-05-01T08:00:00+09:00", patient: str = "GW-0001"
) -> dict[str, Any]:
    """A FHIR R4 blood-pressure panel (vital-signs profile)."""

    def component(code: str, value: Any) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": {"value": value, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
        }

    return {
        "resourceType": "Observation",
        "id": "bp-1",
        "status": "final",
        "category": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when,
        "component": [component("8480-6", sbp), component("8462-4", dbp)],
    }


def glucose_observation(
    value: Any = 5.5,
    unit: str = "mmol/L",
    code: str = "15074-8",
    when: str = "2024-05-01T07:30:00+09:00",
    patient: str = "GW-0001",
) -> dict[str, Any]:
    """A FHIR R4 glucose Observation."""
    return {
        "resourceType": "Observation",
        "id": "glu-1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


def bundle(*resources: dict[str, Any], kind: str = "batch") -> dict[str, Any]:
    """A Bundle of resources."""
    return {"resourceType": "Bundle", "type": kind, "entry": [{"resource": copy.deepcopy(r)} for r in resources]}


def private_key(network: EmbeddedNetwork, prefix: str, kind: str, value: str) -> str:
    """The contract's private key for ``value`` (``k:<token>`` holds a patient's wrapped keys, for instance)."""
    state = network.peer(consortium.CUSTODIAN).channel(consortium.CHANNEL).ledger.state
    stored = state.private_get(consortium.CONTRACT, PRIVATE, "secret")
    assert stored is not None, "the contract holds no pseudonym key"
    return f"{prefix}:{token(base64.b64decode(parse_json(stored.value)['key']), kind, value)}"
