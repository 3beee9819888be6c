"""Synthetic pilot patients: clearly artificial people with plausible 90-day home readings.

Nothing here describes a real person. Every profile carries ``"synthetic": true`` and the pages label such
patients "synthetic"; pseudonyms are ``GW-0001`` … and the generator is seeded by the scenario
(:mod:`.scenario`, ``pilot.json``), so the demo is reproducible.

Profiles are drawn for an older chronic-disease population (age 50–85, most treated for hypertension, about a
third with diabetes). Each patient measures blood pressure and pulse morning and evening; people with diabetes
measure glucose before breakfast and after dinner, others fasting every third day. Values stay within ordinary
ranges (SBP ≤ 175, DBP ≤ 105, glucose 75–240 mg/dL) so that the only alerts are the scenario's scripted events
(in the pilot: one hypertensive crisis and one level-2 hypoglycaemia, in the last week).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from consortia.apps.health.consortium import patient_id
from consortia.apps.health.demo.scenario import Scenario, pilot
from consortia.apps.health.domain.readings import Reading

KST = timedelta(hours=9)


@dataclass(frozen=True)
class SyntheticPatient:
    """One synthetic patient: number, pseudonym and risk-factor profile."""

    number: int
    patient: str
    profile: dict[str, Any]


def patients(count: int, scenario: Scenario | None = None) -> list[SyntheticPatient]:
    """``count`` synthetic profiles, drawn from the scenario's seed; the patients its events need have diabetes
    (a hypoglycaemia) or treated hypertension (a crisis) as the scenario's ``profiles`` say."""
    scenario = scenario or pilot()
    rng = np.random.default_rng(scenario.seed)
    out = []
    for number in range(1, count + 1):
        sex = "male" if rng.random() < 0.48 else "female"
        diabetes = bool(rng.random() < 0.35) or number in scenario.diabetes
        treated = bool(rng.random() < 0.7) or number in scenario.bp_treated
        profile = {
            "synthetic": True,
            "age": int(rng.integers(50, 86)),
            "sex": sex,
            "race": "other",
            "total_chol": int(np.clip(rng.normal(195, 30), 130, 300)),
            "hdl": int(np.clip(rng.normal(47 if sex == "male" else 56, 10), 25, 95)),
            "sbp": int(np.clip(rng.normal(136, 14), 105, 175)),
            "bp_treated": treated,
            "smoker": bool(rng.random() < (0.3 if sex == "male" else 0.06)),
            "diabetes": diabetes,
            "bmi": round(float(np.clip(rng.normal(24.5, 3), 17, 36)), 1),
        }
        out.append(SyntheticPatient(number, patient_id(number), profile))
    return out


def readings(person: SyntheticPatient, days: int, end: datetime, scenario: Scenario | None = None) -> list[Reading]:
    """``days`` of home readings ending at ``end`` (UTC), with the scenario's scripted events for this patient."""
    scenario = scenario or pilot()
    rng = np.random.default_rng(scenario.seed * 1000 + person.number)
    scripted = {
        (e.kind, days - 1 - e.days_before_end, e.hour): e for e in scenario.events if e.patient == person.number
    }
    p = person.profile
    base_sbp, base_dbp = p["sbp"] - 6, p["sbp"] * 0.58
    base_glucose = 150 if p["diabetes"] else 98
    start_day = (end + KST).date() - timedelta(days=days - 1)
    out: list[Reading] = []
    for day in range(days):
        local_midnight = datetime(start_day.year, start_day.month, start_day.day, tzinfo=UTC) + timedelta(days=day)
        for hour, bump in ((7, 4), (20, 0)):
            when = local_midnight - KST + timedelta(hours=hour, minutes=int(rng.integers(0, 50)))
            if when > end:
                continue
            sbp = float(np.clip(rng.normal(base_sbp + bump, 8), 100, 175))
            dbp = float(np.clip(rng.normal(base_dbp, 6), 60, min(105, sbp - 25)))
            event = scripted.get(("bp", day, hour))
            if event is not None:
                sbp, dbp = event.value, event.value2 if event.value2 is not None else dbp
            out.append(
                Reading(
                    person.patient, "85354-9", "bp", "blood-pressure", round(sbp), "mm[Hg]", when, value2=round(dbp)
                )
            )
            pulse = float(np.clip(rng.normal(72, 7), 50, 110))
            out.append(Reading(person.patient, "8867-4", "heart_rate", "blood-pressure", round(pulse), "/min", when))
        slots = ((7, 0, "fasting"), (21, 55, "")) if p["diabetes"] else (((7, 0, "fasting"),) if day % 3 == 0 else ())
        for hour, rise, context in slots:
            when = local_midnight - KST + timedelta(hours=hour, minutes=int(rng.integers(0, 40)))
            if when > end:
                continue
            glucose = float(np.clip(rng.normal(base_glucose + rise, 18), 75, 240))
            event = scripted.get(("glucose", day, hour))
            if event is not None:
                glucose = event.value
            code = "1558-6" if context == "fasting" else "41653-7"
            out.append(
                Reading(
                    person.patient,
                    code,
                    "glucose",
                    "glucose",
                    round(glucose),
                    "mg/dL",
                    when,
                    context=context or "glucometer",
                )
            )
    return out
