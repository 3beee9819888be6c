"""Blood-pressure categories: ACC/AHA 2017 and the Korean Society of Hypertension 2018.

ACC/AHA 2017 (Whelton PK et al., Hypertension 2018;71:e13–e115, Table 6 and §11.2):

============== ============================ =====
category       systolic                     diastolic
============== ============================ =====
normal         < 120                   and  < 80
elevated       120–129                 and  < 80
stage 1        130–139                 or   80–89
stage 2        ≥ 140                   or   ≥ 90
crisis         > 180                  and/or > 120
============== ============================ =====

When systolic and diastolic fall in different categories the higher one wins.

KSH 2018 (Kim HC et al., *2018 Korean Society of Hypertension guidelines*, Clin Hypertens 2019;25:20, Table 2)
keeps the older thresholds for treatment: normal < 120/< 80, elevated (주의혈압) 120–129/< 80, prehypertension
(고혈압 전단계) 130–139 or 80–89, stage 1 hypertension 140–159 or 90–99, stage 2 ≥ 160 or ≥ 100, and isolated
systolic hypertension ≥ 140 with < 90 (reported as a flag beside the stage).
"""

from __future__ import annotations

from dataclasses import dataclass

ACC_AHA_ORDER = ("normal", "elevated", "stage1", "stage2", "crisis")
KSH_ORDER = ("normal", "elevated", "prehypertension", "stage1", "stage2")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "normal": "Normal",
        "elevated": "Elevated",
        "prehypertension": "Prehypertension",
        "stage1": "Stage 1 hypertension",
        "stage2": "Stage 2 hypertension",
        "crisis": "Hypertensive crisis",
        "isolated_systolic": "isolated systolic hypertension",
    },
    "ko": {
        "normal": "정상혈압",
        "elevated": "주의혈압",
        "prehypertension": "고혈압 전단계",
        "stage1": "1기 고혈압",
        "stage2": "2기 고혈압",
        "crisis": "고혈압 위기",
        "isolated_systolic": "수축기 단독 고혈압",
    },
}


@dataclass(frozen=True)
class Category:
    """A reading's category under both guidelines."""

    acc_aha: str
    ksh: str
    isolated_systolic: bool

    def to_json(self) -> dict[str, object]:
        """JSON shape for the API."""
        return {"acc_aha_2017": self.acc_aha, "ksh_2018": self.ksh, "isolated_systolic": self.isolated_systolic}


def _higher(order: tuple[str, ...], a: str, b: str) -> str:
    return a if order.index(a) >= order.index(b) else b


def acc_aha_2017(sbp: float, dbp: float) -> str:
    """The ACC/AHA 2017 category of one reading (the higher of the systolic and diastolic categories)."""
    if sbp > 180 or dbp > 120:
        return "crisis"
    if sbp >= 140:
        by_sbp = "stage2"
    elif sbp >= 130:
        by_sbp = "stage1"
    elif sbp >= 120:
        by_sbp = "elevated"
    else:
        by_sbp = "normal"
    if dbp >= 90:
        by_dbp = "stage2"
    elif dbp >= 80:
        by_dbp = "stage1"
    else:
        by_dbp = "normal"
    return _higher(ACC_AHA_ORDER, by_sbp, by_dbp)


def ksh_2018(sbp: float, dbp: float) -> str:
    """The KSH 2018 category of one reading (the higher of the systolic and diastolic categories)."""
    if sbp >= 160:
        by_sbp = "stage2"
    elif sbp >= 140:
        by_sbp = "stage1"
    elif sbp >= 130:
        by_sbp = "prehypertension"
    elif sbp >= 120:
        by_sbp = "elevated"
    else:
        by_sbp = "normal"
    if dbp >= 100:
        by_dbp = "stage2"
    elif dbp >= 90:
        by_dbp = "stage1"
    elif dbp >= 80:
        by_dbp = "prehypertension"
    else:
        by_dbp = "normal"
    return _higher(KSH_ORDER, by_sbp, by_dbp)


def categorise(sbp: float, dbp: float) -> Category:
    """Both guidelines' categories of one reading."""
    return Category(acc_aha_2017(sbp, dbp), ksh_2018(sbp, dbp), sbp >= 140 and dbp < 90)
