"""``consortia proof``: the inclusion proofs and signed header of a transaction."""

from __future__ import annotations

from pathlib import Path

import typer

from consortia.channel.rules import read_genesis
from consortia.cli.common import DATA_HELP, console, data_dir, fail, print_json, require_network
from consortia.ledger.block import Block
from consortia.ledger.codes import code_name
from consortia.ledger.encoding import decode_canonical
from consortia.ledger.history import HistoryTree
from consortia.ledger.ledger import ChannelLedger
from consortia.ledger.proof import build_proof, check_proof, proof_holds
from consortia.peer.audit import find_ledgers


def find_transaction(data: Path, tx_id: str, channel: str | None) -> tuple[Path, int, int, int] | None:
    """(ledger folder, block, index, code) of a transaction in the first peer ledger that has it."""
    for _, name, folder, peer in find_ledgers(data):
        if not peer or (channel and name != channel):
            continue
        ledger = ChannelLedger(folder, read_only=True)
        try:
            position = ledger.state.tx_position(tx_id)
        finally:
            ledger.close()
        if position is not None:
            return folder, *position
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
    found = find_transaction(folder, tx_id.lower(), channel)
    if found is None:
        fail(f"transaction {tx_id} is not in any ledger under {folder}", as_json=as_json)
    ledger_dir, number, index, code = found
    ledger = ChannelLedger(ledger_dir, read_only=True)
    try:
        block = ledger.block(number)
        genesis = decode_canonical(ledger.record(0).block, Block)
    finally:
        ledger.close()
    config, _ = read_genesis(genesis)
    cas = {org.msp_id: org.ca_certificate for org in config.orderer.organisations}
    try:
        history = HistoryTree(ledger_dir / "history")
    except RuntimeError:
        fail(f"the history tree of {ledger_dir} is in use by a running node; stop it or ask its API", as_json=as_json)
    try:
        document = build_proof(block, index, history, cas, code_name(code))
    finally:
        history.close()
    document["tx_id"] = tx_id.lower()
    steps = check_proof(document)
    document["self_check"] = [{"step": s.name, "ok": s.ok, "detail": s.detail} for s in steps]
    if as_json:
        print_json(document)
        return
    console.print(
        f"[bold]{tx_id}[/] — channel {document['channel']}, block {number}, index {index}, "
        f"{document['validation_code']}"
    )
    for s in steps:
        console.print(f"  {'[green]✔' if s.ok else '[red]✘'}[/] {s.name} {s.detail}")
    console.print("[bold green]proof holds[/]" if proof_holds(steps) else "[bold red]proof FAILS[/]")
