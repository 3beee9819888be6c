"""``consortia snapshot``: write a channel snapshot a new peer can join from, and inspect one.

``consortia snapshot create --channel CH --data DIR --out FILE [--org ORG]`` reads the peer ledger of ``ORG``
(default: the first member organisation of the channel) at its committed height and writes the snapshot
(:mod:`consortia.ledger.snapshot`), signed by that peer's identity. ``DIR`` is an embedded network's data folder,
a cluster's folder (``cluster.json``: the peer node of ``ORG``) or one cluster node's folder (``node.toml``). A
folder a running node holds open is refused, as every command that reads ledgers at rest does.

``consortia snapshot show FILE`` checks a snapshot's signature and part hashes and prints its manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from consortia.cli.common import DATA_HELP, console, data_dir, fail, print_json, refuse_if_served

app = typer.Typer(help="Channel snapshots: a new peer joins from one instead of replaying every block.")


@dataclass(frozen=True)
class SnapshotSource:
    """Where a snapshot is read from: a peer's channel ledger and the identity that signs the snapshot."""

    channel_dir: Path
    identity_dir: Path
    org: str


def _embedded_source(folder: Path, channel: str, org: str | None) -> SnapshotSource:
    from consortia.network.bootstrap import peer_dir
    from consortia.network.spec import load_spec

    spec = load_spec(folder)
    found = next((c for c in spec.channels if c.name == channel), None)
    if found is None:
        names = ", ".join(c.name for c in spec.channels)
        fail(f"the network in {folder} has no '{channel}' channel (channels: {names})")
    org = org or found.orgs[0]
    if org not in found.orgs:
        fail(f"{org} is not a member of channel '{channel}' (members: {', '.join(found.orgs)})")
    return SnapshotSource(folder / "peers" / f"{org}.peer0" / channel, peer_dir(folder, org), org)


def _node_source(node_toml: Path, channel: str, org: str | None) -> SnapshotSource:
    from consortia.node.config import ConfigError, load_config

    try:
        loaded = load_config(node_toml)
    except ConfigError as exc:
        fail(f"config {node_toml}: {exc}")
    if loaded.config.role != "peer":
        fail(f"{node_toml} configures an orderer; a snapshot is taken from a peer's ledger")
    if org is not None and org != loaded.identity.org:
        fail(f"{node_toml} is a peer of {loaded.identity.org}, not of {org}")
    identity_dir = Path(loaded.config.identity)
    if not identity_dir.is_absolute():
        identity_dir = node_toml.resolve().parent / identity_dir
    return SnapshotSource(loaded.data / "peers" / loaded.config.name / channel, identity_dir, loaded.identity.org)


def _cluster_source(folder: Path, channel: str, org: str | None) -> SnapshotSource:
    from consortia.cluster.layout import load_layout

    layout = load_layout(folder)
    org = org or layout.orgs[0]
    try:
        entry = layout.peer_of(org)
    except (KeyError, ValueError) as exc:
        fail(f"the cluster in {folder} has no peer of {org}: {exc}")
    return _node_source(Path(entry.config), channel, org)


def source(folder: Path, channel: str, org: str | None) -> SnapshotSource:
    """The peer ledger and signing identity a snapshot of ``channel`` is taken from in ``folder``."""
    if (folder / "cluster.json").is_file():
        return _cluster_source(folder, channel, org)
    if (folder / "node.toml").is_file():
        return _node_source(folder / "node.toml", channel, org)
    if (folder / "network.json").is_file():
        return _embedded_source(folder, channel, org)
    fail(
        f"{folder} is neither a Consortia data folder (network.json), a cluster (cluster.json) nor a node's folder "
        f"(node.toml)"
    )


@app.command()
def create(
    channel: str = typer.Option(..., "--channel", help="The channel to snapshot."),
    out: Path = typer.Option(..., "--out", help="The snapshot file to write."),
    org: str | None = typer.Option(None, "--org", help="Whose peer's ledger (default: the channel's first member)."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Write a snapshot of a channel at its committed height, signed by the peer it is read from."""
    from consortia.identity import SigningIdentity
    from consortia.ledger.history import open_elsewhere
    from consortia.ledger.ledger import LedgerError
    from consortia.ledger.snapshot import SnapshotError, read_snapshot
    from consortia.ledger.snapshot import describe as describe_snapshot
    from consortia.peer.snapshot_join import create_snapshot

    folder = data_dir(data)
    refuse_if_served(folder, "consortia snapshot create … once the node is stopped (it reads the ledger at rest)")
    found = source(folder, channel, org)
    if open_elsewhere(found.channel_dir / "history"):
        fail(f"{found.channel_dir} is in use by a running node; stop the node first, then run this command again", 2)
    if not (found.channel_dir / "state.sqlite").is_file():
        fail(f"the peer of {found.org} holds no ledger of channel '{channel}' ({found.channel_dir})")
    if out.exists() and out.is_dir():
        fail(f"--out {out} is a directory; give a file name")
    try:
        identity = SigningIdentity.load(found.identity_dir)
    except (OSError, ValueError) as exc:
        fail(f"cannot load the peer identity in {found.identity_dir}: {exc}")
    try:
        create_snapshot(found.channel_dir, identity, out)
        written = read_snapshot(out)
    except (LedgerError, SnapshotError) as exc:
        fail(str(exc), as_json=as_json)
    summary = describe_snapshot(written)
    if as_json:
        print_json({"ok": True, **summary})
        return
    console.print(
        f"snapshot of [bold]{summary['channel']}[/] at height {summary['height']} "
        f"({summary['history_size']} transactions in its history) signed by {summary['signer']}: {out}",
        highlight=False,
    )


@app.command()
def show(
    file: Path = typer.Argument(..., help="A snapshot file."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Check a snapshot's signature and part hashes and print its manifest."""
    from consortia.ledger.snapshot import SnapshotError, describe, read_snapshot

    try:
        summary = describe(read_snapshot(file))
    except SnapshotError as exc:
        fail(str(exc), as_json=as_json)
    if as_json:
        print_json({"ok": True, **summary})
        return
    console.print(
        f"{summary['file']}: channel {summary['channel']}, height {summary['height']}, "
        f"last header {summary['last_header_hash']}, signed by {summary['signer']}",
        highlight=False,
    )
    for name, part in summary["parts"].items():
        console.print(f"  {name:<10} {part['size']:>10} bytes  sha256 {part['sha256']}", highlight=False)
