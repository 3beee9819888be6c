"""The explorer pages in a real browser: login, live dashboard, block and transaction pages, Verify, 403, phone.

One embedded network (Org1 and Org2 on ch1 with asset-transfer, Org2 and Org3 on ch2) is built per module with a
few transactions — one of them committed as an MVCC read conflict, one writing private data — and served by two
gateway apps under uvicorn on 127.0.0.1: a normal one and one that corrupts proofs in transit. Debian's Chromium
is driven by Playwright (never a downloaded browser). Screenshots go to ``docs/images/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chromium import QUIET_LAUNCH_ARGS, launch_chromium, require_chromium
from conftest import ASSET_TRANSFER
from consortia.client import Contract, Gateway, TransactionInvalid, build_proposal
from consortia.contracts.collections_config import CollectionConfig
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.identity.wallet import Wallet
from consortia.ledger.config import BatchConfig
from consortia.ledger.encoding import encode
from consortia.ledger.transaction import ENVELOPE_TRANSACTION, Envelope
from consortia.network.bootstrap import wallet_dir
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec, UserSpec
from servers import Server

IN_CI = os.environ.get("CI") == "true"
try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    if IN_CI:
        raise
    pytest.skip("the Python package playwright is not installed", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
WIDGET = ROOT / "src" / "consortia" / "gateway" / "server" / "static" / "verify-widget.js"
ALICE = ("Org1/alice", "alice-password-1")
CAROL = ("Org3/carol", "carol-password-1")
HISTORY_STEP = "transaction is in the ledger history"
TIMEOUT_MS = 15_000
JS_ERRORS: dict[int, list[str]] = {}


@dataclass
class Site:
    """The network, its two servers, the browser and the transactions the tests look at."""

    network: EmbeddedNetwork
    server: Server
    tampered: Server
    browser: Browser
    alice: Contract
    transfer: Any = None
    invalid_tx: str = ""
    private_tx: str = ""


def spec() -> NetworkSpec:
    """Org1 and Org2 on ch1, Org2 and Org3 on ch2; alice (Org1) and carol (Org3) log in with passwords."""
    batch = BatchConfig(max_transactions=50, timeout_ms=20)
    return NetworkSpec(
        orgs=(
            OrgSpec("Org1", users=(UserSpec("admin", "admin"), UserSpec("alice", "client", {}, ALICE[1]))),
            OrgSpec("Org2", users=(UserSpec("admin", "admin"), UserSpec("client", "client"))),
            OrgSpec("Org3", users=(UserSpec("admin", "admin"), UserSpec("carol", "client", {}, CAROL[1]))),
        ),
        channels=(ChannelSpec("ch1", ("Org1", "Org2"), batch), ChannelSpec("ch2", ("Org2", "Org3"), batch)),
    )


def mvcc_conflict(contract: Contract, asset: str) -> str:
    """Endorse two touches of one asset before ordering either: the second commits as MVCC_READ_CONFLICT."""
    identity = contract.network.gateway.identity
    made = []
    for _ in range(2):
        prepared = build_proposal(identity, "ch1", contract.name, "touch", [asset], None)
        transaction = contract.endorse(prepared)
        made.append((prepared.tx_id, encode(Envelope(ENVELOPE_TRANSACTION, transaction, identity.sign(transaction)))))
    futures = [contract.order(envelope) for _, envelope in made]
    futures[0].result(30)
    with pytest.raises(TransactionInvalid) as invalid:
        futures[1].result(30)
    assert invalid.value.code == "MVCC_READ_CONFLICT"
    return made[1][0]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Build the network, its transactions, both servers and the browser."""
    require_chromium()
    directory = tmp_path_factory.mktemp("pages") / "net"
    network = EmbeddedNetwork.create(directory, spec())
    network.deploy(
        "ch1",
        ASSET_TRANSFER,
        policy="AND('Org1.peer','Org2.peer')",
        collections=[CollectionConfig("appraisals", ("Org1", "Org2"))],
    )
    _, identity = Wallet(wallet_dir(directory)).login(*ALICE)
    alice = Gateway(identity, network).network("ch1").contract("asset-transfer")
    for number in range(1, 6):
        alice.submit("create", f"a{number}", "blue", number, 100 * number)
    transfer = alice.submit("transfer", "a1", "Org2")
    private = alice.submit("appraise", "a2", transient={"appraisal": b"worth a fortune"})
    invalid = mvcc_conflict(alice, "a3")
    server = Server(create_app(network)).start()
    tampered = Server(create_app(network, ServerSettings(tamper_proofs=True))).start()
    playwright = sync_playwright().start()
    browser = launch_chromium(playwright, QUIET_LAUNCH_ARGS)
    state = Site(network, server, tampered, browser, alice, transfer, invalid, private.tx_id)
    try:
        yield state
    finally:
        browser.close()
        playwright.stop()
        server.stop()
        tampered.stop()
        network.close()  # ends the servers' event streams
        server.join()
        tampered.join()


def new_page(site: Site, base: str | None = None, **options: Any) -> Page:
    """A page in a fresh browser context (own cookies and storage)."""
    context = site.browser.new_context(base_url=base or site.server.url, **options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = JS_ERRORS.setdefault(id(page), [])
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


def log_in(page: Page, who: tuple[str, str] = ALICE, target: str = "/") -> None:
    """Log in through the form and land on ``target``."""
    page.goto(f"/login?next={target}")
    page.get_by_label("Organisation / user").fill(who[0])
    page.get_by_label("Password").fill(who[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(re.escape(target) + "$"))


def no_horizontal_scroll(page: Page) -> bool:
    """Whether the document fits the viewport's width."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_anonymous_visitor_is_sent_to_login_and_back(site: Site) -> None:
    """Pages other than /login redirect to /login?next=…, and logging in returns there."""
    page = new_page(site)
    page.goto("/channels/ch1")
    assert "/login?next=%2Fchannels%2Fch1" in page.url
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Organisation / user").fill(ALICE[0])
    page.get_by_label("Password").fill(ALICE[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/channels/ch1$"))
    expect(page.get_by_role("heading", name="Channel ch1")).to_be_visible()
    page.context.close()


def test_bad_login_shows_an_error(site: Site) -> None:
    """A wrong password re-renders the form with an error and status 401."""
    page = new_page(site)
    page.goto("/login")
    page.get_by_label("Organisation / user").fill(ALICE[0])
    page.get_by_label("Password").fill("not-the-password")
    with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST") as response:
        page.get_by_role("button", name="Log in").click()
    assert response.value.status == 401
    expect(page.get_by_role("alert")).to_contain_text("Unknown user or wrong password")
    assert "consortia_session" not in {c["name"] for c in page.context.cookies()}
    page.context.close()


def test_dashboard_is_live(site: Site) -> None:
    """The dashboard shows channels, heights, the chart and invalid reasons; new blocks appear by themselves."""
    page = new_page(site, viewport={"width": 1280, "height": 1000})
    log_in(page)
    height = site.network.peers["Org1"].channel("ch1").height
    expect(page.locator('[data-height="ch1"]')).to_have_text(str(height))
    assert page.locator('[data-height="ch2"]').count() == 0  # Org1 is not on ch2
    box = page.locator("canvas#tps-chart").bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100
    expect(page.locator('#invalid-reasons tr[data-reason="MVCC_READ_CONFLICT"] [data-count]')).to_have_text("1")
    expect(page.locator("[data-live-status]")).to_have_text("Live")

    results = [site.alice.submit("create", f"live{n}", "green", 1, n) for n in range(3)]
    last = max(result.block for result in results)
    row = page.locator(f'#recent-blocks tr[data-block-row="ch1:{last}"]')
    expect(row).to_be_visible()
    expect(row.locator("a")).to_have_attribute("href", f"/channels/ch1/blocks/{last}")
    expect(page.locator('[data-height="ch1"]')).to_have_text(str(last + 1))
    expect(page.locator("[data-tps-summary]")).to_contain_text("tx/s")
    assert JS_ERRORS[id(page)] == []
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / "dashboard.png"), full_page=True)
    page.context.close()


def test_block_and_transaction_pages(site: Site) -> None:
    """Channel → block → transaction: header, signer, codes, proposer, endorsers, reads and writes."""
    page = new_page(site)
    log_in(page, target="/channels/ch1")
    expect(page.locator("#orgs-title + dl")).to_contain_text("Org1")
    expect(page.get_by_role("row", name=re.compile("asset-transfer"))).to_contain_text("AND('Org1.peer','Org2.peer')")
    block = site.transfer.block
    page.locator("#channel-blocks").get_by_role("link", name=f"#{block}", exact=True).click()
    page.wait_for_url(re.compile(rf"/channels/ch1/blocks/{block}$"))
    header = page.locator("#block-header")
    expect(header).to_contain_text("OrdererOrg/")
    # One zone rule: the explorer shows UTC, and names it on every time, after its script has run too.
    times = page.locator("#block-header time").all_inner_texts()
    assert times, "the block header shows its time"
    for shown in times:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", shown), shown
    expect(page.locator("footer")).to_contain_text("times in UTC")
    hash_code = header.locator("dt:text-is('Header hash') + dd code")
    assert len(hash_code.get_attribute("title") or "") == 64 and "…" in hash_code.inner_text()
    row = page.locator("#block-transactions tr", has=page.locator(f'a[href$="{site.transfer.tx_id}"]'))
    expect(row.locator(".badge.code-valid")).to_have_text("VALID")
    row.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/tx/{site.transfer.tx_id}$"))
    expect(page.locator("#tx-proposer")).to_contain_text("Org1/alice")
    expect(page.locator("#tx-endorsers")).to_contain_text("Org1/peer0")
    expect(page.locator("#tx-endorsers")).to_contain_text("Org2/peer0")
    expect(page.locator("#tx-function")).to_have_text("transfer")
    expect(page.locator("#tx-reads")).to_contain_text("asset:a1")
    expect(page.locator("#tx-writes")).to_contain_text('"owner": "Org2"')
    expect(page.locator("#tx-events")).to_contain_text("AssetTransferred")

    page.goto(f"/channels/ch1/tx/{site.invalid_tx}")
    expect(page.locator("h1 .badge")).to_have_text("MVCC_READ_CONFLICT")
    expect(page.locator("h1 .badge")).to_have_class(re.compile("code-invalid"))
    page.goto(f"/channels/ch1/tx/{site.private_tx}")
    expect(page.locator("#tx-private")).to_contain_text("appraisals")
    assert "worth a fortune" not in page.content()
    page.context.close()


def press_verify(page: Page) -> str:
    """Press Verify and wait for the widget's verdict."""
    assert WIDGET.exists(), f"{WIDGET.name} (the in-browser verifier widget) has not landed yet"
    section = page.locator("section[data-verify-proof]")
    section.locator("[data-verify-button]").click()
    expect(section).to_have_attribute("data-verify-result", re.compile("^(ok|failed)$"))
    return section.get_attribute("data-verify-result") or ""


def test_verify_in_the_browser(site: Site) -> None:
    """The Verify box turns green: every step of the proof holds."""
    page = new_page(site, viewport={"width": 1280, "height": 1100})
    log_in(page, target=f"/channels/ch1/tx/{site.transfer.tx_id}")
    result = press_verify(page)
    steps = page.locator("section[data-verify-proof] li[data-step-ok]")
    assert result == "ok", page.locator("[data-verify-summary]").inner_text()
    assert steps.count() > 0
    assert page.locator('section[data-verify-proof] li[data-step-ok="false"]').count() == 0
    page.screenshot(path=str(IMAGES / "transaction-verified.png"), full_page=True)
    page.context.close()


def test_verify_catches_a_tampered_proof(site: Site) -> None:
    """With proofs corrupted in transit the box turns red, and the summary names the failing step."""
    page = new_page(site, base=site.tampered.url)
    log_in(page, target=f"/channels/ch1/tx/{site.transfer.tx_id}")
    assert press_verify(page) == "failed"
    failed = page.locator('section[data-verify-proof] li[data-step-ok="false"]')
    assert failed.count() >= 1
    expect(failed.first).to_contain_text(HISTORY_STEP)
    expect(page.locator("[data-verify-summary]")).to_contain_text(HISTORY_STEP)
    page.context.close()


def test_non_member_gets_a_403_page(site: Site) -> None:
    """Org3 is not on ch1: its user gets a friendly HTML 403 page, with the site's header."""
    page = new_page(site)
    log_in(page, CAROL)
    expect(page.locator('[data-height="ch2"]')).to_be_visible()
    response = page.goto("/channels/ch1")
    assert response is not None and response.status == 403
    assert response.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", name="Forbidden")).to_be_visible()
    expect(page.get_by_role("search")).to_be_visible()
    response = page.goto(f"/channels/ch1/tx/{site.transfer.tx_id}")
    assert response is not None and response.status == 403
    response = page.goto("/channels/nowhere")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not Found")).to_be_visible()
    page.context.close()


def test_search_from_the_header(site: Site) -> None:
    """The header's search box finds a transaction id, a block number and a key, linking to their pages."""
    page = new_page(site)
    log_in(page)
    box = page.get_by_role("search").get_by_role("searchbox")
    box.fill(site.transfer.tx_id)
    box.press("Enter")
    page.get_by_role("link", name=site.transfer.tx_id).click()
    page.wait_for_url(re.compile(rf"/tx/{site.transfer.tx_id}$"))
    page.goto("/search?q=asset:a1")
    link = page.locator("#search-results a").first
    expect(link).to_have_attribute("href", f"/channels/ch1/tx/{site.transfer.tx_id}")
    page.goto("/search?q=2")
    expect(page.locator("#search-results")).to_contain_text("Block #2")
    page.context.close()


def test_phone_viewport_has_no_horizontal_scroll(site: Site) -> None:
    """At 390×844 the dashboard, a block and a transaction fit the screen's width."""
    page = new_page(site, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    log_in(page)
    expect(page.locator("canvas#tps-chart")).to_be_visible()
    assert no_horizontal_scroll(page)
    for path in (
        f"/channels/ch1/blocks/{site.transfer.block}",
        f"/channels/ch1/tx/{site.transfer.tx_id}",
        "/channels/ch1",
    ):
        page.goto(path)
        assert no_horizontal_scroll(page), path
    page.context.close()


def test_logout(site: Site) -> None:
    """Log out ends the session: the next page asks to log in again."""
    page = new_page(site)
    log_in(page)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login$"))
    page.goto("/")
    assert "/login?next=%2F" in page.url
    page.context.close()
