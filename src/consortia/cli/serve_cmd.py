"""``consortia serve``: run the gateway service (API, events, explorer) over the embedded network in a folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from consortia.cli.common import DATA_HELP, console, data_dir, fail, require_network

if TYPE_CHECKING:
    from consortia.network.embedded import EmbeddedNetwork

METRICS_TOKEN_HELP = "Bearer token /metrics requires (default $CONSORTIA_METRICS_TOKEN; without one, loopback only)."


def run_server(network: EmbeddedNetwork, host: str, port: int, metrics_token: str | None = None) -> None:
    """Serve the gateway for an open network until interrupted."""
    import uvicorn

    from consortia.gateway.server.app import ServerSettings, create_app

    app = create_app(network, ServerSettings(metrics_token=metrics_token or None))
    console.print(f"Gateway on [bold]http://{host}:{port}/[/] (API docs at /docs). Ctrl-C stops it.", soft_wrap=True)
    uvicorn.run(app, host=host, port=port, log_level=logging.getLevelName(logging.getLogger().level).lower())


def serve(
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    metrics_token: str | None = typer.Option(
        None, "--metrics-token", envvar="CONSORTIA_METRICS_TOKEN", help=METRICS_TOKEN_HELP
    ),
) -> None:
    """Open the network in --data and serve its REST API, events and explorer pages."""
    from consortia.network.embedded import EmbeddedNetwork

    folder = require_network(data_dir(data))
    try:
        network = EmbeddedNetwork(folder)
    except RuntimeError as exc:
        fail(f"cannot open {folder}: {exc} (is another server using it?)")
    try:
        run_server(network, host, port, metrics_token)
    finally:
        network.close()
