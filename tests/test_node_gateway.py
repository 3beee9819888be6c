"""A gateway per organisation on its own cluster node: real etcd members and node processes (``consortia cluster up``).

Each peer node serves its organisation's gateway (REST API, explorer, login) next to the peer. The tests read
through every organisation's gateway what was committed through another's, submit through Org1's gateway (the
default majority policy needs two endorsements: Org1's own peer in process and one other organisation's over
HTTP), and check the rule each gateway enforces: only its own organisation's people log in, and only its own
organisation's members submit through it; other members read what the channel's read scope allows. A last test
stops two organisations' nodes and finds Org1's gateway still serving reads from its own peer.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import pytest

from chromium import NO_SANDBOX, launch_chromium, require_chromium
from cli_run import QUIET_LOG
from cli_run import consortia as run_consortia
from consortia.client import build_proposal
from consortia.client.request_signing import authorization_header
from consortia.cluster import Cluster
from consortia.cluster.layout import free_ports
from consortia.cluster.processes import etcd_binary
from consortia.gateway.server.auth import SESSION_COOKIE
from consortia.identity import CertificateAuthority, Kind
from consortia.identity.wallet import Wallet
from consortia.ledger.encoding import encode
from consortia.ledger.proof import check_proof, proof_holds
from consortia.ledger.transaction import ENVELOPE_TRANSACTION, Envelope
from consortia.network.bootstrap import crypto_dir, wallet_dir
from consortia.node.config import ConfigError, load_config, parse_config

IN_CI = os.environ.get("CI") == "true"
CHANNEL = "ch1"
CONTRACT = "asset-transfer"
PASSWORD = "a long enough password for tests"
ORGS = ("Org1", "Org2", "Org3")
PEOPLE = {"Org1": "alice", "Org2": "bob", "Org3": "carol"}

if etcd_binary() is None:
    if IN_CI:
        raise RuntimeError("etcd is not installed: CI must run ./scripts/system-deps (Debian etcd-server)")
    pytest.skip("etcd is not installed (apt-get install etcd-server)", allow_module_level=True)


consortia = partial(run_consortia, timeout=180, env=QUIET_LOG)


@dataclass(frozen=True)
class World:
    """The running cluster and each organisation's gateway URL."""

    cluster: Cluster
    gateways: dict[str, str]
    status_text: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("node-gateway") / "c"
    made = consortia("cluster", "up", "--orgs", "3", "--orderers", "3", "--data", str(folder))
    assert made.returncode == 0, made.stdout + made.stderr
    cluster = Cluster.open(folder)
    try:
        # One person per organisation, in the cluster's wallet (each gateway lets in its own organisation's only).
        wallet = Wallet(wallet_dir(folder))
        for org, name in PEOPLE.items():
            ca = CertificateAuthority.load(crypto_dir(folder, org) / "ca")
            wallet.add(ca.issue(name, Kind.CLIENT, {}), PASSWORD)
        shown = consortia("cluster", "status", "--json", "--data", str(folder))
        assert shown.returncode == 0, shown.stderr
        nodes = {node["name"]: node for node in json.loads(shown.stdout)["nodes"]}
        gateways = {org: nodes[f"{org}.peer0"]["gateway"] for org in ORGS}
        table = consortia("cluster", "status", "--data", str(folder))
        assert table.returncode == 0, table.stderr
        yield World(cluster, gateways, table.stdout)
    finally:
        cluster.down()


@contextmanager
def _login(world: World, at: str, org: str) -> Iterator[httpx.Client]:
    """A browser-like client logged in at ``at``'s gateway as ``org``'s person."""
    with httpx.Client(base_url=world.gateways[at], timeout=60) as client:
        answer = client.post("/api/login", json={"username": f"{org}/{PEOPLE[org]}", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        yield client


def _signed(world: World, at: str, org: str, method: str, target: str, body: object = None) -> httpx.Response:
    """A request to ``at``'s gateway signed by ``org``'s client program."""
    identity = world.cluster.identity(org)
    content = b"" if body is None else json.dumps(body).encode()
    headers = {"authorization": authorization_header(identity, method, target, content)}
    if body is not None:
        headers["content-type"] = "application/json"
    return httpx.request(method, world.gateways[at] + target, content=content, headers=headers, timeout=60)


def _submit(client: httpx.Client, asset: str) -> dict:
    answer = client.post(
        f"/api/channels/{CHANNEL}/contracts/{CONTRACT}/submit",
        json={"function": "create", "args": [asset, "blue", 5, 100]},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture(scope="module")
def through_org2(world: World) -> dict:
    """An asset created by Org2's person through Org2's gateway."""
    with _login(world, "Org2", "Org2") as client:
        return _submit(client, "asset-through-org2")


def test_each_organisation_has_a_gateway_beside_its_peer(world: World) -> None:
    ports = set()
    for org, url in world.gateways.items():
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
        ports.add(url)
        assert f"{org}'s gateway" in world.status_text and url in world.status_text
        config = parse_config(Path(world.cluster.layout.peer_of(org).config).read_bytes(), Path("node.toml"))
        assert config.gateway is not None and url.endswith(config.gateway.listen)
        assert httpx.get(f"{url}/healthz", timeout=10).json() == {"status": "ok"}
    assert len(ports) == 3
    assert len({world.cluster.layout.peer_of(org).endpoint for org in ORGS} | ports) == 6


def test_every_gateway_serves_channels_explorer_and_proof_of_another_gateways_commit(
    world: World, through_org2: dict
) -> None:
    tx_id, block = through_org2["tx_id"], through_org2["block"]
    for org in ORGS:
        with _login(world, org, org) as client:
            channels = client.get("/api/channels")
            assert channels.status_code == 200, channels.text
            listed = {entry["name"]: entry for entry in channels.json()["channels"]}
            assert CHANNEL in listed and listed[CHANNEL]["height"] > block
            dashboard = client.get("/")
            assert dashboard.status_code == 200 and CHANNEL in dashboard.text
            page = client.get(f"/channels/{CHANNEL}/tx/{tx_id}")
            assert page.status_code == 200 and "data-verify-proof" in page.text
        # A program of the organisation reads the proof with a signed request.
        proof = _signed(world, org, org, "GET", f"/api/channels/{CHANNEL}/transactions/{tx_id}/proof")
        assert proof.status_code == 200, proof.text
        assert proof.json()["block"] == block
        assert proof_holds(check_proof(proof.json())), check_proof(proof.json())


def test_a_submit_through_org1s_gateway_is_endorsed_by_the_peers_the_policy_needs(world: World) -> None:
    with _login(world, "Org1", "Org1") as client:
        done = _submit(client, "asset-through-org1")
        assert done["result"]["owner"].startswith("Org1")
        read = client.post(
            f"/api/channels/{CHANNEL}/contracts/{CONTRACT}/evaluate",
            json={"function": "read", "args": ["asset-through-org1"]},
        )
        assert read.status_code == 200, read.text
        assert read.json()["result"]["color"] == "blue"
        tx = client.get(f"/api/channels/{CHANNEL}/transactions/{done['tx_id']}")
        assert tx.status_code == 200, tx.text
    endorsers = {endorsement["org"] for endorsement in tx.json()["endorsements"]}
    # A majority of three: Org1's own peer and the first other organisation's, no more.
    assert endorsers == {"Org1", "Org2"}, tx.json()["endorsements"]
    # Committed on every organisation's peer: Org3 reads it through its own gateway.
    with _login(world, "Org3", "Org3") as client:
        seen = client.get(f"/api/channels/{CHANNEL}/transactions/{done['tx_id']}")
        assert seen.status_code == 200, seen.text
        assert seen.json()["validation_code"] == "VALID"


def test_another_organisations_person_gets_no_session_at_org1s_gateway(world: World) -> None:
    """Rule: a gateway logs in its own organisation's people only; others are sent to their own gateway."""
    client = httpx.Client(base_url=world.gateways["Org1"], timeout=30)
    refused = client.post("/api/login", json={"username": "Org2/bob", "password": PASSWORD})
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "LOGIN_FAILED"
    assert "Org2's own gateway" in refused.json()["detail"]
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/api/me").status_code == 401
    # The login page refuses him too, and sets no session cookie.
    page = client.post(
        "/login",
        data={"username": "Org2/bob", "password": PASSWORD, "next": "/"},
        headers={"origin": world.gateways["Org1"]},
        follow_redirects=False,
    )
    assert page.status_code == 401, page.text
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/api/me").status_code == 401
    client.close()
    # Bob is let in at his own organisation's gateway.
    with _login(world, "Org2", "Org2") as own:
        assert own.get("/api/me").json()["org"] == "Org2"


def test_another_organisations_program_reads_but_submits_only_through_its_own_gateway(world: World) -> None:
    assert _signed(world, "Org1", "Org2", "GET", "/api/channels").status_code == 200
    # Even a transaction Org2's program signed itself: Org1's gateway orders and awaits commits for Org1 only.
    identity = world.cluster.identity("Org2")
    prepared = build_proposal(identity, CHANNEL, CONTRACT, "create", ["asset-of-org2", "red", 1, 1], None)
    body = {
        "signed_proposal": base64.b64encode(prepared.signed).decode(),
        "transient": {key: base64.b64encode(value).decode() for key, value in prepared.transient.items()},
    }
    endorse = _signed(
        world,
        "Org1",
        "Org2",
        "POST",
        f"/api/channels/{CHANNEL}/contracts/{CONTRACT}/endorse",
        body,
    )
    assert endorse.status_code == 403, endorse.text
    assert endorse.json()["code"] == "OTHER_ORGANISATION"
    assert "Org2's own gateway" in endorse.json()["detail"]
    # At its own gateway the same signed proposal is endorsed, and the signed envelope commits.
    own = _signed(
        world,
        "Org2",
        "Org2",
        "POST",
        f"/api/channels/{CHANNEL}/contracts/{CONTRACT}/endorse",
        body,
    )
    assert own.status_code == 200, own.text
    transaction = base64.b64decode(own.json()["transaction"])
    envelope = encode(Envelope(ENVELOPE_TRANSACTION, transaction, identity.sign(transaction)))
    submitted = _signed(
        world,
        "Org2",
        "Org2",
        "POST",
        f"/api/channels/{CHANNEL}/contracts/{CONTRACT}/submit",
        {"envelope": base64.b64encode(envelope).decode()},
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["validation_code"] == "VALID"


def test_the_in_browser_verifier_passes_at_org3s_gateway(world: World, through_org2: dict) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    target = f"/channels/{CHANNEL}/tx/{through_org2['tx_id']}"
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright, NO_SANDBOX)
        try:
            context = chromium.new_context(base_url=world.gateways["Org3"])
            context.set_default_timeout(20_000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"/login?next={target}")
            page.get_by_label("Organisation / user").fill(f"Org3/{PEOPLE['Org3']}")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(re.compile(re.escape(target) + "$"))
            section = page.locator("section[data-verify-proof]")
            section.locator("[data-verify-button]").click()
            expect(section).to_have_attribute("data-verify-result", re.compile("^(ok|failed)$"))
            summary = page.locator("[data-verify-summary]").inner_text()
            assert section.get_attribute("data-verify-result") == "ok", summary
            assert errors == []
        finally:
            chromium.close()


def test_a_gateway_on_a_used_port_is_a_config_error_naming_the_field(world: World, tmp_path: Path) -> None:
    node = world.cluster.layout.peer_of("Org1")
    text = Path(node.config).read_text()
    taken = world.gateways["Org2"].split("://", 1)[1]
    broken = tmp_path / "node.toml"
    # Another data folder and peer port, so that only the gateway's address is in the way.
    free = re.sub(r'^listen = ".*"$', f'listen = "127.0.0.1:{free_ports(1)[0]}"', text, count=1, flags=re.M)
    free = re.sub(r'^data = ".*"$', f'data = "{tmp_path / "data"}"', free, count=1, flags=re.M)
    broken.write_text(re.sub(r'(\[gateway\]\nlisten = )".*"', f'\\1"{taken}"', free))
    ran = consortia("node", "--config", str(broken), timeout=60)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "gateway.listen" in ran.stderr
    # A malformed address or a gateway on an orderer is refused before anything opens.
    with pytest.raises(ConfigError) as bad:
        own = node.gateway.split("://", 1)[1]
        parse_config(text.replace(f'listen = "{own}"', 'listen = "nowhere"').encode(), broken)
    assert bad.value.field == "gateway.listen"
    orderer = Path(world.cluster.layout.orderers[0].config).read_text() + '\n[gateway]\nlisten = "127.0.0.1:9"\n'
    with pytest.raises(ConfigError) as on_orderer:
        parse_config(orderer.encode(), broken)
    assert on_orderer.value.field == "gateway"
    assert load_config(Path(node.config)).config.gateway is not None  # the real one is untouched


def test_org1s_gateway_reads_from_its_own_peer_with_other_organisations_down(world: World, through_org2: dict) -> None:
    """No second organisation's process is needed to read (the last test: it stops Org2's and Org3's nodes)."""
    world.cluster.stop_process("Org2.peer0")
    world.cluster.stop_process("Org3.peer0")
    with _login(world, "Org1", "Org1") as client:
        assert client.get("/api/channels").status_code == 200
        proof = client.get(f"/api/channels/{CHANNEL}/transactions/{through_org2['tx_id']}/proof")
        assert proof.status_code == 200, proof.text
        assert proof_holds(check_proof(proof.json()))
        assert client.get("/").status_code == 200
        # A submit needs a second endorsement, which no reachable peer can give now: refused, clearly.
        refused = client.post(
            f"/api/channels/{CHANNEL}/contracts/{CONTRACT}/submit",
            json={"function": "create", "args": ["asset-no-endorser", "red", 1, 1]},
        )
        assert refused.status_code >= 400 and refused.json()["code"], refused.text
