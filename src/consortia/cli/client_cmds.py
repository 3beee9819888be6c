"""Client commands that work the same embedded or against a server: submit, evaluate, blocks, tx.

Without ``--server`` they open the embedded network in ``--data`` (stop a running server on that folder first);
with ``--server URL`` they sign HTTP requests with the chosen identity (``--identity DIR`` holding cert.pem and
key.pem, or ``--org``/``--user`` to take one from the data folder).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from consortia.cli.common import DATA_HELP, console, data_dir, fail, print_json, require_network
from consortia.client.errors import GatewayError
from consortia.client.remote import RemoteClient, RemoteError
from consortia.client.sdk import Gateway
from consortia.identity import SigningIdentity

SERVER_HELP = "Gateway service URL (e.g. http://127.0.0.1:8000); without it, use the embedded network in --data."


def _utc(timestamp_ms: int) -> str:
    """A block time for people: ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _server(ctx: typer.Context, server: str | None) -> str | None:
    return server or (ctx.obj or {}).get("server")


def parse_arg(text: str) -> Any:
    """A command-line argument as JSON when it parses as JSON, else as a plain string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _transient(items: list[str]) -> dict[str, bytes]:
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--transient takes key=value, got {item!r}", 2)
        result[key] = value.encode()
    return result


def _identity(data: Path, identity_dir: Path | None, org: str | None, user: str) -> SigningIdentity:
    if identity_dir is not None:
        try:
            return SigningIdentity.load(identity_dir)
        except (OSError, ValueError) as exc:
            fail(f"cannot load the identity in {identity_dir}: {exc}", 2)
    if org is None:
        fail("give --org (and --user) or --identity DIR", 2)
    folder = data / "crypto" / org / "users" / user
    try:
        return SigningIdentity.load(folder)
    except (OSError, ValueError):
        fail(f"no identity {org}/{user} in {data} (looked in {folder})", 2)


def _described(exc: GatewayError) -> str:
    """An SDK error as one line: its code (and the contract's own code), then the message."""
    code = f"{exc.code} ({exc.contract_code})" if exc.contract_code else exc.code
    return f"{code}: {exc.message}"


def _run_embedded(data: Path, action: Any) -> Any:
    from consortia.network.embedded import EmbeddedNetwork

    require_network(data)
    try:
        network = EmbeddedNetwork(data)
    except RuntimeError as exc:
        fail(f"cannot open {data}: {exc} (is a server running on it? then use --server)")
    try:
        return action(network)
    finally:
        network.close()


def submit(
    ctx: typer.Context,
    channel: str = typer.Argument(...),
    contract: str = typer.Argument(...),
    function: str = typer.Argument(...),
    args: list[str] = typer.Argument(None, help="Arguments (JSON values; anything else is a string)."),
    transient: list[str] = typer.Option([], "--transient", help="Private input key=value (repeatable)."),
    org: str | None = typer.Option(None, "--org", help="Organisation of the identity to act as."),
    user: str = typer.Option("client", "--user", help="User of that organisation."),
    identity_dir: Path | None = typer.Option(None, "--identity", help="Folder with cert.pem and key.pem."),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Submit a transaction and wait until it commits."""
    folder = data_dir(data)
    values = [parse_arg(a) for a in args or []]
    secret = _transient(transient)
    url = _server(ctx, server)
    identity = _identity(folder, identity_dir, org, user)
    try:
        if url:
            client = RemoteClient(url, identity)
            try:
                result = client.submit(channel, contract, function, values, secret)
            finally:
                client.close()
        else:

            def act(network: Any) -> Any:
                done = (
                    Gateway(identity, network)
                    .network(channel)
                    .contract(contract)
                    .submit(function, *values, transient=secret)
                )
                return {"tx_id": done.tx_id, "block": done.block, "validation_code": done.code, "result": done.result}

            result = _run_embedded(folder, act)
    except GatewayError as exc:
        fail(_described(exc), as_json=as_json, extra={"code": exc.code, "contract_code": exc.contract_code})
    if as_json:
        print_json(result)
    else:
        console.print(f"[green]{result['validation_code']}[/] tx {result['tx_id']} in block {result['block']}")
        console.print_json(json.dumps(result["result"]))


def evaluate(
    ctx: typer.Context,
    channel: str = typer.Argument(...),
    contract: str = typer.Argument(...),
    function: str = typer.Argument(...),
    args: list[str] = typer.Argument(None, help="Arguments (JSON values; anything else is a string)."),
    transient: list[str] = typer.Option([], "--transient", help="Private input key=value (repeatable)."),
    org: str | None = typer.Option(None, "--org"),
    user: str = typer.Option("client", "--user"),
    identity_dir: Path | None = typer.Option(None, "--identity"),
    anonymous: bool = typer.Option(False, "--anonymous", help="Call a public function without an identity."),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
) -> None:
    """Evaluate a query function and print its JSON result."""
    folder = data_dir(data)
    values = [parse_arg(a) for a in args or []]
    secret = _transient(transient)
    url = _server(ctx, server)
    try:
        if url:
            identity = None if anonymous else _identity(folder, identity_dir, org, user)
            client = RemoteClient(url, identity)
            try:
                result = client.evaluate(channel, contract, function, values, secret)
            finally:
                client.close()
        else:
            identity = _identity(folder, identity_dir, org, user)

            def act(network: Any) -> Any:
                return (
                    Gateway(identity, network)
                    .network(channel)
                    .contract(contract)
                    .evaluate(function, *values, transient=secret)
                )

            result = _run_embedded(folder, act)
    except GatewayError as exc:
        fail(_described(exc))
    print_json(result)


def _reader(
    ctx: typer.Context, server: str | None, folder: Path, identity_dir: Path | None, org: str | None, user: str
) -> RemoteClient | None:
    url = _server(ctx, server)
    if not url:
        return None
    return RemoteClient(url, _identity(folder, identity_dir, org, user))


def blocks(
    ctx: typer.Context,
    channel: str = typer.Argument(...),
    start: int | None = typer.Option(None, "--from", min=0),
    limit: int = typer.Option(20, "--limit", min=1, max=100),
    org: str | None = typer.Option(None, "--org"),
    user: str = typer.Option("client", "--user"),
    identity_dir: Path | None = typer.Option(None, "--identity"),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List block headers of a channel."""
    folder = data_dir(data)
    client = _reader(ctx, server, folder, identity_dir, org, user)
    try:
        if client is not None:
            query = f"?limit={limit}" + (f"&from={start}" if start is not None else "")
            result = client.get(f"/api/channels/{channel}/blocks{query}")
        else:
            result = _local_blocks(require_network(folder), channel, start, limit)
    except RemoteError as exc:
        fail(f"{exc.code}: {exc.message}", as_json=as_json)
    finally:
        if client is not None:
            client.close()
    if as_json:
        print_json(result)
        return
    table = Table(title=f"{channel}: height {result['height']}")
    for column in ("block", "time (UTC)", "transactions", "valid", "header hash"):
        table.add_column(column)
    for block in result["blocks"]:
        table.add_row(
            str(block["number"]),
            _utc(block["header"]["timestamp_ms"]),
            str(block["transaction_count"]),
            str(block["valid_count"]),
            block["header_hash"][:16] + "…",
        )
    console.print(table)


def _ledger_dir(folder: Path, channel: str) -> Path:
    from consortia.peer.audit import find_ledgers

    for _, name, path, peer in find_ledgers(folder):
        if peer and name == channel:
            return path
    fail(f"no peer ledger of channel {channel!r} under {folder}")


def _local_blocks(folder: Path, channel: str, start: int | None, limit: int) -> dict[str, Any]:
    from consortia.gateway.server.views import block_view
    from consortia.ledger.ledger import ChannelLedger

    ledger = ChannelLedger(_ledger_dir(folder, channel), read_only=True)
    try:
        height = ledger.height
        first = max(0, height - limit) if start is None else start
        views = [
            block_view(ledger.committed_block(number), with_transactions=False)
            for number in range(first, min(height, first + limit))
        ]
        return {"channel": channel, "height": height, "blocks": views}
    finally:
        ledger.close()


def tx(
    ctx: typer.Context,
    channel: str = typer.Argument(...),
    tx_id: str = typer.Argument(...),
    org: str | None = typer.Option(None, "--org"),
    user: str = typer.Option("client", "--user"),
    identity_dir: Path | None = typer.Option(None, "--identity"),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
) -> None:
    """Show a transaction: proposer, endorsers, read-write set, validation code."""
    folder = data_dir(data)
    client = _reader(ctx, server, folder, identity_dir, org, user)
    try:
        if client is not None:
            result = client.get(f"/api/channels/{channel}/transactions/{tx_id}")
        else:
            from consortia.gateway.server.views import transaction_view
            from consortia.ledger.ledger import ChannelLedger

            ledger = ChannelLedger(_ledger_dir(require_network(folder), channel), read_only=True)
            try:
                found = ledger.find_transaction(tx_id.lower())
                if found is None:
                    fail(f"transaction {tx_id} is not on channel {channel!r}")
                result = transaction_view(found)
            finally:
                ledger.close()
    except RemoteError as exc:
        fail(f"{exc.code}: {exc.message}")
    finally:
        if client is not None:
            client.close()
    print_json(result)
