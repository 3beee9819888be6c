"""The ``consortia`` command: demo, serve, verify, proof, bench, client commands, node, cluster, and the apps."""

from __future__ import annotations

import logging
import os
import sys

import typer

from consortia.cli.bench_cmd import bench
from consortia.cli.channel_cmd import app as channel_app
from consortia.cli.channel_cmd import org_app
from consortia.cli.client_cmds import blocks, evaluate, submit, tx
from consortia.cli.cluster_cmd import app as cluster_app
from consortia.cli.cluster_cmd import node
from consortia.cli.common import err_console
from consortia.cli.demo_cmd import demo
from consortia.cli.identity_cmd import app as identity_app
from consortia.cli.proof_cmd import proof
from consortia.cli.serve_cmd import serve
from consortia.cli.snapshot_cmd import app as snapshot_app
from consortia.cli.verify_cmd import verify
from consortia.plugins import discover

app = typer.Typer(
    name="consortia",
    help="Consortia: a permissioned blockchain platform (execute–order–validate) and its consortium applications.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    server: str | None = typer.Option(None, "--server", help="Gateway service URL for client commands."),
) -> None:
    """Consortia: a permissioned blockchain platform and its consortium applications."""
    ctx.obj = {"server": server}


app.command()(demo)
app.command()(serve)
app.command()(verify)
app.command()(proof)
app.command()(bench)
app.command()(submit)
app.command()(evaluate)
app.command()(blocks)
app.command()(tx)
app.command()(node)
app.add_typer(cluster_app, name="cluster")
app.add_typer(channel_app, name="channel")
app.add_typer(org_app, name="org")
app.add_typer(snapshot_app, name="snapshot")
app.add_typer(identity_app, name="identity")

for _application in discover():
    if _application.cli is not None:
        app.add_typer(_application.cli, name=_application.name, help=_application.title)


def main() -> None:
    """Entry point: run the app; report unexpected failures in one line instead of a traceback."""
    logging.basicConfig(level=os.environ.get("CONSORTIA_LOG", "WARNING"), format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # the last line of defence: a person gets a message, not a traceback
        if os.environ.get("CONSORTIA_DEBUG"):
            raise
        err_console.print(f"[bold red]error:[/] {type(exc).__name__}: {exc} (set CONSORTIA_DEBUG=1 for details)")
        sys.exit(1)
