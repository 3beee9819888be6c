"""The AML demo as ``consortia demo`` plays it, through the plug-in the platform discovers.

The plug-in is imported as the entry point will name it (``consortia.apps.aml.plugin:application``); its seed runs
on a network of its own organisations and channel. Then: both exchanges approved by the two roles, the month of
activity posted, two policy refusals recorded, alerts with structuring among them, one case decided SAR and filed,
one closed without SAR, a CTR; every SAR and CTR the demo produced validates against FinCEN's XSD (xmlschema, XSD
1.1) and hashes to what the ledger recorded; the trail's steps carry proofs that verify; the summary's commands
name the case.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest
import xmlschema
from rich.console import Console

from consortia.apps.aml import consortium as c
from consortia.apps.aml.domain.filings import filing_hash
from consortia.apps.aml.plugin import application
from consortia.apps.aml.service.aml import AmlService
from consortia.ledger.config import BatchConfig
from consortia.ledger.proof import check_proof
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import NetworkSpec

FINCEN = Path(__file__).resolve().parents[2].parent / "shared" / "testvectors" / "fincen"
XSD = {"SAR": "EFL_SARXBatchSchema.xsd", "CTR": "EFL_CTRXBatchSchema.xsd"}


@dataclass(frozen=True)
class Demo:
    network: EmbeddedNetwork
    lines: list[str]
    output: str
    examiner: AmlService


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("aml-demo") / "net"
    batch = BatchConfig(max_transactions=100, timeout_ms=15)
    channels = tuple(msgspec.structs.replace(ch, batch=batch) for ch in application.channels)
    spec = NetworkSpec(orgs=application.orgs, channels=channels)
    network = EmbeddedNetwork.create(folder, spec)
    try:
        assert application.deploy is not None and application.seed is not None
        application.deploy(network)
        out = io.StringIO()
        lines = application.seed(network, Console(file=out, width=200))
        examiner = AmlService.as_user(network, c.EXAMINERS, c.EXAMINER_USER, c.DEMO_PASSWORD)
        yield Demo(network, lines, out.getvalue(), examiner)
    finally:
        network.close()


def test_the_plugin_names_the_consortium() -> None:
    assert application.name == "aml"
    assert [o.name for o in application.orgs] == [c.BANK, c.BLUE_RIVER, c.SUMMIT, c.EXAMINERS]
    assert [ch.name for ch in application.channels] == ["aml"]
    assert application.cli is not None and application.install is not None
    roles = {(o.name, u.name): u.attributes.get("role") for o in application.orgs for u in o.users}
    assert roles[(c.BANK, c.ANALYST_USER)] == "analyst" and roles[(c.BANK, c.BSA_OFFICER_USER)] == "bsa_officer"
    assert roles[(c.EXAMINERS, c.EXAMINER_USER)] == "examiner"


def test_both_exchanges_are_approved_by_both_roles(demo: Demo) -> None:
    for exchange in c.EXCHANGES:
        view = demo.examiner.onboarding(exchange)
        assert view.approved and view.decided_by == "policy"
        assert {a.role for a in view.approvals if a.current} == {"analyst", "bsa_officer"}


def test_a_month_of_activity_with_refusals_and_alerts(demo: Demo) -> None:
    accounts = demo.examiner.accounts()
    assert {a.exchange for a in accounts} == set(c.EXCHANGES)
    days = {t.timestamp.date() for a in accounts for t in a.transactions}
    assert max(days) - min(days) >= timedelta(days=25)
    assert {v.rule for v in demo.examiner.violations()} == {"usd_only", "us_only"}
    alerts = demo.examiner.alerts()
    assert any(a.typology == "structuring" for a in alerts)
    assert any(len(a.accounts) > 1 for a in alerts), "no alert over a group of accounts (layering)"
    assert all(a.rule_hits and a.tx_ids for a in alerts)


def test_one_case_filed_as_sar_and_one_closed_without(demo: Demo) -> None:
    cases = {v.status: v for v in demo.examiner.cases()}
    assert set(cases) == {"filed", "closed_no_sar"}
    assert cases["filed"].decision == "sar" and cases["closed_no_sar"].decision == "no_sar"
    assert cases["closed_no_sar"].case.decision_reasons
    [sar] = cases["filed"].filings
    assert sar.kind == "SAR" and sar.tx_id == cases["filed"].steps[-1].tx_id


def test_every_filing_the_demo_produced_validates_against_the_xsd(demo: Demo) -> None:
    filings = demo.examiner.filings()
    assert {f.kind for f in filings} == {"SAR", "CTR"}
    for filing in filings:
        xml = demo.examiner.filing_xml(filing.filing_hash)
        assert filing_hash(xml) == filing.filing_hash
        schema = xmlschema.XMLSchema11(str(FINCEN / XSD[filing.kind]))
        errors = list(schema.iter_errors(xml.decode("utf-8")))
        assert errors == [], (filing.kind, errors[:1])


def test_the_trail_has_every_step_with_a_proof_that_verifies(demo: Demo) -> None:
    trail = demo.examiner.audit_trail(proofs=False)
    kinds = {s.kind for s in trail}
    assert {"onboarding", "approval", "accounts", "posting", "violation", "alert", "case", "filing", "note"} <= kinds
    for step in [s for s in trail if s.kind in ("approval", "filing", "note")]:
        steps = check_proof(demo.examiner.proof(step.tx_id))
        assert all(s.ok for s in steps), (step, [s for s in steps if not s.ok])


def test_the_summary_names_the_filed_case_and_the_commands(demo: Demo) -> None:
    filed = next(v for v in demo.examiner.cases() if v.status == "filed")
    text = "\n".join(demo.lines)
    assert f"consortia aml sar {filed.case_id} --out sar.xml" in text
    assert "consortia aml cases --json" in text
    assert all("{base}/aml" in line for line in demo.lines if " as " in line)
    assert re.search(r"decided SAR and filed", demo.output)
