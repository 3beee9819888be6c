"""Renewal without downtime and CA rotation (issue 14, item 4).

Acceptance: "A peer's certificate is renewed and a CA is rotated while a workload runs: no transaction fails for
it." A client submits transactions continuously (endorsed by both organisations' peers) while Org1's peer is
renewed, then Org1's CA is rotated: a configuration update adds the new CA next to the old, the peer, the admin
and the client are renewed under the new CA, and a second update removes the old CA. Every transaction commits
VALID; afterwards a certificate of the old CA is NOT_A_MEMBER, and ``consortia verify`` finds the ledgers sound.

Also: ``consortia identity renew`` for each kind of identity (a person's wallet entry under their password), its
refusals (nothing changed), ``consortia identity rotate-ca``'s layout, and the identity watch a served folder uses.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import msgspec
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli_run import consortia as run_consortia
from cli_run import source_first
from consortia.channel.update import propose, sign_update
from consortia.cli.identity_cmd import renew_identity, rotate_ca
from consortia.cli.main import app
from consortia.client.errors import GatewayError
from consortia.client.sdk import Gateway
from consortia.cluster import Cluster
from consortia.cluster.processes import etcd_binary
from consortia.gateway.server.app import create_app
from consortia.gateway.server.backend import Backend
from consortia.identity import (
    CertificateAuthority,
    Kind,
    Membership,
    MembershipError,
    SigningIdentity,
    parse_certificate,
)
from consortia.identity.signing import IdentityWatch
from consortia.identity.wallet import Wallet, WalletError
from consortia.ledger.block import Block
from consortia.ledger.config import BatchConfig, ChannelConfig, OrganisationConfig
from consortia.ledger.encoding import MalformedError, decode
from consortia.ledger.transaction import NotATransaction, open_envelope
from consortia.network.bootstrap import crypto_dir, peer_dir, user_dir, wallet_dir
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec, UserSpec
from consortia.node.messages import BlocksReply
from consortia.peer.audit import audit_network

ASSET = "consortia.samples.asset_transfer:AssetTransfer"
PASSWORD = "correct horse battery staple"
CHANNEL = "trade"


def spec() -> NetworkSpec:
    users = (UserSpec("admin", "admin"), UserSpec("client", "client"))
    return NetworkSpec(
        orgs=(
            OrgSpec("Org1", users=(*users, UserSpec("alice", "client", {"role": "clerk"}, PASSWORD))),
            OrgSpec("Org2", users=users),
        ),
        channels=(ChannelSpec(CHANNEL, ("Org1", "Org2"), BatchConfig(max_transactions=20, timeout_ms=20)),),
    )


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def update_channel(
    network: EmbeddedNetwork,
    change: Callable[[ChannelConfig], ChannelConfig],
    signers: list[tuple[str, str]],
) -> ChannelConfig:
    """Have `signers` (org, user) sign the next configuration version and wait until every peer is under it."""
    current = network.peers["Org1"].channel(CHANNEL).rules.config
    new = msgspec.structs.replace(change(current), version=current.version + 1)
    transaction = propose(new)
    for org, user in signers:
        admin = SigningIdentity.load(user_dir(network.directory, org, user))  # as on disk now: renewed or not
        transaction = sign_update(transaction, admin.certificate_der, admin.sign)
    network.submit_config(CHANNEL, transaction)
    wait_for(
        lambda: all(peer.channel(CHANNEL).rules.config.version == new.version for peer in network.peers.values()),
        f"configuration version {new.version}",
    )
    return new


def with_cas(config: ChannelConfig, org: str, cas: tuple[bytes, ...]) -> ChannelConfig:
    organisations = tuple(
        msgspec.structs.replace(o, ca_certificates=cas) if o.msp_id == org else o for o in config.organisations
    )
    return msgspec.structs.replace(config, organisations=organisations)


def org_config(config: ChannelConfig, org: str) -> OrganisationConfig:
    found = config.organisation(org)
    assert found is not None
    return found


# -- the CLI on a data folder ---------------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    directory = tmp_path / "net"
    EmbeddedNetwork.create(directory, spec()).close()
    return directory


def test_renew_a_peer_keeps_the_previous_certificate(folder: Path) -> None:
    cert = peer_dir(folder, "Org1") / "cert.pem"
    before = cert.read_bytes()
    code, output = run("identity", "renew", "--data", str(folder), "--org", "Org1", "--peer")
    assert code == 0, output
    old, new = parse_certificate(before), parse_certificate(cert.read_bytes())
    assert (peer_dir(folder, "Org1") / "previous-cert.pem").read_bytes() == before
    assert new.serial != old.serial and new.public_key != old.public_key
    assert (new.org, new.name, new.kind) == (old.org, old.name, old.kind)
    assert f"old serial {old.serial:x}" in output and f"new serial {new.serial:x}" in output
    renewed = SigningIdentity.load(peer_dir(folder, "Org1"))  # the key on disk is the new certificate's
    assert renewed.info.serial == new.serial


def test_renew_a_program_and_a_person(folder: Path) -> None:
    code, output = run("identity", "renew", "--data", str(folder), "--org", "Org1", "--user", "client", "--json")
    assert code == 0, output
    assert '"person": false' in output
    alice_cert = wallet_dir(folder) / "Org1" / "alice" / "cert.pem"
    before = alice_cert.read_bytes()
    arguments = ("identity", "renew", "--data", str(folder), "--org", "Org1", "--user", "alice")
    # A person's key is encrypted under their password: without it, or with another, nothing changes.
    code, output = run(*arguments, env={"CONSORTIA_PASSWORD": ""})
    assert code == 1 and "give their password" in output
    code, output = run(*arguments, env={"CONSORTIA_PASSWORD": "not alice's password"})
    assert code == 1 and "not Org1/alice's" in output
    assert alice_cert.read_bytes() == before
    with pytest.raises(WalletError):
        Wallet(wallet_dir(folder)).login("Org1/alice", "not alice's password")
    password_file = folder / "alice.pw"
    password_file.write_text(PASSWORD + "\n")
    code, output = run(*arguments, "--password-file", str(password_file))
    assert code == 0, output
    _, identity = Wallet(wallet_dir(folder)).login("Org1/alice", PASSWORD)
    assert identity.info.serial != parse_certificate(before).serial
    assert identity.info.role() == "clerk"  # attributes are kept
    assert (alice_cert.parent / "previous-cert.pem").read_bytes() == before


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (("--org", "Org1"), "name exactly one identity"),
        (("--org", "Org1", "--peer", "--user", "client"), "given: --peer, --user"),
        (("--org", "Org9", "--peer"), "no organisation 'Org9'"),
        (("--org", "Org1", "--user", "nobody"), "no user 'nobody'"),
        (("--org", "Org1", "--orderer"), "no orderer identity"),
    ],
)
def test_renew_refuses_bad_input_and_changes_nothing(folder: Path, arguments: tuple[str, ...], complaint: str) -> None:
    before = {path: path.read_bytes() for path in (folder / "crypto").rglob("*") if path.is_file()}
    code, output = run("identity", "renew", "--data", str(folder), *arguments)
    assert code == 1, output
    assert complaint in " ".join(output.split())
    assert {path: path.read_bytes() for path in (folder / "crypto").rglob("*") if path.is_file()} == before


def test_renew_refuses_a_folder_that_is_no_network(tmp_path: Path) -> None:
    code, output = run("identity", "renew", "--data", str(tmp_path), "--org", "Org1", "--peer")
    assert code == 1 and "not a Consortia data folder" in output


def test_rotate_ca_layout(folder: Path) -> None:
    organisation = crypto_dir(folder, "Org1")
    old_ca = (organisation / "ca" / "ca.pem").read_bytes()
    code, output = run("identity", "rotate-ca", "--data", str(folder), "--org", "Org1")
    assert code == 0, output
    assert (organisation / "ca-previous" / "ca.pem").read_bytes() == old_ca
    new_ca = CertificateAuthority.load(organisation / "ca")
    assert new_ca.certificate_pem != old_ca and new_ca.org == "Org1"
    assert "--add-ca-cert Org1=" in output and "--remove-ca-cert Org1=" in output
    # Renewals are now issued by the new CA.
    renewal = renew_identity(folder, "Org1", peer=True)
    peer = SigningIdentity.load(peer_dir(folder, "Org1"))
    assert peer.info.serial == renewal.new.serial
    assert Membership({"Org1": new_ca.certificate_pem}).validate(peer.certificate_der, at_ms=now_ms()).org == "Org1"
    # A second rotation waits for the first to be finished.
    code, output = run("identity", "rotate-ca", "--data", str(folder), "--org", "Org1")
    assert code == 1 and "rotation of Org1's CA is under way" in " ".join(output.split())
    assert (organisation / "ca-previous" / "ca.pem").read_bytes() == old_ca
    code, output = run("identity", "rotate-ca", "--data", str(folder), "--org", "Org7")
    assert code == 1 and "no CA" in output


def now_ms() -> int:
    return int(time.time() * 1000)


def test_identity_watch_swaps_only_a_renewal_of_the_same_holder(folder: Path) -> None:
    directory = peer_dir(folder, "Org1")
    current = SigningIdentity.load(directory)
    swapped: list[SigningIdentity] = []
    watch = IdentityWatch(directory, current, swapped.append, interval=0.05)
    assert watch.poll() is None  # nothing changed
    ca = CertificateAuthority.load(crypto_dir(folder, "Org1") / "ca")
    # A half-written folder (the new key, the old certificate) is read again later, not swapped in.
    renewed = ca.renew(current.certificate_der)
    renewed.save(folder / "staging")
    os.replace(folder / "staging" / "key.pem", directory / "key.pem")
    assert watch.poll() is None and swapped == []
    os.replace(folder / "staging" / "cert.pem", directory / "cert.pem")
    assert watch.poll() is not None
    assert [identity.info.serial for identity in swapped] == [renewed.info.serial]
    # Somebody else's identity put in the folder is not taken.
    ca.issue("peer9", Kind.PEER).save(directory)
    assert watch.poll() is None and len(swapped) == 1
    with pytest.raises(ValueError, match="positive"):
        IdentityWatch(directory, current, swapped.append, interval=0)


# -- acceptance: renewal and CA rotation under a workload ------------------------------------------------------


class Workload:
    """A client program submitting transactions one after another, following its identity folder."""

    def __init__(self, network: EmbeddedNetwork, org: str, user: str) -> None:
        self.network = network
        folder = user_dir(network.directory, org, user)
        self.identity = SigningIdentity.load(folder)
        self.first_identity = self.identity
        self.watch = IdentityWatch(folder, self.identity, self._swap)
        self.outcomes: list[str] = []
        self.serials_used: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="workload", daemon=True)

    def _swap(self, identity: SigningIdentity) -> None:
        self.identity = identity

    def _run(self) -> None:
        number = 0
        while not self._stop.is_set():
            self.watch.poll()
            contract = Gateway(self.identity, self.network).network(CHANNEL).contract("asset-transfer")
            number += 1
            try:
                outcome = contract.submit("create", f"asset-{number}", "blue", 1, 10).code
            except GatewayError as error:
                outcome = f"{error.code}: {error}"
            self.outcomes.append(outcome)
            self.serials_used.add(self.identity.info.serial)

    def __enter__(self) -> Workload:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def more(self, count: int = 3) -> None:
        """Wait until `count` more transactions have completed."""
        target = len(self.outcomes) + count
        wait_for(lambda: len(self.outcomes) >= target, f"{count} more transactions")


@pytest.fixture
def network(tmp_path: Path) -> Iterator[EmbeddedNetwork]:
    network = EmbeddedNetwork.create(tmp_path / "net", spec())
    try:
        network.deploy(CHANNEL, ASSET, policy="AND('Org1.peer','Org2.peer')")
        yield network
    finally:
        network.close()


def test_renewal_and_ca_rotation_under_a_workload(network: EmbeddedNetwork) -> None:
    directory = network.directory
    peer = network.peers["Org1"]
    watches = Backend(network).watch_identities(interval=0.1)  # what a served folder runs
    try:
        with Workload(network, "Org1", "client") as workload:
            workload.more()

            # 1. The peer's certificate is renewed: the running peer signs with the new one within moments.
            first_peer_serial = peer.identity.info.serial
            renewal = renew_identity(directory, "Org1", peer=True)
            assert renewal.old.serial == first_peer_serial
            wait_for(lambda: peer.identity.info.serial == renewal.new.serial, "the peer to take its new certificate")
            assert all(c.identity.info.serial == renewal.new.serial for c in peer.channels.values())
            workload.more()

            # The old certificate keeps working until it expires or is revoked: a program renewed while it runs
            # still commits VALID with the key it holds.
            org2_client = SigningIdentity.load(user_dir(directory, "Org2", "client"))
            renew_identity(directory, "Org2", user="client")
            still = Gateway(org2_client, network).network(CHANNEL).contract("asset-transfer")
            assert still.submit("create", "asset-old-key", "green", 1, 10).code == "VALID"

            # 2. The CA of Org1 is rotated: the new CA is added next to the old one.
            rotation = rotate_ca(directory, "Org1")
            old_ca, new_ca = rotation.previous_ca_pem.read_bytes(), rotation.new_ca_pem.read_bytes()
            admins = [("Org1", "admin"), ("Org2", "admin")]
            update_channel(network, lambda config: with_cas(config, "Org1", (old_ca, new_ca)), admins)
            workload.more()

            # 3. Peer, admin and client renewed under the new CA (both CAs are trusted meanwhile).
            peer_renewal = renew_identity(directory, "Org1", peer=True)
            renew_identity(directory, "Org1", user="admin")
            client_renewal = renew_identity(directory, "Org1", user="client")
            wait_for(lambda: peer.identity.info.serial == peer_renewal.new.serial, "the peer under the new CA")
            wait_for(lambda: workload.identity.info.serial == client_renewal.new.serial, "the client's new identity")
            workload.more()

            # 4. The old CA is removed, signed by Org1's renewed admin.
            config = update_channel(network, lambda config: with_cas(config, "Org1", (new_ca,)), admins)
            assert org_config(config, "Org1").ca_certificates == (new_ca,)
            workload.more(5)
    finally:
        for watch in watches:
            watch.stop()

    assert len(workload.outcomes) >= 17
    assert set(workload.outcomes) == {"VALID"}, [o for o in workload.outcomes if o != "VALID"][:3]
    assert {client_renewal.old.serial, client_renewal.new.serial} <= workload.serials_used

    # After the second update, certificates of the old CA are no longer members.
    members = network.peers["Org2"].channel(CHANNEL).rules.members
    old_certificates = [
        (user_dir(directory, "Org1", "client") / "previous-cert.pem").read_bytes(),
        (peer_dir(directory, "Org1") / "previous-cert.pem").read_bytes(),
    ]
    for certificate in old_certificates:
        with pytest.raises(MembershipError) as refused:
            members.validate(certificate, at_ms=now_ms())
        assert refused.value.code == "NOT_A_MEMBER"
    contract = Gateway(workload.first_identity, network).network(CHANNEL).contract("asset-transfer")
    with pytest.raises(GatewayError) as refused_tx:
        contract.submit("create", "asset-old-ca", "red", 1, 10)
    assert "NOT_A_MEMBER" in f"{refused_tx.value.code} {refused_tx.value}"

    report = audit_network(directory)
    assert report.ok, report.first_failure


# -- the same on a cluster: node processes, real etcd ----------------------------------------------------------


# the nodes it starts are processes of their own, so they need this checkout's src on PYTHONPATH
consortia_command = partial(run_consortia, timeout=180, env=source_first())


def signers_in_blocks(cluster: Cluster, channel: str) -> tuple[set[bytes], set[bytes]]:
    """The orderer certificates that signed a peer's blocks, and the peer certificates in their endorsements."""
    client = cluster.client("Org2.peer0", cluster.identity("Org2", "admin"), timeout=30)
    orderers: set[bytes] = set()
    endorsers: set[bytes] = set()
    number = 0
    while True:
        reply = client.call("GET", f"/channels/{channel}/blocks?from={number}&limit=256", reply=BlocksReply)
        if not reply.blocks:
            return orderers, endorsers
        for data in reply.blocks:
            block = decode(data, Block)
            orderers.add(block.orderer)
            for envelope in block.transactions if block.header.number > 0 else ():
                try:
                    opened = open_envelope(envelope)
                except (NotATransaction, MalformedError):
                    continue
                endorsers.update(endorsement.endorser for endorsement in opened.transaction.endorsements)
        number += len(reply.blocks)


@pytest.mark.skipif(
    etcd_binary() is None and os.environ.get("CI") != "true",
    reason="etcd is not installed (apt-get install etcd-server)",
)
def test_cluster_nodes_renewed_under_a_workload(tmp_path: Path) -> None:
    folder = tmp_path / "cluster"
    made = consortia_command("cluster", "up", "--orgs", "2", "--orderers", "2", "--etcd", "1", "--data", str(folder))
    if made.returncode != 0:
        if (folder / "cluster.json").exists():
            Cluster.open(folder).down()  # whatever did start must not outlive the test
        pytest.fail(made.stdout + made.stderr)
    cluster = Cluster.open(folder)
    stop = threading.Event()
    outcomes: list[str] = []
    try:
        channel = next(iter(cluster.layout.channels))
        connection = cluster.connection("Org1")

        def submit_continuously() -> None:
            contract = Gateway(connection.identity, connection).network(channel).contract("asset-transfer")
            number = 0
            while not stop.is_set():
                number += 1
                try:
                    outcomes.append(contract.submit("create", f"c-{number}", "blue", 1, number).code)
                except GatewayError as error:
                    outcomes.append(f"{error.code}: {error}")

        def more(count: int) -> None:
            target = len(outcomes) + count
            wait_for(lambda: len(outcomes) >= target, f"{count} more transactions", timeout=60)

        worker = threading.Thread(target=submit_continuously, daemon=True)
        worker.start()
        try:
            more(3)
            peer = renew_identity(folder, "Org1", peer=True)
            assert peer.new.serial != peer.old.serial
            orderers = [
                renew_identity(folder, cluster.layout.orderers[0].org, orderer=True, node=node.name)
                for node in cluster.layout.orderers
            ]
            new_orderers = {renewal.new.serial for renewal in orderers}

            def renewed_certificates_sign() -> bool:
                signed_by, endorsed_by = signers_in_blocks(cluster, channel)
                serials = {parse_certificate(certificate).serial for certificate in signed_by}
                endorsers = {parse_certificate(certificate).serial for certificate in endorsed_by}
                return bool(serials & new_orderers) and peer.new.serial in endorsers

            wait_for(renewed_certificates_sign, "blocks signed and endorsed with the renewed certificates", 60)
            more(3)
        finally:
            stop.set()
            worker.join(timeout=60)
            connection.close()
        assert len(outcomes) >= 6
        assert set(outcomes) == {"VALID"}, [o for o in outcomes if o != "VALID"][:3]
        comparison = cluster.compare(wait=30)
        assert comparison["ok"], comparison
    finally:
        cluster.down()


def test_a_served_folder_takes_renewed_node_certificates_without_a_restart(network: EmbeddedNetwork) -> None:
    peer, orderer = network.peers["Org2"], network.orderer
    with TestClient(create_app(network)) as client:  # the lifespan a served gateway runs
        renewal = renew_identity(network.directory, "Org2", peer=True)
        orderer_renewal = renew_identity(network.directory, network.spec.orderer_org, orderer=True)
        wait_for(lambda: peer.identity.info.serial == renewal.new.serial, "the served peer's renewal")
        wait_for(lambda: orderer.identity.info.serial == orderer_renewal.new.serial, "the orderer's renewal")
        contract = Gateway(network.identity("Org1"), network).network(CHANNEL).contract("asset-transfer")
        done = contract.submit("create", "after-renewal", "red", 1, 10)
        assert done.code == "VALID"
        block = network.peers["Org1"].channel(CHANNEL).ledger.block(done.block)
        assert parse_certificate(block.orderer).serial == orderer_renewal.new.serial
        endorsers = {
            parse_certificate(e.endorser).serial for e in open_envelope(block.transactions[0]).transaction.endorsements
        }
        assert renewal.new.serial in endorsers
        assert client.get("/healthz").status_code == 200


def test_ca_rotation_through_the_cli(folder: Path, tmp_path: Path) -> None:
    """The operator's commands, in order: rotate, add the new CA, renew, remove the old CA."""
    data = str(folder)

    def ok(*args: str) -> str:
        code, output = run(*args)
        assert code == 0, f"{args}: {output}"
        return output

    def through_channel(option: str, pem: str, name: str) -> None:
        update = str(tmp_path / name)
        ok("channel", "update", CHANNEL, option, f"Org1={pem}", "--out", update, "--data", data)
        for org in ("Org1", "Org2"):
            ok("channel", "sign", update, "--org", org, "--data", data)
        ok("channel", "submit", update, "--data", data)

    def org1_cas() -> list[str]:
        shown = json.loads(ok("channel", "config", CHANNEL, "--data", data, "--json"))
        return next(org["ca_certificates"] for org in shown["organisations"] if org["msp_id"] == "Org1")

    old_client = SigningIdentity.load(user_dir(folder, "Org1", "client"))
    rotated = json.loads(ok("org", "rotate-ca", "--data", data, "--org", "Org1", "--json"))
    new_ca, old_ca = Path(rotated["new_ca"]).read_text(), Path(rotated["previous_ca"]).read_text()
    through_channel("--add-ca-cert", rotated["new_ca"], "add.update")
    assert [pem.strip() for pem in org1_cas()] == [old_ca.strip(), new_ca.strip()]
    for who in (("--peer",), ("--user", "admin"), ("--user", "client")):
        ok("identity", "renew", "--data", data, "--org", "Org1", *who)
    through_channel("--remove-ca-cert", rotated["previous_ca"], "remove.update")  # signed by the renewed admin
    assert [pem.strip() for pem in org1_cas()] == [new_ca.strip()]

    with EmbeddedNetwork(folder) as network:
        members = network.peers["Org2"].channel(CHANNEL).rules.members
        renewed = SigningIdentity.load(user_dir(folder, "Org1", "client"))
        assert members.validate(renewed.certificate_der, at_ms=now_ms()).org == "Org1"
        with pytest.raises(MembershipError) as refused:
            members.validate(old_client.certificate_der, at_ms=now_ms())
        assert refused.value.code == "NOT_A_MEMBER"
    ok("verify", "--data", data)
