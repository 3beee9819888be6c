"""Headless Chromium (issue 17, item 4): a consumer opens a reading's proof and sees it verified, step by step, in
the page's language; a tampered reading turns the check red and names the step that failed. The operators'
dashboard verifies a logger's last anchored reading the same way.

The test's switch for tampering is Playwright's route interception: the server serves the genuine journey and
proof, and the browser receives them altered, as from a lying server or a man in the middle. That is the threat
the in-browser check exists for, and it needs no test-only code path in the server (``tamper_proofs`` only
corrupts the transaction proof, one link of the chain; here each link is attacked on its own).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import consortia.apps.coldchain.consortium as consortium
from chromium import LAUNCH_ARGS, browser_fixture, requires_chromium
from consortia.apps.coldchain.domain import gs1
from consortia.apps.coldchain.web.catalogue import ALLOW, CATALOGUE, LANGUAGES
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.ledger import merkle
from consortia.ledger.encoding import canonical_json
from consortia.ui.i18n import untranslated

from .cc_support import ServerThread

RED = "rgb(180, 35, 24)"  # the pages' --bad / #b42318
PROOF_ROUTE = "**/api/coldchain/public/reading-proof*"
JOURNEY_ROUTE = "**/api/coldchain/public/journey*"

pytestmark = requires_chromium


browser = browser_fixture(LAUNCH_ARGS)


@pytest.fixture(scope="module")
def lot(demo_network) -> gs1.LotId:
    contract = demo_network.gateway(consortium.RETAILER).network(consortium.CHANNEL).contract(consortium.CONTRACT)
    return next(x for x in (gs1.LotId.from_key(r["lot"]) for r in contract.evaluate("lots")) if x.lot.startswith("FL"))


def _open(browser: Any, base: str, lot: gs1.LotId, lang: str, routes: dict[str, Callable[[Any], None]]) -> Any:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    for pattern, handler in routes.items():
        page.route(pattern, handler)
    page.goto(f"{base}{lot.path}?lang={lang}")
    page.wait_for_selector("#app[data-loaded='true']", timeout=60_000)
    return page


def _check_warmest(page: Any) -> Any:
    page.locator("[data-reading='warmest'] button[data-reading-check]").click()
    page.wait_for_selector(
        "[data-reading-result][data-reading-verified='true'], [data-reading-result][data-reading-verified='false']",
        timeout=60_000,
    )
    return page.locator("[data-reading-result]")


def _doctor(route: Any, change: Callable[[dict[str, Any]], None]) -> None:
    response = route.fetch()
    document = json.loads(response.text())
    change(document)
    route.fulfill(response=response, body=json.dumps(document), headers={**response.headers})


def _leaf_hash(reading: dict[str, Any]) -> str:
    data = b"coldchain-reading/v1\x00" + canonical_json(
        {
            "celsius": float(reading["celsius"]),
            "device": reading["device"],
            "seq": reading["seq"],
            "ts_ms": reading["ts_ms"],
        }
    )
    return merkle.leaf_hash(data).hex()


COLDER = 1.5


def _colder_on_the_page(journey: dict[str, Any]) -> None:
    warmest = journey["display"]["readings"][0]
    warmest["celsius"] = round(warmest["celsius"] - COLDER, 2)


def _colder_in_the_proof(doc: dict[str, Any]) -> None:
    doc["reading"]["celsius"] = round(doc["reading"]["celsius"] - COLDER, 2)


def _colder_with_its_leaf_hash(doc: dict[str, Any]) -> None:
    _colder_in_the_proof(doc)
    doc["leaf_hash"] = _leaf_hash(doc["reading"])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_consumer_opens_a_readings_proof_and_sees_it_verified(browser, server, lot, lang) -> None:
    page = _open(browser, server.base, lot, lang, {})
    offered = page.locator("[data-readings] li[data-reading]")
    assert offered.count() >= 1
    result = _check_warmest(page)
    assert result.get_attribute("data-reading-verified") == "true"
    verdict = result.locator("[data-reading-verdict]")
    assert verdict.inner_text() == f"✓ {CATALOGUE.text(lang, 'rp.ok')}"  # plain words first
    steps = result.locator("li[data-step]")
    keys = steps.evaluate_all("items => items.map((i) => i.dataset.step)")
    assert keys[:5] == ["shown", "readable", "leaf", "batch", "anchor"] and "tx.signature" in keys
    assert keys[-1] == "binding"  # the envelope's id is its own, as the explorer's widget checks
    assert result.locator("li[data-step-ok='true']").count() == steps.count() >= 12
    assert "other" not in keys  # every step has its name in the catalogue
    for key, item in zip(keys, steps.all(), strict=True):
        assert CATALOGUE.text(lang, f"rp.step.{key}") in item.inner_text()
    assert result.locator("[translate='no']").first.inner_text().startswith("LG-")  # the logger, as proven
    assert untranslated(page.content(), lang, ALLOW) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.errors == []
    page.context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_reading_shown_colder_than_it_was_turns_the_check_red_naming_the_leaf(browser, server, lot, lang) -> None:
    """The server lies consistently: the page shows, and the proof claims, a colder reading than the logger sent."""
    page = _open(
        browser,
        server.base,
        lot,
        lang,
        {
            JOURNEY_ROUTE: lambda route: _doctor(route, _colder_on_the_page),
            PROOF_ROUTE: lambda route: _doctor(route, _colder_in_the_proof),
        },
    )
    result = _check_warmest(page)
    assert result.get_attribute("data-reading-verified") == "false"
    failed = result.locator("li[data-step-ok='false']")
    assert failed.count() == 1 and failed.get_attribute("data-step") == "leaf"
    assert failed.evaluate("n => getComputedStyle(n).color") == RED
    step = CATALOGUE.text(lang, "rp.step.leaf")
    assert step in failed.inner_text()
    verdict = result.locator("[data-reading-verdict]")
    assert verdict.inner_text() == f"✗ {CATALOGUE.text(lang, 'rp.failed', step=step)}"
    assert verdict.evaluate("n => getComputedStyle(n).color") == RED
    assert result.locator("li[data-step='shown'][data-step-ok='true']").count() == 1
    assert untranslated(page.content(), lang, ALLOW) == []
    assert page.errors == []
    page.context.close()


@pytest.mark.parametrize(
    ("shown", "proven", "step"),
    [(None, _colder_in_the_proof, "shown"), (_colder_on_the_page, _colder_with_its_leaf_hash, "batch")],
    ids=["proof-of-another-reading", "leaf-hash-recomputed"],
)
def test_each_tampered_link_is_named(browser, server, lot, shown, proven, step) -> None:
    routes = {PROOF_ROUTE: lambda route: _doctor(route, proven)}
    if shown is not None:
        routes[JOURNEY_ROUTE] = lambda route: _doctor(route, shown)
    page = _open(browser, server.base, lot, "en", routes)
    result = _check_warmest(page)
    assert result.get_attribute("data-reading-verified") == "false"
    first = result.locator("li[data-step-ok='false']").first
    assert first.get_attribute("data-step") == step
    named = CATALOGUE.text("en", f"rp.step.{step}")
    assert result.locator("[data-reading-verdict]").inner_text() == f"✗ {CATALOGUE.text('en', 'rp.failed', step=named)}"
    page.context.close()


def test_the_transaction_proof_corrupted_in_transit_fails_the_reading_too(browser, demo_network, lot) -> None:
    with ServerThread(create_app(demo_network, ServerSettings(tamper_proofs=True))) as tampered:
        page = _open(browser, tampered.base, lot, "en", {})
        result = _check_warmest(page)
        assert result.get_attribute("data-reading-verified") == "false"
        failed = result.locator("li[data-step-ok='false']").evaluate_all("n => n.map((i) => i.dataset.step)")
        assert failed and all(key.startswith("tx.") for key in failed), failed
        page.context.close()


def _dashboard(browser: Any, base: str, lang: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    login = context.request.post(
        f"{base}/api/login", data={"username": f"{consortium.RETAILER}/yuna", "password": consortium.DEMO_PASSWORD}
    )
    assert login.ok, login.text()
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_dashboard_verifies_a_loggers_last_anchored_reading(browser, server, lang) -> None:
    page = _dashboard(browser, server.base, lang)
    page.goto(f"{server.base}/coldchain/dashboard?lang={lang}")
    page.wait_for_selector("#dashboard[data-loaded='true']", timeout=60_000)
    button = page.locator("button[data-verify-reading]").first
    device = button.get_attribute("data-verify-reading")
    button.click()
    page.wait_for_selector("[data-reading-result][data-reading-verified='true']", timeout=60_000)
    panel = page.locator("[data-reading-proof-panel]")
    assert device in panel.locator("[data-reading-shown]").inner_text()
    assert panel.locator("li[data-step-ok='false']").count() == 0
    assert panel.locator("li[data-step-ok='true']").count() >= 12
    assert untranslated(page.content(), lang, ALLOW) == []
    assert page.errors == []
    page.context.close()


def test_the_dashboard_names_the_failed_step_of_a_tampered_reading(browser, server) -> None:
    page = _dashboard(browser, server.base, "ko")
    page.route("**/api/coldchain/reading-proof*", lambda route: _doctor(route, _colder_with_its_leaf_hash))
    page.goto(f"{server.base}/coldchain/dashboard?lang=ko")
    page.wait_for_selector("#dashboard[data-loaded='true']", timeout=60_000)
    page.locator("button[data-verify-reading]").first.click()
    page.wait_for_selector("[data-reading-result][data-reading-verified='false']", timeout=60_000)
    panel = page.locator("[data-reading-proof-panel]")
    failed = panel.locator("li[data-step-ok='false']").first
    assert failed.get_attribute("data-step") == "shown"  # the proof is not of the reading the row shows
    assert failed.evaluate("n => getComputedStyle(n).color") == RED
    assert CATALOGUE.text("ko", "rp.step.shown") in panel.locator("[data-reading-verdict]").inner_text()
    page.context.close()
