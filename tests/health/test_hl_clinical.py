"""Blood-pressure categories, glycaemic thresholds, alerts and CGM metrics against the published definitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consortia.apps.health.domain import alerts, bp, cgm, glycaemia
from consortia.apps.health.domain.readings import Reading

T0 = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sbp", "dbp", "acc", "ksh"),
    [
        (118, 78, "normal", "normal"),
        (124, 78, "elevated", "elevated"),
        (124, 82, "stage1", "prehypertension"),  # the higher category wins
        (134, 70, "stage1", "prehypertension"),
        (142, 85, "stage2", "stage1"),
        (128, 92, "stage2", "stage1"),
        (165, 95, "stage2", "stage2"),
        (150, 102, "stage2", "stage2"),
        (181, 100, "crisis", "stage2"),
        (170, 121, "crisis", "stage2"),
        (180, 120, "stage2", "stage2"),  # crisis is > 180 and/or > 120
    ],
)
def test_bp_categories(sbp: float, dbp: float, acc: str, ksh: str) -> None:
    """ACC/AHA 2017 and KSH 2018 categories; the higher of systolic and diastolic wins."""
    assert bp.acc_aha_2017(sbp, dbp) == acc
    assert bp.ksh_2018(sbp, dbp) == ksh


def test_isolated_systolic_and_labels() -> None:
    """KSH's isolated systolic hypertension flag; Korean and English labels for every category."""
    assert bp.categorise(150, 85).isolated_systolic and not bp.categorise(150, 92).isolated_systolic
    for order in (bp.ACC_AHA_ORDER, bp.KSH_ORDER):
        for name in order:
            assert bp.LABELS["en"][name] and bp.LABELS["ko"][name]


@pytest.mark.parametrize(("value", "level"), [(100, 0), (70, 0), (69.9, 1), (54, 1), (53.9, 2), (30, 2)])
def test_hypoglycaemia_levels(value: float, level: int) -> None:
    """Level 1: < 70 and ≥ 54 mg/dL; level 2: < 54 mg/dL."""
    assert glycaemia.hypoglycaemia_level(value) == level


def _glucose(hours: float, value: float, patient: str = "GW-0001") -> Reading:
    return Reading(patient, "2339-0", "glucose", "glucose", value, "mg/dL", T0 + timedelta(hours=hours))


def test_alerts_from_readings() -> None:
    """A crisis and a level-2 hypoglycaemia are critical; level 1 is a warning; ordinary readings raise nothing."""
    crisis = Reading("GW-0001", "85354-9", "bp", "blood-pressure", 192, "mm[Hg]", T0, value2=110)
    found = alerts.scan([crisis, _glucose(1, 48), _glucose(2, 65), _glucose(3, 110)])
    assert [(a.kind, a.severity) for a in found] == [
        ("hypertensive-crisis", "critical"),
        ("hypoglycaemia-level-2", "critical"),
        ("hypoglycaemia-level-1", "warning"),
    ]
    assert found[0].alert_id == alerts.scan([crisis])[0].alert_id  # stable: the same reading, the same id
    assert alerts.scan([Reading("GW-0001", "85354-9", "bp", "blood-pressure", 150, "mm[Hg]", T0, value2=95)]) == []


def test_persistent_hyperglycaemia_needs_three_highs_over_four_hours() -> None:
    """Two highs, or three within an hour, are not persistent; three over ≥ 4 h in 24 h are — raised once."""
    assert not [a for a in alerts.scan([_glucose(0, 300), _glucose(5, 290)]) if a.kind == "persistent-hyperglycaemia"]
    burst = [_glucose(0, 300), _glucose(0.3, 310), _glucose(0.6, 305)]
    assert not [a for a in alerts.scan(burst) if a.kind == "persistent-hyperglycaemia"]
    spread = [_glucose(0, 300), _glucose(3, 280), _glucose(5, 260), _glucose(6, 270)]
    found = [a for a in alerts.scan(spread) if a.kind == "persistent-hyperglycaemia"]
    assert len(found) == 1 and found[0].at == T0 + timedelta(hours=5)
    # Earlier readings (history) count.
    found = alerts.scan([_glucose(6, 270)], history=[_glucose(0, 300), _glucose(3, 280)])
    assert [a.kind for a in found] == ["persistent-hyperglycaemia"]
    assert glycaemia.persistent_hyperglycaemia([(T0, 300.0)], T0) is False


def test_cgm_metrics_per_consensus() -> None:
    """TIR/TBR/TAR fractions, mean, GMI = 3.31 + 0.02392 × mean, CV, and data sufficiency (14 days, > 70 %)."""
    values = [60.0] * 5 + [50.0] * 5 + [120.0] * 70 + [200.0] * 15 + [260.0] * 5
    times = [T0 + timedelta(minutes=5 * i) for i in range(len(values))]
    m = cgm.metrics(times, values)
    assert m.in_range == pytest.approx(0.70)
    assert m.below_70 == pytest.approx(0.10) and m.below_54 == pytest.approx(0.05)
    assert m.above_180 == pytest.approx(0.20) and m.above_250 == pytest.approx(0.05)
    mean = sum(values) / len(values)
    assert m.mean == pytest.approx(mean) and m.gmi == pytest.approx(3.31 + 0.02392 * mean)
    assert cgm.gmi(154) == pytest.approx(6.99368)
    assert m.wear == pytest.approx(1.0) and not m.sufficient  # far fewer than 14 days
    assert m.meets()["below_54"] is False and m.meets()["above_250"] is False
    assert m.to_json()["gmi_pct"] == round(3.31 + 0.02392 * mean, 1)


def test_cgm_sufficiency_counts_wear() -> None:
    """15 days at 5-minute intervals with half the readings missing: enough days, not enough wear."""
    full = [T0 + timedelta(minutes=5 * i) for i in range(15 * 288)]
    assert cgm.metrics(full, [110.0] * len(full)).sufficient
    half = [*full[::2], full[1]]
    sparse = cgm.metrics(half, [110.0] * len(half), interval_minutes=5)
    assert sparse.days >= 14 and sparse.wear < 0.7 and not sparse.sufficient
    with pytest.raises(ValueError):
        cgm.metrics([], [])


def test_cgm_cli(tmp_path: Path) -> None:
    """``consortia health cgm`` reads a 'time,glucose' CSV; implausible values are refused with the line number."""
    import json

    from typer.testing import CliRunner

    from consortia.apps.health.cli import app

    good = tmp_path / "cgm.csv"
    rows = ["time,glucose"] + [f"{(T0 + timedelta(minutes=5 * i)).isoformat()},{100 + (i % 60)}" for i in range(300)]
    good.write_text("\n".join(rows))
    result = CliRunner().invoke(app, ["cgm", str(good), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["readings"] == 300 and body["in_range_pct"] == 100.0 and body["sufficient"] is False
    bad = tmp_path / "bad.csv"
    bad.write_text("time,glucose\n2024-05-01T00:00:00+00:00,-5\n")
    result = CliRunner().invoke(app, ["cgm", str(bad), "--json"])
    assert result.exit_code == 1 and "line 2" in json.loads(result.output)["error"]
