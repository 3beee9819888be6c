"""``consortia bench``: committed throughput and latency of the embedded network, next to the crypto bound.

Two organisations, the asset-transfer contract under ``AND('Org1.peer','Org2.peer')``, every transaction one
read and one write (``touch``). Measured in the same run: this machine's Ed25519 verification rate on one core,
and how many signatures the network verified per committed transaction (the counter in
:mod:`consortia.identity.batch`), whence the bound that verification alone puts on throughput.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import typer
from rich.table import Table

from consortia.cli.common import console, err_console, fail, print_json
from consortia.identity import CertificateAuthority, Kind
from consortia.identity.batch import verification_count
from consortia.identity.signing import verify_signature
from consortia.ledger.config import BatchConfig
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec
from consortia.network.workload import run_workload

ASSET_TRANSFER = "consortia.samples.asset_transfer:AssetTransfer"


def measure_verify_rate(seconds: float = 1.0) -> float:
    """Ed25519 verifications per second on one core (PyNaCl, 300-byte messages)."""
    identity = CertificateAuthority.create("Bench").issue("bench", Kind.CLIENT)
    message = os.urandom(300)
    signature = identity.sign(message)
    key = identity.public_key
    count = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(200):
            verify_signature(key, message, signature)
        count += 200
    return count / (time.perf_counter() - started)


def bench(
    seconds: float = typer.Option(20.0, "--seconds", min=1.0, max=3600.0, help="How long to drive the network."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    clients: int = typer.Option(1, "--clients", min=1, max=64, help="Client threads."),
    window: int = typer.Option(400, "--window", min=1, max=10_000, help="Transactions in flight per client."),
    keep: Path | None = typer.Option(None, "--data", help="Keep the benchmark network in this folder."),
    cluster: bool = typer.Option(
        False,
        "--cluster",
        help="Bench a cluster instead: 3 etcd members, 3 orderers, 2 peers, one process each (512 client threads).",
    ),
) -> None:
    """Drive the embedded network at full speed and print committed tx/s, latency and the verification bound."""
    if cluster:
        _bench_cluster(seconds, as_json, keep)
        return
    verify_rate = measure_verify_rate()
    cores = os.cpu_count() or 1
    folder = keep or Path(tempfile.mkdtemp(prefix="consortia-bench-"))
    spec = NetworkSpec(
        orgs=(OrgSpec("Org1"), OrgSpec("Org2")),
        channels=(ChannelSpec("bench", ("Org1", "Org2"), BatchConfig(max_transactions=500, timeout_ms=50)),),
    )
    network = EmbeddedNetwork.create(folder, spec)
    try:
        network.deploy("bench", ASSET_TRANSFER, policy="AND('Org1.peer','Org2.peer')")
        contracts = [
            network.gateway(("Org1", "Org2")[i % 2]).network("bench").contract("asset-transfer") for i in range(clients)
        ]
        keys = max(1, window) * 4

        def job(number: int) -> tuple[str, tuple]:
            return "touch", (f"k{number % (keys * clients)}",)

        if not as_json:
            console.print(f"Driving 2 organisations for {seconds:g} s with {clients} clients × {window} in flight …")
        verified_before = verification_count()
        result = run_workload(contracts, job, seconds=seconds, window=window)
        verified = verification_count() - verified_before
    finally:
        network.close()
    per_tx = verified / result.committed if result.committed else 0.0
    bound = cores * verify_rate / per_tx if per_tx else 0.0
    figures = {
        "seconds": round(result.elapsed, 2),
        "committed": result.committed,
        "committed_tx_per_s": round(result.rate, 1),
        "p50_latency_ms": round(result.percentile(0.50) * 1000, 1),
        "p99_latency_ms": round(result.percentile(0.99) * 1000, 1),
        "outcomes": dict(result.outcomes),
        "cores": cores,
        "ed25519_verify_per_s_per_core": round(verify_rate),
        "verifies_per_tx": round(per_tx, 2),
        "verify_bound_tx_per_s": round(bound, 1),
        "ratio_to_bound": round(result.rate / bound, 3) if bound else 0.0,
        "policy": "AND('Org1.peer','Org2.peer')",
        "workload": "asset-transfer touch: 1 read + 1 write per transaction",
    }
    if as_json:
        print_json(figures)
        return
    table = Table(title="consortia bench")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in figures.items():
        table.add_row(name, str(value))
    console.print(table)


def _bench_cluster(seconds: float, as_json: bool, keep: Path | None) -> None:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from consortia.cluster.bench import run_cluster_bench
    from consortia.cluster.processes import etcd_binary

    if etcd_binary() is None:
        fail("etcd is not installed (Debian: apt-get install etcd-server; or ./scripts/system-deps)", as_json=as_json)
    if keep is not None and keep.exists() and any(keep.iterdir()):
        fail(f"{keep} is not empty; --data needs a new folder for the benchmark cluster", as_json=as_json)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=as_json) as progress:
        task = progress.add_task("starting", total=None)
        figures = run_cluster_bench(seconds, keep=keep, progress=lambda text: progress.update(task, description=text))
    if as_json:
        print_json(figures)
        return
    table = Table(title="consortia bench --cluster")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in figures.items():
        table.add_row(name, str(value))
    console.print(table)
