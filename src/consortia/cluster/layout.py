"""A local cluster's layout: which etcd members and nodes it has, their ports, folders and configuration files.

``consortia cluster up`` bootstraps the network (CAs, identities, genesis blocks that name ``etcd`` ordering),
issues one identity per orderer and peer, picks free ports on 127.0.0.1, writes one TOML file per node, and
records everything in ``cluster.json``::

    DIR/cluster.json                   this layout
    DIR/network.json, crypto/, genesis/ the bootstrapped network (as for the embedded network)
    DIR/etcd/<member>/                 an etcd member's data
    DIR/nodes/<name>/node.toml         a node's configuration
    DIR/nodes/<name>/                  a node's data: orderer/<ch>/ or peers/<name>/<ch>/ (``consortia verify``)
    DIR/wallet/                        people's identities (each organisation's gateway logs in its own people only)
    DIR/logs/<name>.log                what each process wrote
    DIR/run/pids.json                  the processes started, while they run

With TLS (the default), every organisation's TLS CA (``crypto/<org>/tlsca``, made by the bootstrap) issues a TLS
certificate to each of its nodes (``crypto/<org>/peers/<peer>/tls``, ``…/orderers/<orderer>/tls``) naming the
addresses it is reached at; the ordering organisation's TLS CA also certifies the etcd members
(``crypto/<orderer org>/etcd/<member>``) and the operator's client certificate the cluster tools use
(``crypto/<orderer org>/users/operator/tls``). Endpoints are then ``https://``.
"""

from __future__ import annotations

import json
import secrets
import socket
from pathlib import Path
from typing import Any

import msgspec

from consortia.identity import CertificateAuthority, Kind
from consortia.identity.tls import TlsCertificateAuthority, TlsError, TlsIdentity
from consortia.ledger.config import BatchConfig
from consortia.network.bootstrap import create_network, crypto_dir, genesis_path, tls_ca_dir, wallet_dir
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec, UserSpec
from consortia.node.config import (
    EtcdSettings,
    GatewaySettings,
    NodeConfig,
    NodeRef,
    TlsSettings,
    parse_config,
    write_config,
)

LAYOUT_FILE = "cluster.json"
ASSET_TRANSFER = "consortia.samples.asset_transfer:AssetTransfer"


class EtcdMember(msgspec.Struct, frozen=True):
    """One etcd member: its name, client and peer URLs, and data folder."""

    name: str
    client_url: str
    peer_url: str
    data: str


class NodeEntry(msgspec.Struct, frozen=True):
    """One node: name, role, organisation, endpoint, configuration file and data folder."""

    name: str
    role: str
    org: str
    endpoint: str
    config: str
    data: str
    gateway: str = ""
    """A peer's gateway (REST API, explorer, login) served by the node next to it: ``http://host:port``."""


class ClusterLayout(msgspec.Struct, frozen=True):
    """Everything ``cluster up`` created."""

    data: str
    prefix: str
    channels: dict[str, list[str]]
    etcd: list[EtcdMember]
    nodes: list[NodeEntry]
    contract: str = ""
    policy: str = ""
    tls: bool = False
    """Whether nodes and etcd members talk mutual TLS (``https://`` endpoints)."""
    orderer_org: str = "OrdererOrg"

    @property
    def orderers(self) -> list[NodeEntry]:
        """The orderer nodes."""
        return [n for n in self.nodes if n.role == "orderer"]

    @property
    def peers(self) -> list[NodeEntry]:
        """The peer nodes."""
        return [n for n in self.nodes if n.role == "peer"]

    def node(self, name: str) -> NodeEntry:
        """The node called ``name``."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def member(self, name: str) -> EtcdMember:
        """The etcd member called ``name``."""
        for member in self.etcd:
            if member.name == name:
                return member
        raise KeyError(name)

    def peer_of(self, org: str) -> NodeEntry:
        """The first peer of ``org``."""
        for node in self.peers:
            if node.org == org:
                return node
        raise KeyError(org)

    @property
    def orgs(self) -> list[str]:
        """Member organisations, in order."""
        seen: list[str] = []
        for node in self.peers:
            if node.org not in seen:
                seen.append(node.org)
        return seen


def save_layout(layout: ClusterLayout) -> None:
    """Write ``cluster.json``."""
    path = Path(layout.data) / LAYOUT_FILE
    tmp = path.with_suffix(".tmp")
    data: Any = msgspec.to_builtins(layout)
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def load_layout(directory: Path) -> ClusterLayout:
    """Read ``cluster.json`` (FileNotFoundError if the folder holds no cluster)."""
    return msgspec.json.decode((Path(directory) / LAYOUT_FILE).read_bytes(), type=ClusterLayout)


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports nothing listens on right now."""
    sockets, ports = [], []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
            ports.append(sock.getsockname()[1])
    finally:
        for sock in sockets:
            sock.close()
    return ports


def tls_hosts(host: str = "127.0.0.1") -> list[str]:
    """The names a local node's TLS certificate is issued for: its address, loopback, this machine's names."""
    return [host, "127.0.0.1", "localhost", socket.gethostname(), socket.getfqdn()]


def node_tls_dir(directory: Path, node: NodeEntry) -> Path:
    """Where a node's TLS certificate and key live (next to its signing identity)."""
    kind = "orderers" if node.role == "orderer" else "peers"
    return crypto_dir(directory, node.org) / kind / node.name.split(".", 1)[-1] / "tls"


def etcd_tls_dir(layout: ClusterLayout, member: EtcdMember) -> Path:
    """Where an etcd member's TLS certificate and key live (issued by the ordering organisation's TLS CA)."""
    return crypto_dir(Path(layout.data), layout.orderer_org) / "etcd" / member.name


def operator_tls_dir(layout: ClusterLayout) -> Path:
    """The TLS client certificate the cluster tools (status, health, comparisons) connect with."""
    return crypto_dir(Path(layout.data), layout.orderer_org) / "users" / "operator" / "tls"


def user_tls(layout: ClusterLayout, org: str, user: str) -> TlsIdentity:
    """A user's TLS client certificate, issued by the organisation's TLS CA the first time it is asked for."""
    directory = crypto_dir(Path(layout.data), org) / "users" / user / "tls"
    try:
        return TlsIdentity.load(directory)
    except TlsError:
        return _tls_ca(Path(layout.data), org).issue_to(directory, f"{user}@{org}")


def issue_node_tls(layout: ClusterLayout, org: str, name: str, directory: Path) -> TlsSettings | None:
    """A TLS certificate from ``org``'s TLS CA for a node on this machine, as ``[tls]`` settings (None: no TLS)."""
    if not layout.tls:
        return None
    identity = _tls_ca(Path(layout.data), org).issue_to(directory, name, tls_hosts())
    return TlsSettings(str(identity.certificate), str(identity.private_key))


def _tls_ca(directory: Path, org: str) -> TlsCertificateAuthority:
    return TlsCertificateAuthority.load(tls_ca_dir(directory, org))


def _scheme(tls: bool) -> str:
    return "https" if tls else "http"


def _tls_settings(directory: Path, node: NodeEntry) -> TlsSettings:
    """Issue a node's TLS certificate for the addresses in its endpoint, and name the files."""
    host = node.endpoint.split("://", 1)[1].rsplit(":", 1)[0]
    identity = _tls_ca(directory, node.org).issue_to(node_tls_dir(directory, node), node.name, tls_hosts(host))
    return TlsSettings(str(identity.certificate), str(identity.private_key))


def create_cluster(
    directory: Path,
    *,
    orgs: int = 3,
    orderers: int = 3,
    etcd_members: int = 3,
    channel: str = "ch1",
    batch: BatchConfig | None = None,
    contract: str = ASSET_TRANSFER,
    policy: str | None = None,
    base_port: int | None = None,
    sync: bool = True,
    log_level: str = "INFO",
    lease_ttl: int = 3,
    retain_blocks: int = 64,
    tls: bool = True,
) -> ClusterLayout:
    """Bootstrap a network for a local cluster and write every node's configuration; return the layout.

    With ``tls`` every node, etcd member and client talks mutual TLS 1.3 (certificates from each organisation's
    TLS CA); without it, plain HTTP.
    """
    if orgs < 1 or orderers < 1 or etcd_members < 1:
        raise ValueError("a cluster needs at least one organisation, one orderer and one etcd member")
    directory = Path(directory).resolve()
    org_names = [f"Org{i + 1}" for i in range(orgs)]
    users = (UserSpec("admin", "admin"), UserSpec("client", "client"))
    spec = NetworkSpec(
        orgs=tuple(OrgSpec(name, users=users) for name in org_names),
        channels=(ChannelSpec(channel, tuple(org_names), batch or BatchConfig(max_transactions=500, timeout_ms=50)),),
        ordering="etcd",
    )
    create_network(directory, spec)
    orderer_ca = CertificateAuthority.load(crypto_dir(directory, spec.orderer_org) / "ca")
    for index in range(1, orderers):
        orderer_ca.issue(f"orderer{index}", Kind.ORDERER).save(
            crypto_dir(directory, spec.orderer_org) / "orderers" / f"orderer{index}"
        )
    needed = 2 * etcd_members + orderers + 2 * orgs  # a peer's port, then its gateway's
    ports = list(range(base_port, base_port + needed)) if base_port else free_ports(needed)
    members = []
    for index in range(etcd_members):
        client, peer = ports.pop(0), ports.pop(0)
        members.append(
            EtcdMember(
                f"etcd{index}",
                f"{_scheme(tls)}://127.0.0.1:{client}",
                f"{_scheme(tls)}://127.0.0.1:{peer}",
                str(directory / "etcd" / f"etcd{index}"),
            )
        )
    nodes: list[NodeEntry] = []
    for index in range(orderers):
        name = f"orderer{index}"
        nodes.append(
            NodeEntry(
                name,
                "orderer",
                spec.orderer_org,
                f"{_scheme(tls)}://127.0.0.1:{ports.pop(0)}",
                str(directory / "nodes" / name / "node.toml"),
                str(directory / "nodes" / name),
            )
        )
    for org in org_names:
        name = f"{org}.peer0"
        nodes.append(
            NodeEntry(
                name,
                "peer",
                org,
                f"{_scheme(tls)}://127.0.0.1:{ports.pop(0)}",
                str(directory / "nodes" / name / "node.toml"),
                str(directory / "nodes" / name),
                gateway=f"http://127.0.0.1:{ports.pop(0)}",
            )
        )
    layout = ClusterLayout(
        data=str(directory),
        prefix=f"/consortia/{secrets.token_hex(4)}",
        channels={channel: org_names},
        etcd=members,
        nodes=nodes,
        contract=contract,
        policy=policy or _majority_policy(org_names),
        tls=tls,
        orderer_org=spec.orderer_org,
    )
    if tls:
        orderer_tls = _tls_ca(directory, spec.orderer_org)
        for member in members:
            orderer_tls.issue_to(etcd_tls_dir(layout, member), member.name, tls_hosts())
        orderer_tls.issue_to(operator_tls_dir(layout), "operator")
    genesis = {channel: str(genesis_path(directory, channel))}
    orderer_refs = [NodeRef(n.name, n.endpoint) for n in layout.orderers]
    for node in nodes:
        if node.role == "orderer":
            identity = crypto_dir(directory, spec.orderer_org) / "orderers" / node.name
            config = NodeConfig(
                name=node.name,
                role="orderer",
                listen=node.endpoint.split("://", 1)[1],
                data=node.data,
                identity=str(identity),
                channels=genesis,
                orderers=orderer_refs,
                etcd=EtcdSettings([m.client_url for m in members], layout.prefix, lease_ttl, retain_blocks),
                sync=sync,
                log_level=log_level,
                tls=_tls_settings(directory, node) if tls else None,
            )
        else:
            config = NodeConfig(
                name=node.name,
                role="peer",
                listen=node.endpoint.split("://", 1)[1],
                data=node.data,
                identity=str(crypto_dir(directory, node.org) / "peers" / "peer0"),
                channels=genesis,
                contracts=[contract] if contract else [],
                orderers=orderer_refs,
                peers=[NodeRef(p.name, p.endpoint, p.org) for p in layout.peers if p.name != node.name],
                sync=sync,
                log_level=log_level,
                tls=_tls_settings(directory, node) if tls else None,
                gateway=GatewaySettings(node.gateway.split("://", 1)[1], wallet=str(wallet_dir(directory))),
            )
        Path(node.config).parent.mkdir(parents=True, exist_ok=True)
        write_config(Path(node.config), config)
    (directory / "logs").mkdir(exist_ok=True)
    save_layout(layout)
    return layout


def add_peer(layout: ClusterLayout, org: str, channel: str, *, peer: str = "peer0") -> tuple[ClusterLayout, NodeEntry]:
    """Write the configuration of a new peer of ``org`` (a new member, or another peer of one) and record it.

    The peer's identity is issued by the organisation's CA in the cluster folder (``consortia org create`` made
    it) unless it exists; the peer names the channel's genesis block, like every peer, and validates from there
    (or starts from a snapshot: ``consortia node --join-snapshot``). Adding the organisation to the channel is a
    configuration update, made separately.
    """
    directory = Path(layout.data)
    name = f"{org}.{peer}"
    if any(node.name == name for node in layout.nodes):
        raise ValueError(f"the cluster already has a node {name}")
    identity_dir = crypto_dir(directory, org) / "peers" / peer
    if not (identity_dir / "cert.pem").is_file():
        CertificateAuthority.load(crypto_dir(directory, org) / "ca").issue(peer, Kind.PEER).save(identity_dir)
    entry = NodeEntry(
        name,
        "peer",
        org,
        f"{_scheme(layout.tls)}://127.0.0.1:{free_ports(1)[0]}",
        str(directory / "nodes" / name / "node.toml"),
        str(directory / "nodes" / name),
    )
    some_peer = layout.peers[0]
    existing = parse_config(Path(some_peer.config).read_bytes(), Path(some_peer.config))
    config = NodeConfig(
        name=name,
        role="peer",
        listen=entry.endpoint.split("://", 1)[1],
        data=entry.data,
        identity=str(identity_dir),
        channels={channel: str(genesis_path(directory, channel))},
        contracts=list(existing.contracts),
        orderers=[NodeRef(n.name, n.endpoint) for n in layout.orderers],
        peers=[NodeRef(p.name, p.endpoint, p.org) for p in layout.peers],
        sync=existing.sync,
        log_level=existing.log_level,
        tls=_tls_settings(directory, entry) if layout.tls else None,
    )
    Path(entry.config).parent.mkdir(parents=True, exist_ok=True)
    write_config(Path(entry.config), config)
    members = list(layout.channels.get(channel, []))
    if org not in members:
        members.append(org)
    updated = msgspec.structs.replace(
        layout, nodes=[*layout.nodes, entry], channels={**layout.channels, channel: members}
    )
    save_layout(updated)
    return updated, entry


def set_channel_members(layout: ClusterLayout, channel: str, orgs: list[str]) -> ClusterLayout:
    """Record the channel's member organisations after a configuration update (deploys approve with these)."""
    updated = msgspec.structs.replace(layout, channels={**layout.channels, channel: list(orgs)})
    save_layout(updated)
    return updated


def _majority_policy(orgs: list[str]) -> str:
    if len(orgs) == 1:
        return f"OR('{orgs[0]}.peer')"
    needed = len(orgs) // 2 + 1
    return f"OutOf({needed}, {', '.join(repr(f'{org}.peer') for org in orgs)})"
