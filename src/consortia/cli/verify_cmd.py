"""``consortia verify``: audit every ledger in a data folder."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from consortia.cli.common import DATA_HELP, console, data_dir, fail, print_json
from consortia.peer.audit import audit_network


def verify(
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Audit every ledger: blocks, signatures, Merkle and history roots, policies, state; exit 1 at the first fault."""
    folder = data_dir(data)
    if not folder.exists():
        fail(f"data folder {folder} does not exist", as_json=as_json)
    if not folder.is_dir():
        fail(f"{folder} is a file, not a data folder", as_json=as_json)
    report = audit_network(folder)
    if not report.ledgers:
        fail(f"no ledgers found under {folder}", as_json=as_json)
    first = report.first_failure
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "data": report.data,
                "first_bad_block": first.bad_block if first else None,
                "error": f"{first.node}/{first.channel}: {first.error}" if first else None,
                "ledgers": [
                    {
                        "node": r.node,
                        "channel": r.channel,
                        "blocks": r.blocks,
                        "transactions": r.transactions,
                        "valid": r.valid,
                        "ok": r.ok,
                        "bad_block": r.bad_block,
                        "error": r.error,
                        "warnings": r.warnings,
                    }
                    for r in report.ledgers
                ],
            }
        )
    else:
        table = Table(title=f"Audit of {folder}")
        for column in ("node", "channel", "blocks", "transactions", "valid", "result"):
            table.add_column(column)
        for r in report.ledgers:
            where = f"block {r.bad_block}: " if r.bad_block is not None else ""
            result = "[green]sound[/]" if r.ok else f"[red]{where}{r.error}[/]"
            table.add_row(r.node, r.channel, str(r.blocks), str(r.transactions), str(r.valid), result)
        console.print(table)
        for r in report.ledgers:
            for warning in r.warnings:
                console.print(f"[yellow]warning[/] {r.node}/{r.channel}: {warning}")
        if first:
            console.print(f"[bold red]FAILED[/] {first.node}/{first.channel}: {first.error}")
        else:
            console.print("[bold green]Every ledger is sound.[/]")
    if not report.ok:
        raise typer.Exit(1)
