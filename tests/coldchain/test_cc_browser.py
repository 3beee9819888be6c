"""Headless Chromium: a demo lot's consumer page opened from its QR payload shows the timeline, the chart and a
green Verified badge; with proofs tampered in transit, or a step doctored (shown unlike its leaf, or a leaf the
ledger never committed to), it is not verified. The dashboard traces downstream lots."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import consortia.apps.coldchain.consortium as consortium
from chromium import QUIET_LAUNCH_ARGS, browser_fixture, requires_chromium
from consortia.apps.coldchain.domain import gs1
from consortia.apps.coldchain.web import qrcode
from consortia.gateway.server.app import ServerSettings, create_app

from .cc_support import ServerThread, settle

pytestmark = requires_chromium


browser = browser_fixture(QUIET_LAUNCH_ARGS)


def _lots(network) -> tuple[list[gs1.LotId], gs1.LotId]:
    settle(network)
    contract = network.gateway(consortium.RETAILER).network(consortium.CHANNEL).contract(consortium.CONTRACT)
    rows = contract.evaluate("lots")
    retail = [gs1.LotId.from_key(r["lot"]) for r in rows if r["lot"].split("/")[1][:2] in ("FL", "MP")]
    landing = next(gs1.LotId.from_key(r["lot"]) for r in rows if r["lot"].split("/")[1][:2] == "MK")
    return retail, landing


def test_consumer_page_verifies_in_the_browser(demo_network, browser) -> None:
    retail, _ = _lots(demo_network)
    lot = retail[0]
    with ServerThread(create_app(demo_network)) as server:
        url = qrcode.payload(lot.key, resolver=server.base)
        assert url == f"{server.base}/01/{lot.gtin}/10/{lot.lot}"
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)  # a phone
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        badge = page.locator("[data-verify-badge]")
        page.wait_for_selector('[data-verify-badge][data-verified="true"]', timeout=60_000)
        assert "verified" in badge.get_attribute("class").split()
        assert page.locator("[data-timeline] li").count() >= 6
        assert page.locator("[data-timeline] li[data-cte='first_land_based_receiving']").count() == 1
        assert page.locator("[data-chart] svg path[data-series]").count() == 1
        assert page.locator("[data-chart] svg line[data-limit]").count() >= 1
        assert page.locator("[data-gauge] svg").count() == 1
        assert page.locator("[data-map] svg circle").count() >= 2
        assert page.locator(".proof-mark.ok").count() == page.locator("[data-timeline] li").count()
        page.goto(url + "?lang=ko")
        page.wait_for_selector('[data-verify-badge][data-verified="true"]', timeout=60_000)
        assert "블록체인 검증 완료" in badge.inner_text()
        assert errors == []
        context.close()


def test_the_excursion_lot_shows_its_exposure_with_the_inspection_that_cleared_it(demo_network, browser) -> None:
    """Issue 11, item 1: one verdict on top, the alarm and the histamine test that cleared it, never a bare gauge."""
    settle(demo_network)
    contract = demo_network.gateway(consortium.RETAILER).network(consortium.CHANNEL).contract(consortium.CONTRACT)
    lots = [gs1.LotId.from_key(r["lot"]) for r in contract.evaluate("lots") if r["lot"].split("/")[1][:2] == "MK"]
    with ServerThread(create_app(demo_network)) as server:
        excursion = None
        for lot in lots:
            journey = httpx.get(f"{server.base}/api/coldchain/public/journey", params={"lot": lot.key}).json()
            if any(a["code"] == "high_temperature_exposure" for a in journey["alarms"]):
                excursion = lot
                break
        assert excursion is not None and journey["safety"]["saleable"], journey.get("safety")
        page = browser.new_page()
        page.goto(qrcode.payload(excursion.key, resolver=server.base))
        page.wait_for_selector("[data-safety]", timeout=60_000)
        assert page.locator("[data-safety]").get_attribute("data-safety") in ("fresh", "use_soon")
        assert page.locator("[data-alarm='high_temperature_exposure']").count() == 1
        cleared = page.locator("[data-cleared='high_temperature_exposure']")
        assert cleared.count() == 1 and "Histamine" in cleared.inner_text()
        page.close()


def test_tampered_proofs_are_not_verified(demo_network, browser) -> None:
    retail, _ = _lots(demo_network)
    with ServerThread(create_app(demo_network, ServerSettings(tamper_proofs=True))) as server:
        page = browser.new_page()
        page.goto(qrcode.payload(retail[0].key, resolver=server.base))
        page.wait_for_selector('[data-verify-badge][data-verified="false"]', timeout=60_000)
        assert "not-verified" in page.locator("[data-verify-badge]").get_attribute("class").split()
        assert page.locator(".proof-mark.bad").count() >= 1
        assert page.locator("[data-timeline] li").count() >= 6  # the story is shown, just not vouched for
        page.close()


def test_dashboard_one_click_to_downstream(demo_network, browser) -> None:
    retail, landing = _lots(demo_network)
    with ServerThread(create_app(demo_network)) as server:
        context = browser.new_context()
        login = context.request.post(
            f"{server.base}/api/login",
            data={"username": f"{consortium.RETAILER}/yuna", "password": consortium.DEMO_PASSWORD},
        )
        assert login.ok, login.text()
        page = context.new_page()
        page.goto(f"{server.base}/coldchain/dashboard")
        page.wait_for_selector("#dashboard[data-loaded='true']", timeout=30_000)
        assert page.locator("[data-alarms] li[data-alarm]").count() >= 1
        page.locator(f"tr[data-lot='{landing.key}']").click()
        page.wait_for_selector("[data-downstream]", timeout=30_000)
        downstream = set(
            page.locator("[data-downstream]").evaluate_all("nodes => nodes.map(n => n.dataset.downstream)")
        )
        made = {x.key for x in retail if x.lot.split("-")[1][:2] == landing.lot.split("-")[1]}
        assert made <= downstream
        context.close()


def _doctored(route: Any, change: Callable[[dict], None]) -> None:
    response = route.fetch()
    journey = json.loads(response.text())
    change(journey)
    route.fulfill(response=response, body=json.dumps(journey), headers={**response.headers})


def _landing(journey: dict) -> dict:
    return next(step for step in journey["steps"] if step["cte"] == "first_land_based_receiving")


def _shown_otherwise(journey: dict) -> None:
    _landing(journey)["kdes"]["catch_area"] = "27"  # the page would show the Atlantic; the leaf says area 61


def _leaf_otherwise(journey: dict) -> None:
    step = _landing(journey)
    step["kdes"]["catch_area"] = "27"
    step["commitment"]["leaf"] = step["commitment"]["leaf"].replace('"catch_area":"61"', '"catch_area":"27"')


@pytest.mark.parametrize("change", [_shown_otherwise, _leaf_otherwise], ids=["step-unlike-leaf", "leaf-not-in-tree"])
def test_a_doctored_step_is_not_verified(demo_network, browser, change) -> None:
    retail, _ = _lots(demo_network)
    with ServerThread(create_app(demo_network)) as server:
        page = browser.new_page()
        page.route("**/api/coldchain/public/journey*", lambda route: _doctored(route, change))
        page.goto(qrcode.payload(retail[0].key, resolver=server.base))
        page.wait_for_selector('[data-verify-badge][data-verified="false"]', timeout=60_000)
        assert page.locator("[data-timeline] li[data-cte='first_land_based_receiving'] .proof-mark.bad").count() == 1
        assert page.locator(".proof-mark.ok").count() == page.locator("[data-timeline] li").count() - 1
        page.close()
