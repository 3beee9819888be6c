"""Nodes on separate hosts: each in its own Linux network namespace, with its own address, partitioned and healed.

A network namespace is a private copy of the network stack: its own interfaces, addresses and routes. The test
builds a small LAN on this machine — a bridge in the root namespace with the address 10.77.N.1, and one
namespace per node joined to it by a veth pair (a virtual cable) with its own address 10.77.N.x — so every node
listens on, dials and is named in its TLS certificate by a real address rather than 127.0.0.1:

    root namespace   etcd member (10.77.N.1), the clients (SDK) of Org1 and Org2
    ns "orderer"     orderer0    (10.77.N.11), listening on its address
    ns "org1"        Org1.peer0  (10.77.N.12), listening on 0.0.0.0 and advertising its address
    ns "org2"        Org2.peer0  (10.77.N.13), ditto

TLS certificates for those addresses come from ``consortia identity tls-issue``. Taking Org2's interface down
inside its namespace cuts that host off the network (its process keeps running, as on a machine whose cable was
pulled): Org1 keeps committing; brought back up, Org2's peer pulls the blocks it missed and ends with the same
headers and state as the others.

Creating namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN). Elsewhere the test skips saying why — except
with ``CI=true`` as root, where namespaces must work and it fails instead.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from consortia.channel.update import config_envelope
from consortia.cli.channel_cmd import config_in_force
from consortia.cli.main import app
from consortia.client import Gateway
from consortia.cluster.control import Cluster
from consortia.cluster.layout import ClusterLayout, EtcdMember, NodeEntry, etcd_tls_dir, node_tls_dir, save_layout
from consortia.cluster.processes import etcd_binary, log_path, node_command, save_pids, spawn, stop_process
from consortia.identity import SigningIdentity
from consortia.identity.tls import TlsCertificateAuthority, TlsIdentity
from consortia.ledger.config import ConfigTransaction
from consortia.ledger.encoding import decode_canonical
from consortia.network.bootstrap import tls_ca_dir
from consortia.node.config import NodeRef, TlsSettings, load_config, parse_config, write_config
from consortia.node.remote import ClusterConnection
from consortia.node.transport import NodeTls

SRC = Path(__file__).resolve().parents[1] / "src"
IN_CI = os.environ.get("CI") == "true"
CHANNEL = "ch1"
ANY_ORG = "OR('Org1.peer', 'Org2.peer')"  # one organisation's peer endorses: Org1 works while Org2 is cut off


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip`` (iproute2); raise with its message when ``check`` and it fails."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed (exit {done.returncode}): {done.stderr.strip()}")
    return done


def _why_not() -> str | None:
    """Why network namespaces cannot be made here (None: they can)."""
    if sys.platform != "linux":
        return f"network namespaces are Linux only (this is {sys.platform})"
    if os.geteuid() != 0:
        return "creating network namespaces needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN); run as root to test"
    if shutil.which("ip") is None:
        return "iproute2 ('ip') is not installed"
    if etcd_binary() is None:
        return "etcd is not installed (apt-get install etcd-server)"
    probe = f"cnsprobe{secrets.token_hex(3)}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"'ip netns add' is refused here: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


@pytest.fixture(scope="module")
def allowed() -> None:
    """Skip (fail under CI as root) where namespaces cannot be created."""
    reason = _why_not()
    if reason is None:
        return
    if IN_CI and os.geteuid() == 0:
        pytest.fail(f"CI=true as root, yet: {reason}")
    pytest.skip(reason)


def _free_subnet() -> ipaddress.IPv4Network:
    """A 10.77.N.0/24 no interface or route of this machine uses."""
    used = _ip("-4", "addr").stdout + _ip("-4", "route").stdout
    candidates = [ipaddress.IPv4Network(f"10.77.{n}.0/24") for n in range(1, 255)]
    random.shuffle(candidates)
    for subnet in candidates:
        if f"10.77.{subnet.network_address.packed[2]}." not in used:
            return subnet
    raise RuntimeError("every 10.77.N.0/24 is in use on this machine")


@dataclass
class Lan:
    """A bridge in the root namespace and namespaces joined to it, each with one address; removed by close()."""

    subnet: ipaddress.IPv4Network
    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    namespaces: dict[str, str] = field(default_factory=dict)
    """Host label → namespace name."""
    addresses: dict[str, str] = field(default_factory=dict)
    """Host label → its address (the root namespace's is the bridge's)."""
    links: list[str] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        """The bridge's name (interface names are at most 15 characters)."""
        return f"cbr{self.suffix}"

    def host(self, index: int) -> str:
        """The index-th address of the subnet."""
        return str(self.subnet.network_address + index)

    def open(self, labels: list[str]) -> None:
        """Make the bridge (address .1) and one namespace per label (addresses .11, .12, …)."""
        self.links.append(self.bridge)
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.host(1)}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        self.addresses["root"] = self.host(1)
        for number, label in enumerate(labels):
            namespace = f"cns{label}{self.suffix}"
            outside, inside = f"cv{number}{self.suffix}", f"ci{number}{self.suffix}"
            _ip("netns", "add", namespace)
            self.namespaces[label] = namespace
            self.links.append(outside)
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside, "netns", namespace)
            _ip("link", "set", outside, "master", self.bridge)
            _ip("link", "set", outside, "up")
            address = self.host(11 + number)
            _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
            _ip("-n", namespace, "link", "set", inside, "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
            self.addresses[label] = address

    def interface(self, label: str) -> str:
        """The interface inside the namespace of ``label``."""
        return f"ci{list(self.namespaces).index(label)}{self.suffix}"

    def set_link(self, label: str, state: str) -> None:
        """Take a host's interface ``down`` or bring it ``up`` (inside its namespace)."""
        _ip("-n", self.namespaces[label], "link", "set", self.interface(label), state)

    def close(self) -> None:
        """Delete every namespace and link made (a veth goes with its namespace); errors are ignored."""
        for namespace in self.namespaces.values():
            _ip("netns", "del", namespace, check=False)
        for link in reversed(self.links):
            if _ip("link", "show", link, check=False).returncode == 0:
                _ip("link", "del", link, check=False)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return env


def _issue(data: Path, org: str, name: str, hosts: list[str], out: Path) -> TlsSettings:
    """A node's TLS certificate for its addresses, issued by ``consortia identity tls-issue``."""
    args = ["identity", "tls-issue", "--data", str(data), "--org", org, "--name", name, "--out", str(out), "--force"]
    for host in hosts:
        args += ["--host", host]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    issued = json.loads(result.output)
    assert issued["hosts"] == hosts, issued
    return TlsSettings(issued["cert"], issued["key"])


def _readdress(layout: ClusterLayout, lan: Lan) -> ClusterLayout:
    """Move a 127.0.0.1 cluster onto the LAN: endpoints, node.toml files and TLS certificates name its addresses."""
    data = Path(layout.data)
    etcd = layout.etcd[0]
    client_port, peer_port = etcd.client_url.rsplit(":", 1)[1], etcd.peer_url.rsplit(":", 1)[1]
    member = EtcdMember(
        etcd.name,
        f"https://{lan.addresses['root']}:{client_port}",
        f"https://{lan.addresses['root']}:{peer_port}",
        etcd.data,
    )
    TlsCertificateAuthority.load(tls_ca_dir(data, layout.orderer_org)).issue_to(
        etcd_tls_dir(layout, member), member.name, [lan.addresses["root"]]
    )
    label = {"orderer0": "orderer", "Org1.peer0": "org1", "Org2.peer0": "org2"}
    nodes = [
        msgspec.structs.replace(
            node, endpoint=f"https://{lan.addresses[label[node.name]]}:{node.endpoint.rsplit(':', 1)[1]}", gateway=""
        )
        for node in layout.nodes
    ]
    moved = msgspec.structs.replace(layout, etcd=[member], nodes=nodes)
    orderers = [NodeRef(n.name, n.endpoint) for n in moved.orderers]
    for node in nodes:
        config = parse_config(Path(node.config).read_bytes(), Path(node.config))
        address, port = lan.addresses[label[node.name]], node.endpoint.rsplit(":", 1)[1]
        tls = _issue(data, node.org, node.name, [address], node_tls_dir(data, node))
        if node.role == "orderer":
            config = msgspec.structs.replace(
                config,
                listen=f"{address}:{port}",
                orderers=orderers,
                etcd=msgspec.structs.replace(config.etcd, endpoints=[member.client_url]),
                tls=tls,
            )
        else:  # a peer listens on every interface of its host and tells the others its address
            config = msgspec.structs.replace(
                config,
                listen=f"0.0.0.0:{port}",
                advertise=node.endpoint,
                orderers=orderers,
                peers=[NodeRef(p.name, p.endpoint, p.org) for p in moved.peers if p.name != node.name],
                tls=tls,
                gateway=None,
            )
        write_config(Path(node.config), config)
        assert load_config(Path(node.config)).endpoint == node.endpoint  # what the node itself will announce
    save_layout(moved)
    return moved


@dataclass
class Hosts:
    """The cluster on the LAN, and the node processes started in their namespaces."""

    cluster: Cluster
    lan: Lan
    pids: dict[str, int] = field(default_factory=dict)

    def start(self, node: NodeEntry, label: str) -> None:
        """Start a node inside its namespace (``ip netns exec`` replaces itself with the node: same pid)."""
        command = ["ip", "netns", "exec", self.lan.namespaces[label], *node_command(node)]
        self.pids[node.name] = spawn(command, log_path(self.cluster.layout, node.name), env=_env())
        save_pids(self.cluster.layout, {**self.cluster.pids(), node.name: self.pids[node.name]})

    def log(self, name: str) -> str:
        """The tail of a process's log (for failure messages)."""
        path = log_path(self.cluster.layout, name)
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"


@pytest.fixture
def hosts(allowed: None, tmp_path: Path) -> Iterator[Hosts]:
    """Etcd in the root namespace, orderer0, Org1.peer0 and Org2.peer0 each in a namespace of their own."""
    lan = Lan(_free_subnet())
    running: Hosts | None = None
    try:
        lan.open(["orderer", "org1", "org2"])
        layout = Cluster.create(tmp_path / "c", orgs=2, orderers=1, etcd_members=1, tls=True).layout
        cluster = Cluster(_readdress(layout, lan))
        running = Hosts(cluster, lan)
        cluster.start_process("etcd0")
        cluster.wait_etcd(30)
        for node, label in (("orderer0", "orderer"), ("Org1.peer0", "org1"), ("Org2.peer0", "org2")):
            running.start(cluster.layout.node(node), label)
        for node in ("orderer0", "Org1.peer0", "Org2.peer0"):
            try:
                cluster.wait_node(node, 45)
            except Exception as exc:
                raise AssertionError(f"{node} did not come up: {exc}\n{running.log(node)}") from None
        cluster.wait_leader(30)
        yield running
    finally:
        if running is not None:
            for pid in running.pids.values():  # our own children: not reaped until stopped, so never another's pid
                stop_process(pid, None, timeout=5)
            etcd = running.cluster.pids().get("etcd0")
            if etcd is not None:
                stop_process(etcd, running.cluster.layout.etcd[0].data, timeout=5)
        lan.close()


def _create(cluster: Cluster, org: str, count: int, tag: str) -> list[int]:
    """Create ``count`` assets through ``org``'s own peer; return the blocks they committed in."""
    connection = cluster.connection(org, resend_for=20)
    try:
        contract = Gateway(connection.identity, connection).network(CHANNEL).contract("asset-transfer")
        return [
            contract.submit("create", f"{tag}-{org}-{i}-{time.time_ns()}", "teal", 1, i, endorsing_orgs=[org]).block
            for i in range(count)
        ]
    finally:
        connection.close()


def test_nodes_on_separate_addresses_survive_a_partition(hosts: Hosts) -> None:
    """Each node on its own address; Org2 cut off keeps nothing from Org1 committing; reconnected, it catches up."""
    cluster, lan = hosts.cluster, hosts.lan
    status = cluster.node_status("Org2.peer0")
    assert status is not None and lan.addresses["org2"] in cluster.layout.node("Org2.peer0").endpoint
    cluster.deploy(policy=ANY_ORG)
    _create(cluster, "Org1", 3, "before")
    _create(cluster, "Org2", 3, "before")
    together = cluster.compare(wait=20)
    assert together["ok"], json.dumps(together, indent=1)

    lan.set_link("org2", "down")
    assert cluster.node_status("Org2.peer0", timeout=1.0) is None, "Org2's peer still answers with its link down"
    before = cluster.height("Org1.peer0", CHANNEL)
    blocks = _create(cluster, "Org1", 5, "partitioned")
    assert min(blocks) >= before and cluster.height("Org1.peer0", CHANNEL) > before, "Org1 stopped committing"
    assert cluster.height("orderer0", CHANNEL) == cluster.height("Org1.peer0", CHANNEL)

    lan.set_link("org2", "up")
    target = cluster.height("Org1.peer0", CHANNEL)
    try:
        cluster.wait_heights(CHANNEL, target, 45, ["Org2.peer0"])
    except Exception as exc:
        raise AssertionError(f"Org2's peer did not catch up: {exc}\n{hosts.log('Org2.peer0')}") from None
    healed = cluster.compare(wait=20)
    assert healed["ok"], json.dumps(healed, indent=1)
    state = healed["channels"][CHANNEL]["state"]
    assert state["Org1.peer0"]["state_hash"] == state["Org2.peer0"]["state_hash"]
    assert state["Org2.peer0"]["height"] == target


def _run(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_configuration_update_submitted_as_the_runbook_shows(hosts: Hosts, tmp_path: Path) -> None:
    """The README's cross-machine submit (an admin's client TLS certificate, the orderers' addresses) is ordered."""
    cluster, data = hosts.cluster, hosts.cluster.data
    update = tmp_path / "batch.update"
    _run("channel", "update", CHANNEL, "--set-batch", "timeout_ms=60", "--out", str(update), "--data", str(data))
    for org in ("Org1", "Org2"):
        _run("channel", "sign", str(update), "--org", org, "--data", str(data))
    admin_tls = data / "crypto" / "Org1" / "users" / "admin" / "tls"
    _run("identity", "tls-issue", "--data", str(data), "--org", "Org1", "--name", "admin", "--client", "--force",
         "--out", str(admin_tls))  # fmt: skip
    before = config_in_force(data, CHANNEL).version

    # As in the runbook: nothing but the admin's keys, the ordering organisation's TLS CA and the orderers' URLs.
    admin = SigningIdentity.load(data / "crypto" / "Org1" / "users" / "admin")
    tls = NodeTls(TlsIdentity.load(admin_tls), [(tls_ca_dir(data, "OrdererOrg") / "ca.pem").read_bytes()])
    orderers = [node.endpoint for node in cluster.layout.orderers]
    assert all(hosts.lan.addresses["orderer"] in url for url in orderers)
    connection = ClusterConnection(admin, {}, orderers, {CHANNEL: ["Org1", "Org2"]}, tls=tls)
    try:
        connection.broadcast(CHANNEL, config_envelope(decode_canonical(update.read_bytes(), ConfigTransaction)))
    finally:
        connection.close()
    record = config_in_force(data, CHANNEL)
    deadline = time.monotonic() + 20
    while record.version == before and time.monotonic() < deadline:
        time.sleep(0.1)
        record = config_in_force(data, CHANNEL)
    assert record.version == before + 1, f"version {record.version} in force, expected {before + 1}"
    cluster.wait_heights(CHANNEL, record.block + 1, 30, ["Org1.peer0", "Org2.peer0"])
    assert cluster.compare(wait=20)["ok"]
