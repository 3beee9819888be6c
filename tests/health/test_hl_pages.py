"""Every health page in Korean and English: whole translations, names for codes, Korean time, human error pages.

One seeded network (four synthetic patients, two weeks of readings, the model trained, registered, made current
and used to score every patient) behind the gateway app, read through Starlette's test client as a patient, a
coordinator and a clinician. Each page is rendered in both languages and checked with the platform's
:func:`consortia.ui.i18n.untranslated`; the raw values the issue found (ISO timestamps, ``True → False``, bare
LOINC codes, ``mm[Hg]``, ``revoked:c-…``, raw Markdown, ticks at 88 / 162) are looked for on every page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from consortia.apps.health import consortium
from consortia.apps.health.demo.player import seed
from consortia.apps.health.service.health import service_for
from consortia.apps.health.service.training import NAME
from consortia.apps.health.web import charts, views
from consortia.apps.health.web import text as tx
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.network.embedded import EmbeddedNetwork
from consortia.ui.i18n import untranslated

from .hl_support import PASSWORD, health_spec, person

ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
LANGUAGES = ("ko", "en")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedNetwork, Any]]:
    """The seeded network (model trained and used) and a factory of logged-in test clients."""
    network = EmbeddedNetwork.create(tmp_path_factory.mktemp("health-pages") / "net", health_spec(4))
    consortium.deploy(network)
    seed(network, Console(quiet=True), 4, days=14, train_model=True)
    app = create_app(network, ServerSettings(secure_cookies=False))

    def client(username: str | None = None) -> TestClient:
        c = TestClient(app)
        if username:
            r = c.post("/api/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
        return c

    try:
        yield network, client
    finally:
        network.close()


def pages(client: Any) -> dict[str, tuple[TestClient, str, int]]:
    """Every health page: who opens it, where, and the status it answers with."""
    patient = client("GangwonHealthOffice/patient001")
    coordinator = client("GangwonCareCentre/choi")
    clinician = client("ChuncheonHospital/drkim")  # the hospital treats the odd-numbered patients, not GW-0002
    return {
        "patient": (patient, "/health/me", 200),
        "patient after a revocation": (patient, "/health/me?notice=revoked:c-0", 200),
        "worklist": (coordinator, "/health/worklist", 200),
        "history": (coordinator, "/health/patients/GW-0001", 200),
        "model card": (coordinator, "/health/model", 200),
        "refused": (clinician, "/health/patients/GW-0002", 403),
        "not found": (coordinator, "/health/patients/GW-9999", 404),
        "staff only": (patient, "/health/worklist", 403),
    }


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_is_whole_in_each_language(site: tuple[EmbeddedNetwork, Any], lang: str) -> None:
    """No fragment in another language on any page, no raw value (ISO time, boolean, UCUM code, bare LOINC)."""
    _, client = site
    assert all(not keys for keys in tx.CATALOGUE.missing().values()), tx.CATALOGUE.missing()
    for name, (who, path, status) in pages(client).items():
        separator = "&" if "?" in path else "?"
        page = who.get(f"{path}{separator}lang={lang}", headers={"accept": "text/html"})
        assert page.status_code == status, (name, page.text[:300])
        assert f'<html lang="{lang}">' in page.text, name
        assert untranslated(page.text, lang) == [], (name, untranslated(page.text, lang))
        visible = re.sub(r"<[^>]+>", " ", page.text)
        assert not ISO_INSTANT.search(visible), (name, ISO_INSTANT.search(visible))
        for raw in ("True", "False", "mm[Hg]", "CAREMGT", "TREAT", "revoked:", "stage1", "8480-6", "85354-9"):
            assert raw not in visible, (name, raw)
        assert "KST" in visible or name not in ("patient", "history"), name


def test_codes_are_named_and_times_are_korean(site: tuple[EmbeddedNetwork, Any]) -> None:
    """Purposes, data classes, categories and LOINC codes by name; times in Asia/Seoul with the zone named."""
    _, client = site
    coordinator = client("GangwonCareCentre/choi")
    ko = coordinator.get("/health/patients/GW-0001?lang=ko").text
    en = coordinator.get("/health/patients/GW-0001?lang=en").text
    assert "혈압" in ko and "Blood pressure" in en  # LOINC 85354-9 by name
    assert re.search(r"\d{4}년 \d{1,2}월 \d{1,2}일 \d{2}:\d{2} KST", ko)
    assert re.search(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} KST", en)
    assert "mmHg" in en and "mm[Hg]" not in en
    patient = client("GangwonHealthOffice/patient001").get("/health/me?lang=ko").text
    assert "진료 관리" in patient and "치료" in patient  # CAREMGT, TREAT in the grant form and the consents
    assert "혈압" in patient and "위험도 평가" in patient  # data classes
    english = client("GangwonHealthOffice/patient001").get("/health/me?lang=en").text
    assert "care management" in english and "treatment" in english and "risk scores" in english


def test_risk_drivers_are_said_in_words() -> None:
    """A boolean factor reads "yes; without it …", a measured one names its value and its optimum."""
    flag = tx.driver({"factor": "diabetes", "value": True, "optimal": False, "contribution": 0.219}, "en")
    assert flag == "Diabetes: yes; without it the 10-year risk would be 21.9 percentage points lower"
    assert "True" not in flag and "→" not in flag
    measured = tx.driver({"factor": "sbp", "value": 142.5, "optimal": 110.0, "contribution": 0.031}, "ko")
    assert measured.startswith("수축기 혈압 (mmHg): 142.5") and "110" in measured and "3.1퍼센트포인트" in measured
    race = "race 'other' is scored with the white equations, as the 2013 guideline advises; they may over- or …"
    assert tx.warning(race, "ko").startswith("인종 '기타'")
    ranged = tx.warning("age 30 is outside the range the Pooled Cohort Equations was derived on (40–79); …", "en")
    assert ranged.startswith("Age 30 is outside the range") and "(40–79)" in ranged


def test_units_loinc_and_reasons_for_people() -> None:
    """UCUM for FHIR, ``mmHg`` for people; a LOINC code by its name; a contract's reason by its meaning."""
    assert tx.unit("mm[Hg]") == "mmHg" and tx.unit("mg/dL") == "mg/dL"
    assert tx.loinc("8480-6", "en") == "Systolic blood pressure" and tx.loinc("8480-6", "ko") == "수축기 혈압"
    assert tx.loinc("99999-9", "ko") == "측정값"
    assert tx.purpose("CAREMGT", "en") == "care management" and tx.purpose("CAREMGT", "ko") == "진료 관리"
    assert tx.purpose("TREAT", "en") == "treatment" and tx.purpose("TREAT", "ko") == "치료"
    refusal = "no active consent permits ChuncheonHospital/drkim TREAT access to glucose data"
    assert tx.reason(refusal, "ko") == "이 열람을 허용하는 환자의 유효한 동의가 없습니다"
    assert "TREAT" not in tx.reason(refusal, "en")


def test_chart_ticks_are_round() -> None:
    """The value axes are labelled 50 / 100 / 150 / 200 and 0 / 50 / … / 300, never 88 or 162."""
    from datetime import UTC, datetime, timedelta

    end = datetime(2026, 12, 5, tzinfo=UTC)
    svg = str(charts.trend([], [(90, 130, "#000")], 50, 200, end - timedelta(days=90), end, "t", "x"))
    ticks = [float(v) for v in re.findall(r'class="tick">([\d.]+)<', svg)]
    assert ticks == [50, 75, 100, 125, 150, 175, 200] or ticks == [50, 100, 150, 200], ticks
    assert all(t % 25 == 0 for t in ticks) and 88 not in ticks and 162 not in ticks
    glucose = str(charts.trend([], [], 40, 300, end - timedelta(days=90), end, "t", "y"))
    assert [float(v) for v in re.findall(r'class="tick">([\d.]+)<', glucose)] == [0, 50, 100, 150, 200, 250, 300]


def test_the_model_card_is_in_the_pages_language(site: tuple[EmbeddedNetwork, Any]) -> None:
    """The training wrote the card in Korean too: the Korean page shows it (whole), the English page the original."""
    _, client = site
    coordinator = client("GangwonCareCentre/choi")
    ko = coordinator.get("/health/model?lang=ko").text
    assert '<article class="card model-card" id="model-card" lang="ko">' in ko and "<h2>한계</h2>" in ko
    assert "<table>" in ko and 'id="model-card-note"' not in ko
    en = coordinator.get("/health/model?lang=en").text
    assert '<article class="card model-card" id="model-card" lang="en">' in en and "<h2>Limits</h2>" in en
    assert "## " not in en and "| --- |" not in en and "|---|" not in en  # rendered, not raw Markdown


def test_model_card_is_html_and_html_in_it_is_not_passed_through() -> None:
    """The card's Markdown becomes headings, lists and tables; a <script> written in it stays text."""
    html = str(views.markdown("# Card\n\n- one\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<script>alert(1)</script>\n"))
    assert "<h1>Card</h1>" in html and "<li>one</li>" in html and "<table>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_scores_name_the_model_and_the_page_shows_its_estimate(site: tuple[EmbeddedNetwork, Any]) -> None:
    """After the demo trained and scored: every stored score names the current model; pages show it beside the
    equations."""
    network, client = site
    service = service_for(network)
    record = service.evaluate(service.custodian(), "model", NAME, "")
    assert record is not None
    coordinator = person(network, consortium.CARE, "choi")
    for patient in ("GW-0001", "GW-0002", "GW-0003", "GW-0004"):
        data = service.read(coordinator, patient, "CAREMGT", ["risk"])
        scores = [d for d in data.documents if d.get("kind") == "risk-score"]
        assert scores and all(s["model"] is not None for s in scores), patient
        assert {s["model"]["version"] for s in scores} == {record["version"]}
        assert all(s["model"]["sha256"] == record["sha256"] and 0 < s["model"]["chd_10y"] < 1 for s in scores)
    for who, path in (("GangwonHealthOffice/patient001", "/health/me"), ("GangwonCareCentre/choi",
                                                                          "/health/patients/GW-0001")):  # fmt: skip
        page = client(who).get(f"{path}?lang=en").text
        estimates = page.split('id="risk-estimates"')[1].split("</dl>")[0]
        assert "Pooled Cohort Equations" in estimates and "Framingham" in estimates
        assert f'data-model-version="{record["version"]}"' in estimates
        chd = float(re.search(r'id="model-risk" data-chd="([\d.]+)"', estimates).group(1))
        assert 0 < chd < 1 and f"{100 * chd:.1f} %" in estimates


def test_error_pages_for_people_and_problem_details_for_programs(site: tuple[EmbeddedNetwork, Any]) -> None:
    """An unknown patient is "not found" (never "Access refused"), a long id is not echoed, JSON on request."""
    _, client = site
    coordinator = client("GangwonCareCentre/choi")
    page = coordinator.get("/health/patients/GW-9999?lang=en", headers={"accept": "text/html"})
    assert page.status_code == 404 and "<title>Not found" in page.text and "Access refused" not in page.text
    assert "GW-9999" in page.text
    ko = coordinator.get("/health/patients/GW-9999?lang=ko", headers={"accept": "text/html"})
    assert ko.status_code == 404 and "<title>찾을 수 없음" in ko.text and "열람 거부" not in ko.text
    long_id = "GW-" + "9" * 3000
    page = coordinator.get(f"/health/patients/{long_id}?lang=en", headers={"accept": "text/html"})
    assert page.status_code == 404 and "9" * 50 not in page.text and "Not found" in page.text
    problem = coordinator.get(f"/health/patients/{long_id}", headers={"accept": "application/json"})
    assert problem.status_code == 404 and problem.headers["content-type"].startswith("application/problem+json")
    assert problem.json()["code"] == "NOT_FOUND" and "9" * 50 not in problem.json()["detail"]
    refused = client("ChuncheonHospital/drkim").get("/health/patients/GW-0002", headers={"accept": "application/json"})
    assert refused.status_code == 403 and refused.json()["code"] == "ACCESS_REFUSED" and refused.json()["access_id"]


def test_notices_and_proof_lines_are_plain_language(site: tuple[EmbeddedNetwork, Any]) -> None:
    """A revocation reads "Withdrawn on <time> KST"; the Verify steps start with a plain-language line."""
    network, client = site
    patient = client("GangwonHealthOffice/patient003")
    service = service_for(network)
    identity = person(network, consortium.CUSTODIAN, "patient003")
    consent = next(c for c in service.consents(identity, "GW-0003") if c["status"] == "active")
    service.revoke(identity, consent["id"])
    en = patient.get(f"/health/me?lang=en&notice=revoked:{consent['id']}").text
    notice = re.search(r'<p class="alert alert-ok" role="status" id="notice">([^<]+)</p>', en).group(1)
    assert notice.startswith("Consent withdrawn on ") and "KST" in notice and "revoked:" not in notice
    assert f'data-consent-id="{consent["id"]}"' in en
    assert "nobody has changed it since" in en
    ko = patient.get("/health/me?lang=ko").text
    assert "아무도 바꾸지 않았는지" in ko
    history = client("GangwonCareCentre/choi").get("/health/patients/GW-0003?lang=en").text
    plain = history.index("nobody has changed them since")
    assert plain < history.index('class="tx"')  # the plain line comes before the technical detail
