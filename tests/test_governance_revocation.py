"""Certificate revocation (issue 14, item 3), from the CA's list to the gateway's door.

Acceptance: "A client certificate is revoked: its next transaction is REVOKED_CERTIFICATE; its earlier ones still
pass ``consortia verify``; the gateway refuses its signed requests." Org1's CA signs a revocation list naming a
program (mallory) and a person (alice); a configuration update signed by a majority of admins carries it. Then:
a transaction mallory signed before the update but ordered after it commits as REVOKED_CERTIFICATE, and a new
proposal of hers is refused; her earlier transaction is still VALID and the audit finds the ledgers sound; the
gateway answers her signed requests 403 REVOKED_CERTIFICATE, ends alice's sessions (401, then logged out) and
refuses her login, while every other member goes on as before. Finally an organisation removed from every channel
can no longer authenticate at the gateway.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from typer.testing import CliRunner

from consortia.cli.main import app as cli
from consortia.client.errors import GatewayError
from consortia.client.proposal import build_proposal
from consortia.client.request_signing import authorization_header
from consortia.client.sdk import Gateway
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.identity import CertificateAuthority, MembershipError, SigningIdentity
from consortia.ledger.config import BatchConfig, ChannelConfig
from consortia.ledger.encoding import encode
from consortia.ledger.transaction import ENVELOPE_TRANSACTION, Envelope
from consortia.network.bootstrap import crypto_dir, user_dir
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec, UserSpec
from consortia.peer.audit import audit_network

ASSET = "consortia.samples.asset_transfer:AssetTransfer"
PASSWORD = "correct horse battery staple"
CHANNEL = "trade"
ADMINS = [("Org1", "admin"), ("Org2", "admin")]


def spec() -> NetworkSpec:
    base = (UserSpec("admin", "admin"), UserSpec("client", "client"))
    return NetworkSpec(
        orgs=(
            OrgSpec(
                "Org1",
                users=(*base, UserSpec("mallory", "client"), UserSpec("alice", "client", {}, PASSWORD)),
            ),
            OrgSpec("Org2", users=base),
        ),
        channels=(ChannelSpec(CHANNEL, ("Org1", "Org2"), BatchConfig(max_transactions=10, timeout_ms=20)),),
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def update_channel(network: EmbeddedNetwork, change: Callable[[ChannelConfig], ChannelConfig]) -> ChannelConfig:
    """The next configuration version, signed by both admins (``EmbeddedNetwork.update_config``), in force."""
    current = network.peers["Org1"].channel(CHANNEL).rules.config
    new = msgspec.structs.replace(change(current), version=current.version + 1)
    network.update_config(CHANNEL, new, [org for org, _ in ADMINS])
    wait_for(
        lambda: network.peers["Org1"].channel(CHANNEL).rules.config.version == new.version,
        f"configuration version {new.version}",
    )
    return new


def revoking(crl: bytes) -> Callable[[ChannelConfig], ChannelConfig]:
    def change(config: ChannelConfig) -> ChannelConfig:
        organisations = tuple(
            msgspec.structs.replace(o, revocation_lists=(crl,)) if o.msp_id == "Org1" else o
            for o in config.organisations
        )
        return msgspec.structs.replace(config, organisations=organisations)

    return change


def without_org2(config: ChannelConfig) -> ChannelConfig:
    return msgspec.structs.replace(config, organisations=tuple(o for o in config.organisations if o.msp_id != "Org2"))


@dataclass
class Env:
    network: EmbeddedNetwork
    client: TestClient
    mallory: SigningIdentity
    alice: SigningIdentity

    def signed_get(self, identity: SigningIdentity, target: str) -> Response:
        return self.client.get(target, headers={"authorization": authorization_header(identity, "GET", target, b"")})


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    network = EmbeddedNetwork.create(tmp_path / "net", spec())
    try:
        network.deploy(CHANNEL, ASSET, policy="OR('Org1.peer','Org2.peer')")
        app = create_app(network, ServerSettings(watch_identities=False))
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Env(
                network,
                client,
                SigningIdentity.load(user_dir(network.directory, "Org1", "mallory")),
                network.person("Org1", "alice", PASSWORD),
            )
    finally:
        network.close()


def login(client: TestClient) -> str:
    response = client.post("/api/login", json={"username": "Org1/alice", "password": PASSWORD})
    assert response.status_code == 200, response.text
    token = response.cookies.get("consortia_session")
    assert token
    return token


def test_a_revoked_client_certificate(env: Env) -> None:
    network, directory = env.network, env.network.directory
    target = f"/api/channels/{CHANNEL}"
    contract = Gateway(env.mallory, network).network(CHANNEL).contract("asset-transfer")
    earlier = contract.submit("create", "m1", "red", 1, 10)
    assert earlier.code == "VALID"

    # Before the revocation: mallory's requests and alice's sessions are accepted.
    assert env.signed_get(env.mallory, target).status_code == 200
    api_session, page_session = login(env.client), login(env.client)
    assert env.client.get("/api/me", cookies={"consortia_session": api_session}).status_code == 200

    # A transaction mallory signs now, but which is ordered only after the revocation.
    prepared = build_proposal(env.mallory, CHANNEL, "asset-transfer", "create", ["m2", "red", 1, 10], None)
    transaction = contract.endorse(prepared)
    late = encode(Envelope(ENVELOPE_TRANSACTION, transaction, env.mallory.sign(transaction)))

    # Org1's CA revokes mallory's and alice's certificates; a majority of admins puts the list in the channel.
    ca = CertificateAuthority.load(crypto_dir(directory, "Org1") / "ca")
    crl = ca.revocation_list([env.mallory.certificate_der, env.alice.certificate_der])
    update_channel(network, revoking(crl))

    # Her next transaction is refused for her revoked certificate: the ordering service, judging it under the
    # configuration in force, does not order it (and a peer would mark it REVOKED_CERTIFICATE if it had) ...
    with pytest.raises(GatewayError) as unordered:
        contract.order(late).result(timeout=30)
    assert unordered.value.code == "ORDERING_403", unordered.value
    assert "was revoked by the CA of Org1" in str(unordered.value)
    # ... and a new proposal is refused by the endorsers for the same reason.
    with pytest.raises(GatewayError) as refused:
        contract.submit("create", "m3", "red", 1, 10)
    assert refused.value.code == "REVOKED_CERTIFICATE"
    assert "was revoked by the CA of Org1" in str(refused.value)
    # Everyone else goes on.
    honest = Gateway(network.identity("Org1"), network).network(CHANNEL).contract("asset-transfer")
    assert honest.submit("create", "h1", "blue", 1, 10).code == "VALID"

    # Her earlier transaction is still valid history, and the audit agrees.
    status = network.peers["Org2"].channel(CHANNEL).commit_status(earlier.tx_id)
    assert status is not None and status.code == 0
    report = audit_network(directory)
    assert report.ok, report.first_failure
    verified = CliRunner().invoke(cli, ["verify", "--data", str(directory), "--json"])
    assert verified.exit_code == 0, verified.output
    assert '"ok": true' in verified.output

    # The gateway refuses her signed requests: 403 naming REVOKED_CERTIFICATE.
    refused_request = env.signed_get(env.mallory, target)
    assert refused_request.status_code == 403, refused_request.text
    problem = refused_request.json()
    assert problem["code"] == "REVOKED_CERTIFICATE" and "revoked by the CA of Org1" in problem["detail"]
    # Whoever merely replays her certificate with a signature of their own learns nothing more than 401.
    impostor = authorization_header(env.mallory, "GET", target, b"").rsplit('sig="', 1)[0]
    forged_signature = authorization_header(network.identity("Org1"), "GET", target, b"").rsplit('sig="', 1)[1]
    forged = env.client.get(target, headers={"authorization": f'{impostor}sig="{forged_signature}'})
    assert forged.status_code == 401 and forged.json()["code"] == "BAD_REQUEST_SIGNATURE"
    assert env.signed_get(network.identity("Org1"), target).status_code == 200

    # Alice's session ends at her next request (401 saying why), and is gone afterwards.
    ended = env.client.get("/api/me", cookies={"consortia_session": api_session})
    assert ended.status_code == 401, ended.text
    assert ended.json()["code"] == "SESSION_ENDED" and ended.json()["reason"] == "REVOKED_CERTIFICATE"
    again = env.client.get("/api/me", cookies={"consortia_session": api_session})
    assert again.status_code == 401 and again.json()["code"] == "UNAUTHENTICATED"
    # A browser on a page gets a page, not JSON, saying the session ended.
    page = env.client.get(target, cookies={"consortia_session": page_session}, headers={"accept": "text/html"})
    assert page.status_code == 401 and "text/html" in page.headers["content-type"]
    assert "REVOKED_CERTIFICATE" in page.text
    # And she cannot log in again.
    relogin = env.client.post("/api/login", json={"username": "Org1/alice", "password": PASSWORD})
    assert relogin.status_code == 403 and relogin.json()["code"] == "REVOKED_CERTIFICATE"
    # Nor through the login page: no session, a page saying why, in the page's language.
    form = {"username": "Org1/alice", "password": PASSWORD, "next": "/", "lang": "en"}
    page_login = env.client.post("/login", data=form, headers={"origin": "http://testserver"}, follow_redirects=False)
    assert page_login.status_code == 403, page_login.text
    assert "its certificate was revoked" in page_login.text
    assert "consortia_session" not in page_login.cookies
    korean = env.client.post("/login", data={**form, "lang": "ko"}, headers={"origin": "http://testserver"})
    assert korean.status_code == 403 and "인증서가 폐기되었거나" in korean.text


def test_an_organisation_removed_from_every_channel_is_refused(env: Env) -> None:
    target = f"/api/channels/{CHANNEL}"
    org2_client = env.network.identity("Org2")
    assert env.signed_get(org2_client, "/api/me").status_code == 200
    update_channel(env.network, without_org2)
    refused = env.signed_get(org2_client, "/api/me")
    assert refused.status_code == 401, refused.text
    assert "Org2 is a member of no channel of this gateway now" in refused.json()["detail"]
    assert env.signed_get(env.network.identity("Org1"), target).status_code == 200
    # A gateway started afterwards knows it too (network.json no longer lists Org2 in any channel).
    assert "Org2" not in env.network.spec.channel(CHANNEL).orgs
    with TestClient(create_app(env.network, ServerSettings(watch_identities=False))) as restarted:
        header = authorization_header(org2_client, "GET", "/api/me", b"")
        again = restarted.get("/api/me", headers={"authorization": header})
        assert again.status_code == 401 and "member of no channel" in again.json()["detail"]


def test_gateway_membership_refuses_bad_input(env: Env) -> None:
    members = create_app(env.network, ServerSettings(watch_identities=False)).state.backend.members
    for garbage in (b"", b"not a certificate"):
        with pytest.raises(MembershipError) as refused:
            members.judge_now(garbage)
        assert refused.value.code == "BAD_CERTIFICATE"
    foreign = CertificateAuthority.create("Org1").issue("client", "client")
    with pytest.raises(MembershipError) as refused:
        members.judge_now(foreign.certificate_der)
    assert (
        refused.value.code == "NOT_A_MEMBER"
        and "signature of the CA of Org1 on it does not verify" in refused.value.message
    )
