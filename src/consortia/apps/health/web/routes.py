"""The health application's part of the gateway service: FHIR endpoints, JSON API, alert stream and pages.

:func:`install` is what the platform calls through the plug-in hook. It adds

* ``POST /fhir/Observation`` and ``POST /fhir`` (a Bundle): FHIR R4 readings in (:mod:`..domain.fhir_import`), stored
  through the service; rejections come back as a FHIR ``OperationOutcome`` whose issues name the element path
  (``expression``). A patient may post only their own readings — the custodian's ingestion service seals and
  anchors them *on behalf of* the patient, which the contract checks and the patient's access log shows; the
  custodian's officers and its service post any patient's. An Observation whose ``identifier`` was stored before
  is not stored again: 200 with where it is, instead of 201.
* ``/api/health/…``: readings (a logged read), consents (grant, revoke), the access log and the proof of each
  entry, erasure, alerts (list, detail, acknowledge — consent as for the record — and
  ``/api/health/alerts/stream``: server-sent events for care staff), the risk calculator, CGM metrics and the
  registered model.
* Pages under ``/health`` (Korean and English, phone-first): the patient's own page — trends with target bands,
  risk gauge with its drivers, consent management, "who looked at my data" with a Verify button per entry
  (the platform's in-browser proof verifier, fed by this application's proof route, because the channel's
  blocks are readable through the explorer only by the health office's admins and auditors) — and, for care
  staff, the patients sorted by risk and open alerts (live) and one patient's history.

Who acts: a person is the session's principal and signs with their own identity. A program signs its requests
with its own certificate and acts as itself: the gateway holds no key for programs, so only an organisation's own
service identity (whose key the gateway holds) is served here; any other program is told to sign its own
proposals through the platform API. No service identity is ever substituted for a caller.

JSON bodies are decoded by the platform's ``parse_json`` (depth and number-length limits: 400, never a
RecursionError), and numbers in headers are ASCII digits only.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from consortia.apps.health.consortium import CHANNEL, CONTRACT, CUSTODIAN, ORGS
from consortia.apps.health.domain import cgm, i18n
from consortia.apps.health.domain import consent as consent_rules
from consortia.apps.health.domain.fhir_import import ParseResult, parse_document, parse_json_document
from consortia.apps.health.domain.loinc import DATA_CLASSES
from consortia.apps.health.domain.risk import UnknownModel, score
from consortia.apps.health.domain.riskfactors import RiskFactors, RiskInputError
from consortia.apps.health.service.health import AccessRefused, HealthError, HealthService, service_for
from consortia.apps.health.web import text as tx
from consortia.apps.health.web import views
from consortia.client.errors import GatewayError
from consortia.gateway.server.auth import SESSION_COOKIE, FormRefused, Principal, caller_of, principal_from_session
from consortia.gateway.server.auth import checked_form as session_form
from consortia.gateway.server.backend import Backend
from consortia.gateway.server.limits import ascii_int
from consortia.gateway.server.pages import SECURITY_HEADERS
from consortia.gateway.server.problems import Problem, problem_for, problem_response
from consortia.gateway.server.streams import block_event_stream, stream_key
from consortia.identity import SigningIdentity
from consortia.ledger.block import Block
from consortia.ledger.codes import Code
from consortia.ledger.encoding import encode
from consortia.ledger.proof import UnknownTransaction, build_consistency, build_transaction_proof, header_json

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
FHIR_TYPES = ("application/fhir+json", "application/json")
STAFF = ("clinician", "coordinator", "officer", "analyst")
TX_ID = re.compile(r"^[0-9a-f]{64}$")
SIGN_YOUR_OWN = (
    "{who} signed this request as a program, and a program acts as itself: this gateway holds no key for it and "
    "never substitutes its organisation's service identity. Sign your own proposals: POST "
    f"/api/channels/{CHANNEL}/contracts/{CONTRACT}/endorse with your signed proposal (personal values as "
    f"transient data), then POST /api/channels/{CHANNEL}/contracts/{CONTRACT}/submit with your signed envelope "
    f"(queries: POST /api/channels/{CHANNEL}/contracts/{CONTRACT}/evaluate with a signed_proposal)"
)


# -- who is calling -------------------------------------------------------------------------------------------


def acting(backend: Backend, principal: Principal | None) -> SigningIdentity:
    """The identity that signs for the caller (:meth:`Backend.acting_identity`: a person's own, or a program's
    own — never a borrowed one), once the caller may write to the channel; a program the gateway holds no key for
    is told how to sign its own proposals on this channel."""
    if principal is None:
        raise Problem(401, "log in or sign the request", code="UNAUTHENTICATED")
    backend.require_write(principal, CHANNEL)
    try:
        return backend.acting_identity(principal)
    except Problem as exc:
        if exc.code == "SIGN_YOUR_OWN":
            raise Problem(403, SIGN_YOUR_OWN.format(who=principal.id), code="SIGN_YOUR_OWN_PROPOSALS") from None
        raise


async def _json_body(request: Request, limit_types: tuple[str, ...] = ("application/json",)) -> Any:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in limit_types:
        raise Problem(415, f"send {' or '.join(limit_types)}", code="UNSUPPORTED_MEDIA_TYPE")
    try:
        return parse_json_document(await request.body())
    except ValueError as exc:
        raise Problem(400, str(exc), code="BAD_JSON") from None


def proof_of(backend: Backend, principal: Principal, tx_id: str) -> dict[str, Any]:
    """The platform's proof document of a health transaction (what the in-browser verifier checks)."""
    peer_channel = backend.peer_channel(CHANNEL, principal)
    try:
        return build_transaction_proof(peer_channel.ledger, tx_id, peer_channel.rules.config.orderer_cas())
    except UnknownTransaction as exc:
        raise Problem(404, str(exc), code="UNKNOWN_TRANSACTION") from None


def consistency_of(backend: Backend, principal: Principal, start: int, end: int) -> dict[str, Any]:
    """A consistency proof between two blocks' history trees (headers and hashes only: nothing personal)."""
    peer_channel = backend.peer_channel(CHANNEL, principal)
    height = peer_channel.height
    if not start <= end < height:
        raise Problem(400, f"need 0 ≤ from ≤ to < height ({height}), not from={start} to={end}", code="BAD_RANGE")
    first, last = peer_channel.ledger.block(start), peer_channel.ledger.block(end)
    proof = build_consistency(peer_channel.ledger.history, first.header.history_size, last.header.history_size)

    def signed(block: Block) -> dict[str, Any]:
        return {
            "header": header_json(block.header),
            "header_bytes": base64.b64encode(encode(block.header)).decode(),
            "signature": block.signature.hex(),
            "orderer_certificate": base64.b64encode(block.orderer).decode(),
        }

    return {"channel": CHANNEL, "from": signed(first), "to": signed(last), "proof": proof}


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


@dataclass(frozen=True)
class Storer:
    """Who anchors posted readings: the identity that signs, the only patient it may store for, whose behalf."""

    identity: SigningIdentity
    patient: str | None = None
    """The patient whose readings these must be (a patient posting their own); None: any patient."""
    on_behalf: str | None = None
    """The account the custodian's service acts for (recorded in the patient's access log)."""


def fhir_router(backend: Backend, service: HealthService) -> APIRouter:
    """``POST /fhir/Observation`` and ``POST /fhir``."""
    router = APIRouter(tags=["health: FHIR"])

    async def storer(principal: Principal) -> Storer:
        """Who stores the caller's readings, for which patient, on whose behalf — or a Problem saying why not."""
        if principal.role == "patient" and principal.org == CUSTODIAN:
            # The custodian's ingestion service seals and anchors a patient's own readings, on their behalf.
            try:
                if principal.identity is not None:
                    own = await run_in_threadpool(service.patient_of, principal.identity)
                else:
                    own = await run_in_threadpool(service.account_patient, principal.id)
            except (HealthError, GatewayError) as exc:
                raise Problem(403, f"{principal.id} is not an enrolled patient: {exc}", code="FORBIDDEN") from None
            if own is None:
                raise Problem(403, f"{principal.id} is not an enrolled patient", code="FORBIDDEN")
            return Storer(service.custodian(), own, principal.id)
        if principal.org == CUSTODIAN and principal.identity is not None and principal.role == "officer":
            return Storer(principal.identity)  # custodian staff store any patient's readings as themselves
        if principal.org == CUSTODIAN and principal.identity is None:
            return Storer(acting(backend, principal))  # the custodian's own service, signing as itself
        raise Problem(
            403,
            f"only patients (for their own readings) and the custodian {CUSTODIAN}'s officers and service may submit "
            f"readings, not {principal.id}",
            code="FORBIDDEN",
        )

    async def receive(request: Request, expect: str) -> Response:
        principal = await caller_of(request)
        if principal is None:
            raise Problem(401, "log in or sign the request", code="UNAUTHENTICATED")
        backend.require_write(principal, CHANNEL)
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
        who = await storer(principal)
        parsed = parse_document(document, who.patient)
        report: dict[str, Any] = {**parsed.report(), "stored": 0, "duplicates": []}
        status = 422
        if parsed.readings:
            try:
                result = await run_in_threadpool(
                    lambda: service.ingest(parsed.readings, who.identity, on_behalf=who.on_behalf)
                )
            except (HealthError, GatewayError) as exc:
                raise Problem(
                    409 if isinstance(exc, HealthError) else 400, f"nothing was stored: {exc}", code="NOT_STORED"
                ) from None
            report.update(
                stored=result.records,
                batches=result.batches,
                alerts=[a["id"] for a in result.alerts],
                duplicates=[d.to_json() for d in result.duplicates],
            )
            # Something new stored: 201. Everything already there (same identifiers): 200, with where it is.
            status = 201 if result.records else 200
        if parsed.rejected:
            report["outcome"] = operation_outcome(parsed)
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

    async def who(request: Request) -> tuple[Principal, SigningIdentity]:
        # caller_of applies the platform's rules, the JSON-only one for cookie-authenticated writes included.
        principal = await caller_of(request)
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
            raise problem_for(exc) from None

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
        _, identity = await who(request)
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
        _, identity = await who(request)
        return await call(service.revoke, identity, consent_id)

    @router.get("/patients/{patient}/access-log", summary="Who read a patient's data (the patient, an officer)")
    async def access_log(request: Request, patient: str) -> list:
        _, identity = await who(request)
        return await call(service.access_log, identity, patient)

    @router.get(
        "/patients/{patient}/access-log/{tx_id}/proof",
        summary="The ledger proof of one access-log entry's transaction (the patient, an officer)",
    )
    async def access_proof(request: Request, patient: str, tx_id: str) -> dict:
        principal, identity = await who(request)
        if not TX_ID.match(tx_id):
            raise Problem(400, f"a transaction id is 64 lowercase hex digits, not {tx_id!r}", code="BAD_TX_ID")
        entries = await call(service.access_log, identity, patient, 1000)  # the contract checks who may see it
        if tx_id not in {e["tx_id"] for e in entries}:
            raise Problem(404, f"transaction {tx_id} is not in patient {patient}'s access log", code="NOT_IN_LOG")
        return await run_in_threadpool(proof_of, backend, principal, tx_id)

    @router.get("/consistency", summary="Consistency proof between two blocks of the health channel (members)")
    async def consistency(
        request: Request, start: int = Query(..., alias="from", ge=0), end: int = Query(..., alias="to", ge=0)
    ) -> dict:
        principal, _ = await who(request)
        return await run_in_threadpool(consistency_of, backend, principal, start, end)

    @router.post("/patients/{patient}/erase", summary="Erase a patient (crypto-shredding)")
    async def erase(request: Request, patient: str) -> dict:
        _, identity = await who(request)
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
        last = ascii_int(request.headers.get("last-event-id"))
        start = last + 1 if last is not None else peer_channel.height
        slot = request.app.state.streams.acquire(stream_key(request, principal))
        lang = tx.language(
            request.query_params.get("lang"), request.cookies.get(i18n.COOKIE), request.headers.get("accept-language")
        )

        async def alerts_in(block_number: int, tx_id: str) -> list[dict[str, Any]]:
            # The alerts themselves are in the private collection: ask for those this viewer's consent covers.
            def fetch() -> list[dict[str, Any]]:
                service.sync(identity, org=service.reader_org(identity))
                return service.alerts_of(identity, tx_id)

            try:
                return await run_in_threadpool(fetch)
            except GatewayError as exc:
                log.info("alert stream: alerts of %s in block %d not shown: %s", tx_id, block_number, exc.message)
                return []

        async def render(event: Any) -> AsyncIterator[str]:
            for outcome in event.transactions:
                if outcome.contract != CONTRACT or outcome.code != Code.VALID:
                    continue
                if not any(e.name == "HealthAlert" for e in outcome.events):
                    continue
                for alert in await alerts_in(event.number, outcome.tx_id):
                    # What the page shows, said here in the viewer's language: the script only places it.
                    detail = alert.get("detail") or {}
                    alert["display"] = {
                        "title": tx.alert_kind(detail.get("kind", ""), lang),
                        "value": tx.alert_value(detail.get("value", ""), lang),
                        "at": tx.when(detail.get("at") or alert.get("raised") or "", lang),
                    }
                    yield f"id: {event.number}\nevent: alert\ndata: {json.dumps(alert, ensure_ascii=False)}\n\n"

        return block_event_stream(request, peer_channel, start, render, slot)

    @router.get("/alerts/{alert_id}", summary="An alert with its details (consent permitting)")
    async def alert_detail(request: Request, alert_id: str) -> dict:
        _, identity = await who(request)
        return await call(service.alert_detail, identity, alert_id)

    @router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert")
    async def acknowledge(request: Request, alert_id: str) -> dict:
        _, identity = await who(request)
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
        from consortia.apps.health.domain.readings import parse_iso

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
        from consortia.apps.health.service.training import NAME

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
        return tx.language(
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
            "t": tx.table(lang),
            "other_lang": "en" if lang == "ko" else "ko",
            # The language switch links back here, unless "here" is an address too long to be one of ours.
            "path": request.url.path if len(request.url.path) <= 200 else "/health",
            **context,
        }
        response = templates.TemplateResponse(request, template, full, status_code=status)
        response.headers.update(SECURITY_HEADERS)
        if request.query_params.get("lang") in tx.CATALOGUE.languages:
            response.set_cookie(i18n.COOKIE, request.query_params["lang"], samesite="lax", max_age=365 * 86400)
        return response

    def to_login(request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    def wants_problem(request: Request) -> bool:
        """A program asking for JSON (problem details) rather than a person's browser (HTML, or anything)."""
        accept = request.headers.get("accept", "").lower()
        return "json" in accept and "text/html" not in accept

    def refused(
        request: Request, message: str, access_id: str | None, status: int = 403, code: str = "ACCESS_REFUSED"
    ) -> Response:
        """An error as a page for people — titled by what happened, in their language — or problem details."""
        if wants_problem(request):
            extra = {"access_id": access_id} if access_id else {}
            return problem_response(request, status, message, code, **extra)
        lang = lang_of(request)
        title = {404: "not_found_title", 403: "refused_title"}.get(status, "error_title")
        context = {"message": message, "access_id": access_id, "status": status, "title": tx.say(lang, title)}
        return render(request, "health_refused.html", context, status)

    def not_found(request: Request, patient: str) -> Response:
        """No such patient: a 404 that echoes the identifier only when it is short enough to be one."""
        shown = tx.shown_id(patient)

        def said(lang: str) -> str:
            return tx.say(lang, "not_found_patient", patient=shown) if shown else tx.say(lang, "not_found_patient_long")

        if wants_problem(request):
            return problem_response(request, 404, said("en"), "NOT_FOUND")
        return refused(request, said(lang_of(request)), None, 404, "NOT_FOUND")

    async def checked_form(request: Request) -> tuple[Principal, Any] | Response:
        principal, _ = session_principal(request)
        if principal is None:
            return to_login(request)
        try:
            form = await session_form(request)
        except FormRefused:
            return refused(request, tx.say(lang_of(request), "form_origin"), None)
        return principal, form

    def gateway_refusal(request: Request, exc: GatewayError, patient: str | None = None) -> Response:
        """A contract's refusal: "not found" for an unknown patient, else the refusal in the reader's words."""
        status = problem_for(exc).status
        if status == 404 and patient is not None:
            return not_found(request, patient)
        lang = lang_of(request)
        return refused(request, page_message(exc.message, lang), None, status, exc.code)

    def page_message(message: str, lang: str) -> str:
        """A service's English message for a page: as it is (capped) in English, by its meaning otherwise."""
        return message[:300] if lang == "en" else tx.reason(message, lang)

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
        lang = lang_of(request)
        try:
            context = await run_in_threadpool(views.patient_page, service, principal.identity, lang)
        except AccessRefused as exc:
            return refused(request, tx.reason(exc.reason, lang), exc.access_id)  # by meaning: no codes
        context.update(
            notice=views.notice(request.query_params.get("notice", ""), context["consents"], lang),
            # Whom a patient can give access to: the programme's organisations, not the holder of the record
            # itself nor any other organisation of the network.
            grantees=[{"id": org, "name": tx.org(org, lang)} for org in ORGS if org != CUSTODIAN],
            purposes=[{"code": p, "name": tx.purpose(p, lang)} for p in consent_rules.PURPOSES if p != "PATRQT"],
            classes=[{"code": c, "name": tx.data_class(c, lang)} for c in DATA_CLASSES],
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
        except HealthError as exc:
            return refused(request, page_message(str(exc), lang_of(request)), None, 400, "HEALTH_ERROR")
        except GatewayError as exc:
            return gateway_refusal(request, exc)
        return RedirectResponse(f"/health/me?notice=granted:{quote(doc['id'])}", status_code=303)

    @router.post("/health/consents/{consent_id}/revoke")
    async def revoke_form(request: Request, consent_id: str) -> Response:
        checked = await checked_form(request)
        if isinstance(checked, Response):
            return checked
        principal, _ = checked
        try:
            await run_in_threadpool(service.revoke, principal.identity, consent_id)
        except HealthError as exc:
            return refused(request, page_message(str(exc), lang_of(request)), None, 400, "HEALTH_ERROR")
        except GatewayError as exc:
            return gateway_refusal(request, exc)
        return RedirectResponse(f"/health/me?notice=revoked:{quote(consent_id)}", status_code=303)

    @router.get("/health/worklist")
    async def worklist(request: Request) -> Response:
        principal, _ = session_principal(request)
        if principal is None:
            return to_login(request)
        if principal.role not in STAFF or principal.identity is None:
            return refused(request, tx.say(lang_of(request), "staff_only"), None, 403, "FORBIDDEN")
        lang = lang_of(request)
        try:
            context = await run_in_threadpool(views.worklist_page, service, principal.identity, lang)
        except GatewayError as exc:
            return gateway_refusal(request, exc)
        return render(request, "health_worklist.html", context)

    @router.get("/health/patients/{patient}")
    async def history(request: Request, patient: str) -> Response:
        principal, _ = session_principal(request)
        if principal is None:
            return to_login(request)
        if principal.role not in STAFF or principal.identity is None:
            return refused(request, tx.say(lang_of(request), "staff_only"), None, 403, "FORBIDDEN")
        if tx.shown_id(patient) is None:
            return not_found(request, patient)  # no pseudonym is that long: nobody's record, nothing to log
        lang = lang_of(request)
        try:
            context = await run_in_threadpool(views.history_page, service, principal.identity, patient, lang)
        except AccessRefused as exc:
            return refused(request, tx.reason(exc.reason, lang), exc.access_id)  # by meaning: no codes
        except GatewayError as exc:
            return gateway_refusal(request, exc, patient)  # the status from the contract's code
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
            return gateway_refusal(request, exc)
        return RedirectResponse("/health/worklist", status_code=303)

    @router.get("/health/model")
    async def model_card(request: Request) -> Response:
        principal, _ = session_principal(request)
        if principal is None:
            return to_login(request)
        # The card is read only from the folder of a version of the registry's pattern, and only once the model
        # file there has the SHA-256 the ledger registered.
        card = await run_in_threadpool(service.model_card)
        lang = lang_of(request)
        own = card.translations.get(lang) if lang != "en" else card.card
        context = {
            "record": card.record,
            # The card in the page's language where the training wrote one, else the English original (marked so).
            "card_html": views.markdown(own or card.card),
            "card_lang": lang if own else "en",
            "problem": card.problem,
            "registered": tx.say(lang, "model_registered", when=tx.when(card.record["registered"], lang))
            if card.record
            else "",
        }
        return render(request, "health_model.html", context)

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
