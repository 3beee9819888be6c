"""``consortia aml cases | sar | ctr``: the bank's cases and filings from the ledger, as separate processes.

A small AML network (both exchanges approved, structuring at Summit's account, a case decided SAR and filed, a case
decided SAR and not filed, a case closed without SAR, a CTR) is first read with the folder closed: the cases list
has the JSON shape ``[{"id", "status", "decision", "accounts"}…]``, ``sar`` writes the filed XML (or, for a case
decided and not filed, the report as it would be filed), validated against FinCEN's XSD; bad input gets one line
and nothing is written. Then the gateway serves the folder (tests/servers.py, holding its ledgers): without
``--server`` each command says in one line what to run instead (exit 2); with ``--server`` the same answers come
through the running node, signed by the bank's program.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from consortia.apps.aml import consortium as c
from consortia.apps.aml.domain.cases import BANK_ZONE, bank_date
from consortia.apps.aml.domain.filings import filing_hash
from consortia.apps.aml.domain.onboarding import (
    BeneficialOwner,
    EddReview,
    ExchangeRecord,
    RiskFactor,
    RiskRating,
    StateLicence,
)
from consortia.apps.aml.domain.transactions import Transaction
from consortia.apps.aml.service.aml import AmlService
from consortia.gateway.server.app import create_app
from consortia.ledger.config import BatchConfig
from consortia.network.embedded import EmbeddedNetwork
from servers import Server

FINCEN = Path(__file__).resolve().parents[2].parent / "shared" / "testvectors" / "fincen"
AML = os.environ.get(
    "AML_CLI_COMMAND", f"{sys.executable} -c 'from consortia.apps.aml.cli import app; app(prog_name=\"consortia aml\")'"
)
"""How the ``consortia aml`` commands are started (``consortia aml`` itself once the entry point is installed)."""

NOW = datetime.now(UTC)
DAY = next(d for d in (NOW - timedelta(days=n) for n in range(3, 10)) if d.astimezone(BANK_ZONE).weekday() < 5).replace(
    hour=14, minute=0, second=0, microsecond=0
)


def record(exchange: str) -> ExchangeRecord:
    return ExchangeRecord(
        exchange_id=exchange,
        legal_name=c.DISPLAY[exchange],
        ein="36-4187290",
        msb_registration="31000187654321",
        states_served=("NY",),
        licences=(StateLicence("NY", "BL-1", date(2024, 1, 1)),),
        owners=(BeneficialOwner("Dana Whitfield", Decimal("60"), control=True),),
        risk_factors=(RiskFactor("business", RiskRating.HIGH, "virtual currency exchange"),),
        reviews=(EddReview(NOW.date() - timedelta(days=20), "AtlanticBank/analyst", RiskRating.HIGH, "visit"),),
    )


@dataclass(frozen=True)
class Folder:
    path: Path
    filed: str
    filed_hash: str
    decided: str
    closed: str
    accounts: dict[str, tuple[str, ...]]
    ctr_hash: str


def build(folder: Path) -> tuple[EmbeddedNetwork, Folder]:
    network = EmbeddedNetwork.create(folder, c.network_spec(BatchConfig(max_transactions=100, timeout_ms=15)))
    c.deploy(network)
    analyst = AmlService.as_user(network, c.BANK, c.ANALYST_USER, c.DEMO_PASSWORD)
    officer = AmlService.as_user(network, c.BANK, c.BSA_OFFICER_USER, c.DEMO_PASSWORD)
    core = AmlService.as_user(network, c.BANK)
    for exchange, accounts in ((c.BLUE_RIVER, ["BRX-1", "BRX-2"]), (c.SUMMIT, ["SMT-1", "SMT-2"])):
        view = analyst.submit_onboarding(record(exchange))
        analyst.approve_onboarding(exchange, view.record_hash)
        officer.approve_onboarding(exchange, view.record_hash)
        core.open_accounts(exchange, accounts)
    posted = []
    for account in ("SMT-1", "BRX-1", "BRX-2"):
        posted += core.post_transactions(
            [
                Transaction(
                    f"{account}-D{n}",
                    DAY + timedelta(minutes=n),
                    "CASH",
                    account,
                    Decimal("9700.00"),
                    "USD",
                    "cash_deposit",
                    "US",
                    "US",
                )
                for n in range(3)
            ]
        )
    alerts = {a.accounts[0]: a for r in posted for a in r.alerts if a.typology == "structuring"}
    cases = {}
    for account in ("SMT-1", "BRX-1", "BRX-2"):
        case = analyst.open_case([alerts[account].alert_id])
        officer.case_step(case.case_id, {"event": "assign", "assignee": f"{c.BANK}/{c.ANALYST_USER}"})
        decision = "no_sar" if account == "BRX-2" else "sar"
        officer.case_step(case.case_id, {"event": "decide", "decision": decision, "reasons": ["cash under $10,000"]})
        cases[account] = case.case_id
    filed = officer.file_sar(cases["SMT-1"])
    ctr = core.ctr("SMT-1", bank_date(DAY))
    accounts = {cases[a]: (a,) for a in cases}
    return network, Folder(folder, cases["SMT-1"], filed.hash, cases["BRX-1"], cases["BRX-2"], accounts, ctr.hash)


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """One ``consortia aml`` command in its own process."""
    env = {**os.environ, "COLUMNS": "300", "NO_COLOR": "1"}
    command = f"{AML} " + " ".join(f"'{a}'" for a in args)
    return subprocess.run(command, shell=True, capture_output=True, text=True, env=env, timeout=300, cwd=cwd)


def answer(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Folder:
    """The folder, its network closed (a command opens it itself)."""
    network, folder = build(tmp_path_factory.mktemp("aml-cli") / "net")
    network.close()
    return folder


def test_cases_json_has_the_documented_shape(closed: Folder) -> None:
    rows = answer(run("cases", "--data", str(closed.path), "--json"))
    assert [sorted(r) for r in rows] == [["accounts", "decision", "id", "status"]] * 3
    by_id = {r["id"]: r for r in rows}
    assert by_id[closed.filed] == {"id": closed.filed, "status": "filed", "decision": "sar", "accounts": ["SMT-1"]}
    assert by_id[closed.decided]["status"] == "sar_decided" and by_id[closed.decided]["decision"] == "sar"
    assert by_id[closed.closed]["status"] == "closed_no_sar" and by_id[closed.closed]["decision"] == "no_sar"


def test_sar_writes_the_filed_xml_validated(closed: Folder, tmp_path: Path) -> None:
    out = tmp_path / "sar.xml"
    done = answer(run("sar", closed.filed, "--out", str(out), "--data", str(closed.path), "--json"))
    assert done["filed"] is True and done["sha256"] == closed.filed_hash == filing_hash(out.read_bytes())
    xmlschema.XMLSchema11(str(FINCEN / "EFL_SARXBatchSchema.xsd")).validate(str(out))


def test_sar_of_a_decided_case_writes_the_report_as_it_would_be_filed(closed: Folder, tmp_path: Path) -> None:
    out = tmp_path / "draft.xml"
    done = answer(run("sar", closed.decided, "--out", str(out), "--data", str(closed.path), "--json"))
    assert done["filed"] is False
    xmlschema.XMLSchema11(str(FINCEN / "EFL_SARXBatchSchema.xsd")).validate(str(out))


@pytest.mark.parametrize("which", ["closed", "unknown"])
def test_no_sar_to_write_gets_one_line_and_no_file(closed: Folder, tmp_path: Path, which: str) -> None:
    case_id = closed.closed if which == "closed" else "C-0000000000"
    out = tmp_path / "none.xml"
    result = run("sar", case_id, "--out", str(out), "--data", str(closed.path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (case_id in result.stderr) and not out.exists()
    assert len(result.stderr.strip().splitlines()) <= 2


def test_ctr_writes_the_filed_report_and_refuses_a_day_under_the_threshold(closed: Folder, tmp_path: Path) -> None:
    day = bank_date(DAY).isoformat()
    out = tmp_path / "ctr.xml"
    done = answer(run("ctr", "SMT-1", day, "--out", str(out), "--data", str(closed.path), "--json"))
    assert done["filed"] is True and done["sha256"] == closed.ctr_hash
    xmlschema.XMLSchema11(str(FINCEN / "EFL_CTRXBatchSchema.xsd")).validate(str(out))
    built = answer(run("ctr", "BRX-1", day, "--out", str(tmp_path / "b.xml"), "--data", str(closed.path), "--json"))
    assert built["filed"] is False
    under = tmp_path / "under.xml"
    earlier = (bank_date(DAY) - timedelta(days=1)).isoformat()
    refused = run("ctr", "BRX-1", earlier, "--out", str(under), "--data", str(closed.path), "--json")
    assert refused.returncode == 1 and not under.exists()
    assert json.loads(refused.stdout)["element"] == "TotalCashInReceiveAmountText"
    bad = run("ctr", "BRX-1", "yesterday", "--out", str(under), "--data", str(closed.path))
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr and not under.exists()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Folder, str]]:
    """The folder served by the gateway (which holds its ledgers), and the server's URL."""
    network, folder = build(tmp_path_factory.mktemp("aml-cli-served") / "net")
    server = Server(create_app(network)).start()
    try:
        yield folder, server.url
    finally:
        server.stop()
        network.close()
        server.join()


@pytest.mark.parametrize("command", [["cases", "--json"], ["sar", "{case}", "--out", "{out}"]])
def test_a_served_folder_without_server_says_what_to_run_instead(
    served: tuple[Folder, str], tmp_path: Path, command: list[str]
) -> None:
    folder, _ = served
    args = [a.replace("{case}", folder.filed).replace("{out}", str(tmp_path / "x.xml")) for a in command]
    result = run(*args, "--data", str(folder.path))
    assert result.returncode == 2, (result.stdout, result.stderr)
    text = " ".join((result.stderr + result.stdout).split())
    assert "Traceback" not in text and "in use by a running node" in text and "--server URL" in text, text
    assert not (tmp_path / "x.xml").exists()


def test_with_server_the_commands_work_through_the_running_node(served: tuple[Folder, str], tmp_path: Path) -> None:
    folder, url = served
    rows = answer(run("cases", "--json", "--data", str(folder.path), "--server", url))
    assert {r["id"]: r["status"] for r in rows} == {folder.filed: "filed", folder.decided: "sar_decided",
                                                    folder.closed: "closed_no_sar"}  # fmt: skip
    out = tmp_path / "sar.xml"
    done = answer(run("sar", folder.filed, "--out", str(out), "--data", str(folder.path), "--server", url, "--json"))
    assert done["sha256"] == folder.filed_hash == filing_hash(out.read_bytes())
    ctr = tmp_path / "ctr.xml"
    day = bank_date(DAY).isoformat()
    done = answer(run("ctr", "SMT-1", day, "--out", str(ctr), "--data", str(folder.path), "--server", url, "--json"))
    assert done["sha256"] == folder.ctr_hash
