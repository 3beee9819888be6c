"""Pages for people (issue 11): error pages in the reader's language chosen by ``Accept``, the QR label page with
the lot's safety state, whole Korean and English translations of the server-rendered pages, the variant of the
demo without the inspection, and the demo summary's counts against the dashboard's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.domain import gs1
from consortia.apps.coldchain.web.catalogue import ALLOW, CATALOGUE, LANGUAGES
from consortia.client.request_signing import authorization_header
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.ledger.config import BatchConfig
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import NetworkSpec, OrgSpec, UserSpec
from consortia.ui.i18n import untranslated

from .cc_support import DEMO_SUMMARY, settle

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _lots(network: EmbeddedNetwork) -> list[gs1.LotId]:
    settle(network)
    contract = network.gateway(consortium.RETAILER).network(consortium.CHANNEL).contract(consortium.CONTRACT)
    return [gs1.LotId.from_key(row["lot"]) for row in contract.evaluate("lots")]


def _signed(network: EmbeddedNetwork, target: str, org: str = consortium.RETAILER) -> dict[str, str]:
    identity = network.identity(org, "client")
    return {"Authorization": authorization_header(identity, "GET", target, b""), "Accept": "application/json"}


@pytest.fixture(scope="module")
def client(demo_network) -> Iterator[TestClient]:
    with TestClient(create_app(demo_network)) as test_client:
        yield test_client


def _held_lot(network: EmbeddedNetwork, client: TestClient) -> tuple[gs1.LotId, dict]:
    """The landing lot with a high-temperature alarm (the excursion) and its journey."""
    for lot in _lots(network):
        journey = client.get("/api/coldchain/public/journey", params={"lot": lot.key}).json()
        if lot.lot.startswith("MK") and any(a["code"] == "high_temperature_exposure" for a in journey["alarms"]):
            return lot, journey
    raise AssertionError("no excursion lot in the demo")


def _strings(value: object) -> list[str]:
    """Every string value in a JSON document that a page shows (not its keys, nor the codes kept for scripts)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() if k not in ("code", "disposition") for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


# -- errors ---------------------------------------------------------------------------------------------------


def test_an_unsupported_language_is_ignored_not_an_error(client, demo_network) -> None:
    lot = _lots(demo_network)[0]
    english = client.get(f"{lot.path}?lang=fr", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert english.status_code == 200 and '<html lang="en">' in english.text
    korean = client.get(f"{lot.path}?lang=fr")
    assert korean.status_code == 200 and '<html lang="ko">' in korean.text
    journey = client.get("/api/coldchain/public/journey", params={"lot": lot.key, "lang": "fr"})
    assert journey.status_code == 200 and journey.json()["display"]["lang"] == "ko"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_unknown_lot_is_a_clear_no_such_lot_page(client, lang) -> None:
    unknown = gs1.LotId("08801234000116", "NOSUCHLOT-01")
    page = client.get(f"{unknown.path}?lang={lang}", headers=HTML)
    assert page.status_code == 404
    assert CATALOGUE.text(lang, "error.404") in page.text and "NOSUCHLOT-01" in page.text
    assert "data-verify-badge" not in page.text and "data-journey-url" not in page.text  # no empty cards, no badge
    assert untranslated(page.text, lang, ALLOW) == []
    long = client.get(f"/01/08801234000116/10/{'X' * 3000}?lang={lang}", headers=HTML)
    assert long.status_code == 404 and "X" * 100 not in long.text  # a very long id is never echoed
    bad = client.get(f"/01/08801234000113/10/A?lang={lang}", headers=HTML)
    assert bad.status_code == 404 and untranslated(bad.text, lang, ALLOW) == []
    assert ("check digit" in bad.text) == (lang == "en")  # the parser's reason, for those who read it
    assert client.get("/api/coldchain/public/journey", params={"lot": unknown.key}).status_code == 404


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_epcis_link_without_login_is_a_page_for_people_and_problem_details_for_programs(client, lang) -> None:
    target = "/epcis/events?EQ_bizStep=shipping"
    page = client.get(f"{target}&lang={lang}", headers={**HTML, "Accept-Language": lang})
    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
    assert 'href="/login?next=' in page.text and quote("/epcis/events", safe="") in page.text
    assert CATALOGUE.text(lang, "error.login") in page.text
    assert untranslated(page.text, lang, ALLOW) == []
    program = client.get(target, headers={"Accept": "application/json"})
    assert program.status_code == 401 and program.headers["content-type"].startswith("application/problem+json")
    assert program.json()["code"] == "UNAUTHENTICATED"


@pytest.fixture(scope="module")
def outsider_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedNetwork, TestClient]]:
    """A network whose organisation Outsider is not on the cold-chain channel; its person olive logs in."""
    spec = consortium.network_spec(BatchConfig(max_transactions=200, timeout_ms=20), passwords=True)
    outsider = OrgSpec(
        "Outsider",
        "Outsider Trading",
        (UserSpec("admin", "admin"), UserSpec("client", "client"), UserSpec("olive", password="olive-pass-1")),
    )
    network = EmbeddedNetwork.create(
        tmp_path_factory.mktemp("outsider") / "data", NetworkSpec(orgs=(*spec.orgs, outsider), channels=spec.channels)
    )
    consortium.deploy(network)
    try:
        with TestClient(create_app(network, ServerSettings(secure_cookies=False))) as test_client:
            yield network, test_client
    finally:
        network.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_dashboard_opened_by_a_non_member_is_a_403_page(outsider_client, lang) -> None:
    _, client = outsider_client
    login = client.post("/api/login", json={"username": "Outsider/olive", "password": "olive-pass-1"})
    assert login.status_code == 200, login.text
    page = client.get(f"/coldchain/dashboard?lang={lang}", headers=HTML, follow_redirects=False)
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert CATALOGUE.text(lang, "error.403") in page.text and "{" not in page.text.split("<body>")[1]
    assert untranslated(page.text, lang, ALLOW) == []
    program = client.get("/api/coldchain/lots", headers={"Accept": "application/json"})
    assert program.status_code == 403 and program.json()["code"] == "FORBIDDEN"


# -- the QR label page, the safety state, translations ------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_qr_page_shows_the_lots_safety_state_in_whole_sentences(client, demo_network, lang) -> None:
    for lot in _lots(demo_network):
        page = client.get(f"/coldchain/qr{lot.path}?lang={lang}")
        assert page.status_code == 200, page.text
        state = re.search(r'data-safety="([a-z_]+)"', page.text).group(1)
        journey = client.get("/api/coldchain/public/journey", params={"lot": lot.key, "lang": lang}).json()
        assert state == journey["safety"]["state"]
        assert CATALOGUE.text(lang, f"state.{state}") in page.text
        assert f"/api/coldchain/public/qr.svg?lot={quote(lot.key, safe='')}" in page.text
        assert untranslated(page.text, lang, ALLOW) == [], lot
        assert not ISO_TIME.search(page.text)


def test_the_catalogue_is_complete() -> None:
    assert set(CATALOGUE.languages) == set(LANGUAGES)
    assert all(not keys for keys in CATALOGUE.missing().values()), CATALOGUE.missing()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_journey_display_has_no_raw_values(client, demo_network, lang) -> None:
    """What the consumer page shows is written server-side: times with the zone named, codes by name, round ticks."""
    for lot in _lots(demo_network):
        display = client.get("/api/coldchain/public/journey", params={"lot": lot.key, "lang": lang}).json()["display"]
        shown = " | ".join(_strings({k: v for k, v in display.items() if k not in ("chart", "lang", "state")}))
        assert not ISO_TIME.search(shown), shown
        assert "KST" in display["steps"][0]["when"]
        assert not re.search(r"\b[a-z]+_[a-z_]+\b", shown), shown  # no CBV or rule code
        for step in display["steps"]:
            assert step["place"] and not step["place"].isdigit()  # a name, the GLN only beside it
        ticks = display["chart"]["ticks"]
        if len(ticks) > 1:
            step = ticks[1] - ticks[0]
            assert step in (1, 2, 5, 10, 20, 50) and all(t % step == 0 for t in ticks), ticks


# -- the dashboard's data ------------------------------------------------------------------------------------------


def test_dashboard_rows_carry_the_same_safety_state_and_names(client, demo_network) -> None:
    target = "/api/coldchain/lots?lang=en"
    rows = client.get(target, headers=_signed(demo_network, target)).json()["lots"]
    for row in rows:
        journey = client.get("/api/coldchain/public/journey", params={"lot": row["lot"]}).json()
        assert row["safety"]["state"] == journey["safety"]["state"], row["lot"]
        shown = row["display"]
        assert "KST" in shown["when"] and not ISO_TIME.search(shown["when"])
        assert shown["where"]["gln"] and shown["where"]["name"] != shown["where"]["gln"]
        assert "_" not in shown["last_step"] and shown["last_step"]
        if row["open_alarms"]:
            assert shown["alarms"] == f"{row['open_alarms']} alarm{'s' if row['open_alarms'] != 1 else ''}"
    korean = client.get("/api/coldchain/lots?lang=ko", headers=_signed(demo_network, "/api/coldchain/lots?lang=ko"))
    assert all("경보" in r["display"]["alarms"] for r in korean.json()["lots"] if r["open_alarms"])


def test_stale_readings_are_marked_with_their_age(client, demo_network) -> None:
    target = "/api/coldchain/devices?lang=en"
    devices = client.get(target, headers=_signed(demo_network, target)).json()["devices"]
    stale = [d for d in devices if d["display"]["stale"]]
    assert stale, "the demo's boat and dock loggers stopped reporting days ago"
    assert all(re.fullmatch(r"stale: \d+ (minutes?|hours?|days?) ago", d["display"]["age"]) for d in stale), stale
    assert all(d["display"]["site"]["known"] for d in devices)  # named by the demo's sites.json


def test_the_demo_summary_counts_what_the_dashboard_shows(client, demo_network) -> None:
    target = "/api/coldchain/lots"
    rows = client.get(target, headers=_signed(demo_network, target)).json()["lots"]
    stated = next(int(m.group(1)) for line in DEMO_SUMMARY if (m := re.match(r"(\d+) lots on the ledger", line)))
    assert stated == len(rows)
    pages = [line for line in DEMO_SUMMARY if "{base}/01/" in line]
    assert len(pages) == len(rows)
    raised = next(int(m.group(1)) for line in DEMO_SUMMARY if (m := re.search(r"raised (\d+) alarms", line)))
    target = "/api/coldchain/alarms"
    alarms = client.get(target, headers=_signed(demo_network, target)).json()["alarms"]
    assert raised == len(alarms), (raised, len(alarms))
    assert not any("this morning" in line or " now" in line for line in DEMO_SUMMARY)
    assert any("KST" in line for line in pages)  # what happened to the trip under way, and when


# -- the variant without the inspection ------------------------------------------------------------------------------


def test_without_the_inspection_the_excursion_lot_is_held_and_not_for_sale(held_network) -> None:
    with TestClient(create_app(held_network)) as client:
        lot, journey = _held_lot(held_network, client)
        assert journey["safety"]["state"] == "held_for_inspection" and not journey["safety"]["saleable"]
        assert journey["inspections"] == [] and not any(s["cte"] == "inspection" for s in journey["steps"])
        finding = next(f for f in journey["safety"]["findings"] if f["code"] == "high_temperature_exposure")
        assert finding["cleared_by"] is None
        assert journey["display"]["cleared"] == {}
        label = client.get(f"/coldchain/qr{lot.path}?lang=en").text
        assert 'data-safety="held_for_inspection"' in label and "not for sale" in label
        target = "/api/coldchain/lots"
        rows = client.get(target, headers=_signed(held_network, target)).json()["lots"]
        assert next(r for r in rows if r["lot"] == lot.key)["safety"]["state"] == "held_for_inspection"
        # the fillets made of it are held too
        made = [r for r in rows if r["lot"].split("/")[1].startswith("FL") and r["lot"][-3:-1] == lot.key[-2:]]
        assert made and all(r["safety"]["state"] == "held_for_inspection" for r in made), made


def test_qr_out_to_a_missing_folder_is_refused(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from consortia.apps.coldchain.cli import app as cli

    missing = tmp_path / "no" / "such" / "folder" / "lot.svg"
    result = CliRunner().invoke(cli, ["qr", "08805678001012/FL240305-01A", "--out", str(missing)])
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not (tmp_path / "no").exists()


def test_the_scenario_variant_leaves_out_only_the_inspection(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from consortia.apps.coldchain import plugin
    from consortia.apps.coldchain.demo import scenario
    from consortia.apps.coldchain.demo import seed as demo

    full = scenario.build(lots=2)
    held = scenario.build(lots=2, without={"inspection"})
    assert [c.label for c in full.captures if c.label != "inspection"] == [c.label for c in held.captures]
    assert any(c.label == "inspection" for c in full.captures)
    with pytest.raises(ValueError, match="no optional steps"):
        scenario.build(lots=2, without={"landing"})
    asked: list[object] = []
    monkeypatch.setattr(demo, "seed", lambda network, console, **options: asked.append(options["without"]) or [])
    monkeypatch.setenv(plugin.VARIANT_ENV, "inspection, bogus")
    printed = io.StringIO()
    plugin._seed(None, Console(file=printed))  # type: ignore[arg-type]
    assert asked == [{"inspection"}] and "ignoring bogus" in printed.getvalue()
