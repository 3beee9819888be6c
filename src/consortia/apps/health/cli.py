"""``consortia health …``: risk equations, FHIR import, consent, reads, erasure, training and the benchmark.

Commands that touch the ledger open the embedded network in ``--data`` (stop a server using the same folder
first) and act as ``--user`` of ``--org``. Every command takes ``--json``; bad input ends with a message naming
what is wrong and exit status 1 (rejected data, refused access) or 2 (bad usage), never a traceback, and
nothing is stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from consortia.cli.common import DATA_HELP, data_dir, fail, open_network, print_json

if TYPE_CHECKING:
    from consortia.apps.health.service.health import HealthService
    from consortia.identity import SigningIdentity

app = typer.Typer(
    name="health",
    help="Chronic-disease care (Gangwon): consented BP and glucose records, alerts, risk equations, risk model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _yes_no(value: str, name: str, as_json: bool) -> bool:
    text = value.strip().lower()
    if text in ("yes", "y", "true", "1"):
        return True
    if text in ("no", "n", "false", "0"):
        return False
    fail(f"{name} must be yes or no, not {value!r}", 2, as_json=as_json)


@contextmanager
def _service(data: Path | None, as_json: bool) -> Iterator[HealthService]:
    from consortia.apps.health.consortium import CHANNEL
    from consortia.apps.health.service.health import HealthService

    with open_network(data, channel=CHANNEL, init="consortia health init", as_json=as_json) as network:
        service = HealthService(network)
        try:
            yield service
        finally:
            service.store.close()


PASSWORD_HELP = "The person's wallet password (or set CONSORTIA_PASSWORD); programs need none."


def _identity(
    service: HealthService, org: str, user: str, as_json: bool, password: str | None = None
) -> SigningIdentity:
    from consortia.apps.health.service.health import HealthError

    try:
        return service.identity(org, user, password)
    except HealthError as exc:
        fail(str(exc), 2, as_json=as_json)


@contextmanager
def _acting(
    data: Path | None, as_json: bool, org: str, user: str, password: str | None
) -> Iterator[tuple[HealthService, SigningIdentity]]:
    """The health service and the caller's identity; the service's refusals become clear command-line errors."""
    from consortia.apps.health.service.health import HealthError
    from consortia.client.errors import GatewayError

    with _service(data, as_json) as service:
        identity = _identity(service, org, user, as_json, password)
        try:
            yield service, identity
        except (HealthError, GatewayError) as exc:
            fail(str(exc), as_json=as_json)


# -- risk -----------------------------------------------------------------------------------------------------


@app.command("risk")
def risk_command(
    model: str = typer.Option("pce", "--model", help="pce (Goff 2013) or framingham (D'Agostino 2008)."),
    age: float = typer.Option(..., "--age", help="Age in years."),
    sex: str = typer.Option(..., "--sex", help="female or male."),
    race: str = typer.Option("white", "--race", help="white, african-american or other (PCE only)."),
    total_chol: float = typer.Option(..., "--total-chol", help="Total cholesterol, mg/dL."),
    hdl: float = typer.Option(..., "--hdl", help="HDL cholesterol, mg/dL."),
    sbp: float = typer.Option(..., "--sbp", help="Systolic blood pressure, mm Hg."),
    bp_treated: str = typer.Option("no", "--bp-treated", help="yes or no."),
    smoker: str = typer.Option("no", "--smoker", help="yes or no."),
    diabetes: str = typer.Option("no", "--diabetes", help="yes or no."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """10-year cardiovascular risk by a published equation, with warnings and the factors that drive it."""
    from consortia.apps.health.domain.risk import UnknownModel, score
    from consortia.apps.health.domain.riskfactors import RiskFactors, RiskInputError

    treated = _yes_no(bp_treated, "--bp-treated", as_json)
    smokes = _yes_no(smoker, "--smoker", as_json)
    diabetic = _yes_no(diabetes, "--diabetes", as_json)
    try:
        factors = RiskFactors(age, sex.lower(), race.lower(), total_chol, hdl, sbp, treated, smokes, diabetic)  # type: ignore[arg-type]
        result = score(model.lower(), factors)
    except RiskInputError as exc:
        fail(f"--{exc.field.replace('_', '-')}: {exc.message}", 2, as_json=as_json, extra={"field": exc.field})
    except UnknownModel as exc:
        fail(f"--model: {exc}", 2, as_json=as_json)
    body = result.to_json()
    if as_json:
        print_json(body)
        return
    typer.echo(f"{result.title}: 10-year risk {body['risk_percent']:.1f} %")
    for driver in body["drivers"]:
        typer.echo(
            f"  {driver['factor']}: {driver['value']} (optimal {driver['optimal']}) adds "
            f"{100 * driver['contribution']:.1f} points"
        )
    for warning in body["warnings"]:
        typer.echo(f"  warning: {warning}")


# -- FHIR import ----------------------------------------------------------------------------------------------


@app.command("import-fhir")
def import_fhir(
    file: Path = typer.Argument(..., help="A FHIR R4 Observation or Bundle (JSON)."),
    patient: str = typer.Option(..., "--patient", help="The patient's pseudonym (e.g. GW-0001)."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and normalise only; store nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Import blood-pressure and glucose Observations: normalise units, reject implausible ones, store the rest."""
    from consortia.apps.health.domain.fhir_import import parse_document, parse_json_document
    from consortia.apps.health.service.health import HealthError
    from consortia.client.errors import GatewayError

    try:
        raw = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}", 2, as_json=as_json)
    try:
        document = parse_json_document(raw)
    except ValueError as exc:
        fail(
            f"{file}: {exc}",
            as_json=as_json,
            extra={"observations": 0, "rejected": [{"path": "$", "reason": str(exc)}], "items": []},
        )
    parsed = parse_document(document, patient)
    report = {**parsed.report(), "stored": 0}
    if parsed.readings and not dry_run:
        with _service(data, as_json) as service:
            try:
                result = service.ingest(parsed.readings)
            except (HealthError, GatewayError) as exc:
                fail(f"nothing was stored: {exc}", as_json=as_json, extra=report)
        report.update(
            stored=result.records,
            batches=result.batches,
            alerts=result.alerts,
            duplicates=[d.to_json() for d in result.duplicates],
        )
    if as_json:
        print_json(report)
    else:
        typer.echo(
            f"{report['observations']} observation(s), {len(parsed.readings)} accepted, "
            f"{len(parsed.rejected)} rejected, {report['stored']} stored"
        )
        for rejection in report["rejected"]:
            typer.echo(f"  rejected {rejection['path']}: {rejection['reason']}")
    if parsed.rejected:
        raise typer.Exit(1)


# -- set-up, consent, reads, erasure --------------------------------------------------------------------------


@app.command()
def init(
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    patients: int = typer.Option(3, "--patients", min=1, max=999, help="Patient identities to issue."),
) -> None:
    """Create a network holding only the health consortium, deploy the contract and enrol the patients."""
    from consortia.apps.health.consortium import ORGS, channel_spec, demo_accounts, deploy, org_specs
    from consortia.apps.health.service.health import HealthService
    from consortia.network.embedded import EmbeddedNetwork
    from consortia.network.spec import NetworkSpec

    folder = data_dir(data)
    if (folder / "network.json").is_file():
        fail(f"{folder} already holds a network; choose another --data", 2)
    spec = NetworkSpec(orgs=org_specs(patients), channels=(channel_spec(),))
    network = EmbeddedNetwork.create(folder, spec)
    try:
        deploy(network)
        service = HealthService(network)
        accounts = demo_accounts(patients)
        service.enroll(list(accounts), accounts)
        service.store.close()
    finally:
        network.close()
    typer.echo(f"Created the health consortium in {folder} ({', '.join(ORGS)}), {patients} patients.")


@app.command()
def grant(
    to: str = typer.Option(..., "--to", help="Organisation, or Organisation/user, to grant access to."),
    purpose: list[str] = typer.Option(..., "--purpose", help="TREAT, CAREMGT or HRESCH (repeatable)."),
    data_class: list[str] = typer.Option([], "--class", help="blood-pressure, glucose, risk (default: all)."),
    end: str | None = typer.Option(None, "--until", help="End of the consent period (ISO date)."),
    user: str = typer.Option(..., "--user", help="The patient's user name (e.g. patient001)."),
    password: str | None = typer.Option(None, "--password", envvar="CONSORTIA_PASSWORD", help=PASSWORD_HELP),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A patient grants consent (FHIR R4 Consent on the ledger)."""
    from consortia.apps.health.consortium import CUSTODIAN

    with _acting(data, as_json, CUSTODIAN, user, password) as (service, identity):
        doc = service.grant(identity, to, [p.upper() for p in purpose], data_class, end=end)
    print_json(doc) if as_json else typer.echo(f"granted {doc['id']}")


@app.command()
def revoke(
    consent_id: str = typer.Argument(..., help="The consent to revoke."),
    user: str = typer.Option(..., "--user", help="The patient's user name."),
    password: str | None = typer.Option(None, "--password", envvar="CONSORTIA_PASSWORD", help=PASSWORD_HELP),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A patient revokes a consent; it takes effect for the next read."""
    from consortia.apps.health.consortium import CUSTODIAN

    with _acting(data, as_json, CUSTODIAN, user, password) as (service, identity):
        doc = service.revoke(identity, consent_id)
    print_json(doc) if as_json else typer.echo(f"revoked {consent_id}")


@app.command()
def read(
    patient: str = typer.Argument(..., help="The patient's pseudonym."),
    org: str = typer.Option(..., "--org", help="The reader's organisation."),
    user: str = typer.Option(..., "--user", help="The reader."),
    password: str | None = typer.Option(None, "--password", envvar="CONSORTIA_PASSWORD", help=PASSWORD_HELP),
    purpose: str = typer.Option("TREAT", "--purpose", help="TREAT, CAREMGT or HRESCH (patients: PATRQT)."),
    data_class: list[str] = typer.Option([], "--class", help="Data classes (default: all)."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Read a patient's records (consent checked and logged on the ledger)."""
    from consortia.apps.health.service.health import AccessRefused

    with _acting(data, as_json, org, user, password) as (service, identity):
        try:
            result = service.read(identity, patient, purpose.upper(), data_class)
        except AccessRefused as exc:
            fail(str(exc), as_json=as_json, extra={"access_id": exc.access_id, "logged": True})
    body = {
        "patient": patient,
        "access_id": result.access_id,
        "verified": result.verified,
        "readings": [r.summary() for r in result.readings],
        "documents": result.documents,
    }
    print_json(body) if as_json else typer.echo(f"{len(result.readings)} readings, {result.verified} verified")


@app.command("access-log")
def access_log(
    patient: str = typer.Argument(..., help="The patient's pseudonym."),
    org: str = typer.Option("GangwonHealthOffice", "--org", help="The reader's organisation."),
    user: str = typer.Option(..., "--user", help="The patient (or a custodian officer)."),
    password: str | None = typer.Option(None, "--password", envvar="CONSORTIA_PASSWORD", help=PASSWORD_HELP),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Who read a patient's data, from the ledger, newest first."""
    with _acting(data, as_json, org, user, password) as (service, identity):
        entries = service.access_log(identity, patient)
    if as_json:
        print_json(entries)
        return
    for e in entries:
        who = e["accessor"] + (f" for {e['on_behalf']}" if e.get("on_behalf") else "")
        typer.echo(f"{e['at']}  {who:<32} {e['purpose']:<8} {e['decision']:<6} {e['tx_id']}")


@app.command()
def erase(
    patient: str = typer.Argument(..., help="The patient's pseudonym."),
    org: str = typer.Option("GangwonHealthOffice", "--org", help="The patient's or officer's organisation."),
    user: str = typer.Option(..., "--user", help="The patient, or a custodian officer."),
    password: str | None = typer.Option(None, "--password", envvar="CONSORTIA_PASSWORD", help=PASSWORD_HELP),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Erase a patient: purge keys on the ledger, destroy the vault key and ciphertexts (crypto-shredding)."""
    with _acting(data, as_json, org, user, password) as (service, identity):
        result = service.erase(identity, patient)
    print_json(result) if as_json else typer.echo(f"erased {patient}: {result['records_deleted']} records shredded")


@app.command()
def alerts(
    org: str = typer.Option("GangwonCareCentre", "--org", help="The reader's organisation."),
    user: str = typer.Option("choi", "--user", help="A coordinator or clinician."),
    password: str | None = typer.Option(None, "--password", envvar="CONSORTIA_PASSWORD", help=PASSWORD_HELP),
    status: str = typer.Option("", "--status", help="open or acknowledged (default: all)."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Alerts recorded on the ledger, newest first."""
    with _acting(data, as_json, org, user, password) as (service, identity):
        rows = service.alerts(identity, status)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        typer.echo(f"{row['raised']}  {row['severity']:<8} {row['patient']}  {row['class']:<15} {row['status']}")


# -- CGM ------------------------------------------------------------------------------------------------------


@app.command()
def cgm(
    file: Path = typer.Argument(..., help="CSV of 'time,glucose' (ISO 8601 with zone, mg/dL) or a FHIR Bundle."),
    patient: str = typer.Option("unknown", "--patient", help="Patient pseudonym (for a Bundle)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """CGM metrics of a glucose series (2019 consensus): TIR, TBR, TAR, mean, GMI, CV, data sufficiency."""
    import csv
    import io

    from consortia.apps.health.domain.cgm import metrics
    from consortia.apps.health.domain.fhir_import import parse_document, parse_json_document
    from consortia.apps.health.domain.readings import parse_iso

    try:
        raw = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}", 2, as_json=as_json)
    times, values = [], []
    if raw.lstrip().startswith(b"{"):
        try:
            parsed = parse_document(parse_json_document(raw), patient)
        except ValueError as exc:
            fail(f"{file}: {exc}", as_json=as_json)
        if parsed.rejected:
            fail(
                f"{file}: {len(parsed.rejected)} rejected observation(s)",
                as_json=as_json,
                extra={"rejected": [r.to_json() for r in parsed.rejected]},
            )
        glucose = [r for r in parsed.readings if r.kind == "glucose"]
        times, values = [r.effective for r in glucose], [r.value for r in glucose]
    else:
        text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
        for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            if not row or (number == 1 and not row[0][:1].isdigit()):
                continue
            try:
                when, value = parse_iso(row[0].strip()), float(row[1])
            except (IndexError, ValueError) as exc:
                fail(f"{file} line {number}: expected 'time,glucose' ({exc})", as_json=as_json)
            if not 10 <= value <= 1000 or when.tzinfo is None:
                fail(f"{file} line {number}: glucose {value:g} mg/dL is not plausible", as_json=as_json)
            times.append(when)
            values.append(value)
    if not values:
        fail(f"{file} holds no glucose values", as_json=as_json)
    result = metrics(times, values).to_json()
    if as_json:
        print_json(result)
    else:
        typer.echo(", ".join(f"{k} {v}" for k, v in result.items() if k != "meets_targets"))


# -- model and benchmark --------------------------------------------------------------------------------------


@app.command()
def train(
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP + " The model is registered if it holds one."),
    out: Path | None = typer.Option(None, "--out", help="Where to write the model (default: DATA/health/models)."),
    register: bool = typer.Option(True, "--register/--no-register", help="Register the model hash on the ledger."),
    promote: bool = typer.Option(
        True,
        "--promote/--no-promote",
        help="Then make it the current model, as the custodian's service (only the health office may).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Train the CHD risk model on the Framingham teaching cohort; report AUC and Brier beside the equation.

    The analysis service registers the model's hash and version; only the custodian makes a version current.
    """
    from consortia.apps.health.consortium import ANALYTICS
    from consortia.apps.health.service import training
    from consortia.apps.health.service.dataset import DatasetError
    from consortia.client.errors import GatewayError

    folder = data_dir(data)
    has_network = (folder / "network.json").is_file()
    try:
        _, report, blob = training.train()
    except DatasetError as exc:
        fail(str(exc), as_json=as_json)
    target = out or (folder / "health" / "models" if has_network else Path("health-models"))
    report = training.save(report, blob, target)
    body = report.to_json()
    if register and has_network:
        with _service(data, as_json) as service:
            try:
                record = service.register_model(service.identity(ANALYTICS, "client"), report)
            except GatewayError as exc:
                fail(f"the model was saved but not registered: {exc}", as_json=as_json, extra=body)
            body["registered"] = {"ledger": True, "at": record["registered"], "by": record["by"], "current": False}
            if promote:
                try:
                    current = service.promote_model(service.custodian(), report.name, report.version)
                except GatewayError as exc:
                    fail(f"the model was registered but not made current: {exc}", as_json=as_json, extra=body)
                body["registered"].update(current=True, promoted_by=current["by"])
    else:
        body["registered"] = {"ledger": False}
    if as_json:
        print_json(body)
        return
    model, eq = body["held_out"]["model"], body["held_out"]["framingham_2008_equation"]
    typer.echo(f"{report.name} {report.version} ({report.estimator}) sha256 {report.sha256}")
    typer.echo(f"  held-out model:    AUC {model['roc_auc']:.3f}  Brier {model['brier']:.4f}")
    typer.echo(f"  Framingham 2008:   AUC {eq['roc_auc']:.3f}  Brier {eq['brier']:.4f}")
    typer.echo(f"  model card: {report.files['model_card']}")
    if body["registered"].get("current"):
        typer.echo(f"  current model (made current by {body['registered']['promoted_by']})")


@app.command("promote-model")
def promote_model(
    version: str = typer.Argument(..., help="The registered version to make current (e.g. 1.0.0-1a2b3c4d)."),
    org: str = typer.Option("GangwonHealthOffice", "--org", help="The custodian (only it may promote)."),
    user: str = typer.Option("client", "--user", help="The custodian's service, an officer or its admin."),
    password: str | None = typer.Option(None, "--password", envvar="CONSORTIA_PASSWORD", help=PASSWORD_HELP),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Make a registered model version the current one (the health office); its file must match the hash."""
    from consortia.apps.health.service.training import NAME, ModelError

    with _acting(data, as_json, org, user, password) as (service, identity):
        current = service.promote_model(identity, NAME, version)
        try:
            model = service.current_model()
        except ModelError as exc:
            fail(f"{version} is current on the ledger, but this folder's model file is not usable: {exc}",
                  as_json=as_json, extra=current)  # fmt: skip
    body = {**current, "loaded": model is not None}
    print_json(body) if as_json else typer.echo(f"{NAME} {version} is the current model")


@app.command()
def bench(
    patients: int = typer.Option(450_000, "--patients", min=1, max=2_000_000, help="Patients to simulate."),
    readings_per_day: float = typer.Option(6.0, "--readings-per-day", min=1, max=100, help="Readings per patient."),
    batch: int = typer.Option(20_000, "--batch", min=100, max=1_000_000, help="Records per anchored batch."),
    data: Path | None = typer.Option(None, "--data", help="Scratch folder (default: a temporary one, removed)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Ingest one day of readings for N patients (sealed, stored, anchored) and score every patient's risk."""
    from consortia.apps.health.service.bench import BenchError, run

    try:
        result = run(patients, readings_per_day, batch, data)
    except BenchError as exc:
        fail(str(exc), 2, as_json=as_json)
    if as_json:
        print_json(result)
        return
    for key, value in result.items():
        typer.echo(f"{key}: {value}")
