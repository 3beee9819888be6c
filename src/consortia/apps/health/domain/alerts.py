"""Alerts: the readings a care coordinator must see now.

From each new reading (and, for persistent hyperglycaemia, the patient's recent glucose history) this module
derives :class:`Alert` values:

* ``hypertensive-crisis`` — ACC/AHA 2017 crisis, systolic > 180 and/or diastolic > 120 mm Hg (critical);
* ``hypoglycaemia-level-2`` — glucose < 54 mg/dL (critical); ``hypoglycaemia-level-1`` — < 70 and ≥ 54 (warning);
* ``persistent-hyperglycaemia`` — see :mod:`.glycaemia` (warning), raised once per 24 hours.

The service records each alert in the ledger's private collection of the custodian and the care organisations
(the block shows only that some alerts were recorded, never whose or what) and the gateway streams each alert,
as a server-sent event, to the care staff whose patients' consent covers it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from consortia.apps.health.domain import bp, glycaemia
from consortia.apps.health.domain.readings import Reading, iso

CRITICAL = "critical"
WARNING = "warning"

KINDS: dict[str, dict[str, str]] = {
    "hypertensive-crisis": {"en": "Hypertensive crisis", "ko": "고혈압 위기"},
    "hypoglycaemia-level-2": {"en": "Hypoglycaemia level 2 (< 54 mg/dL)", "ko": "2단계 저혈당 (< 54 mg/dL)"},
    "hypoglycaemia-level-1": {"en": "Hypoglycaemia level 1 (54–69 mg/dL)", "ko": "1단계 저혈당 (54–69 mg/dL)"},
    "persistent-hyperglycaemia": {"en": "Persistent hyperglycaemia (> 250 mg/dL)", "ko": "지속성 고혈당 (> 250 mg/dL)"},
}


@dataclass(frozen=True)
class Alert:
    """One alert about one patient."""

    patient: str
    kind: str
    severity: str
    at: datetime
    value: str
    rule: str

    @property
    def alert_id(self) -> str:
        """A stable id: the same reading never raises the same alert twice."""
        digest = hashlib.sha256(f"{self.patient}\x00{self.kind}\x00{iso(self.at)}".encode()).hexdigest()
        return f"al-{digest[:20]}"

    def to_json(self) -> dict[str, str]:
        """The private alert record."""
        return {
            "id": self.alert_id,
            "patient": self.patient,
            "kind": self.kind,
            "severity": self.severity,
            "at": iso(self.at),
            "value": self.value,
            "rule": self.rule,
        }


def from_reading(reading: Reading) -> list[Alert]:
    """Alerts that one reading raises on its own."""
    if (
        reading.kind == "bp"
        and reading.value2 is not None
        and bp.acc_aha_2017(reading.value, reading.value2) == "crisis"
    ):
        value = f"{reading.value:.0f}/{reading.value2:.0f} mm Hg"
        return [
            Alert(
                reading.patient,
                "hypertensive-crisis",
                CRITICAL,
                reading.effective,
                value,
                "ACC/AHA 2017: SBP > 180 and/or DBP > 120",
            )
        ]
    if reading.kind == "glucose":
        level = glycaemia.hypoglycaemia_level(reading.value)
        value = f"{reading.value:.0f} mg/dL"
        if level == 2:
            return [
                Alert(
                    reading.patient,
                    "hypoglycaemia-level-2",
                    CRITICAL,
                    reading.effective,
                    value,
                    "IHSG/ADA: glucose < 54 mg/dL",
                )
            ]
        if level == 1:
            return [
                Alert(
                    reading.patient,
                    "hypoglycaemia-level-1",
                    WARNING,
                    reading.effective,
                    value,
                    "IHSG/ADA: glucose < 70 and ≥ 54 mg/dL",
                )
            ]
    return []


def scan(readings: Sequence[Reading], history: Iterable[Reading] = ()) -> list[Alert]:
    """Alerts raised by new ``readings`` given the patient's earlier ``history`` (for persistent hyperglycaemia)."""
    found: list[Alert] = []
    for reading in readings:
        found.extend(from_reading(reading))
    glucose: dict[str, list[tuple[datetime, float]]] = {}
    for reading in [*history, *readings]:
        if reading.kind == "glucose":
            glucose.setdefault(reading.patient, []).append((reading.effective, reading.value))
    last_raised: dict[str, datetime] = {}
    for reading in sorted(readings, key=lambda r: r.effective):
        if reading.kind != "glucose" or reading.value <= glycaemia.HYPER:
            continue
        series = glucose.get(reading.patient, [])
        previous = last_raised.get(reading.patient)
        if previous is not None and reading.effective - previous < glycaemia.HYPER_WINDOW:
            continue
        if glycaemia.persistent_hyperglycaemia(series, reading.effective):
            last_raised[reading.patient] = reading.effective
            found.append(
                Alert(
                    reading.patient,
                    "persistent-hyperglycaemia",
                    WARNING,
                    reading.effective,
                    f"≥ {glycaemia.HYPER_COUNT} readings > 250 mg/dL in 24 h",
                    "ADA sick-day threshold 250 mg/dL, persistent over ≥ 4 h",
                )
            )
    return found
