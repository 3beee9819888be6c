"""``consortia aml scan | evaluate | bench`` through the Typer app: summaries, the alerts file, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortia.apps.aml.cli import ALERT_COLUMNS, app
from consortia.apps.aml.domain.generator import GeneratorConfig, generate, to_amlsim_csv, to_native_csv

runner = CliRunner()
SMALL = GeneratorConfig(seed=4, people=300, days=80, warmup_days=30, patterns_per_typology=2)


@pytest.fixture(scope="module")
def amlsim_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("aml") / "transactions.csv"
    path.write_text(to_amlsim_csv(generate(SMALL)))
    return path


def _alerts(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_scan_writes_alerts_and_a_json_summary(amlsim_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "alerts.csv"
    result = runner.invoke(app, ["scan", str(amlsim_file), "--format", "amlsim", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary) == {"transactions", "alerts", "seconds", "tx_per_s"}
    assert summary["transactions"] == generate(SMALL).frame.height
    rows = _alerts(out)
    assert len(rows) == summary["alerts"] > 0
    assert tuple(rows[0]) == ALERT_COLUMNS
    for row in rows:
        assert row["accounts"] and row["tx_ids"] and row["rule_hits"]
        assert all(":" in hit for hit in row["rule_hits"].split(";"))
    assert [p.name for p in tmp_path.iterdir()] == ["alerts.csv"]  # no temporary file left behind


def test_scan_never_reads_the_labels(amlsim_file: Path, tmp_path: Path) -> None:
    lines = amlsim_file.read_text().splitlines()
    blind = tmp_path / "blind.csv"
    # Shuffle the answer columns: every transaction claims to be laundering, in a made-up alert.
    blind.write_text("\n".join([lines[0]] + [",".join([*line.split(",")[:-2], "true", "999"]) for line in lines[1:]]))
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    assert runner.invoke(app, ["scan", str(amlsim_file), "--out", str(first), "--json"]).exit_code == 0
    assert runner.invoke(app, ["scan", str(blind), "--out", str(second), "--json"]).exit_code == 0
    assert first.read_text() == second.read_text()


def test_native_format_gives_the_same_alerts(tmp_path: Path, amlsim_file: Path) -> None:
    native = tmp_path / "native.csv"
    native.write_text(to_native_csv(generate(SMALL)))
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert runner.invoke(app, ["scan", str(amlsim_file), "--format", "amlsim", "--out", str(a)]).exit_code == 0
    result = runner.invoke(app, ["scan", str(native), "--format", "native", "--out", str(b)])
    assert result.exit_code == 0, result.output
    assert a.read_text() == b.read_text()


HEADER = "tran_id,orig_acct,bene_acct,tx_type,base_amt,tran_timestamp,is_sar,alert_id"
GOOD = "1,A,B,TRANSFER,100.00,2026-03-02T15:00:00Z,false,-1"
GOOD2 = "9,A,B,TRANSFER,100.00,2026-03-02T15:00:00Z,false,-1"


@pytest.mark.parametrize(
    ("text", "row", "column"),
    [
        ("tran_id,orig_acct,tx_type,base_amt,tran_timestamp\n1,A,TRANSFER,1.00,2026-03-02T15:00:00Z\n", 0, "bene_acct"),
        (f"{HEADER}\n{GOOD}\n2,A,B,TRANSFER,125O,2026-03-02T15:00:00Z,false,-1\n", 2, "base_amt"),
        (f"{HEADER}\n{GOOD}\n2,A,B,TRANSFER,12,50,2026-03-02T15:00:00Z,false,-1\n", 2, "*"),
        (f"{HEADER}\n{GOOD}\n{GOOD2}\n3,A,B,TRANSFER,abc,2026-03-02T15:00:00Z,false,-1\n", 3, "base_amt"),
        (f"{HEADER}\n{GOOD}\n2,A,B,TRANSFER,10.00,03/02/2026 3pm,false,-1\n", 2, "tran_timestamp"),
        (f"{HEADER}\n2,A,,TRANSFER,10.00,2026-03-02T15:00:00Z,false,-1\n", 1, "bene_acct"),
        (f"{HEADER}\n{GOOD}\n2,A,B,TRANSFER,1.00,2026-03-02T15:00:00Z,false,-1\n{GOOD}\n", 3, "tran_id"),
    ],
)
def test_bad_input_names_row_and_column_and_writes_nothing(text: str, row: int, column: str, tmp_path: Path) -> None:
    source, out = tmp_path / "bad.csv", tmp_path / "alerts.csv"
    source.write_text(text)
    result = runner.invoke(app, ["scan", str(source), "--out", str(out), "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)
    assert error["ok"] is False
    assert (error["row"], error["column"]) == (row, column)
    assert f"'{column}'" in error["error"]
    assert ("header" in error["error"]) if row == 0 else (f"row {row}" in error["error"])
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.csv"]


def test_bad_input_keeps_an_existing_alerts_file(tmp_path: Path) -> None:
    source, out = tmp_path / "bad.csv", tmp_path / "alerts.csv"
    source.write_text(f"{HEADER}\n1,A,B,TRANSFER,-5,2026-03-02T15:00:00Z,false,-1\n")
    out.write_text("previous alerts\n")
    result = runner.invoke(app, ["scan", str(source), "--out", str(out)])
    assert result.exit_code == 2
    assert "row 1" in result.output and "base_amt" in result.output
    assert out.read_text() == "previous alerts\n"


def test_unknown_format_is_bad_usage(amlsim_file: Path) -> None:
    result = runner.invoke(app, ["scan", str(amlsim_file), "--format", "xlsx", "--json"])
    assert result.exit_code == 2
    assert "amlsim" in json.loads(result.stdout)["error"]


def test_evaluate_and_bench_report_their_figures() -> None:
    result = runner.invoke(app, ["evaluate", "--seed", "8", "--people", "300", "--days", "90", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["untuned_seed"] is True
    assert {"recall", "precision", "meets_target"} <= set(report["overall"])
    assert "structuring" in report["recall_by_planted_typology"]
    result = runner.invoke(app, ["bench", "--people", "100", "--days", "70", "--stream", "2000", "--json"])
    assert result.exit_code == 0, result.output
    bench = json.loads(result.stdout)
    assert bench["batch"]["tx_per_s"] > 0
    assert bench["streaming"]["transactions"] == 2000
    assert 0 < bench["streaming"]["p50_ms"] <= bench["streaming"]["p99_ms"]


def test_native_timestamps_need_a_zone(tmp_path: Path) -> None:
    header = "tx_id,timestamp,orig_account,bene_account,amount,currency,tx_type,orig_country,bene_country"
    good = "t1,2026-03-02T10:00:00-05:00,A,B,10.00,USD,wire,US,US"
    source = tmp_path / "native.csv"
    source.write_text(f"{header}\n{good}\nt2,2026-03-02T10:00:00,A,B,10.00,USD,wire,US,US\n")
    result = runner.invoke(app, ["scan", str(source), "--format", "native", "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)
    assert (error["row"], error["column"]) == (2, "timestamp")
    assert "offset" in error["error"]
    source.write_text(f"{header}\n{good}\n")
    result = runner.invoke(app, ["scan", str(source), "--format", "native", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["transactions"] == 1
