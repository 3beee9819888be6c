"""``consortia proof``: the inclusion proofs and signed header of a transaction."""

from __future__ import annotations

from pathlib import Path

import typer

from consortia.channel.update import ledger_config
from consortia.cli.common import DATA_HELP, console, data_dir, fail, print_json, require_network
from consortia.ledger.history import HistoryTree
from consortia.ledger.ledger import ChannelLedger
from consortia.ledger.proof import build_transaction_proof, check_proof, proof_holds
from consortia.peer.audit import find_ledgers


def ledger_holding(data: Path, tx_id: str, channel: str | None) -> Path | None:
    """The folder of the first peer ledger (of ``channel``, if given) that holds transaction ``tx_id``."""
    for _, name, folder, peer in find_ledgers(data):
        if not peer or (channel and name != channel):
            continue
        ledger = ChannelLedger(folder, read_only=True)
        try:
            if ledger.state.tx_position(tx_id) is not None:
                return folder
        finally:
            ledger.close()
    return None


def proof(
    tx_id: str = typer.Argument(..., help="Transaction id (64 hex digits)."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    channel: str | None = typer.Option(None, "--channel", help="Look only in this channel."),
    as_json: bool = typer.Option(False, "--json", help="Print the proof document as JSON."),
) -> None:
    """Print a transaction with its inclusion proofs (block and history tree) and the signed block header."""
    folder = require_network(data_dir(data))
    if len(tx_id) != 64 or any(c not in "0123456789abcdef" for c in tx_id.lower()):
        fail(f"{tx_id!r} is not a transaction id (64 hexadecimal digits)", 2, as_json=as_json)
    ledger_dir = ledger_holding(folder, tx_id.lower(), channel)
    if ledger_dir is None:
        fail(f"transaction {tx_id} is not in any ledger under {folder}", as_json=as_json)
    # Read-only: the proof can be built while a node serves this folder (it never locks or repairs the tree).
    history = HistoryTree(ledger_dir / "history", read_only=True)
    ledger = ChannelLedger(ledger_dir, read_only=True)
    try:
        config = ledger_config(ledger)
        document = build_transaction_proof(ledger, tx_id.lower(), config.orderer_cas(), history)
    finally:
        ledger.close()
        history.close()
    steps = check_proof(document)
    document["self_check"] = [{"step": s.name, "ok": s.ok, "detail": s.detail} for s in steps]
    if as_json:
        print_json(document)
        return
    console.print(
        f"[bold]{tx_id}[/] — channel {document['channel']}, block {document['block']}, index {document['index']}, "
        f"{document['validation_code']}"
    )
    for s in steps:
        console.print(f"  {'[green]✔' if s.ok else '[red]✘'}[/] {s.name} {s.detail}")
    console.print("[bold green]proof holds[/]" if proof_holds(steps) else "[bold red]proof FAILS[/]")
