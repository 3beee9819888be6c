"""The pages in a real browser: a patient sees trends and risk, revokes a clinician's consent; the clinician is refused.

One health network (four synthetic patients, 14 days of readings, the model trained and used) is served by the
gateway app under uvicorn on 127.0.0.1 and driven with Debian's Chromium through Playwright (never a downloaded
browser). The patient uses a phone-sized viewport; a patient gives a care organisation access through the form and
its coordinator then opens the record; every page fits a desktop (1280 px) and a phone (390 px) without
horizontal scrolling.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from chromium import QUIET_LAUNCH_ARGS, chromium_browser, require_chromium
from consortia.apps.health import consortium
from consortia.apps.health.demo.player import seed
from consortia.apps.health.domain.readings import Reading
from consortia.apps.health.service.health import service_for
from consortia.gateway.server.app import create_app
from consortia.network.embedded import EmbeddedNetwork
from servers import Server

from .hl_support import PASSWORD, health_spec

IN_CI = os.environ.get("CI") == "true"
try:
    from playwright.sync_api import Browser, Page, expect
except ImportError:  # pragma: no cover - the dev extra installs it
    if IN_CI:
        raise
    pytest.skip("the Python package playwright is not installed", allow_module_level=True)

TIMEOUT_MS = 20_000
PHONE = {"width": 390, "height": 844}

require_chromium(allow_module_level=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Browser, EmbeddedNetwork]]:
    """The seeded network behind a running server, and a headless Chromium."""
    network = EmbeddedNetwork.create(tmp_path_factory.mktemp("health-web") / "net", health_spec(4))
    consortium.deploy(network)
    seed(network, Console(quiet=True), 4, days=14, train_model=True)
    server = Server(create_app(network)).start()
    with chromium_browser(QUIET_LAUNCH_ARGS) as browser:
        try:
            yield server.url, browser, network
        finally:
            browser.close()
            network.close()
            server.close()


def login(page: Page, base: str, username: str, target: str) -> None:
    """Log in through the platform's login form and land on ``target``."""
    page.goto(f"{base}/login?next={target}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{target}*", timeout=TIMEOUT_MS)


def test_patient_revokes_and_clinician_is_refused(site: tuple[str, Browser, EmbeddedNetwork], tmp_path: Path) -> None:
    """The acceptance flow, with the verifiable access log on the way."""
    base, browser, _ = site
    clinician = browser.new_context().new_page()
    clinician.set_default_timeout(TIMEOUT_MS)
    login(clinician, base, "ChuncheonHospital/drkim", "/health/patients/GW-0001")
    expect(clinician.locator("#patient-id")).to_have_text("GW-0001")
    expect(clinician.locator("#bp-trend")).to_be_visible()

    patient = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    patient.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    patient.on("pageerror", lambda exc: errors.append(str(exc)))
    login(patient, base, "GangwonHealthOffice/patient001", "/health/me")
    expect(patient.locator("#synthetic-badge")).to_be_visible()
    expect(patient.locator("#bp-trend polyline")).to_have_count(2)
    expect(patient.locator("#glucose-trend")).to_be_visible()
    gauge = patient.locator("#risk-gauge")
    expect(gauge).to_be_visible()
    assert 0 < float(gauge.get_attribute("data-risk") or 0) < 1
    expect(patient.locator("#risk-drivers li").first).to_be_visible()
    # The clinician's read is in the log, and the entry verifies in this browser against the signed ledger.
    entry = patient.locator(".log-entry[data-accessor='ChuncheonHospital/drkim']").first
    expect(entry).to_contain_text("drkim, Chuncheon University Hospital")
    expect(entry).to_be_visible()
    entry.locator("[data-verify-button]").click()
    expect(entry.locator("[data-verify-proof]")).to_have_attribute("data-verify-result", "ok")
    patient.screenshot(path=str(tmp_path / "patient.png"), full_page=True)

    consent = patient.locator("li.consent-active[data-actor='ChuncheonHospital']")
    expect(consent).to_have_count(1)
    consent_id = consent.get_attribute("data-consent-id")
    consent.locator("button[data-revoke]").click()
    patient.wait_for_url(f"{base}/health/me?notice=revoked*")
    expect(patient.locator(f"li[data-consent-id='{consent_id}']")).to_have_class("consent consent-inactive")
    expect(patient.locator(f"li[data-consent-id='{consent_id}'] button[data-revoke]")).to_have_count(0)

    clinician.reload()
    expect(clinician.locator("#refused")).to_be_visible()
    expect(clinician.locator("#refused-reason")).to_contain_text("no active consent")
    expect(clinician.locator("#refused-tx")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    # The refusal is itself in the patient's log.
    patient.goto(f"{base}/health/me?lang=ko")
    expect(patient.locator("html")).to_have_attribute("lang", "ko")
    refusal = patient.locator(".log-entry.decision-deny[data-accessor='ChuncheonHospital/drkim']").first
    expect(refusal).to_contain_text("거부")
    assert errors == []


def test_coordinator_sees_patients_by_risk_and_live_alerts(site: tuple[str, Browser, EmbeddedNetwork]) -> None:
    """The coordinator's worklist is sorted by risk; a hypertensive crisis arrives live (server-sent events)."""
    base, browser, network = site
    page = browser.new_context().new_page()
    page.set_default_timeout(TIMEOUT_MS)
    login(page, base, "GangwonCareCentre/choi", "/health/worklist")
    expect(page.locator("#worklist [data-patient]")).to_have_count(4)
    rows = page.locator("#worklist [data-patient]")
    risks = [float(r) for r in rows.evaluate_all("rows => rows.map(r => r.dataset.risk)")]
    assert risks == sorted(risks, reverse=True)
    expect(page.locator("#live-state")).to_have_attribute("data-connected", "true")
    crisis = Reading("GW-0002", "85354-9", "bp", "blood-pressure", 201, "mm[Hg]", datetime.now(UTC), value2=124)
    service_for(network).ingest([crisis])
    live = page.locator("#alert-list li[data-kind='hypertensive-crisis']")
    expect(live).to_have_count(1)
    expect(live).to_contain_text("GW-0002")
    expect(live).to_contain_text("201/124 mmHg")
    # The script only places what the server said in the page's language: the kind by name, Korean time.
    expect(live).to_contain_text("Hypertensive crisis")
    expect(live).to_contain_text(re.compile(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} KST"))
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:", live.inner_text())


def test_patient_gives_a_care_organisation_access_and_its_coordinator_opens_the_record(
    site: tuple[str, Browser, EmbeddedNetwork],
) -> None:
    """The acceptance line: withdraw, then give access through the form (checkboxes beside their words), and the
    coordinator of that organisation opens the record."""
    base, browser, _ = site
    coordinator = browser.new_context().new_page()
    coordinator.set_default_timeout(TIMEOUT_MS)
    login(coordinator, base, "GangwonCareCentre/choi", "/health/patients/GW-0003?lang=en")
    expect(coordinator.locator("#patient-id")).to_have_text("GW-0003")

    patient = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    patient.set_default_timeout(TIMEOUT_MS)
    login(patient, base, "GangwonHealthOffice/patient003", "/health/me?lang=en")
    care = patient.locator("li.consent-active[data-actor='GangwonCareCentre']")
    expect(care).to_have_count(1)
    care.locator("button[data-revoke]").click()
    patient.wait_for_url(f"{base}/health/me?notice=revoked*")
    expect(patient.locator("#notice")).to_contain_text(re.compile(r"Consent withdrawn on .+ KST"))
    coordinator.reload()
    expect(coordinator.locator("#refused")).to_be_visible()

    patient.locator("#grant summary").click()
    form = patient.locator("#grant-form")
    options = form.locator("select[name=actor] option").all_inner_texts()
    assert "Gangwon Care-Coordination Centre" in options and not any("Org1" in o for o in options)
    form.locator("select[name=actor]").select_option("GangwonCareCentre")
    form.locator("select[name=purpose]").select_option("CAREMGT")
    for check in form.locator("label.check").all():
        box, words = check.locator("input[type=checkbox]"), check.locator("span")
        a, b = box.bounding_box(), words.bounding_box()
        assert a and b
        # Each box sits on the line of its own words, just before them.
        assert abs((a["y"] + a["height"] / 2) - (b["y"] + b["height"] / 2)) < 8, (a, b)
        assert 0 <= b["x"] - (a["x"] + a["width"]) < 24, (a, b)
        box.check()
    form.locator("button[type=submit]").click()
    patient.wait_for_url(f"{base}/health/me?notice=granted*")
    expect(patient.locator("#notice")).to_have_text(
        "Access given: Gangwon Care-Coordination Centre, for care management."
    )
    expect(patient.locator("li.consent-active[data-actor='GangwonCareCentre']")).to_have_count(1)

    coordinator.reload()
    expect(coordinator.locator("#patient-id")).to_have_text("GW-0003")
    expect(coordinator.locator("#bp-trend")).to_be_visible()
    expect(coordinator.locator("#model-risk")).to_be_visible()  # the model's estimate beside the equations'


PAGES = (
    ("GangwonHealthOffice/patient002", "/health/me"),
    ("GangwonCareCentre/choi", "/health/worklist"),
    ("GangwonCareCentre/choi", "/health/patients/GW-0002"),
    ("GangwonCareCentre/choi", "/health/model"),
    ("GangwonCareCentre/choi", "/health/patients/GW-" + "9" * 3000),
    ("WonjuClinic/drpark", "/health/patients/GW-0001"),
)


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_no_page_needs_horizontal_scrolling(site: tuple[str, Browser, EmbeddedNetwork], width: int, lang: str) -> None:
    """Every health page fits the window at desktop and phone widths, in both languages."""
    base, browser, _ = site
    phone = width < 600
    context = browser.new_context(
        viewport={"width": width, "height": 900}, is_mobile=phone, has_touch=phone, locale=lang
    )
    try:
        logged_in: str | None = None
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        for username, path in PAGES:
            if username != logged_in:
                context.clear_cookies()
                login(page, base, username, "/health/me" if "patient" in username else "/health/worklist")
                logged_in = username
            page.goto(f"{base}{path}?lang={lang}")
            for details in page.locator("details").all():
                details.evaluate("d => d.open = true")  # the grant form and proof details open too
            width_used = page.evaluate("document.documentElement.scrollWidth")
            assert width_used <= width, (path[:60], width_used)
    finally:
        context.close()
