"""Units: which UCUM codes are meant, and conversion to the one unit each kind is stored in.

Readings are stored in one canonical unit per kind so that trends, alerts and models never mix units: blood
pressure in ``mm[Hg]``, heart rate in ``/min``, glucose in ``mg/dL``, HbA1c in ``%`` (NGSP). Glucose arrives in
mg/dL or mmol/L and is converted with 18.01559 mg/dL per mmol/L (the molar mass of glucose, 180.1559 g/mol, as
Tidepool's data model uses). HbA1c in IFCC mmol/mol is converted with the IFCC–NGSP master equation
NGSP % = 0.09148 × IFCC + 2.152 (Hoelzel et al., Clin Chem 2004;50:166–174).

A quantity's UCUM code is taken from ``valueQuantity.code`` when its system is UCUM; otherwise the human-readable
``unit`` is accepted if it spells a known unit the usual ways (``mmHg``, ``mg/dl``, ``bpm``).
"""

from __future__ import annotations

GLUCOSE_MGDL_PER_MMOLL = 18.01559

CANONICAL: dict[str, str] = {
    "bp": "mm[Hg]",
    "sbp": "mm[Hg]",
    "dbp": "mm[Hg]",
    "heart_rate": "/min",
    "glucose": "mg/dL",
    "cgm_mean": "mg/dL",
    "hba1c": "%",
    "gmi": "%",
    "cgm_tir": "%",
}

_SPELLINGS: dict[str, str] = {
    "mm[hg]": "mm[Hg]",
    "mmhg": "mm[Hg]",
    "mm hg": "mm[Hg]",
    "/min": "/min",
    "bpm": "/min",
    "beats/min": "/min",
    "{beats}/min": "/min",
    "1/min": "/min",
    "mg/dl": "mg/dL",
    "mmol/l": "mmol/L",
    "%": "%",
    "mmol/mol": "mmol/mol",
}


class UnitError(ValueError):
    """A unit that is unknown or wrong for the measurement."""


def ucum(code: str | None, unit: str | None, system: str | None) -> str:
    """The UCUM code of a quantity (from its code when the system is UCUM, else from its display unit)."""
    for text in (code if system in (None, "http://unitsofmeasure.org") else None, unit, code):
        if text:
            known = _SPELLINGS.get(text.strip().lower())
            if known:
                return known
    raise UnitError(f"unknown unit {code or unit!r}")


def mmol_to_mg(value: float) -> float:
    """Glucose mmol/L → mg/dL."""
    return value * GLUCOSE_MGDL_PER_MMOLL


def mg_to_mmol(value: float) -> float:
    """Glucose mg/dL → mmol/L."""
    return value / GLUCOSE_MGDL_PER_MMOLL


def normalise(kind: str, value: float, unit: str, accepted: tuple[str, ...]) -> tuple[float, str]:
    """``value`` in the canonical unit of ``kind``; UnitError if ``unit`` is not accepted for it."""
    if unit not in accepted:
        raise UnitError(f"unit {unit!r} is not accepted here (expected {' or '.join(accepted)})")
    canonical = CANONICAL[kind]
    if unit == canonical:
        return value, canonical
    if unit == "mmol/L" and canonical == "mg/dL":
        return mmol_to_mg(value), canonical
    if unit == "mmol/mol" and kind == "hba1c":
        return 0.09148 * value + 2.152, canonical
    raise UnitError(f"cannot convert {unit!r} to {canonical!r}")
