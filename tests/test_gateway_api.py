"""The gateway service over HTTP: who may do what, signed requests, metrics, bad input, remote client, CLI, events.

One network (module scope) serves most tests, in process through ``TestClient(create_app(network))`` and, for the
remote client, the CLI and server-sent events, through a real uvicorn server on 127.0.0.1.

Channels: ``trade`` (Org1 and Org3, readable by them and by Org2's ``regulator``; the noticeboard contract with a public
query), ``inner`` (Org1 and Org3, no reader roles) and ``ops`` (Org2 and Org3). People log in with a password:
Org1/alice and Org3/carol (members of trade), Org2/bob (not a member) and Org2/rita (regulator). Programs sign
their requests: Org1/client (member), Org2/client (not a member) and Org2/inspector (regulator).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from conftest import USERS
from consortia.client import build_proposal
from consortia.client.remote import RemoteClient, RemoteError
from consortia.client.request_signing import MAX_SKEW_MS, authorization_header
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.gateway.server.auth import SESSION_COOKIE
from consortia.identity import CertificateAuthority, SigningIdentity
from consortia.identity.wallet import Wallet
from consortia.ledger.config import BatchConfig
from consortia.ledger.encoding import encode
from consortia.ledger.merkle import verify_consistency
from consortia.ledger.proof import check_proof, proof_holds
from consortia.ledger.transaction import ENVELOPE_TRANSACTION, Envelope
from consortia.network.bootstrap import crypto_dir, peer_dir, wallet_dir
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec, UserSpec
from consortia.peer.audit import audit_network

ROOT = Path(__file__).resolve().parents[1]
NOTICEBOARD = f"{ROOT / 'tests' / 'contracts' / 'public_contract.py'}:Noticeboard"
PASSWORD = "correct horse battery staple"
METRICS_TOKEN = "metrics-token-for-tests"
PROBLEM_JSON = "application/problem+json"

TRADE = "/api/channels/trade"
BOARD = f"{TRADE}/contracts/noticeboard"


def gateway_spec() -> NetworkSpec:
    """Three organisations, people with passwords, a channel with a reader role and two without."""
    batch = BatchConfig(max_transactions=50, timeout_ms=20)
    person = UserSpec("alice", "client", {}, PASSWORD)
    return NetworkSpec(
        orgs=(
            OrgSpec("Org1", users=(*USERS, person)),
            OrgSpec(
                "Org2",
                users=(
                    *USERS,
                    UserSpec("bob", "client", {}, PASSWORD),
                    UserSpec("rita", "client", {"role": "regulator"}, PASSWORD),
                    UserSpec("inspector", "client", {"role": "regulator"}),
                ),
            ),
            OrgSpec("Org3", users=(*USERS, UserSpec("carol", "client", {}, PASSWORD))),
        ),
        channels=(
            ChannelSpec("trade", ("Org1", "Org3"), batch, readers=("Org1:*", "Org3:*", "Org2:regulator")),
            ChannelSpec("inner", ("Org1", "Org3"), batch),
            ChannelSpec("ops", ("Org2", "Org3"), batch),
        ),
    )


def start_network(directory: Path) -> tuple[EmbeddedNetwork, str]:
    """Create the network, deploy the noticeboard on trade and post one notice; return it and that tx id."""
    network = EmbeddedNetwork.create(directory, gateway_spec())
    try:
        network.deploy("trade", NOTICEBOARD, policy="OR('Org1.peer','Org3.peer')")
        done = network.gateway("Org1").network("trade").contract("noticeboard").submit("post", "seed", "hello")
        network.wait_for_height("trade", done.block + 1)
    except BaseException:
        network.close()
        raise
    return network, done.tx_id


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log a person in; return the session token (and leave the client's cookie jar empty)."""
    response = client.post("/api/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    token = response.cookies[SESSION_COOKIE]
    client.cookies.clear()
    return token


@dataclass(frozen=True)
class Caller:
    """One row of the authorisation matrix: nobody, a person (session) or a program (signed requests)."""

    person: str | None = None
    program: tuple[str, str] | None = None


ROLES: dict[str, Caller] = {
    "anonymous": Caller(),
    "member person": Caller(person="Org1/alice"),
    "member person of Org3": Caller(person="Org3/carol"),
    "member program": Caller(program=("Org1", "client")),
    "non-member person": Caller(person="Org2/bob"),
    "non-member program": Caller(program=("Org2", "client")),
    "reader person": Caller(person="Org2/rita"),
    "reader program": Caller(program=("Org2", "inspector")),
}


@dataclass
class Env:
    """The shared network and the ways to reach it."""

    network: EmbeddedNetwork
    directory: Path
    seed_tx: str
    client: TestClient
    sessions: dict[str, str] = field(default_factory=dict)
    url: str = ""
    _people: dict[str, SigningIdentity] = field(default_factory=dict)

    def height(self, channel: str) -> int:
        return self.network.peers[self.network.spec.channel(channel).orgs[0]].channel(channel).height

    def heights(self) -> dict[str, int]:
        return {
            f"{org}/{name}": peer_channel.height
            for org, peer in self.network.peers.items()
            for name, peer_channel in peer.channels.items()
        }

    def person_identity(self, username: str) -> SigningIdentity:
        """A person's own signing identity, decrypted from the wallet (as their browser-side tools would)."""
        if username not in self._people:
            self._people[username] = Wallet(wallet_dir(self.directory)).login(username, PASSWORD)[1]
        return self._people[username]

    def signer(self, role: str) -> SigningIdentity:
        """Who signs the proposals and envelopes a caller sends (anonymous callers borrow a member's)."""
        caller = ROLES[role]
        if caller.program:
            return self.network.identity(*caller.program)
        if caller.person:
            return self.person_identity(caller.person)
        return self.network.identity("Org1", "client")

    def headers(self, role: str, method: str, target: str, body: bytes) -> dict[str, str]:
        caller = ROLES[role]
        headers = {"content-type": "application/json"} if body else {}
        if caller.person:
            headers["cookie"] = f"{SESSION_COOKIE}={self.sessions[caller.person]}"
        if caller.program:
            identity = self.network.identity(*caller.program)
            headers["authorization"] = authorization_header(identity, method, target, body)
        return headers

    def send(
        self,
        role: str,
        method: str,
        target: str,
        payload: Any = None,
        *,
        content: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A request as ``role``: JSON ``payload`` (or raw ``content``), signed or with the session cookie."""
        body = content if content is not None else (b"" if payload is None else json.dumps(payload).encode())
        signed_body = body if isinstance(body, bytes) else b""
        merged = self.headers(role, method, target, signed_body)
        merged.update(headers or {})
        return self.client.request(method, target, content=body if body != b"" else None, headers=merged)


def proposal_body(identity: SigningIdentity, channel: str, contract: str, function: str, args: list[Any]) -> dict:
    """The JSON a program sends to /evaluate or /endorse."""
    prepared = build_proposal(identity, channel, contract, function, args, None)
    signed, _, sent = prepared.signed, prepared.proposal, prepared.transient
    return {"signed_proposal": b64(signed), "transient": {k: b64(v) for k, v in sent.items()}}


def envelope_for(network: EmbeddedNetwork, identity: SigningIdentity, function: str, args: list[Any]) -> str:
    """A genuine signed envelope for the noticeboard on trade, endorsed through the SDK (never submitted here)."""
    prepared = build_proposal(identity, "trade", "noticeboard", function, args, None)
    contract = network.gateway("Org1", "public").network("trade").contract("noticeboard")
    transaction = contract.endorse(prepared)
    return b64(encode(Envelope(ENVELOPE_TRANSACTION, transaction, identity.sign(transaction))))


def program_submit(env: Env, role: str, function: str, args: list[Any]) -> httpx.Response:
    """The program's two steps: /endorse its signed proposal, sign the transaction, /submit the envelope."""
    identity = env.signer(role)
    endorsed = env.send(
        role, "POST", f"{BOARD}/endorse", proposal_body(identity, "trade", "noticeboard", function, args)
    )
    if endorsed.status_code != 200:
        return endorsed
    transaction = base64.b64decode(endorsed.json()["transaction"])
    envelope = encode(Envelope(ENVELOPE_TRANSACTION, transaction, identity.sign(transaction)))
    return env.send(role, "POST", f"{BOARD}/submit", {"envelope": b64(envelope), "timeout_s": 20})


def assert_problem(response: httpx.Response, status: int | None = None) -> dict[str, Any]:
    """A 4xx answered as RFC 9457 problem details with status, title and detail."""
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    if status is not None:
        assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers["content-type"]
    problem = response.json()
    assert problem["status"] == response.status_code
    assert isinstance(problem["title"], str) and problem["title"]
    assert isinstance(problem["detail"], str) and problem["detail"]
    assert "Traceback" not in response.text
    return problem


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    directory = tmp_path_factory.mktemp("gateway") / "net"
    network, seed_tx = start_network(directory)
    app = create_app(network, ServerSettings(metrics_token=METRICS_TOKEN))
    sock = free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        client = TestClient(app, raise_server_exceptions=False)
        port = sock.getsockname()[1]
        result = Env(network, directory, seed_tx, client, url=f"http://127.0.0.1:{port}")
        for caller in ROLES.values():
            if caller.person:
                result.sessions[caller.person] = login(client, caller.person)
        yield result
        client.close()
    finally:
        server.should_exit = True
        # Closing the network ends every event stream still waiting for a block, so uvicorn can stop.
        network.close()
        thread.join(10)
        sock.close()


# -- 1. authorisation matrix -----------------------------------------------------------------------------------


def _get(target: str) -> Callable[[Env, str], httpx.Response]:
    def call(env: Env, role: str) -> httpx.Response:
        return env.send(role, "GET", target.format(seed=env.seed_tx))

    return call


def _events(channel: str) -> Callable[[Env, str], httpx.Response]:
    def call(env: Env, role: str) -> httpx.Response:
        # Over the real server: the in-process client would wait for the stream's next block before closing it.
        target = f"/api/channels/{channel}/events?from=0"
        headers = env.headers(role, "GET", target, b"")
        with httpx.stream("GET", env.url + target, headers=headers, timeout=20) as response:
            if response.status_code == 200:
                assert response.headers["content-type"].startswith("text/event-stream")
                assert next(line for line in response.iter_lines() if line.startswith("id:")) == "id: 0"
            else:
                response.read()
        return response

    return call


def _evaluate_public(env: Env, role: str) -> httpx.Response:
    return env.send(role, "POST", f"{BOARD}/evaluate", {"function": "headline", "args": ["seed"]})


def _evaluate(env: Env, role: str) -> httpx.Response:
    if ROLES[role].program:
        body = proposal_body(env.signer(role), "trade", "noticeboard", "read", ["seed"])
    else:
        body = {"function": "read", "args": ["seed"]}
    return env.send(role, "POST", f"{BOARD}/evaluate", body)


def _endorse(env: Env, role: str) -> httpx.Response:
    notice = f"endorse-{uuid.uuid4().hex[:12]}"
    body = proposal_body(env.signer(role), "trade", "noticeboard", "post", [notice, "never submitted"])
    return env.send(role, "POST", f"{BOARD}/endorse", body)


def _submit(env: Env, role: str) -> httpx.Response:
    notice = f"matrix-{uuid.uuid4().hex[:12]}"
    if role == "member program":
        return program_submit(env, role, "post", [notice, "by a program"])
    if ROLES[role].program:
        # A genuine envelope of a member: the caller must be refused before the envelope is even looked at.
        envelope = envelope_for(env.network, env.network.identity("Org1"), "post", [notice, "not mine"])
        return env.send(role, "POST", f"{BOARD}/submit", {"envelope": envelope, "timeout_s": 20})
    return env.send(role, "POST", f"{BOARD}/submit", {"function": "post", "args": [notice, "by a person"]})


@dataclass(frozen=True)
class Endpoint:
    name: str
    kind: str
    call: Callable[[Env, str], httpx.Response]


ENDPOINTS = (
    Endpoint("evaluate public function", "public evaluate", _evaluate_public),
    Endpoint("GET channels", "listing", _get("/api/channels")),
    Endpoint("GET search", "listing", _get("/api/search?q={seed}")),
    Endpoint("GET channel", "member read", _get(TRADE)),
    Endpoint("GET blocks", "member read", _get(f"{TRADE}/blocks?from=0&limit=5")),
    Endpoint("GET block", "member read", _get(f"{TRADE}/blocks/1")),
    Endpoint("GET transaction", "member read", _get(f"{TRADE}/transactions/{{seed}}")),
    Endpoint("GET proof", "member read", _get(f"{TRADE}/transactions/{{seed}}/proof")),
    Endpoint("GET consistency", "member read", _get(f"{TRADE}/consistency?from=1&to=2")),
    Endpoint("GET events", "member read", _events("trade")),
    Endpoint("evaluate members-only function", "member evaluate", _evaluate),
    Endpoint("GET channel without reader roles", "closed read", _get("/api/channels/inner")),
    Endpoint("GET blocks without reader roles", "closed read", _get("/api/channels/inner/blocks")),
    Endpoint("GET block without reader roles", "closed read", _get("/api/channels/inner/blocks/0")),
    Endpoint(
        "GET consistency without reader roles", "closed read", _get("/api/channels/inner/consistency?from=0&to=0")
    ),
    Endpoint("GET events without reader roles", "closed read", _events("inner")),
    Endpoint("POST endorse", "member write", _endorse),
    Endpoint("POST submit", "member write", _submit),
)

ROLE_ORDER = tuple(ROLES)
# fmt: off
#                     anonymous  member    member of  member    non-member non-member reader  reader
#                                person    Org3       program   person     program    person  program
EXPECTED: dict[str, tuple[int, ...]] = {
    "public evaluate": (200,     200,      200,       200,      200,       200,       200,    200),
    "listing":         (401,     200,      200,       200,      200,       200,       200,    200),
    "member read":     (401,     200,      200,       200,      403,       403,       200,    200),
    "member evaluate": (401,     200,      200,       200,      403,       403,       403,    403),
    "closed read":     (401,     200,      200,       200,      403,       403,       403,    403),
    "member write":    (401,     200,      200,       200,      403,       403,       403,    403),
}
# fmt: on
# Whether a role sees the trade channel in listings (GET /api/channels, /api/search).
SEES_TRADE = {role: role.startswith(("member", "reader")) for role in ROLES}

KNOWN_BUGS: dict[tuple[str, str], str] = {}


def _matrix() -> list[Any]:
    params = []
    for endpoint in ENDPOINTS:
        for role in ROLE_ORDER:
            bug = KNOWN_BUGS.get((endpoint.name, role))
            marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
            params.append(pytest.param(endpoint, role, id=f"{endpoint.name}|{role}", marks=marks))
    return params


@pytest.mark.parametrize(("endpoint", "role"), _matrix())
def test_authorisation_matrix(env: Env, endpoint: Endpoint, role: str) -> None:
    expected = EXPECTED[endpoint.kind][ROLE_ORDER.index(role)]
    response = endpoint.call(env, role)
    assert response.status_code == expected, f"{endpoint.name} as {role}: {response.status_code} {response.text[:300]}"
    if expected != 200:
        problem = assert_problem(response, expected)
        assert problem["code"] in {401: {"UNAUTHENTICATED"}, 403: {"FORBIDDEN", "NOT_A_MEMBER"}}[expected]
        if expected == 401:
            assert response.headers["www-authenticate"].startswith("Consortia-Ed25519")
        return
    if endpoint.name == "GET channels":
        names = {c["name"] for c in response.json()["channels"]}
        assert ("trade" in names) == SEES_TRADE[role]
        assert "inner" not in names or role.startswith("member")
    elif endpoint.name == "GET search":
        channels = {r["channel"] for r in response.json()["results"] if r["type"] == "transaction"}
        assert channels == ({"trade"} if SEES_TRADE[role] else set())
    elif endpoint.name == "POST submit":
        assert response.json()["validation_code"] == "VALID"
    elif endpoint.name == "evaluate public function":
        assert response.json() == {"result": "hello"}


def test_me_reports_role_and_readable_channels(env: Env) -> None:
    assert_problem(env.send("anonymous", "GET", "/api/me"), 401)
    rita = env.send("reader person", "GET", "/api/me").json()
    assert rita == {
        "org": "Org2",
        "name": "rita",
        "kind": "client",
        "role": "regulator",
        "via": "session",
        "channels": ["trade", "ops"],
    }
    program = env.send("member program", "GET", "/api/me").json()
    assert (program["org"], program["name"], program["via"]) == ("Org1", "client", "signature")
    assert program["channels"] == ["trade", "inner"]


# -- 1b. signed requests and sessions --------------------------------------------------------------------------


def _signed_get(env: Env, identity: SigningIdentity, *, timestamp_ms: int | None = None) -> httpx.Response:
    target = f"{TRADE}/blocks?limit=1"
    header = authorization_header(identity, "GET", target, b"", timestamp_ms)
    return env.client.get(target, headers={"authorization": header})


def test_signed_request_with_valid_certificate_is_accepted(env: Env) -> None:
    assert _signed_get(env, env.network.identity("Org1")).status_code == 200
    four_minutes_ago = int(time.time() * 1000) - 4 * 60 * 1000
    assert _signed_get(env, env.network.identity("Org1"), timestamp_ms=four_minutes_ago).status_code == 200


def test_expired_certificate_is_refused(env: Env) -> None:
    ca = CertificateAuthority.load(crypto_dir(env.directory, "Org1") / "ca")
    expired = ca.issue("old-program", "client", valid_days=1, not_before=datetime.now(UTC) - timedelta(days=3))
    problem = assert_problem(_signed_get(env, expired), 401)
    assert "expired" in problem["detail"]
    future = ca.issue("new-program", "client", valid_days=5, not_before=datetime.now(UTC) + timedelta(days=1))
    assert "not valid until" in assert_problem(_signed_get(env, future), 401)["detail"]


@pytest.mark.parametrize("org", ["Org1", "Org9"])
def test_certificate_from_a_foreign_ca_is_refused(env: Env, org: str) -> None:
    """A CA outside the network — even one that calls itself Org1 — issues nothing the gateway accepts."""
    impostor = CertificateAuthority.create(org).issue("client", "client")
    assert_problem(_signed_get(env, impostor), 401)


def test_peer_certificate_cannot_sign_requests(env: Env) -> None:
    assert_problem(_signed_get(env, SigningIdentity.load(peer_dir(env.directory, "Org1"))), 401)


@pytest.mark.parametrize("skew_ms", [-(MAX_SKEW_MS + 1000), MAX_SKEW_MS + 60_000, -3600_000])
def test_old_or_future_timestamp_is_refused(env: Env, skew_ms: int) -> None:
    problem = assert_problem(
        _signed_get(env, env.network.identity("Org1"), timestamp_ms=int(time.time() * 1000) + skew_ms), 401
    )
    assert "5 minutes" in problem["detail"]


def test_replayed_request_from_long_ago_is_refused(env: Env) -> None:
    target = f"{BOARD}/evaluate"
    body = json.dumps({"function": "headline", "args": ["seed"]}).encode()
    old = authorization_header(env.network.identity("Org1"), "POST", target, body, int(time.time() * 1000) - 6 * 60_000)
    response = env.client.post(target, content=body, headers={"authorization": old, "content-type": "application/json"})
    assert_problem(response, 401)


def test_tampered_requests_are_refused(env: Env) -> None:
    identity = env.network.identity("Org1")
    target = f"{BOARD}/submit"
    signed_body = json.dumps({"function": "post", "args": ["x", "signed"]}).encode()
    sent_body = json.dumps({"function": "post", "args": ["x", "tampered"]}).encode()
    header = authorization_header(identity, "POST", target, signed_body)
    json_type = {"content-type": "application/json"}
    before = env.height("trade")
    # another body, another path, another method, another query string than the ones signed
    tampered = [
        env.client.post(target, content=sent_body, headers={"authorization": header, **json_type}),
        env.client.post(f"{BOARD}/evaluate", content=signed_body, headers={"authorization": header, **json_type}),
        env.client.put(target, content=signed_body, headers={"authorization": header, **json_type}),
    ]
    get_header = authorization_header(identity, "GET", f"{TRADE}/blocks?limit=1", b"")
    tampered.append(env.client.get(f"{TRADE}/blocks?limit=2", headers={"authorization": get_header}))
    # a valid signature of another key under this certificate
    other = env.network.identity("Org1", "admin")
    forged = authorization_header(other, "GET", f"{TRADE}/blocks?limit=1", b"").split('sig="')[1]
    cert_part = get_header.split('sig="')[0]
    tampered.append(env.client.get(f"{TRADE}/blocks?limit=1", headers={"authorization": f'{cert_part}sig="{forged}'}))
    for response in tampered[:2] + tampered[3:]:
        assert "does not verify" in assert_problem(response, 401)["detail"]
    assert tampered[2].status_code in (401, 405)
    assert_problem(tampered[2])
    assert env.height("trade") == before


@pytest.mark.parametrize(
    "header",
    [
        "Bearer abc",
        "Consortia-Ed25519",
        'Consortia-Ed25519 cert="AAAA", ts="1"',
        'Consortia-Ed25519 cert="not base64!", ts="1", sig="AAAA"',
        'Consortia-Ed25519 cert="AAAA", ts="soon", sig="AAAA"',
        f'Consortia-Ed25519 cert="AAAA", ts="{int(time.time() * 1000)}", sig="AAAA"',
    ],
)
def test_malformed_authorization_header_is_refused(env: Env, header: str) -> None:
    assert_problem(env.client.get("/api/channels", headers={"authorization": header}), 401)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_session_post_must_be_json(env: Env, content_type: str | None) -> None:
    """Cookie-authenticated writes need a JSON content type (a cross-site form cannot send one)."""
    body = json.dumps({"function": "post", "args": ["csrf", "form post"]}).encode()
    headers = {"cookie": f"{SESSION_COOKIE}={env.sessions['Org1/alice']}"}
    if content_type:
        headers["content-type"] = content_type
    before = env.height("trade")
    problem = assert_problem(env.client.post(f"{BOARD}/submit", content=body, headers=headers), 415)
    assert problem["code"] == "JSON_REQUIRED"
    assert env.height("trade") == before


def test_login_logout(env: Env) -> None:
    problem = assert_problem(env.client.post("/api/login", json={"username": "Org1/alice", "password": "wrong!"}), 401)
    assert problem["code"] == "LOGIN_FAILED"
    assert_problem(env.client.post("/api/login", json={"username": "Org1/nobody", "password": PASSWORD}), 401)
    assert_problem(env.client.post("/api/login", json={"username": "Org1/client", "password": PASSWORD}), 401)
    token = login(env.client, "Org3/carol")
    cookie = {"cookie": f"{SESSION_COOKIE}={token}"}
    assert env.client.get("/api/me", headers=cookie).json()["org"] == "Org3"
    assert env.client.post("/api/logout", headers=cookie).json() == {"logged_out": True}
    assert_problem(env.client.get("/api/me", headers=cookie), 401)
    assert_problem(env.client.get(TRADE, headers=cookie), 401)


# -- 2. metrics ------------------------------------------------------------------------------------------------


def _metrics(env: Env) -> dict[str, Any]:
    response = env.client.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def _sample(families: dict[str, Any], family: str, sample: str, **labels: str) -> float:
    return sum(
        s.value
        for s in families[family].samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics(env: Env) -> None:
    before = _metrics(env)
    valid_before = _sample(
        before, "consortia_transactions", "consortia_transactions_total", channel="trade", code="VALID"
    )
    count_before = _sample(
        before, "consortia_submit_latency_seconds", "consortia_submit_latency_seconds_count", channel="trade"
    )
    denied_before = _sample(before, "consortia_http_denied", "consortia_http_denied_total", status="403")
    for i in range(3):
        response = env.send(
            "member person",
            "POST",
            f"{BOARD}/submit",
            {"function": "post", "args": [f"metrics-{i}-{uuid.uuid4().hex[:8]}", "m"]},
        )
        assert response.status_code == 200, response.text
    assert program_submit(env, "member program", "post", [f"metrics-p-{uuid.uuid4().hex[:8]}", "m"]).status_code == 200
    assert env.send("non-member person", "GET", TRADE).status_code == 403
    height = env.height("trade")

    deadline = time.monotonic() + 10
    while True:
        after = _metrics(env)
        valid = _sample(after, "consortia_transactions", "consortia_transactions_total", channel="trade", code="VALID")
        seen_height = _sample(after, "consortia_channel_height", "consortia_channel_height", channel="trade")
        if (valid >= valid_before + 4 and seen_height >= height) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert valid >= valid_before + 4
    assert seen_height >= height
    assert "consortia_blocks_total" in {s.name for s in after["consortia_blocks"].samples}
    assert _sample(after, "consortia_blocks", "consortia_blocks_total", channel="trade") >= 1
    histogram = after["consortia_submit_latency_seconds"]
    assert histogram.type == "histogram"
    count = _sample(
        after, "consortia_submit_latency_seconds", "consortia_submit_latency_seconds_count", channel="trade"
    )
    assert count >= count_before + 4
    buckets = [s for s in histogram.samples if s.name.endswith("_bucket") and s.labels["channel"] == "trade"]
    assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == count
    assert [b.value for b in buckets] == sorted(b.value for b in buckets)
    assert (
        _sample(after, "consortia_submit_latency_seconds", "consortia_submit_latency_seconds_sum", channel="trade") > 0
    )
    assert _sample(after, "consortia_http_denied", "consortia_http_denied_total", status="403") >= denied_before + 1


DOUBLE_COUNT_BUG = (
    'app.py get_principal(): a refused signature increments consortia_http_denied_total{status="401"} itself, and '
    "the count_denials middleware counts the same 401 response again"
)


def test_refused_signature_is_counted_once(env: Env) -> None:
    before = _sample(_metrics(env), "consortia_http_denied", "consortia_http_denied_total", status="401")
    assert_problem(env.client.get("/api/channels", headers={"authorization": "Bearer nothing"}), 401)
    after = _sample(_metrics(env), "consortia_http_denied", "consortia_http_denied_total", status="401")
    assert after == before + 1


# -- 3. bad input ----------------------------------------------------------------------------------------------

SUBMIT = f"{BOARD}/submit"
EVALUATE = f"{BOARD}/evaluate"
ENDORSE = f"{BOARD}/endorse"
MIB = 1 << 20


@dataclass(frozen=True)
class Bad:
    """A bad request and the 4xx it must get."""

    name: str
    role: str
    method: str
    target: str
    status: int | tuple[int, ...]
    payload: Any = None
    content: bytes | Callable[[], Iterator[bytes]] | None = None
    build: Callable[[Env], Any] | None = None  # builds the payload from the network
    headers: dict[str, str] = field(default_factory=dict)
    bug: str | None = None


def _garbage_proposal(env: Env) -> dict:
    return {"signed_proposal": b64(os.urandom(200))}


def _envelope_with(payload: bytes) -> Callable[[Env], dict]:
    def build(env: Env) -> dict:
        return {"envelope": b64(encode(Envelope(ENVELOPE_TRANSACTION, payload, b"\x00" * 64)))}

    return build


def _proposal_for(channel: str, contract: str) -> Callable[[Env], dict]:
    def build(env: Env) -> dict:
        return proposal_body(env.network.identity("Org1"), channel, contract, "post", ["elsewhere", "x"])

    return build


def _envelope_to_another_contract(env: Env) -> dict:
    return {"envelope": envelope_for(env.network, env.network.identity("Org1"), "post", ["moved", "x"])}


def _chunks() -> Iterator[bytes]:
    yield b'{"function": "post", "args": ["big", "'
    for _ in range(11):
        yield b"x" * (100 * 1024)
    yield b'"]}'


OVERSIZED = b'{"function": "post", "args": ["big", "' + b"x" * MIB + b'"]}'
DEEP = b'{"function": "post", "args": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
CHUNKED_413_BUG = (
    "app.py BodyLimit: without Content-Length the limit is enforced by raising _TooLarge inside receive(), but "
    "FastAPI turns any exception raised while reading the body into 400 'There was an error parsing the body'"
)

BAD_INPUT = [
    # malformed JSON and bodies of the wrong shape
    Bad("malformed JSON", "member person", "POST", SUBMIT, 422, content=b'{"function": "post", "args": ['),
    Bad("malformed JSON from a program", "member program", "POST", ENDORSE, 422, content=b'{"signed_proposal": '),
    Bad(
        "malformed JSON login",
        "anonymous",
        "POST",
        "/api/login",
        422,
        content=b'{"username": "Org1/alice"',
        headers={"content-type": "application/json"},
    ),
    Bad("body is not UTF-8", "member person", "POST", SUBMIT, (400, 422), content=b'\xff\xfe{"function": "post"}'),
    Bad("JSON nested 100000 deep", "member person", "POST", SUBMIT, 400, content=DEEP),
    Bad("JSON array body", "member person", "POST", SUBMIT, 422, content=b"[1, 2]"),
    Bad("JSON null body", "member person", "POST", SUBMIT, 422, content=b"null"),
    Bad(
        "empty JSON body",
        "member person",
        "POST",
        SUBMIT,
        422,
        content=b"",
        headers={"content-type": "application/json"},
    ),
    # oversized bodies
    Bad("body over 1 MiB", "member person", "POST", SUBMIT, 413, content=OVERSIZED),
    Bad("body over 1 MiB from a program", "member program", "POST", ENDORSE, 413, content=OVERSIZED),
    Bad(
        "body over 1 MiB to login",
        "anonymous",
        "POST",
        "/api/login",
        413,
        content=OVERSIZED,
        headers={"content-type": "application/json"},
    ),
    Bad(
        "body over 1 MiB without Content-Length",
        "member person",
        "POST",
        SUBMIT,
        413,
        content=_chunks,
        headers={"content-type": "application/json"},
    ),
    # wrong types and out-of-range values
    Bad("args not a list", "member person", "POST", SUBMIT, 422, {"function": "post", "args": "seed"}),
    Bad("args an object", "member person", "POST", EVALUATE, 422, {"function": "read", "args": {"id": "seed"}}),
    Bad("65 args", "member person", "POST", SUBMIT, 422, {"function": "post", "args": list(range(65))}),
    Bad("function not a string", "member person", "POST", SUBMIT, 422, {"function": 7, "args": []}),
    Bad("function too long", "member person", "POST", EVALUATE, 422, {"function": "f" * 129}),
    Bad(
        "timeout_s zero", "member person", "POST", SUBMIT, 422, {"function": "post", "args": ["t", "x"], "timeout_s": 0}
    ),
    Bad(
        "timeout_s too long",
        "member person",
        "POST",
        SUBMIT,
        422,
        {"function": "post", "args": ["t", "x"], "timeout_s": 121},
    ),
    Bad("timeout_s negative", "member program", "POST", SUBMIT, 422, {"envelope": "AAAA", "timeout_s": -1}),
    Bad(
        "timeout_s not a number",
        "member person",
        "POST",
        SUBMIT,
        422,
        {"function": "post", "args": ["t", "x"], "timeout_s": "soon"},
    ),
    Bad(
        "transient not an object",
        "member person",
        "POST",
        SUBMIT,
        422,
        {"function": "post", "args": ["t", "x"], "transient": ["a"]},
    ),
    Bad(
        "transient value not a string",
        "member person",
        "POST",
        SUBMIT,
        422,
        {"function": "post", "args": ["t", "x"], "transient": {"k": 1}},
    ),
    Bad("signed_proposal not a string", "member program", "POST", ENDORSE, 422, {"signed_proposal": 12}),
    Bad("endorse without signed_proposal", "member program", "POST", ENDORSE, 422, {}),
    Bad("login without password", "anonymous", "POST", "/api/login", 422, {"username": "Org1/alice"}),
    Bad("login name too short", "anonymous", "POST", "/api/login", 422, {"username": "a", "password": "x"}),
    Bad(
        "login password not a string",
        "anonymous",
        "POST",
        "/api/login",
        422,
        {"username": "Org1/alice", "password": ["x"]},
    ),
    Bad("blocks limit 0", "member person", "GET", f"{TRADE}/blocks?limit=0", 422),
    Bad("blocks limit 101", "member person", "GET", f"{TRADE}/blocks?limit=101", 422),
    Bad("blocks from -1", "member person", "GET", f"{TRADE}/blocks?from=-1", 422),
    Bad("blocks from not a number", "member person", "GET", f"{TRADE}/blocks?from=first", 422),
    Bad("block number not a number", "member person", "GET", f"{TRADE}/blocks/first", 422),
    Bad("consistency without to", "member person", "GET", f"{TRADE}/consistency?from=0", 422),
    Bad("consistency from after to", "member person", "GET", f"{TRADE}/consistency?from=3&to=1", 400),
    Bad("consistency beyond height", "member person", "GET", f"{TRADE}/consistency?from=0&to=100000", 400),
    Bad("events from -1", "member person", "GET", f"{TRADE}/events?from=-1", 422),
    Bad("search without q", "member person", "GET", "/api/search", 422),
    Bad("search q empty", "member person", "GET", "/api/search?q=", 422),
    Bad("search q too long", "member person", "GET", f"/api/search?q={'q' * 257}", 422),
    # unknown channel, contract, function, block, transaction
    Bad("unknown channel", "member person", "GET", "/api/channels/nowhere", 404),
    Bad("unknown channel blocks", "member program", "GET", "/api/channels/nowhere/blocks", 404),
    Bad("unknown channel block", "member person", "GET", "/api/channels/nowhere/blocks/0", 404),
    Bad("unknown channel transaction", "member person", "GET", "/api/channels/nowhere/transactions/ab", 404),
    Bad("unknown channel events", "member person", "GET", "/api/channels/nowhere/events", 404),
    Bad("unknown channel consistency", "member person", "GET", "/api/channels/nowhere/consistency?from=0&to=0", 404),
    Bad(
        "unknown channel submit",
        "member person",
        "POST",
        "/api/channels/nowhere/contracts/noticeboard/submit",
        404,
        {"function": "post", "args": ["n", "x"]},
    ),
    Bad(
        "unknown channel evaluate",
        "anonymous",
        "POST",
        "/api/channels/nowhere/contracts/noticeboard/evaluate",
        404,
        {"function": "headline", "args": ["seed"]},
    ),
    Bad(
        "unknown channel endorse",
        "member program",
        "POST",
        "/api/channels/nowhere/contracts/noticeboard/endorse",
        404,
        build=_proposal_for("nowhere", "noticeboard"),
    ),
    Bad(
        "unknown contract submit",
        "member person",
        "POST",
        f"{TRADE}/contracts/ghost/submit",
        404,
        {"function": "post", "args": ["n", "x"]},
    ),
    Bad(
        "unknown contract evaluate",
        "member person",
        "POST",
        f"{TRADE}/contracts/ghost/evaluate",
        404,
        {"function": "read", "args": ["seed"]},
    ),
    Bad(
        "unknown contract evaluate by a program",
        "member program",
        "POST",
        f"{TRADE}/contracts/ghost/evaluate",
        404,
        build=_proposal_for("trade", "ghost"),
    ),
    Bad(
        "unknown contract endorse",
        "member program",
        "POST",
        f"{TRADE}/contracts/ghost/endorse",
        404,
        build=_proposal_for("trade", "ghost"),
    ),
    Bad("unknown function submit", "member person", "POST", SUBMIT, 404, {"function": "erase", "args": []}),
    Bad("unknown function evaluate", "member person", "POST", EVALUATE, 404, {"function": "erase", "args": []}),
    Bad(
        "invalid contract name",
        "member person",
        "POST",
        f"{TRADE}/contracts/no%20such!/submit",
        400,
        {"function": "post", "args": ["n", "x"]},
    ),
    Bad("unknown block", "member person", "GET", f"{TRADE}/blocks/100000", 404),
    Bad("negative block", "member person", "GET", f"{TRADE}/blocks/-1", 404),
    Bad("huge block number", "member person", "GET", f"{TRADE}/blocks/{10**30}", 404),
    Bad("unknown transaction", "member person", "GET", f"{TRADE}/transactions/{'0' * 64}", 404),
    Bad("transaction id not hex", "member person", "GET", f"{TRADE}/transactions/not-a-tx", 404),
    Bad("proof of unknown transaction", "member program", "GET", f"{TRADE}/transactions/{'f' * 64}/proof", 404),
    Bad("transaction on another channel", "member person", "GET", "/api/channels/inner/transactions/{seed}", 404),
    Bad("unknown route", "member person", "GET", "/api/nothing-here", 404),
    Bad("unsupported method", "member person", "DELETE", "/api/channels", 405),
    # bad base64
    Bad(
        "transient not base64",
        "member person",
        "POST",
        SUBMIT,
        400,
        {"function": "post", "args": ["t", "x"], "transient": {"k": "***"}},
    ),
    Bad("signed_proposal not base64 (endorse)", "member program", "POST", ENDORSE, 400, {"signed_proposal": "no!"}),
    Bad("signed_proposal not base64 (evaluate)", "member program", "POST", EVALUATE, 400, {"signed_proposal": "@@"}),
    Bad("envelope not base64", "member program", "POST", SUBMIT, 400, {"envelope": "### not base64 ###"}),
    # garbage that decodes from base64
    Bad("garbage signed_proposal (endorse)", "member program", "POST", ENDORSE, 400, build=_garbage_proposal),
    Bad("garbage signed_proposal (evaluate)", "member program", "POST", EVALUATE, 400, build=_garbage_proposal),
    Bad("garbage envelope", "member program", "POST", SUBMIT, 400, {"envelope": b64(b"\x01\x02garbage" * 20)}),
    Bad("envelope with garbage transaction", "member program", "POST", SUBMIT, 400, build=_envelope_with(b"junk")),
    Bad(
        "proposal names another channel",
        "member program",
        "POST",
        ENDORSE,
        400,
        build=_proposal_for("inner", "noticeboard"),
    ),
    Bad(
        "proposal names another contract",
        "member program",
        "POST",
        f"{TRADE}/contracts/other/endorse",
        400,
        build=_proposal_for("trade", "noticeboard"),
    ),
    Bad(
        "envelope names another contract",
        "member program",
        "POST",
        f"{TRADE}/contracts/other/submit",
        400,
        build=_envelope_to_another_contract,
    ),
    # the wrong way to call
    Bad("program submits a function", "member program", "POST", SUBMIT, 400, {"function": "post", "args": ["p", "x"]}),
    Bad(
        "program evaluates a members-only function by name",
        "member program",
        "POST",
        EVALUATE,
        400,
        {"function": "read", "args": ["seed"]},
    ),
    Bad(
        "person sends a signed proposal",
        "member person",
        "POST",
        EVALUATE,
        401,
        build=_proposal_for("trade", "noticeboard"),
    ),
    Bad("evaluate without function", "member person", "POST", EVALUATE, 400, {"args": ["seed"]}),
    Bad("submit without function", "member person", "POST", SUBMIT, 400, {"args": ["seed"]}),
    # the contract refuses
    Bad(
        "contract refuses the arguments",
        "member person",
        "POST",
        SUBMIT,
        400,
        {"function": "post", "args": ["a:b", "x"]},
    ),
    Bad("argument of the wrong type", "member person", "POST", SUBMIT, 400, {"function": "post", "args": [1, 2]}),
    Bad("too few arguments", "member person", "POST", SUBMIT, 400, {"function": "post", "args": ["only-one"]}),
    Bad("too many arguments", "member person", "POST", SUBMIT, 400, {"function": "post", "args": ["a", "b", "c"]}),
    Bad("query of a missing notice", "member person", "POST", EVALUATE, 404, {"function": "read", "args": ["nope"]}),
]


def send_bad(env: Env, case: Bad) -> httpx.Response:
    target = case.target.format(seed=env.seed_tx)
    payload = case.build(env) if case.build else case.payload
    if callable(case.content):
        # A streamed body has no Content-Length: the limit must hold while reading it.
        headers = env.headers(case.role, case.method, target, b"")
        headers.update(case.headers)
        return env.client.request(case.method, target, content=case.content(), headers=headers)
    return env.send(case.role, case.method, target, payload, content=case.content, headers=case.headers)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c.name, marks=[pytest.mark.xfail(strict=True, reason=c.bug)] if c.bug else [])
        for c in BAD_INPUT
    ],
)
def test_bad_input_gets_a_clear_problem(env: Env, case: Bad) -> None:
    response = send_bad(env, case)
    problem = assert_problem(response)
    assert response.status_code in (case.status if isinstance(case.status, tuple) else (case.status,)), problem


def test_bad_input_stores_nothing(tmp_path: Path) -> None:
    """Every bad request on a fresh network: never a 5xx, no block anywhere, and the ledgers audit clean."""
    network, seed_tx = start_network(tmp_path / "net")
    try:
        client = TestClient(create_app(network), raise_server_exceptions=False)
        bad_env = Env(network, tmp_path / "net", seed_tx, client)
        bad_env.sessions["Org1/alice"] = login(client, "Org1/alice")
        before = bad_env.heights()
        statuses = {case.name: send_bad(bad_env, case).status_code for case in BAD_INPUT}
        assert all(400 <= s < 500 for s in statuses.values()), {k: v for k, v in statuses.items() if not 400 <= v < 500}
        time.sleep(0.2)  # ten block timeouts: anything ordered would have been cut and committed by now
        assert bad_env.heights() == before
        assert all(network.orderer.height(name) == before[f"Org1/{name}"] for name in ("trade", "inner"))
    finally:
        network.close()
    report = audit_network(tmp_path / "net")
    assert report.ok, report.first_failure


# -- 4. remote client, proofs, consistency, CLI, events over a real server --------------------------------------


def test_remote_client_submit_evaluate_and_proof(env: Env) -> None:
    client = RemoteClient(env.url, env.network.identity("Org1"))
    anonymous = RemoteClient(env.url)
    try:
        done = client.submit("trade", "noticeboard", "post", ["remote-1", "over HTTP"])
        assert done["validation_code"] == "VALID"
        assert client.evaluate("trade", "noticeboard", "read", ["remote-1"]) == {
            "id": "remote-1",
            "text": "over HTTP",
            "by": "Org1",
        }
        assert anonymous.evaluate("trade", "noticeboard", "headline", ["remote-1"]) == "over HTTP"
        with pytest.raises(RemoteError) as missing:
            client.evaluate("trade", "noticeboard", "read", ["never-posted"])
        # The contract's own code crosses the peer, the SDK, the problem document and the client.
        assert (missing.value.status, missing.value.code, missing.value.contract_code) == (
            404,
            "CONTRACT_ERROR",
            "NOT_FOUND",
        )
        with pytest.raises(RemoteError) as refused:
            anonymous.evaluate("trade", "noticeboard", "read", ["remote-1"])
        assert refused.value.status == 401
        outsider = RemoteClient(env.url, env.network.identity("Org2"))
        try:
            with pytest.raises(RemoteError) as forbidden:
                outsider.submit("trade", "noticeboard", "post", ["remote-2", "no"])
            assert (forbidden.value.status, forbidden.value.code) == (403, "FORBIDDEN")
        finally:
            outsider.close()

        proof = client.get(f"/api/channels/trade/transactions/{done['tx_id']}/proof")
        orderer_ca = (crypto_dir(env.directory, "OrdererOrg") / "ca" / "ca.pem").read_bytes()
        steps = check_proof(proof, {"OrdererOrg": orderer_ca})
        assert proof_holds(steps), [s for s in steps if not s.ok]
        assert proof["tx_id"] == done["tx_id"] and proof["block"] == done["block"]
        foreign = CertificateAuthority.create("OrdererOrg").certificate_pem
        assert not proof_holds(check_proof(proof, {"OrdererOrg": foreign}))

        height = client.get("/api/channels/trade")["height"]
        consistency = client.get(f"/api/channels/trade/consistency?from=1&to={height - 1}")
        first, last, tree = consistency["from"], consistency["to"], consistency["proof"]
        assert (tree["size1"], tree["size2"]) == (first["header"]["history_size"], last["header"]["history_size"])
        assert (tree["root1"], tree["root2"]) == (first["header"]["history_root"], last["header"]["history_root"])
        path = [bytes.fromhex(h) for h in tree["path"]]
        root1, root2 = bytes.fromhex(tree["root1"]), bytes.fromhex(tree["root2"])
        assert tree["size1"] < tree["size2"]
        assert verify_consistency(tree["size1"], tree["size2"], path, root1, root2)
        assert not verify_consistency(tree["size1"], tree["size2"], path, root1, bytes(32))
    finally:
        client.close()
        anonymous.close()


ENCODING_BUG = (
    "remote.py RemoteClient.request() signs the target as given ('/api/search?q=hello world') but httpx sends it "
    "percent-encoded ('q=hello%20world'), and auth.py/app.py verify over the decoded path plus the raw query: any "
    "space or non-ASCII character makes the signature fail (401). Sign the URL httpx will send "
    "(build_request(...).url.raw_path) and verify over scope['raw_path'] + query_string"
)


@pytest.mark.parametrize("query", ["hello world", "caf\u00e9"])
def test_remote_client_query_needing_percent_encoding(env: Env, query: str) -> None:
    client = RemoteClient(env.url, env.network.identity("Org1"))
    try:
        assert client.get(f"/api/search?q={query}")["query"] == query
    finally:
        client.close()


def _cli(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "consortia", "--server", env.url, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environ,
        timeout=60,
    )


def test_cli_against_the_server(env: Env) -> None:
    data = ["--data", str(env.directory)]
    submitted = _cli(
        env, "submit", "trade", "noticeboard", "post", "cli-1", "from the CLI", "--org", "Org1", "--json", *data
    )
    assert submitted.returncode == 0, submitted.stderr
    done = json.loads(submitted.stdout)
    assert done["validation_code"] == "VALID" and done["result"]["text"] == "from the CLI"
    commands = {
        "evaluate": ["evaluate", "trade", "noticeboard", "read", "cli-1", "--org", "Org3", *data],
        "anonymous": ["evaluate", "trade", "noticeboard", "headline", "cli-1", "--anonymous", *data],
        "blocks": ["blocks", "trade", "--from", "0", "--limit", "100", "--org", "Org1", "--json", *data],
        "tx": ["tx", "trade", done["tx_id"], "--org", "Org1", *data],
        "refused": ["submit", "trade", "noticeboard", "post", "cli-2", "x", "--org", "Org2", "--json", *data],
    }
    with ThreadPoolExecutor(len(commands)) as pool:
        results = dict(zip(commands, pool.map(lambda c: _cli(env, *c), commands.values()), strict=True))
    for name in ("evaluate", "anonymous", "blocks", "tx"):
        assert results[name].returncode == 0, (name, results[name].stderr)
    assert json.loads(results["evaluate"].stdout) == {"id": "cli-1", "text": "from the CLI", "by": "Org1"}
    assert json.loads(results["anonymous"].stdout) == "from the CLI"
    blocks = json.loads(results["blocks"].stdout)
    assert blocks["channel"] == "trade" and [b["number"] for b in blocks["blocks"]][:3] == [0, 1, 2]
    assert done["block"] in {b["number"] for b in blocks["blocks"]}
    transaction = json.loads(results["tx"].stdout)
    assert (transaction["tx_id"], transaction["block"], transaction["validation_code"]) == (
        done["tx_id"],
        done["block"],
        "VALID",
    )
    assert transaction["function"] == "post" and transaction["creator"]["org"] == "Org1"
    refused = results["refused"]
    assert refused.returncode != 0
    assert json.loads(refused.stdout)["ok"] is False and "FORBIDDEN" in refused.stdout


def _sse_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Parse a server-sent event stream into {id, event, data} dicts."""
    event: dict[str, Any] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in event:
                event["data"] = json.loads(event["data"])
                yield event
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            event[name] = value[1:] if value.startswith(" ") else value


def _block_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    return (e for e in _sse_events(response) if e.get("event") == "block")


def test_server_sent_events_deliver_blocks_and_resume(env: Env) -> None:
    identity = env.network.identity("Org1")
    remote = RemoteClient(env.url, identity)
    try:
        for i in range(2):
            remote.submit("trade", "noticeboard", "post", [f"sse-{i}", "stored"])
        height = env.height("trade")
        start = height - 3
        target = f"/api/channels/trade/events?from={start}"
        with httpx.Client(base_url=env.url, timeout=20) as http:
            headers = {"authorization": authorization_header(identity, "GET", target, b"")}
            with http.stream("GET", target, headers=headers) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                events = _block_events(response)
                stored = [next(events) for _ in range(3)]
                assert [int(e["id"]) for e in stored] == [start, start + 1, start + 2]
                assert [e["data"]["number"] for e in stored] == [start, start + 1, start + 2]
                assert all(e["data"]["channel"] == "trade" for e in stored)
                # a live block arrives on the open stream
                done = remote.submit("trade", "noticeboard", "post", ["sse-live", "live"])
                live = next(events)
                assert int(live["id"]) == done["block"] == height
                assert {"tx_id": done["tx_id"], "code": "VALID", "contract": "noticeboard", "function": "post"} in live[
                    "data"
                ]["transactions"]

            # reconnect as a browser would, with the id of the last event seen
            resume_target = "/api/channels/trade/events"
            headers = {
                "authorization": authorization_header(identity, "GET", resume_target, b""),
                "last-event-id": str(start),
            }
            with http.stream("GET", resume_target, headers=headers) as response:
                assert response.status_code == 200
                events = _block_events(response)
                resumed = [int(next(events)["id"]) for _ in range(3)]
                assert resumed == [start + 1, start + 2, height]

            # a reader-role session gets the same stream; a non-member is refused before it starts
            cookie = {"cookie": f"{SESSION_COOKIE}={env.sessions['Org2/rita']}"}
            with http.stream("GET", target, headers=cookie) as response:
                assert response.status_code == 200
                assert int(next(_block_events(response))["id"]) == start
            refused = http.get(target, headers={"cookie": f"{SESSION_COOKIE}={env.sessions['Org2/bob']}"})
            assert_problem(refused, 403)
        # one more block lets the closed streams' generators notice that their clients left
        remote.submit("trade", "noticeboard", "post", ["sse-after", "x"])
    finally:
        remote.close()
