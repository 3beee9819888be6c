"""Starting and stopping a local cluster's processes: etcd members and ``consortia node`` processes.

Each process runs in its own session (so a Ctrl-C in the terminal that ran ``cluster up`` does not reach it),
writes to its own log file, and is remembered by pid in ``run/pids.json``. Before signalling a pid the tools
check, through ``/proc``, that it is still the process they started (a pid can be reused after a crash).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from consortia.cluster.layout import ClusterLayout, EtcdMember, NodeEntry, etcd_tls_dir
from consortia.network.bootstrap import tls_ca_dir

_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def etcd_binary() -> str | None:
    """Path of the etcd server, if installed."""
    return shutil.which("etcd") or (str(Path("/usr/bin/etcd")) if Path("/usr/bin/etcd").exists() else None)


def etcd_command(layout: ClusterLayout, member: EtcdMember) -> list[str]:
    """The command line of one etcd member of the cluster."""
    binary = etcd_binary()
    if binary is None:
        raise FileNotFoundError("etcd is not installed (Debian: apt-get install etcd-server)")
    initial = ",".join(f"{m.name}={m.peer_url}" for m in layout.etcd)
    return [
        binary,
        "--name",
        member.name,
        "--data-dir",
        member.data,
        "--listen-client-urls",
        member.client_url,
        "--advertise-client-urls",
        member.client_url,
        "--listen-peer-urls",
        member.peer_url,
        "--initial-advertise-peer-urls",
        member.peer_url,
        "--initial-cluster",
        initial,
        "--initial-cluster-state",
        "new",
        "--initial-cluster-token",
        layout.prefix.rsplit("/", 1)[-1],
        "--logger",
        "zap",
        "--log-level",
        # Over client-certificate TLS, etcd 3.4 warns on every JSON-gateway request that it ignores the
        # certificate's common name (it uses no etcd auth here): a warning per write would flood the log.
        "error" if layout.tls else "warn",
        *(etcd_tls_flags(layout, member) if layout.tls else []),
    ]


def etcd_tls_flags(layout: ClusterLayout, member: EtcdMember) -> list[str]:
    """Mutual TLS for an etcd member's clients and its fellow members, all from the ordering org's TLS CA."""
    certs = etcd_tls_dir(layout, member)
    ca = str(tls_ca_dir(Path(layout.data), layout.orderer_org) / "ca.pem")
    cert, key = str(certs / "cert.pem"), str(certs / "key.pem")
    return [
        "--cert-file",
        cert,
        "--key-file",
        key,
        "--trusted-ca-file",
        ca,
        "--client-cert-auth",
        "--peer-cert-file",
        cert,
        "--peer-key-file",
        key,
        "--peer-trusted-ca-file",
        ca,
        "--peer-client-cert-auth",
    ]


def node_command(node: NodeEntry) -> list[str]:
    """The command line of one node."""
    return [sys.executable, "-m", "consortia", "node", "--config", node.config]


def log_path(layout: ClusterLayout, name: str) -> Path:
    """Where a process of the cluster writes."""
    return Path(layout.data) / "logs" / f"{name}.log"


def spawn(command: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start a detached process writing to ``log``; return its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    _CHILDREN[process.pid] = process
    return process.pid


def running(pid: int, marker: str | None = None) -> bool:
    """Whether ``pid`` is a live (not zombie) process, whose command line contains ``marker`` if given."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return False
        if marker is not None:
            return marker in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        return True
    except (OSError, IndexError):
        return False


def signal_process(pid: int, signum: int) -> None:
    """Send a signal to a process (ignoring one that is already gone)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait until a process is gone; return whether it is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running(pid):
            child = _CHILDREN.pop(pid, None)
            if child is not None:
                child.wait()
            return True
        time.sleep(0.05)
    return not running(pid)


def stop_process(pid: int, marker: str | None, timeout: float = 10.0) -> None:
    """SIGTERM a process, SIGKILL it if it has not exited after ``timeout`` seconds."""
    if not running(pid, marker):
        _CHILDREN.pop(pid, None)
        return
    signal_process(pid, signal.SIGTERM)
    if not wait_exit(pid, timeout):
        signal_process(pid, signal.SIGKILL)
        wait_exit(pid, 5)


def stop_many(targets: list[tuple[int, str]], timeout: float = 10.0) -> None:
    """SIGTERM several processes at once; SIGKILL those still running after ``timeout`` seconds."""
    live = [(pid, mark) for pid, mark in targets if running(pid, mark)]
    for pid, _ in live:
        signal_process(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for pid, _ in live:
        if not wait_exit(pid, max(0.0, deadline - time.monotonic())):
            signal_process(pid, signal.SIGKILL)
            wait_exit(pid, 5)


def pids_path(layout: ClusterLayout) -> Path:
    """Where the pids of the running processes are kept."""
    return Path(layout.data) / "run" / "pids.json"


def load_pids(layout: ClusterLayout) -> dict[str, int]:
    """Pids by process name (empty if nothing was started)."""
    try:
        return {name: int(pid) for name, pid in json.loads(pids_path(layout).read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def save_pids(layout: ClusterLayout, pids: dict[str, int]) -> None:
    """Record pids by process name."""
    path = pids_path(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(pids, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def find_processes(layout: ClusterLayout) -> dict[str, int]:
    """Running processes of the cluster found by their command lines (a lost pids.json cannot hide them)."""
    markers = {node.config: node.name for node in layout.nodes} | {member.data: member.name for member in layout.etcd}
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for word in words:
            name = markers.get(word.decode(errors="replace"))
            if name is not None and running(int(entry.name)):
                found[name] = int(entry.name)
                break
    return found


def marker(layout: ClusterLayout, name: str) -> str:
    """A string the command line of process ``name`` contains (to recognise it by pid)."""
    try:
        return layout.node(name).config
    except KeyError:
        return layout.member(name).data
