"""``consortia bench``: committed throughput and latency of the embedded network, next to the crypto bound.

Two organisations, the asset-transfer contract under ``AND('Org1.peer','Org2.peer')``, every transaction one
read and one write (``touch``). Measured in the same run: this machine's Ed25519 verification rate on one core,
and how many signatures the network verified per committed transaction (the counter in
:mod:`consortia.identity.batch`), whence the bound that verification alone puts on throughput.

That closed loop is the default. ``--rate R`` is the open loop of :mod:`consortia.bench.openloop` (a fixed offered
rate, latency from each transaction's due time, so queueing counts); ``--scale --transactions N`` is
:mod:`consortia.bench.scale` (a ledger of N transactions, and what proofs, reads, the audit, disk and memory cost
at that size). ``--cluster`` benches the clustered network (closed loop only).
"""

from __future__ import annotations

import math
import os
import shutil
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
    rate: float | None = typer.Option(
        None,
        "--rate",
        help="Open loop: offer this many transactions per second, each sent when due; latency counts from then.",
    ),
    senders: int = typer.Option(8, "--senders", help="Open loop: sender threads sharing the schedule."),
    scale: bool = typer.Option(
        False,
        "--scale",
        help="Build (or reuse, in --data) a ledger of --transactions; time proofs, reads, the audit; disk and memory.",
    ),
    transactions: int | None = typer.Option(None, "--transactions", help="With --scale: transactions in the ledger."),
    samples: int = typer.Option(300, "--samples", help="With --scale: random transactions, keys and sizes timed."),
) -> None:
    """Drive the embedded network at full speed and print committed tx/s, latency and the verification bound.

    ``--rate R`` offers R tx/s instead (open loop) and reports latency percentiles from each transaction's due time;
    ``--scale --transactions N`` builds a ledger of N transactions and reports what proofs, reads and the audit cost.
    """
    _check_options(cluster, rate, senders, scale, transactions, samples, as_json)
    if scale:
        assert transactions is not None  # checked above
        _bench_scale(transactions, keep, samples, as_json)
        return
    if cluster:
        _bench_cluster(seconds, as_json, keep)
        return
    if rate is not None:
        _bench_open_loop(rate, seconds, senders, keep, as_json)
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
    _print_figures("consortia bench", figures)


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
    _print_figures("consortia bench --cluster", figures)


def _check_options(
    cluster: bool, rate: float | None, senders: int, scale: bool, transactions: int | None, samples: int, as_json: bool
) -> None:
    """Refuse option combinations and values that make no benchmark (exit 2, saying what was expected)."""

    def refuse(message: str) -> None:
        fail(message, 2, as_json=as_json)

    if rate is not None and not (math.isfinite(rate) and 0 < rate <= 1_000_000):
        refuse(f"--rate is transactions per second offered, a number in (0, 1000000]; got {rate:g}")
    if not 1 <= senders <= 256:
        refuse(f"--senders is a number of threads in 1..256; got {senders}")
    if cluster and rate is not None:
        refuse("--rate drives the embedded network only; the cluster bench is closed-loop (drop --cluster or --rate)")
    if scale and cluster:
        refuse("--scale builds an embedded ledger; it cannot be combined with --cluster")
    if scale and rate is not None:
        refuse("--scale and --rate are different benchmarks; give one of them")
    if transactions is not None and not scale:
        refuse("--transactions is the size of the --scale ledger; add --scale")
    if scale and transactions is None:
        refuse("--scale needs --transactions N, the number of transactions in the ledger")
    if transactions is not None and not 100 <= transactions <= 100_000_000:
        refuse(f"--transactions is a ledger size in 100..100000000; got {transactions}")
    if not 1 <= samples <= 100_000:
        refuse(f"--samples is a number of timed operations in 1..100000; got {samples}")


def _print_figures(title: str, figures: dict[str, object]) -> None:
    table = Table(title=title)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in figures.items():
        table.add_row(name, str(value))
    console.print(table)


def _bench_open_loop(rate: float, seconds: float, senders: int, keep: Path | None, as_json: bool) -> None:
    from consortia.bench.openloop import LATE_AFTER, Schedule, run_open_loop

    schedule = Schedule.for_duration(rate, seconds)
    folder = keep or Path(tempfile.mkdtemp(prefix="consortia-bench-"))
    spec = NetworkSpec(
        orgs=(OrgSpec("Org1"), OrgSpec("Org2")),
        channels=(ChannelSpec("bench", ("Org1", "Org2"), BatchConfig(max_transactions=500, timeout_ms=50)),),
    )
    network = EmbeddedNetwork.create(folder, spec)
    try:
        network.deploy("bench", ASSET_TRANSFER, policy="AND('Org1.peer','Org2.peer')")
        contracts = [
            network.gateway(("Org1", "Org2")[i % 2]).network("bench").contract("asset-transfer") for i in range(senders)
        ]
        # Enough keys that no two transactions in flight together (for up to 8 s) touch the same one.
        keys = max(4096, math.ceil(rate * 8))

        def job(number: int) -> tuple[str, tuple]:
            return "touch", (f"k{number % keys}",)

        if not as_json:
            console.print(f"Offering {rate:g} tx/s for {seconds:g} s from {senders} senders (open loop) …")
        report = run_open_loop(contracts, job, schedule, senders=senders)
    finally:
        network.close()
    figures = {
        "mode": "open-loop",
        "offered_tx_per_s": round(report.offered_tx_per_s, 1),
        "achieved_tx_per_s": round(report.achieved_tx_per_s, 1),
        "seconds": round(report.elapsed, 2),
        "scheduled": report.scheduled,
        "submitted": report.submitted,
        "committed": report.committed,
        "failed": report.failed,
        "late": report.late,
        "late_after_ms": LATE_AFTER * 1000,
        "p50_latency_ms": report.latency.p50_ms,
        "p99_latency_ms": report.latency.p99_ms,
        "p999_latency_ms": report.latency.p999_ms,
        "max_latency_ms": report.latency.max_ms,
        "p99_send_lag_ms": report.send_lag.p99_ms,
        "outcomes": report.outcomes,
        "senders": senders,
        "cores": os.cpu_count() or 1,
        "latency_from": "scheduled send time (queueing in the driver counts)",
        "policy": "AND('Org1.peer','Org2.peer')",
        "workload": "asset-transfer touch: 1 read + 1 write per transaction",
    }
    if as_json:
        print_json(figures)
        return
    _print_figures("consortia bench --rate", figures)


def _bench_scale(transactions: int, keep: Path | None, samples: int, as_json: bool) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from consortia.bench.scale import ScaleError, build_ledger, measure

    folder = keep or Path(tempfile.mkdtemp(prefix="consortia-scale-"))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err_console, transient=as_json) as progress:
            task = progress.add_task(f"building {folder}", total=transactions)

            def built(done: int, wanted: int) -> None:
                progress.update(task, completed=min(done, wanted), total=wanted)

            build = build_ledger(folder, transactions, progress=built)
            progress.update(task, description="measuring", completed=transactions)
            verify_rate = measure_verify_rate()
            report = measure(
                folder,
                build,
                samples=samples,
                verify_rate=verify_rate,
                cores=os.cpu_count() or 1,
                progress=lambda text: progress.update(task, description=text),
            )
    except ScaleError as exc:
        fail(str(exc), 2, as_json=as_json)
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    figures = {"mode": "scale", "data": str(folder) if keep is not None else None, **report.to_json()}
    if as_json:
        print_json(figures)
        return
    _print_figures(f"consortia bench --scale --transactions {transactions}", figures)
