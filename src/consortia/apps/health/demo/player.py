"""The Gangwon pilot scenario for ``consortia demo``: 100 synthetic patients, 90 days, two alerts, a model.

1. Enrol the patients (pseudonyms ``GW-0001`` …, data keys in the custodian's vault) with their synthetic
   risk-factor profiles (:mod:`.synthetic`).
2. Each patient grants consent (FHIR R4 Consent, signed with their own identity): treatment to their hospital or
   clinic, care coordination to the care-coordination centre and to the analysis service; a third also consent
   to research on pseudonymised data.
3. Ninety days of home readings per patient are sealed, stored and anchored; among them one hypertensive crisis
   and one level-2 hypoglycaemia, which are recorded on the ledger as alerts for the coordinator.
4. The analysis service trains the CHD model and registers its hash on the ledger; the health office makes it the
   current model; the analysis service scores every patient (each score records the model version).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from consortia.apps.health.consortium import (
    ANALYTICS,
    CARE,
    CLINIC,
    CUSTODIAN,
    DEMO_PASSWORD,
    HOSPITAL,
    patient_account,
    patient_user,
)
from consortia.apps.health.demo import synthetic
from consortia.apps.health.domain import consent as consent_rules
from consortia.apps.health.service.health import HealthService, service_for

if TYPE_CHECKING:
    from rich.console import Console

    from consortia.identity import SigningIdentity
    from consortia.network.embedded import EmbeddedNetwork

DAYS = 90
WORKERS = 8


def _patient_identity(service: HealthService, number: int, password_users: int = 3) -> SigningIdentity:
    user = patient_user(number)
    if number <= password_users:
        return service.identity(CUSTODIAN, user, DEMO_PASSWORD)
    return service.identity(CUSTODIAN, user)


def seed(
    network: EmbeddedNetwork, console: Console, count: int = 100, days: int = DAYS, train_model: bool = True
) -> list[str]:
    """Run the scenario; return summary lines (``{base}`` stands for the server's URL)."""
    started = time.monotonic()
    service = service_for(network)
    end = datetime.now(UTC)
    people = synthetic.patients(count)
    service.enroll([p.patient for p in people], {p.patient: patient_account(p.number) for p in people})
    identities = {p.number: _patient_identity(service, p.number) for p in people}

    def prepare(person: synthetic.SyntheticPatient) -> int:
        identity = identities[person.number]
        service.put_profile(person.patient, person.profile, end)
        home = HOSPITAL if person.number % 2 else CLINIC
        service.grant(identity, home, [consent_rules.TREAT])
        service.grant(identity, CARE, [consent_rules.CAREMGT])
        service.grant(identity, ANALYTICS, [consent_rules.CAREMGT], ["blood-pressure", "glucose", "risk"])
        if person.number % 3 == 0:
            service.grant(identity, ANALYTICS, [consent_rules.HRESCH])
        result = service.ingest(synthetic.readings(person, days, end))
        return result.records

    with ThreadPoolExecutor(WORKERS) as pool:
        records = sum(pool.map(prepare, people))
    console.print(f"Enrolled {count} synthetic patients, {records} readings over {days} days (sealed, anchored).")
    analyst = service.identity(ANALYTICS, "analyst", DEMO_PASSWORD)
    model = None
    model_line = "model: not trained (equations only)"
    if train_model:
        from consortia.apps.health.service import training

        _, report, blob = training.train()
        report = training.save(report, blob, service.models_dir)
        service.register_model(analyst, report)
        service.promote_model(service.custodian(), report.name, report.version)
        model = service.current_model()
        model_line = (
            f"model {report.name} {report.version}: held-out AUC {report.model.roc_auc:.3f} "
            f"(Framingham 2008 {report.equation.roc_auc:.3f})"
        )
    scored = service.score(analyst, [p.patient for p in people], model, end)
    ok = sum(1 for v in scored.values() if isinstance(v, dict) and "error" not in v)
    model_line += f"; {ok} patients scored"
    alerts = service.alerts(service.identity(CARE, "choi", DEMO_PASSWORD), "open")
    console.print(f"{len(alerts)} open alerts; {model_line}; {time.monotonic() - started:.1f} s.")
    return [
        f"Health pilot (synthetic data), password {DEMO_PASSWORD}:",
        "  patient (phone):  {base}/health  as GangwonHealthOffice/patient001",
        "  coordinator:      {base}/health  as GangwonCareCentre/choi",
        "  clinician:        {base}/health  as ChuncheonHospital/drkim",
    ]
