"""The trade-finance pages over a real embedded network with the contract deployed, through the gateway app.

One network per module: Zhuhai's bank registers, finances and disburses an invoice and registers a bill of lading,
which Guangzhou's bank is presented too (REDU, then refused financing: no KYC); Shenzhen's bank has a current KYC
attestation of the seller. Then, as a Shenzhen officer, an HK officer, a PBoC examiner and nobody, through
Starlette's test client: every page in every language (nothing untranslated, no key missing), the member who must
not get in (anonymous → 401, an officer on the dashboard → 403, one bank never reaching another's documents or
records), an upload with disguised duplicates (DFIN, REDU), a look-alike with its reasons, a bad file (row and
field named, nothing stored), financing from the page, the dashboard's figures down to verified proofs, the
money's trail, the refusals, exports, flags.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from consortia.apps.tradefinance import consortium
from consortia.apps.tradefinance.domain.csvrows import COLUMNS, parse_csv
from consortia.apps.tradefinance.service.tradefinance import Refused, TradeFinanceError, TradeFinanceService
from consortia.apps.tradefinance.web import install, views
from consortia.apps.tradefinance.web.charts import Segment, Series, columns
from consortia.apps.tradefinance.web.text import CATALOGUE, LANGUAGES
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.ledger.config import BatchConfig
from consortia.ledger.proof import check_proof
from consortia.network.embedded import EmbeddedNetwork
from consortia.ui.i18n import untranslated
from consortia.ui.ticks import nice_ticks

PASSWORD = consortium.DEMO_PASSWORD
SHENZHEN_OFFICER = f"{consortium.SHENZHEN}/{consortium.OFFICER}"
HK_OFFICER = f"{consortium.HONG_KONG}/{consortium.OFFICER}"
MACAU_OFFICER = f"{consortium.MACAU}/{consortium.OFFICER}"
EXAMINER = f"{consortium.PBOC}/{consortium.EXAMINER}"
HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}

SELLER = "91440300MA5F1ABC02"
"""A Shenzhen enterprise's unified social credit code (both check characters valid)."""
SELLER_FULL_WIDTH = "９１４４０３００ＭＡ５Ｆ１ＡＢＣ０２"
OTHER_SELLER = "91440300MA5G2DEF92"
BUYER_HK = "12345678"
BUYER_MO = "12345 (SO)"

INVOICE = {
    "doc_type": "invoice",
    "doc_number": "INV-2026-0001",
    "seller_id": SELLER,
    "seller_name": "深圳甲贸易有限公司",
    "buyer_id": BUYER_HK,
    "buyer_name": "Harbour Trading Ltd",
    "issue_date": "2026-11-02",
    "amount": "125000.00",
    "currency": "CNY",
}
BILL = {
    "doc_type": "bill_of_lading",
    "doc_number": "BL-8800123",
    "seller_id": SELLER,
    "seller_name": "深圳甲贸易有限公司",
    "buyer_id": BUYER_MO,
    "buyer_name": "Companhia Comercial Hou Kong",
    "issue_date": "2026-11-05",
    "amount": "88000",
    "currency": "HKD",
    "bl_number": "COSU6182735410",
    "vessel": "COSCO SHIPPING ARIES",
    "port_of_loading": "Shenzhen Yantian",
}
INVOICE_DISGUISED = {
    **INVOICE,
    "doc_number": "inv 2026 0001",
    "seller_id": SELLER_FULL_WIDTH,
    "issue_date": "2026年11月2日",
    "amount": "125,000",
    "currency": "RMB",
}
BILL_DISGUISED = {
    **BILL,
    "doc_number": "bl8800123",
    "buyer_id": "SO 12345",
    "issue_date": "05/11/2026",
    "amount": "88,000.00",
    "currency": "HK$",
    "bl_number": "cosu 6182735410",
    "vessel": "Cosco Shipping Aries",
}
FRESH_INVOICE = {**INVOICE, "doc_number": "SZ-INV-7731", "amount": "46200.00", "issue_date": "2026-11-20",
                 "seller_id": OTHER_SELLER, "seller_name": "深圳乙电子有限公司"}  # fmt: skip


def csv_of(bank: str, *documents: Mapping[str, str]) -> str:
    """A CSV file of documents presented by ``bank``, with the header."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for document in documents:
        writer.writerow([bank if c == "bank" else document.get(c, "") for c in COLUMNS])
    return out.getvalue()


@dataclass(frozen=True)
class Site:
    """The network, the gateway app, and what the module's set-up left on the ledger."""

    network: EmbeddedNetwork
    app: FastAPI
    financed_tx: str
    """The transaction of Zhuhai's financing of :data:`INVOICE` (a record Shenzhen must not reach)."""
    zhuhai_doc_ref: str
    disbursement_tx: str
    """The transaction of that financing's disbursement to Hong Kong."""

    def client(self, username: str | None = None) -> TestClient:
        """A test client, logged in as ``username`` when given."""
        client = TestClient(self.app)
        if username:
            r = client.post("/api/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
        return client


def build_site(folder: Path, *, secure_cookies: bool | None = False) -> Site:
    """A trade-finance network with Zhuhai's financed invoice and registered bill, and the app serving it."""
    network = EmbeddedNetwork.create(folder, consortium.network_spec(BatchConfig(max_transactions=100, timeout_ms=15)))
    consortium.deploy(network)
    zhuhai = TradeFinanceService.as_user(network, consortium.ZHUHAI)
    zhuhai.register_trader(SELLER, {"zh-Hans": "深圳甲贸易有限公司", "zh-Hant": "深圳甲貿易有限公司",
                                    "en": "Shenzhen Jia Trading Co., Ltd."})  # fmt: skip
    zhuhai.register_trader(OTHER_SELLER, {"zh-Hans": "深圳乙电子有限公司", "zh-Hant": "深圳乙電子有限公司",
                                          "en": "Shenzhen Yi Electronics Co., Ltd."})  # fmt: skip
    zhuhai.register_trader(BUYER_HK, {"zh-Hans": "海港贸易有限公司", "zh-Hant": "海港貿易有限公司",
                                      "en": "Harbour Trading Ltd"})  # fmt: skip
    zhuhai.register_trader(
        BUYER_MO,
        {
            "zh-Hans": "濠江商业公司",
            "zh-Hant": "濠江商業公司",
            "en": "Hou Kong Commercial Company",
            "pt": "Companhia Comercial Hou Kong",
        },
    )
    for service in (zhuhai, TradeFinanceService.as_user(network, consortium.SHENZHEN)):
        for seller in (SELLER, OTHER_SELLER):
            service.attest_kyc(seller, "standard", "2026-01-05", "2099-01-05", {"reviewed_by": "compliance"})
    [invoice, _] = zhuhai.register_documents(parse_csv(csv_of(consortium.ZHUHAI, INVOICE, BILL)))
    financing = zhuhai.apply_financing(invoice.doc_ref, "100000", "CNY")
    assert str(financing.status) == "FNCD", financing
    zhuhai.approve(financing.financing_id)
    disbursed = zhuhai.disburse(financing.financing_id, amount="100000", currency="CNY", counterparty_country="HK",
                                purpose_code="121010", account_ref="ZH-001-778899")  # fmt: skip
    # Guangzhou's bank is presented the same bill of lading: a duplicate attempt for the dashboard from the start.
    guangzhou = TradeFinanceService.as_user(network, consortium.GUANGZHOU)
    [copy] = guangzhou.register_documents(parse_csv(csv_of(consortium.GUANGZHOU, BILL_DISGUISED)))
    assert str(copy.status) == "REDU", copy
    # … and applies to finance it without a KYC attestation of the seller: refused, and the refusal logged.
    with pytest.raises(Refused) as refused:
        guangzhou.apply_financing(copy.doc_ref, "88000", "HKD")
    assert refused.value.code == "KYC"
    app = create_app(network, ServerSettings(secure_cookies=secure_cookies))
    install(app, app.state.backend)  # idempotent: a no-op when the plug-in's entry point already installed it
    return Site(network, app, financing.tx_id, invoice.doc_ref, disbursed.flows[0].tx_id)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = build_site(tmp_path_factory.mktemp("tf-web") / "net")
    try:
        yield built
    finally:
        built.network.close()


def csrf_of(html: str) -> str:
    """The session's CSRF token, as a page's forms carry it."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has no form with the session's CSRF token"
    return match.group(1)


def upload(client: TestClient, text: str, lang: str = "en") -> tuple[int, str]:
    """Post a CSV through the officer's upload form, as a browser does (multipart, with the token)."""
    page = client.get(f"/tradefinance/documents?lang={lang}", headers=HTML)
    assert page.status_code == 200, page.text
    r = client.post(
        "/tradefinance/documents",
        data={"csrf": csrf_of(page.text)},
        files={"file": ("documents.csv", text.encode("utf-8"), "text/csv")},
        headers=HTML,
    )
    return r.status_code, r.text


def statuses(html: str) -> dict[int, str]:
    """Row number → status of this registration's results on the officer's page."""
    return {int(row): status for row, status in re.findall(r'class="tf-result" data-row="(\d+)" data-status="(\w+)"',
                                                           html)}  # fmt: skip


# -- acceptance: duplicates caught on upload, and nothing of another bank shown -----------------------------------


def test_an_upload_with_disguised_duplicates_shows_dfin_and_redu(site: Site) -> None:
    """A copy of a financed invoice is DFIN, a copy of a registered bill REDU, a new invoice REGU; by name."""
    officer = site.client(SHENZHEN_OFFICER)
    status, html = upload(officer, csv_of(consortium.SHENZHEN, INVOICE_DISGUISED, BILL_DISGUISED, FRESH_INVOICE))
    assert status == 200, html
    assert statuses(html) == {1: "DFIN", 2: "REDU", 3: "REGU"}
    for code in ("DFIN", "REDU", "REGU"):
        assert CATALOGUE.text("en", f"status_{code}") in html and CATALOGUE.text("en", f"explain_{code}") in html
    # The other bank is only ever "another member bank": neither its name nor its identifier appears.
    for name in (consortium.ZHUHAI, *consortium.DISPLAY[consortium.ZHUHAI].values()):
        assert name not in html
    assert site.zhuhai_doc_ref not in html
    # The bank's own list now carries the three documents, each with its status.
    mine = officer.get("/tradefinance/documents?lang=zh-Hans", headers=HTML).text
    assert mine.count('class="tf-doc"') == 3
    assert CATALOGUE.text("zh-Hans", "status_DFIN") in mine


def test_a_look_alike_is_flagged_with_its_reasons_in_words(site: Site) -> None:
    """The next invoice of the same parties, 0.4 % more and a day later: registered, flagged as suspiciously
    similar to "another member bank"'s document, with the reasons in the page's language."""
    officer = site.client(HK_OFFICER)
    near = {**INVOICE, "doc_number": "INV-2026-0002", "amount": "125500.00", "issue_date": "2026-11-03"}
    status, html = upload(officer, csv_of(consortium.HONG_KONG, near), "zh-Hant")
    assert status == 200 and statuses(html) == {1: "REGU"}
    result = html[html.index('class="tf-result"') : html.index('id="upload"')]
    risks = re.findall(r'<li class="risk-\w+" data-risk="(\w+)">', result)  # Zhuhai's, and Shenzhen's copy
    assert risks
    for risk in risks:
        assert CATALOGUE.text("zh-Hant", "similar_hit", risk=CATALOGUE.text("zh-Hant", f"risk_{risk}")) in result
    for reason in ("reason_same_parties", "reason_amount_close", "reason_dates_close"):
        assert CATALOGUE.text("zh-Hant", reason) in result
    assert CATALOGUE.text("zh-Hant", "reason_other") not in result  # every reason the contract gives has words
    assert untranslated(html, "zh-Hant") == []
    for name in (consortium.ZHUHAI, *consortium.DISPLAY[consortium.ZHUHAI].values(), site.zhuhai_doc_ref):
        assert name not in html


def test_a_bad_file_names_row_and_field_and_registers_nothing(site: Site) -> None:
    """An invalid USCC in row 2 and an unknown currency in row 3: 400, each named; no row of the file stored."""
    officer = site.client(HK_OFFICER)
    bad = csv_of(
        consortium.HONG_KONG,
        {**FRESH_INVOICE, "doc_number": "HK-OK-1"},
        {**FRESH_INVOICE, "doc_number": "HK-BAD-2", "seller_id": "91440300MA5F1ABC03"},
        {**FRESH_INVOICE, "doc_number": "HK-BAD-3", "currency": "XYZ"},
    )
    before = officer.get("/tradefinance/documents", headers=HTML).text.count('class="tf-doc"')
    status, html = upload(officer, bad, "zh-Hant")
    assert status == 400
    problems = set(re.findall(r'data-row="(\d+)" data-field="(\w*)"', html))
    assert ("2", "seller_id") in problems and ("3", "currency") in problems
    assert "第2行" in html and CATALOGUE.text("zh-Hant", "field_seller_id") in html
    # What a valid value looks like, in the page's language, beside what was found.
    expected = CATALOGUE.text("zh-Hant", "expected_found", expected=CATALOGUE.text("zh-Hant", "expect_seller_id"))
    assert f"{expected} <code>91440300MA5F1ABC03</code>" in html
    assert "<code>XYZ</code>" in html and CATALOGUE.text("zh-Hant", "expect_currency") in html
    for lang in ("zh-Hans", "en"):
        status, page = upload(officer, bad, lang)
        assert status == 400 and untranslated(page, lang) == [], lang
    assert untranslated(html, "zh-Hant") == []
    assert html.count('class="tf-doc"') == before  # nothing of the file, row 1 included, was registered
    assert "HK-OK-1" not in html
    # Rows of another bank are refused the same way (the officer presents only their own bank's documents).
    status, html = upload(officer, csv_of(consortium.SHENZHEN, {**FRESH_INVOICE, "doc_number": "HK-X-1"}))
    assert status == 400 and 'data-field="bank"' in html


def test_a_registration_the_service_refuses_is_reported_and_nothing_shown_as_registered(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: the service fails the submission (a conflict at commit). The page says nothing was
    registered, with the status's title and the service's words, and answers 409."""

    def conflict(self: TradeFinanceService, rows: object) -> object:
        raise TradeFinanceError("the endorsement went stale: submit again", "CONFLICT")

    monkeypatch.setattr(TradeFinanceService, "register_documents", conflict)
    rows = csv_of(consortium.HONG_KONG, {**FRESH_INVOICE, "doc_number": "HK-C"})
    status, html = upload(site.client(HK_OFFICER), rows)
    assert status == 409 and 'id="csv-errors"' in html and 'id="results"' not in html
    assert CATALOGUE.text("en", "error_409_title") in html and "submit again" in html


def test_one_document_form_and_financing_from_the_page(site: Site) -> None:
    """The one-document form registers like an upload; applying finances it (FNCD); applying again is refused."""
    officer = site.client(MACAU_OFFICER)
    page = officer.get("/tradefinance/documents?lang=en", headers=HTML)
    form = {**FRESH_INVOICE, "doc_number": "MO-7001", "amount": "51800", "issue_date": "2026-11-26",
            "csrf": csrf_of(page.text)}  # fmt: skip
    r = officer.post("/tradefinance/documents/one", data=form, headers=HTML)
    assert r.status_code == 200 and statuses(r.text) == {1: "REGU"}
    [doc_ref] = re.findall(r'class="tf-doc" data-doc-ref="([^"]+)" data-status="REGU"', r.text)
    # Macau's bank holds no KYC attestation of the seller: the contract refuses, and the page says why.
    apply = {"csrf": csrf_of(r.text), "doc_ref": doc_ref, "amount": "40000", "currency": "CNY"}
    r = officer.post("/tradefinance/financings", data=apply, headers=HTML)
    assert r.status_code == 200 and "tf-notice-REFUSED" in r.text and "<code>KYC</code>" in r.text
    TradeFinanceService.as_user(site.network, consortium.MACAU).attest_kyc(
        OTHER_SELLER, "standard", "2026-01-05", "2099-01-05", {"reviewed_by": "compliance"}
    )
    r = officer.post("/tradefinance/financings", data=apply, headers=HTML)
    assert r.status_code == 200 and "tf-notice-FNCD" in r.text
    assert re.search(rf'data-doc-ref="{re.escape(doc_ref)}" data-status="FNCD"', r.text)
    # A form without the session's token changes nothing.
    r = officer.post("/tradefinance/financings", data={**apply, "csrf": "forged"}, headers=HTML)
    assert r.status_code == 403


def test_an_officer_cancels_a_registration(site: Site) -> None:
    """Cancelling shows CANC by name; another bank's document cannot be cancelled from here (404)."""
    officer = site.client(f"{consortium.GUANGZHOU}/{consortium.OFFICER}")
    page = officer.get("/tradefinance/documents?lang=zh-Hans", headers=HTML)
    form = {**FRESH_INVOICE, "doc_number": "GZ-501", "amount": "7300", "csrf": csrf_of(page.text)}
    r = officer.post("/tradefinance/documents/one", data=form, headers=HTML)
    [doc_ref] = re.findall(r'class="tf-result" data-row="1" data-status="REGU" data-doc-ref="([^"]+)"', r.text)
    r = officer.post(f"/tradefinance/documents/{doc_ref}/cancel", data={"csrf": csrf_of(r.text)}, headers=HTML)
    assert r.status_code == 200 and "tf-notice-CANC" in r.text
    assert re.search(rf'data-doc-ref="{re.escape(doc_ref)}" data-status="CANC"', r.text)
    assert CATALOGUE.text("zh-Hans", "status_CANC") in r.text and untranslated(r.text, "zh-Hans") == []
    r = officer.post(f"/tradefinance/documents/{site.zhuhai_doc_ref}/cancel", data={"csrf": csrf_of(r.text)},
                     headers=HTML)  # fmt: skip
    assert r.status_code == 404


def test_an_officer_attests_a_traders_kyc_from_the_registry(site: Site) -> None:
    """Hong Kong's officer attests the HK buyer: the registry then shows the attestation by Hong Kong's bank, by
    level name; the note (the KYC file) is not on the page. A bad expiry is refused with a page that says so."""
    officer = site.client(HK_OFFICER)
    page = officer.get("/tradefinance/traders?lang=zh-Hant", headers=HTML).text
    trader = f"HKBR:{BUYER_HK}"
    assert f'data-attest="{trader}"' in page
    form = {"csrf": csrf_of(page), "trader": trader, "level": "enhanced", "expiry": "2099-12-31",
            "note": "visited the premises"}  # fmt: skip
    r = officer.post("/tradefinance/traders/kyc", data=form, headers=HTML)
    assert r.status_code == 200 and "tf-notice-KYC" in r.text and untranslated(r.text, "zh-Hant") == []
    entry = r.text[r.text.index(f'data-trader="{trader}"') :]
    entry = entry[: entry.index("</li>")]
    assert CATALOGUE.text("zh-Hant", "kyc_by", bank=consortium.DISPLAY[consortium.HONG_KONG]["zh-Hant"]) in entry
    assert CATALOGUE.text("zh-Hant", "kyc_level_enhanced") in entry
    assert f'data-attest="{trader}"' not in r.text and "visited the premises" not in r.text
    expired = {**form, "trader": f"USCC:{OTHER_SELLER}", "expiry": "2001-01-01"}
    r = officer.post("/tradefinance/traders/kyc", data=expired, headers=HTML)
    assert r.status_code == 400 and 'id="error"' in r.text
    # A regulator reads the registry but attests nothing.
    assert "data-attest=" not in site.client(EXAMINER).get("/tradefinance/traders", headers=HTML).text


# -- who must not get in ------------------------------------------------------------------------------------------

PAGES = (
    "/tradefinance",
    "/tradefinance/documents",
    "/tradefinance/traders",
    "/tradefinance/oversight",
    "/tradefinance/oversight/records?set=financings",
    "/tradefinance/oversight/export.csv",
    "/tradefinance/oversight/export.xlsx",
)


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_gets_401_a_page_for_people_and_problem_details_for_programs(site: Site, path: str) -> None:
    anonymous = site.client()
    r = anonymous.get(path, headers=HTML)
    assert r.status_code == 401 and r.headers["content-type"].startswith("text/html")
    assert 'id="login-link"' in r.text and "/login?next=" in r.text
    r = anonymous.get(path, headers={"accept": "application/json"})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 401 and r.json()["code"] == "UNAUTHENTICATED"


def test_anonymous_cannot_post_or_fetch_proofs(site: Site) -> None:
    anonymous = site.client()
    flag = f"/tradefinance/records/{site.financed_tx}/flag"
    for path in ("/tradefinance/documents", "/tradefinance/financings", flag):
        assert anonymous.post(path, data={"csrf": "x"}).status_code == 401
    assert anonymous.get(f"/tradefinance/records/{site.financed_tx}/proof").status_code == 401
    assert anonymous.get("/tradefinance/consistency?from=0&to=1").status_code == 401


@pytest.mark.parametrize(
    "path",
    ["/tradefinance/oversight", "/tradefinance/oversight/records?set=attempts", "/tradefinance/oversight/export.csv",
     "/tradefinance/oversight/export.xlsx"],
)  # fmt: skip
def test_a_bank_officer_on_the_regulators_dashboard_gets_403(site: Site, path: str) -> None:
    officer = site.client(SHENZHEN_OFFICER)
    r = officer.get(path, headers=HTML)
    assert r.status_code == 403 and CATALOGUE.text("en", "refused_regulator") not in r.text  # default zh-Hans
    assert CATALOGUE.text("zh-Hans", "refused_regulator") in r.text
    r = officer.get(path, headers={"accept": "application/json"})
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"


def test_a_regulator_has_no_officer_page_and_an_officer_cannot_flag(site: Site) -> None:
    examiner = site.client(EXAMINER)
    assert examiner.get("/tradefinance/documents", headers=HTML).status_code == 403
    officer = site.client(SHENZHEN_OFFICER)
    csrf = csrf_of(officer.get("/tradefinance/documents", headers=HTML).text)
    r = officer.post(f"/tradefinance/records/{site.financed_tx}/flag", data={"csrf": csrf, "note": "x"})
    assert r.status_code == 403


def test_one_bank_never_reaches_another_banks_documents_or_records(site: Site) -> None:
    """Shenzhen's officer: Zhuhai's financing record and proof are 404 (as if absent); its document cannot be
    financed from Shenzhen's form; Shenzhen's own pages show none of Zhuhai's documents."""
    officer = site.client(SHENZHEN_OFFICER)
    for path in (f"/tradefinance/records/{site.financed_tx}", f"/tradefinance/records/{site.financed_tx}/proof"):
        r = officer.get(path, headers=HTML)
        assert r.status_code == 404 and site.financed_tx[:16] in r.text
        assert officer.get(path).json()["code"] == "NOT_FOUND"
    page = officer.get("/tradefinance/documents?lang=en", headers=HTML).text
    apply = {"csrf": csrf_of(page), "doc_ref": site.zhuhai_doc_ref, "amount": "1", "currency": "CNY"}
    assert officer.post("/tradefinance/financings", data=apply, headers=HTML).status_code == 404
    assert site.zhuhai_doc_ref not in page and INVOICE["doc_number"] not in page
    assert site.financed_tx not in page
    # The registry is shared: Zhuhai's attestation shows as "by Zhuhai's bank", with no file.
    registry = officer.get("/tradefinance/traders?lang=en", headers=HTML).text
    assert consortium.DISPLAY[consortium.ZHUHAI]["en"] in registry and "reviewed_by" not in registry


def test_a_banks_own_record_verifies(site: Site) -> None:
    """A bank may open its own documents' records and proofs; the proof checks out."""
    officer = site.client(consortium.ZHUHAI + "/" + consortium.OFFICER)
    r = officer.get(f"/tradefinance/records/{site.financed_tx}", headers=HTML)
    assert r.status_code == 200 and 'id="flag-form"' not in r.text
    proof = officer.get(f"/tradefinance/records/{site.financed_tx}/proof").json()
    assert all(step.ok for step in check_proof(proof)), [s for s in check_proof(proof) if not s.ok]


# -- the regulators' dashboard ------------------------------------------------------------------------------------


def test_dashboard_figures_drill_down_to_records_whose_proofs_verify(site: Site) -> None:
    examiner = site.client(EXAMINER)
    page = examiner.get("/tradefinance/oversight?lang=en", headers=HTML)
    assert page.status_code == 200
    for chart in ("chart-corridors", "chart-duplicates", "chart-exposure-CNY"):
        assert f'id="{chart}"' in page.text
    links = sorted(set(re.findall(r'href="(/tradefinance/oversight/records\?[^"]+)"', page.text)))
    assert any("set=financings" in link for link in links) and any("set=attempts" in link for link in links)
    zhuhai = f"set=financings&amp;bank={consortium.ZHUHAI}"
    records = examiner.get(next(link for link in links if zhuhai in link).replace("&amp;", "&"), headers=HTML)
    assert records.status_code == 200
    tx_ids = re.findall(r'class="tf-record card" data-tx-id="([0-9a-f]{64})"', records.text)
    assert site.financed_tx in tx_ids
    # Each record says what it is: Zhuhai's financing of 100,000 CNY, by bank and amount.
    record = records.text[records.text.index(f'data-tx-id="{site.financed_tx}"') :]
    record = record[: record.index("</li>")]
    assert CATALOGUE.text("en", "kind_financing") in record and "100,000.00 CNY" in record
    assert consortium.DISPLAY[consortium.ZHUHAI]["en"] in record
    proof = examiner.get(f"/tradefinance/records/{site.financed_tx}/proof").json()
    assert proof["tx_id"] == site.financed_tx
    assert all(step.ok for step in check_proof(proof))
    # The duplicate attempts chart carries Shenzhen's DFIN upload (another test may have run first or not: at
    # least Zhuhai's own registrations are counted when a duplicate exists).
    # The refused requests are listed, each by organisation and code, linking to its record on the ledger.
    refusals = dict(re.findall(r'<li data-tx-id="([0-9a-f]{64})" data-code="KYC"><strong>([^<]+)</strong>', page.text))
    [guangzhou] = [tx for tx, org in refusals.items() if org == consortium.DISPLAY[consortium.GUANGZHOU]["en"]]
    assert CATALOGUE.text("en", "function_apply_financing") in page.text
    assert examiner.get(f"/tradefinance/records/{guangzhou}", headers=HTML).status_code == 200
    consistency = examiner.get(f"/tradefinance/consistency?from=1&to={proof['header']['number']}")
    assert consistency.status_code == 200 and consistency.json()["channel"] == consortium.CHANNEL
    assert examiner.get("/tradefinance/consistency?from=5&to=1").status_code == 400


def test_a_drill_down_lists_at_most_its_page_of_records(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """A figure with more records than a page holds says so, in the page's language, and points to the export."""
    monkeypatch.setattr(views, "MAX_RECORDS", 0)
    html = site.client(EXAMINER).get("/tradefinance/oversight/records?set=financings&lang=zh-Hant", headers=HTML).text
    assert 'id="records-cut"' in html and 'class="tf-record card"' not in html
    assert untranslated(html, "zh-Hant") == []


def test_chart_ticks_are_round(site: Site) -> None:
    examiner = site.client(EXAMINER)
    html = examiner.get("/tradefinance/oversight?lang=en", headers=HTML).text
    for chart in re.findall(r'<svg id="chart-[^"]+".*?</svg>', html, re.S):
        ticks = re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', chart)
        assert ticks and ticks[0] == "0"
        values = [float(t.replace("k", "e3").replace("M", "e6").replace("G", "e9")) for t in ticks]
        steps = {round(b - a, 9) for a, b in itertools.pairwise(values)}
        assert len(steps) == 1, ticks
        [step] = steps
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 6) in (1, 2, 5), ticks


def test_column_chart_uses_the_platforms_round_ticks() -> None:
    """The axis of a 0–37 chart is 0, 10, 20, 30, 40 — nice_ticks', never 0, 9.25, 18.5 …"""
    series = [Series("a", "#000", [Segment(37, "/x", "a"), Segment(12, "/y", "b")])]
    svg = str(columns(["2026-10", "2026-11"], series, "t", "c", "en", y_unit="n", x_unit="m"))
    ticks = [float(t) for t in re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', svg)]
    assert tuple(ticks) == nice_ticks(0, 37) and ticks[-1] >= 37
    assert svg.count('<a href="/') == 2
    # Counts step by whole numbers: one financing is not drawn on an axis of 0, 0.2, 0.4 …
    one = [Series("a", "#000", [Segment(1, "/x", "a")])]
    svg = str(columns(["2026-11"], one, "t", "c", "en", counts=True))
    ticks = [float(t) for t in re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', svg)]
    assert ticks == [0, 1, 2, 3, 4, 5]


def test_a_regulator_follows_the_money_from_financing_to_disbursement(site: Site) -> None:
    """The financing's record lists its steps and its flow to Hong Kong (corridor, purpose code), each a record
    that opens and proves; the account reference, the bank's private data, is not on the page."""
    examiner = site.client(EXAMINER)
    page = examiner.get(f"/tradefinance/records/{site.financed_tx}?lang=en", headers=HTML).text
    trail = page[page.index('id="trail"') :]
    trail = trail[: trail.index("</section>")]
    for key in ("step_applied", "step_approved", "step_disbursed", "flow_disbursement"):
        assert CATALOGUE.text("en", key) in trail, key
    assert "Mainland → Hong Kong" in trail and "<code>121010</code>" in trail and "100,000.00 CNY" in trail
    assert f'href="/tradefinance/records/{site.disbursement_tx}"' in trail
    assert "ZH-001-778899" not in page
    flow = examiner.get(f"/tradefinance/records/{site.disbursement_tx}?lang=zh-Hant", headers=HTML)
    assert flow.status_code == 200 and untranslated(flow.text, "zh-Hant") == []
    proof = examiner.get(f"/tradefinance/records/{site.disbursement_tx}/proof").json()
    assert all(step.ok for step in check_proof(proof))


def test_exports_and_flags(site: Site) -> None:
    examiner = site.client(EXAMINER)
    r = examiner.get("/tradefinance/oversight/export.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert site.financed_tx in r.content.decode("utf-8-sig")
    r = examiner.get("/tradefinance/oversight/export.xlsx")
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    book = load_workbook(io.BytesIO(r.content))
    assert "financings" in book.sheetnames and book["financings"].max_row >= 2
    # A flag on a record: the only write a regulator makes, shown on the record afterwards.
    page = examiner.get(f"/tradefinance/records/{site.financed_tx}?lang=zh-Hans", headers=HTML)
    assert page.status_code == 200 and 'id="flag-form"' in page.text
    r = examiner.post(f"/tradefinance/records/{site.financed_tx}/flag",
                      data={"csrf": csrf_of(page.text), "note": "请核实该笔融资的贸易背景"}, headers=HTML)  # fmt: skip
    assert r.status_code == 200 and "请核实该笔融资的贸易背景" in r.text
    assert CATALOGUE.text("zh-Hans", "flag_added") in r.text
    r = examiner.post(f"/tradefinance/records/{site.financed_tx}/flag", data={"csrf": csrf_of(page.text), "note": " "},
                      headers={"accept": "application/json"})  # fmt: skip
    assert r.status_code == 400 and r.json()["code"] == "EMPTY_NOTE"


# -- conventions: every page in every language, zones, languages -------------------------------------------------


def test_the_catalogue_is_complete() -> None:
    assert CATALOGUE.missing() == {lang: frozenset() for lang in LANGUAGES}


def pages_of(site: Site) -> list[tuple[str, str, int]]:
    """(user, path, expected status) for every page, error pages included."""
    return [
        (SHENZHEN_OFFICER, "/tradefinance/documents", 200),
        (SHENZHEN_OFFICER, "/tradefinance/traders", 200),
        (HK_OFFICER, "/tradefinance/documents", 200),
        (SHENZHEN_OFFICER, "/tradefinance/oversight", 403),
        (SHENZHEN_OFFICER, f"/tradefinance/records/{site.financed_tx}", 404),
        (EXAMINER, "/tradefinance/oversight", 200),
        (EXAMINER, "/tradefinance/oversight/records?set=financings", 200),
        (EXAMINER, "/tradefinance/oversight/records?set=attempts&kind=duplicate", 200),
        (EXAMINER, f"/tradefinance/records/{site.financed_tx}", 200),
        (EXAMINER, "/tradefinance/traders", 200),
        (EXAMINER, "/tradefinance/documents", 403),
        ("", "/tradefinance/documents", 401),
        ("", "/tradefinance/oversight", 401),
    ]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_in_every_language(site: Site, lang: str) -> None:
    clients: dict[str, TestClient] = {}
    for user, path, expected in pages_of(site):
        client = clients.setdefault(user, site.client(user or None))
        sep = "&" if "?" in path else "?"
        r = client.get(f"{path}{sep}lang={lang}", headers=HTML)
        assert r.status_code == expected, (user, path, r.text[:300])
        assert f'<html lang="{lang}">' in r.text, (user, path)
        assert untranslated(r.text, lang) == [], (user, path)
        assert "Content-Security-Policy" in r.headers


def test_times_in_the_viewers_place_with_the_zone_named(site: Site) -> None:
    """Zhuhai reads Beijing time, Hong Kong and the HKMA Hong Kong time, Macau Macau time: each page names it."""
    zhuhai_officer = f"{consortium.ZHUHAI}/{consortium.OFFICER}"  # its bank's documents are there from the set-up
    shenzhen = site.client(zhuhai_officer).get("/tradefinance/documents?lang=zh-Hans", headers=HTML).text
    assert "Asia/Shanghai" in shenzhen and "北京时间" in shenzhen and "UTC+8" in shenzhen
    hong_kong = site.client(HK_OFFICER).get("/tradefinance/traders?lang=zh-Hant", headers=HTML).text
    assert "Asia/Hong_Kong" in hong_kong and "香港時間" in hong_kong
    macau = site.client(MACAU_OFFICER).get("/tradefinance/traders?lang=zh-Hant", headers=HTML).text
    assert "Asia/Macau" in macau and "澳門時間" in macau
    hkma = site.client(f"{consortium.HKMA}/{consortium.EXAMINER}").get("/tradefinance/oversight?lang=en", headers=HTML)
    assert "Asia/Hong_Kong" in hkma.text and "Month (Hong Kong Time)" in hkma.text
    assert not re.search(r">[^<]*\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", shenzhen)  # no ISO timestamp reaches the page


def test_language_from_query_cookie_and_browser(site: Site) -> None:
    officer = site.client(SHENZHEN_OFFICER)
    r = officer.get("/tradefinance/traders", headers={**HTML, "accept-language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in r.text
    r = officer.get("/tradefinance/traders", headers={**HTML, "accept-language": "zh-HK"})
    assert '<html lang="zh-Hant">' in r.text
    r = officer.get("/tradefinance/traders?lang=ko", headers=HTML)  # unsupported: ignored, never an error
    assert r.status_code == 200 and '<html lang="zh-Hans">' in r.text
    officer.get("/tradefinance/traders?lang=en", headers=HTML)  # sets the cookie
    assert '<html lang="en">' in officer.get("/tradefinance/traders", headers=HTML).text
    # The switcher keeps a drill-down's selection.
    examiner = site.client(EXAMINER)
    html = examiner.get("/tradefinance/oversight/records?set=attempts&kind=duplicate&lang=en", headers=HTML).text
    assert 'href="/tradefinance/oversight/records?set=attempts&amp;kind=duplicate&amp;lang=zh-Hant"' in html
