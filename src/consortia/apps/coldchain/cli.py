"""``consortia coldchain …``: the cold chain from the command line.

Commands that touch the ledger open the embedded network in ``--data`` and act as ``--user`` of ``--org``. While
``consortia demo`` or ``consortia serve`` serves that folder, the node holds it: the commands that read it
(``trace``, ``fsma204``) and ``import-epcis`` then go through the running node's API with ``--server URL`` (or
``consortia --server URL coldchain …``), signing each request with the organisation's own identity from the data
folder; ``reading-proof`` reads a member peer's ledger read-only beside the node; without ``--server`` — and for
the commands that write the folder itself (``ingest``, ``simulate --register``) — they say in one line what to run
instead and exit with status 2. Every command
that prints results takes ``--json``; bad input ends with a message naming what is wrong and exit status 1
(rejected data) or 2 (bad usage), never a traceback.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from consortia.cli.common import (
    DATA_HELP,
    fail,
    folder_served,
    open_network,
    print_json,
    refuse_if_served,
    server_option,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from consortia.client.remote import RemoteClient
    from consortia.network.embedded import EmbeddedNetwork

SERVER_HELP = (
    "URL of the node serving --data (e.g. http://127.0.0.1:8000): read through its API while it runs "
    "(default: consortia --server)."
)

app = typer.Typer(
    name="coldchain",
    help="Seafood cold chain: EPCIS 2.0 capture and query, lots and trace, FSMA 204, sensors, freshness rules.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _data(data: Path | None) -> Path:
    from consortia.cli.common import data_dir

    return data_dir(data)


def _refuse_served(data: Path | None, command: str, *, as_json: bool = False, via_server: bool = True) -> None:
    """Exit 2 with one line saying what to run instead when a running node holds the folder."""
    folder = _data(data)
    if via_server:
        instead = f"'{command} --server URL --data {folder}' with the URL it serves on (e.g. http://127.0.0.1:8000)"
    else:
        instead = f"stop the server on {folder} (Ctrl-C), then '{command}' again"
    refuse_if_served(folder, instead, as_json=as_json)


@dataclass(frozen=True)
class RemoteContract:
    """The cold-chain contract through a running node's API, as ``--org``'s own identity (signed requests)."""

    client: RemoteClient

    def evaluate(self, function: str, *args: Any) -> Any:
        """Evaluate a query function of the contract on the node."""
        import consortia.apps.coldchain.consortium as consortium

        return self.client.evaluate(consortium.CHANNEL, consortium.CONTRACT, function, list(args))


@contextmanager
def _remote(url: str, data: Path | None, org: str, user: str, as_json: bool = False) -> Iterator[RemoteClient]:
    """A client of the node at ``url`` signing as ``org``/``user`` with the key in the data folder."""
    from consortia.client.remote import RemoteClient
    from consortia.identity import SigningIdentity

    folder = _data(data) / "crypto" / org / "users" / user
    try:
        identity = SigningIdentity.load(folder)
    except (OSError, ValueError):
        fail(
            f"no identity {org}/{user} in {_data(data)} (looked in {folder}); give --data and --org", 2, as_json=as_json
        )
    client = RemoteClient(url, identity)
    try:
        yield client
    finally:
        client.close()


@contextmanager
def _network(
    data: Path | None, as_json: bool = False, command: str = "", via_server: bool = False
) -> Iterator[EmbeddedNetwork]:
    """The network of ``--data`` (opened by the platform's :func:`~consortia.cli.common.open_network`), with the
    cold-chain contract deployed on its channel; a folder a running node holds is refused in one line."""
    import consortia.apps.coldchain.consortium as consortium

    _refuse_served(data, command or "the command", as_json=as_json, via_server=via_server)
    with open_network(data, channel=consortium.CHANNEL, init="consortia coldchain init", as_json=as_json) as network:
        if not consortium.is_deployed(network):
            fail(
                f"the network in {_data(data)} has no '{consortium.CHANNEL}' channel with the contract", as_json=as_json
            )
        yield network


@app.command()
def init(data: Path | None = typer.Option(None, "--data", help=DATA_HELP)) -> None:
    """Create a network holding only the cold-chain consortium and deploy its contract."""
    import consortia.apps.coldchain.consortium as consortium
    from consortia.network.embedded import EmbeddedNetwork

    folder = _data(data)
    if (folder / "network.json").is_file():
        fail(f"{folder} already holds a network; choose another --data")
    network = EmbeddedNetwork.create(folder, consortium.network_spec(passwords=True))
    try:
        consortium.deploy(network)
    finally:
        network.close()
    typer.echo(f"Created the cold-chain consortium in {folder} ({', '.join(consortium.ORGS)}).")


@app.command("import-epcis")
def import_epcis(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="EPCIS 2.0 JSON / JSON-LD documents."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    org: str = typer.Option("BusanFishMarket", "--org", help="Organisation capturing the events."),
    user: str = typer.Option("client", "--user", help="Identity of that organisation."),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Validate every document (schema, GS1 keys, units), then capture each one whole; nothing if any is invalid.

    A document is an EPCISDocument or an EPCISQueryDocument (a query's answer). Events the ledger already holds
    with the same event hash are reported as already captured, not captured again (exit 0); an eventID the ledger
    holds with other content refuses the document, naming both event hashes (exit 1).
    """
    from consortia.apps.coldchain.domain.document import DocumentRejected, read_document
    from consortia.apps.coldchain.domain.schema import SchemaUnavailable
    from consortia.apps.coldchain.service.capture import Capturer, contract_of
    from consortia.client.errors import GatewayError

    documents = []
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            fail(f"cannot read {path}: {exc.strerror or exc}", as_json=as_json, extra={"source": str(path)})
        try:
            documents.append(read_document(raw, str(path)))
        except DocumentRejected as exc:
            fail(str(exc), as_json=as_json, extra=exc.as_dict())
        except SchemaUnavailable as exc:
            fail(str(exc), as_json=as_json)
    url = server_option(ctx, server)
    if url:
        outcome = _capture_remote(url, data, org, user, files, as_json)
        _print_captured(len(documents), outcome, sum(d.sensor_reports for d in documents), as_json)
        return
    outcome = _Imported([], [])
    with _network(data, as_json, command="consortia coldchain import-epcis …", via_server=True) as network:
        try:
            capturer = Capturer(contract_of(network.gateway(org, user)))
        except Exception as exc:
            fail(f"cannot act as {org}/{user}: {exc}", 2, as_json=as_json)
        for document in documents:
            try:
                result = capturer.capture(document)
            except DocumentRejected as exc:
                fail(str(exc), as_json=as_json, extra={**exc.as_dict(), **outcome.before()})
            except GatewayError as exc:
                fail(f"{document.source}: {exc}", as_json=as_json, extra=outcome.before())
            outcome.event_ids.extend(result.captured_ids)
            outcome.already_captured.extend(
                {"source": document.source, "event_id": a.event_id, "tx_id": a.tx_id} for a in result.already_captured
            )
    _print_captured(len(documents), outcome, sum(d.sensor_reports for d in documents), as_json)


@dataclass(frozen=True)
class _Imported:
    """What an import did so far: the events it captured, and those the ledger already held (per event)."""

    event_ids: list[str]
    already_captured: list[dict[str, str | None]]

    def before(self) -> dict[str, Any]:
        """What was done before a failure (JSON, beside the error)."""
        return {"captured_before": self.event_ids, "already_captured": self.already_captured}


def _print_captured(documents: int, outcome: _Imported, sensor_reports: int, as_json: bool) -> None:
    summary = {
        "documents": documents,
        "events": len(outcome.event_ids),
        "sensor_reports": sensor_reports,
        "event_ids": outcome.event_ids,
        "already_captured": outcome.already_captured,
    }
    if as_json:
        print_json(summary)
        return
    text = f"Captured {summary['events']} events from {summary['documents']} documents"
    if outcome.already_captured:
        text += f"; {len(outcome.already_captured)} were already on the ledger with the same event hash"
    typer.echo(text + ".")


def _capture_remote(url: str, data: Path | None, org: str, user: str, files: list[Path], as_json: bool) -> _Imported:
    """Capture each document through the node's EPCIS capture interface; wait for each job to finish."""
    import time

    from consortia.client.remote import RemoteError
    from consortia.ledger.encoding import parse_json

    outcome = _Imported([], [])
    with _remote(url, data, org, user, as_json) as client:
        for path in files:
            try:
                job = client.request("POST", "/epcis/capture", parse_json(path.read_bytes()))
                deadline = time.monotonic() + 120
                while job.get("running") and time.monotonic() < deadline:
                    time.sleep(0.2)
                    job = client.get(f"/epcis/capture/{job['captureID']}")
            except RemoteError as exc:
                fail(f"{path}: {exc.message}", as_json=as_json, extra=outcome.before())
            if not job.get("success"):
                errors = job.get("errors") or [{"message": "the capture did not finish"}]
                fail(f"{path}: {errors[0].get('message')}", as_json=as_json, extra=outcome.before())
            outcome.event_ids.extend(job.get("eventIDs") or [])
            outcome.already_captured.extend(
                {"source": str(path), "event_id": a.get("eventID"), "tx_id": a.get("txID")}
                for a in job.get("already_captured") or []
            )
    return outcome


@app.command("event-hash")
def event_hash(
    file: Path = typer.Argument(..., help="An EPCIS 2.0 JSON / JSON-LD document."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
    prehash: bool = typer.Option(False, "--prehash", help="Print the canonical pre-hash strings instead."),
) -> None:
    """The CBV 2.0 event hash ID of each event of a document (EPCISDocument or EPCISQueryDocument), in order."""
    from consortia.apps.coldchain.domain import eventhash
    from consortia.apps.coldchain.domain.document import DocumentRejected, parse_json

    try:
        document = parse_json(file.read_bytes())
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}", as_json=as_json)
    except DocumentRejected as exc:
        fail(f"{file}: {exc}", as_json=as_json)
    if not isinstance(document, dict):
        fail(f"{file}: an EPCIS document is a JSON object, got {type(document).__name__}", as_json=as_json)
    events = eventhash.document_events(document)
    if not events or not all(isinstance(e, dict) for e in events):
        fail(
            f"{file}: no events: an EPCISDocument holds them in epcisBody.eventList, an EPCISQueryDocument in "
            f"epcisBody.queryResults.resultsBody.eventList (type here: {document.get('type')!r})",
            as_json=as_json,
        )
    # the document's own reading (its prefixes and ignoreFields), so an event hashes as GS1's generator hashes it
    values = eventhash.document_prehashes(document) if prehash else eventhash.document_hash_ids(document)
    if as_json:
        print_json(values)
    else:
        for value in values:
            typer.echo(value)


@app.command()
def trace(
    ctx: typer.Context,
    lot: str = typer.Argument(..., help="The lot: Digital Link (…/01/<gtin>/10/<lot>), LGTIN URI or <gtin>/<lot>."),
    direction: str = typer.Option("back", "--direction", help="back (to the landing) or forward (to retail lots)."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    org: str = typer.Option("BusanFishMarket", "--org", help="Organisation asking."),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """One-up / one-down trace of a lot through transformations."""
    from consortia.apps.coldchain.domain import gs1
    from consortia.apps.coldchain.service.capture import contract_of
    from consortia.client.errors import GatewayError

    if direction not in ("back", "forward"):
        fail("--direction must be 'back' or 'forward'", 2, as_json=as_json)
    try:
        lot_id = gs1.LotId.parse(lot)
    except gs1.GS1Error as exc:
        fail(str(exc), 2, as_json=as_json)
    url = server_option(ctx, server)
    if url:
        with _remote(url, data, org, "client", as_json) as client:
            try:
                result = RemoteContract(client).evaluate("trace", lot_id.key, direction)
            except GatewayError as exc:
                fail(exc.message, as_json=as_json)
    else:
        command = f"consortia coldchain trace {lot} --direction {direction}"
        with _network(data, as_json, command=command, via_server=True) as network:
            try:
                result = contract_of(network.gateway(org)).evaluate("trace", lot_id.key, direction)
            except GatewayError as exc:
                fail(exc.message, as_json=as_json)
    for key in ("lots", "ends"):
        result[key + "_uris"] = [gs1.LotId.from_key(x).canonical for x in result[key]]
    if as_json:
        print_json(result)
        return
    typer.echo(f"{direction} from {lot_id.canonical}:")
    for edge in result["edges"]:
        typer.echo(f"  {edge['from']} → {edge['to']} (transformation {edge['transformation']})")
    typer.echo("ends: " + ", ".join(result["ends_uris"]))


@app.command()
def fsma204(
    ctx: typer.Context,
    start: str = typer.Option(..., "--from", help="First day (YYYY-MM-DD), inclusive."),
    end: str = typer.Option(..., "--to", help="Last day (YYYY-MM-DD), inclusive."),
    out: Path = typer.Option(..., "--out", help="Output file: .csv or .xlsx."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    org: str = typer.Option("InspectionAgency", "--org", help="Organisation asking."),
    offset: str = typer.Option("+09:00", "--tz", help="Time zone of the day boundaries and of the times shown."),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
) -> None:
    """The FSMA 204 sortable spreadsheet of critical tracking events between two dates."""
    from consortia.apps.coldchain.domain.timestamps import TimestampError, check_offset
    from consortia.apps.coldchain.service import fsma204 as export

    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        fail("--from and --to take dates as YYYY-MM-DD", 2)
    if last < first:
        fail("--to is before --from", 2)
    if out.suffix.lower() not in (".csv", ".xlsx"):
        fail("--out must end in .csv or .xlsx", 2)
    try:
        check_offset(offset)
    except TimestampError as exc:
        fail(str(exc), 2)
    if not out.parent.is_dir():
        fail(f"--out {out}: the folder {out.parent} does not exist", 2)
    url = server_option(ctx, server)
    from consortia.client.errors import GatewayError

    try:
        if url:
            with _remote(url, data, org, "client") as client:
                rows = export.collect_from(RemoteContract(client), first, last, offset)
        else:
            command = f"consortia coldchain fsma204 --from {start} --to {end} --out {out}"
            with _network(data, command=command, via_server=True) as network:
                rows = export.collect(network.gateway(org), first, last, offset)
    except GatewayError as exc:
        fail(exc.message)
    export.write(rows, out)
    typer.echo(f"Wrote {len(rows)} rows to {out}.")


@app.command()
def assess(
    species: str = typer.Option(..., "--species", help="Species (mackerel, monkfish, or one from --species-file)."),
    readings: Path = typer.Option(..., "--readings", help="CSV with columns ts,celsius."),
    species_file: Path | None = typer.Option(None, "--species-file", help="JSON overriding species settings."),
    as_json: bool = typer.Option(False, "--json", help="Print the assessment as JSON."),
) -> None:
    """Temperature abuse (FDA chapter 7 limits) and remaining shelf life (RRS model) from a temperature history."""
    from consortia.apps.coldchain.domain import rules
    from consortia.apps.coldchain.domain import species as species_config

    try:
        table = species_config.load(species_file)
        settings = table.get(species)
    except species_config.SpeciesError as exc:
        fail(str(exc), 2, as_json=as_json)
    try:
        samples = rules.read_csv(readings)
    except rules.ReadingsError as exc:
        fail(str(exc), 1, as_json=as_json)
    result = rules.assess(samples, settings)
    if as_json:
        print_json(result.as_dict())
        return
    typer.echo(
        f"{settings.name}: {result.status}; remaining shelf life {result.remaining_shelf_life_days:.2f} days; "
        f"{result.hours_above_4_4c:.2f} h above 4.4 °C, {result.hours_above_21_1c:.2f} h above 21.1 °C"
    )
    for alarm in result.alarms:
        typer.echo(f"  ALARM {alarm.code}: {alarm.message}")


@app.command()
def qr(
    lot: str = typer.Argument(..., help="The lot: Digital Link, LGTIN URI or <gtin>/<lot>."),
    out: Path = typer.Option(..., "--out", help="Output file: .svg or .png."),
    resolver: str = typer.Option(
        "", "--resolver", help="Resolver base URL (default: the lot URI's own, or id.gs1.org)."
    ),
    scale: int = typer.Option(8, "--scale", min=1, max=64, help="Pixels (or SVG units) per module."),
) -> None:
    """Write the QR code of a lot's GS1 Digital Link (the consumer page)."""
    from consortia.apps.coldchain.web import qrcode

    if not out.parent.is_dir():
        fail(f"--out {out}: the folder {out.parent} does not exist (create it first)", 2)
    try:
        payload = qrcode.write(lot, out, resolver=resolver or None, scale=scale)
    except (ValueError, OSError) as exc:
        fail(str(exc), 2)
    typer.echo(f"Wrote {out}: {payload}")


@app.command()
def simulate(
    lots: int = typer.Option(2, "--lots", min=1, max=1000, help="Landing lots (each followed to retail)."),
    devices: int = typer.Option(4, "--devices", min=1, max=10_000, help="Temperature loggers."),
    hours: float = typer.Option(48.0, "--hours", min=0.1, max=24 * 60, help="Hours of simulated time."),
    rate: float = typer.Option(1.0, "--rate", min=0.01, max=600, help="Readings per device per minute."),
    broker: str = typer.Option("127.0.0.1:1883", "--broker", help="MQTT broker host:port."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP + " With --register, the lots are captured."),
    register: bool = typer.Option(False, "--register", help="Capture the lots' events and device associations first."),
    duplicates: float = typer.Option(0.01, "--duplicates", min=0, max=0.5, help="Share of readings sent twice."),
    disorder: float = typer.Option(0.01, "--disorder", min=0, max=0.5, help="Share of readings sent out of order."),
    seed: int = typer.Option(7, "--seed", help="Random seed (traces are reproducible)."),
    as_json: bool = typer.Option(False, "--json", help="Print what was published as JSON."),
) -> None:
    """Publish realistic temperature traces (boat ice, dock, reefer truck, retail display) with excursions."""
    from consortia.apps.coldchain.demo import simulate as sim
    from consortia.apps.coldchain.service.broker import parse_broker

    try:
        host, port = parse_broker(broker)
    except ValueError as exc:
        fail(str(exc), 2, as_json=as_json)
    plan = sim.plan(lots=lots, devices=devices, hours=hours, rate=rate, seed=seed)
    if register:
        with _network(data, as_json, command="consortia coldchain simulate --register …") as network:
            sim.register(network, plan)
    try:
        stats = sim.publish(plan, host, port, duplicates=duplicates, disorder=disorder, seed=seed)
    except OSError as exc:
        fail(f"cannot publish to the MQTT broker at {broker}: {exc}", as_json=as_json)
    if as_json:
        print_json(stats)
    else:
        typer.echo(
            f"Published {stats['published']} messages ({stats['readings']} readings, {stats['duplicates']} duplicates, "
            f"{stats['out_of_order']} out of order) from {stats['devices']} devices to {broker}."
        )


@app.command()
def ingest(
    broker: str = typer.Option("127.0.0.1:1883", "--broker", help="MQTT broker host:port."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    org: str = typer.Option("ColdLogistics", "--org", help="Organisation anchoring the batches."),
    window: int = typer.Option(300, "--window", min=1, max=86_400, help="Seconds per anchored batch."),
    seconds: float = typer.Option(0.0, "--seconds", min=0, help="Stop after this long (0: until Ctrl-C)."),
    as_json: bool = typer.Option(False, "--json", help="Print the counters as JSON at the end."),
) -> None:
    """Subscribe to the loggers' MQTT topics, store every reading, anchor batches on the ledger."""
    import time

    from consortia.apps.coldchain.service import ingest as ingestion
    from consortia.apps.coldchain.service.broker import parse_broker

    try:
        host, port = parse_broker(broker)
    except ValueError as exc:
        fail(str(exc), 2, as_json=as_json)
    with _network(data, as_json, command="consortia coldchain ingest …") as network:
        service = ingestion.IngestService.for_network(network, org=org, window_seconds=window)
        try:
            service.connect(host, port)
        except OSError as exc:
            fail(f"cannot connect to the MQTT broker at {broker}: {exc}", as_json=as_json)
        typer.echo(f"Ingesting from {broker} (window {window} s). Ctrl-C stops.", err=True)
        try:
            deadline = time.monotonic() + seconds if seconds else None
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            service.close()
    counters = service.counters()
    if as_json:
        print_json(counters)
    else:
        typer.echo(" ".join(f"{k}={v}" for k, v in counters.items()))


@app.command("reading-proof")
def reading_proof(
    device: str = typer.Argument(..., help="Device id as published on MQTT."),
    seq: int = typer.Argument(..., help="Sequence number of the reading."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the proof as JSON."),
) -> None:
    """A stored reading's inclusion proof in its anchored batch, with the anchoring transaction's proof; verified."""
    import consortia.apps.coldchain.consortium as consortium
    from consortia.apps.coldchain.service import proofs
    from consortia.apps.coldchain.service.store import ReadingStore

    folder = _data(data)
    if (folder / "network.json").is_file() and folder_served(folder) and proofs.store_path(folder).is_file():
        # A running node holds the folder: read its ledger read-only beside it (and the reading store, SQLite WAL).
        document = _reading_proof_read_only(folder, device, seq, as_json)
    else:
        with _network(data, as_json, command=f"consortia coldchain reading-proof {device} {seq}") as network:
            store = ReadingStore(proofs.store_path(folder))
            try:
                org = network.spec.channel(consortium.CHANNEL).orgs[0]
                peer_channel = network.peers[org].channel(consortium.CHANNEL)
                document = proofs.reading_proof(store, peer_channel, device, seq)
            except proofs.ProofError as exc:
                fail(str(exc), as_json=as_json)
            finally:
                store.close()
    steps = proofs.verify_reading_proof(document)
    document["verification"] = [{"name": s.name, "ok": s.ok, "detail": s.detail} for s in steps]
    document["verified"] = all(s.ok for s in steps)
    if as_json:
        print_json(document)
    else:
        for s in steps:
            typer.echo(f"{'✓' if s.ok else '✗'} {s.name} {s.detail}")
    if not document["verified"]:
        raise typer.Exit(1)


def _reading_proof_read_only(folder: Path, device: str, seq: int, as_json: bool) -> dict[str, Any]:
    """:func:`reading_proof` from a member peer's ledger opened read-only beside the node serving ``folder``."""
    import consortia.apps.coldchain.consortium as consortium
    from consortia.apps.coldchain.service import proofs
    from consortia.apps.coldchain.service.store import ReadingStore
    from consortia.peer.audit import find_ledgers

    ledgers = {  # peer nodes are named <org>.<peer>
        node.split(".", 1)[0]: path
        for node, channel, path, peer in find_ledgers(folder)
        if peer and channel == consortium.CHANNEL
    }
    org = next((o for o in consortium.ORGS if o in ledgers), None)
    if org is None:
        fail(f"the network in {folder} has no peer ledger of channel '{consortium.CHANNEL}'", as_json=as_json)
    view = proofs.LedgerView.open(ledgers[org], org)
    store = ReadingStore(proofs.store_path(folder))
    try:
        return proofs.reading_proof(store, view, device, seq)
    except proofs.ProofError as exc:
        fail(str(exc), as_json=as_json)
    finally:
        store.close()
        view.close()


@app.command()
def bench(
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    readings: int = typer.Option(200_000, "--readings", min=1000, max=10_000_000, help="Sensor readings to ingest."),
    devices: int = typer.Option(200, "--devices", min=1, max=100_000, help="Devices sending them."),
    events: int = typer.Option(5000, "--events", min=10, max=1_000_000, help="EPCIS events to capture."),
    per_document: int = typer.Option(100, "--per-document", min=1, max=5000, help="Events per captured document."),
    mqtt: bool = typer.Option(True, "--mqtt/--no-mqtt", help="Also measure ingestion through a Mosquitto broker."),
    keep: Path | None = typer.Option(None, "--data", help="Keep the benchmark network in this folder."),
) -> None:
    """Sensor readings ingested and anchored per second, and EPCIS events captured per second."""
    from consortia.apps.coldchain.service import bench as benchmark

    figures = benchmark.run(
        readings=readings, devices=devices, events=events, per_document=per_document, mqtt=mqtt, folder=keep
    )
    if as_json:
        print_json(figures)
        return
    for name, value in figures.items():
        typer.echo(f"{name}: {value}")
