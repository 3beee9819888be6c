"""``consortia tradefinance …``: the JSON shapes, and bad files refused whole with the row and field named.

``register-docs`` runs against a data folder holding the consortium (the plug-in's organisations and channel,
the contract deployed); ``check-duplicates`` is offline; ``bench`` at N = 100,000 checks the JSON shape and that
every looked-up present key is found (never the times).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortia.apps.tradefinance import consortium
from consortia.apps.tradefinance.cli import app
from consortia.apps.tradefinance.consortium import CHANNEL, CONTRACT
from consortia.apps.tradefinance.domain.csvrows import COLUMNS
from consortia.apps.tradefinance.domain.synthetic import generate_batch
from consortia.ledger.config import BatchConfig
from consortia.network.embedded import EmbeddedNetwork

SELLER = "91440300MA5F1ABC02"


def line(bank: str, number: str, *, seller: str = SELLER, currency: str = "CNY", amount: str = "1000") -> str:
    """One invoice row of the CSV format."""
    parties = f"{seller},深圳甲贸易有限公司,12345678,Harbour Trading Ltd"
    return f"{bank},invoice,{number},{parties},2026-11-02,{amount},{currency},,,"


def write(folder: Path, name: str, *lines: str) -> Path:
    """A CSV file with the header and ``lines``."""
    path = folder / name
    path.write_text("\n".join([",".join(COLUMNS), *lines]) + "\n", encoding="utf-8")
    return path


def invoke(*args: str) -> tuple[int, dict]:
    """Run the command; its exit code and JSON output."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data folder holding the consortium, the contract deployed (closed again: the command opens it)."""
    folder = tmp_path_factory.mktemp("tf-cli") / "data"
    network = EmbeddedNetwork.create(folder, consortium.network_spec(BatchConfig(max_transactions=200, timeout_ms=20)))
    try:
        consortium.deploy(network)
    finally:
        network.close()
    yield folder


def registered(folder: Path) -> int:
    """How many registrations the ledger holds (public ``doc:`` records at a bank's peer)."""
    with EmbeddedNetwork(folder) as network:
        state = network.peer(consortium.SHENZHEN).channel(CHANNEL).ledger.state
        return len(state.range(CONTRACT, "doc:", "doc;"))


def test_register_docs_answers_one_status_per_row(data: Path, tmp_path: Path) -> None:
    sz = write(tmp_path, "sz.csv", line("ShenzhenBank", "CLI-0001"), line("ShenzhenBank", "CLI-0002", amount="2000"))
    code, out = invoke("register-docs", str(sz), "--bank", "ShenzhenBank", "--data", str(data), "--json")
    assert code == 0, out
    assert out["ok"] is True and out["rows"] == 2
    assert [(r["row"], r["status"]) for r in out["results"]] == [(1, "REGU"), (2, "REGU")]
    assert all(set(r) == {"row", "status", "doc_ref", "similar", "tx_id"} for r in out["results"])
    copy = write(tmp_path, "hk.csv", line("HongKongBank", "cli 0001", amount="１０００.0"))
    code, out = invoke("register-docs", str(copy), "--bank", "HongKongBank", "--data", str(data), "--json")
    assert code == 0 and out["results"][0]["status"] == "REDU"


@pytest.mark.parametrize(
    ("bad", "row", "field"),
    [
        (line("ShenzhenBank", "BAD-1", seller="91440300MA5F1ABC03"), 2, "seller_id"),
        (line("ShenzhenBank", "BAD-2", currency="XYZ"), 2, "currency"),
        ("ShenzhenBank,invoice,BAD-3,only,four", 2, None),
    ],
    ids=["invalid-uscc", "unknown-currency", "malformed-row"],
)
def test_a_bad_file_is_refused_whole_naming_row_and_field(
    data: Path, tmp_path: Path, bad: str, row: int, field: str | None
) -> None:
    before = registered(data)
    path = write(tmp_path, "bad.csv", line("ShenzhenBank", "GOOD-BEFORE-BAD"), bad)
    code, out = invoke("register-docs", str(path), "--bank", "ShenzhenBank", "--data", str(data), "--json")
    assert code == 2
    assert out["ok"] is False and out["row"] == row and out["registered"] == 0
    if field is not None:
        assert out["field"] == field and field in out["error"]
    assert f"row {row}" in out["error"]
    assert registered(data) == before


def test_a_row_of_another_bank_is_refused_whole(data: Path, tmp_path: Path) -> None:
    path = write(tmp_path, "mixed.csv", line("ShenzhenBank", "MIX-1"), line("MacauBank", "MIX-2"))
    code, out = invoke("register-docs", str(path), "--bank", "ShenzhenBank", "--data", str(data), "--json")
    assert code == 2 and out["row"] == 2 and out["field"] == "bank"


def test_check_duplicates_groups_a_generated_batch(tmp_path: Path) -> None:
    batch = generate_batch(11, 120, list(consortium.BANKS))
    path = tmp_path / "batch.csv"
    path.write_text(batch.csv_text, encoding="utf-8")
    code, out = invoke("check-duplicates", str(path), "--json")
    assert code == 0 and out["rows"] == 120
    assert all(
        set(g) == {"rows", "kind", "reasons"} and g["kind"] in ("duplicate", "suspicious") for g in out["groups"]
    )
    duplicates = {frozenset(g["rows"]) for g in out["groups"] if g["kind"] == "duplicate"}
    assert duplicates == set(batch.truth_duplicates)


def test_check_duplicates_of_a_bad_file_names_row_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.csv", line("ShenzhenBank", "X-1"), line("MacauBank", "X-2", currency="ZZZ"))
    code, out = invoke("check-duplicates", str(path), "--json")
    assert code == 2 and out["row"] == 2 and out["field"] == "currency"


def test_bench_shape_and_every_present_key_found() -> None:
    code, out = invoke("bench", "--fingerprints", "100000", "--json")
    assert code == 0, out
    assert {"fingerprints", "lookup_p50_ms", "lookup_p99_ms", "registrations_per_s"} <= set(out)
    assert out["fingerprints"] == 100_000
    assert out["found"] == out["looked_up_present"] > 0 and out["false_hits"] == 0
    assert all(isinstance(out[k], float) and out[k] >= 0 for k in ("lookup_p50_ms", "lookup_p99_ms"))
    assert out["registrations_per_s"] > 0


def test_register_docs_through_the_node_while_it_serves_the_folder(data: Path, tmp_path: Path) -> None:
    from consortia.gateway.server.app import create_app
    from servers import Server

    network = EmbeddedNetwork(data)
    server = Server(create_app(network)).start()
    try:
        path = write(tmp_path, "served.csv", line("MacauBank", "SERVED-0001", amount="777"))
        code, out = invoke(
            "register-docs", str(path), "--bank", "MacauBank", "--data", str(data), "--server", server.url, "--json"
        )
        assert code == 0, out
        assert out["results"][0]["status"] == "REGU" and len(out["results"][0]["tx_id"]) == 64
        copy = write(tmp_path, "served-copy.csv", line("ZhuhaiBank", "served 1", amount="777.00"))
        code, out = invoke(
            "register-docs", str(copy), "--bank", "ZhuhaiBank", "--data", str(data), "--server", server.url, "--json"
        )
        assert code == 0 and out["results"][0]["status"] == "REDU"
    finally:
        server.stop()
        network.close()
        server.join()
