"""The AML pages in a real browser: an analyst works an alert from the queue, an examiner verifies a step's proof.

The module's network (both exchanges onboarded, structuring alerts, a SAR filed, a case closed without one — see
:func:`.test_web_aml.build_site`) is served by the gateway app under uvicorn on 127.0.0.1 and driven with Debian's
Chromium through Playwright (never a downloaded browser), at 1280 px and at 390 px. The analyst opens a fresh
alert from the queue, sees its rule hits and its counterparty graph, and opens a case; the examiner presses
Verify on a step of the audit trail and the platform's verifier goes green, in words first. No page scrolls
sideways at either width, the BSA officer's, the SAR preview and an exchange's accounts included.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chromium import QUIET_LAUNCH_ARGS, chromium_browser, require_chromium
from consortia.apps.aml import consortium
from consortia.apps.aml.domain.transactions import CASH_ACCOUNT, CASH_DEPOSIT
from consortia.apps.aml.service.aml import AmlService
from consortia.apps.aml.web.text import CATALOGUE
from servers import Server

from .test_web_aml import ANALYST, BLUE, BSA, EXAMINER, PASSWORD, SUMMIT_RESERVE, Site, at, build_site, tx

IN_CI = os.environ.get("CI") == "true"
try:
    from playwright.sync_api import Browser, Page, expect
except ImportError:  # pragma: no cover - the dev extra installs it
    if IN_CI:
        raise
    pytest.skip("the Python package playwright is not installed", allow_module_level=True)

TIMEOUT_MS = 20_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

require_chromium(allow_module_level=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Browser, Site]]:
    """The module's network behind a running server, and a headless Chromium."""
    site = build_site(tmp_path_factory.mktemp("aml-browser") / "net", secure_cookies=None)
    server = Server(site.app).start()
    with chromium_browser(QUIET_LAUNCH_ARGS) as browser:
        try:
            yield server.url, browser, site
        finally:
            browser.close()
            site.network.close()
            server.close()


def open_page(browser: Browser, viewport: dict[str, int]) -> tuple[Page, list[str]]:
    """A new page of a fresh context (no session), its script errors collected."""
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


def login(page: Page, base: str, username: str, target: str) -> None:
    """Log in through the platform's login form and land on ``target``."""
    page.goto(f"{base}/login?next={target}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{target}*", timeout=TIMEOUT_MS)


def no_sideways_scroll(page: Page, width: int) -> None:
    """The page fits its viewport: nothing needs horizontal scrolling."""
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll} px wide at {width} px"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_an_analyst_opens_an_alert_from_the_queue_sees_why_and_opens_a_case(
    served: tuple[str, Browser, Site], viewport: dict[str, int], tmp_path: Path
) -> None:
    base, browser, site = served
    width = viewport["width"]
    # A fresh structuring run of this test's own (a day of its own per width), so there is a new alert to open.
    day = "2026-12-01" if width > 600 else "2026-12-02"
    bank = AmlService.as_user(site.network, consortium.BANK, "client")
    for n, (clock, amount) in enumerate((("09:30", "9650.00"), ("12:10", "9900.00"), ("15:45", "9400.00")), 1):
        bank.post_transaction(tx(f"W{width}-{n}", at(day, clock), CASH_ACCOUNT, SUMMIT_RESERVE, amount, CASH_DEPOSIT))
    page, errors = open_page(browser, viewport)
    login(page, base, ANALYST, "/aml/alerts")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    no_sideways_scroll(page, width)
    # Narrow the queue with the filters' form: new structuring alerts from that New York day.
    page.select_option("#filter-typology", "structuring")
    page.select_option("#filter-status", "new")
    page.fill("#filter-since", day)
    page.fill("#filter-until", day)
    page.click("#filter-apply")
    page.wait_for_url(f"{base}/aml/alerts?*typology=structuring*")
    row = page.locator(".aml-row[data-kind='alert']").first
    expect(row).to_have_attribute("data-typology", "structuring")
    no_sideways_scroll(page, width)
    page.screenshot(path=str(tmp_path / f"queue-{width}.png"), full_page=True)
    row.locator("a.aml-open").click()
    page.wait_for_url(f"{base}/aml/alerts/*")
    # Why it fired, in words, and the counterparty graph with its timeline.
    expect(page.locator("#hits .aml-hit[data-rule='structuring']")).to_contain_text(
        CATALOGUE.text("en", "rule_means_structuring")
    )
    expect(page.locator("svg.aml-graph")).to_be_visible()
    expect(page.locator(f"svg.aml-graph .node[data-account='{SUMMIT_RESERVE}']")).to_have_count(1)
    expect(page.locator("svg.aml-timeline")).to_be_visible()
    # The day's three deposits are one arrow from the teller's drawer, which says so.
    deposits = page.locator("svg.aml-graph path.edge[data-week]").filter(
        has_text=f"in 3 transfers from CASH to {SUMMIT_RESERVE} on {'1' if width > 600 else '2'} Dec 2026"
    )
    expect(deposits).to_have_count(1)
    box = page.locator("svg.aml-graph").bounding_box()
    assert box is not None and box["width"] <= width
    no_sideways_scroll(page, width)
    page.screenshot(path=str(tmp_path / f"alert-{width}.png"), full_page=True)
    page.click("#open-case-button")
    page.wait_for_url(f"{base}/aml/cases/*")
    expect(page.locator("#notice")).to_have_text(CATALOGUE.text("en", "notice_opened"))
    expect(page.locator("#case")).to_have_attribute("data-status", "open")
    expect(page.locator("#deadlines [data-kind='file_sar']")).to_contain_text(
        "31 Dec 2026" if width > 600 else "1 Jan 2027"
    )
    no_sideways_scroll(page, width)
    # Working the case from the page: a note, then the trail shows it with its ledger record.
    page.fill("#note-form textarea[name=text]", f"Reviewed at {width} px: three deposits under $10,000.")
    page.click("#note-button")
    page.wait_for_url(f"{base}/aml/cases/*notice=step")
    expect(page.locator("#note-list")).to_contain_text(f"Reviewed at {width} px")
    expect(page.locator("#steps li[data-event='note']")).to_have_count(1)
    no_sideways_scroll(page, width)
    page.screenshot(path=str(tmp_path / f"case-{width}.png"))
    assert errors == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_an_examiner_verifies_a_steps_proof_in_the_browser(
    served: tuple[str, Browser, Site], viewport: dict[str, int], tmp_path: Path
) -> None:
    base, browser, site = served
    width = viewport["width"]
    page, errors = open_page(browser, viewport)
    login(page, base, EXAMINER, "/aml/audit")
    filing = page.locator(".aml-step[data-kind='case']").last
    expect(filing).to_be_visible()
    no_sideways_scroll(page, width)
    filing.locator("[data-verify-button]").click()
    expect(filing.locator("[data-verify-proof]")).to_have_attribute("data-verify-result", "ok")
    expect(filing.locator("[data-verify-summary]")).to_have_text(CATALOGUE.text("en", "verify_ok"))
    # The violation's record verifies too, and the page still fits.
    violation = page.locator(f".aml-step[data-tx-id='{site.violation_tx}']").first
    violation.locator("[data-verify-button]").click()
    expect(violation.locator("[data-verify-proof]")).to_have_attribute("data-verify-result", "ok")
    no_sideways_scroll(page, width)
    violation.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / f"audit-{width}.png"))
    assert errors == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_every_other_page_fits_at_1280_and_390(
    served: tuple[str, Browser, Site], viewport: dict[str, int], tmp_path: Path
) -> None:
    base, browser, site = served
    width = viewport["width"]
    page, errors = open_page(browser, viewport)
    login(page, base, BSA, "/aml/decisions")
    expect(page.locator("#due-list li").first).to_be_visible()
    for path in ("/aml/decisions", "/aml/cases", f"/aml/cases/{site.blue_case}", f"/aml/cases/{site.blue_case}/sar",
                 f"/aml/alerts/{site.blue_alert}", "/aml/accounts", "/aml/alerts?typology=violation", "/aml/exchanges",
                 f"/aml/exchanges/{consortium.BLUE_RIVER}"):  # fmt: skip
        page.goto(f"{base}{path}")
        no_sideways_scroll(page, width)
        page.screenshot(path=str(tmp_path / f"{path.strip('/').replace('/', '-')[:60]}-{width}.png"), full_page=True)
    page.goto(f"{base}/aml/alerts?typology=violation")
    expect(page.locator(".aml-row[data-kind='violation']").first).to_contain_text(
        CATALOGUE.text("en", "policy_usd_only")
    )
    # An exchange's own accounts; anonymous and refused pages fit too.
    other, _ = open_page(browser, viewport)
    response = other.goto(f"{base}/aml/alerts")
    assert response is not None and response.status == 401
    no_sideways_scroll(other, width)
    other.click("#login-link")
    other.fill("#username", BLUE)
    other.fill("#password", PASSWORD)
    other.click("button[type=submit]")
    other.wait_for_url(f"{base}/aml/alerts*")
    expect(other.locator("#error")).to_have_attribute("data-status", "403")
    no_sideways_scroll(other, width)
    other.goto(f"{base}/aml/accounts")
    expect(other.locator(".aml-account")).to_have_count(2)
    no_sideways_scroll(other, width)
    other.locator(".aml-account a").first.click()
    other.wait_for_url(f"{base}/aml/accounts/*")
    expect(other.locator("#transactions tr[data-tx]").first).to_be_visible()
    no_sideways_scroll(other, width)
    assert errors == []
