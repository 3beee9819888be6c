"""Lots, GS1 keys and Digital Links, trace back and forward, and the FSMA 204 spreadsheet."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.cli import app as cli
from consortia.apps.coldchain.demo import scenario
from consortia.apps.coldchain.domain import gs1
from consortia.ledger.config import BatchConfig
from consortia.network.embedded import EmbeddedNetwork

runner = CliRunner()
START = 1709560800000  # 2024-03-04 23:00 KST: the boat leaves


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, scenario.Scenario]]:
    """A closed cold-chain network holding the whole Busan scenario (3 landing lots → 5 retail lots)."""
    folder = tmp_path_factory.mktemp("lots") / "data"
    plan = scenario.build(lots=3, start_ms=START)
    network = EmbeddedNetwork.create(folder, consortium.network_spec(BatchConfig(max_transactions=200, timeout_ms=20)))
    try:
        consortium.deploy(network)
        scenario.record(network, plan)
    finally:
        network.close()
    yield folder, plan


def test_gtin_check_digits() -> None:
    assert gs1.check_digit("400638133393") == 1
    assert gs1.gtin14("4006381333931") == "04006381333931"
    assert gs1.is_valid_gtin("09506000134352")
    assert not gs1.is_valid_gtin("09506000134353")
    with pytest.raises(gs1.GS1Error, match="check digit 3, expected 2"):
        gs1.gtin14("09506000134353")
    with pytest.raises(gs1.GS1Error, match="digits"):
        gs1.gtin14("950600013435x")
    with pytest.raises(gs1.GS1Error, match="character set 82"):
        gs1.LotId("09506000134352", "A B")


def test_digital_links_and_lots() -> None:
    lot = gs1.LotId("9506000134352", "ABC/1-2")
    assert lot.gtin == "09506000134352"
    assert lot.digital_link("https://fish.example.kr/") == "https://fish.example.kr/01/09506000134352/10/ABC%2F1-2"
    for spelling in (
        lot.digital_link("https://resolver.example"),
        "https://id.gs1.org/gtin/9506000134352/lot/ABC%2F1-2?linkType=all",
        "09506000134352/ABC/1-2",
    ):
        assert gs1.LotId.parse(spelling) == lot
    assert gs1.LotId.parse("urn:epc:class:lgtin:4012345.012345.998877") == gs1.LotId("04012345123456", "998877")
    assert gs1.canonical_id("urn:epc:class:lgtin:4012345.012345.998877") == (
        "https://id.gs1.org/01/04012345123456/10/998877"
    )
    assert gs1.canonical_id("https://example.com/01/04012345123456/10/L1/21/S9") == (
        "https://id.gs1.org/01/04012345123456/21/S9"  # only the finest level of identification
    )
    for bad, words in (
        ("https://x.example/01/09506000134353/10/A", "check digit"),
        ("https://x.example/01/09506000134352", "no lot"),
        ("https://x.example/10/A", "no GTIN"),
        ("09506000134352/" + "L" * 21, "1 to 20 characters"),
        ("nonsense", "not a lot"),
    ):
        with pytest.raises(gs1.GS1Error, match=words):
            gs1.LotId.parse(bad)


def _trace(folder: Path, lot: str, direction: str) -> dict:
    result = runner.invoke(cli, ["trace", lot, "--direction", direction, "--data", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_trace_back_from_a_retail_lot_reaches_its_landing_lot(recorded) -> None:
    folder, plan = recorded
    retail = next(lot for lot in plan.retail_lots if lot.lot.startswith("FL") and lot.lot.endswith("02A"))
    traced = _trace(folder, retail.digital_link("https://fish.example.kr"), "back")
    assert traced["ends"] == [plan.landing_lots[1].key]
    assert traced["ends_uris"] == [plan.landing_lots[1].canonical]
    (edge,) = traced["edges"]
    assert (edge["from"], edge["to"]) == (plan.landing_lots[1].key, retail.key)
    assert "first_land_based_receiving" in traced["summaries"][plan.landing_lots[1].key]["ctes"]


def test_trace_forward_from_a_landing_lot_finds_every_retail_lot(recorded) -> None:
    folder, plan = recorded
    for landing in plan.landing_lots:
        traced = _trace(folder, landing.canonical, "forward")
        made = {lot.key for lot in plan.retail_lots if lot.lot.split("-")[1][:2] == landing.lot.split("-")[1]}
        assert set(traced["ends"]) == made and made
        assert all(traced["summaries"][x]["last_cte"] == "retail_sale" for x in made)


def test_trace_refuses_bad_lots(recorded) -> None:
    folder, _ = recorded
    bad = runner.invoke(cli, ["trace", "https://x.example/01/09506000134353/10/A", "--data", str(folder), "--json"])
    assert bad.exit_code == 2 and "check digit" in json.loads(bad.output)["error"]
    unknown = runner.invoke(cli, ["trace", "09506000134352/NOPE", "--data", str(folder), "--json"])
    assert unknown.exit_code == 1 and "not on the ledger" in json.loads(unknown.output)["error"]
    direction = runner.invoke(cli, ["trace", "09506000134352/A", "--direction", "up", "--data", str(folder)])
    assert direction.exit_code == 2


def test_lots_know_where_they_are(recorded) -> None:
    folder, plan = recorded
    network = EmbeddedNetwork(folder)
    try:
        contract = network.gateway(consortium.RETAILER).network(consortium.CHANNEL).contract(consortium.CONTRACT)
        lots = {row["lot"]: row for row in contract.evaluate("lots")}
        assert set(lots) == {x.key for x in plan.landing_lots + plan.retail_lots}
        assert lots[plan.excursion_lot.key]["inspection"]["disposition"] == "conformant"
        journey = contract.evaluate("lot_journey", plan.retail_lots[0].canonical)
        ctes = [event["cte"] for event in journey["events"]]
        assert ctes[0] == "first_land_based_receiving" and "transformation" in ctes and ctes[-1] == "retail_sale"
        assert journey["events"][0]["kdes"]["catch_area"] == "61"
        assert "vessel_id" not in journey["events"][0]["kdes"]  # consumers see the vessel's name, not its id
    finally:
        network.close()


def test_fsma204_spreadsheets(recorded, tmp_path: Path) -> None:
    folder, plan = recorded
    out = tmp_path / "fsma.csv"
    result = runner.invoke(
        cli, ["fsma204", "--from", "2024-03-05", "--to", "2024-03-06", "--out", str(out), "--data", str(folder)]
    )
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    landing = [r for r in rows if r["Critical Tracking Event"].startswith("Landing")]
    assert len(landing) == len(plan.landing_lots)
    first = landing[0]
    assert first["Traceability Lot Code"] == f"(01){plan.landing_lots[0].gtin}(10){plan.landing_lots[0].lot}"
    assert (first["Species (scientific name)"], first["Harvest Area (FAO major fishing area)"]) == (
        "Scomber japonicus",
        "61",
    )
    assert first["Vessel Name"].startswith("Daehyeon") and first["Landing Place"].startswith("Busan Cooperative")
    transformed = [r for r in rows if r["Critical Tracking Event"].startswith("Transformation")]
    assert len(transformed) == len(plan.retail_lots)
    assert all(r["Input Traceability Lot Codes"].startswith("(01)") for r in transformed)
    retail = next(r for r in transformed if r["Traceability Lot Code"].endswith("02A"))
    assert retail["Species (scientific name)"] == "Scomber japonicus"  # joined through the trace to the landing
    keys = [(r["Event Date"], r["Event Time"], r["Traceability Lot Code"]) for r in rows]
    assert keys == sorted(keys)
    shipped = [r for r in rows if r["Critical Tracking Event"] == "Shipping"]
    assert shipped and all(r["Reference Document Number"] for r in shipped)
    xlsx = tmp_path / "fsma.xlsx"
    result = runner.invoke(
        cli, ["fsma204", "--from", "2024-03-05", "--to", "2024-03-06", "--out", str(xlsx), "--data", str(folder)]
    )
    assert result.exit_code == 0, result.output
    from openpyxl import load_workbook

    sheet = load_workbook(xlsx).active
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    assert sheet.max_row == len(rows) + 1
    assert [c.value for c in sheet[1]][:2] == ["Critical Tracking Event", "Traceability Lot Code"]
    empty = tmp_path / "none.csv"
    result = runner.invoke(
        cli, ["fsma204", "--from", "2020-01-01", "--to", "2020-01-02", "--out", str(empty), "--data", str(folder)]
    )
    assert result.exit_code == 0 and len(empty.read_text(encoding="utf-8-sig").splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--from", "2024-03-06", "--to", "2024-03-05", "--out", "x.csv"],
        ["--from", "March", "--to", "2024-03-05", "--out", "x.csv"],
        ["--from", "2024-03-05", "--to", "2024-03-06", "--out", "x.pdf"],
    ],
    ids=["reversed", "bad-date", "bad-format"],
)
def test_fsma204_refuses_bad_arguments(args: list[str]) -> None:
    result = runner.invoke(cli, ["fsma204", *args, "--data", "/nonexistent"])
    assert result.exit_code == 2
