"""The health application's part of the gateway service: FHIR endpoints, JSON API, alert stream and pages.

:func:`install` is what the platform calls through the plug-in hook. It adds

* ``POST /fhir/Observation`` and ``POST /fhir`` (a Bundle): FHIR R4 readings in (:mod:`.fhir_import`), stored
  through the service; rejections come back as a FHIR ``OperationOutcome`` whose issues name the element path
  (``expression``). A patient may post only their own readings; the custodian's staff and programs any patient's.
* ``/api/health/…``: readings (a logged read), consents (grant, revoke), the access log, erasure, alerts (list,
  detail, acknowledge, and ``/api/health/alerts/stream``: server-sent events for coordinators), the risk
  calculator, CGM metrics and the registered model.
* Pages under ``/health`` (Korean and English, phone-first): the patient's own page — trends with target bands,
  risk gauge with its drivers, consent management, "who looked at my data" with a Verify button per entry
  (the platform's in-browser proof verifier) — and, for care staff, the patients sorted by risk and open alerts
  (live) and one patient's history.

People are the session's principal and sign with their own identity; programs sign their requests and, having
no key on the server, act through their organisation's service identity (as the platform's other apps do).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from consortia.apps.health import cgm, i18n, views
from consortia.apps.health import consent as consent_rules
from consortia.apps.health.consortium import CHANNEL, CONTRACT, CUSTODIAN
from consortia.apps.health.fhir_import import ParseResult, parse_document, parse_json_document
from consortia.apps.health.loinc import DATA_CLASSES
from consortia.apps.health.risk import UnknownModel, score
from consortia.apps.health.riskfactors import RiskFactors, RiskInputError
from consortia.apps.health.service import AccessRefused, HealthError, HealthService, service_for
from consortia.gateway.sdk import GatewayError
from consortia.gateway.server import auth
from consortia.gateway.server.auth import SESSION_COOKIE, AuthError, Principal, principal_from_session
from consortia.gateway.server.backend import Backend
from consortia.gateway.server.pages import SECURITY_HEADERS
from consortia.gateway.server.problems import Problem
from consortia.identity import SigningIdentity
from consortia.ledger.codes import Code

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
FHIR_TYPES = ("application/fhir+json", "application/json")
STAFF = ("clinician", "coordinator", "officer", "analyst")


# -- who is calling -------------------------------------------------------------------------------------------


async def principal_of(request: Request, backend: Backend) -> Principal | None:
    """The caller: a program signing its request, a logged-in person, or None."""
    try:
        return await auth.principal_of(request, backend.members, getattr(request.app.state, "sessions", None))
    except AuthError as exc:
        raise Problem(401, exc.message, code="BAD_REQUEST_SIGNATURE") from None


def acting(backend: Backend, principal: Principal | None) -> SigningIdentity:
    """The identity that signs for the caller: a person's own, or a program's organisation's service identity."""
    if principal is None:
        raise Problem(401, "log in or sign the request", code="UNAUTHENTICATED")
    backend.require_write(principal, CHANNEL)
    if principal.identity is not None:
        return principal.identity
    try:
        return backend.network.identity(principal.org, "client")
    except (OSError, ValueError):
        raise Problem(
            503, f"{principal.org} has no service identity on this gateway", code="NO_SERVICE_IDENTITY"
        ) from None


def _gateway_problem(exc: GatewayError) -> Problem:
    status = 403 if "only" in exc.message or "may not" in exc.message else 400
    if exc.code in ("UNKNOWN_CONTRACT", "NO_PEER", "NO_ENDORSERS"):
        status = 503
    return Problem(status, exc.message, code=exc.code)


async def _json_body(request: Request, limit_types: tuple[str, ...] = ("application/json",)) -> Any:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in limit_types:
        raise Problem(415, f"send {' or '.join(limit_types)}", code="UNSUPPORTED_MEDIA_TYPE")
    try:
        return parse_json_document(await request.body())
    except ValueError as exc:
        raise Problem(400, str(exc), code="BAD_JSON") from None


# -- FHIR -----------------------------------------------------------------------------------------------------


def operation_outcome(parsed: ParseResult) -> dict[str, Any]:
    """A FHIR OperationOutcome listing each rejection with its element path."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "invalid" if "plausible" not in r.reason else "value",
                "diagnostics": r.reason,
                "expression": [r.path],
            }
            for r in parsed.rejected
        ],
    }


def fhir_router(backend: Backend, service: HealthService) -> APIRouter:
    """``POST /fhir/Observation`` and ``POST /fhir``."""
    router = APIRouter(tags=["health: FHIR"])

    async def receive(request: Request, expect: str) -> Response:
        principal = await principal_of(request, backend)
        acting(backend, principal)  # a member of the channel (401/403 otherwise)
        assert principal is not None
        document = await _json_body(request, FHIR_TYPES)
        if not isinstance(document, dict) or document.get("resourceType") != expect:
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [
                    {
                        "severity": "error",
                        "code": "structure",
                        "diagnostics": f"expected a {expect}",
                        "expression": ["resourceType"],
                    }
                ],
            }
            return JSONResponse(outcome, status_code=422, media_type="application/fhir+json")
        own = principal.attributes.get("patient_id") if principal.role == "patient" else None
        if own is None and principal.org != CUSTODIAN:
            raise Problem(403, f"only patients and the custodian ({CUSTODIAN}) may submit readings", code="FORBIDDEN")
        parsed = parse_document(document, own)
        report: dict[str, Any] = {**parsed.report(), "stored": 0}
        if parsed.readings:
            try:
                # Readings are sealed and anchored by the custodian's service, whoever sent them.
                result = await run_in_threadpool(service.ingest, parsed.readings, service.custodian())
            except (HealthError, GatewayError) as exc:
                raise Problem(
                    409 if isinstance(exc, HealthError) else 400, f"nothing was stored: {exc}", code="NOT_STORED"
                ) from None
            report.update(stored=result.records, batches=result.batches, alerts=[a["id"] for a in result.alerts])
        if parsed.rejected:
            report["outcome"] = operation_outcome(parsed)
        status = 201 if parsed.readings else 422
        return JSONResponse(report, status_code=status)

    @router.post("/fhir/Observation", summary="Import one FHIR R4 Observation (blood pressure, glucose, CGM)")
    async def post_observation(request: Request) -> Response:
        return await receive(request, "Observation")

    @router.post("/fhir", summary="Import a FHIR R4 Bundle of Observations (transaction: all or nothing)")
    async def post_bundle(request: Request) -> Response:
        return await receive(request, "Bundle")

    return router


# -- JSON API -------------------------------------------------------------------------------------------------


def api_router(backend: Backend, service: HealthService) -> APIRouter:
    """``/api/health/…``."""
    router = APIRouter(prefix="/api/health", tags=["health"])

    async def who(request: Request, write: bool = False) -> tuple[Principal, SigningIdentity]:
        principal = await principal_of(request, backend)
        if write and principal is not None and principal.via == "session":
            kind = request.headers.get("content-type", "")
            if not kind.startswith("application/json"):
                raise Problem(415, "send JSON (Content-Type: application/json)", code="JSON_REQUIRED")
        identity = acting(backend, principal)
        assert principal is not None
        return principal, identity

    async def call(function: Any, *args: Any) -> Any:
        try:
            return await run_in_threadpool(function, *args)
        except AccessRefused as exc:
            raise Problem(403, str(exc), code="ACCESS_REFUSED", access_id=exc.access_id) from None
        except HealthError as exc:
            raise Problem(400, str(exc), code="HEALTH_ERROR") from None
        except GatewayError as exc:
            raise _gateway_problem(exc) from None

    @router.get("/patients/{patient}/readings", summary="A patient's readings (consent checked and logged)")
    async def readings(request: Request, patient: str, purpose: str = "TREAT", data_class: str = "") -> dict:
        principal, identity = await who(request)
        if principal.role == "patient":
            purpose = consent_rules.PATRQT
        classes = [c for c in data_class.split(",") if c]
        if any(c not in DATA_CLASSES for c in classes):
            raise Problem(400, f"data_class must be among {', '.join(DATA_CLASSES)}", code="BAD_CLASS")
        data = await call(service.read, identity, patient, purpose.upper(), classes)
        return {
            "patient": patient,
            "access_id": data.access_id,
            "verified": data.verified,
            "readings": [r.summary() for r in data.readings],
            "documents": data.documents,
        }

    @router.get("/patients/{patient}/consents", summary="A patient's FHIR Consent resources")
    async def consents(request: Request, patient: str) -> list:
        _, identity = await who(request)
        return await call(service.consents, identity, patient)

    @router.post("/consents", summary="The logged-in patient grants consent")
    async def grant(request: Request) -> dict:
        _, identity = await who(request, write=True)
        body = await _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("actor"), str):
            raise Problem(400, "give actor (Org or Org/user), purposes and optionally classes and end", code="BAD_CALL")
        purposes = body.get("purposes") or []
        classes = body.get("classes") or []
        if not isinstance(purposes, list) or not isinstance(classes, list):
            raise Problem(400, "purposes and classes must be lists", code="BAD_CALL")
        return await call(lambda: service.grant(identity, body["actor"], purposes, classes, end=body.get("end")))

    @router.post("/consents/{consent_id}/revoke", summary="The logged-in patient revokes a consent")
    async def revoke(request: Request, consent_id: str) -> dict:
        _, identity = await who(request, write=True)
        return await call(service.revoke, identity, consent_id)

    @router.get("/patients/{patient}/access-log", summary="Who read a patient's data (the patient, an officer)")
    async def access_log(request: Request, patient: str) -> list:
        _, identity = await who(request)
        return await call(service.access_log, identity, patient)

    @router.post("/patients/{patient}/erase", summary="Erase a patient (crypto-shredding)")
    async def erase(request: Request, patient: str) -> dict:
        _, identity = await who(request, write=True)
        return await call(service.erase, identity, patient)

    @router.get("/alerts", summary="Alerts, newest first")
    async def alerts(request: Request, status: str = "") -> list:
        _, identity = await who(request)
        return await call(service.alerts, identity, status)

    @router.get("/alerts/stream", summary="Server-sent events: new alerts with their details (consent permitting)")
    async def alert_stream(request: Request) -> Response:
        principal, identity = await who(request)
        if principal.role not in STAFF:
            raise Problem(403, "only care staff may follow alerts", code="FORBIDDEN")
        peer_channel = backend.peer_channel(CHANNEL, principal)
        last = request.headers.get("last-event-id")
        start = int(last) + 1 if last and last.isdigit() else peer_channel.height

        def stream() -> Iterator[str]:
            yield "retry: 2000\n\n"
            for block in peer_channel.block_events(start, timeout=15.0):
                for outcome in block.transactions:
                    if outcome.contract != CONTRACT or outcome.code != Code.VALID:
                        continue
                    for event in outcome.events:
                        if event.name != "HealthAlert":
                            continue
                        public = json.loads(event.payload)
                        try:
                            detail = service.alert_detail(identity, public["id"])
                        except GatewayError:
                            continue  # no consent for this patient: the coordinator is not told
                        data = {**public, **detail, "tx_id": outcome.tx_id}
                        yield f"id: {block.number}\nevent: alert\ndata: {json.dumps(data)}\n\n"
            yield ": idle, reconnect to resume\n\n"

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    @router.get("/alerts/{alert_id}", summary="An alert with its details (consent permitting)")
    async def alert_detail(request: Request, alert_id: str) -> dict:
        _, identity = await who(request)
        return await call(service.alert_detail, identity, alert_id)

    @router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert")
    async def acknowledge(request: Request, alert_id: str) -> dict:
        _, identity = await who(request, write=True)
        body = await _json_body(request)
        note = body.get("note", "") if isinstance(body, dict) else ""
        return await call(service.acknowledge, identity, alert_id, str(note))

    @router.post("/risk", summary="10-year risk by the Pooled Cohort Equations or Framingham 2008 (no login)")
    async def risk_calculator(request: Request) -> dict:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise Problem(400, "send a JSON object of risk factors", code="BAD_CALL")
        try:
            factors = RiskFactors(
                **{
                    k: body[k]
                    for k in ("age", "sex", "race", "total_chol", "hdl", "sbp", "bp_treated", "smoker", "diabetes")
                }
            )
            return score(str(body.get("model", "pce")), factors).to_json()
        except KeyError as exc:
            raise Problem(400, f"missing field {exc.args[0]}", code="BAD_CALL", field=exc.args[0]) from None
        except TypeError as exc:
            raise Problem(400, str(exc), code="BAD_CALL") from None
        except RiskInputError as exc:
            raise Problem(400, str(exc), code="BAD_VALUE", field=exc.field) from None
        except UnknownModel as exc:
            raise Problem(400, str(exc), code="BAD_MODEL") from None

    @router.post("/cgm", summary="CGM metrics of a glucose series (2019 consensus)")
    async def cgm_metrics(request: Request) -> dict:
        body = await _json_body(request)
        from consortia.apps.health.readings import parse_iso

        try:
            times = [parse_iso(t) for t in body["times"]]
            values = [float(v) for v in body["values"]]
            return cgm.metrics(times, values).to_json()
        except (KeyError, TypeError, ValueError) as exc:
            raise Problem(
                400, f"give times (ISO 8601) and values (mg/dL) of equal length: {exc}", code="BAD_CALL"
            ) from None

    @router.get("/model", summary="The registered risk model (hash, version, metrics)")
    async def model(request: Request) -> dict:
        _, identity = await who(request)
        from consortia.apps.health.training import NAME

        record = await call(service.evaluate, identity, "model", NAME, "")
        if record is None:
            raise Problem(404, "no model is registered yet (consortia health train)", code="NO_MODEL")
        return record

    return router


# -- pages ----------------------------------------------------------------------------------------------------


def pages_router(backend: Backend, service: HealthService, templates: Jinja2Templates) -> APIRouter:
    """The ``/health`` pages."""
    router = APIRouter(include_in_schema=False)

    def lang_of(request: Request) -> str:
        return i18n.language(
            request.query_params.get("lang"), request.cookies.get(i18n.COOKIE), request.headers.get("accept-language")
        )

    def session_principal(request: Request) -> tuple[Principal | None, str]:
        sessions = request.app.state.sessions
        session = sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is None:
            return None, ""
        return principal_from_session(session), session.csrf

    def render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
        lang = lang_of(request)
        principal, csrf = session_principal(request)
        full = {
            "principal": principal,
            "csrf": csrf,
            "lang": lang,
            "t": i18n.strings(lang),
            "other_lang": "en" if lang == "ko" else "ko",
            "path": request.url.path,
            **context,
        }
        response = templates.TemplateResponse(request, template, full, status_code=status)
        response.headers.update(SECURITY_HEADERS)
        if request.query_params.get("lang") in i18n.LANGUAGES:
            response.set_cookie(i18n.COOKIE, request.query_params["lang"], samesite="lax", max_age=365 * 86400)
        return response

    def to_login(request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    def refused(request: Request, message: str, access_id: str | None, status: int = 403) -> Response:
        return render(request, "health_refused.html", {"message": message, "access_id": access_id}, status)

    async def checked_form(request: Request) -> tuple[Principal, Any] | Response:
        principal, csrf = session_principal(request)
        if principal is None:
            return to_login(request)
        form = await request.form()
        origin = request.headers.get("origin")
        same_origin = origin is None or urlsplit(origin).netloc == request.headers.get("host", "")
        sent = str(form.get("csrf") or "")
        if not same_origin or not secrets.compare_digest(sent.encode(), csrf.encode()):
            return refused(request, "This form must be sent from this site.", None)
        return principal, form

    @router.get("/health")
    async def home(request: Request) -> Response:
        principal, _ = session_principal(request)
        if principal is None:
            return to_login(request)
        if principal.role == "patient":
            return RedirectResponse("/health/me", status_code=303)
        return RedirectResponse("/health/worklist", status_code=303)

    @router.get("/health/me")
    async def me(request: Request) -> Response:
        principal, _ = session_principal(request)
        if principal is None:
            return to_login(request)
        if principal.role != "patient" or principal.identity is None:
            return RedirectResponse("/health/worklist", status_code=303)
        text = i18n.strings(lang_of(request))
        try:
            context = await run_in_threadpool(views.patient_page, service, principal.identity, lang_of(request), text)
        except AccessRefused as exc:
            return refused(request, exc.reason, exc.access_id)
        context.update(
            notice=request.query_params.get("notice", ""),
            orgs=backend.orgs(),
            purposes=consent_rules.PURPOSES,
            classes=DATA_CLASSES,
        )
        return render(request, "health_patient.html", context)

    @router.post("/health/consents")
    async def grant_form(request: Request) -> Response:
        checked = await checked_form(request)
        if isinstance(checked, Response):
            return checked
        principal, form = checked
        actor = str(form.get("actor") or "")
        purpose = str(form.get("purpose") or "")
        classes = [str(c) for c in form.getlist("class") if c]
        try:
            doc = await run_in_threadpool(service.grant, principal.identity, actor, [purpose], classes)
        except (HealthError, GatewayError) as exc:
            message = exc.message if isinstance(exc, GatewayError) else str(exc)
            return refused(request, message, None, 400)
        return RedirectResponse(f"/health/me?notice=granted:{quote(doc['id'])}", status_code=303)

    @router.post("/health/consents/{consent_id}/revoke")
    async def revoke_form(request: Request, consent_id: str) -> Response:
        checked = await checked_form(request)
        if isinstance(checked, Response):
            return checked
        principal, _ = checked
        try:
            await run_in_threadpool(service.revoke, principal.identity, consent_id)
        except (HealthError, GatewayError) as exc:
            message = exc.message if isinstance(exc, GatewayError) else str(exc)
            return refused(request, message, None, 400)
        return RedirectResponse(f"/health/me?notice=revoked:{quote(consent_id)}", status_code=303)

    @router.get("/health/worklist")
    async def worklist(request: Request) -> Response:
        principal, _ = session_principal(request)
        if principal is None:
            return to_login(request)
        if principal.role not in STAFF or principal.identity is None:
            return refused(request, "This page is for care staff.", None)
        text = i18n.strings(lang_of(request))
        try:
            context = await run_in_threadpool(views.worklist_page, service, principal.identity, text)
        except GatewayError as exc:
            return refused(request, exc.message, None)
        return render(request, "health_worklist.html", context)

    @router.get("/health/patients/{patient}")
    async def history(request: Request, patient: str) -> Response:
        principal, _ = session_principal(request)
        if principal is None:
            return to_login(request)
        if principal.role not in STAFF or principal.identity is None:
            return refused(request, "This page is for care staff.", None)
        text = i18n.strings(lang_of(request))
        try:
            context = await run_in_threadpool(views.history_page, service, principal.identity, patient, text)
        except AccessRefused as exc:
            return refused(request, exc.reason, exc.access_id)
        except GatewayError as exc:
            return refused(request, exc.message, None, 404 if "not enrolled" in exc.message else 403)
        return render(request, "health_history.html", context)

    @router.post("/health/alerts/{alert_id}/ack")
    async def acknowledge_form(request: Request, alert_id: str) -> Response:
        checked = await checked_form(request)
        if isinstance(checked, Response):
            return checked
        principal, _ = checked
        try:
            await run_in_threadpool(service.acknowledge, principal.identity, alert_id, "")
        except GatewayError as exc:
            return refused(request, exc.message, None, 400)
        return RedirectResponse("/health/worklist", status_code=303)

    @router.get("/health/model")
    async def model_card(request: Request) -> Response:
        principal, _ = session_principal(request)
        if principal is None:
            return to_login(request)
        from consortia.apps.health.training import NAME

        record = await run_in_threadpool(service.evaluate, service.custodian(), "model", NAME, "")
        card = ""
        if record is not None:
            path = service.models_dir / record["version"] / "MODEL_CARD.md"
            card = path.read_text() if path.is_file() else ""
        return render(request, "health_model.html", {"record": record, "card": card})

    return router


def install(app: FastAPI, backend: Backend) -> None:
    """Add the health routes, pages and static files to a gateway service (if the network has the channel)."""
    if CHANNEL not in backend.channel_names():
        return
    service = service_for(backend.network)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["quote"] = lambda value: quote(str(value), safe="")
    app.mount("/health/static", StaticFiles(directory=str(HERE / "static")), name="health-static")
    app.include_router(fhir_router(backend, service))
    app.include_router(api_router(backend, service))
    app.include_router(pages_router(backend, service, templates))
