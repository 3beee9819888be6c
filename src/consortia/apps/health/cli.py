"""``consortia health …``: risk equations, FHIR import, consent, reads, erasure, training and the benchmark.

Commands that touch the ledger act as ``--user`` of ``--org`` on the network in ``--data``, in one of two ways:

* **Embedded** (no ``--server``): they open the network in the folder themselves. Only one process can hold a
  folder's ledgers, so while ``consortia demo`` or ``consortia serve`` serves it they stop at once with exit
  status 2 and one line saying what to run instead (the same command with ``--server``).
* **Through the running node** (``--server URL``, or ``consortia --server URL health …``): a person logs in
  with their password (``--password`` or ``CONSORTIA_PASSWORD``) and the command calls the health API as that
  person, exactly as the pages do; a program — the health office's ingestion service for ``import-fhir``, the
  analysis service and the office registering and promoting a model for ``train`` — signs its own requests with
  its key from the folder, which the gateway checks and never substitutes.

Every command takes ``--json``; bad input ends with a message naming what is wrong and exit status 1 (rejected
data, refused access) or 2 (bad usage), never a traceback, and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import typer

from consortia.cli.common import DATA_HELP, data_dir, fail, print_json, refuse_if_served, server_option

if TYPE_CHECKING:
    import httpx

    from consortia.apps.health.service.health import HealthService
    from consortia.identity import SigningIdentity

SERVER_HELP = (
    "URL of the node serving --data (consortia demo or serve), e.g. http://127.0.0.1:8000: send the command "
    "through it (also: consortia --server URL health …)."
)

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


def _in_use_instead(instead: str) -> str:
    """What to run instead when a running node holds the folder."""
    return f"consortia --server http://127.0.0.1:8000 health {instead} (with that node's address)"


@contextmanager
def _service(data: Path | None, as_json: bool, instead: str = "COMMAND …") -> Iterator[HealthService]:
    """The health service over the embedded network in the folder; a folder a node serves is a one-line error."""
    from consortia.apps.health.consortium import CHANNEL
    from consortia.apps.health.service.health import HealthService
    from consortia.network.embedded import EmbeddedNetwork

    folder = data_dir(data)
    if not (folder / "network.json").is_file():
        fail(
            f"{folder} holds no Consortia network; run 'consortia health init --data {folder}' or "
            f"'consortia demo --data {folder}' first",
            as_json=as_json,
        )
    refuse_if_served(folder, _in_use_instead(instead), as_json=as_json)
    try:
        network = EmbeddedNetwork(folder)
    except Exception as exc:  # a damaged folder: say so instead of a traceback
        fail(f"cannot open the network in {folder}: {exc}", as_json=as_json)
    try:
        if CHANNEL not in {c.name for c in network.spec.channels}:
            fail(f"the network in {folder} has no '{CHANNEL}' channel", as_json=as_json)
        service = HealthService(network)
        try:
            yield service
        finally:
            service.store.close()
    finally:
        network.close()


# -- through a running node ----------------------------------------------------------------------------------


class Refused(Exception):
    """The node answered with a problem document: its status, code, message and any extra fields."""

    def __init__(self, status: int, code: str, message: str, extra: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


@dataclass(frozen=True)
class Session:
    """A person logged in to the running node's gateway: the health API called as them, as the pages do."""

    http: httpx.Client

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One API call; a problem document becomes :class:`Refused`."""
        import httpx

        try:
            response = self.http.request(method, path, json=body, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            raise Refused(0, "UNREACHABLE", f"cannot reach {self.http.base_url}: {exc}", {}) from None
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:200]}
            extra = {k: v for k, v in problem.items() if k not in ("type", "title", "status", "detail", "instance")}
            code = str(problem.get("code") or f"HTTP_{response.status_code}")
            raise Refused(response.status_code, code, str(problem.get("detail", "request failed")), extra)
        return response.json()


@contextmanager
def _session(url: str, org: str, user: str, password: str | None, as_json: bool) -> Iterator[Session]:
    """Log ``org/user`` in to the node at ``url`` with their password; refusals become one-line errors."""
    import httpx

    if not password and _is_terminal():
        password = typer.prompt(f"Password of {org}/{user}", hide_input=True)
    if not password:
        fail(f"{org}/{user} logs in to {url} with a password: give --password or set CONSORTIA_PASSWORD", 2,
             as_json=as_json)  # fmt: skip
    with httpx.Client(base_url=url.rstrip("/"), timeout=120.0) as http:
        try:
            login = http.post("/api/login", json={"username": f"{org}/{user}", "password": password})
        except httpx.HTTPError as exc:
            fail(f"cannot reach {url}: {exc}", as_json=as_json)
        if login.status_code != 200:
            fail(f"cannot log in to {url} as {org}/{user} (HTTP {login.status_code})", as_json=as_json)
        # The session cookie may be marked Secure (a browser sends it to localhost anyway); hand it on directly.
        cookies = [h.split(";", 1)[0] for h in login.headers.get_list("set-cookie")]
        http.headers["cookie"] = "; ".join(cookies)
        try:
            yield Session(http)
        except Refused as exc:
            fail(exc.message, as_json=as_json, extra={"code": exc.code, **exc.extra})


def _is_terminal() -> bool:
    import sys

    return sys.stdin.isatty()


def _program(data: Path | None, org: str, user: str, as_json: bool) -> SigningIdentity:
    """A program's own identity (its key file in the folder), to sign requests to the running node with."""
    from consortia.identity import SigningIdentity
    from consortia.network.bootstrap import user_dir

    folder = data_dir(data)
    try:
        return SigningIdentity.load(user_dir(folder, org, user))
    except (OSError, ValueError):
        fail(f"no key of the program {org}/{user} in {folder} (a person logs in with a password)", 2,
             as_json=as_json)  # fmt: skip


PASSWORD_HELP = "The person's wallet password (or set CONSORTIA_PASSWORD); programs need none."


def _asked(data: Path | None, org: str, user: str, password: str | None) -> str | None:
    """The password of a person (no key file in the folder), asked at a terminal when not given."""
    import sys

    from consortia.network.bootstrap import user_dir

    if password or (user_dir(data_dir(data), org, user) / "key.pem").is_file() or not sys.stdin.isatty():
        return password
    return typer.prompt(f"Password of {org}/{user}", hide_input=True)


def _identity(
    service: HealthService, org: str, user: str, as_json: bool, password: str | None = None
) -> SigningIdentity:
    from consortia.apps.health.service.health import HealthError

    password = _asked(service.network.directory, org, user, password)
    try:
        return service.identity(org, user, password)
    except HealthError as exc:
        fail(str(exc), 2, as_json=as_json)


@contextmanager
def _acting(
    data: Path | None, as_json: bool, org: str, user: str, password: str | None, instead: str = "COMMAND …"
) -> Iterator[tuple[HealthService, SigningIdentity]]:
    """The health service and the caller's identity; the service's refusals become clear command-line errors."""
    from consortia.apps.health.service.health import HealthError
    from consortia.client.errors import GatewayError

    with _service(data, as_json, instead) as service:
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
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A FHIR R4 Observation or Bundle (JSON)."),
    patient: str = typer.Option(..., "--patient", help="The patient's pseudonym (e.g. GW-0001)."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and normalise only; store nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Import blood-pressure and glucose Observations: normalise units, reject implausible ones, store the rest.

    With --server, the health office's ingestion service posts them to the running node (FHIR endpoint), signing
    with its own key from --data."""
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
    report: dict[str, Any] = {**parsed.report(), "stored": 0}
    url = server_option(ctx, server)
    if parsed.readings and not dry_run and url:
        report.update(_post_fhir(url, data, document, report, as_json))
    elif parsed.readings and not dry_run:
        with _service(data, as_json, f"import-fhir {file} --patient {patient} --data {data_dir(data)}") as service:
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


def _post_fhir(url: str, data: Path | None, document: Any, report: dict[str, Any], as_json: bool) -> dict[str, Any]:
    """Post a FHIR document to the running node as the health office's ingestion service; what it stored."""
    from consortia.apps.health.consortium import CUSTODIAN
    from consortia.client.remote import RemoteClient, RemoteError

    path = "/fhir" if isinstance(document, dict) and document.get("resourceType") == "Bundle" else "/fhir/Observation"
    client = RemoteClient(url, _program(data, CUSTODIAN, "client", as_json))
    try:
        answer = client.request("POST", path, document)
    except RemoteError as exc:
        fail(f"nothing was stored: {exc.message}", as_json=as_json, extra={**report, "code": exc.code})
    finally:
        client.close()
    return {k: answer[k] for k in ("stored", "batches", "alerts", "duplicates") if k in answer}


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
    ctx: typer.Context,
    to: str = typer.Option(..., "--to", help="Organisation, or Organisation/user, to grant access to."),
    purpose: list[str] = typer.Option(..., "--purpose", help="TREAT, CAREMGT or HRESCH (repeatable)."),
    data_class: list[str] = typer.Option([], "--class", help="blood-pressure, glucose, risk (default: all)."),
    end: str | None = typer.Option(None, "--until", help="End of the consent period (ISO date)."),
    user: str = typer.Option(..., "--user", help="The patient's user name (e.g. patient001)."),
    password: str | None = typer.Option(None, "--password", envvar="CONSORTIA_PASSWORD", help=PASSWORD_HELP),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A patient grants consent (FHIR R4 Consent on the ledger)."""
    from consortia.apps.health.consortium import CUSTODIAN

    purposes = [p.upper() for p in purpose]
    url = server_option(ctx, server)
    if url:
        with _session(url, CUSTODIAN, user, password, as_json) as session:
            body = {"actor": to, "purposes": purposes, "classes": data_class, "end": end}
            doc = session.call("POST", "/api/health/consents", body)
    else:
        named = " ".join(f"--purpose {p}" for p in purposes)
        instead = f"grant --to {to} {named} --user {user} --data {data_dir(data)}"
        with _acting(data, as_json, CUSTODIAN, user, password, instead) as (service, identity):
            doc = service.grant(identity, to, purposes, data_class, end=end)
    print_json(doc) if as_json else typer.echo(f"granted {doc['id']}")


@app.command()
def revoke(
    ctx: typer.Context,
    consent_id: str = typer.Argument(..., help="The consent to revoke."),
    user: str = typer.Option(..., "--user", help="The patient's user name."),
    password: str | None = typer.Option(None, "--password", envvar="CONSORTIA_PASSWORD", help=PASSWORD_HELP),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A patient revokes a consent; it takes effect for the next read."""
    from consortia.apps.health.consortium import CUSTODIAN

    url = server_option(ctx, server)
    if url:
        with _session(url, CUSTODIAN, user, password, as_json) as session:
            doc = session.call("POST", f"/api/health/consents/{quote(consent_id, safe='')}/revoke", {})
    else:
        instead = f"revoke {consent_id} --user {user} --data {data_dir(data)}"
        with _acting(data, as_json, CUSTODIAN, user, password, instead) as (service, identity):
            doc = service.revoke(identity, consent_id)
    print_json(doc) if as_json else typer.echo(f"revoked {consent_id}")


@app.command()
def read(
    ctx: typer.Context,
    patient: str = typer.Argument(..., help="The patient's pseudonym."),
    org: str = typer.Option(..., "--org", help="The reader's organisation."),
    user: str = typer.Option(..., "--user", help="The reader."),
    password: str | None = typer.Option(None, "--password", envvar="CONSORTIA_PASSWORD", help=PASSWORD_HELP),
    purpose: str = typer.Option("TREAT", "--purpose", help="TREAT, CAREMGT or HRESCH (patients: PATRQT)."),
    data_class: list[str] = typer.Option([], "--class", help="Data classes (default: all)."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Read a patient's records (consent checked and logged on the ledger)."""
    from consortia.apps.health.service.health import AccessRefused

    url = server_option(ctx, server)
    if url:
        with _session(url, org, user, password, as_json) as session:
            query = f"purpose={quote(purpose.upper())}&data_class={quote(','.join(data_class))}"
            try:
                body = session.call("GET", f"/api/health/patients/{quote(patient, safe='')}/readings?{query}")
            except Refused as exc:
                logged = {"access_id": exc.extra["access_id"], "logged": True} if exc.extra.get("access_id") else {}
                fail(exc.message, as_json=as_json, extra={"code": exc.code, **logged})
    else:
        instead = f"read {patient} --org {org} --user {user} --purpose {purpose.upper()} --data {data_dir(data)}"
        with _acting(data, as_json, org, user, password, instead) as (service, identity):
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
    print_json(body) if as_json else typer.echo(f"{len(body['readings'])} readings, {body['verified']} verified")


@app.command("access-log")
def access_log(
    ctx: typer.Context,
    patient: str = typer.Argument(..., help="The patient's pseudonym."),
    org: str = typer.Option("GangwonHealthOffice", "--org", help="The reader's organisation."),
    user: str = typer.Option(..., "--user", help="The patient (or a custodian officer)."),
    password: str | None = typer.Option(None, "--password", envvar="CONSORTIA_PASSWORD", help=PASSWORD_HELP),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Who read a patient's data, from the ledger, newest first."""
    url = server_option(ctx, server)
    if url:
        with _session(url, org, user, password, as_json) as session:
            entries = session.call("GET", f"/api/health/patients/{quote(patient, safe='')}/access-log")
    else:
        instead = f"access-log {patient} --org {org} --user {user} --data {data_dir(data)}"
        with _acting(data, as_json, org, user, password, instead) as (service, identity):
            entries = service.access_log(identity, patient)
    if as_json:
        print_json(entries)
        return
    for e in entries:
        who = e["accessor"] + (f" for {e['on_behalf']}" if e.get("on_behalf") else "")
        typer.echo(f"{e['at']}  {who:<32} {e['purpose']:<8} {e['decision']:<6} {e['tx_id']}")


@app.command()
def erase(
    ctx: typer.Context,
    patient: str = typer.Argument(..., help="The patient's pseudonym."),
    org: str = typer.Option("GangwonHealthOffice", "--org", help="The patient's or officer's organisation."),
    user: str = typer.Option(..., "--user", help="The patient, or a custodian officer."),
    password: str | None = typer.Option(None, "--password", envvar="CONSORTIA_PASSWORD", help=PASSWORD_HELP),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Erase a patient: purge keys on the ledger, destroy the vault key and ciphertexts (crypto-shredding)."""
    url = server_option(ctx, server)
    if url:
        with _session(url, org, user, password, as_json) as session:
            result = session.call("POST", f"/api/health/patients/{quote(patient, safe='')}/erase", {})
    else:
        instead = f"erase {patient} --org {org} --user {user} --data {data_dir(data)}"
        with _acting(data, as_json, org, user, password, instead) as (service, identity):
            result = service.erase(identity, patient)
    print_json(result) if as_json else typer.echo(f"erased {patient}: {result['records_deleted']} records shredded")


@app.command()
def alerts(
    ctx: typer.Context,
    org: str = typer.Option("GangwonCareCentre", "--org", help="The reader's organisation."),
    user: str = typer.Option("choi", "--user", help="A coordinator or clinician."),
    password: str | None = typer.Option(None, "--password", envvar="CONSORTIA_PASSWORD", help=PASSWORD_HELP),
    status: str = typer.Option("", "--status", help="open or acknowledged (default: all)."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Alerts recorded on the ledger, newest first."""
    url = server_option(ctx, server)
    if url:
        with _session(url, org, user, password, as_json) as session:
            rows = session.call("GET", f"/api/health/alerts?status={quote(status)}")
    else:
        instead = f"alerts --org {org} --user {user} --data {data_dir(data)}"
        with _acting(data, as_json, org, user, password, instead) as (service, identity):
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
    ctx: typer.Context,
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP + " The model is registered if it holds one."),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
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
    from consortia.apps.health.consortium import ANALYTICS, CUSTODIAN
    from consortia.apps.health.service import training
    from consortia.apps.health.service.dataset import DatasetError
    from consortia.client.errors import GatewayError

    folder = data_dir(data)
    has_network = (folder / "network.json").is_file()
    url = server_option(ctx, server)
    try:
        _, report, blob = training.train()
    except DatasetError as exc:
        fail(str(exc), as_json=as_json)
    target = out or (folder / "health" / "models" if has_network else Path("health-models"))
    report = training.save(report, blob, target)
    body = report.to_json()
    if register and has_network and url:
        # Through the running node: the analysis service registers, the health office promotes, each signing
        # with its own key; the node's service then finds the model file in this folder.
        from consortia.apps.health.service.health import registration

        record = _submit(url, _program(data, ANALYTICS, "client", as_json), "register_model", registration(report),
                         "the model was saved but not registered", as_json, body)  # fmt: skip
        body["registered"] = {"ledger": True, "at": record["registered"], "by": record["by"], "current": False}
        if promote:
            current = _submit(url, _program(data, CUSTODIAN, "client", as_json), "promote_model",
                              (report.name, report.version), "the model was registered but not made current",
                              as_json, body)  # fmt: skip
            body["registered"].update(current=True, promoted_by=current["by"])
    elif register and has_network:
        with _service(data, as_json, f"train --data {folder}") as service:
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
    ctx: typer.Context,
    version: str = typer.Argument(..., help="The registered version to make current (e.g. 1.0.0-1a2b3c4d)."),
    org: str = typer.Option("GangwonHealthOffice", "--org", help="The custodian (only it may promote)."),
    user: str = typer.Option("client", "--user", help="The custodian's service, an officer or its admin."),
    password: str | None = typer.Option(None, "--password", envvar="CONSORTIA_PASSWORD", help=PASSWORD_HELP),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    server: str | None = typer.Option(None, "--server", help=SERVER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Make a registered model version the current one (the health office); its file must match the hash."""
    from consortia.apps.health.service.training import NAME, ModelError, load

    url = server_option(ctx, server)
    if url:
        signer = _signer(data, org, user, password, as_json)
        current = _submit(url, signer, "promote_model", (NAME, version), f"{version} was not made current", as_json)
        try:  # the node loads this folder's file; say now if it will not be usable
            load(data_dir(data) / "health" / "models" / version / "model.joblib", current.get("sha256"))
            model: Any = True
        except ModelError as exc:
            fail(f"{version} is current on the ledger, but this folder's model file is not usable: {exc}",
                 as_json=as_json, extra=current)  # fmt: skip
    else:
        with _acting(data, as_json, org, user, password, f"promote-model {version} --data {data_dir(data)}") as (
            service,
            identity,
        ):
            current = service.promote_model(identity, NAME, version)
            try:
                model = service.current_model()
            except ModelError as exc:
                fail(f"{version} is current on the ledger, but this folder's model file is not usable: {exc}",
                     as_json=as_json, extra=current)  # fmt: skip
    body = {**current, "loaded": model is not None}
    print_json(body) if as_json else typer.echo(f"{NAME} {version} is the current model")


def _signer(data: Path | None, org: str, user: str, password: str | None, as_json: bool) -> SigningIdentity:
    """Who signs a request to the running node: a program with its key file, else a person from the folder's
    wallet (with the password)."""
    from consortia.identity.wallet import Wallet, WalletError
    from consortia.network.bootstrap import user_dir, wallet_dir

    if (user_dir(data_dir(data), org, user) / "key.pem").is_file() or not password:
        return _program(data, org, user, as_json)

    try:
        return Wallet(wallet_dir(data_dir(data))).login(f"{org}/{user}", password)[1]
    except WalletError as exc:
        fail(f"cannot log in as {org}/{user}: {exc}", 2, as_json=as_json)


def _submit(
    url: str,
    identity: SigningIdentity,
    function: str,
    args: tuple[Any, ...],
    failure: str,
    as_json: bool,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Submit one health-contract transaction through the running node, signed by ``identity``; its result."""
    from consortia.apps.health.consortium import CHANNEL, CONTRACT
    from consortia.client.remote import RemoteClient, RemoteError

    client = RemoteClient(url, identity)
    try:
        answer = client.submit(CHANNEL, CONTRACT, function, list(args))
    except RemoteError as exc:
        fail(f"{failure}: {exc.message}", as_json=as_json, extra={**(extra or {}), "code": exc.code})
    finally:
        client.close()
    if answer.get("validation_code") not in (None, "VALID"):
        fail(f"{failure}: the transaction is {answer['validation_code']}", as_json=as_json, extra=extra)
    return answer.get("result") or {}


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
