"""``consortia tradefinance …``: register trade documents, check a batch for duplicates, benchmark fingerprints.

* ``register-docs FILE.csv --bank BANK [--data DIR] [--server URL] --json`` — the bank's service identity
  registers every row of the file (one status per row: REGU, REDU, DFIN …). The file is parsed whole first: a row
  that cannot be read ends the command with exit status 2 and a message naming the row and the field, and nothing
  of the file is registered. The command opens the embedded network in ``--data``; while a node serves that
  folder (``consortia demo`` / ``consortia serve``), it goes through the node's API with ``--server URL`` (or
  ``consortia --server URL tradefinance …``), signing with the bank's own identity from the folder.
* ``check-duplicates FILE.csv --json`` — offline: groups the rows of several banks into duplicates (one
  underlying document) and suspicious look-alikes (:func:`~.domain.similarity.group_rows`); no ledger.
* ``bench --fingerprints N --json`` — loads N fingerprints into a peer's world-state store and times lookups
  (:mod:`.service.bench`).

Every command takes ``--json``; errors never end in a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from consortia.cli.common import DATA_HELP, data_dir, fail, print_json

if TYPE_CHECKING:
    from consortia.apps.tradefinance.domain.csvrows import Row

app = typer.Typer(
    name="tradefinance",
    help="GBA trade finance: register documents by keyed fingerprint, check a batch for duplicates, benchmark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SERVER_HELP = (
    "URL of the node serving --data (e.g. http://127.0.0.1:8000): write through its API while it runs "
    "(default: consortia --server)."
)


def _server(ctx: typer.Context | None, server: str | None) -> str | None:
    if server:
        return server
    obj = ctx.find_root().obj if ctx is not None else None
    return (obj or {}).get("server") if isinstance(obj, dict) else None


def _read_rows(file: Path, as_json: bool) -> list[Row]:
    """Every row of the file, or exit 2 naming the row and field of each problem (nothing is registered)."""
    from consortia.apps.tradefinance.domain.csvrows import CsvError, parse_csv

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}", 2, as_json=as_json)
    try:
        return parse_csv(text)
    except CsvError as exc:
        problems = [
            {"row": p.row, "field": p.field, "message": p.message, "expected": p.expected, "found": p.found}
            for p in exc.problems
        ]
        where = "header" if exc.row == 0 else f"row {exc.row}"
        fail(
            f"{file}: {where}, field {exc.field or '(row)'}: {exc.message}; nothing was registered",
            2,
            as_json=as_json,
            extra={"row": exc.row, "field": exc.field, "problems": problems, "registered": 0},
        )


@app.command("register-docs")
def register_docs(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV file (bank,doc_type,doc_number,seller_id,…,port_of_loading)."),
    bank: str = typer.Option(..., "--bank", help="The registering bank (e.g. ShenzhenBank)."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    user: str = typer.Option("client", "--user", help="The bank's program identity to sign with."),
    as_json: bool = typer.Option(False, "--json", help="Print one status per row as JSON."),
) -> None:
    """Register a bank's documents: one status per row (REGU, REDU, DFIN …) with near-duplicate hits."""
    from consortia.apps.tradefinance.consortium import BANKS, CHANNEL

    if bank not in BANKS:
        fail(f"--bank: expected one of {', '.join(BANKS)}, found {bank!r}", 2, as_json=as_json)
    rows = _read_rows(file, as_json)
    others = sorted({row.bank for row in rows if row.bank != bank})
    if others:
        first = next(row for row in rows if row.bank != bank)
        fail(
            f"{file}: row {first.number}, field bank: expected {bank} (the --bank registering the file), "
            f"found {first.bank!r}; nothing was registered",
            2,
            as_json=as_json,
            extra={"row": first.number, "field": "bank", "registered": 0},
        )
    url = _server(ctx, server)
    answers = (
        _register_remote(url, data, bank, user, rows, as_json)
        if url
        else _register_local(data, bank, user, rows, as_json, CHANNEL)
    )
    report = {"ok": True, "bank": bank, "rows": len(rows), "results": answers}
    if as_json:
        print_json(report)
        return
    for answer in answers:
        similar = f"  ({len(answer['similar'])} similar)" if answer["similar"] else ""
        typer.echo(f"row {answer['row']:>4}  {answer['status']}  {answer['doc_ref']}{similar}")


def _answer(row: int, ref: str, status: str, similar: list[dict[str, Any]], tx_id: str) -> dict[str, Any]:
    return {"row": row, "status": status, "doc_ref": ref, "similar": similar, "tx_id": tx_id}


def _register_local(
    data: Path | None, bank: str, user: str, rows: list[Row], as_json: bool, channel: str
) -> list[dict[str, Any]]:
    from consortia.apps.tradefinance.service.tradefinance import TradeFinanceError, TradeFinanceService
    from consortia.cli.common import open_network

    with open_network(data, channel=channel, as_json=as_json) as network:
        try:
            service = TradeFinanceService.as_user(network, bank, user)
            registrations = service.register_documents(rows)
        except TradeFinanceError as exc:
            fail(f"nothing more was registered: {exc}", as_json=as_json, extra={"code": exc.code})
    return [
        _answer(
            r.row.number,
            r.doc_ref,
            str(r.status),
            [{"risk": h.risk, "reasons": list(h.reasons), "other_bank": h.other_bank} for h in r.similar],
            r.tx_id,
        )
        for r in registrations
    ]


def _register_remote(
    url: str, data: Path | None, bank: str, user: str, rows: list[Row], as_json: bool
) -> list[dict[str, Any]]:
    from consortia.apps.tradefinance.consortium import CHANNEL, CONTRACT
    from consortia.apps.tradefinance.contract.codec import document_to_json
    from consortia.apps.tradefinance.service.tradefinance import BATCH
    from consortia.client.remote import RemoteClient, RemoteError
    from consortia.identity import SigningIdentity
    from consortia.ledger.encoding import canonical_json
    from consortia.network.bootstrap import user_dir

    folder = data_dir(data)
    try:
        identity = SigningIdentity.load(user_dir(folder, bank, user))
    except (OSError, ValueError):
        fail(f"no key of the program {bank}/{user} in {folder}", 2, as_json=as_json)
    client = RemoteClient(url, identity)
    answers: list[dict[str, Any]] = []
    try:
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            items = [{"row": row.number, "document": document_to_json(row.document)} for row in chunk]
            done = client.submit(CHANNEL, CONTRACT, "register", [], {"documents": canonical_json(items)})
            result = done["result"]
            if isinstance(result, list) and result and "refused" in result[0]:
                fail(f"refused: {result[0]['refused']}", as_json=as_json, extra={"code": result[0]["code"]})
            answers += [_answer(r["row"], r["ref"], r["status"], r["similar"], done["tx_id"]) for r in result]
    except RemoteError as exc:
        fail(f"registration failed after {len(answers)} row(s): {exc.message}", as_json=as_json,
             extra={"code": exc.code})  # fmt: skip
    finally:
        client.close()
    return answers


@app.command("check-duplicates")
def check_duplicates(
    file: Path = typer.Argument(..., help="CSV file with rows of several banks."),
    as_json: bool = typer.Option(False, "--json", help="Print the groups as JSON."),
) -> None:
    """Offline: group the rows into duplicates (one underlying document) and suspicious look-alikes."""
    from consortia.apps.tradefinance.domain.similarity import group_rows

    rows = _read_rows(file, as_json)
    groups = group_rows(rows)
    report = {
        "rows": len(rows),
        "groups": [{"rows": list(g.rows), "kind": g.kind, "reasons": list(g.reasons)} for g in groups],
    }
    if as_json:
        print_json(report)
        return
    typer.echo(f"{len(rows)} row(s), {len(groups)} group(s)")
    for group in groups:
        typer.echo(f"  {group.kind:<10} rows {', '.join(map(str, group.rows))}: {', '.join(group.reasons)}")


@app.command()
def bench(
    fingerprints: int = typer.Option(1_000_000, "--fingerprints", min=1, help="Fingerprints to load first."),
    directory: Path | None = typer.Option(
        None, "--dir", help="Where to build the state database (default: a temporary folder, removed after)."
    ),
    end_to_end: bool = typer.Option(
        False, "--end-to-end", help="Also time registrations through the contract on an embedded network."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Load N fingerprints into a peer's world-state store; time lookups (p50, p99) and registrations."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from consortia.apps.tradefinance.service.bench import end_to_end_registrations, run_bench

    console = Console(stderr=True)
    with Progress(
        TextColumn("loading fingerprints"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=as_json,
    ) as progress:
        task = progress.add_task("load", total=fingerprints)
        result = run_bench(fingerprints, directory=directory, progress=lambda n: progress.advance(task, n))
    figures = result.to_json()
    if end_to_end:
        figures["registrations_end_to_end_per_s"] = round(end_to_end_registrations(), 1)
    if as_json:
        print_json(figures)
        return
    if end_to_end:
        typer.echo(f"{figures['registrations_end_to_end_per_s']:,.0f} registrations/s through the contract")
    typer.echo(
        f"{result.fingerprints:,} fingerprints: lookup p50 {result.lookup_p50_ms} ms, p99 {result.lookup_p99_ms} ms "
        f"(present {result.present_p99_ms}, absent {result.absent_p99_ms}); "
        f"{result.registrations_per_s:,.0f} registrations/s on the state path; loaded at {result.load_per_s:,.0f}/s"
    )
