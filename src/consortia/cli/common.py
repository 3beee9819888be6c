"""What every command shares: the data folder option, JSON output and clean error reporting."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from consortia.network.embedded import EmbeddedNetwork

console = Console()
err_console = Console(stderr=True)

DATA_HELP = "Data folder (default: $CONSORTIA_DATA, else ./.consortia)."


def data_dir(value: Path | None) -> Path:
    """Resolve the data folder from the option, the environment, or the default."""
    if value is not None:
        return value
    env = os.environ.get("CONSORTIA_DATA")
    return Path(env) if env else Path(".consortia")


def require_network(data: Path) -> Path:
    """Fail with a clear message unless ``data`` holds a Consortia network."""
    if not (data / "network.json").is_file():
        fail(f"{data} is not a Consortia data folder (no network.json); run 'consortia demo --data {data}' first")
    return data


def print_json(value: Any) -> None:
    """Print a JSON document to standard output."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 1, *, as_json: bool = False, extra: dict[str, Any] | None = None) -> NoReturn:
    """Print an error a person can act on (as JSON with ``extra`` fields when asked) and exit."""
    if as_json:
        print_json({"ok": False, "error": message, **(extra or {})})
    else:
        err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def folder_served(folder: Path) -> bool:
    """Whether a running node (``consortia demo`` or ``serve``) holds a ledger of the data folder open."""
    from consortia.ledger.history import open_elsewhere

    return any(open_elsewhere(level.parent) for level in folder.glob("**/history/level-00.hashes"))


def server_option(ctx: typer.Context | None, server: str | None) -> str | None:
    """A command's own ``--server``, else the one given before it (``consortia --server URL …``)."""
    if server:
        return server
    obj = ctx.find_root().obj if ctx is not None else None
    return obj.get("server") if isinstance(obj, dict) else None


def refuse_if_served(folder: Path, instead: str, *, as_json: bool = False) -> None:
    """Exit 2 with one line saying what to run instead when a running node holds the folder's ledgers."""
    if (folder / "network.json").is_file() and folder_served(folder):
        fail(
            f"{folder} is in use by a running node (consortia demo or serve); run instead: {instead}",
            2,
            as_json=as_json,
        )


@contextmanager
def open_network(
    data: Path | None, *, channel: str | None = None, init: str | None = None, as_json: bool = False
) -> Iterator[EmbeddedNetwork]:
    """Open the embedded network in a data folder for a command, or fail with a message a person can act on.

    ``channel`` must exist in it (an application's channel); ``init`` names the command that creates such a folder
    (``consortia coldchain init``), mentioned beside ``consortia demo`` when the folder holds no network.
    """
    from consortia.network.embedded import EmbeddedNetwork

    folder = data_dir(data)
    if not (folder / "network.json").is_file():
        first = f"'{init} --data {folder}' or " if init else ""
        fail(f"{folder} holds no Consortia network; run {first}'consortia demo --data {folder}' first", as_json=as_json)
    refuse_if_served(
        folder,
        "the same command with --server URL (the address the node serves on, e.g. http://127.0.0.1:8000), "
        "or stop the node first",
        as_json=as_json,
    )
    try:
        network = EmbeddedNetwork(folder)
    except Exception as exc:  # a damaged folder (or one a node opened just now): say so instead of a traceback
        fail(f"cannot open the network in {folder}: {exc}", as_json=as_json)
    try:
        if channel is not None and channel not in {c.name for c in network.spec.channels}:
            fail(f"the network in {folder} has no '{channel}' channel", as_json=as_json)
        yield network
    finally:
        network.close()
