"""The LOINC codes this application reads, what each measures and in which units it may arrive.

Blood pressure comes as the panel 85354-9 with components 8480-6 (systolic) and 8462-4 (diastolic) in ``mm[Hg]``
(the FHIR R4 vital-signs profile), heart rate as 8867-4 in ``/min``. Glucose has several codes by specimen and
method — 2339-0 (blood, mass/volume), 15074-8 (blood, moles/volume), 41653-7 (capillary blood by glucometer),
2345-7 (serum or plasma), 1558-6 (fasting, serum or plasma) — and HbA1c is 4548-4 (% of total haemoglobin).
Continuous glucose monitoring summaries follow the HL7 CGM implementation guide (STU 1): GMI 97506-0, mean
glucose 97507-8 (mass) or 105273-7 (moles), and the times-in-ranges panel 106793-3 whose components are 104642-4
(< 54 mg/dL), 104641-6 (54–69), 97510-2 (70–180), 104640-8 (181–250) and 104639-0 (> 250), each in %.

Each code has a *kind* (what the rest of the application reasons about) and a *data class*, the unit of consent:
a patient may share blood pressure with a clinic and not glucose.
"""

from __future__ import annotations

from dataclasses import dataclass

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

BLOOD_PRESSURE = "blood-pressure"
GLUCOSE = "glucose"
RISK = "risk"
DATA_CLASSES: tuple[str, ...] = (BLOOD_PRESSURE, GLUCOSE, RISK)
"""What a consent can cover: readings of blood pressure (and pulse), of glucose (incl. HbA1c, CGM), risk scores."""


@dataclass(frozen=True)
class Code:
    """A LOINC code this application accepts."""

    code: str
    display: str
    kind: str
    data_class: str
    units: tuple[str, ...]
    context: str = ""


BP_PANEL = "85354-9"
SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"
HEART_RATE = "8867-4"
HBA1C = "4548-4"
GMI = "97506-0"
CGM_MEAN = "97507-8"
CGM_MEAN_MOLES = "105273-7"
TIME_IN_RANGES = "106793-3"

GLUCOSE_UNITS = ("mg/dL", "mmol/L")

CODES: dict[str, Code] = {
    c.code: c
    for c in (
        Code(BP_PANEL, "Blood pressure panel", "bp", BLOOD_PRESSURE, ("mm[Hg]",)),
        Code(SYSTOLIC, "Systolic blood pressure", "sbp", BLOOD_PRESSURE, ("mm[Hg]",)),
        Code(DIASTOLIC, "Diastolic blood pressure", "dbp", BLOOD_PRESSURE, ("mm[Hg]",)),
        Code(HEART_RATE, "Heart rate", "heart_rate", BLOOD_PRESSURE, ("/min",)),
        Code("2339-0", "Glucose [Mass/volume] in Blood", "glucose", GLUCOSE, GLUCOSE_UNITS),
        Code("15074-8", "Glucose [Moles/volume] in Blood", "glucose", GLUCOSE, GLUCOSE_UNITS),
        Code("41653-7", "Glucose in Capillary blood by Glucometer", "glucose", GLUCOSE, GLUCOSE_UNITS, "glucometer"),
        Code("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "glucose", GLUCOSE, GLUCOSE_UNITS),
        Code(
            "1558-6", "Fasting glucose [Mass/volume] in Serum or Plasma", "glucose", GLUCOSE, GLUCOSE_UNITS, "fasting"
        ),
        Code(HBA1C, "Hemoglobin A1c/Hemoglobin.total in Blood", "hba1c", GLUCOSE, ("%", "mmol/mol")),
        Code(GMI, "Glucose management indicator", "gmi", GLUCOSE, ("%",)),
        Code(
            CGM_MEAN,
            "Average glucose in Interstitial fluid during Reporting Period",
            "cgm_mean",
            GLUCOSE,
            GLUCOSE_UNITS,
        ),
        Code(
            CGM_MEAN_MOLES,
            "Glucose [Moles/volume] in Reporting Period mean Interstitial fluid",
            "cgm_mean",
            GLUCOSE,
            GLUCOSE_UNITS,
        ),
        Code(TIME_IN_RANGES, "Continuous glucose monitoring time in ranges panel", "cgm_tir", GLUCOSE, ("%",)),
    )
}

TIR_COMPONENTS: dict[str, str] = {
    "104642-4": "very_low",
    "104641-6": "low",
    "97510-2": "target",
    "104640-8": "high",
    "104639-0": "very_high",
}
"""Components of the CGM times-in-ranges panel (HL7 CGM IG ConceptMap CGMSummaryToLoinc)."""


def lookup(code: str) -> Code | None:
    """The accepted code, or None."""
    return CODES.get(code)
