"""The trade-finance pages in a real browser: an officer's upload with duplicates, a regulator verifying a record.

The module's network (Zhuhai's bank has financed an invoice and registered a bill of lading) is served by the
gateway app under uvicorn on 127.0.0.1 and driven with Debian's Chromium through Playwright (never a downloaded
browser), at 1280 px and at 390 px: an officer uploads a CSV holding disguised copies of both documents and sees
DFIN and REDU; a regulator opens the dashboard, follows a chart's bar to the records behind it and verifies one
in the browser with the platform's verifier (the widget turns green). No page scrolls sideways at 390 px.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chromium import QUIET_LAUNCH_ARGS, chromium_browser, require_chromium
from consortia.apps.tradefinance import consortium
from consortia.apps.tradefinance.web.text import CATALOGUE
from servers import Server

from .test_web_tradefinance import (
    BILL_DISGUISED,
    EXAMINER,
    FRESH_INVOICE,
    INVOICE_DISGUISED,
    PASSWORD,
    SHENZHEN_OFFICER,
    Site,
    build_site,
    csv_of,
)

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
    site = build_site(tmp_path_factory.mktemp("tf-browser") / "net", secure_cookies=None)
    server = Server(site.app).start()
    with chromium_browser(QUIET_LAUNCH_ARGS) as browser:
        try:
            yield server.url, browser, site
        finally:
            browser.close()
            site.network.close()
            server.close()


def open_page(browser: Browser, viewport: dict[str, int], lang: str) -> tuple[Page, list[str]]:
    """A new page of a fresh context (no session), its script errors collected."""
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone, locale=lang)
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
def test_an_officer_uploads_duplicates_and_sees_dfin_and_redu(
    served: tuple[str, Browser, Site], viewport: dict[str, int], tmp_path: Path
) -> None:
    base, browser, _ = served
    page, errors = open_page(browser, viewport, "zh-CN")
    login(page, base, SHENZHEN_OFFICER, "/tradefinance/documents")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    # Row 3 is a document of its own in each run (number, date and amount), so it registers unique.
    width = viewport["width"]
    fresh = {**FRESH_INVOICE, "doc_number": f"SZ-{width}", "amount": f"{10_000 + width}",
             "issue_date": f"2026-10-{width % 28 + 1:02d}"}  # fmt: skip
    upload = csv_of(consortium.SHENZHEN, INVOICE_DISGUISED, BILL_DISGUISED, fresh)
    page.set_input_files("#csv-file", files=[{"name": "docs.csv", "mimeType": "text/csv", "buffer": upload.encode()}])
    page.click("#upload-button")
    page.wait_for_url(f"{base}/tradefinance/documents*")
    results = page.locator("#results")
    expect(results.locator(".tf-result[data-row='1']")).to_have_attribute("data-status", "DFIN")
    expect(results.locator(".tf-result[data-row='2']")).to_have_attribute("data-status", "REDU")
    expect(results.locator(".tf-result[data-row='1']")).to_contain_text(CATALOGUE.text("zh-Hans", "status_DFIN"))
    expect(results.locator(".tf-result[data-row='2']")).to_contain_text(CATALOGUE.text("zh-Hans", "explain_REDU"))
    expect(results.locator(".tf-result[data-row='3']")).to_have_attribute("data-status", "REGU")
    no_sideways_scroll(page, viewport["width"])
    page.screenshot(path=str(tmp_path / f"officer-{viewport['width']}.png"), full_page=True)
    # The same page in traditional Chinese and English, through the switcher.
    page.click("a[data-lang='zh-Hant']")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant")
    expect(page.locator("#mine")).to_contain_text(CATALOGUE.text("zh-Hant", "status_DFIN"))
    no_sideways_scroll(page, viewport["width"])
    page.click("a[data-lang='en']")
    expect(page.locator("#mine")).to_contain_text(CATALOGUE.text("en", "status_REDU"))
    no_sideways_scroll(page, viewport["width"])
    page.goto(f"{base}/tradefinance/traders")
    no_sideways_scroll(page, viewport["width"])
    assert errors == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_a_regulator_follows_a_figure_and_verifies_a_record(
    served: tuple[str, Browser, Site], viewport: dict[str, int], tmp_path: Path
) -> None:
    base, browser, site = served
    page, errors = open_page(browser, viewport, "en-GB")
    login(page, base, EXAMINER, "/tradefinance/oversight")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    for chart in ("#chart-corridors", "#chart-duplicates", "#chart-exposure-CNY"):
        expect(page.locator(chart)).to_be_visible()
    no_sideways_scroll(page, viewport["width"])
    # Every figure's table opened: on a phone they are stacked cards, still no wider than the screen.
    for summary in page.locator("details > summary").all():
        summary.click()
    expect(page.locator("#corridors table a.figure").first).to_be_visible()
    no_sideways_scroll(page, viewport["width"])
    page.screenshot(path=str(tmp_path / f"dashboard-{viewport['width']}.png"), full_page=True)
    # One click on a bar of the corridors chart lists the ledger records behind it.
    page.locator("#chart-corridors a.bar-link").first.click()
    page.wait_for_url(f"{base}/tradefinance/oversight/records*")
    record = page.locator(".tf-record").first
    expect(record).to_be_visible()
    no_sideways_scroll(page, viewport["width"])
    record.locator("[data-verify-button]").click()
    verify = record.locator("[data-verify-proof]")
    expect(verify).to_have_attribute("data-verify-result", "ok")
    expect(record.locator("[data-verify-summary]")).to_have_text(CATALOGUE.text("en", "verify_ok"))
    no_sideways_scroll(page, viewport["width"])
    # The record's own page, in simplified Chinese: it verifies there too, and a flag can be added.
    page.goto(f"{base}/tradefinance/records/{site.financed_tx}?lang=zh-Hans")
    page.click("#record [data-verify-button]")
    expect(page.locator("#record [data-verify-proof]")).to_have_attribute("data-verify-result", "ok")
    expect(page.locator("#record [data-verify-summary]")).to_have_text(CATALOGUE.text("zh-Hans", "verify_ok"))
    no_sideways_scroll(page, viewport["width"])
    page.screenshot(path=str(tmp_path / f"record-{viewport['width']}.png"), full_page=True)
    assert errors == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_error_pages_fit_and_offer_a_way_on(served: tuple[str, Browser, Site], viewport: dict[str, int]) -> None:
    base, browser, _ = served
    page, _ = open_page(browser, viewport, "zh-HK")
    response = page.goto(f"{base}/tradefinance/oversight")
    assert response is not None and response.status == 401
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant")
    no_sideways_scroll(page, viewport["width"])
    page.click("#login-link")
    page.fill("#username", SHENZHEN_OFFICER)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/tradefinance/oversight*")
    expect(page.locator("#error")).to_have_attribute("data-status", "403")
    expect(page.locator("#error-reason")).to_have_text(CATALOGUE.text("zh-Hant", "refused_regulator"))
    no_sideways_scroll(page, viewport["width"])
