"""``consortia bench --cluster``: committed throughput and latency of a clustered network on this machine.

Three etcd members, three orderers and two organisations' peers, each its own process, on 127.0.0.1; the
asset-transfer contract under ``AND('Org1.peer','Org2.peer')``; every transaction one read and one write. The
driver is this process: client threads of both organisations submit through the SDK over HTTP, each waiting for
the orderer's acknowledgement (the block is in etcd) before it starts its next transaction, with commits
awaited asynchronously. Latency is from the start of endorsement to the commit event from the submitter's own
organisation's peer. Everything shares this machine's cores, the driver included.

Blocks are cut at 500 transactions or 100 ms (Fabric's default batch timeout is 2 s): much of the cost of a block
is per block, not per transaction — a request to etcd, a synced write on every orderer and peer, a state database
commit, long polls answered — so bigger blocks leave more of the machine to transactions. Each client thread waits
for its envelope's block to be durable before it starts the next transaction, hence the many client threads.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from consortia.client.sdk import Gateway
from consortia.cluster.control import Cluster
from consortia.ledger.config import BatchConfig
from consortia.network.workload import run_workload

POLICY = "AND('Org1.peer','Org2.peer')"


def run_cluster_bench(
    seconds: float,
    *,
    clients: int = 512,
    window: int = 4,
    keep: Path | None = None,
    progress: Callable[[str], None] | None = None,
    batch: BatchConfig | None = None,
    tls: bool = True,
) -> dict[str, Any]:
    """Start a cluster (mutual TLS unless ``tls`` is False), drive it for ``seconds``, stop it; return the figures."""
    say = progress or (lambda _: None)
    folder = keep or Path(tempfile.mkdtemp(prefix="consortia-cluster-bench-"))
    say(f"bootstrapping a cluster in {folder}")
    cluster = Cluster.create(
        folder,
        orgs=2,
        orderers=3,
        etcd_members=3,
        channel="bench",
        batch=batch or BatchConfig(max_transactions=500, timeout_ms=100),
        policy=POLICY,
        log_level="WARNING",
        tls=tls,
    )
    connections = []
    try:
        cluster.up(say)
        say("committing the asset-transfer contract")
        cluster.deploy()
        connections = [cluster.connection(org) for org in ("Org1", "Org2")]
        contracts = [
            Gateway(connections[i % 2].identity, connections[i % 2]).network("bench").contract("asset-transfer")
            for i in range(clients)
        ]
        say(f"driving 2 organisations for {seconds:g} s with {clients} clients × {window} in flight")
        keys = clients * max(window, 1) * 8

        def job(number: int) -> tuple[str, tuple]:
            return "touch", (f"k{number % keys}",)

        result = run_workload(contracts, job, seconds=seconds, window=window)
        say("comparing the peers' ledgers")
        time.sleep(0.5)
        comparison = cluster.compare(wait=15)
    finally:
        for connection in connections:
            connection.close()
        say("stopping the cluster")
        cluster.down()
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return {
        "mode": "cluster",
        "seconds": round(result.elapsed, 2),
        "committed": result.committed,
        "committed_tx_per_s": round(result.rate, 1),
        "p50_latency_ms": round(result.percentile(0.50) * 1000, 1),
        "p99_latency_ms": round(result.percentile(0.99) * 1000, 1),
        "outcomes": dict(result.outcomes),
        "cores": os.cpu_count() or 1,
        "processes": {"etcd": 3, "orderers": 3, "peers": 2, "driver": 1},
        "clients": clients,
        "window": window,
        "ledgers_identical": comparison["ok"],
        "tls": tls,
        "policy": POLICY,
        "workload": "asset-transfer touch: 1 read + 1 write per transaction",
    }
