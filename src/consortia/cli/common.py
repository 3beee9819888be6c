"""What every command shares: the data folder option, JSON output and clean error reporting."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

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
