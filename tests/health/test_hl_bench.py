"""The benchmark at a small size (the full 450,000-patient run is for people, not for the test suite)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from consortia.apps.health.cli import app


def test_bench_small(tmp_path: Path) -> None:
    """300 patients: every reading ingested and anchored, every patient scored; the figures are reported."""
    result = CliRunner().invoke(
        app, ["bench", "--patients", "300", "--batch", "500", "--data", str(tmp_path / "b"), "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["patients"] == 300 and figures["readings"] == 1800
    assert figures["anchor_transactions"] == 4  # ceil(1800 / 500)
    for key in ("ingest_seconds", "readings_per_second", "scoring_seconds", "patients_scored_per_second"):
        assert key in figures  # the figures themselves depend on the machine
    assert 0 < figures["mean_risk_pce"] < 1 and figures["model"].startswith("fhs-chd10")
    busy = CliRunner().invoke(app, ["bench", "--patients", "10", "--data", str(tmp_path / "b"), "--json"])
    assert busy.exit_code == 2 and "not empty" in json.loads(busy.output)["error"]
