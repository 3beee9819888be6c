"""The AML pages over a real embedded network with the contract deployed, through the gateway app.

One network per module: both exchanges are onboarded (analyst and BSA officer approve) with two accounts each;
Blue River's operating account takes three cash deposits just under $10,000 on one New York business day
(structuring, and a CTR) and wires money on; Summit's account takes a smaller structured run a month earlier; a
euro wire is refused by the account policy and recorded. The analyst opens a case on each structuring alert; the
BSA officer decides Blue River's SAR and files it, and closes Summit's without a SAR; an examiner writes a note.

Then, as the analyst, the BSA officer, the examiner, each exchange's compliance person and nobody, through
Starlette's test client: every page translated (``untranslated(html, "en") == []``) with no key missing; the
member who must not get in (anonymous → 401 as a page with a log-in link for browsers and problem details for
programs; an exchange on the queue → 403; one exchange never seeing the other's accounts; only examiners writing
notes); the queue's filters; an alert's rule hits in words and its graph; a case's deadlines; the SAR preview
and its download; decisions overdue first; every audit step's proof checked as the browser's verifier checks it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from lxml import etree
from markupsafe import escape

from consortia.apps.aml import consortium
from consortia.apps.aml.domain.onboarding import (
    BeneficialOwner,
    EddReview,
    ExchangeRecord,
    RiskFactor,
    RiskRating,
    StateLicence,
)
from consortia.apps.aml.domain.transactions import CASH_ACCOUNT, CASH_DEPOSIT, WIRE, RuleHit, Transaction
from consortia.apps.aml.service.aml import AmlService, PolicyRejected
from consortia.apps.aml.web import install, views
from consortia.apps.aml.web.graph import MAX_NODES, Transfer, draw
from consortia.apps.aml.web.text import CATALOGUE, LANGUAGES
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.ledger.config import BatchConfig
from consortia.ledger.proof import check_proof
from consortia.network.embedded import EmbeddedNetwork
from consortia.ui.i18n import untranslated, visible_text
from consortia.ui.ticks import nice_ticks

PASSWORD = consortium.DEMO_PASSWORD
ANALYST = f"{consortium.BANK}/{consortium.ANALYST_USER}"
BSA = f"{consortium.BANK}/{consortium.BSA_OFFICER_USER}"
EXAMINER = f"{consortium.EXAMINERS}/{consortium.EXAMINER_USER}"
BLUE = f"{consortium.BLUE_RIVER}/{consortium.COMPLIANCE_USER}"
SUMMIT = f"{consortium.SUMMIT}/{consortium.COMPLIANCE_USER}"
HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON = {"accept": "application/json"}

BLUE_OPS, BLUE_SETTLE = "BRX-OPS-001", "BRX-SETTLE-002"
SUMMIT_OPS, SUMMIT_RESERVE = "SMT-OPS-101", "SMT-RESERVE-102"


def record(exchange: str, name: str, ein: str, msb: str) -> ExchangeRecord:
    """A complete due-diligence record (no problems blocking approval)."""
    return ExchangeRecord(
        exchange_id=exchange,
        legal_name=name,
        ein=ein,
        msb_registration=msb,
        states_served=("NY", "IL"),
        licences=(StateLicence("NY", "MT-1001", date(2024, 1, 2)), StateLicence("IL", "TT-2002", date(2024, 1, 2))),
        owners=(BeneficialOwner("Ann Lee", Decimal(60), True), BeneficialOwner("Raj Rao", Decimal(40))),
        risk_factors=(RiskFactor("product", RiskRating.HIGH, "virtual currency exchange"),),
        reviews=(EddReview(date(2026, 6, 1), "analyst", RiskRating.HIGH, "site visit, SOC 2 report"),),
    )


def at(day: str, clock: str) -> datetime:
    """A New York wall-clock time as an aware UTC instant (November: EST, UTC−5)."""
    hours, minutes = (int(x) for x in clock.split(":"))
    y, m, d = (int(x) for x in day.split("-"))
    return datetime(y, m, d, hours + 5, minutes, tzinfo=UTC)


def tx(tx_id: str, when: datetime, orig: str, bene: str, amount: str, kind: str = WIRE, **extra: str) -> Transaction:
    return Transaction(tx_id, when, orig, bene, Decimal(amount), extra.get("currency", "USD"), kind,
                       extra.get("orig_country", "US"), extra.get("bene_country", "US"))  # fmt: skip


@dataclass(frozen=True)
class Site:
    """The network, the gateway app, and what the module's set-up left on the ledger."""

    network: EmbeddedNetwork
    app: FastAPI
    blue_alert: str
    """Blue River's structuring alert (its case is decided SAR and filed)."""
    summit_alert: str
    """Summit's structuring alert (its case is closed without a SAR)."""
    blue_case: str
    summit_case: str
    overdue_case: str
    """Under investigation since November: its SAR deadline (3 December) has passed."""
    filing_hash: str
    violation_tx: str

    def client(self, username: str | None = None) -> TestClient:
        """A test client, logged in as ``username`` when given."""
        client = TestClient(self.app)
        if username:
            r = client.post("/api/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
        return client


def structuring(alerts: list, account: str) -> str:
    found = [a.alert_id for a in alerts if a.typology == "structuring" and account in a.accounts]
    assert found, [(a.typology, a.accounts) for a in alerts]
    return found[0]


def build_site(folder: Path, *, secure_cookies: bool | None = False) -> Site:
    """The AML network with onboarded exchanges, alerts, two cases (SAR filed; no SAR), and the app serving it."""
    network = EmbeddedNetwork.create(folder, consortium.network_spec(BatchConfig(max_transactions=100, timeout_ms=15)))
    consortium.deploy(network)
    analyst = AmlService.as_user(network, consortium.BANK, consortium.ANALYST_USER, PASSWORD)
    officer = AmlService.as_user(network, consortium.BANK, consortium.BSA_OFFICER_USER, PASSWORD)
    bank = AmlService.as_user(network, consortium.BANK, "client")
    for exchange, name, ein, msb, accounts in (
        (consortium.BLUE_RIVER, "Blue River Digital Exchange, Inc.", "36-4111111", "31000111111111",
         (BLUE_OPS, BLUE_SETTLE)),
        (consortium.SUMMIT, "Summit Crypto Exchange LLC", "76-0222222", "31000222222222", (SUMMIT_OPS, SUMMIT_RESERVE)),
    ):  # fmt: skip
        view = analyst.submit_onboarding(record(exchange, name, ein, msb))
        analyst.approve_onboarding(exchange, view.record_hash)
        officer.approve_onboarding(exchange, view.record_hash)
        bank.open_accounts(exchange, list(accounts))
    posted = [
        # Summit, early November: ordinary settlement, then cash just under the threshold three times in a day.
        tx("S-001", at("2026-11-02", "10:00"), SUMMIT_RESERVE, SUMMIT_OPS, "25000.00"),
        tx("S-002", at("2026-11-03", "09:10"), CASH_ACCOUNT, SUMMIT_OPS, "9400.00", CASH_DEPOSIT),
        tx("S-003", at("2026-11-03", "11:40"), CASH_ACCOUNT, SUMMIT_OPS, "9600.00", CASH_DEPOSIT),
        tx("S-004", at("2026-11-03", "15:05"), CASH_ACCOUNT, SUMMIT_OPS, "9300.00", CASH_DEPOSIT),
        # Blue River, late November: wires in and out over two weeks, then structured cash and a wire on.
        tx("B-001", at("2026-11-16", "10:00"), BLUE_SETTLE, BLUE_OPS, "40000.00"),
        tx("B-002", at("2026-11-18", "14:30"), BLUE_OPS, BLUE_SETTLE, "12000.00"),
        tx("B-003", at("2026-11-24", "09:05"), CASH_ACCOUNT, BLUE_OPS, "9500.00", CASH_DEPOSIT),
        tx("B-004", at("2026-11-24", "12:15"), CASH_ACCOUNT, BLUE_OPS, "9800.00", CASH_DEPOSIT),
        tx("B-005", at("2026-11-24", "16:20"), CASH_ACCOUNT, BLUE_OPS, "9700.00", CASH_DEPOSIT),
        tx("B-006", at("2026-11-25", "10:45"), BLUE_OPS, BLUE_SETTLE, "28000.00"),
    ]
    for item in posted:
        bank.post_transaction(item)
    with pytest.raises(PolicyRejected) as refused:
        bank.post_transaction(tx("B-EUR", at("2026-11-26", "10:00"), BLUE_OPS, BLUE_SETTLE, "5000.00", currency="EUR"))
    alerts = analyst.alerts()
    blue_alert, summit_alert = structuring(alerts, BLUE_OPS), structuring(alerts, SUMMIT_OPS)
    blue_case = analyst.open_case([blue_alert]).case_id
    summit_case = analyst.open_case([summit_alert]).case_id
    # A third case stays under investigation: detected on 3 November, its SAR was due on 3 December (overdue).
    late = [a.alert_id for a in alerts if SUMMIT_OPS in a.accounts and a.alert_id != summit_alert]
    assert late, [(a.typology, a.accounts) for a in alerts]
    overdue_case = analyst.open_case([late[0]]).case_id
    analyst.case_step(overdue_case, {"event": "assign", "assignee": consortium.SECOND_ANALYST_USER})
    for case_id in (blue_case, summit_case):
        analyst.case_step(case_id, {"event": "assign", "assignee": consortium.ANALYST_USER})
        analyst.case_step(case_id, {"event": "note", "text": "Three cash deposits just under $10,000 in a day."})
    officer.case_step(blue_case, {"event": "decide", "decision": "sar", "reasons": ["deposits split to evade a CTR"]})
    filing = officer.file_sar(blue_case)
    officer.case_step(summit_case, {"event": "decide", "decision": "no_sar",
                                    "reasons": ["payroll float documented by the exchange"]})  # fmt: skip
    examiner = AmlService.as_user(network, consortium.EXAMINERS, consortium.EXAMINER_USER, PASSWORD)
    examiner.examination_note(blue_case, "SAR filed within 30 days of detection.")
    app = create_app(network, ServerSettings(secure_cookies=secure_cookies))
    install(app, app.state.backend)  # idempotent: a no-op when the plug-in's entry point already installed it
    return Site(network, app, blue_alert, summit_alert, blue_case, summit_case, overdue_case, filing.hash,
                refused.value.tx_id)  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = build_site(tmp_path_factory.mktemp("aml-web") / "net")
    try:
        yield built
    finally:
        built.network.close()


def csrf_of(html: str) -> str:
    """The session's CSRF token, as a page's forms carry it."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has no form with the session's CSRF token"
    return match.group(1)


def ids(html: str, attribute: str) -> list[str]:
    """The values of a data attribute on a page, in order."""
    return re.findall(rf'{attribute}="([^"]+)"', html)


def page(client: TestClient, path: str) -> str:
    r = client.get(path, headers=HTML)
    assert r.status_code == 200, (path, r.status_code, r.text[:500])
    return r.text


def shown(key: str, **params: str) -> str:
    """A catalogue string as the page's HTML writes it (escaped)."""
    return str(escape(CATALOGUE.text("en", key, **params)))


def no_iso_times(html: str) -> None:
    """No ISO timestamp or date reaches what a person reads (the filing's own text, marked translate="no", aside)."""
    for fragment in visible_text(html, "en"):
        assert not re.search(r"\d{4}-\d{2}-\d{2}", fragment), f"an ISO date on the page: {fragment!r}"


# -- every page, translated -----------------------------------------------------------------------------------------


def test_every_page_is_in_english_with_no_key_missing(site: Site) -> None:
    assert LANGUAGES == ("en",) and CATALOGUE.missing() == {"en": frozenset()}
    pages = {
        ANALYST: [
            "/aml/alerts",
            f"/aml/alerts/{site.blue_alert}",
            "/aml/cases",
            f"/aml/cases/{site.blue_case}",
            f"/aml/cases/{site.summit_case}",
            f"/aml/cases/{site.blue_case}/sar",
            f"/aml/cases/{site.summit_case}/sar",
            "/aml/decisions",
            "/aml/audit",
            "/aml/accounts",
            f"/aml/accounts/{SUMMIT_OPS}",
            "/aml/alerts?typology=violation",
            "/aml/exchanges",
            f"/aml/exchanges/{consortium.BLUE_RIVER}",
        ],
        EXAMINER: ["/aml/audit", "/aml/alerts", f"/aml/cases/{site.blue_case}", f"/aml/exchanges/{consortium.SUMMIT}"],
        BSA: ["/aml/decisions", f"/aml/cases/{site.blue_case}/sar"],
        BLUE: ["/aml/accounts", f"/aml/accounts/{BLUE_OPS}", "/aml/alerts"],
    }
    for user, paths in pages.items():
        client = site.client(user)
        for path in paths:
            r = client.get(path, headers=HTML)
            assert r.status_code == (403 if user == BLUE and path == "/aml/alerts" else 200), (user, path)
            assert untranslated(r.text, "en") == [], (user, path)
            assert 'lang="en"' in r.text
            assert "Eastern Time (America/New_York)" in r.text, (user, path)
            no_iso_times(r.text)
    for user, path in ((ANALYST, "/aml/cases/NO-SUCH-CASE"), (ANALYST, "/aml/exchanges/NoSuchExchange")):
        r = site.client(user).get(path, headers=HTML)
        assert r.status_code == 404 and untranslated(r.text, "en") == []
    # The language switcher's ?lang= for a language the bank does not offer is ignored, never an error.
    r = site.client(ANALYST).get("/aml/alerts?lang=ko", headers=HTML)
    assert r.status_code == 200 and 'lang="en"' in r.text


@pytest.mark.parametrize(
    ("who", "home"),
    [(ANALYST, "/aml/alerts"), (BSA, "/aml/decisions"), (EXAMINER, "/aml/audit"), (BLUE, "/aml/accounts")],
)
def test_each_person_starts_on_their_own_page(site: Site, who: str, home: str) -> None:
    r = site.client(who).get("/aml", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == home


# -- the member who must not get in ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/aml/alerts",
        "/aml/accounts",
        "/aml/audit",
        "/aml/decisions",
        "/aml/cases",
        "/aml/records/" + "0" * 64 + "/proof",
    ],
)
def test_anonymous_gets_401_a_login_page_or_problem_details(site: Site, path: str) -> None:
    anonymous = site.client()
    r = anonymous.get(path, headers=HTML)
    assert r.status_code == 401 and r.headers["content-type"].startswith("text/html")
    assert 'id="login-link"' in r.text and f"/login?next={path.replace('/', '%2F')}" in r.text
    assert shown("error_401") in r.text
    r = anonymous.get(path, headers=JSON)
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 401 and r.json()["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("who", [BLUE, SUMMIT])
def test_an_exchange_gets_403_on_the_queue_cases_audit_and_proofs(site: Site, who: str) -> None:
    client = site.client(who)
    for path in ("/aml/alerts", f"/aml/alerts/{site.blue_alert}", f"/aml/cases/{site.blue_case}",
                 f"/aml/cases/{site.blue_case}/sar", f"/aml/cases/{site.blue_case}/sar.xml", "/aml/decisions",
                 "/aml/audit", f"/aml/records/{site.violation_tx}/proof"):  # fmt: skip
        r = client.get(path, headers=HTML)
        assert r.status_code == 403, (who, path, r.status_code)
        assert shown("refused_bank") in r.text
        # Nothing about the alert or the case leaks onto the refusal.
        assert site.blue_alert not in r.text.replace(path, "") and "Structuring" not in r.text
        r = client.get(path, headers=JSON)
        assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"


def test_each_exchange_sees_its_own_accounts_only(site: Site) -> None:
    blue = page(site.client(BLUE), "/aml/accounts")
    summit = page(site.client(SUMMIT), "/aml/accounts")
    assert sorted(ids(blue, "data-account")) == sorted([BLUE_OPS, BLUE_SETTLE])
    assert sorted(ids(summit, "data-account")) == sorted([SUMMIT_OPS, SUMMIT_RESERVE])
    for account in (SUMMIT_OPS, SUMMIT_RESERVE):
        assert account not in blue
    for account in (BLUE_OPS, BLUE_SETTLE):
        assert account not in summit
    # An account's own page: Blue River's transactions to Blue River; Summit's account is not found for it.
    own = page(site.client(BLUE), f"/aml/accounts/{BLUE_OPS}")
    assert "B-003" in own and "$9,500.00" in own and shown("tx_type_cash_deposit") in own and "S-002" not in own
    for other in (SUMMIT_OPS, SUMMIT_RESERVE):
        r = site.client(BLUE).get(f"/aml/accounts/{other}", headers=HTML)
        assert r.status_code == 404 and shown("not_found_account", what=other + "…") in r.text
        assert "S-00" not in r.text
        r = site.client(BLUE).get(f"/aml/accounts/{other}", headers=JSON)
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert "B-00" not in page(site.client(SUMMIT), f"/aml/accounts/{SUMMIT_OPS}")
    # Never an alert about themselves: no typology, score or case on an exchange's page.
    for html in (blue, summit):
        assert "Structuring" not in html and site.blue_case not in html and "/aml/alerts" not in html
    # The bank sees both exchanges' accounts.
    bank = page(site.client(ANALYST), "/aml/accounts")
    assert sorted(ids(bank, "data-account")) == sorted([BLUE_OPS, BLUE_SETTLE, SUMMIT_OPS, SUMMIT_RESERVE])


@pytest.mark.parametrize("who", [ANALYST, BSA, BLUE])
def test_nobody_but_the_examiner_writes_examination_notes(site: Site, who: str) -> None:
    client = site.client(who)
    token = csrf_of(page(client, "/aml/accounts"))
    r = client.post("/aml/audit/notes", data={"csrf": token, "note": "not mine to write", "subject": site.blue_case},
                    headers=HTML, follow_redirects=False)  # fmt: skip
    assert r.status_code == 403 and shown("refused_examiner") in r.text
    examiner = site.client(EXAMINER)
    assert "not mine to write" not in page(examiner, "/aml/audit")
    # The examiner's own note goes through the form and shows on the trail.
    token = csrf_of(page(examiner, "/aml/audit"))
    text = f"Sampled case {site.summit_case}: reasons documented ({who})."
    r = examiner.post("/aml/audit/notes", data={"csrf": token, "note": text, "subject": site.summit_case},
                      headers=HTML, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/aml/audit?notice=noted"
    audit = page(examiner, "/aml/audit?notice=noted")
    assert text in audit and shown("notice_noted") in audit


def test_a_form_without_the_sessions_token_is_refused(site: Site) -> None:
    client = site.client(ANALYST)
    r = client.post(f"/aml/cases/{site.blue_case}/steps", data={"csrf": "forged", "event": "note", "text": "x"},
                    headers=HTML, follow_redirects=False)  # fmt: skip
    assert r.status_code == 403 and shown("refused_form") in r.text


def test_unknown_ids_are_not_found_pages_naming_what_was_looked_for(site: Site) -> None:
    client = site.client(ANALYST)
    r = client.get("/aml/cases/CASE-DOES-NOT-EXIST", headers=HTML)
    assert r.status_code == 404 and CATALOGUE.text("en", "not_found_case").format(what="CASE-DOES-NOT-EXIST…") in r.text
    long = "A" * 3000
    r = client.get(f"/aml/alerts/{long}", headers=HTML)
    assert r.status_code == 404 and long not in r.text and "A" * 24 + "…" in r.text
    r = client.get("/aml/alerts/AML-000000000000", headers=JSON)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


def test_due_diligence_shows_the_record_and_both_approvals(site: Site) -> None:
    html = page(site.client(EXAMINER), f"/aml/exchanges/{consortium.BLUE_RIVER}")
    assert 'data-approved="yes"' in html and "31000111111111" in html and "36-4111111" in html
    assert shown("rating_high") in html and "Ann Lee" in html and shown("owner_control") in html
    current = re.findall(r'<li data-current="yes"><code translate="no">([^<]+)</code>', html)
    assert sorted(current) == sorted([ANALYST, BSA])
    assert 'id="approve-form"' not in html  # an examiner never approves; and it is approved already
    listing = page(site.client(ANALYST), "/aml/exchanges")
    assert ids(listing, "data-state") == ["approved", "approved"]
    # An exchange sees no due-diligence page (its own included), and nobody but the bank's staff approves.
    blue = site.client(BLUE)
    assert blue.get(f"/aml/exchanges/{consortium.BLUE_RIVER}", headers=HTML).status_code == 403
    token = csrf_of(page(blue, "/aml/accounts"))
    r = blue.post(f"/aml/exchanges/{consortium.BLUE_RIVER}/approve", data={"csrf": token, "record_hash": "a" * 64},
                  headers=JSON)  # fmt: skip
    assert r.status_code == 403


# -- the analyst's pages ------------------------------------------------------------------------------------------


def test_the_queue_lists_alerts_and_violations_and_filters_them(site: Site) -> None:
    client = site.client(ANALYST)
    html = page(client, "/aml/alerts")
    kinds = dict(zip(ids(html, "data-id"), ids(html, "data-kind"), strict=True))
    assert kinds[site.blue_alert] == "alert" and kinds[site.summit_alert] == "alert"
    assert "violation" in kinds.values() and "B-EUR" in html
    assert shown("policy_usd_only") in html and shown("typology_structuring") in html
    # By typology: structuring only.
    only = page(client, "/aml/alerts?typology=structuring")
    assert set(ids(only, "data-typology")) == {"structuring"}
    assert {site.blue_alert, site.summit_alert} <= set(ids(only, "data-id"))
    # By date (New York days): Summit's run was on 3 November, Blue River's on 24 November.
    early = ids(page(client, "/aml/alerts?typology=structuring&until=2026-11-10"), "data-id")
    assert site.summit_alert in early and site.blue_alert not in early
    late = ids(page(client, "/aml/alerts?typology=structuring&since=2026-11-20"), "data-id")
    assert site.blue_alert in late and site.summit_alert not in late
    # By status: both are in cases now; none is new.
    assert site.blue_alert not in page(client, "/aml/alerts?typology=structuring&status=new")
    assert site.blue_alert in page(client, "/aml/alerts?status=in_case")
    # By score: above any alert's score, nothing.
    assert ids(page(client, "/aml/alerts?min_score=99"), "data-kind") in ([], ["violation"])
    # Unreadable filters are ignored, never an error.
    assert page(client, "/aml/alerts?min_score=abc&since=yesterday&typology=<script>")


def test_a_ctr_alert_points_to_the_ctr_due(site: Site) -> None:
    client = site.client(ANALYST)
    ctr = ids(page(client, "/aml/alerts?typology=ctr"), "data-id")
    assert ctr, "no CTR alert for more than $10,000 of cash in a business day"
    html = page(client, f"/aml/alerts/{ctr[0]}")
    assert (
        shown("typology_ctr") in html and 'href="/aml/decisions#ctrs"' in html and shown("rule_ctr_aggregate") in html
    )


def test_an_alerts_page_says_why_in_words_and_draws_its_graph(site: Site) -> None:
    html = page(site.client(ANALYST), f"/aml/alerts/{site.blue_alert}")
    rules = ids(html, "data-rule")
    assert "structuring" in rules and len(rules) == len(set(rules))
    for rule in rules:
        assert shown(f"rule_{rule}") in html and shown(f"rule_means_{rule}") in html
    assert "31 USC 5324" in html  # the rule's legal source, from rules.toml
    # The graph: accounts as nodes, transfers as arrows coloured by week, a legend naming each week.
    graph = re.search(r'<svg class="chart aml-graph".*?</svg>', html, re.S)
    assert graph, "no counterparty graph"
    nodes = set(ids(graph.group(0), "data-account"))
    assert {BLUE_OPS, CASH_ACCOUNT} <= nodes and BLUE_SETTLE in nodes
    weeks = set(ids(graph.group(0), "data-week"))
    assert len(weeks) >= 2, weeks  # 16–18 Nov and 24–25 Nov fall in two weeks
    assert "Week of 16 Nov 2026" in html and "Week of 23 Nov 2026" in html
    # The timeline's ticks are round (1, 2 or 5 × 10ⁿ apart) and its axes name unit and zone.
    timeline = re.search(r'<svg class="chart aml-timeline".*?</svg>', html, re.S)
    assert timeline
    ticks = [float(v) for v in re.findall(r'class="tick y-tick" data-value="([0-9.]+)"', timeline.group(0))]
    assert ticks == list(nice_ticks(0, max(ticks), 5)) and ticks[-1] >= 9800
    assert "Amount (USD)" in timeline.group(0) and "Day (Eastern Time)" in timeline.group(0)
    assert "B-003" in html and "$9,500.00" in html and "Cash deposit" in html
    # The bank's accounts link to their pages; the teller's drawer is no account.
    assert f'href="/aml/accounts/{BLUE_OPS}"' in html and 'href="/aml/accounts/CASH"' not in html


def test_opening_a_case_from_an_alert_and_working_it(site: Site) -> None:
    analyst = site.client(ANALYST)
    bank = AmlService.as_user(site.network, consortium.BANK, "client")
    # A fresh alert: cash split under the threshold on Blue River's settlement account.
    for n, (clock, amount) in enumerate((("09:00", "9900.00"), ("11:00", "9850.00"), ("13:00", "9700.00")), 1):
        bank.post_transaction(tx(f"C-00{n}", at("2026-11-30", clock), CASH_ACCOUNT, BLUE_SETTLE, amount, CASH_DEPOSIT))
    queue = page(analyst, "/aml/alerts?typology=structuring&status=new")
    fresh = ids(queue, "data-id")
    assert fresh, "the new structuring alert is not in the queue"
    alert_html = page(analyst, f"/aml/alerts/{fresh[0]}")
    r = analyst.post("/aml/cases", data={"csrf": csrf_of(alert_html), "alert_id": fresh[0]}, headers=HTML,
                     follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    case_path = r.headers["location"].split("?")[0]
    case = page(analyst, r.headers["location"])
    assert shown("notice_opened") in case and shown("case_status_open") in case
    # Deadline: 30 days from detection on 30 November (New York), so 30 December, counted down in days.
    assert "30 Dec 2026" in case and 'data-kind="file_sar"' in case
    assert shown("basis_file_sar", day="30 Nov 2026") in case
    token = csrf_of(case)
    steps = [
        {"event": "assign", "assignee": "analyst2"},
        {"event": "note", "text": "Deposits at three branches, same teller window."},
        {"event": "evidence", "kind": "statement", "reference": "stmt/BRX-SETTLE-002/2026-11.pdf",
         "sha256": "ab" * 32, "text": "November statement"},
        {"event": "suspect", "identified": "no"},
    ]  # fmt: skip
    for step in steps:
        r = analyst.post(f"{case_path}/steps", data={"csrf": token, **step}, headers=HTML, follow_redirects=False)
        assert r.status_code == 303, (step, r.text[:500])
    case = page(analyst, case_path)
    assert shown("case_status_investigating") in case
    assert "analyst2" in case and "Deposits at three branches" in case and "stmt/BRX-SETTLE-002" in case
    # No suspect identified: up to 60 days, so 29 January 2027.
    assert "29 Jan 2027" in case and shown("basis_file_sar_no_suspect", day="30 Nov 2026") in case
    no_iso_times(case)
    assert [e for e in ids(case, "data-event")] == ["open", "assign", "note", "evidence", "suspect"]
    # The analyst cannot decide: the form is the BSA officer's, and the contract refuses a forged one.
    assert 'id="decide-form"' not in case
    r = analyst.post(f"{case_path}/steps", data={"csrf": token, "event": "decide", "decision": "sar",
                                                "text": "mine to decide"}, headers=JSON)  # fmt: skip
    assert r.status_code == 403, r.text
    # A bad step is refused with what was expected.
    r = analyst.post(f"{case_path}/steps", data={"csrf": token, "event": "evidence", "reference": "x", "sha256": "no"},
                     headers=JSON)  # fmt: skip
    assert r.status_code == 400 and "SHA-256" in r.json()["detail"]
    # The BSA officer decides from the same page, previews the SAR and files it from the preview.
    officer = site.client(BSA)
    case = page(officer, case_path)
    assert 'id="decide-form"' in case
    r = officer.post(f"{case_path}/steps", data={"csrf": csrf_of(case), "event": "decide", "decision": "sar",
                                                "text": "cash split across branches\nno business reason given"},
                     headers=HTML, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text[:500]
    case = page(officer, case_path)
    assert 'data-decision="sar"' in case and "no business reason given" in case
    preview = page(officer, f"{case_path}/sar")
    assert 'id="file-button"' in preview and "$29,450.00" in preview  # 9,900 + 9,850 + 9,700
    digest = re.search(r'id="sar-hash">([0-9a-f]{64})<', preview)
    assert digest
    assert 'id="file-button"' not in page(analyst, f"{case_path}/sar")  # the analyst previews, never files
    r = analyst.post(f"{case_path}/sar", data={"csrf": token}, headers=JSON)
    assert r.status_code == 403
    r = officer.post(f"{case_path}/sar", data={"csrf": csrf_of(preview)}, headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?notice=filed")
    case = page(officer, r.headers["location"])
    assert shown("notice_filed") in case and 'data-status="filed"' in case
    # What was filed is what was previewed: the same bytes, the same hash on the case's record.
    assert digest.group(1) in case


def test_the_sar_preview_reads_the_xml_for_a_person_and_downloads_it(site: Site) -> None:
    client = site.client(BSA)
    html = page(client, f"/aml/cases/{site.blue_case}/sar")
    assert "Structuring" in html and "Transaction(s) below CTR threshold" in html  # FinCEN's names, not 1/114
    assert "Blue River Digital Exchange, Inc." in html and BLUE_OPS in html
    assert "$29,000.00" in html or "$29,000" in html  # 9,500 + 9,800 + 9,700
    assert "24 Nov 2026" in html
    r = client.get(f"/aml/cases/{site.blue_case}/sar.xml", headers=HTML)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    assert 'attachment; filename="SAR-' in r.headers["content-disposition"]
    root = etree.fromstring(r.content)
    assert root.find("{www.fincen.gov/base}FormTypeCode").text == "SARX"
    # The filed SAR's hash is on the case and the trail.
    case = page(client, f"/aml/cases/{site.blue_case}")
    assert site.filing_hash[:16] in case and shown("case_status_filed") in case


def test_decisions_and_deadlines_overdue_first(site: Site) -> None:
    html = page(site.client(BSA), "/aml/decisions")
    due = [
        int(d) for d in re.findall(r'class="aml-row aml-due-row[^"]*" data-case-id="[^"]+" data-days="(-?\d+)"', html)
    ]
    assert due, "no deadlines listed"
    # The case detected on 3 November comes first: its 30 days ran out on 3 December.
    first = re.search(r'class="aml-row aml-due-row[^"]*" data-case-id="([^"]+)" data-days="(-?\d+)"', html)
    assert first and first.group(1) == site.overdue_case and int(first.group(2)) < 0
    assert "3 Dec 2026" in html and re.search(r'id="overdue-count">\d+ deadlines? (is|are) overdue\.<', html)
    awaiting = html.split('id="awaiting"')[1].split("</section>")[0]
    assert site.overdue_case in awaiting
    overdue = [d for d in due if d < 0]
    assert due[: len(overdue)] == sorted(overdue) and all(d >= 0 for d in due[len(overdue) :])
    assert due[len(overdue) :] == sorted(due[len(overdue) :])
    made = html.split('id="decided"')[1]
    decided = dict(zip(ids(made, "data-case-id"), ids(made, "data-decision"), strict=True))
    assert decided[site.blue_case] == "sar" and decided[site.summit_case] == "no_sar"
    assert "payroll float documented by the exchange" in html
    assert shown("decision_no_sar") in html


def test_the_bsa_officer_files_a_ctr_from_the_deadlines_page(site: Site) -> None:
    officer = site.client(BSA)
    html = page(officer, "/aml/decisions")
    due = re.findall(r'<li data-account="([^"]+)" data-day="([^"]+)" data-filed="no">', html)
    assert (BLUE_OPS, "2026-11-24") in due and (SUMMIT_OPS, "2026-11-03") in due
    # Summit's CTR was due on 18 November (15 days after 3 November): overdue, and listed before Blue River's.
    assert due.index((SUMMIT_OPS, "2026-11-03")) < due.index((BLUE_OPS, "2026-11-24")) and "18 Nov 2026" in html
    # Only the BSA officer files; the analyst's attempt is refused.
    form = {"csrf": csrf_of(html), "account": BLUE_OPS, "day": "2026-11-24"}
    analyst = site.client(ANALYST)
    r = analyst.post("/aml/ctr", data={**form, "csrf": csrf_of(page(analyst, "/aml/decisions"))}, headers=JSON)
    assert r.status_code == 403
    r = officer.post("/aml/ctr", data=form, headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/aml/decisions?notice=ctr"
    html = page(officer, "/aml/decisions?notice=ctr")
    assert shown("notice_ctr") in html
    filed = re.search(rf'<li data-account="{BLUE_OPS}" data-day="2026-11-24" data-filed="yes">(.*?)</li>', html, re.S)
    assert filed and "Filed on " in filed.group(1) and "SHA-256" in filed.group(1)
    assert 'class="ctr-file"' not in filed.group(1)
    # A day with no cash over $10,000 has no CTR: refused, naming why.
    r = officer.post("/aml/ctr", data={**form, "day": "2026-11-16"}, headers=JSON)
    assert r.status_code in (400, 409) and r.json()["detail"]


def test_countdown_in_new_york_days() -> None:
    today = date(2026, 12, 6)
    assert views.countdown(date(2026, 12, 18), today, "en")["text"] == "due in 12 days"
    assert views.countdown(date(2026, 12, 7), today, "en")["text"] == "due in 1 day"
    assert views.countdown(today, today, "en")["text"] == "due today"
    assert views.countdown(date(2026, 12, 3), today, "en") | {} == {
        "text": "3 days overdue", "state": "overdue", "days": -3, "date": "3 Dec 2026"}  # fmt: skip
    # 04:30 UTC on 7 December is still 6 December in New York.
    assert views.today_in_new_york(datetime(2026, 12, 7, 4, 30, tzinfo=UTC)) == today


# -- the examiner's audit trail -------------------------------------------------------------------------------------


def test_every_step_of_the_trail_carries_a_proof_that_verifies(site: Site) -> None:
    examiner = site.client(EXAMINER)
    html = page(examiner, "/aml/audit")
    steps = ids(html, 'class="card aml-step" data-kind="[a-z_]+" data-tx-id')
    kinds = set(ids(html, 'class="card aml-step" data-kind'))
    assert {"alert", "case", "filing", "violation", "note"} <= kinds or {"alert", "case", "violation"} <= kinds
    assert site.violation_tx in steps
    assert html.count("data-verify-proof=") == len(steps) and "/static/verify-widget.js" in html
    for tx_id in dict.fromkeys(steps):
        r = examiner.get(f"/aml/records/{tx_id}/proof", headers=JSON)
        assert r.status_code == 200, (tx_id, r.text[:300])
        check_proof(r.json())  # raises when the proof does not hold
    # Each step says what it is about in words, and links to its record's page.
    assert f'href="/aml/cases/{site.blue_case}"' in html and f'href="/aml/alerts/{site.blue_alert}"' in html
    assert (
        shown("step_filing") in html and shown("trail_posting") in html and "Blue River Digital Exchange, Inc." in html
    )
    assert f"{site.blue_case} open" not in html  # the contract's subject line, never shown raw
    # The consistency route the verifier uses when it has seen an older header.
    r = examiner.get("/aml/consistency?from=0&to=1", headers=JSON)
    assert r.status_code == 200 and r.json()["channel"] == consortium.CHANNEL
    # A transaction id of no record: a not-found page for a person.
    r = examiner.get("/aml/records/" + "f" * 64 + "/proof", headers=HTML)
    assert r.status_code == 404 and shown("error_404_title") in r.text


# -- the graph, alone -----------------------------------------------------------------------------------------------


def test_the_graph_bows_parallel_transfers_apart_and_fits_a_phone() -> None:
    transfers = [
        Transfer("t1", "A", "B", Decimal("1000"), date(2026, 11, 2)),
        Transfer("t2", "A", "B", Decimal("2000"), date(2026, 11, 10)),
        Transfer("t3", "B", "A", Decimal("500"), date(2026, 11, 11), 2, in_alert=False),
        Transfer("t4", "B", "C", Decimal("7000"), date(2026, 11, 17)),
    ]
    drawing = draw(transfers, ["A"], "en", lambda key, **p: CATALOGUE.text("en", key, **p))
    assert drawing is not None
    svg = str(drawing.graph)
    paths = re.findall(r'<path class="edge[^"]*" data-tx-id="(t\d)"[^>]* d="([^"]+)"', svg)
    assert len(paths) == 4 and len({d for _, d in paths}) == 4  # no arrow drawn over another
    assert 'viewBox="0 0 420 300"' in svg and "width=" not in svg.split(">")[0]
    assert [w.label for w in drawing.weeks] == ["Week of 2 Nov 2026", "Week of 9 Nov 2026", "Week of 16 Nov 2026"]
    assert "$500.00 in 2 transfers from B to A on 11 Nov 2026" in svg
    assert draw([], [], "en", lambda key, **p: "") is None


def test_a_busy_accounts_graph_keeps_its_own_accounts_and_the_largest_counterparties() -> None:
    transfers = [
        Transfer(f"t{n}", f"PAYER-{n:02d}", "FOCUS-1", Decimal(100 + n), date(2026, 11, 2 + n % 20), in_alert=False)
        for n in range(30)
    ] + [Transfer("x", "FOCUS-1", "FOCUS-2", Decimal(50), date(2026, 11, 25))]
    drawing = draw(transfers, ["FOCUS-1", "FOCUS-2"], "en", lambda key, **p: CATALOGUE.text("en", key, **p))
    assert drawing is not None and len(drawing.accounts) == MAX_NODES and drawing.hidden == 32 - MAX_NODES
    assert {"FOCUS-1", "FOCUS-2", "PAYER-29", "PAYER-18"} <= set(drawing.accounts)  # the largest payers
    assert "PAYER-00" not in drawing.accounts


def test_trail_subjects_in_words() -> None:
    assert views.trail_subject("case", "C-12ab decide", "en") == {
        "code": "C-12ab", "text": "Decision", "link": "/aml/cases/C-12ab"}  # fmt: skip
    assert views.trail_subject("filing", "CTR BRX-OPS-001 2026-11-24", "en")["text"].endswith("24 Nov 2026")
    assert views.trail_subject("accounts", "SummitExchange: 2 opened", "en")["text"] == (
        "Summit Crypto Exchange LLC: 2 accounts opened"
    )
    assert views.trail_subject("posting", "1 transactions", "en")["text"] == "1 transaction"
    assert views.trail_subject("refusal", "note (FORBIDDEN)", "en") == {
        "code": "note (FORBIDDEN)", "text": "", "link": ""}  # fmt: skip


def test_rule_hits_in_words_keep_the_measure_and_the_transaction() -> None:
    hit = RuleHit("structuring", 0.4, "structuring: $29,000.00 at B-005")
    words = views.rule_hit(hit, "en")
    assert words["measured"] == "$29,000.00" and words["tx"] == "B-005" and words["weight"] == "0.40"
    assert words["name"] == CATALOGUE.text("en", "rule_structuring") and "31 USC 5324" in words["source"]
    # Several hits of one rule are one entry (a typology counts a rule once), with every measurement.
    again = RuleHit("structuring", 0.4, "structuring: $38,700.00 at B-006")
    grouped = views.rule_hits([hit, again, hit, RuleHit("recurring", 0.3, "recurring: active in two weeks")], "en")
    assert [g["rule"] for g in grouped] == ["structuring", "recurring"]
    assert grouped[0]["measurements"] == [{"measured": "$29,000.00", "tx": "B-005"},
                                          {"measured": "$38,700.00", "tx": "B-006"}]  # fmt: skip
