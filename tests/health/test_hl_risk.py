"""Risk equations: the published worked examples, vectorised equals scalar, validated ranges, drivers, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from consortia.apps.health.cli import app
from consortia.apps.health.domain import framingham, pce
from consortia.apps.health.domain.risk import UnknownModel, category, score
from consortia.apps.health.domain.riskfactors import RiskFactors, RiskInputError

EXAMPLE = {"age": 55, "total_chol": 213, "hdl": 50, "sbp": 120, "bp_treated": False, "smoker": False, "diabetes": False}
PCE_EXAMPLES = [
    ("female", "white", 2.1),
    ("female", "african-american", 3.0),
    ("male", "white", 5.4),
    ("male", "african-american", 6.1),
]


@pytest.mark.parametrize(("sex", "race", "percent"), PCE_EXAMPLES)
def test_pce_worked_examples(sex: str, race: str, percent: float) -> None:
    """Goff 2013 Table A worked examples, to ±0.1 percentage point (white men: 5.4, the paper prints 5.3)."""
    result = score("pce", RiskFactors(sex=sex, race=race, **EXAMPLE))
    assert abs(100 * result.risk_10y - percent) <= 0.1
    assert result.warnings == []


def test_other_race_uses_white_equations_and_says_so() -> None:
    """'other' is scored with the white equations, with a warning."""
    white = score("pce", RiskFactors(sex="male", race="white", **EXAMPLE))
    other = score("pce", RiskFactors(sex="male", race="other", **EXAMPLE))
    assert other.risk_10y == white.risk_10y
    assert any("white equations" in w for w in other.warnings)


def test_framingham_worked_example() -> None:
    """D'Agostino 2008: man 55, TC 213, HDL 50, SBP 140 untreated, non-smoker, no diabetes → 13.5 %."""
    result = score("framingham", RiskFactors(sex="male", race="white", **{**EXAMPLE, "sbp": 140}))
    assert abs(100 * result.risk_10y - 13.5) <= 0.1


def test_vectorised_equals_scalar() -> None:
    """The numpy array path (benchmark) gives the same numbers as the one-person path."""
    rng = np.random.default_rng(1)
    n = 200
    female = rng.random(n) < 0.5
    black = rng.random(n) < 0.3
    age = rng.uniform(40, 79, n)
    tc = rng.uniform(130, 320, n)
    hdl = rng.uniform(20, 100, n)
    sbp = rng.uniform(90, 200, n)
    treated, smoker, diabetes = (rng.random(n) < 0.3 for _ in range(3))
    pce_all = pce.risk_arrays(female, black, age, tc, hdl, sbp, treated, smoker, diabetes)
    fr_all = framingham.risk_arrays(female, age, tc, hdl, sbp, treated, smoker, diabetes)
    for i in range(0, n, 17):
        f = RiskFactors(
            float(age[i]),
            "female" if female[i] else "male",
            "african-american" if black[i] else "white",
            float(tc[i]),
            float(hdl[i]),
            float(sbp[i]),
            bool(treated[i]),
            bool(smoker[i]),
            bool(diabetes[i]),
        )
        assert pce_all[i] == pytest.approx(pce.risk(f), rel=1e-12)
        assert fr_all[i] == pytest.approx(framingham.risk(f), rel=1e-12)


def test_out_of_range_inputs_are_flagged_not_refused() -> None:
    """Age 35 is outside the PCE's 40–79 and inside Framingham's 30–74."""
    f = RiskFactors(sex="female", race="white", **{**EXAMPLE, "age": 35})
    assert any("age 35" in w and "40–79" in w for w in score("pce", f).warnings)
    assert score("framingham", f).warnings == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"age": 5}, "age"),
        ({"sbp": 400}, "sbp"),
        ({"hdl": 250, "total_chol": 200}, "hdl"),
        ({"sex": "x"}, "sex"),
        ({"total_chol": float("nan")}, "total_chol"),
    ],
)
def test_impossible_inputs_are_refused_naming_the_field(change: dict, field: str) -> None:
    """A value no body has is an error naming the field."""
    values = {"sex": "male", "race": "white", **EXAMPLE, **change}
    with pytest.raises(RiskInputError) as refused:
        RiskFactors(**values)
    assert refused.value.field == field


def test_drivers_explain_the_risk() -> None:
    """A smoker with high SBP: smoking and SBP are the largest drivers; unknown models are refused."""
    f = RiskFactors(sex="male", race="white", **{**EXAMPLE, "smoker": True, "sbp": 160})
    result = score("pce", f)
    factors = [d.factor for d in result.drivers]
    assert set(factors[:2]) == {"smoker", "sbp"}
    assert all(d.contribution > 0 for d in result.drivers)
    assert "hdl" not in factors  # HDL 50 is already optimal
    with pytest.raises(UnknownModel):
        score("score2", f)
    assert category(0.02) == "low" and category(0.06) == "borderline" and category(0.1) == "intermediate"
    assert category(0.25) == "high"


ARGS = [
    "--age",
    "55",
    "--total-chol",
    "213",
    "--hdl",
    "50",
    "--sbp",
    "120",
    "--bp-treated",
    "no",
    "--smoker",
    "no",
    "--diabetes",
    "no",
    "--json",
]


@pytest.mark.parametrize(("sex", "race", "percent"), PCE_EXAMPLES)
def test_cli_risk_json(sex: str, race: str, percent: float) -> None:
    """``consortia health risk --json`` prints the model, the risk as a fraction and the warnings."""
    result = CliRunner().invoke(app, ["risk", "--model", "pce", "--sex", sex, "--race", race, *ARGS])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["model"] == "pce"
    assert abs(100 * body["risk_10y"] - percent) <= 0.1
    assert body["warnings"] == []


def test_cli_framingham_and_bad_input() -> None:
    """Framingham through the CLI; bad values exit 2 with a message naming the option."""
    runner = CliRunner()
    args = [a if a != "120" else "140" for a in ARGS]
    result = runner.invoke(app, ["risk", "--model", "framingham", "--sex", "male", *args])
    assert result.exit_code == 0 and json.loads(result.output)["risk_10y"] == pytest.approx(0.135, abs=0.001)
    bad = runner.invoke(app, ["risk", "--sex", "male", *[a if a != "120" else "400" for a in ARGS]])
    assert bad.exit_code == 2 and "--sbp" in json.loads(bad.output)["error"]
    bad = runner.invoke(
        app,
        ["risk", "--sex", "male", *[a if a != "yes" else "maybe" for a in ARGS[:-1]], "--smoker", "maybe", "--json"],
    )
    assert bad.exit_code == 2 and "--smoker must be yes or no" in json.loads(bad.output)["error"]
    bad = runner.invoke(app, ["risk", "--model", "qrisk", "--sex", "male", *ARGS])
    assert bad.exit_code == 2 and "--model" in json.loads(bad.output)["error"]
