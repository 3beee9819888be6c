"""Freshness and safety rules against hand-computed cases: constant temperatures, steps, the 4.4 °C boundary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortia.apps.coldchain.cli import app as cli
from consortia.apps.coldchain.domain import rules, species

H = rules.MS_PER_HOUR
MACKEREL = species.DEFAULTS["mackerel"]
MONKFISH = species.DEFAULTS["monkfish"]
runner = CliRunner()


def steps(*segments: tuple[float, float]) -> list[rules.Sample]:
    """Hourly readings: (hours, °C) segments one after another, plus a closing reading at the end."""
    samples, t = [], 0
    for hours, celsius in segments:
        for i in range(int(hours)):
            samples.append(rules.Sample(t + i * H, celsius))
        t += int(hours) * H
    samples.append(rules.Sample(t, segments[-1][1]))
    return samples


def codes(assessment: rules.Assessment) -> list[str]:
    return [a.code for a in assessment.alarms]


def test_rrs_model() -> None:
    assert rules.rrs(0) == 1.0
    assert rules.rrs(10) == pytest.approx(4.0)
    assert rules.rrs(5) == pytest.approx(2.25)
    assert rules.rrs(-10) == 0.0 and rules.rrs(-20) == 0.0


def test_two_days_in_ice_use_two_days() -> None:
    result = rules.assess(steps((48, 0.0)), MACKEREL)
    assert result.remaining_shelf_life_days == pytest.approx(10 - 2)
    assert (result.hours_above_4_4c, result.hours_above_21_1c, result.status) == (0, 0, "ok")


def test_exactly_4_4_is_not_above_4_4() -> None:
    result = rules.assess(steps((30, 4.4)), MACKEREL)
    assert result.hours_above_4_4c == 0
    assert result.status == "ok"
    assert result.remaining_shelf_life_days == pytest.approx(10 - 30 / 24 * 1.44**2)


def test_just_above_4_4_for_25_hours_breaks_the_24_hour_limit() -> None:
    result = rules.assess(steps((25, 4.5)), MACKEREL)
    assert result.hours_above_4_4c == pytest.approx(25)
    assert codes(result) == ["critical_limit_exceeded"]
    assert result.alarms[0].limit == 24
    assert "chapter 7" in result.alarms[0].citation.lower() or "ch. 7" in result.alarms[0].citation
    assert result.remaining_shelf_life_days == pytest.approx(10 - 25 / 24 * 1.45**2)
    assert rules.assess(steps((24, 4.5)), MACKEREL).status == "ok"  # exactly the limit is within it


def test_a_warm_step_counts_above_both_thresholds() -> None:
    result = rules.assess(steps((10, 2.0), (2, 25.0), (2, 2.0)), MACKEREL)
    assert result.hours_above_4_4c == pytest.approx(2)
    assert result.hours_above_21_1c == pytest.approx(2)
    assert codes(result) == ["high_temperature_exposure"]
    used = (10 * 1.2**2 + 2 * 3.5**2 + 2 * 1.2**2) / 24
    assert result.remaining_shelf_life_days == pytest.approx(10 - used)


def test_any_time_above_21_1_makes_the_limit_12_hours() -> None:
    history = steps((1, 22.0), (12, 10.0))
    result = rules.assess(history, MACKEREL)
    assert result.hours_above_4_4c == pytest.approx(13)
    assert result.hours_above_21_1c == pytest.approx(1)
    assert codes(result) == ["high_temperature_exposure", "critical_limit_exceeded"]
    assert result.alarms[1].limit == 12
    cooler = rules.assess(steps((1, 21.1), (12, 10.0)), MACKEREL)  # exactly 21.1 is not above it
    assert cooler.hours_above_21_1c == 0 and cooler.status == "ok"


def test_monkfish_has_no_histamine_limits_but_spoils() -> None:
    result = rules.assess(steps((1, 22.0), (12, 10.0)), MONKFISH)
    assert result.status == "ok"
    used = (1 * 3.2**2 + 12 * 4.0) / 24
    assert result.remaining_shelf_life_days == pytest.approx(14 - used)
    spoiled = rules.assess(steps((96, 10.0)), MONKFISH)  # 4 days at 10 °C = 16 ice days > 14
    assert codes(spoiled) == ["shelf_life_exhausted"]
    assert spoiled.remaining_shelf_life_days == pytest.approx(-2)


def test_unordered_readings_are_sorted_and_now_extends_the_last() -> None:
    history = steps((2, 0.0), (2, 6.0))
    shuffled = list(reversed(history))
    assert rules.assess(shuffled, MACKEREL) == rules.assess(history, MACKEREL)
    extended = rules.assess(history, MACKEREL, now_ms=history[-1].ts_ms + 3 * H)
    assert extended.hours_above_4_4c == pytest.approx(5)


def test_configured_species_and_limits(tmp_path: Path) -> None:
    path = tmp_path / "species.json"
    path.write_text(
        json.dumps(
            {
                "tuna": {"scientific_name": "Thunnus albacares", "scombrotoxin": True, "shelf_life_days_at_0c": 12},
                "mackerel": {"limits": {"max_hours_above_abuse": 6}},
            }
        )
    )
    table = species.load(path)
    assert table.get("tuna").limits == species.Limits()
    assert table.get("Scomber japonicus").limits.max_hours_above_abuse == 6
    assert codes(rules.assess(steps((7, 5.0)), table.get("mackerel"))) == ["critical_limit_exceeded"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"cod": {"shelf_life_days_at_0c": "ten"}}))
    with pytest.raises(species.SpeciesError, match="must be a number"):
        species.load(bad)
    with pytest.raises(species.SpeciesError, match="unknown species"):
        table.get("whale")


def test_assess_cli(tmp_path: Path) -> None:
    csv_path = tmp_path / "r.csv"
    lines = ["ts,celsius"] + [f"2024-03-05T{h:02d}:00:00+09:00,{25.0 if 10 <= h < 12 else 2.0}" for h in range(15)]
    csv_path.write_text("\n".join(lines) + "\n")
    result = runner.invoke(cli, ["assess", "--species", "mackerel", "--readings", str(csv_path), "--json"])
    assert result.exit_code == 0, result.output
    output = json.loads(result.output)
    assert set(output) == {"remaining_shelf_life_days", "hours_above_4_4c", "hours_above_21_1c", "status", "alarms"}
    assert output["hours_above_4_4c"] == 2 and output["hours_above_21_1c"] == 2
    assert output["status"] == "alarm" and output["alarms"][0]["code"] == "high_temperature_exposure"
    assert output["remaining_shelf_life_days"] == pytest.approx(10 - (12 * 1.44 + 2 * 12.25) / 24, abs=1e-4)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("", "empty"),
        ("time,temp\n2024-03-05T00:00:00Z,1\n", "header"),
        ("ts,celsius\nyesterday,1\n", "line 2"),
        ("ts,celsius\n2024-03-05T00:00:00Z,cold\n", "not a number"),
        ("ts,celsius\n2024-03-05T00:00:00Z,1\n2024-03-05T01:00:00Z,77\n", "Fahrenheit"),
    ],
    ids=["empty", "no-header", "bad-time", "bad-number", "fahrenheit"],
)
def test_assess_cli_names_bad_lines(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "r.csv"
    path.write_text(content)
    result = runner.invoke(cli, ["assess", "--species", "mackerel", "--readings", str(path), "--json"])
    assert result.exit_code == 1
    assert words in json.loads(result.output)["error"]
    unknown = runner.invoke(cli, ["assess", "--species", "whale", "--readings", str(path), "--json"])
    assert unknown.exit_code == 2
