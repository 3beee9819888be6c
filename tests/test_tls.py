"""Mutual TLS between cluster nodes: real etcd members and node processes on 127.0.0.1, no mocks.

Each organisation has a TLS CA apart from its signing CA; the channel configuration lists it; a node serves TLS
1.3 only and accepts a connection only from a certificate of a TLS CA of its channels' organisations. The tests:

* the bootstrap makes the TLS CAs and puts them in the genesis configuration; certificates name real host names
  and addresses; bad TLS settings in a node configuration are refused naming the field; ``channel update
  --tls-ca-cert`` takes only a CA certificate;
* against running nodes: a certificate of a non-member organisation's TLS CA, and no certificate at all, are
  refused in the TLS handshake (the client never gets an HTTP answer); a member's certificate is served; plain
  HTTP to a TLS port gets nothing; a server certificate of a foreign CA is refused by the client; etcd refuses a
  client without a certificate;
* private data dissemination between two peers passes through a TCP proxy the test puts between them: a planted
  private value is never in the bytes on the wire with TLS, and the same test finds it without TLS.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from cli_run import consortia as run_consortia
from cli_run import source_first
from consortia.channel.rules import read_genesis
from consortia.client import Gateway
from consortia.cluster import Cluster
from consortia.cluster.processes import etcd_binary, log_path
from consortia.contracts.collections_config import CollectionConfig
from consortia.identity import Membership
from consortia.identity.tls import TlsCertificateAuthority
from consortia.ledger.block import Block
from consortia.ledger.config import ChannelConfig, ConfigTransaction
from consortia.ledger.encoding import decode, decode_canonical
from consortia.network.bootstrap import create_network, crypto_dir, genesis_path, tls_ca_dir
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec
from consortia.node.config import ConfigError, load_config
from consortia.node.transport import NodeClient, NodeError, NodeServer, NodeTls, Route, json_reply

IN_CI = os.environ.get("CI") == "true"
CHANNEL = "ch1"
POLICY = "OR('Org1.peer','Org2.peer')"

needs_etcd = pytest.mark.skipif(
    etcd_binary() is None and not IN_CI, reason="etcd is not installed (apt-get install etcd-server)"
)


consortia = partial(run_consortia, timeout=120, env=source_first())


# -- certificates and configuration (no processes) ----------------------------------------------------------------


def test_tls_certificates_name_real_hosts_and_serve_both_ends(tmp_path: Path) -> None:
    """A node's TLS certificate carries its DNS names and IP addresses, both key usages, and the TLS CA as issuer."""
    ca = TlsCertificateAuthority.create("Org1")
    identity = ca.issue_to(tmp_path, "Org1.peer0", ["peer0.org1.example.com", "10.20.30.40", "::1", "127.0.0.1"])
    certificate = x509.load_pem_x509_certificate(identity.certificate_pem)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["peer0.org1.example.com"]
    assert {str(a) for a in names.get_values_for_type(x509.IPAddress)} == {"10.20.30.40", "::1", "127.0.0.1"}
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {u._name for u in usages} == {"serverAuth", "clientAuth"}
    assert certificate.issuer == ca.certificate.subject
    assert (tmp_path / "key.pem").stat().st_mode & 0o077 == 0
    ca.save(tmp_path / "ca")
    assert TlsCertificateAuthority.load(tmp_path / "ca").certificate_pem == ca.certificate_pem


def test_bootstrap_makes_a_tls_ca_per_organisation_and_lists_it_in_the_genesis(tmp_path: Path) -> None:
    """crypto/<org>/tlsca next to crypto/<org>/ca, and each organisation's TLS CA in the channel configuration."""
    spec = NetworkSpec(orgs=(OrgSpec("Org1"), OrgSpec("Org2")), channels=(ChannelSpec(CHANNEL, ("Org1", "Org2")),))
    create_network(tmp_path, spec)
    config, _ = read_genesis(decode_canonical(genesis_path(tmp_path, CHANNEL).read_bytes(), Block))
    for org in (*config.organisations, *config.orderer.organisations):
        tls_ca = (tls_ca_dir(tmp_path, org.msp_id) / "ca.pem").read_bytes()
        assert org.tls_ca_certificates == (tls_ca,)
        assert tls_ca not in org.ca_certificates  # a TLS CA is not a signing CA
    assert {o.msp_id for o in config.orderer.organisations} == {spec.orderer_org}


def test_bad_tls_settings_are_refused_naming_the_field(tmp_path: Path) -> None:
    """An https endpoint without [tls], [tls] with http endpoints, a missing key file: each names its field."""
    cluster = Cluster.create(tmp_path / "c", orgs=1, orderers=1, etcd_members=1)
    path = Path(cluster.layout.peers[0].config)
    good = path.read_text()
    assert load_config(path).tls is not None
    tls_section = good[good.index("[tls]") : good.index("[channels]")]
    cases = {
        "https without [tls]": (good.replace(tls_section, ""), "orderers[0].endpoint"),
        "[tls] with http": (good.replace("https://", "http://"), "orderers[0].endpoint"),
        "missing key": (good.replace("tls/key.pem", "tls/nowhere.pem"), "tls.key"),
        "missing cert": (good.replace('cert = "', 'cert = "/nonexistent'), "tls.cert"),
    }
    for name, (text, field) in cases.items():
        path.write_text(text)
        with pytest.raises(ConfigError) as refused:
            load_config(path)
        assert refused.value.field == field, f"{name}: {refused.value}"
    path.write_text(good)
    assert load_config(path).tls is not None  # nothing was lost


def test_channel_update_adds_an_organisation_with_its_tls_ca(tmp_path: Path) -> None:
    """``--tls-ca-cert`` puts the TLS CA in the update; a non-CA certificate or a lone --tls-ca-cert exit 2."""
    data = str(tmp_path)
    spec = NetworkSpec(orgs=(OrgSpec("Org1"),), channels=(ChannelSpec(CHANNEL, ("Org1",)),))
    create_network(tmp_path, spec)
    assert consortia("org", "create", "Org4", "--data", data).returncode == 0
    ca = str(crypto_dir(tmp_path, "Org4") / "ca" / "ca.pem")
    tls_ca = tls_ca_dir(tmp_path, "Org4") / "ca.pem"
    leaf = tmp_path / "leaf.pem"
    TlsCertificateAuthority.load(tls_ca.parent).issue_to(tmp_path / "leaf", "x")
    leaf.write_bytes((tmp_path / "leaf" / "cert.pem").read_bytes())
    out = tmp_path / "add.update"
    refused = consortia("channel", "update", CHANNEL, "--add-org", "Org4", "--ca-cert", ca, "--tls-ca-cert",
                        str(leaf), "--out", str(out), "--data", data)  # fmt: skip
    assert refused.returncode == 2 and "not a CA" in refused.stdout + refused.stderr, refused.stdout + refused.stderr
    alone = consortia("channel", "update", CHANNEL, "--tls-ca-cert", str(tls_ca), "--out", str(out), "--data", data)
    assert alone.returncode == 2 and "--add-org" in alone.stdout + alone.stderr
    assert not out.exists()
    made = consortia("channel", "update", CHANNEL, "--add-org", "Org4", "--ca-cert", ca, "--tls-ca-cert",
                     str(tls_ca), "--out", str(out), "--data", data, "--json")  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    transaction = decode(out.read_bytes(), ConfigTransaction)
    config = decode(transaction.config, ChannelConfig)
    org4 = config.organisation("Org4")
    assert org4 is not None and org4.tls_ca_certificates == (tls_ca.read_bytes(),)


def test_a_server_follows_the_trusted_cas_it_is_given_from_the_next_connection(tmp_path: Path) -> None:
    """NodeServer.use_members re-reads the TLS CAs in force: an organisation removed is refused at the handshake,
    one added is served — without a restart (the nodes call it when a configuration update commits)."""
    org1, org2 = TlsCertificateAuthority.create("Org1"), TlsCertificateAuthority.create("Org2")
    trusted = [org1.certificate_pem, org2.certificate_pem]
    server_tls = NodeTls(org1.issue_to(tmp_path / "server", "Org1.peer0", ["127.0.0.1"]), trusted)
    routes = [Route("GET", "/status", lambda request: json_reply({"ok": True}), None)]
    server = NodeServer("127.0.0.1", 0, routes, Membership({}), tls=server_tls, tls_cas=lambda: list(trusted))
    server.start()
    try:
        endpoint = f"https://127.0.0.1:{server.port}"

        def ask() -> int:
            tls = NodeTls(org2.issue_to(tmp_path / "client", "Org2.peer0", ["127.0.0.1"]), [org1.certificate_pem])
            client = NodeClient(endpoint, None, tls=tls)
            try:
                return client.request("GET", "/status")[0]
            except NodeError as exc:
                return exc.status
            finally:
                client.close()

        assert ask() == 200
        trusted.remove(org2.certificate_pem)  # Org2 leaves the channel
        server.use_members(Membership({}))
        assert ask() == 0  # refused: no HTTP status at all
        trusted.append(org2.certificate_pem)  # and is added again
        server.use_members(Membership({}))
        assert ask() == 200
    finally:
        server.close()


# -- a running TLS cluster, with a tap between two peers ------------------------------------------------------------


class Tap:
    """A TCP proxy on 127.0.0.1 that forwards to ``target`` and keeps every byte it forwards, both ways."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.captured = bytearray()
        self.connections = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    self.captured += data
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def bytes(self) -> bytes:
        """Everything forwarded so far."""
        with self._lock:
            return bytes(self.captured)

    def close(self) -> None:
        """Stop accepting."""
        self._stop.set()
        self.listener.close()


def _tapped_cluster(folder: Path, *, tls: bool) -> tuple[Cluster, Tap]:
    """A cluster of two organisations whose Org1 peer reaches Org2's peer only through a :class:`Tap`."""
    cluster = Cluster.create(folder, orgs=2, orderers=1, etcd_members=1, policy=POLICY, tls=tls)
    org2 = cluster.layout.node("Org2.peer0")
    tap = Tap(int(org2.endpoint.rsplit(":", 1)[1]))
    org1_config = Path(cluster.layout.node("Org1.peer0").config)
    text = org1_config.read_text()
    assert org2.endpoint in text
    org1_config.write_text(text.replace(org2.endpoint, org2.endpoint.rsplit(":", 1)[0] + f":{tap.port}"))
    return cluster, tap


def _plant_private_value(cluster: Cluster, secret: str) -> None:
    """Appraise an asset with ``secret`` (transient, into a collection of Org1 and Org2), endorsed by Org1 alone."""
    cluster.up()
    cluster.deploy(collections=[CollectionConfig("appraisals", ("Org1", "Org2"))])
    connection = cluster.connection("Org1")
    try:
        contract = Gateway(connection.identity, connection).network(CHANNEL).contract("asset-transfer")
        asset = f"tls-{secrets.token_hex(4)}"
        contract.submit("create", asset, "red", 1, 1, endorsing_orgs=["Org1"])
        contract.submit("appraise", asset, transient={"appraisal": secret.encode()}, endorsing_orgs=["Org1"])
        cluster.wait_heights(CHANNEL, cluster.height("Org1.peer0", CHANNEL), 30)
        # Org2's peer holds the value: it crossed the wire (through the tap).
        note = contract.evaluate("read_appraisal", asset, org="Org2")
        assert note["appraisal"] == secret, note
    finally:
        connection.close()


@pytest.fixture(scope="module")
def tapped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Tap, str]]:
    """A running TLS cluster with a planted private value, and the tap between Org1's and Org2's peers."""
    if etcd_binary() is None:
        pytest.skip("etcd is not installed (apt-get install etcd-server)")
    cluster, tap = _tapped_cluster(tmp_path_factory.mktemp("tls") / "c", tls=True)
    secret = f"planted-secret-{secrets.token_hex(8)}"
    try:
        _plant_private_value(cluster, secret)
        yield cluster, tap, secret
    finally:
        cluster.down()
        tap.close()


@needs_etcd
def test_private_data_is_never_plaintext_on_the_wire_with_tls(tapped: tuple[Cluster, Tap, str]) -> None:
    """The peer-to-peer bytes carry a TLS 1.3 session and not the planted value (nor its name)."""
    _, tap, secret = tapped
    wire = tap.bytes()
    assert tap.connections >= 1 and len(wire) > 1000, "nothing went through the tap"
    assert wire[0] == 0x16, "the first byte on the wire is not a TLS handshake record"
    assert secret.encode() not in wire
    assert b"appraisals" not in wire and b"/private" not in wire


@needs_etcd
def test_private_data_is_found_on_the_wire_without_tls(tmp_path: Path) -> None:
    """The same capture finds the planted value when the cluster speaks plain HTTP (so the test above can fail)."""
    cluster, tap = _tapped_cluster(tmp_path / "c", tls=False)
    secret = f"planted-secret-{secrets.token_hex(8)}"
    try:
        _plant_private_value(cluster, secret)
    finally:
        cluster.down()
        tap.close()
    wire = tap.bytes()
    assert secret.encode() in wire and b"POST /private" in wire


def _address(cluster: Cluster, name: str) -> tuple[str, int]:
    host, port = cluster.layout.node(name).endpoint.split("://", 1)[1].rsplit(":", 1)
    return host, int(port)


def _tls_exchange(context: ssl.SSLContext, address: tuple[str, int]) -> bytes:
    """Open TLS, send an HTTP request, and return what comes back (raises what the TLS layer raises)."""
    with (
        socket.create_connection(address, timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=address[0]) as tls,
    ):
        tls.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := tls.recv(65536):
            received += chunk
        return received


def _client_context(tmp_path: Path, cluster: Cluster, signer: TlsCertificateAuthority | None) -> ssl.SSLContext:
    """A TLS 1.3 client trusting the cluster's TLS CAs, presenting a certificate of ``signer`` (if any)."""
    identity = signer.issue_to(tmp_path / signer.org, "intruder", ["127.0.0.1"]) if signer else None
    return NodeTls(identity, cluster.tls_cas()).client_context()


@needs_etcd
@pytest.mark.parametrize("node", ["Org2.peer0", "orderer0"])
def test_a_non_member_or_no_certificate_is_refused_in_the_handshake(
    tapped: tuple[Cluster, Tap, str], tmp_path: Path, node: str
) -> None:
    """A certificate of a TLS CA no channel lists, or none at all: the handshake fails, no HTTP answer comes."""
    cluster, _, _ = tapped
    address = _address(cluster, node)
    log = log_path(cluster.layout, node)
    for name, context, reason in (
        (
            "non-member",
            _client_context(tmp_path, cluster, TlsCertificateAuthority.create("Mallory")),
            "CERTIFICATE_VERIFY_FAILED",
        ),
        ("no certificate", _client_context(tmp_path, cluster, None), "PEER DID NOT RETURN A CERTIFICATE"),
    ):
        refusals = log.read_text().count("TLS handshake with")
        # TLS 1.3 finishes the client's side of the handshake before the server judges its certificate: the
        # server's refusal (an alert, or the connection closed) arrives on the first read — from the TLS layer.
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            received = _tls_exchange(context, address)
            pytest.fail(f"{name}: the node answered {received[:80]!r}")
        # The node logged the failed handshake, with OpenSSL's reason: no HTTP request was ever read.
        deadline = time.monotonic() + 10
        while log.read_text().count("TLS handshake with") == refusals:
            assert time.monotonic() < deadline, f"{name}: {node} logged no refused handshake"
            time.sleep(0.05)
        assert reason in log.read_text().upper().rsplit("TLS HANDSHAKE WITH", 1)[1], f"{name}: {log.read_text()[-500:]}"
    # Through the SDK's transport the same refusal is a connection failure (status 0), never an HTTP 401.
    intruder = NodeTls(
        TlsCertificateAuthority.create("Mallory").issue_to(tmp_path / "m2", "x", ["127.0.0.1"]), cluster.tls_cas()
    )
    client = NodeClient(cluster.layout.node(node).endpoint, cluster.identity("Org1", "admin"), tls=intruder)
    with pytest.raises(NodeError) as failed:
        client.get_json("/status")
    assert failed.value.status == 0, failed.value


@needs_etcd
def test_a_member_certificate_is_served_and_requests_are_still_signed(tapped: tuple[Cluster, Tap, str]) -> None:
    """A member's TLS certificate gets through; behind TLS the request signature is still required (401)."""
    cluster, _, _ = tapped
    for user in ("client", "admin"):
        tls = cluster.user_tls("Org2", user)
        status = NodeClient(cluster.layout.node("Org1.peer0").endpoint, None, tls=tls).get_json("/status")
        assert status["name"] == "Org1.peer0"
    unsigned = NodeClient(cluster.layout.node("Org1.peer0").endpoint, None, tls=cluster.tls)
    code, body = unsigned.request("GET", f"/channels/{CHANNEL}/blocks?from=0&limit=1")
    assert code == 401, body


@needs_etcd
def test_plain_http_to_a_tls_port_gets_no_answer(tapped: tuple[Cluster, Tap, str]) -> None:
    """An HTTP request on a TLS port is not answered (the handshake fails), and the node keeps serving."""
    cluster, _, _ = tapped
    host, port = _address(cluster, "Org1.peer0")
    connection = http.client.HTTPConnection(host, port, timeout=10)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        connection.request("GET", "/status")
        answer = connection.getresponse()
        pytest.fail(f"a TLS port answered plain HTTP: {answer.status}")
    connection.close()
    assert cluster.node_status("Org1.peer0") is not None


@needs_etcd
def test_a_server_certificate_of_a_foreign_ca_is_refused_by_the_client(
    tapped: tuple[Cluster, Tap, str], tmp_path: Path
) -> None:
    """A client trusting only another CA refuses the node's certificate (the client verifies the server too)."""
    cluster, _, _ = tapped
    foreign = TlsCertificateAuthority.create("Elsewhere")
    identity = TlsCertificateAuthority.load(tls_ca_dir(cluster.data, "Org1")).issue_to(tmp_path / "c", "c")
    context = NodeTls(identity, [foreign.certificate_pem]).client_context()
    with pytest.raises(ssl.SSLCertVerificationError):
        _tls_exchange(context, _address(cluster, "Org1.peer0"))


@needs_etcd
def test_etcd_requires_a_client_certificate(tapped: tuple[Cluster, Tap, str]) -> None:
    """etcd's client port speaks TLS only and refuses a client without a certificate; the operator's is served."""
    cluster, _, _ = tapped
    url = cluster.layout.etcd[0].client_url
    assert url.startswith("https://")
    assert cluster.tls is not None
    bare = NodeTls(None, cluster.tls_cas()).client_context()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/health", verify=bare, timeout=5).raise_for_status()
    with pytest.raises(httpx.HTTPError):
        httpx.get(url.replace("https://", "http://") + "/health", timeout=5).raise_for_status()
    answer = httpx.get(f"{url}/health", verify=cluster.tls.client_context(), timeout=5)
    assert json.loads(answer.text)["health"] == "true"


@needs_etcd
def test_nodes_advertise_https_endpoints(tapped: tuple[Cluster, Tap, str]) -> None:
    """Every node and etcd member of a TLS cluster is reached at https://, and says so in its status."""
    cluster, _, _ = tapped
    assert all(node.endpoint.startswith("https://") for node in cluster.layout.nodes)
    assert all(m.client_url.startswith("https://") and m.peer_url.startswith("https://") for m in cluster.layout.etcd)
    for node in cluster.layout.nodes:
        status = cluster.node_status(node.name)
        assert status is not None and status["endpoint"] == node.endpoint
