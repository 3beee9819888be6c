"""The AML service facade over a real network: what the pages get, and what it files.

Structuring at Summit's account (three cash deposits just under $10,000 in a business day, decided by the streaming
engine as they are posted) and a small layering chain through Blue River's accounts. Then: an alert with its rule
hits, transactions and counterparty graph by day; the streaming monitor primed afresh from the ledger raises
nothing twice; a SAR preview (and, for a case closed without SAR, the error naming the element); filing by the BSA
officer only, the XML valid and its hash on the case's record; a CTR for a day over $10,000 and none for a day
under; the audit trail's proofs verify.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import xmlschema

from consortia.apps.aml import consortium as c
from consortia.apps.aml.domain.cases import bank_date
from consortia.apps.aml.domain.filings import FilingError, filing_hash
from consortia.apps.aml.domain.onboarding import (
    BeneficialOwner,
    EddReview,
    ExchangeRecord,
    RiskFactor,
    RiskRating,
    StateLicence,
)
from consortia.apps.aml.domain.transactions import Transaction
from consortia.apps.aml.service import aml as service_module
from consortia.apps.aml.service.aml import AlertFilters, AmlService, Refused
from consortia.ledger.config import BatchConfig
from consortia.ledger.proof import check_proof
from consortia.network.embedded import EmbeddedNetwork

FINCEN = Path(__file__).resolve().parents[2].parent / "shared" / "testvectors" / "fincen"
NOW = datetime.now(UTC)
# A weekday morning in New York three to nine days ago, so the deposits share one business day.
DAY = next(
    d
    for d in (NOW - timedelta(days=n) for n in range(3, 10))
    if d.astimezone(service_module.case_domain.BANK_ZONE).weekday() < 5
).replace(hour=14, minute=0, second=0, microsecond=0)


def record(exchange: str) -> ExchangeRecord:
    return ExchangeRecord(
        exchange_id=exchange,
        legal_name=c.DISPLAY[exchange],
        ein="36-4187290" if exchange == c.BLUE_RIVER else "76-0598712",
        msb_registration="31000187654321",
        states_served=("NY",),
        licences=(StateLicence("NY", "BL-1", date(2024, 1, 1)),),
        owners=(BeneficialOwner("Dana Whitfield", Decimal("60"), control=True),),
        risk_factors=(RiskFactor("business", RiskRating.HIGH, "virtual currency exchange"),),
        reviews=(EddReview(NOW.date() - timedelta(days=20), "AtlanticBank/analyst", RiskRating.HIGH, "visit"),),
    )


def t(tx_id: str, orig: str, bene: str, amount: str, kind: str = "transfer", minutes: int = 0) -> Transaction:
    return Transaction(tx_id, DAY + timedelta(minutes=minutes), orig, bene, Decimal(amount), "USD", kind, "US", "US")


@dataclass(frozen=True)
class Site:
    network: EmbeddedNetwork
    analyst: AmlService
    officer: AmlService
    core: AmlService
    examiner: AmlService
    structuring: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("aml-service") / "net"
    network = EmbeddedNetwork.create(folder, c.network_spec(BatchConfig(max_transactions=100, timeout_ms=15)))
    try:
        c.deploy(network)
        analyst = AmlService.as_user(network, c.BANK, c.ANALYST_USER, c.DEMO_PASSWORD)
        officer = AmlService.as_user(network, c.BANK, c.BSA_OFFICER_USER, c.DEMO_PASSWORD)
        core = AmlService.as_user(network, c.BANK)
        for exchange, accounts in ((c.BLUE_RIVER, ["BRX-A", "BRX-B", "BRX-C"]), (c.SUMMIT, ["SMT-A"])):
            view = analyst.submit_onboarding(record(exchange))
            analyst.approve_onboarding(exchange, view.record_hash)
            officer.approve_onboarding(exchange, view.record_hash)
            core.open_accounts(exchange, accounts)
        chain = [
            t("L-1", "EXT-SRC", "BRX-A", "48000.00", "wire"),
            t("L-2", "BRX-A", "BRX-B", "47000.00", minutes=30),
            t("L-3", "BRX-B", "BRX-C", "46000.00", minutes=60),
            t("L-4", "BRX-C", "EXT-DST", "45000.00", "wire", minutes=90),
        ]
        deposits = [t(f"D-{n}", "CASH", "SMT-A", "9600.00", "cash_deposit", minutes=5 + n) for n in range(3)]
        results = core.post_transactions(chain + deposits)
        structuring = next(a for r in results for a in r.alerts if a.typology == "structuring")
        yield Site(
            network,
            analyst,
            officer,
            core,
            AmlService.as_user(network, c.EXAMINERS, c.EXAMINER_USER, c.DEMO_PASSWORD),
            structuring.alert_id,
        )
    finally:
        network.close()


def test_an_alert_comes_with_its_hits_transactions_and_graph(site: Site) -> None:
    detail = site.analyst.alert(site.structuring)
    alert = detail.alert
    assert alert.typology == "structuring" and alert.exchanges == (c.SUMMIT,) and alert.source == "streaming"
    assert {h.rule for h in alert.rule_hits} >= {"structuring"} and all(h.detail for h in alert.rule_hits)
    assert {x.tx_id for x in detail.transactions} == set(alert.tx_ids) <= {"D-0", "D-1", "D-2"}
    graph = detail.graph
    assert {n.account for n in graph.nodes if n.in_alert} == {"SMT-A"}
    [edge] = graph.edges
    assert (edge.orig_account, edge.bene_account, edge.count) == ("CASH", "SMT-A", 3)
    assert edge.amount == Decimal("28800.00") and edge.day == bank_date(DAY) and graph.days == (edge.day,)


def test_the_alert_queue_filters(site: Site) -> None:
    every = site.analyst.alerts()
    assert every and [a.detected_at for a in every] == sorted((a.detected_at for a in every), reverse=True)
    summit = site.analyst.alerts(AlertFilters(exchange=c.SUMMIT))
    assert summit and all(c.SUMMIT in a.exchanges for a in summit)
    assert site.analyst.alerts(AlertFilters(typology="no-such-typology")) == []
    assert all(a.score >= 0.9 for a in site.analyst.alerts(AlertFilters(min_score=0.9)))


def test_a_fresh_monitor_primes_from_the_ledger_and_raises_nothing_twice(site: Site) -> None:
    before = {a.alert_id for a in site.analyst.alerts()}
    service_module._MONITORS.clear()  # as after a restart: the next post primes from what the ledger holds
    site.core.post_transaction(t("QUIET-1", "BRX-A", "EXT-SHOP", "42.50", minutes=200))
    assert {a.alert_id for a in site.analyst.alerts()} == before


def test_sar_preview_filing_and_the_hash_on_the_record(site: Site) -> None:
    case = site.analyst.open_case([site.structuring])
    preview = site.analyst.sar_preview(case.case_id)
    assert preview.error == "" and preview.xml is not None and "9,600.00" in preview.narrative
    site.officer.case_step(case.case_id, {"event": "assign", "assignee": f"{c.BANK}/{c.ANALYST_USER}"})
    site.officer.case_step(case.case_id, {"event": "decide", "decision": "sar", "reasons": ["structured cash"]})
    with pytest.raises(Refused) as info:
        site.analyst.file_sar(case.case_id)
    assert info.value.code == "FORBIDDEN" and site.analyst.case(case.case_id).filings == ()
    filing = site.officer.file_sar(case.case_id)
    assert filing_hash(filing.xml) == filing.hash
    xmlschema.XMLSchema11(str(FINCEN / "EFL_SARXBatchSchema.xsd")).validate(filing.xml.decode("utf-8"))
    after = site.officer.case(case.case_id)
    assert after.status == "filed" and after.steps[-1].record["filing_hash"] == filing.hash
    assert after.steps[-1].tx_id == filing.tx_id and [d.kind for d in after.deadlines] == ["continuing_review"]
    assert site.examiner.filing_xml(filing.hash) == filing.xml


def test_a_case_closed_without_sar_has_no_sar(site: Site) -> None:
    alert = next(a for a in site.analyst.alerts() if not a.case_id)
    case = site.analyst.open_case([alert.alert_id])
    site.officer.case_step(case.case_id, {"event": "assign", "assignee": f"{c.BANK}/{c.ANALYST_USER}"})
    site.officer.case_step(case.case_id, {"event": "decide", "decision": "no_sar", "reasons": ["explained"]})
    preview = site.analyst.sar_preview(case.case_id)
    assert preview.xml is None and preview.element == "Activity" and "without a SAR" in preview.error
    with pytest.raises(FilingError):
        site.officer.file_sar(case.case_id)
    assert site.officer.case(case.case_id).filings == ()


def test_ctr_for_a_day_over_ten_thousand_and_none_under(site: Site) -> None:
    assert ("SMT-A", bank_date(DAY)) in site.core.ctr_candidates()
    filing = site.core.ctr("SMT-A", bank_date(DAY))
    xmlschema.XMLSchema11(str(FINCEN / "EFL_CTRXBatchSchema.xsd")).validate(filing.xml.decode("utf-8"))
    assert any(f.kind == "CTR" and f.filing_hash == filing.hash for f in site.examiner.filings())
    before = len(site.examiner.filings())
    with pytest.raises(FilingError) as info:
        site.core.ctr("BRX-A", bank_date(DAY))
    assert info.value.element == "TotalCashInReceiveAmountText"
    assert len(site.examiner.filings()) == before


def test_the_audit_trail_carries_proofs_that_verify(site: Site) -> None:
    trail = site.examiner.audit_trail()
    assert trail and [s.number for s in trail] == list(range(1, len(trail) + 1))
    assert {"approval", "posting", "alert", "case", "filing"} <= {s.kind for s in trail}
    for step in trail[:: max(1, len(trail) // 8)]:
        assert step.proof is not None and all(check.ok for check in check_proof(step.proof)), step
