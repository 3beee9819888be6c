"""``consortia aml …``: monitor a CSV of transactions, measure detection quality, and benchmark the engines.

- ``scan FILE.csv --format amlsim|native [--out ALERTS.csv] [--json]`` — run every rule and typology over the
  file. The scanner never reads AMLSim's ``is_sar`` or ``alert_id`` columns. The alerts CSV has the columns
  ``alert_id,typology,accounts,tx_ids,score,rule_hits`` (lists ``;``-separated, a rule hit as ``rule:weight``); it
  is written to a temporary file beside the target and renamed, so a failed scan leaves no half-written file. The
  summary (``--json``) is ``{"transactions", "alerts", "seconds", "tx_per_s"}``. Bad input — a missing column,
  a non-numeric amount, an unparseable timestamp — ends with a message naming the row and the column, exit 2.
- ``evaluate [--seed N] [--json]`` — generate labelled data with a seed the rules were never tuned on and report
  recall and precision per typology at the account level (:mod:`.domain.evaluation`).
- ``bench [--json]`` — batch throughput on 400,000+ transactions and streaming decision latency (p50, p99).
- ``cases [--data DIR] [--server URL] [--json]`` — the bank's cases from the ledger as
  ``[{"id", "status", "decision", "accounts"}…]``.
- ``sar CASE_ID [--data DIR] [--server URL] --out FILE.xml`` — a case's SAR (BSA E-Filing batch, FormTypeCode SARX):
  the one filed, else for a case decided SAR the report as it would be filed today; ``ctr ACCOUNT DAY … --out``
  likewise for a CTR. Validated against FinCEN's XSD before it is written: an invalid filing is never written and
  the error names the element.

``scan``, ``evaluate`` and ``bench`` need no network: they read and write only the files named. ``cases``, ``sar``
and ``ctr`` read the ledger of a data folder as the bank's program; while a node serves the folder they go through
its API with ``--server URL`` (or ``consortia --server URL aml …``), and without it say so in one line (exit 2).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import time
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from consortia.cli.common import DATA_HELP, console, err_console, fail, print_json

app = typer.Typer(
    name="aml",
    help="Crypto-exchange accounts at a US bank: monitoring (scan, evaluate, bench), cases and filings (sar, ctr).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEFAULT_EVALUATION_SEED = 20261206
"""Never used to tune the rules (``rules.toml`` names the tuning seeds)."""

ALERT_COLUMNS = ("alert_id", "typology", "accounts", "tx_ids", "score", "rule_hits")


def rules_text() -> str:
    """The text of the rules file shipped with the application."""
    return resources.files("consortia.apps.aml").joinpath("rules.toml").read_text(encoding="utf-8")


def _rules(path: Path | None, as_json: bool):  # -> Rules (imported lazily: the CLI starts fast)
    from consortia.apps.aml.domain.monitoring.config import RulesError, parse_rules

    try:
        text = path.read_text(encoding="utf-8") if path is not None else rules_text()
        return parse_rules(text)
    except OSError as exc:
        fail(f"cannot read the rules file {path}: {exc.strerror}", 2, as_json=as_json)
    except RulesError as exc:
        fail(f"rules file {path or 'rules.toml'}: {exc}", 2, as_json=as_json)


def _progress(quiet: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=quiet,
    )


def alerts_csv(alerts) -> str:
    """The alerts as CSV text (:data:`ALERT_COLUMNS`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ALERT_COLUMNS)
    for alert in alerts:
        writer.writerow(
            (
                alert.alert_id,
                alert.typology,
                ";".join(alert.accounts),
                ";".join(alert.tx_ids),
                f"{alert.score:.4f}",
                ";".join(f"{hit.rule}:{hit.weight:g}" for hit in alert.rule_hits),
            )
        )
    return buffer.getvalue()


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    directory = path.resolve().parent
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@app.command()
def scan(
    file: Annotated[Path, typer.Argument(help="Transactions CSV.", show_default=False)],
    fmt: Annotated[str, typer.Option("--format", help="amlsim or native.")] = "amlsim",
    out: Annotated[Path | None, typer.Option("--out", help="Write the alerts here (CSV).")] = None,
    rules_file: Annotated[Path | None, typer.Option("--rules", help="A rules file instead of the shipped one.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run the monitoring rules and typologies over a CSV of transactions."""
    from consortia.apps.aml.domain.monitoring.engine import scan as run_scan
    from consortia.apps.aml.domain.monitoring.formats import FORMATS, InputError, parse_csv

    if fmt not in FORMATS:
        fail(f"--format: expected one of {', '.join(FORMATS)}, found {fmt!r}", 2, as_json=as_json)
    rules = _rules(rules_file, as_json)
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", 2, as_json=as_json)
    if out is not None and not out.resolve().parent.is_dir():
        fail(f"--out: the folder {out.resolve().parent} does not exist", 2, as_json=as_json)
    with _progress(as_json) as progress:
        task = progress.add_task(f"reading {file.name}", total=None)
        started = time.perf_counter()  # parsing counts: it is part of scanning a file
        try:
            frame = parse_csv(data, fmt)
        except InputError as exc:
            progress.stop()
            fail(f"{file}: {exc}", 2, as_json=as_json, extra={"row": exc.row, "column": exc.column})
        progress.update(task, description=f"scanning {frame.height:,} transactions")
        result = run_scan(frame, rules)
        seconds = time.perf_counter() - started
    if out is not None:
        _write_atomically(out, alerts_csv(result.alerts))
    summary = {
        "transactions": result.transactions,
        "alerts": len(result.alerts),
        "seconds": round(seconds, 3),
        "tx_per_s": round(result.transactions / seconds) if seconds > 0 else None,
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"{summary['transactions']:,} transactions, {summary['alerts']:,} alerts in {seconds:.2f} s "
        f"({summary['tx_per_s'] or 0:,} tx/s)" + (f"; alerts written to {out}" if out else "")
    )
    by_type: dict[str, int] = {}
    for alert in result.alerts:
        by_type[alert.typology] = by_type.get(alert.typology, 0) + 1
    for name, count in sorted(by_type.items()):
        console.print(f"  {name}: {count}")


def _dataset(seed: int, people: int, days: int, as_json: bool):  # -> Dataset (imported lazily)
    """Labelled synthetic data, or a message saying which setting is out of range."""
    from consortia.apps.aml.domain.generator import GeneratorConfig, generate

    try:
        return generate(GeneratorConfig(seed=seed, people=people, days=days))
    except ValueError as exc:
        fail(str(exc), 2, as_json=as_json)


@app.command()
def evaluate(
    seed: Annotated[int, typer.Option(help="Generator seed (the rules were never tuned on the default).")] = (
        DEFAULT_EVALUATION_SEED
    ),
    people: Annotated[int, typer.Option(help="Customers in the synthetic bank.", min=50)] = 1500,
    days: Annotated[int, typer.Option(help="Days of activity (at least 63).")] = 120,
    rules_file: Annotated[Path | None, typer.Option("--rules", help="A rules file instead of the shipped one.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Recall and precision per typology (account level) on labelled synthetic data."""
    from consortia.apps.aml.domain.evaluation import TARGET_PRECISION, TARGET_RECALL
    from consortia.apps.aml.domain.evaluation import evaluate as score
    from consortia.apps.aml.domain.monitoring.engine import scan as run_scan

    rules = _rules(rules_file, as_json)
    with _progress(as_json) as progress:
        progress.add_task(f"generating data (seed {seed})", total=None)
        dataset = _dataset(seed, people, days, as_json)
        progress.add_task(f"scanning {dataset.frame.height:,} transactions", total=None)
        result = run_scan(dataset.frame.drop("is_sar", "alert_id", "typology"), rules)
    evaluation = score(dataset, result.alerts, [t.name for t in rules.typologies if t.reporting])
    report = {
        "seed": seed,
        "tuned_on_seeds": list(rules.tuned_on_seeds),
        "untuned_seed": seed not in rules.tuned_on_seeds,
        "transactions": dataset.frame.height,
        "target": {"recall": TARGET_RECALL, "precision": TARGET_PRECISION},
        **evaluation.as_dict(),
    }
    if as_json:
        print_json(report)
        return
    overall = report["overall"]
    console.print(
        f"seed {seed} ({dataset.frame.height:,} transactions): recall {overall['recall']:.3f}, "
        f"precision {overall['precision']:.3f} — target {'met' if overall['meets_target'] else 'NOT met'}"
    )
    for name, figures in report["recall_by_planted_typology"].items():
        console.print(f"  planted {name}: recall {figures['recall']:.3f} ({figures['found']}/{figures['planted']})")
    for name, figures in report["precision_by_alert_typology"].items():
        console.print(
            f"  alerted {name}: precision {figures['precision']:.3f} ({figures['suspicious']}/{figures['alerted']})"
        )


@app.command()
def bench(
    people: Annotated[int, typer.Option(help="Customers in the synthetic bank (3,700 make 400,000+ tx).")] = 3700,
    days: Annotated[int, typer.Option(help="Days of activity (at least 63).")] = 120,
    stream: Annotated[int, typer.Option(help="Transactions decided one at a time by the streaming engine.")] = 50_000,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 11,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Batch throughput (tx/s) and streaming decision latency (p50, p99 ms)."""
    import numpy as np

    from consortia.apps.aml.domain.monitoring.engine import scan as run_scan
    from consortia.apps.aml.domain.monitoring.frame import transactions_of
    from consortia.apps.aml.domain.monitoring.streaming import StreamingEngine

    rules = _rules(None, as_json)
    with _progress(as_json) as progress:
        progress.add_task(f"generating {people:,} customers over {days} days", total=None)
        dataset = _dataset(seed, people, days, as_json)
        frame = dataset.frame.drop("is_sar", "alert_id", "typology")
        progress.add_task(f"batch scan of {frame.height:,} transactions", total=None)
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run_scan(frame, rules)
        batch_seconds = time.perf_counter() - started
        batch_cpu = time.process_time() - cpu_started
        transactions = transactions_of(frame.head(stream))
        task = progress.add_task("streaming decisions", total=len(transactions))
        engine = StreamingEngine(rules)
        latencies = np.empty(len(transactions))
        for i, tx in enumerate(transactions):
            begin = time.perf_counter()
            engine.decide(tx)
            latencies[i] = time.perf_counter() - begin
            if i % 5000 == 0:
                progress.update(task, completed=i)
    report = {
        "batch": {
            "transactions": frame.height,
            "alerts": len(result.alerts),
            "seconds": round(batch_seconds, 3),
            "tx_per_s": round(frame.height / batch_seconds),
            # CPU time of this process (all its threads): what the scan costs when the machine is shared.
            "cpu_seconds": round(batch_cpu, 3),
            "tx_per_cpu_s": round(frame.height / batch_cpu) if batch_cpu > 0 else None,
        },
        "streaming": {
            "transactions": len(transactions),
            "p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 4),
            "p99_ms": round(float(np.percentile(latencies, 99)) * 1000, 4),
            "max_ms": round(float(latencies.max()) * 1000, 3) if len(latencies) else None,
        },
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if as_json:
        print_json(report)
        return
    b, s = report["batch"], report["streaming"]
    console.print(
        f"batch: {b['transactions']:,} transactions in {b['seconds']} s = {b['tx_per_s']:,} tx/s "
        f"({b['alerts']} alerts; {b['cpu_seconds']} s of CPU = {b['tx_per_cpu_s']:,} tx per CPU-second; load average "
        f"{report['load_average_1m']} on {report['cpus']} CPUs)"
    )
    console.print(f"streaming: {s['transactions']:,} decisions, p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms")


# -- cases and filings, from the ledger --------------------------------------------------------------------------
# ``sar``, ``ctr`` and ``cases`` read the bank's records through the contract, as the bank's program
# (``AtlanticBank/client``, its key in the data folder). A folder a running node holds (``consortia demo`` serving)
# cannot be opened beside it: give ``--server URL`` (or ``consortia --server URL aml …``) and the command asks the
# running node's API instead, signing each request with the same identity; without it, the command says so in one
# line (exit 2). A filing is validated against FinCEN's schema before it is written; an invalid one is never
# written and the error names the element.

SERVER_HELP = (
    "URL of the running node serving the data folder (e.g. http://127.0.0.1:8000); the command then asks its API "
    "(default: consortia --server)."
)


def _served(folder: Path) -> bool:
    """Whether a running node holds the data folder (it locks each ledger's history tree while it runs)."""
    import fcntl

    for level in sorted(folder.glob("**/history/level-00.hashes")):
        try:
            fd = os.open(level, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
    return False


def _server_url(ctx: typer.Context | None, server: str | None) -> str | None:
    if server:
        return server
    obj = ctx.find_root().obj if ctx is not None else None
    return (obj or {}).get("server") if isinstance(obj, dict) else None


class _Bank:
    """The bank's records, read locally through the service or remotely through a running node's API."""

    def __init__(self, service: Any = None, remote: Any = None) -> None:
        self.service = service
        self.remote = remote

    def evaluate(self, function: str, *args: Any) -> Any:
        from consortia.apps.aml.consortium import CHANNEL, CONTRACT

        if self.remote is not None:
            return self.remote.evaluate(CHANNEL, CONTRACT, function, list(args))
        return self.service.query(function, *args)


@contextmanager
def _bank(ctx: typer.Context | None, data: Path | None, server: str | None, command: str, as_json: bool):
    """The bank's records of ``--data``: through ``--server`` when given, else the folder opened here."""
    from consortia.apps.aml.consortium import BANK, CHANNEL, is_deployed
    from consortia.cli.common import data_dir, open_network

    folder = data_dir(data)
    url = _server_url(ctx, server)
    if url:
        from consortia.client.remote import RemoteClient
        from consortia.identity import SigningIdentity

        keys = folder / "crypto" / BANK / "users" / "client"
        try:
            identity = SigningIdentity.load(keys)
        except (OSError, ValueError):
            fail(f"no identity {BANK}/client in {folder} (looked in {keys}); give --data", 2, as_json=as_json)
        client = RemoteClient(url, identity)
        try:
            yield _Bank(remote=client)
        finally:
            client.close()
        return
    if (folder / "network.json").is_file() and _served(folder):
        fail(
            f"{folder} is in use by a running node: run '{command} --server URL --data {folder}' with the URL it "
            "serves on (e.g. http://127.0.0.1:8000)",
            2,
            as_json=as_json,
        )
    from consortia.apps.aml.service.aml import AmlService

    with open_network(data, channel=CHANNEL, init="consortia demo", as_json=as_json) as network:
        if not is_deployed(network):
            fail(f"the network in {folder} has no '{CHANNEL}' channel with the AML contract", as_json=as_json)
        yield _Bank(service=AmlService.as_user(network, BANK))


def _replayed(record: dict[str, Any]):  # -> domain Case
    from consortia.apps.aml.domain.cases import from_record, replay

    return replay([from_record(step["event"]) for step in record["steps"]])


def _write_filing(xml: bytes, form: str, out: Path, as_json: bool) -> str:
    """Validate ``xml`` against FinCEN's schema, then write it atomically; the SHA-256 of the bytes written."""
    from consortia.apps.aml.domain.filings import FilingError, SchemaUnavailable, filing_hash, validate

    try:
        validate(xml, form)
    except FilingError as exc:
        fail(f"not written: {exc}", 1, as_json=as_json, extra={"element": exc.element})
    except SchemaUnavailable as exc:
        fail(f"not written: {exc}", 2, as_json=as_json)
    _write_atomically(out, xml.decode("utf-8"))
    return filing_hash(xml)


def _guard(call, as_json: bool):  # -> the call's result; SDK and gateway errors become one line
    from consortia.apps.aml.service.aml import AmlError

    try:
        return call()
    except AmlError as exc:
        fail(str(exc), 1, as_json=as_json)
    except Exception as exc:  # a remote node's answer (RemoteError) or the SDK's: one line, no traceback
        if type(exc).__name__ in ("RemoteError", "GatewayError", "EndorsementFailed", "TransactionInvalid"):
            fail(str(exc), 1, as_json=as_json)
        raise


@app.command("cases")
def cases_command(
    ctx: typer.Context,
    data: Annotated[Path | None, typer.Option("--data", help=DATA_HELP)] = None,
    server: Annotated[str | None, typer.Option("--server", help=SERVER_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help='Print [{"id", "status", "decision", "accounts"}…].')] = False,
) -> None:
    """The bank's cases with their status, decision and accounts (read from the ledger, as the bank)."""
    from consortia.apps.aml.domain.cases import summary

    with _bank(ctx, data, server, "consortia aml cases", as_json) as bank:
        records = _guard(lambda: bank.evaluate("cases"), as_json)
    rows = []
    for record in records:
        row = summary(_replayed(record))
        rows.append({"id": row.id, "status": row.status, "decision": row.decision, "accounts": list(row.accounts)})
    rows.sort(key=lambda r: r["id"])
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("No cases.")
    for r in rows:
        console.print(f"{r['id']}  {r['status']:<18} {r['decision'] or '-':<7} {', '.join(r['accounts'])}")


@app.command("sar")
def sar_command(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(help="The case (C-…).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Write the SAR batch XML here.")],
    data: Annotated[Path | None, typer.Option("--data", help=DATA_HELP)] = None,
    server: Annotated[str | None, typer.Option("--server", help=SERVER_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Write a case's SAR (a BSA E-Filing batch, FormTypeCode SARX): the one filed, else — for a case decided SAR
    and not yet filed — the report as it would be filed today; validated before it is written."""
    from consortia.apps.aml.domain.filings import SAR

    with _bank(ctx, data, server, f"consortia aml sar {case_id} --out {out}", as_json) as bank:
        record = _guard(lambda: bank.evaluate("case", case_id), as_json)
        if record is None:
            fail(f"no case {case_id[:64]!r}: 'consortia aml cases' lists them", 1, as_json=as_json)
        sars = [f for f in record.get("filings", ()) if f["kind"] == "SAR"]
        filed = bool(sars)
        if filed:
            stored = _guard(lambda: bank.evaluate("filing", sars[-1]["hash"]), as_json)
            xml = stored["xml"].encode("utf-8")
        else:
            case = _replayed(record)
            if case.status.value != "sar_decided":
                fail(f"case {case_id} is {case.status.value}: no SAR to write", 1, as_json=as_json)
            if bank.service is None:
                fail(
                    f"case {case_id} has no SAR filed yet; file it on the BSA officer's page first", 1, as_json=as_json
                )
            preview = _guard(lambda: bank.service.sar_preview(case_id), as_json)
            if preview.xml is None:
                fail(f"not written: {preview.error}", 1, as_json=as_json, extra={"element": preview.element})
            xml = preview.xml
    digest = _write_filing(xml, SAR, out, as_json)
    if as_json:
        print_json({"case": case_id, "out": str(out), "sha256": digest, "filed": filed})
    else:
        console.print(
            f"SAR of case {case_id} ({'filed' if filed else 'not filed yet'}) written to {out}; sha256 {digest}"
        )


@app.command("ctr")
def ctr_command(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help="The account at the bank.", show_default=False)],
    day: Annotated[str, typer.Argument(help="The business day, YYYY-MM-DD (New York).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Write the CTR batch XML here.")],
    data: Annotated[Path | None, typer.Option("--data", help=DATA_HELP)] = None,
    server: Annotated[str | None, typer.Option("--server", help=SERVER_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Write the CTR (FormTypeCode CTRX) of an account's cash on one business day: the one filed, else the report
    as it would be filed today (only when cash in or out exceeds $10,000); validated before it is written."""
    from datetime import date

    from consortia.apps.aml.domain.filings import CTR

    try:
        when = date.fromisoformat(day)
    except ValueError:
        fail(f"day: expected YYYY-MM-DD, found {day[:20]!r}", 2, as_json=as_json)
    with _bank(ctx, data, server, f"consortia aml ctr {account} {day} --out {out}", as_json) as bank:
        filings = _guard(lambda: bank.evaluate("filings"), as_json)
        mine = [f for f in filings if f["kind"] == "CTR" and f["subject"] == f"{account}@{when.isoformat()}"]
        filed = bool(mine)
        if filed:
            xml = _guard(lambda: bank.evaluate("filing", mine[-1]["hash"]), as_json)["xml"].encode("utf-8")
        elif bank.service is None:
            fail(f"no CTR of {account} on {day} is filed; without --server the command builds one", 1, as_json=as_json)
        else:
            from consortia.apps.aml.domain.filings import FilingError

            try:
                xml = _guard(lambda: bank.service.ctr(account, when, file=False), as_json).xml
            except FilingError as exc:
                fail(f"not written: {exc}", 1, as_json=as_json, extra={"element": exc.element})
    digest = _write_filing(xml, CTR, out, as_json)
    if as_json:
        print_json({"account": account, "day": when.isoformat(), "out": str(out), "sha256": digest, "filed": filed})
    else:
        console.print(
            f"CTR of {account} on {day} ({'filed' if filed else 'not filed'}) written to {out}; sha256 {digest}"
        )
