"""``consortia node`` and ``consortia cluster up|down|status|compare``: running a clustered network locally."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from consortia.cli.common import DATA_HELP, console, data_dir, fail, print_json
from consortia.cluster.control import Cluster, ClusterError
from consortia.cluster.layout import ASSET_TRANSFER, LAYOUT_FILE
from consortia.cluster.processes import etcd_binary

app = typer.Typer(
    name="cluster",
    help="Run a clustered network locally: etcd members, orderers and peers, one process each.",
    no_args_is_help=True,
    add_completion=False,
)


def node(
    config: Path = typer.Option(..., "--config", help="The node's TOML configuration file."),
    join_snapshot: Path | None = typer.Option(
        None, "--join-snapshot", help="A peer's first start: join its channel from this snapshot file."
    ),
) -> None:
    """Run one peer or orderer until SIGTERM/SIGINT (a bad configuration or snapshot exits 2, naming it)."""
    from consortia.node.run import run_node

    raise typer.Exit(run_node(config, join_snapshot=join_snapshot))


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console)


@app.command()
def up(
    orgs: int = typer.Option(3, "--orgs", min=1, max=16, help="Member organisations (one peer each)."),
    orderers: int = typer.Option(3, "--orderers", min=1, max=9, help="Orderer nodes."),
    etcd: int = typer.Option(3, "--etcd", min=1, max=7, help="etcd members."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    channel: str = typer.Option("ch1", "--channel", help="The channel every organisation joins."),
    contract: str = typer.Option(ASSET_TRANSFER, "--contract", help="Contract installed and committed on peers."),
    policy: str | None = typer.Option(None, "--policy", help="Its endorsement policy (default: a majority)."),
    base_port: int | None = typer.Option(None, "--base-port", min=1024, max=65000, help="First port (default: free)."),
    deploy: bool = typer.Option(True, "--deploy/--no-deploy", help="Approve and commit the contract."),
    retain_blocks: int = typer.Option(
        64, "--retain-blocks", min=1, max=100_000, help="Blocks etcd keeps behind the slowest live orderer."
    ),
    tls: bool = typer.Option(
        True, "--tls/--no-tls", help="Mutual TLS 1.3 between nodes, clients and etcd (a new cluster only)."
    ),
) -> None:
    """Start a cluster (bootstrapping it on first use) and print its endpoints; an existing one is restarted."""
    folder = data_dir(data)
    if etcd_binary() is None:
        fail("etcd is not installed (Debian: apt-get install etcd-server, or run ./scripts/system-deps)")
    try:
        if (folder / LAYOUT_FILE).exists():
            cluster = Cluster.open(folder)
            fresh = False
        else:
            if folder.exists() and any(folder.iterdir()):
                fail(f"{folder} is not empty and holds no cluster; choose another --data folder")
            cluster = Cluster.create(
                folder, orgs=orgs, orderers=orderers, etcd_members=etcd, channel=channel, contract=contract,
                policy=policy, base_port=base_port, retain_blocks=retain_blocks, tls=tls,
            )  # fmt: skip
            fresh = True
        with _progress() as progress:
            task = progress.add_task("starting", total=None)
            cluster.up(lambda text: progress.update(task, description=text))
            if fresh and deploy and cluster.layout.contract:
                progress.update(task, description=f"committing {cluster.layout.contract} ({cluster.layout.policy})")
                cluster.deploy()
    except ClusterError as exc:
        fail(str(exc))
    _print_status(cluster)
    console.print(f"Stop it with: [bold]consortia cluster down --data {folder}[/]")


@app.command()
def down(data: Path | None = typer.Option(None, "--data", help=DATA_HELP)) -> None:
    """Stop every node and etcd member of the cluster (its data is kept; 'up' restarts it)."""
    try:
        cluster = Cluster.open(data_dir(data))
    except ClusterError as exc:
        fail(str(exc))
    with _progress() as progress:
        task = progress.add_task("stopping", total=None)
        cluster.down(lambda text: progress.update(task, description=text))
    console.print("Cluster stopped.")


@app.command()
def status(
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Each node: role, pid, endpoint, whether it leads, and per channel its height and last header hash."""
    try:
        cluster = Cluster.open(data_dir(data))
    except ClusterError as exc:
        fail(str(exc), as_json=as_json)
    if as_json:
        print_json(_with_gateways(cluster, cluster.status()))
        return
    _print_status(cluster)


def _with_gateways(cluster: Cluster, report: dict) -> dict:
    """The status report with each peer's gateway URL (``gateway``: "" for a node that serves none)."""
    gateways = {node.name: node.gateway for node in cluster.layout.nodes}
    for node in report["nodes"]:
        node["gateway"] = gateways.get(node["name"], "")
    return report


def _print_status(cluster: Cluster) -> None:
    report = _with_gateways(cluster, cluster.status())
    table = Table(title=f"Cluster in {report['data']}")
    for column in ("name", "role", "pid", "endpoint", "up", "leader", "channels (height · last header hash)"):
        table.add_column(column)
    for member in report["etcd"]:
        table.add_row(
            member["name"],
            "etcd",
            str(member["pid"] or "-"),
            member["endpoint"],
            "yes" if member["up"] else "[red]no[/]",
            "leader" if member["leader"] else "",
            f"raft index {member['raft_index']}" if member["up"] else "",
        )
    for node in report["nodes"]:
        channels = ", ".join(
            f"{name} {info.get('height')} · {str(info.get('last_header_hash', ''))[:16]}"
            for name, info in node["channels"].items()
        )
        table.add_row(
            node["name"],
            f"{node['role']} ({node['org']})",
            str(node["pid"] or "-"),
            node["endpoint"],
            "yes" if node["up"] else "[red]no[/]",
            "[bold green]leader[/]" if node["leader"] else "",
            channels,
        )
    console.print(table)
    for node in report["nodes"]:
        if node["gateway"]:
            url = node["gateway"]
            console.print(f"{node['org']}'s gateway (API, explorer, login): [bold]{url}/[/]", soft_wrap=True)


@app.command()
def compare(
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
    wait: float = typer.Option(10.0, "--wait", min=0.0, max=600.0, help="Seconds to let heights converge."),
) -> None:
    """Compare every node's header hashes and the peers' state hashes per channel; exit 1 if they differ."""
    try:
        cluster = Cluster.open(data_dir(data))
    except ClusterError as exc:
        fail(str(exc), as_json=as_json)
    report = cluster.compare(wait)
    if as_json:
        print_json(report)
    else:
        for channel, entry in report["channels"].items():
            table = Table(title=f"channel {channel} at height {entry.get('compared_at', '-')}")
            for column in ("node", "height", "header hash", "state hash"):
                table.add_column(column)
            for name, height in entry["heights"].items():
                state = (entry.get("state") or {}).get(name) or {}
                table.add_row(
                    name,
                    str(height),
                    str((entry.get("header_hashes") or {}).get(name) or "-")[:32],
                    str(state.get("state_hash", "-"))[:32],
                )
            console.print(table)
            if entry["identical"]:
                console.print(f"[bold green]{channel}: every node holds the same ledger.[/]")
            for problem in entry["problems"]:
                console.print(f"[bold red]{channel}: {problem}[/]")
    if not report["ok"]:
        sys.stdout.flush()
        raise typer.Exit(1)
