"""The explorer's configuration history (issue 14, item 7): versions, who signed, who was a member when.

One embedded network per module: Org1, Org2 and Org3 on ``ch1`` (with asset-transfer), Org2 and Org5 on ``ch2``.
On ``ch1`` a fourth organisation is added (version 1), Org2's CA revokes its client's certificate (version 2) and
Org4 is removed again (version 3), with ordinary transactions in between. The configuration page, its JSON twin,
the membership chart (an SVG whose rows and bars are read back here), the marks on configuration blocks and the
read checks are asserted against what the network did.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec
import pytest
from fastapi.testclient import TestClient

from chromium import NO_SANDBOX, launch_chromium, require_chromium
from conftest import ASSET_TRANSFER
from consortia.channel.update import ConfigRecord, config_history, record_config
from consortia.client.request_signing import authorization_header
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.gateway.server.explorer import history_of
from consortia.gateway.server.pages import explorer_templates, membership_svg
from consortia.gateway.server.views import block_view, config_mark
from consortia.identity import CertificateAuthority, parse_certificate
from consortia.ledger.codes import Code
from consortia.ledger.config import BatchConfig, ChannelConfig, OrganisationConfig
from consortia.ledger.encoding import encode
from consortia.ledger.ledger import CommittedBlock
from consortia.network.bootstrap import create_organisation, crypto_dir
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec, UserSpec

CHANNEL = "ch1"
ALICE = ("Org1/alice", "alice-password-1")
ERIN = ("Org5/erin", "erin-password-1")
SVG = "{http://www.w3.org/2000/svg}"


@dataclass
class World:
    """The network, a gateway client, and what the updates did."""

    network: EmbeddedNetwork
    client: TestClient
    added: int
    """The block that added Org4 (version 1)."""
    revoked: int
    """The block that carried Org2's revocation list (version 2)."""
    removed: int
    """The block that removed Org4 (version 3)."""
    serial: int
    """The serial number of the revoked certificate (Org2/client)."""
    alice: str
    erin: str


def spec() -> NetworkSpec:
    admin = UserSpec("admin", "admin")
    return NetworkSpec(
        orgs=(
            OrgSpec("Org1", users=(admin, UserSpec("client", "client"), UserSpec("alice", "client", {}, ALICE[1]))),
            OrgSpec("Org2", users=(admin, UserSpec("client", "client"))),
            OrgSpec("Org3", users=(admin,)),
            OrgSpec("Org5", users=(admin, UserSpec("erin", "client", {}, ERIN[1]))),
        ),
        channels=(
            ChannelSpec(CHANNEL, ("Org1", "Org2", "Org3"), BatchConfig(max_transactions=10, timeout_ms=20)),
            ChannelSpec("ch2", ("Org2", "Org5"), BatchConfig(max_transactions=10, timeout_ms=20)),
        ),
    )


def _next(network: EmbeddedNetwork, **changes: object) -> ChannelConfig:
    current = network.channel_config(CHANNEL)
    return msgspec.structs.replace(current, version=current.version + 1, **changes)


def _login(client: TestClient, who: tuple[str, str]) -> str:
    response = client.post("/api/login", json={"username": who[0], "password": who[1]})
    assert response.status_code == 200, response.text
    token = response.cookies["consortia_session"]
    client.cookies.clear()
    return token


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("explorer-config") / "net"
    network = EmbeddedNetwork.create(directory, spec())
    try:
        network.deploy(CHANNEL, ASSET_TRANSFER, policy="OR('Org1.peer','Org2.peer')")
        assets = network.gateway("Org1").network(CHANNEL).contract("asset-transfer")
        assets.submit("create", "a1", "red", 1, 10)

        create_organisation(directory, "Org4")
        org4 = OrganisationConfig("Org4", ((crypto_dir(directory, "Org4") / "ca" / "ca.pem").read_bytes(),))
        with_org4 = (*network.channel_config(CHANNEL).organisations, org4)
        added = network.update_config(CHANNEL, _next(network, organisations=with_org4), ["Org1", "Org2"])
        assets.submit("create", "a2", "blue", 2, 20)

        victim = network.identity("Org2", "client").certificate_der
        crl = CertificateAuthority.load(crypto_dir(directory, "Org2") / "ca").revocation_list([victim])
        organisations = tuple(
            msgspec.structs.replace(o, revocation_lists=(crl,)) if o.msp_id == "Org2" else o
            for o in network.channel_config(CHANNEL).organisations
        )
        revoked = network.update_config(CHANNEL, _next(network, organisations=organisations), ["Org1", "Org2", "Org3"])

        remaining = tuple(o for o in network.channel_config(CHANNEL).organisations if o.msp_id != "Org4")
        removed = network.update_config(CHANNEL, _next(network, organisations=remaining), ["Org1", "Org2", "Org3"])
        assets.submit("create", "a3", "green", 3, 30)

        serial = parse_certificate(victim).serial
        app = create_app(network, ServerSettings(watch_identities=False))
        with TestClient(app, raise_server_exceptions=False) as client:
            yield World(network, client, added, revoked, removed, serial, _login(client, ALICE), _login(client, ERIN))
    finally:
        network.close()


def _get(world: World, target: str, session: str | None, **options: object):
    world.client.cookies.clear()
    if session:
        world.client.cookies.set("consortia_session", session)
    return world.client.get(target, **options)


def _height(world: World) -> int:
    return world.network.peer_channel("Org1", CHANNEL).height


# -- the JSON route --------------------------------------------------------------------------------------------


def test_json_lists_every_version_with_signers_changes_and_ranges(world: World) -> None:
    response = _get(world, f"/api/channels/{CHANNEL}/config/history", world.alice)
    assert response.status_code == 200, response.text
    body = response.json()
    versions = body["versions"]
    assert [v["version"] for v in versions] == [0, 1, 2, 3]
    assert [v["block"] for v in versions] == [0, world.added, world.revoked, world.removed]
    assert set(versions[0]["signers"]) == {"Org1/admin", "Org2/admin", "Org3/admin"}
    assert set(versions[1]["signers"]) == {"Org1/admin", "Org2/admin"}
    assert set(versions[2]["signers"]) == set(versions[3]["signers"]) == {"Org1/admin", "Org2/admin", "Org3/admin"}
    assert versions[1]["changes"] == ["adds organisation Org4"]
    assert versions[2]["changes"] == ["changes the revocation lists of Org2"]
    assert versions[3]["changes"] == ["removes organisation Org4"]
    assert "Org1, Org2, Org3" in versions[0]["changes"][0]
    # Each version is in force from the block after the one that set it, until the next one is set.
    assert [(v["from_block"], v["to_block"]) for v in versions] == [
        (0, world.added),
        (world.added + 1, world.revoked),
        (world.revoked + 1, world.removed),
        (world.removed + 1, None),
    ]
    assert body["height"] == _height(world)
    assert body["membership"] == [
        {"org": "Org1", "from_block": 0, "to_block": None},
        {"org": "Org2", "from_block": 0, "to_block": None},
        {"org": "Org3", "from_block": 0, "to_block": None},
        {"org": "Org4", "from_block": world.added + 1, "to_block": world.removed},
    ]
    serial = format(world.serial, "x")
    assert body["revocation_changes"] == [
        {"org": "Org2", "version": 2, "block": world.revoked, "from_block": world.revoked + 1, "revoked": [serial]}
    ]
    # CA certificates as PEM, revocation lists as the serial numbers with dates.
    org2 = next(o for o in versions[2]["organisations"] if o["msp_id"] == "Org2")
    assert org2["ca_certificates"][0].startswith("-----BEGIN CERTIFICATE-----")
    assert [r["serial"] for r in org2["revoked"]] == [serial]
    assert org2["revoked"][0]["revoked"].endswith("Z") and org2["revoked"][0]["revoked_ms"] > 0
    assert next(o for o in versions[1]["organisations"] if o["msp_id"] == "Org2")["revoked"] == []
    assert [o["msp_id"] for o in versions[1]["organisations"]] == ["Org1", "Org2", "Org3", "Org4"]


# -- the page and its chart ------------------------------------------------------------------------------------


def _version_sections(html: str) -> dict[int, str]:
    parts = re.split(r'<li id="v(\d+)" class="config-version"', html)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts), 2)}


def test_page_lists_versions_with_signers_changes_and_block_links(world: World) -> None:
    response = _get(world, f"/channels/{CHANNEL}/config", world.alice)
    assert response.status_code == 200, response.text
    sections = _version_sections(response.text)
    assert sorted(sections) == [0, 1, 2, 3]
    assert list(sections) == [3, 2, 1, 0]  # newest first
    assert "adds organisation Org4" in sections[1]
    assert "changes the revocation lists of Org2" in sections[2]
    assert "removes organisation Org4" in sections[3]
    assert "removes" not in sections[1] and "adds organisation" not in sections[3]
    signers = {v: re.findall(r"<li>(Org\d/admin)</li>", sections[v]) for v in sections}
    assert sorted(signers[1]) == ["Org1/admin", "Org2/admin"]
    assert sorted(signers[3]) == ["Org1/admin", "Org2/admin", "Org3/admin"]
    assert f'href="/channels/{CHANNEL}/blocks/{world.revoked}"' in sections[2]
    assert "in force" in sections[3] and "in force</span>" not in sections[2]
    assert format(world.serial, "x") in sections[2]
    assert " UTC" in sections[1]  # times are shown in the explorer's one zone


def test_membership_chart_has_one_row_per_organisation_and_its_block_ranges(world: World) -> None:
    html = _get(world, f"/channels/{CHANNEL}/config", world.alice).text
    svg = ET.fromstring(re.search(r"<svg class=\"membership-chart\".*?</svg>", html, re.S).group(0))
    rows = [t.get("data-org") for t in svg.iter(f"{SVG}text") if t.get("class") == "row-label"]
    assert rows == ["Org1", "Org2", "Org3", "Org4"]
    bars = [
        (r.get("data-org"), r.get("data-from"), r.get("data-to"))
        for r in svg.iter(f"{SVG}rect")
        if "member-bar" in (r.get("class") or "")
    ]
    assert bars == [
        ("Org1", "0", ""),
        ("Org2", "0", ""),
        ("Org3", "0", ""),
        ("Org4", str(world.added + 1), str(world.removed)),
    ]
    # Bars are placed on the block axis: Org4's starts right of Org1's and ends before the chart's right edge.
    geometry = {
        r.get("data-org"): (float(r.get("x")), float(r.get("width")))
        for r in svg.iter(f"{SVG}rect")
        if "member-bar" in (r.get("class") or "")
    }
    assert geometry["Org1"][0] < geometry["Org4"][0]
    assert geometry["Org4"][0] + geometry["Org4"][1] < geometry["Org1"][0] + geometry["Org1"][1]
    marks = [(p.get("data-org"), p.get("data-block")) for p in svg.iter(f"{SVG}path")]
    assert marks == [("Org2", str(world.revoked + 1))]
    lines = [int(line.get("data-block")) for line in svg.iter(f"{SVG}line") if line.get("class") == "config-line"]
    assert lines == [world.added, world.revoked, world.removed]


def test_configuration_blocks_are_marked_in_the_block_list_and_block_page(world: World) -> None:
    html = _get(world, f"/channels/{CHANNEL}", world.alice).text
    assert f'href="/channels/{CHANNEL}/config"' in html
    marked = re.findall(r'data-config-version="(\d+)">configuration update → version (\d+)', html)
    assert [int(a) for a, b in marked if a == b] == [3, 2, 1]  # newest block first
    block = _get(world, f"/channels/{CHANNEL}/blocks/{world.removed}", world.alice).text
    assert f'href="/channels/{CHANNEL}/config#v3"' in block and "configuration update → version 3" in block
    ordinary = _get(world, f"/channels/{CHANNEL}/blocks/{world.removed + 1}", world.alice).text
    assert "configuration update" not in ordinary
    api = _get(world, f"/api/channels/{CHANNEL}/blocks/{world.added}", world.alice).json()
    assert api["config"] == {"version": 1, "code": "VALID", "accepted": True}
    assert _get(world, f"/api/channels/{CHANNEL}/blocks/{world.added + 1}", world.alice).json()["config"] is None
    assert _get(world, f"/api/channels/{CHANNEL}/blocks/0", world.alice).json()["config"] is None


def test_a_refused_configuration_block_is_marked_refused_with_its_code(world: World) -> None:
    committed = world.network.peer_channel("Org1", CHANNEL).ledger.committed_block(world.added)
    refused = CommittedBlock(committed.block, bytes([Code.CONFIG_POLICY_FAILURE]))
    mark = config_mark(refused)
    assert mark == {"version": 1, "code": "CONFIG_POLICY_FAILURE", "accepted": False}
    assert block_view(refused, with_transactions=False)["config"] == mark
    macros = explorer_templates().env.get_template("_macros.html").module
    rendered = str(macros.config_mark(mark, CHANNEL))
    assert "refused configuration update (version 1): CONFIG_POLICY_FAILURE" in rendered
    assert "code-invalid" in rendered and "→" not in rendered


def test_an_organisation_that_leaves_and_rejoins_has_two_bars(world: World) -> None:
    """Membership spans follow the versions: out at the block that removed it, back after the one that re-added it."""
    records = config_history(world.network.peer_channel("Org1", CHANNEL).ledger.state)
    with_org4, without_org4 = record_config(records[1]), record_config(records[3])

    def record(version: int, block: int, config: ChannelConfig) -> ConfigRecord:
        return ConfigRecord(version, block, 0, encode(msgspec.structs.replace(config, version=version)), ())

    rejoined = [records[0], record(1, 4, with_org4), record(2, 9, without_org4), record(3, 15, with_org4)]
    history = history_of(rejoined, CHANNEL, 20)
    assert [(s.org, s.from_block, s.to_block) for s in history.members if s.org == "Org4"] == [
        ("Org4", 5, 9),
        ("Org4", 16, None),
    ]
    assert history.organisations == ("Org1", "Org2", "Org3", "Org4")
    # The version without Org4 is the one that also carries Org2's revocation list; the re-adding one drops it.
    assert [v.changes for v in history.versions[1:]] == [
        ("adds organisation Org4",),
        ("removes organisation Org4", "changes the revocation lists of Org2"),
        ("adds organisation Org4", "changes the revocation lists of Org2"),
    ]
    assert [(r.org, r.version, r.from_block, r.revoked) for r in history.revocations] == [
        ("Org2", 2, 10, (world.serial,)),
        ("Org2", 3, 16, ()),
    ]
    svg = ET.fromstring(str(membership_svg(history)))
    bars = [r.get("data-org") for r in svg.iter(f"{SVG}rect") if "member-bar" in (r.get("class") or "")]
    assert bars.count("Org4") == 2
    assert [t.get("data-org") for t in svg.iter(f"{SVG}text") if t.get("class") == "row-label"].count("Org4") == 1


# -- who may see it --------------------------------------------------------------------------------------------


def test_a_member_of_another_channel_is_refused(world: World) -> None:
    api = _get(world, f"/api/channels/{CHANNEL}/config/history", world.erin)
    assert api.status_code == 403 and api.json()["code"] == "FORBIDDEN"
    assert "versions" not in api.text
    page = _get(world, f"/channels/{CHANNEL}/config", world.erin)
    assert page.status_code == 403 and "Org4" not in page.text and "membership-chart" not in page.text
    # ... while the channel Org5 is on shows its own history.
    own = _get(world, "/api/channels/ch2/config/history", world.erin).json()
    assert own["versions"][0]["version"] == 0 and set(own["versions"][0]["signers"]) == {"Org2/admin", "Org5/admin"}
    assert own["membership"] == [
        {"org": "Org2", "from_block": 0, "to_block": None},
        {"org": "Org5", "from_block": 0, "to_block": None},
    ]


def test_an_outsider_and_an_unauthenticated_request_are_refused(world: World) -> None:
    target = f"/api/channels/{CHANNEL}/config/history"
    outsider = CertificateAuthority.create("Org9").issue("client", "client")
    signed = world.client.get(target, headers={"authorization": authorization_header(outsider, "GET", target, b"")})
    assert signed.status_code == 401 and "versions" not in signed.text
    anonymous = _get(world, target, None)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "UNAUTHENTICATED"
    page = _get(world, f"/channels/{CHANNEL}/config", None, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")


def test_an_unknown_channel_is_a_404_problem_and_page(world: World) -> None:
    api = _get(world, "/api/channels/nope/config/history", world.alice)
    assert api.status_code == 404 and api.json()["code"] == "UNKNOWN_CHANNEL"
    assert api.headers["content-type"].startswith("application/problem+json")
    page = _get(world, "/channels/nope/config", world.alice)
    assert page.status_code == 404 and "nope" in page.text and "membership-chart" not in page.text
    # The channel is still there for the next request: bad input lost nothing.
    assert _get(world, f"/api/channels/{CHANNEL}/config/history", world.alice).status_code == 200


# -- in a browser ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(world: World) -> Iterator[tuple[object, str]]:
    """Debian's Chromium driven by Playwright, and a served gateway app over the module's network."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    from servers import Server

    server = Server(create_app(world.network, ServerSettings(watch_identities=False))).start()
    playwright = sync_playwright().start()
    chromium = launch_chromium(playwright, NO_SANDBOX)
    try:
        yield chromium, server.url
    finally:
        chromium.close()
        playwright.stop()
        server.close()  # the browser's contexts are closed, so no event stream holds it open


def _page(browser: tuple[object, str], who: tuple[str, str], target: str, **options: object):
    chromium, url = browser
    context = chromium.new_context(base_url=url, **options)  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"/login?next={target}")
    page.get_by_label("Organisation / user").fill(who[0])
    page.get_by_label("Password").fill(who[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(re.escape(target) + "$"))
    return page, errors


def test_the_page_fits_a_phone_without_horizontal_scrolling(world: World, browser: tuple[object, str]) -> None:
    phone = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True}
    page, errors = _page(browser, ALICE, f"/channels/{CHANNEL}/config", **phone)
    assert page.locator("svg.membership-chart").is_visible()
    # The chart keeps a readable size and scrolls inside its own box, which fits the screen.
    box = page.locator(".chart-wrap").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for path in (f"/channels/{CHANNEL}", f"/channels/{CHANNEL}/blocks/{world.added}"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
    assert errors == []
    page.context.close()


def test_the_live_dashboard_marks_a_configuration_block(world: World, browser: tuple[object, str]) -> None:
    """A configuration block arriving by the event stream is marked in the recent blocks, linking to its history."""
    page, errors = _page(browser, ERIN, "/")
    page.wait_for_selector(".live-status[data-state='live']")
    current = world.network.channel_config("ch2")
    batch = msgspec.structs.replace(current.orderer.batch, timeout_ms=25)
    update = msgspec.structs.replace(
        current, version=current.version + 1, orderer=msgspec.structs.replace(current.orderer, batch=batch)
    )
    number = world.network.update_config("ch2", update, ["Org2", "Org5"])
    row = page.locator(f'tr[data-block-row="ch2:{number}"]')
    row.wait_for()
    mark = row.locator("a.config-mark")
    assert mark.text_content() == "configuration update"
    assert mark.get_attribute("href") == "/channels/ch2/config"
    assert page.locator(f'tr[data-block-row="ch2:{number - 1}"] a.config-mark').count() == 0
    # After a reload the server-drawn row names the version.
    page.reload()
    assert row.locator("a.config-mark").text_content().strip() == f"configuration update → version {update.version}"
    assert errors == []
    page.context.close()
