"""The player of a demo scenario (``pilot.json`` by default, :mod:`.scenario`): it submits what the file describes.

1. Enrol the patients (pseudonyms ``GW-0001`` …, data keys in the custodian's vault) with their synthetic
   risk-factor profiles (:mod:`.synthetic`).
2. Each patient grants the scenario's consents (FHIR R4 Consent, signed with their own identity) — in the pilot:
   treatment to their hospital or clinic, care coordination to the care-coordination centre and to the analysis
   service, and for a third of them research on pseudonymised data.
3. The scenario's days of home readings per patient are sealed, stored and anchored; among them its scripted
   events (in the pilot one hypertensive crisis and one level-2 hypoglycaemia), which are recorded on the ledger
   as alerts for the coordinator.
4. If the scenario asks for it, the analysis service trains the CHD model and registers its hash on the ledger;
   the health office makes it the current model; the analysis service scores every patient (each score records
   the model version).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from consortia.apps.health.consortium import CUSTODIAN, DEMO_PASSWORD, patient_account, patient_user
from consortia.apps.health.demo import synthetic
from consortia.apps.health.demo.scenario import Scenario, pilot
from consortia.apps.health.service.health import HealthService, service_for

if TYPE_CHECKING:
    from rich.console import Console

    from consortia.identity import SigningIdentity
    from consortia.network.embedded import EmbeddedNetwork

WORKERS = 8


def _patient_identity(service: HealthService, number: int, password_patients: int) -> SigningIdentity:
    user = patient_user(number)
    if number <= password_patients:
        return service.identity(CUSTODIAN, user, DEMO_PASSWORD)
    return service.identity(CUSTODIAN, user)


def seed(
    network: EmbeddedNetwork,
    console: Console,
    count: int | None = None,
    days: int | None = None,
    train_model: bool | None = None,
    scenario: Scenario | None = None,
) -> list[str]:
    """Play the scenario (``count``, ``days``, ``train_model`` override its figures); return summary lines
    (``{base}`` stands for the server's URL)."""
    scenario = scenario or pilot()
    count = scenario.patients if count is None else count
    days = scenario.days if days is None else days
    train_model = scenario.train_model if train_model is None else train_model
    started = time.monotonic()
    service = service_for(network)
    end = datetime.now(UTC)
    people = synthetic.patients(count, scenario)
    service.enroll([p.patient for p in people], {p.patient: patient_account(p.number) for p in people})
    identities = {p.number: _patient_identity(service, p.number, scenario.password_patients) for p in people}

    def prepare(person: synthetic.SyntheticPatient) -> int:
        identity = identities[person.number]
        service.put_profile(person.patient, person.profile, end)
        for grant in scenario.grants:
            if grant.applies_to(person.number):
                service.grant(identity, grant.org, list(grant.purposes), list(grant.classes))
        result = service.ingest(synthetic.readings(person, days, end, scenario))
        return result.records

    with ThreadPoolExecutor(WORKERS) as pool:
        records = sum(pool.map(prepare, people))
    console.print(f"Enrolled {count} synthetic patients, {records} readings over {days} days (sealed, anchored).")
    analyst = service.identity(*scenario.analyst, DEMO_PASSWORD)
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
    alerts = service.alerts(service.identity(*scenario.alerts_reader, DEMO_PASSWORD), "open")
    console.print(f"{len(alerts)} open alerts; {model_line}; {time.monotonic() - started:.1f} s.")
    width = max((len(label) for label, _, _ in scenario.logins), default=0) + 1
    return [
        f"Health pilot (synthetic data), password {DEMO_PASSWORD}:",
        *(
            f"  {(label + ':').ljust(width + 1)} {{base}}/health  as {org}/{user}"
            for label, org, user in scenario.logins
        ),
    ]
