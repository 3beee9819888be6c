"""A reading: one measurement of one patient, normalised, as the rest of the application sees it.

Whatever arrives — a FHIR Observation, a synthetic demo series, a benchmark batch — becomes :class:`Reading`
values in canonical units (:mod:`.units`) with an aware UTC time. Blood pressure is one reading holding both
systolic and diastolic (``value`` = systolic, ``value2`` = diastolic) because its category depends on the pair;
a CGM times-in-ranges panel holds its five percentages in ``parts``. ``identifier`` is the FHIR Observation's
business identifier (``system|value``) when it has one: the store keeps each patient's identifiers (hashed) so that
the same Observation posted twice is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Reading:
    """One normalised measurement."""

    patient: str
    code: str
    kind: str
    data_class: str
    value: float
    unit: str
    effective: datetime
    value2: float | None = None
    context: str = ""
    source_id: str = ""
    parts: dict[str, float] = field(default_factory=dict)
    identifier: str = ""

    def display_value(self) -> Any:
        """The value as the import report shows it (a pair for blood pressure, percentages for a TIR panel)."""
        if self.kind == "bp":
            return {"systolic": round(self.value, 1), "diastolic": round(self.value2 or 0.0, 1)}
        if self.parts:
            return {k: round(v, 1) for k, v in self.parts.items()}
        return round(self.value, 2)

    def summary(self) -> dict[str, Any]:
        """The ``items`` entry of an import report: code, value, unit, effective (ISO 8601 UTC)."""
        return {
            "code": self.code,
            "kind": self.kind,
            "value": self.display_value(),
            "unit": self.unit,
            "effective": iso(self.effective),
        }

    def record(self) -> dict[str, Any]:
        """The plaintext record that is encrypted and stored off-chain."""
        body: dict[str, Any] = {
            "patient": self.patient,
            "code": self.code,
            "kind": self.kind,
            "class": self.data_class,
            "value": self.value,
            "unit": self.unit,
            "effective": iso(self.effective),
        }
        if self.value2 is not None:
            body["value2"] = self.value2
        if self.context:
            body["context"] = self.context
        if self.source_id:
            body["source_id"] = self.source_id
        if self.parts:
            body["parts"] = dict(self.parts)
        if self.identifier:
            body["identifier"] = self.identifier
        return body

    @classmethod
    def from_record(cls, body: dict[str, Any]) -> Reading:
        """Rebuild a reading from its decrypted record."""
        return cls(
            patient=body["patient"],
            code=body["code"],
            kind=body["kind"],
            data_class=body["class"],
            value=float(body["value"]),
            unit=body["unit"],
            effective=parse_iso(body["effective"]),
            value2=body.get("value2"),
            context=body.get("context", ""),
            source_id=body.get("source_id", ""),
            parts=dict(body.get("parts", {})),
            identifier=body.get("identifier", ""),
        )


def iso(when: datetime) -> str:
    """An aware datetime as ISO 8601 in UTC with a ``Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Parse what :func:`iso` wrote."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
