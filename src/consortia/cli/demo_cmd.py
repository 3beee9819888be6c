"""``consortia demo``: an embedded network of three organisations on two channels, driven by a workload."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from pathlib import Path

import msgspec
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from consortia.cli.common import DATA_HELP, console, data_dir, fail
from consortia.cli.serve_cmd import METRICS_TOKEN_HELP, run_server
from consortia.contracts.collections_config import CollectionConfig
from consortia.ledger.codes import code_name
from consortia.ledger.config import BatchConfig
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec, UserSpec
from consortia.network.workload import run_workload
from consortia.plugins import Application, discover

ASSET_TRANSFER = "consortia.samples.asset_transfer:AssetTransfer"


DEMO_PASSWORD = "consortia-demo"
PEOPLE = {"Org1": ("alice", "auditor"), "Org2": ("bob",), "Org3": ("carol",)}


def demo_spec() -> NetworkSpec:
    """Three organisations; channel 'alpha' for all three, 'beta' for two of them (auditors may read it)."""

    def users(org: str) -> tuple[UserSpec, ...]:
        people = tuple(
            UserSpec(name, "client", {"role": "auditor"} if name == "auditor" else {}, DEMO_PASSWORD)
            for name in PEOPLE[org]
        )
        return (UserSpec("admin", "admin"), UserSpec("client", "client"), *people)

    return NetworkSpec(
        orgs=(
            OrgSpec("Org1", "First Bank", users("Org1")),
            OrgSpec("Org2", "Second Bank", users("Org2")),
            OrgSpec("Org3", "Logistics Co", users("Org3")),
        ),
        channels=(
            ChannelSpec("alpha", ("Org1", "Org2", "Org3"), BatchConfig(max_transactions=200, timeout_ms=50)),
            ChannelSpec(
                "beta",
                ("Org2", "Org3"),
                BatchConfig(max_transactions=200, timeout_ms=50),
                readers=("Org2:*", "Org3:*", "Org1:auditor"),
            ),
        ),
    )


def merge_specs(base: NetworkSpec, applications: list[Application]) -> NetworkSpec:
    """The demo network: the base organisations and channels plus every application's."""
    orgs = {org.name: org for org in base.orgs}
    for application in applications:
        for org in application.orgs:
            if org.name in orgs:
                known = {u.name for u in orgs[org.name].users}
                users = orgs[org.name].users + tuple(u for u in org.users if u.name not in known)
                orgs[org.name] = msgspec.structs.replace(orgs[org.name], users=users)
            else:
                orgs[org.name] = org
    channels = list(base.channels)
    for application in applications:
        channels.extend(c for c in application.channels if c.name not in {x.name for x in channels})
    return msgspec.structs.replace(base, orgs=tuple(orgs.values()), channels=tuple(channels))


def _reset(folder: Path) -> None:
    if folder.exists():
        if not (folder / "network.json").is_file() and any(folder.iterdir()):
            fail(f"{folder} exists and is not a Consortia data folder; choose another --data")
        shutil.rmtree(folder)


def demo(
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    transactions: int = typer.Option(
        3000, "--transactions", "-n", min=1, max=1_000_000, help="How many transactions to submit."
    ),
    no_serve: bool = typer.Option(False, "--no-serve", help="Seed, print the summary and exit (no web server)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address of the web server."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port of the web server."),
    metrics_token: str | None = typer.Option(
        None, "--metrics-token", envvar="CONSORTIA_METRICS_TOKEN", help=METRICS_TOKEN_HELP
    ),
) -> None:
    """Start an embedded network (3 organisations, 2 channels), deploy a contract, submit a workload, summarise."""
    folder = data_dir(data)
    _reset(folder)
    console.rule("[bold]Consortia demo")
    console.print(f"Creating organisations, CAs and channels in [cyan]{folder}[/] …")
    applications = discover()
    network = EmbeddedNetwork.create(folder, merge_specs(demo_spec(), applications))
    try:
        network.deploy(
            "alpha",
            ASSET_TRANSFER,
            policy="OutOf(2, 'Org1.peer', 'Org2.peer', 'Org3.peer')",
            collections=[CollectionConfig("appraisals", ("Org1", "Org2"), blocks_to_live=0)],
        )
        network.deploy("beta", ASSET_TRANSFER, policy="AND('Org2.peer', 'Org3.peer')")
        console.print("Deployed [bold]asset-transfer[/] on alpha (2 of 3 endorse) and beta (both endorse).")
        alpha = [network.gateway(org).network("alpha").contract("asset-transfer") for org in ("Org1", "Org2", "Org3")]
        beta = [network.gateway(org).network("beta").contract("asset-transfer") for org in ("Org2", "Org3")]
        per_channel = {"alpha": transactions * 2 // 3, "beta": transactions - transactions * 2 // 3}

        def job(number: int) -> tuple[str, tuple]:
            # Mostly fresh assets; every seventh transaction touches one of a few hot keys, so some concurrent
            # updates collide and are rejected by MVCC validation, as they would in production.
            if number % 7 == 0:
                return "touch", (f"hot-{number % 5}",)
            if number % 3 == 0 and number > 300:
                return "touch", (f"a{number - 301}",)
            return "create", (f"a{number}", ("red", "green", "blue")[number % 3], 1 + number % 10, 100 * number)

        started = time.monotonic()
        results = {}
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            for name, contracts in (("alpha", alpha), ("beta", beta)):
                task = progress.add_task(f"channel {name}", total=per_channel[name])
                results[name] = run_workload(
                    contracts,
                    job,
                    count=per_channel[name],
                    window=50,
                    progress=lambda n, task=task: progress.advance(task, n),
                )
        elapsed = time.monotonic() - started
        sample = network.gateway("Org1").network("alpha").contract("asset-transfer")
        appraisal = sample.submit("appraise", "a1", transient={"appraisal": b"CNY 1,200,000 (confidential)"})
        _summary(network, results, elapsed, folder, appraisal.tx_id)
        for application in applications:
            console.rule(f"[bold]{application.title}")
            if application.deploy is not None:
                application.deploy(network)
            if application.seed is not None:
                for line in application.seed(network, console):
                    console.print(line.replace("{base}", f"http://{host}:{port}"), soft_wrap=True)
        if not no_serve:
            console.print(
                "\n[bold]People[/] (password [cyan]"
                + DEMO_PASSWORD
                + "[/]): "
                + ", ".join(f"{org}/{name}" for org, names in PEOPLE.items() for name in names)
                + " — Org1/auditor may also read channel beta.",
                soft_wrap=True,
            )
            console.print(f"Explorer: http://{host}:{port}/channels/alpha/tx/{appraisal.tx_id}", soft_wrap=True)
            run_server(network, host, port, metrics_token)
    finally:
        network.close()


def _summary(network: EmbeddedNetwork, results: dict, elapsed: float, folder: Path, sample_tx: str) -> None:
    # Counted as the explorer and `consortia proof` count: every transaction in the ledger, the genesis block's
    # configuration transaction included (it is entry 0 of the history tree).
    table = Table(title="Summary", caption="counts include each channel's genesis configuration transaction")
    for column in ("channel", "blocks", "transactions", "valid", "invalid", "not endorsed", "tx/s"):
        table.add_column(column)
    total = 0
    reasons: list[str] = []
    for name, result in results.items():
        peer_channel = next(p.channels[name] for p in network.peers.values() if name in p.channels)
        codes: Counter[str] = Counter()
        transactions = 0
        for number in range(peer_channel.height):
            record = peer_channel.ledger.record(number)
            transactions += len(record.codes)
            codes.update(code_name(code) for code in record.codes)
        valid = codes.pop("VALID", 0)
        total += valid - 1  # the workload's, without the genesis configuration
        reasons.extend(
            f"{name}: {count} × {reason} (invalid, kept in its block)" for reason, count in codes.most_common()
        )
        refused = {k: v for k, v in result.outcomes.items() if k not in ("VALID",) and k not in codes}
        reasons.extend(f"{name}: {count} × {reason} (refused before ordering)" for reason, count in refused.items())
        table.add_row(
            name,
            str(peer_channel.height),
            str(transactions),
            str(valid),
            str(sum(codes.values())),
            str(sum(refused.values())),
            f"{result.rate:.0f}",
        )
    console.print(table)
    for line in reasons:
        console.print(f"  {line}", soft_wrap=True)
    console.print(f"{total} valid workload transactions committed in {elapsed:.1f} s.")
    console.print("\n[bold]Look further[/]")
    console.print("  Audit every ledger copy (signatures, Merkle roots, policies, state):", soft_wrap=True)
    console.print(f"    consortia verify --data {folder}", soft_wrap=True)
    console.print("  A transaction with its Merkle proofs and signed block header:", soft_wrap=True)
    console.print(f"    consortia proof {sample_tx} --data {folder}", soft_wrap=True)
