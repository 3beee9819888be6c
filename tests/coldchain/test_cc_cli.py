"""The command line: init, QR codes, simulate and ingest through Mosquitto with a persistent session,
reading proofs, and the benchmark (figures only)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortia.apps.coldchain.cli import app as cli
from consortia.apps.coldchain.domain import gs1
from consortia.apps.coldchain.service import bench, broker
from consortia.apps.coldchain.web import qrcode

runner = CliRunner()


def test_qr_codes(tmp_path: Path) -> None:
    lot = "https://fish.example.kr/01/08805678001012/10/FL240305-01A"
    for name in ("lot.svg", "lot.png"):
        result = runner.invoke(cli, ["qr", lot, "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        assert (tmp_path / name).stat().st_size > 200
    assert (tmp_path / "lot.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "lot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert qrcode.payload(lot) == lot  # the lot's own resolver
    assert qrcode.payload("08805678001012/FL240305-01A") == gs1.LotId.parse(lot).canonical
    bad = runner.invoke(cli, ["qr", "https://x.example/01/09506000134353/10/A", "--out", str(tmp_path / "x.svg")])
    assert bad.exit_code == 2 and "check digit" in bad.output
    assert runner.invoke(cli, ["qr", lot, "--out", str(tmp_path / "x.gif")]).exit_code == 2


def test_init_refuses_an_existing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "cc"
    assert runner.invoke(cli, ["init", "--data", str(folder)]).exit_code == 0
    again = runner.invoke(cli, ["init", "--data", str(folder)])
    assert again.exit_code == 1
    missing = runner.invoke(cli, ["import-epcis", "/dev/null", "--data", str(tmp_path / "none"), "--json"])
    assert missing.exit_code == 1


@pytest.mark.skipif(
    broker.mosquitto_binary() is None and os.environ.get("CI") != "true", reason="Mosquitto is not installed"
)
def test_simulate_then_ingest_from_a_persistent_session(cc_folder: Path) -> None:
    with broker.start_mosquitto() as mqtt:
        where = f"{mqtt.host}:{mqtt.port}"
        first = runner.invoke(
            cli, ["ingest", "--broker", where, "--data", str(cc_folder), "--seconds", "0.2", "--json"]
        )
        assert first.exit_code == 0, first.output  # subscribed once: the broker now keeps our messages
        args = ["simulate", "--lots", "1", "--devices", "4", "--hours", "6", "--rate", "1", "--broker", where]
        published = runner.invoke(cli, [*args, "--register", "--data", str(cc_folder), "--json"])
        assert published.exit_code == 0, published.output
        sent = json.loads(published.output)
        second = runner.invoke(cli, ["ingest", "--broker", where, "--data", str(cc_folder), "--seconds", "2", "--json"])
        assert second.exit_code == 0, second.output
        counters = json.loads(second.output[second.output.index("{") :])  # after the stderr note
    assert counters["received"] == sent["published"]
    assert counters["stored"] == sent["readings"] == counters["readings_anchored"]
    assert counters["duplicates"] == sent["duplicates"]
    proof = runner.invoke(cli, ["reading-proof", "LG-002", "3", "--data", str(cc_folder), "--json"])
    assert proof.exit_code == 0, proof.output
    document = json.loads(proof.output)
    assert document["verified"] is True and document["reading"]["seq"] == 3
    unknown = runner.invoke(cli, ["reading-proof", "LG-002", "999999", "--data", str(cc_folder), "--json"])
    assert unknown.exit_code == 1 and "no reading" in json.loads(unknown.output)["error"]
    bad_broker = runner.invoke(cli, ["simulate", "--broker", "nowhere:port"])
    assert bad_broker.exit_code == 2


def test_bench_runs_and_prints_figures(tmp_path: Path) -> None:
    figures = bench.run(readings=3000, devices=10, events=40, per_document=20, mqtt=False, folder=tmp_path)
    assert figures["sensor_ingest"]["anchored"] == figures["sensor_ingest"]["stored"] == 3000
    assert figures["epcis_capture"]["events"] == 40
    assert figures["sensor_ingest"]["ingested_and_anchored_per_s"] > 0
