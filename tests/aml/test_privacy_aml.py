"""What an exchange can and cannot see, through the real SDK and the real gateway.

Blue River's people see Blue River's accounts and their transactions — never Summit's, never an alert, a case, a
filing or the audit trail (not even about Blue River itself), whether asked through the service, through the SDK
on any peer, or through the gateway's API as a signed program; the gateway does not let an exchange read the
channel's blocks at all, while the examiner may. And the blocks every member's peer stores carry none of the
content: no account, amount, name, alert or narrative in clear.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from consortia.apps.aml import consortium as c
from consortia.apps.aml.domain.onboarding import (
    BeneficialOwner,
    EddReview,
    ExchangeRecord,
    RiskFactor,
    RiskRating,
    StateLicence,
)
from consortia.apps.aml.domain.transactions import Transaction
from consortia.apps.aml.service.aml import AmlService, Refused
from consortia.client.errors import GatewayError
from consortia.client.remote import RemoteClient, RemoteError
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.ledger.config import BatchConfig
from consortia.network.embedded import EmbeddedNetwork

NOW = datetime.now(UTC)
TODAY = NOW.date()
LEGAL_NAME = "Blue River Unmistakable Digital Exchange, Inc."
NARRATIVE_MARK = "Quetzalcoatl"


def _ledger_scan():
    """The lead's ``tests/ledger_scan.py`` (a module beside the test packages, loaded by path)."""
    path = Path(__file__).resolve().parents[1] / "ledger_scan.py"
    spec = importlib.util.spec_from_file_location("aml_ledger_scan", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def record(exchange: str, name: str) -> ExchangeRecord:
    return ExchangeRecord(
        exchange_id=exchange,
        legal_name=name,
        ein="36-4187290",
        msb_registration="31000187654321",
        states_served=("NY",),
        licences=(StateLicence("NY", "BL-1", date(2024, 1, 1)),),
        owners=(BeneficialOwner("Dana Whitfield", Decimal("60"), control=True),),
        risk_factors=(RiskFactor("business", RiskRating.HIGH, "virtual currency exchange"),),
        reviews=(EddReview(TODAY - timedelta(days=20), "AtlanticBank/analyst", RiskRating.HIGH, "visit"),),
    )


def deposit(n: int, account: str, amount: str = "9437.17") -> Transaction:
    return Transaction(f"PRIV-{account}-{n}", NOW - timedelta(days=1, minutes=-n), "CASH", account, Decimal(amount),
                       "USD", "cash_deposit", "US", "US")  # fmt: skip


@dataclass(frozen=True)
class Site:
    network: EmbeddedNetwork
    blue: AmlService
    summit: AmlService
    analyst: AmlService
    examiner: AmlService
    alert_about_blue: str
    case_id: str
    app: object


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("aml-privacy") / "net"
    network = EmbeddedNetwork.create(folder, c.network_spec(BatchConfig(max_transactions=100, timeout_ms=15)))
    try:
        c.deploy(network)
        analyst = AmlService.as_user(network, c.BANK, c.ANALYST_USER, c.DEMO_PASSWORD)
        officer = AmlService.as_user(network, c.BANK, c.BSA_OFFICER_USER, c.DEMO_PASSWORD)
        core = AmlService.as_user(network, c.BANK)
        for exchange, name, accounts in (
            (c.BLUE_RIVER, LEGAL_NAME, ["BRX-PRIV-1", "BRX-PRIV-2"]),
            (c.SUMMIT, "Summit Crypto Exchange LLC", ["SMT-PRIV-1"]),
        ):
            view = analyst.submit_onboarding(record(exchange, name))
            analyst.approve_onboarding(exchange, view.record_hash)
            officer.approve_onboarding(exchange, view.record_hash)
            core.open_accounts(exchange, accounts)
        results = core.post_transactions([deposit(n, "BRX-PRIV-1") for n in range(3)])
        results += core.post_transactions([deposit(n, "SMT-PRIV-1", "812.33") for n in range(2)])
        alert = next(a for r in results for a in r.alerts if "BRX-PRIV-1" in a.accounts)
        case = analyst.open_case([alert.alert_id])
        analyst.case_step(case.case_id, {"event": "note", "text": f"{NARRATIVE_MARK}: cash kept under $10,000"})
        app = create_app(network, ServerSettings())
        yield Site(
            network,
            AmlService.as_user(network, c.BLUE_RIVER, c.COMPLIANCE_USER, c.DEMO_PASSWORD),
            AmlService.as_user(network, c.SUMMIT, c.COMPLIANCE_USER, c.DEMO_PASSWORD),
            analyst,
            AmlService.as_user(network, c.EXAMINERS, c.EXAMINER_USER, c.DEMO_PASSWORD),
            alert.alert_id,
            case.case_id,
            app,
        )
    finally:
        network.close()


def test_an_exchange_sees_only_its_own_accounts(site: Site) -> None:
    mine = site.blue.accounts()
    assert {a.account for a in mine} == {"BRX-PRIV-1", "BRX-PRIV-2"}
    assert {t.tx_id for a in mine for t in a.transactions} == {f"PRIV-BRX-PRIV-1-{n}" for n in range(3)}
    assert {a.account for a in site.summit.accounts()} == {"SMT-PRIV-1"}
    assert [e.exchange for e in site.blue.exchanges()] == [c.BLUE_RIVER]


def test_an_exchange_cannot_read_another_exchange_s_accounts_on_any_peer(site: Site) -> None:
    raw = site.blue._contract()
    for org in (c.SUMMIT, c.BANK, c.EXAMINERS):
        try:
            answer = raw.evaluate("accounts", True, org=org)
        except GatewayError:
            continue
        # Asked on another peer, the contract still answers Blue River's own accounts only.
        assert {a["account"] for a in answer} <= {"BRX-PRIV-1", "BRX-PRIV-2"}, org
    with pytest.raises(Exception) as info:
        site.blue.account("SMT-PRIV-1")
    assert getattr(info.value, "code", "") == "NOT_FOUND"


@pytest.mark.parametrize("function", ["alerts", "alert", "cases", "case", "trail", "filings", "violations", "notes"])
def test_an_exchange_never_reads_an_alert_or_case_even_about_itself(site: Site, function: str) -> None:
    args = {"alert": (site.alert_about_blue,), "case": (site.case_id,)}.get(function, ())
    raw = site.blue._contract()
    for org in (c.BLUE_RIVER, c.BANK, c.EXAMINERS):
        with pytest.raises(GatewayError) as info:
            raw.evaluate(function, *args, org=org)
        assert site.alert_about_blue not in str(info.value) and NARRATIVE_MARK not in str(info.value)


def test_the_service_refuses_an_exchange_and_logs_it(site: Site) -> None:
    for ask in (site.blue.alerts, lambda: site.blue.alert(site.alert_about_blue), site.blue.cases,
                lambda: site.blue.case(site.case_id), site.blue.audit_trail):  # fmt: skip
        with pytest.raises(Refused) as info:
            ask()
        assert info.value.code == "FORBIDDEN" and info.value.tx_id
    logged = {r["tx"]: r for r in site.examiner.refusals()}
    assert info.value.tx_id in logged and logged[info.value.tx_id]["org"] == c.BLUE_RIVER


def _remote(site: Site, org: str, user: str = "client") -> RemoteClient:
    client = RemoteClient("http://testserver", site.network.identity(org, user))
    client._http = TestClient(site.app, base_url="http://testserver")  # the real gateway app, in process
    return client


def test_through_the_gateway_an_exchange_gets_its_accounts_and_no_alert(site: Site) -> None:
    blue = _remote(site, c.BLUE_RIVER)
    accounts = blue.evaluate(c.CHANNEL, c.CONTRACT, "accounts", [False])
    assert {a["account"] for a in accounts} == {"BRX-PRIV-1", "BRX-PRIV-2"}
    for function, args in (("alerts", []), ("alert", [site.alert_about_blue]), ("case", [site.case_id])):
        with pytest.raises(RemoteError) as info:
            blue.evaluate(c.CHANNEL, c.CONTRACT, function, args)
        assert info.value.status == 403, (function, info.value)


def test_through_the_gateway_an_exchange_cannot_read_the_blocks_and_the_examiner_can(site: Site) -> None:
    with pytest.raises(RemoteError) as info:
        _remote(site, c.BLUE_RIVER).request("GET", f"/api/channels/{c.CHANNEL}/blocks")
    assert info.value.status == 403
    bank = _remote(site, c.BANK).request("GET", f"/api/channels/{c.CHANNEL}/blocks")
    assert bank


def test_blocks_carry_no_content(site: Site) -> None:
    scan = _ledger_scan()
    needles = ["BRX-PRIV-1", "SMT-PRIV-1", "9437.17", "812.33", LEGAL_NAME, NARRATIVE_MARK, site.alert_about_blue,
               "Dana Whitfield", "31000187654321"]  # fmt: skip
    assert scan.scan_block_files(site.network.directory, needles) == []
