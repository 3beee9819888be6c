"""Commands on a folder a running node serves (issue 11, item 2): every ``consortia coldchain`` command the demo's
summary prints works while the demo serves; without ``--server``, a command that reads the folder says in one
line what to run instead (exit 2, no traceback)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.domain import gs1
from consortia.cli.common import folder_served as served
from consortia.cli.main import app as consortia_cli
from consortia.gateway.server.app import create_app
from servers import Server

from .cc_support import DEMO_SUMMARY, epcis_documents, settle

runner = CliRunner()


@pytest.fixture(scope="module")
def serving(demo_network) -> Iterator[str]:
    """The demo folder served by a gateway on a loopback port (the node holds the folder while it runs)."""
    settle(demo_network)
    server = Server(create_app(demo_network)).start()
    try:
        yield server.url
    finally:
        server.close()


def _summary_commands(base: str) -> list[list[str]]:
    commands = []
    for line in DEMO_SUMMARY:
        text = line.strip()
        if text.startswith("consortia coldchain "):
            commands.append(shlex.split(text.replace("{base}", base))[1:])
    return commands


def test_every_command_the_summary_prints_works_while_the_demo_serves(
    demo_network, serving, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert served(Path(demo_network.directory))
    monkeypatch.chdir(tmp_path)
    commands = _summary_commands(serving)
    assert {c[1] for c in commands} >= {"trace", "fsma204"}, DEMO_SUMMARY
    for command in commands:
        result = runner.invoke(consortia_cli, command)
        assert result.exit_code == 0, (command, result.output)
        assert "Traceback" not in result.output
    assert (tmp_path / "fsma204.xlsx").stat().st_size > 1000


def test_trace_through_the_node_agrees_with_the_ledger(demo_network, serving) -> None:
    contract = demo_network.gateway(consortium.RETAILER).network(consortium.CHANNEL).contract(consortium.CONTRACT)
    retail = next(r["lot"] for r in contract.evaluate("lots") if r["lot"].split("/")[1][:2] == "FL")
    expected = contract.evaluate("trace", retail, "back")
    folder = str(demo_network.directory)
    lot = gs1.LotId.from_key(retail).canonical
    # --server on the command, and the platform's global --server, alike
    for argv in (
        ["coldchain", "trace", lot, "--server", serving, "--data", folder, "--json"],
        ["--server", serving, "coldchain", "trace", lot, "--data", folder, "--json"],
    ):
        result = runner.invoke(consortia_cli, argv)
        assert result.exit_code == 0, result.output
        assert '"ends"' in result.output and all(x in result.output for x in expected["lots"])


@pytest.mark.parametrize(
    "argv",
    [
        ["trace", "{lot}", "--direction", "back"],
        ["fsma204", "--from", "2026-01-01", "--to", "2026-01-02", "--out", "{tmp}/f.csv"],
        ["ingest", "--seconds", "1"],
        ["import-epcis", "{document}"],
    ],
    ids=["trace", "fsma204", "ingest", "import-epcis"],
)
def test_without_server_a_served_folder_is_refused_in_one_line(demo_network, serving, tmp_path, argv) -> None:
    values = {"{tmp}": str(tmp_path), "{lot}": "08801234000116/MK1", "{document}": str(epcis_documents()[0])}
    for key, value in values.items():
        argv = [a.replace(key, value) for a in argv]
    result = runner.invoke(consortia_cli, ["coldchain", *argv, "--data", str(demo_network.directory)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "in use by a running node" in lines[0], result.output
    assert ("--server" in lines[0]) == (argv[0] in ("trace", "fsma204", "import-epcis")), lines[0]
    assert "Traceback" not in result.output


def test_a_reading_proof_is_read_beside_the_running_node(demo_network, serving) -> None:
    """reading-proof needs the folder's ledger itself: it reads a member peer's copy read-only, and verifies."""
    folder = str(demo_network.directory)
    result = runner.invoke(consortia_cli, ["coldchain", "reading-proof", "LG-001", "1", "--data", folder, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["verified"] and all(step["ok"] for step in document["verification"])
    missing = runner.invoke(consortia_cli, ["coldchain", "reading-proof", "LG-001", "999999999", "--data", folder])
    assert missing.exit_code == 1 and "no reading" in missing.output and "Traceback" not in missing.output
