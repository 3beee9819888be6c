"""Controlling a local cluster: start and stop its processes, ask each node how it is, compare their ledgers.

:class:`Cluster` is what ``consortia cluster up/down/status/compare``, ``consortia bench --cluster`` and the
cluster tests use. Comparing is the question a consortium cares about — *do we all hold the same ledger?* —
asked per channel at a height every node has reached: the header hash of that block (which, through the
previous-hash chain, fixes every block before it) on every peer and orderer, and the hash of the whole state on
every peer at the same height.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from consortia.client.sdk import Gateway
from consortia.cluster.layout import (
    ClusterLayout,
    NodeEntry,
    add_peer,
    create_cluster,
    load_layout,
    operator_tls_dir,
    set_channel_members,
    user_tls,
)
from consortia.cluster.processes import (
    etcd_command,
    find_processes,
    load_pids,
    log_path,
    marker,
    node_command,
    running,
    save_pids,
    signal_process,
    spawn,
    stop_many,
    stop_process,
    wait_exit,
)
from consortia.contracts.collections_config import CollectionConfig
from consortia.contracts.lifecycle import LIFECYCLE
from consortia.contracts.registry import load_contract
from consortia.identity import SigningIdentity
from consortia.identity.tls import TlsIdentity
from consortia.ledger.block import Block, header_hash
from consortia.ledger.encoding import decode
from consortia.network.bootstrap import user_dir
from consortia.node.messages import BlocksReply
from consortia.node.remote import ClusterConnection
from consortia.node.transport import NodeClient, NodeError, NodeTls

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


class ClusterError(Exception):
    """The cluster could not be started, reached or compared; the message says why."""


class Cluster:
    """A local cluster: its layout, and the processes running it."""

    def __init__(self, layout: ClusterLayout) -> None:
        self.layout = layout
        self.data = Path(layout.data)
        self._identities: dict[tuple[str, str], SigningIdentity] = {}
        self._tls: NodeTls | None = None

    # -- TLS -------------------------------------------------------------------------------------------------

    def tls_cas(self) -> list[bytes]:
        """Every TLS CA certificate in the cluster folder (the operator trusts all of its own cluster's)."""
        return [path.read_bytes() for path in sorted(self.data.glob("crypto/*/tlsca/ca.pem"))]

    @property
    def tls(self) -> NodeTls | None:
        """The operator's TLS settings (status, health, comparisons); None if the cluster speaks plain HTTP."""
        if not self.layout.tls:
            return None
        if self._tls is None:
            self._tls = NodeTls(TlsIdentity.load(operator_tls_dir(self.layout)), self.tls_cas())
        return self._tls

    def user_tls(self, org: str, user: str = "client") -> NodeTls | None:
        """TLS settings presenting ``user`` of ``org``'s own TLS client certificate (None without TLS)."""
        if not self.layout.tls:
            return None
        return NodeTls(user_tls(self.layout, org, user), self.tls_cas())

    def client(self, name: str, identity: SigningIdentity | None, *, timeout: float = 10.0) -> NodeClient:
        """A client of node ``name`` signing as ``identity``, over the operator's TLS when the cluster uses it."""
        return NodeClient(self.layout.node(name).endpoint, identity, timeout=timeout, tls=self.tls)

    @classmethod
    def open(cls, directory: Path) -> Cluster:
        """The cluster in ``directory`` (ClusterError if there is none)."""
        try:
            return cls(load_layout(directory))
        except FileNotFoundError:
            raise ClusterError(f"{directory} holds no cluster (no cluster.json); run 'consortia cluster up'") from None
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ClusterError(f"{directory}/cluster.json: {exc}") from None

    @classmethod
    def create(cls, directory: Path, **options: Any) -> Cluster:
        """Bootstrap a new cluster in ``directory`` (see :func:`~consortia.cluster.layout.create_cluster`)."""
        return cls(create_cluster(directory, **options))

    # -- processes -------------------------------------------------------------------------------------------

    def pids(self) -> dict[str, int]:
        """Pids of the processes started, by name."""
        return load_pids(self.layout)

    def adopt(self) -> dict[str, int]:
        """Record the cluster's running processes, found by their command lines; return every known pid."""
        pids = {name: pid for name, pid in self.pids().items() if running(pid, marker(self.layout, name))}
        pids.update(find_processes(self.layout))
        save_pids(self.layout, pids)
        return pids

    def is_running(self, name: str) -> bool:
        """Whether the process called ``name`` runs."""
        pid = self.pids().get(name)
        return pid is not None and running(pid, marker(self.layout, name))

    def _record(self, name: str, pid: int) -> None:
        pids = self.pids()
        pids[name] = pid
        save_pids(self.layout, pids)

    def start_process(self, name: str, extra: Sequence[str] = ()) -> int:
        """Start an etcd member or node by name (no-op if it runs); return its pid. ``extra``: more arguments."""
        pids = self.pids()
        if name in pids and running(pids[name], marker(self.layout, name)):
            return pids[name]
        try:
            command = [*node_command(self.layout.node(name)), *extra]
        except KeyError:
            command = etcd_command(self.layout, self.layout.member(name))
        pid = spawn(command, log_path(self.layout, name))
        self._record(name, pid)
        return pid

    def kill(self, name: str, signum: int = signal.SIGKILL) -> None:
        """Send ``signum`` (default SIGKILL) to a process and wait for it to be gone."""
        pid = self.pids().get(name)
        if pid is None or not running(pid, marker(self.layout, name)):
            return
        signal_process(pid, signum)
        wait_exit(pid, 15)

    def stop_process(self, name: str) -> None:
        """Stop a process cleanly (SIGTERM, then SIGKILL)."""
        pid = self.pids().get(name)
        if pid is not None:
            stop_process(pid, marker(self.layout, name))

    def up(self, progress: Progress | None = None, timeout: float = 60.0) -> None:
        """Start every etcd member and node that is not running; wait until all serve and an orderer leads."""
        say = progress or (lambda _: None)
        self.adopt()
        for member in self.layout.etcd:
            say(f"starting etcd member {member.name}")
            self.start_process(member.name)
        self.wait_etcd(timeout)
        for node in self.layout.nodes:
            say(f"starting {node.role} {node.name}")
            self.start_process(node.name)
        for node in self.layout.nodes:
            say(f"waiting for {node.name}")
            self.wait_node(node.name, timeout)
        say("waiting for an orderer to lead")
        self.wait_leader(timeout)

    def down(self, progress: Progress | None = None) -> None:
        """Stop every node (all at once, cleanly), then every etcd member."""
        say = progress or (lambda _: None)
        pids = self.adopt()
        say("stopping the nodes")
        stop_many([(pids[n.name], n.config) for n in self.layout.nodes if n.name in pids])
        say("stopping the etcd members")
        # The Raft leader first: it hands leadership to a follower at once (stopped after its followers, it would
        # try for seconds to hand it to members that are gone). A member's graceful stop may also wait for the
        # watch streams of the orderers just stopped; etcd is crash-safe (its log is synced), so the grace is short.
        members = [(pids[m.name], m.data, self._leads_etcd(m.name)) for m in self.layout.etcd if m.name in pids]
        stop_many([(pid, mark) for pid, mark, leads in members if leads], timeout=2.0)
        stop_many([(pid, mark) for pid, mark, leads in members if not leads], timeout=2.0)
        save_pids(self.layout, {})

    def _leads_etcd(self, name: str) -> bool:
        status = self.member_status(name, timeout=0.5)
        return bool(status) and status.get("leader") == status.get("header", {}).get("member_id")

    # -- waiting ---------------------------------------------------------------------------------------------

    def member_health(self, name: str, timeout: float = 1.0) -> bool:
        """Whether an etcd member answers its health check as healthy."""
        client = NodeClient(self.layout.member(name).client_url, None, timeout=timeout, tls=self.tls)
        try:
            return client.get_json("/health").get("health") == "true"
        except (NodeError, ValueError, AttributeError):
            return False
        finally:
            client.close()  # an idle kept-alive connection would hold up the member's graceful stop

    def member_status(self, name: str, timeout: float = 1.0) -> dict[str, Any] | None:
        """An etcd member's maintenance status (raft index, leader), or None if it does not answer."""
        member = self.layout.member(name)
        client = NodeClient(member.client_url, None, timeout=timeout, tls=self.tls)
        try:
            status, body = client.request("POST", "/v3/maintenance/status", b"{}")
        except NodeError:
            return None
        finally:
            client.close()
        return msgspec.json.decode(body) if status == 200 else None

    def wait_etcd(self, timeout: float) -> None:
        """Wait until every etcd member reports healthy."""
        deadline = time.monotonic() + timeout
        for member in self.layout.etcd:
            while not self.member_health(member.name):
                if time.monotonic() > deadline:
                    raise ClusterError(
                        f"etcd member {member.name} not healthy; see {log_path(self.layout, member.name)}"
                    )
                if not self.is_running(member.name):
                    raise ClusterError(f"etcd member {member.name} exited; see {log_path(self.layout, member.name)}")
                time.sleep(0.1)

    def node_status(self, name: str, timeout: float = 2.0) -> dict[str, Any] | None:
        """A node's ``/status``, or None if it does not answer."""
        client = self.client(name, None, timeout=timeout)
        try:
            return client.get_json("/status")
        except (NodeError, ValueError):
            return None
        finally:
            client.close()

    def wait_node(self, name: str, timeout: float) -> dict[str, Any]:
        """Wait until a node answers ``/status``; return it."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.node_status(name, timeout=1.0)
            if status is not None:
                return status
            if not self.is_running(name):
                pid = self.pids().get(name)
                raise ClusterError(f"node {name} (pid {pid}) is not running; see {log_path(self.layout, name)}")
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"node {name} did not answer within {timeout:g} s; see {log_path(self.layout, name)}"
                )
            time.sleep(0.1)

    def leader(self) -> str | None:
        """The orderer that says it leads (None if none does)."""
        for node in self.layout.orderers:
            status = self.node_status(node.name, timeout=1.0)
            if status is not None and status.get("leader"):
                return node.name
        return None

    def wait_leader(self, timeout: float, *, other_than: str | None = None) -> str:
        """Wait until an orderer (other than ``other_than``) leads; return its name."""
        deadline = time.monotonic() + timeout
        while True:
            leader = self.leader()
            if leader is not None and leader != other_than:
                return leader
            if time.monotonic() > deadline:
                raise ClusterError(f"no orderer leads after {timeout:g} s")
            time.sleep(0.05)

    def height(self, name: str, channel: str) -> int:
        """A node's height on a channel (-1 if it does not answer)."""
        status = self.node_status(name, timeout=2.0)
        if status is None:
            return -1
        return int(status.get("channels", {}).get(channel, {}).get("height", -1))

    def wait_heights(self, channel: str, height: int, timeout: float, names: Sequence[str] | None = None) -> None:
        """Wait until the named nodes (default: every node) have ``height`` blocks of ``channel``."""
        deadline = time.monotonic() + timeout
        for name in names or [n.name for n in self.layout.nodes]:
            while self.height(name, channel) < height:
                if time.monotonic() > deadline:
                    raise ClusterError(f"{name} has {self.height(name, channel)} blocks of {channel}, not {height}")
                time.sleep(0.1)

    # -- clients ---------------------------------------------------------------------------------------------

    def identity(self, org: str, user: str = "client") -> SigningIdentity:
        """A user's identity from the cluster's crypto folder."""
        key = (org, user)
        if key not in self._identities:
            self._identities[key] = SigningIdentity.load(user_dir(self.data, org, user))
        return self._identities[key]

    def connection(self, org: str, user: str = "client", *, resend_for: float = 30.0) -> ClusterConnection:
        """An SDK connection acting as ``user`` of ``org`` (close it when done)."""
        return ClusterConnection(
            self.identity(org, user),
            {node.org: node.endpoint for node in reversed(self.layout.peers)},
            [node.endpoint for node in self.layout.orderers],
            self.layout.channels,
            resend_for=resend_for,
            tls=self.user_tls(org, user),
        )

    def add_peer(self, org: str, channel: str, *, peer: str = "peer0", snapshot: Path | None = None) -> NodeEntry:
        """Configure and start a new peer of ``org`` on ``channel`` (from block 0, or from a snapshot file)."""
        self.layout, entry = add_peer(self.layout, org, channel, peer=peer)
        if self._tls is not None:
            self._tls.trust(self.tls_cas())  # a new organisation's TLS CA
        self.start_process(entry.name, ("--join-snapshot", str(snapshot)) if snapshot is not None else ())
        return entry

    def set_members(self, channel: str, orgs: Sequence[str]) -> None:
        """Record the channel's members after a configuration update (deploys then approve with these)."""
        self.layout = set_channel_members(self.layout, channel, list(orgs))

    def deploy(
        self,
        channel: str | None = None,
        reference: str | None = None,
        policy: str | None = None,
        collections: Sequence[CollectionConfig] = (),
    ) -> int:
        """Approve (every organisation) and commit a contract definition; return the block it committed in."""
        self.layout = load_layout(self.data)  # a configuration update (another process) may have changed members
        channel = channel or next(iter(self.layout.channels))
        reference = reference or self.layout.contract
        policy = policy or self.layout.policy
        orgs = self.layout.channels[channel]
        package = load_contract(reference)
        connections = {org: self.connection(org, "admin") for org in orgs}
        try:
            first = connections[orgs[0]]
            current = first.peer_channel(orgs[0], channel).definition(package.name)
            sequence = 1 if current is None else current.sequence + 1
            args = [
                package.name,
                package.version,
                sequence,
                package.source_hash,
                policy,
                [msgspec.to_builtins(c) for c in collections],
            ]
            last = 0
            for org in orgs:
                gateway = Gateway(connections[org].identity, connections[org])
                last = max(last, gateway.network(channel).contract(LIFECYCLE).submit("approve", *args).block)
            members = [p.name for p in self.layout.peers if p.org in orgs]
            self.wait_heights(channel, last + 1, 30, members)
            gateway = Gateway(first.identity, first)
            committed = gateway.network(channel).contract(LIFECYCLE).submit("commit", *args).block
            self.wait_heights(channel, committed + 1, 30, members)
            return committed
        finally:
            for connection in connections.values():
                connection.close()

    # -- inspecting ------------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Every etcd member and node: pid, endpoint, whether it runs, leads, and its heights and hashes."""
        pids = self.pids()
        members = []
        for member in self.layout.etcd:
            pid = pids.get(member.name)
            alive = pid is not None and running(pid, member.data)
            detail = self.member_status(member.name) if alive else None
            header = (detail or {}).get("header", {})
            members.append(
                {
                    "name": member.name,
                    "role": "etcd",
                    "pid": pid if alive else None,
                    "endpoint": member.client_url,
                    "up": detail is not None,
                    "leader": bool(detail) and detail.get("leader") == header.get("member_id"),
                    "raft_index": int((detail or {}).get("raftIndex", 0)),
                }
            )
        nodes = []
        for node in self.layout.nodes:
            status = self.node_status(node.name, timeout=2.0)
            pid = pids.get(node.name)
            nodes.append(
                {
                    "name": node.name,
                    "role": node.role,
                    "org": node.org,
                    "pid": status["pid"] if status else (pid if pid and running(pid, node.config) else None),
                    "endpoint": node.endpoint,
                    "up": status is not None,
                    "leader": bool(status and status.get("leader")),
                    "channels": (status or {}).get("channels", {}),
                }
            )
        return {"data": str(self.data), "etcd": members, "nodes": nodes}

    def _header_hash_at(self, name: str, channel: str, number: int, identity: SigningIdentity) -> str | None:
        client = self.client(name, identity, timeout=10)
        try:
            reply: BlocksReply = client.call(
                "GET", f"/channels/{channel}/blocks?from={number}&limit=1", reply=BlocksReply
            )
        except NodeError:
            return None
        finally:
            client.close()
        if not reply.blocks:
            return None
        return header_hash(decode(reply.blocks[0], Block).header).hex()

    def _digest(self, name: str, channel: str, identity: SigningIdentity) -> dict[str, Any] | None:
        client = self.client(name, identity, timeout=30)
        try:
            status, body = client.request("GET", f"/channels/{channel}/digest")
        except NodeError:
            return None
        finally:
            client.close()
        return msgspec.json.decode(body) if status == 200 else None

    def compare(self, wait: float = 10.0) -> dict[str, Any]:
        """Compare every node's ledger per channel: header hashes at a common height, peers' state hashes."""
        report: dict[str, Any] = {"ok": True, "channels": {}}
        for channel, orgs in self.layout.channels.items():
            identity = self.identity(orgs[0], "admin")
            names = [n.name for n in self.layout.nodes if n.role == "orderer" or n.org in orgs]
            deadline = time.monotonic() + wait
            while True:
                heights = {name: self.height(name, channel) for name in names}
                live = {name: h for name, h in heights.items() if h >= 0}
                if len(set(live.values())) <= 1 or time.monotonic() >= deadline:
                    break
                time.sleep(0.2)
            entry: dict[str, Any] = {"heights": heights, "problems": []}
            if not live:
                entry["problems"].append("no node answered")
            else:
                common = min(live.values())
                entry["compared_at"] = common
                hashes = {name: self._header_hash_at(name, channel, common - 1, identity) for name in live}
                digests = {}
                for node in self.layout.peers:
                    if node.name in live and node.org in orgs:
                        digests[node.name] = self._digest(node.name, channel, identity)
                for name, digest in digests.items():
                    # A peer that started from a snapshot at this height holds the header, not the block.
                    if hashes.get(name) is None and digest is not None and digest["height"] == common:
                        hashes[name] = digest["last_header_hash"]
                entry["header_hashes"] = hashes
                if len({h for h in hashes.values()}) != 1:
                    entry["problems"].append(f"block {common - 1} differs between nodes")
                entry["state"] = digests
                at_height = {n: d for n, d in digests.items() if d is not None}
                heights_seen = {d["height"] for d in at_height.values()}
                if len(heights_seen) > 1:
                    entry["problems"].append("peers are at different heights: state hashes not comparable")
                elif len({d["state_hash"] for d in at_height.values()}) > 1:
                    entry["problems"].append("state hashes differ between peers")
                down = sorted(set(names) - set(live))
                if down:
                    entry["problems"].append(f"not answering: {', '.join(down)}")
                if len(set(live.values())) > 1:
                    entry["problems"].append("nodes are at different heights")
            entry["identical"] = not entry["problems"]
            report["ok"] = report["ok"] and entry["identical"]
            report["channels"][channel] = entry
        return report
