"""FHIR import: R4 Observations and Bundles parse, units normalise, bad ones are rejected naming the path."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortia.apps.health.cli import app
from consortia.apps.health.domain.fhir_import import parse_document
from consortia.apps.health.domain.units import GLUCOSE_MGDL_PER_MMOLL, mg_to_mmol, mmol_to_mg

from .hl_support import bp_observation, bundle, glucose_observation

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def test_blood_pressure_panel_imports() -> None:
    """85354-9 with 8480-6 / 8462-4 in mm[Hg] becomes one reading; the time is kept in UTC."""
    result = parse_document(bp_observation(), "GW-0001", NOW)
    assert result.rejected == []
    [reading] = result.readings
    assert (reading.kind, reading.value, reading.value2, reading.unit) == ("bp", 128, 82, "mm[Hg]")
    assert reading.summary() == {
        "code": "85354-9",
        "kind": "bp",
        "value": {"systolic": 128.0, "diastolic": 82.0},
        "unit": "mm[Hg]",
        "effective": "2024-04-30T23:00:00Z",
    }


@pytest.mark.parametrize(
    ("code", "value", "unit", "mg_dl"),
    [
        ("15074-8", 5.5, "mmol/L", 5.5 * 18.01559),
        ("2339-0", 99, "mg/dL", 99),
        ("41653-7", 3.0, "mmol/L", 54.04677),
        ("2345-7", 140, "mg/dL", 140),
        ("1558-6", 6.1, "mmol/L", 6.1 * 18.01559),
    ],
)
def test_glucose_codes_normalise_to_mg_dl(code: str, value: float, unit: str, mg_dl: float) -> None:
    """Every glucose code imports, in mg/dL (mmol/L × 18.01559)."""
    [reading] = parse_document(glucose_observation(value, unit, code), None, NOW).readings
    assert reading.unit == "mg/dL" and reading.value == pytest.approx(mg_dl, abs=1e-3)
    assert reading.context == {"41653-7": "glucometer", "1558-6": "fasting"}.get(code, "")


def test_unit_conversion_round_trips() -> None:
    """mg/dL ↔ mmol/L by the molar mass of glucose."""
    assert GLUCOSE_MGDL_PER_MMOLL == 18.01559
    assert mg_to_mmol(mmol_to_mg(7.2)) == pytest.approx(7.2)
    assert mmol_to_mg(10) == pytest.approx(180.1559)


def test_hba1c_heart_rate_and_cgm_summaries() -> None:
    """HbA1c in % and IFCC mmol/mol, heart rate, GMI, CGM mean and the times-in-ranges panel."""
    hba1c = glucose_observation(53, "mmol/mol", "4548-4")
    pulse = {**glucose_observation(72, "/min", "8867-4")}
    gmi = {**glucose_observation(7.1, "%", "97506-0")}
    del gmi["effectiveDateTime"]
    gmi["effectivePeriod"] = {"start": "2024-05-01", "end": "2024-05-14"}
    tir = {**gmi, "code": {"coding": [{"system": "http://loinc.org", "code": "106793-3"}]}}
    del tir["valueQuantity"]
    tir["component"] = [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": c}]},
            "valueQuantity": {"value": v, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
        }
        for c, v in (("104642-4", 1), ("104641-6", 3), ("97510-2", 72), ("104640-8", 19), ("104639-0", 5))
    ]
    result = parse_document(bundle(hba1c, pulse, gmi, tir), "GW-0001", NOW)
    assert result.rejected == []
    by_kind = {r.kind: r for r in result.readings}
    assert by_kind["hba1c"].value == pytest.approx(0.09148 * 53 + 2.152)
    assert by_kind["heart_rate"].unit == "/min"
    assert by_kind["gmi"].value == 7.1
    assert by_kind["cgm_tir"].parts["target"] == 72 and by_kind["cgm_tir"].parts["very_low"] == 1


@pytest.mark.parametrize(
    ("resource", "path", "reason"),
    [
        (bp_observation(sbp=400), "Observation.component[0].valueQuantity.value", "not a plausible systolic"),
        (bp_observation(sbp="abc"), "Observation.component[0].valueQuantity.value", "Decimal"),
        (bp_observation(dbp=130, sbp=120), "Observation.component", "must be below systolic"),
        (glucose_observation(-5, "mg/dL", "2339-0"), "Observation.valueQuantity.value", "not a plausible glucose"),
        (glucose_observation(when="2999-01-01T00:00:00Z"), "Observation.effectiveDateTime", "in the future"),
        (glucose_observation(when="2024-05-01T07:30:00"), "Observation.effectiveDateTime", "time zone"),
        (glucose_observation(5.5, "kg"), "Observation.valueQuantity.code", "unknown unit"),
        (glucose_observation(120, "mm[Hg]"), "Observation.valueQuantity.code", "not accepted"),
        ({**glucose_observation(), "status": None}, "Observation.status", "required"),
        ({**glucose_observation(), "status": "cancelled"}, "Observation.status", "no usable value"),
        ({**glucose_observation(), "bogus": 1}, "Observation.bogus", "Extra inputs"),
        (
            {**glucose_observation(), "code": {"coding": [{"system": "http://loinc.org", "code": "1234-5"}]}},
            "Observation.code",
            "not a blood-pressure",
        ),
        (
            {**glucose_observation(), "subject": {"reference": "Patient/GW-0002"}},
            "Observation.subject.reference",
            "import is for patient GW-0001",
        ),
        (
            {k: v for k, v in glucose_observation().items() if k != "valueQuantity"},
            "Observation.valueQuantity",
            "required",
        ),
    ],
)
def test_malformed_and_implausible_observations_are_rejected_by_path(resource: dict, path: str, reason: str) -> None:
    """Each rejection names the element's path and the reason; nothing of it is accepted."""
    result = parse_document(resource, "GW-0001", NOW)
    assert result.readings == []
    [rejection] = result.rejected
    assert rejection.path == path, rejection
    assert reason in rejection.reason, rejection


def test_bundle_entries_stand_alone_but_transactions_are_all_or_nothing() -> None:
    """A batch keeps its good entries; a transaction Bundle with one bad entry imports nothing."""
    good, bad = glucose_observation(), glucose_observation(-5, "mg/dL", "2339-0")
    batch = parse_document(bundle(good, bad, {"resourceType": "Patient"}), "GW-0001", NOW)
    assert len(batch.readings) == 1
    assert [r.path for r in batch.rejected] == [
        "Bundle.entry[1].resource.valueQuantity.value",
        "Bundle.entry[2].resource.resourceType",
    ]
    transaction = parse_document(bundle(good, bad, kind="transaction"), "GW-0001", NOW)
    assert transaction.readings == [] and transaction.rejected[-1].path == "Bundle"
    assert parse_document([1, 2], None, NOW).rejected[0].path == "$"
    assert parse_document({"resourceType": "Patient"}, None, NOW).rejected[0].path == "resourceType"
    assert parse_document({"resourceType": "Bundle", "type": "nope"}, None, NOW).rejected[0].path == "Bundle.type"


def test_cli_import_fhir_dry_run(tmp_path: Path) -> None:
    """``import-fhir --json`` prints observations, rejected and items; a rejection exits 1."""
    good = tmp_path / "good.json"
    good.write_text(json.dumps(bundle(bp_observation(), glucose_observation())))
    result = CliRunner().invoke(app, ["import-fhir", str(good), "--patient", "GW-0001", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["observations"] == 2 and body["rejected"] == []
    assert [i["code"] for i in body["items"]] == ["85354-9", "15074-8"]
    assert set(body["items"][1]) >= {"code", "value", "unit", "effective"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bp_observation(sbp=400)))
    result = CliRunner().invoke(app, ["import-fhir", str(bad), "--patient", "GW-0001", "--dry-run", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["rejected"][0]["path"] == "Observation.component[0].valueQuantity.value"
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = CliRunner().invoke(app, ["import-fhir", str(broken), "--patient", "GW-0001", "--json"])
    assert result.exit_code == 1 and "not valid JSON" in json.loads(result.output)["error"]
    missing = CliRunner().invoke(app, ["import-fhir", str(tmp_path / "nope.json"), "--patient", "x", "--json"])
    assert missing.exit_code == 2 and "cannot read" in json.loads(missing.output)["error"]
