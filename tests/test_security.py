"""The platform's answers to the findings of an attacker with a member's login (issue 9), through the real server.

Each test replays one attack and checks that it no longer gets in, with the status and reason a user sees:
read scopes bound to the organisation that issued the role (finding 4), replayed signed requests (7), event
streams held open by one caller (8), a non-member purging private data (9, in ``test_private_data.py``), input
that made the server fail (10), and login guessing, cookies, ``/healthz`` and ``/metrics`` (12).

Channels: ``trade`` (Org2, Org3; read scope: both members and Org1's ``auditor``) and ``vault`` (Org2, Org3;
read scope: only Org2's admins and auditors — members outside it may not browse the raw ledger).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from consortia.client.request_signing import authorization_header
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.gateway.server.auth import SESSION_COOKIE
from consortia.ledger.config import BatchConfig
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec, SpecError, UserSpec, check_spec
from consortia.ui.i18n import untranslated
from servers import Server

PASSWORD = "correct horse battery staple"
ASSET = "consortia.samples.asset_transfer:AssetTransfer"
BASE = (UserSpec("admin", "admin"), UserSpec("client", "client"))


def spec() -> NetworkSpec:
    batch = BatchConfig(max_transactions=50, timeout_ms=20)
    auditor = UserSpec("auditor", "client", {"role": "auditor"})  # a program: its key is on disk
    return NetworkSpec(
        orgs=(
            OrgSpec("Org1", users=(*BASE, auditor, UserSpec("alice", "client"))),
            OrgSpec("Org2", users=(*BASE, auditor, UserSpec("bob", "client", {}, PASSWORD))),
            OrgSpec("Org3", users=(*BASE, auditor, UserSpec("carol", "client", {}, PASSWORD))),
            OrgSpec(
                "Org4",
                users=(
                    *BASE,
                    auditor,
                    UserSpec("mallory", "client", {"role": "inspector"}),
                    UserSpec("ann", "client", {"role": "auditor"}, PASSWORD),
                ),
            ),
        ),
        channels=(
            ChannelSpec("trade", ("Org2", "Org3"), batch, readers=("Org2:*", "Org3:*", "Org1:auditor")),
            ChannelSpec("vault", ("Org2", "Org3"), batch, readers=("Org2:admin", "Org2:auditor")),
        ),
    )


@dataclass
class Env:
    network: EmbeddedNetwork
    client: TestClient
    url: str

    def signed(self, org: str, user: str, method: str, target: str, body: bytes = b"") -> dict[str, str]:
        header = authorization_header(self.network.identity(org, user), method, target, body)
        headers = {"authorization": header}
        if body:
            headers["content-type"] = "application/json"
        return headers

    def get(self, org: str, user: str, target: str) -> httpx.Response:
        return self.client.get(target, headers=self.signed(org, user, "GET", target))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    directory = tmp_path_factory.mktemp("security") / "net"
    network = EmbeddedNetwork.create(directory, spec())
    network.deploy("trade", ASSET, policy="OR('Org2.peer','Org3.peer')")
    network.gateway("Org2").network("trade").contract("asset-transfer").submit("create", "a1", "red", 1, 10)
    app = create_app(network, ServerSettings(max_streams_per_caller=2, metrics_token="s3cret-metrics"))
    server = Server(app).start()
    try:
        client = TestClient(app, raise_server_exceptions=False)
        yield Env(network, client, server.url)
        client.close()
    finally:
        server.stop()
        network.close()  # ends every event stream still open, so uvicorn can stop
        server.join()


def detail(response: httpx.Response) -> str:
    return str(response.json().get("detail", ""))


# -- finding 4: a role counts only from the organisation the channel's configuration names ---------------------


@pytest.mark.parametrize(
    ("org", "user", "channel", "status"),
    [
        ("Org1", "auditor", "trade", 200),  # the named auditor
        ("Org4", "auditor", "trade", 403),  # the same role, from another CA
        ("Org4", "mallory", "trade", 403),  # an inspector certificate of a non-member CA
        ("Org1", "alice", "trade", 403),  # Org1 without the role
        ("Org3", "client", "trade", 200),  # a member
        ("Org2", "auditor", "vault", 200),  # inside the narrow scope
        ("Org2", "client", "vault", 403),  # a member, but outside the scope
        ("Org3", "auditor", "vault", 403),  # the role, from the other member
        ("Org3", "admin", "vault", 403),
    ],
)
def test_read_scope_is_bound_to_the_issuing_organisation(
    env: Env, org: str, user: str, channel: str, status: int
) -> None:
    for target in (f"/api/channels/{channel}", f"/api/channels/{channel}/blocks?limit=2"):
        response = env.get(org, user, target)
        assert response.status_code == status, (target, response.text)
        if status == 403:
            assert f"may not read channel {channel!r}" in detail(response)


def test_read_scope_applies_to_blocks_transactions_search_and_events(env: Env) -> None:
    tx = env.network.gateway("Org2").network("trade").contract("asset-transfer").submit("create", "a2", "blue", 1, 5)
    outsider = ("Org4", "auditor")
    for target in (
        f"/api/channels/trade/blocks/{tx.block}",
        f"/api/channels/trade/transactions/{tx.tx_id}",
        f"/api/channels/trade/transactions/{tx.tx_id}/proof",
        "/api/channels/trade/events?from=0",
    ):
        assert env.get(*outsider, target).status_code == 403, target
    found = env.get(*outsider, f"/api/search?q={tx.tx_id}").json()["results"]
    assert found == []
    assert [r["channel"] for r in env.get("Org1", "auditor", f"/api/search?q={tx.tx_id}").json()["results"]] == [
        "trade"
    ]
    channels = [c["name"] for c in env.get("Org2", "client", "/api/channels").json()["channels"]]
    assert channels == ["trade"]  # Org2's client is a member of vault but outside its read scope


def test_read_scope_in_the_explorer_pages(env: Env) -> None:
    response = env.client.post("/api/login", json={"username": "Org4/ann", "password": PASSWORD})
    assert response.status_code == 200
    cookie = {"cookie": f"{SESSION_COOKIE}={response.cookies[SESSION_COOKIE]}"}
    env.client.cookies.clear()
    page = env.client.get("/channels/trade", headers=cookie)
    assert page.status_code == 403 and "may not read channel" in page.text


def test_a_read_scope_entry_must_name_an_organisation_and_role() -> None:
    batch = BatchConfig()
    for readers, message in ((("auditor",), "expected 'Org:role'"), (("Org9:auditor",), "unknown organisation 'Org9'")):
        bad = NetworkSpec(orgs=spec().orgs, channels=(ChannelSpec("x", ("Org1",), batch, readers=readers),))
        with pytest.raises(SpecError, match=message):
            check_spec(bad)


# -- anonymous callers learn nothing ---------------------------------------------------------------------------


def test_anonymous_requests_get_401_before_any_lookup(env: Env) -> None:
    for target in (
        "/api/channels/trade",
        "/api/channels/no-such-channel",
        "/api/channels/no-such/blocks/0",
        "/api/channels/no-such/transactions/" + "0" * 64,
    ):
        response = env.client.get(target)
        assert response.status_code == 401, (target, response.text)
    for target in ("/api/channels/no-such/contracts/x/submit", "/api/channels/no-such/contracts/x/endorse"):
        response = env.client.post(target, json={"function": "f", "signed_proposal": "AA=="})
        assert response.status_code == 401, (target, response.text)


# -- finding 7: replayed signed requests ------------------------------------------------------------------------


def test_a_replayed_signed_request_is_refused(env: Env) -> None:
    target = "/api/channels/trade"
    headers = env.signed("Org2", "client", "GET", target)
    assert env.client.get(target, headers=headers).status_code == 200
    replay = env.client.get(target, headers=headers)
    assert replay.status_code == 401
    assert "replayed" in detail(replay)
    assert env.get("Org2", "client", target).status_code == 200  # a fresh signature is fine


def test_a_replayed_signed_write_commits_once(env: Env) -> None:
    contract = env.network.gateway("Org2").network("trade").contract("asset-transfer")
    before = contract.evaluate("list")
    body = json.dumps({"function": "create", "args": ["replayed", "red", 1, 1]}).encode()
    target = "/api/channels/trade/contracts/asset-transfer/submit"
    headers = env.signed("Org2", "client", "POST", target, body)
    first = env.client.post(target, content=body, headers=headers)
    second = env.client.post(target, content=body, headers=headers)
    # A program must send a signed envelope; the first request is answered on its merits, the replay is refused.
    assert first.status_code == 400 and first.json()["code"] == "ENVELOPE_REQUIRED"
    assert second.status_code == 401 and "replayed" in detail(second)
    assert contract.evaluate("list") == before


def test_a_request_without_a_nonce_is_refused(env: Env) -> None:
    target = "/api/channels/trade"
    header = env.signed("Org2", "client", "GET", target)["authorization"]
    stripped = ", ".join(part for part in header.split(", ") if not part.startswith("nonce="))
    response = env.client.get(target, headers={"authorization": stripped})
    assert response.status_code == 401 and "nonce" in detail(response)


# -- finding 8: event streams are asynchronous and capped per caller -------------------------------------------


def test_event_streams_are_capped_per_caller_and_the_server_stays_responsive(env: Env) -> None:
    target = "/api/channels/trade/events"
    opened = []
    try:
        for _ in range(2):
            stream = httpx.stream(
                "GET", env.url + target, headers=env.signed("Org3", "client", "GET", target), timeout=10
            )
            response = stream.__enter__()
            assert response.status_code == 200
            opened.append(stream)
        refused = httpx.get(env.url + target, headers=env.signed("Org3", "client", "GET", target), timeout=10)
        assert refused.status_code == 429
        assert "limit is 2" in refused.json()["detail"]
        other = httpx.stream("GET", env.url + target, headers=env.signed("Org2", "client", "GET", target), timeout=10)
        with other as response:
            assert response.status_code == 200  # another caller is not affected
            assert httpx.get(env.url + "/healthz", timeout=5).json() == {"status": "ok"}
    finally:
        for stream in opened:
            stream.__exit__(None, None, None)
    deadline = time.monotonic() + 10
    while True:  # closed streams give their slots back
        again = httpx.stream("GET", env.url + target, headers=env.signed("Org3", "client", "GET", target), timeout=10)
        with again as response:
            if response.status_code == 200 or time.monotonic() > deadline:
                break
        time.sleep(0.2)
    assert response.status_code == 200


# -- finding 10: input that made the server fail ---------------------------------------------------------------


def test_deeply_nested_json_is_refused_with_the_limit_named(env: Env) -> None:
    body = b"[" * 3000 + b"]" * 3000
    for target in ("/api/channels/trade/contracts/asset-transfer/submit", "/api/login"):
        response = env.client.post(target, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, (target, response.text)
        assert "deeper than 64 levels" in detail(response)
    long_number = b'{"username": "Org2/bob", "password": ' + b"9" * 5000 + b"}"
    response = env.client.post("/api/login", content=long_number, headers={"content-type": "application/json"})
    assert response.status_code == 400 and "longer than 40 characters" in detail(response)


@pytest.mark.parametrize("digits", ["²", "١٢", "⁹"])
def test_unicode_digits_are_not_numbers(env: Env, digits: str) -> None:
    digits = quote(digits)  # as sent on the wire, which is what a program signs
    search = env.get("Org2", "client", f"/api/search?q={digits}")
    assert search.status_code == 200 and search.json()["results"] == []
    assert env.get("Org2", "client", f"/api/channels/trade/blocks?from={digits}").status_code == 422
    assert env.get("Org2", "client", f"/api/channels/trade/blocks/{digits}").status_code == 422
    target = "/api/channels/trade/events"
    headers = {**env.signed("Org2", "client", "GET", target), "last-event-id": digits}
    with httpx.stream("GET", env.url + target, headers=headers, timeout=10) as response:
        assert response.status_code == 200


def test_unicode_digits_in_the_explorer_pages(env: Env) -> None:
    response = env.client.post("/api/login", json={"username": "Org2/bob", "password": PASSWORD})
    cookie = {"cookie": f"{SESSION_COOKIE}={response.cookies[SESSION_COOKIE]}"}
    env.client.cookies.clear()
    for target in ("/search?q=²", "/channels/trade/blocks/²", "/channels/trade?from=²"):
        page = env.client.get(target, headers=cookie)
        assert page.status_code < 500, (target, page.status_code)


# -- finding 12: logins, cookies, health and metrics -----------------------------------------------------------


def test_login_attempts_are_limited_per_account(env: Env) -> None:
    for _ in range(5):
        assert env.client.post("/api/login", json={"username": "Org3/carol", "password": "guess"}).status_code == 401
    locked = env.client.post("/api/login", json={"username": "Org3/carol", "password": PASSWORD})
    assert locked.status_code == 429
    assert "too many failed logins for account Org3/carol" in detail(locked)
    page = env.client.post(
        "/login",
        data={"username": "Org3/carol", "password": PASSWORD, "next": "/"},
        headers={"origin": "http://testserver"},
    )
    assert page.status_code == 429 and "Too many failed logins" in page.text
    # Another account from the same address still logs in.
    assert env.client.post("/api/login", json={"username": "Org2/bob", "password": PASSWORD}).status_code == 200
    env.client.cookies.clear()


def test_login_attempts_are_limited_per_address(tmp_path: Path) -> None:
    from consortia.gateway.server.throttle import LoginThrottle

    throttle = LoginThrottle(per_account=100, per_address=3)
    for n in range(3):
        assert throttle.check(f"Org1/user{n}", "10.9.9.9", now=100.0) is None
        throttle.failed(f"Org1/user{n}", "10.9.9.9", now=100.0)
    refusal = throttle.check("Org1/someone-else", "10.9.9.9", now=101.0)
    assert refusal is not None and "your address" in refusal.reason
    assert throttle.check("Org1/someone-else", "192.0.2.1", now=101.0) is None
    assert throttle.check("Org1/someone-else", "10.9.9.9", now=100.0 + 15 * 60 + 1) is None  # the window passed


def test_session_cookies_are_secure_off_loopback(env: Env) -> None:
    # The in-process client talks to "testserver", which is not loopback: the cookie must be Secure.
    response = env.client.post("/api/login", json={"username": "Org2/bob", "password": PASSWORD})
    assert "secure" in response.headers["set-cookie"].lower()
    env.client.cookies.clear()
    # Over the real server on 127.0.0.1 a plain-http cookie is still usable.
    real = httpx.post(env.url + "/api/login", json={"username": "Org2/bob", "password": PASSWORD})
    assert real.status_code == 200 and "secure" not in real.headers["set-cookie"].lower()


def test_healthz_tells_anonymous_callers_only_ok(env: Env) -> None:
    assert env.client.get("/healthz").json() == {"status": "ok"}
    member = env.get("Org3", "client", "/healthz").json()
    assert member["status"] == "ok" and set(member["channels"]) == {"trade"}


def test_metrics_need_the_token(env: Env) -> None:
    assert env.client.get("/metrics").status_code == 401
    assert env.client.get("/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401
    response = env.client.get("/metrics", headers={"authorization": "Bearer s3cret-metrics"})
    assert response.status_code == 200 and "consortia_" in response.text


def test_metrics_without_a_token_only_for_loopback(tmp_path: Path) -> None:
    network = EmbeddedNetwork.create(
        tmp_path / "net", NetworkSpec(orgs=(OrgSpec("Org1"),), channels=(ChannelSpec("c", ("Org1",)),))
    )
    try:
        app = create_app(network)
        assert TestClient(app, client=("192.0.2.7", 4000)).get("/metrics").status_code == 403
        assert TestClient(app, client=("127.0.0.1", 4000)).get("/metrics").status_code == 200
    finally:
        network.close()


# -- finding 5: no borrowed identities -------------------------------------------------------------------------


def test_a_program_acts_as_itself_never_as_its_organisations_service(env: Env) -> None:
    from consortia.gateway.server.auth import principal_from_certificate
    from consortia.gateway.server.problems import Problem

    backend = env.client.app.state.backend
    service = env.network.identity("Org2", "client")
    assert backend.acting_identity(principal_from_certificate(service.info)) is service
    other_program = principal_from_certificate(env.network.identity("Org2", "auditor").info)
    with pytest.raises(Problem) as refused:
        backend.acting_identity(other_program)
    assert refused.value.status == 403 and "sign your own proposal" in refused.value.detail
    with pytest.raises(Problem) as anonymous:
        backend.acting_identity(None)
    assert anonymous.value.status == 401


def test_a_program_queries_a_contract_as_a_member_on_the_peer_it_names(env: Env) -> None:
    """Contract queries are for members (any member, whatever the read scope), on a member peer of its choice."""
    import base64

    from consortia.client.proposal import build_proposal

    target = "/api/channels/trade/contracts/asset-transfer/evaluate"

    def ask(org: str, user: str, **extra: str) -> httpx.Response:
        prepared = build_proposal(env.network.identity(org, user), "trade", "asset-transfer", "read", ["a1"], None)
        transient = {key: base64.b64encode(value).decode() for key, value in prepared.transient.items()}
        signed = base64.b64encode(prepared.signed).decode()
        body = json.dumps({"signed_proposal": signed, "transient": transient, **extra}).encode()
        return env.client.post(target, content=body, headers=env.signed(org, user, "POST", target, body))

    first = ask("Org3", "client")
    assert first.status_code == 200, first.text
    assert first.json()["result"]["id"] == "a1"
    assert ask("Org3", "client", peer_org="Org2").json()["result"]["id"] == "a1"
    wrong_peer = ask("Org3", "client", peer_org="Org1")
    assert wrong_peer.status_code == 400 and "not a member of channel 'trade'" in detail(wrong_peer)
    reader = ask("Org1", "auditor")  # may read the raw ledger, but is no member: no contract queries
    assert reader.status_code == 403 and "Org1 is not a member of channel 'trade'" in detail(reader)


def test_people_get_error_pages_and_programs_problem_details(env: Env) -> None:
    """A browser asking for HTML gets a page it can show; a program gets RFC 9457 problem details."""
    browser = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    page = env.client.get("/api/channels/trade", headers=browser)
    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
    assert "Log in to see this" in page.text and 'href="/login?next=%2Fapi%2Fchannels%2Ftrade"' in page.text
    assert "{" not in page.text
    korean = env.client.get("/api/channels/trade", headers={**browser, "accept-language": "ko-KR,ko;q=0.9"})
    assert korean.status_code == 401 and '<html lang="ko">' in korean.text and "로그인이 필요합니다" in korean.text
    assert untranslated(korean.text, "ko") == []
    hant = env.client.get("/api/channels/trade", headers={**browser, "accept-language": "zh-HK"})
    assert "請先登入" in hant.text and untranslated(hant.text, "zh-Hant") == []
    missing = env.client.get("/no/such/page", headers=browser)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    program = env.client.get("/api/channels/trade")
    assert program.status_code == 401 and program.headers["content-type"] == "application/problem+json"
    icon = env.client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


@pytest.mark.parametrize(
    ("how", "lang", "heading"),
    [
        ({"params": {"lang": "ko"}}, "ko", "로그인"),
        ({"params": {"next": "/coldchain/dashboard?lang=ko"}}, "ko", "로그인"),
        ({"headers": {"accept-language": "zh-CN,zh;q=0.9"}}, "zh-Hans", "登录"),
        ({"headers": {"accept-language": "zh-TW"}}, "zh-Hant", "登入"),
        ({"params": {"lang": "fr"}, "headers": {"accept-language": "fr"}}, "en", "Log in"),
    ],
)
def test_the_login_page_speaks_the_visitors_language(env: Env, how: dict, lang: str, heading: str) -> None:
    env.client.cookies.clear()
    page = env.client.get("/login", **how)
    assert page.status_code == 200 and f'<html lang="{lang}">' in page.text
    assert f'<h1 id="login-title">{heading}</h1>' in page.text
    assert untranslated(page.text, lang) == []
    refused = env.client.post("/login", data={"username": "Org1/alice", "password": "wrong", "lang": lang})
    assert refused.status_code == 401 and untranslated(refused.text, lang) == []
    wrong = {"ko": "비밀번호가 틀렸습니다", "zh-Hans": "密码错误", "zh-Hant": "密碼錯誤", "en": "wrong password"}
    assert wrong[lang] in refused.text
    env.client.cookies.clear()
