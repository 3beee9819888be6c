"""Headless Chromium on the cold chain's script-drawn pages (issue 11): the consumer page, the dashboard, the QR page
and the API agree on every demo lot's safety state; the consumer page and the dashboard are whole in Korean and in
English; no raw value (ISO time, CBV or rule code, bare GLN) is shown; chart ticks are round and the temperature
line never runs through its limit's label; the dashboard works at 1280 and 390 px; and in the variant of the demo
without the inspection, the excursion lot's page says held / not for sale with no gauge."""

from __future__ import annotations

import re

import httpx
import pytest

import consortia.apps.coldchain.consortium as consortium
from chromium import LAUNCH_ARGS, browser_fixture, requires_chromium
from consortia.apps.coldchain.domain import gs1
from consortia.apps.coldchain.web.catalogue import ALLOW, CATALOGUE, LANGUAGES
from consortia.gateway.server.app import create_app
from consortia.ui.i18n import untranslated

from .cc_support import ServerThread, settle

ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")

pytestmark = requires_chromium


browser = browser_fixture(LAUNCH_ARGS)


def _lots(network) -> list[gs1.LotId]:
    contract = network.gateway(consortium.RETAILER).network(consortium.CHANNEL).contract(consortium.CONTRACT)
    return [gs1.LotId.from_key(row["lot"]) for row in contract.evaluate("lots")]


def _consumer(browser, base: str, lot: gs1.LotId, lang: str, width: int = 390):
    context = browser.new_context(viewport={"width": width, "height": 844}, locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base}{lot.path}?lang={lang}")
    page.wait_for_selector("#app[data-loaded='true']", timeout=60_000)
    page.wait_for_selector("[data-verify-badge]:not([data-verified='pending'])", timeout=60_000)
    return context, page, errors


def _dashboard(browser, base: str, lang: str, width: int):
    context = browser.new_context(viewport={"width": width, "height": 900})
    login = context.request.post(
        f"{base}/api/login", data={"username": f"{consortium.RETAILER}/yuna", "password": consortium.DEMO_PASSWORD}
    )
    assert login.ok, login.text()
    page = context.new_page()
    page.goto(f"{base}/coldchain/dashboard?lang={lang}")
    page.wait_for_selector("#dashboard[data-loaded='true']", timeout=60_000)
    return context, page


def test_every_page_and_the_api_agree_on_each_lots_safety_state(demo_network, server, browser) -> None:
    lots = _lots(demo_network)
    context, dashboard = _dashboard(browser, server.base, "en", 1280)
    on_dashboard = dict(
        dashboard.locator("tr[data-lot]").evaluate_all(
            "rows => rows.map(r => [r.dataset.lot, r.querySelector('[data-safety]').dataset.safety])"
        )
    )
    context.close()
    states = set()
    for lot in lots:
        api = httpx.get(f"{server.base}/api/coldchain/public/journey", params={"lot": lot.key}).json()["safety"]
        label = httpx.get(f"{server.base}/coldchain/qr{lot.path}").text
        qr = re.search(r'data-safety="([a-z_]+)"', label).group(1)
        context, page, errors = _consumer(browser, server.base, lot, "en")
        consumer = page.locator("[data-safety]").get_attribute("data-safety")
        context.close()
        assert consumer == qr == on_dashboard[lot.key] == api["state"], lot
        assert errors == []
        states.add(api["state"])
    assert "fresh" in states


@pytest.mark.parametrize("lang", LANGUAGES)
def test_consumer_pages_are_whole_in_each_language_with_no_raw_values(demo_network, server, browser, lang) -> None:
    assert all(not keys for keys in CATALOGUE.missing().values())
    lots = _lots(demo_network)
    chosen = [next(x for x in lots if x.lot.startswith("FL")), next(x for x in lots if x.lot.startswith("MK"))]
    for lot in chosen:
        context, page, errors = _consumer(browser, server.base, lot, lang)
        html = page.content()
        assert untranslated(html, lang, ALLOW) == [], lot
        text = page.locator("body").inner_text()
        assert not ISO_TIME.search(text) and "KST" in text and "Asia/Seoul" in text
        assert not CODE.search(text), CODE.findall(text)
        assert not re.search(r"\b\d{13}\b", text)  # GLNs only in tooltips
        ticks = [float(x) for x in page.locator("[data-tick]").evaluate_all("n => n.map(x => x.dataset.tick)")]
        step = ticks[1] - ticks[0]
        assert step in (1, 2, 5, 10) and all(t % step == 0 for t in ticks), ticks
        crossings = page.evaluate(
            """() => {
              const path = document.querySelector('[data-series]');
              const points = path.getAttribute('d').match(/-?[0-9.]+,-?[0-9.]+/g).map(p => p.split(',').map(Number));
              const out = [];
              for (const label of document.querySelectorAll('[data-limit-label]')) {
                const b = label.getBBox();
                for (let i = 1; i < points.length; i++) {
                  for (let k = 0; k <= 10; k++) {
                    const x = points[i - 1][0] + (points[i][0] - points[i - 1][0]) * k / 10;
                    const y = points[i - 1][1] + (points[i][1] - points[i - 1][1]) * k / 10;
                    const inside = x > b.x && x < b.x + b.width && y > b.y + 1 && y < b.y + b.height - 1;
                    if (inside) out.push([label.textContent, x, y]);
                  }
                }
              }
              return out;
            }"""
        )
        assert crossings == [], crossings[:3]
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert errors == []
        context.close()


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_dashboard_for_people(demo_network, server, browser, lang, width) -> None:
    context, page = _dashboard(browser, server.base, lang, width)
    html = page.content()
    assert untranslated(html, lang, ALLOW) == []
    text = page.locator("body").inner_text()
    assert not ISO_TIME.search(text) and "KST" in text
    assert not CODE.search(text), CODE.findall(text)
    assert "GLN" not in text and not re.search(r"\b\d{13}\b", text)  # places by name, GLNs in tooltips
    assert "(s)" not in text
    assert page.locator("[data-live] [data-stale]").count() >= 1  # the boat's logger stopped days ago
    for row in page.locator("tr[data-lot]").all():
        lot_id = row.locator(".lot-id")
        assert lot_id.inner_text() == row.get_attribute("data-lot")
        assert lot_id.evaluate("n => n.scrollWidth <= n.getBoundingClientRect().width + 1")  # not cut off
    if width == 390:
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        row = page.locator("tr[data-lot]").first
        for selector in ("[data-safety]", "[data-page-link]"):
            box = row.locator(selector).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
    page.locator("[data-logout]").click()
    page.wait_for_url("**/login*")
    again = context.request.get(f"{server.base}/api/coldchain/lots", headers={"Accept": "application/json"})
    assert again.status == 401
    context.close()


def test_without_the_inspection_the_excursion_lots_page_says_held(held_network, browser) -> None:
    settle(held_network)
    with ServerThread(create_app(held_network)) as running:
        for lot in _lots(held_network):
            journey = httpx.get(f"{running.base}/api/coldchain/public/journey", params={"lot": lot.key}).json()
            if lot.lot.startswith("MK") and any(a["code"] == "high_temperature_exposure" for a in journey["alarms"]):
                break
        else:
            raise AssertionError("no excursion lot")
        for lang in LANGUAGES:
            context, page, errors = _consumer(browser, running.base, lot, lang)
            verdict = page.locator("[data-safety]")
            assert verdict.get_attribute("data-safety") == "held_for_inspection"
            assert verdict.inner_text() == CATALOGUE.text(lang, "state.held_for_inspection")
            assert page.locator("[data-not-for-sale]").count() == 1
            assert page.locator("[data-gauge] svg").count() == 0  # no green gauge
            assert page.locator("[data-cleared]").count() == 0
            assert page.locator("[data-alarm='high_temperature_exposure']").count() == 1
            assert untranslated(page.content(), lang, ALLOW) == []
            assert errors == []
            context.close()
