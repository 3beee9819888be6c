"""The AML pages in the gateway service: the bank's analysts and BSA officer, the exchanges, and the examiner.

:func:`install` is what the platform calls through the plug-in hook. Under ``/aml``:

* ``/aml/alerts`` — the analyst's queue: every alert with its typology by name, score, status and when it was
  raised (New York time, the zone named), filtered by typology, lowest score, status and date; account-policy
  violations (a non-USD or non-US transaction the contract refused) are in the same queue.
* ``/aml/alerts/{id}`` — one alert: its rule hits in words (what each rule saw, its weight, its source), the
  transactions behind it, and its counterparty graph over time (:mod:`.graph`); an analyst opens a case from it.
* ``/aml/cases`` and ``/aml/cases/{id}`` — a case: alerts, assignment, notes, evidence, the suspect question, the
  BSA officer's decision with reasons, and the filing deadline counted down in New York days; every step a
  ledger record. ``/aml/cases/{id}/sar`` previews the SAR as a person reads it, ``…/sar.xml`` downloads the
  FinCEN XML, and the BSA officer files it from there.
* ``/aml/decisions`` — the BSA officer's decisions and deadlines, overdue first.
* ``/aml/audit`` — the examiner's audit trail: every step with its transaction, each proof verified in the
  browser by the platform's verifier (``/aml/records/{tx}/proof``, ``/aml/consistency``), and the examiner's own
  examination notes (the only thing an examiner writes).
* ``/aml/exchanges`` and ``/aml/exchanges/{exchange}`` — due diligence: each exchange's FinCEN MSB registration,
  EIN, state licences, beneficial owners, risk rating and enhanced reviews, what blocks approval, and the
  approvals (an analyst and the BSA officer, each their own signed transaction, on the same version of the record).
* ``/aml/accounts`` — the caller's accounts: an exchange's people see their own exchange's accounts only (the
  service and the contract decide; this page shows what they return) and never an alert about themselves.

**Who acts.** Each request builds an :class:`~consortia.apps.aml.service.aml.AmlService` for the caller (their own
key through ``backend.acting_identity``, never a borrowed one), so the contract decides what each may read and
write; the pages add what a person should see before the contract would refuse: the queue and cases for the
bank's staff and the examiner, decisions for the BSA officer, notes for the examiner.

**Errors.** A person (``Accept: text/html``) gets an error page — 401 with a way to log in and come back, 403
saying whose the data is, 404 naming what was looked for (cut short) — and a program RFC 9457 problem details
(:func:`consortia.gateway.server.problems.problem_response`). Forms are same-origin and carry the session's CSRF
token.
"""

from __future__ import annotations

import base64
import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from consortia.apps.aml.service.aml import AmlError, AmlService
from consortia.apps.aml.web import roles, views
from consortia.apps.aml.web.text import CATALOGUE, LANGUAGES, SWITCH_LABEL
from consortia.client.errors import GatewayError
from consortia.gateway.server.auth import FormRefused, Principal, caller_of, session_csrf
from consortia.gateway.server.auth import checked_form as session_form
from consortia.gateway.server.backend import Backend
from consortia.gateway.server.pages import SECURITY_HEADERS
from consortia.gateway.server.problems import Problem, problem_for, problem_response, wants_html
from consortia.ledger.block import Block
from consortia.ledger.encoding import encode
from consortia.ledger.proof import build_consistency, header_json
from consortia.ui.i18n import pick_language
from consortia.ui.timefmt import zone_label

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
LANG_COOKIE = "aml_lang"
ZONE = roles.ZONE
MAX_TEXT = 2000
TX_ID = re.compile(r"[0-9a-f]{64}")
SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,120}")
"""What an alert or case identifier may look like in a path (anything else is 'not found', never echoed whole)."""
T = TypeVar("T")

ServiceFactory = Callable[[Backend, Principal], Any]


def real_service(backend: Backend, principal: Principal) -> Any:
    """The AML service acting for a caller: their own key (``backend.acting_identity``), never a borrowed one."""
    return AmlService.for_caller(backend, principal)


@dataclass(frozen=True)
class Refusal(Exception):
    """A request a page answers with an error: what a person reads (a catalogue key), and what a program reads."""

    status: int
    detail: str
    """For programs (problem details) and the log, in English."""
    code: str = ""
    key: str = ""
    """The catalogue key of the message a person reads (empty: the status's general message)."""
    what: str = ""
    """What was looked for (a 404 names it, cut short)."""


_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT"}
_CONTRACT_STATUS = {"FORBIDDEN": 403, "NOT_FOUND": 404, "CONFLICT": 409, "INVALID": 400, "UNAUTHENTICATED": 401}


def service_error(exc: Exception) -> Refusal:
    """The refusal answering a service or SDK error (status from the error's code, never its text)."""
    if isinstance(exc, Problem):
        return Refusal(exc.status, exc.detail, exc.code or "")
    if isinstance(exc, GatewayError):
        problem = problem_for(exc)
        return Refusal(problem.status, exc.message, problem.code or "")
    code = str(getattr(exc, "code", "") or "")
    status = _CONTRACT_STATUS.get(code, 400)
    return Refusal(status, str(exc), code or _CODES.get(status, "BAD_REQUEST"))


def lang_of(request: Request) -> str:
    """The page's language (``?lang=``, cookie, ``Accept-Language``; English is the only one, and the default)."""
    return pick_language(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
        LANGUAGES,
        CATALOGUE.default,
    )


def consistency_of(backend: Backend, principal: Principal, start: int, end: int) -> dict[str, Any]:
    """A consistency proof between two blocks of the channel (headers and hashes only)."""
    peer_channel = backend.peer_channel(roles.CHANNEL, principal)
    height = peer_channel.height
    if not 0 <= start <= end < height:
        raise Refusal(400, f"need 0 ≤ from ≤ to < height ({height}), not from={start} to={end}", "BAD_RANGE")
    first, last = peer_channel.ledger.block(start), peer_channel.ledger.block(end)
    proof = build_consistency(peer_channel.ledger.history, first.header.history_size, last.header.history_size)

    def signed(block: Block) -> dict[str, Any]:
        """A block's header, its bytes, signature and orderer certificate."""
        return {
            "header": header_json(block.header),
            "header_bytes": base64.b64encode(encode(block.header)).decode(),
            "signature": block.signature.hex(),
            "orderer_certificate": base64.b64encode(block.orderer).decode(),
        }

    return {"channel": roles.CHANNEL, "from": signed(first), "to": signed(last), "proof": proof}


def pages_router(backend: Backend, templates: Jinja2Templates, service_factory: ServiceFactory) -> APIRouter:
    """The ``/aml`` pages, downloads, proofs and forms."""
    router = APIRouter(include_in_schema=False)

    def render(
        request: Request, principal: Principal | None, template: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        """A page in the viewer's language, New York time, with the security headers."""
        lang = lang_of(request)
        full = {
            "principal": principal,
            "csrf": session_csrf(request),
            "lang": lang,
            "t": CATALOGUE.table(lang),
            "switcher": [(code, SWITCH_LABEL[code]) for code in LANGUAGES],
            "path": request.url.path,
            "zone": ZONE,
            "zone_name": zone_label(ZONE, lang),
            "org_name": roles.org_name(principal.org) if principal else "",
            "role_name": views.role_name(principal, lang) if principal else "",
            "is_analyst": roles.is_analyst(principal),
            "is_officer": roles.is_bsa_officer(principal),
            "is_bank": roles.is_bank_staff(principal),
            "is_examiner": roles.is_examiner(principal),
            "is_exchange": roles.is_exchange(principal),
            "channel": roles.CHANNEL,
            **context,
        }
        response = templates.TemplateResponse(request, template, full, status_code=status)
        response.headers.update(SECURITY_HEADERS)
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(LANG_COOKIE, request.query_params["lang"], samesite="lax", max_age=365 * 86400)
        return response

    def refused(request: Request, principal: Principal | None, refusal: Refusal) -> Response:
        """An error page for a person, problem details for a program; logged with the reason either way."""
        log.info(
            "aml: %s %s refused %s to %s: %s",
            request.method,
            request.url.path,
            refusal.status,
            principal.id if principal else "anonymous",
            refusal.detail,
        )
        if not wants_html(request):
            response = problem_response(
                request, refusal.status, refusal.detail, refusal.code or _CODES.get(refusal.status)
            )
        else:
            table = CATALOGUE.table(lang_of(request))
            key = refusal.key if refusal.key in table else f"error_{refusal.status}"
            if key not in table:
                key = "error_other"
            what = refusal.what + ("…" if refusal.what else "")
            title_key = f"error_{refusal.status}_title"
            title = table[title_key] if title_key in table else table["error_other_title"]
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            context = {
                "status": refusal.status,
                "title": title,
                "message": table[key].format(what=what),
                "detail": refusal.detail,
                "next": target if request.method == "GET" else "/aml",
            }
            response = render(request, principal, "aml_error.html", context, refusal.status)
        if refusal.status == 401:
            response.headers["WWW-Authenticate"] = 'Consortia-Ed25519 realm="consortia"'
        return response

    async def who(request: Request) -> Principal:
        """The caller, who must be logged in (or sign) and belong to one of the channel's organisations."""
        try:
            principal = await caller_of(request)
        except Problem as exc:
            raise Refusal(exc.status, exc.detail, exc.code or "") from None
        if principal is None:
            raise Refusal(401, "log in or sign the request", "UNAUTHENTICATED")
        if principal.org not in roles.ORGS:
            raise Refusal(403, f"{principal.org} is not a member of channel {roles.CHANNEL}", "FORBIDDEN",
                          "refused_member")  # fmt: skip
        return principal

    def reader(principal: Principal) -> None:
        """The channel's read scope (the bank and the examiners; an exchange reads only through the contract)."""
        try:
            backend.require_read(principal, roles.CHANNEL)
        except Problem as exc:
            raise Refusal(exc.status, exc.detail, exc.code or "", "refused_bank") from None

    def service_for(principal: Principal) -> Any:
        """The AML service acting for the caller (their own key)."""
        try:
            return service_factory(backend, principal)
        except Problem as exc:  # a program the gateway holds no key for signs its own proposals
            raise Refusal(exc.status, exc.detail, exc.code or "") from None

    async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a service call off the event loop; its errors become refusals by their codes."""
        try:
            return await run_in_threadpool(functools.partial(function, *args, **kwargs))
        except Refusal:
            raise
        except (GatewayError, Problem) as exc:
            raise service_error(exc) from None
        except (AmlError, ValueError, LookupError) as exc:  # the service's and the domain's own errors
            raise service_error(exc) from None

    async def checked_form(request: Request, principal: Principal) -> Any:
        """The posted form, once the platform has shown it comes from this site with the session's CSRF token."""
        if principal.via != "session":
            raise Refusal(403, "a form needs a logged-in session", "BAD_FORM", "refused_form")
        try:
            return await session_form(request)
        except FormRefused as exc:
            raise Refusal(403, str(exc), "BAD_FORM", "refused_form") from None

    def page(handler: Callable[..., Any]) -> Callable[..., Any]:
        """Answer a handler's Refusal as an error page or problem details."""

        @functools.wraps(handler)
        async def run(request: Request, **kwargs: Any) -> Response:
            """The handler, its refusals answered as pages or problem details."""
            principal: Principal | None = None
            try:
                principal = await caller_of(request)
            except Problem:
                principal = None
            try:
                return await handler(request, **kwargs)
            except Refusal as refusal:
                return refused(request, principal, refusal)

        return run

    async def bank_or_examiner(request: Request) -> tuple[Principal, Any]:
        """The bank's analysts and BSA officer, or an examiner (who reads everything); an exchange never."""
        principal = await who(request)
        if not (roles.is_bank_staff(principal) or roles.is_examiner(principal)):
            raise Refusal(403, f"{principal.id} is not the bank's staff or an examiner", "FORBIDDEN", "refused_bank")
        reader(principal)
        return principal, service_for(principal)

    async def bank_staff(request: Request) -> tuple[Principal, Any]:
        """The bank's analysts and BSA officer only."""
        principal = await who(request)
        if not roles.is_bank_staff(principal):
            raise Refusal(403, f"{principal.id} is not the bank's analyst or BSA officer", "FORBIDDEN",
                          "refused_staff")  # fmt: skip
        reader(principal)
        return principal, service_for(principal)

    def checked_id(value: str, kind: str) -> str:
        """An id as it may appear in a path, else 'not found' (never echoed whole)."""
        if not SAFE_ID.fullmatch(value):
            raise Refusal(404, f"not a {kind} id: {value[:80]!r}", "NOT_FOUND", f"not_found_{kind}", value[:24])
        return value

    # -- home ---------------------------------------------------------------------------------------------------

    @router.get("/aml")
    @page
    async def home(request: Request) -> Response:
        """Each person starts on their own page."""
        principal = await who(request)
        if roles.is_bsa_officer(principal):
            return RedirectResponse("/aml/decisions", status_code=303)
        if roles.is_bank_staff(principal):
            return RedirectResponse("/aml/alerts", status_code=303)
        if roles.is_examiner(principal):
            return RedirectResponse("/aml/audit", status_code=303)
        return RedirectResponse("/aml/accounts", status_code=303)

    # -- the alert queue ------------------------------------------------------------------------------------------

    @router.get("/aml/alerts")
    @page
    async def alerts(request: Request) -> Response:
        """The alert queue with its filters (alerts and policy violations)."""
        principal, service = await bank_or_examiner(request)
        lang = lang_of(request)
        filters = views.AlertFilters.from_query(request.query_params)
        found: list[Any] = list(await call(service.alerts, filters.for_service()))
        if not filters.typology or filters.typology == views.VIOLATION:
            found += await call(service.violations)
        context = views.queue_page(found, filters, lang, datetime.now(UTC))
        return render(request, principal, "aml_alerts.html", context)

    @router.get("/aml/alerts/{alert_id}")
    @page
    async def alert(request: Request, alert_id: str) -> Response:
        """One alert: rule hits in words, transactions, the counterparty graph over time."""
        principal, service = await bank_or_examiner(request)
        checked_id(alert_id, "alert")
        lang = lang_of(request)
        try:
            found = await call(service.alert, alert_id)
        except Refusal as refusal:
            if refusal.status == 404:
                raise Refusal(404, refusal.detail, "NOT_FOUND", "not_found_alert", alert_id[:24]) from None
            raise
        if found is None:
            raise Refusal(404, f"no alert {alert_id[:80]!r}", "NOT_FOUND", "not_found_alert", alert_id[:24])
        context = views.alert_page(found, lang, datetime.now(UTC))
        return render(request, principal, "aml_alert.html", context)

    # -- cases --------------------------------------------------------------------------------------------------

    @router.post("/aml/cases")
    @page
    async def open_case(request: Request) -> Response:
        """Open a case from the chosen alerts (the bank's staff)."""
        principal, service = await bank_staff(request)
        form = await checked_form(request, principal)
        alert_ids = tuple(str(v) for v in form.getlist("alert_id") if SAFE_ID.fullmatch(str(v)))
        if not alert_ids:
            raise Refusal(400, "choose at least one alert", "NO_ALERT", "refused_no_alert")
        opened = await call(service.open_case, alert_ids)
        case_id = views.case_id_of(opened)
        return RedirectResponse(f"/aml/cases/{quote(case_id, safe='')}?notice=opened", status_code=303)

    @router.get("/aml/cases")
    @page
    async def cases(request: Request) -> Response:
        """Every case, the nearest deadline first."""
        principal, service = await bank_or_examiner(request)
        lang = lang_of(request)
        found = await call(service.cases)
        context = views.cases_page(found, lang, datetime.now(UTC))
        return render(request, principal, "aml_cases.html", context)

    async def the_case(service: Any, case_id: str) -> Any:
        """The case, or 'not found' naming it."""
        try:
            found = await call(service.case, case_id)
        except Refusal as refusal:
            if refusal.status == 404:
                raise Refusal(404, refusal.detail, "NOT_FOUND", "not_found_case", case_id[:24]) from None
            raise
        if found is None:
            raise Refusal(404, f"no case {case_id[:80]!r}", "NOT_FOUND", "not_found_case", case_id[:24])
        return found

    @router.get("/aml/cases/{case_id}")
    @page
    async def case(request: Request, case_id: str) -> Response:
        """A case: alerts, assignment, notes, evidence, deadlines, decision, every step."""
        principal, service = await bank_or_examiner(request)
        checked_id(case_id, "case")
        lang = lang_of(request)
        found = await the_case(service, case_id)
        notice = views.notice_text(request.query_params.get("notice", ""), lang)
        context = views.case_page(found, lang, datetime.now(UTC))
        return render(request, principal, "aml_case.html", {**context, "notice": notice})

    @router.post("/aml/cases/{case_id}/steps")
    @page
    async def case_step(request: Request, case_id: str) -> Response:
        """One step of a case from its page's forms (the contract decides who may)."""
        principal, service = await bank_staff(request)
        checked_id(case_id, "case")
        form = await checked_form(request, principal)
        event = views.event_from_form({k: str(v) for k, v in form.items() if isinstance(v, str)}, principal,
                                      datetime.now(UTC))  # fmt: skip
        if isinstance(event, views.FormProblem):
            raise Refusal(400, event.detail, "BAD_STEP", event.key)
        await the_case(service, case_id)
        await call(service.case_step, case_id, event)
        return RedirectResponse(f"/aml/cases/{quote(case_id, safe='')}?notice=step", status_code=303)

    @router.get("/aml/cases/{case_id}/sar")
    @page
    async def sar_preview(request: Request, case_id: str) -> Response:
        """The SAR as a person reads it, its hash, and the file form for the BSA officer."""
        principal, service = await bank_or_examiner(request)
        checked_id(case_id, "case")
        lang = lang_of(request)
        found = await the_case(service, case_id)
        preview = await call(service.sar_preview, case_id)
        context = views.sar_page(found, preview, lang, datetime.now(UTC))
        notice = views.notice_text(request.query_params.get("notice", ""), lang)
        return render(request, principal, "aml_sar.html", {**context, "notice": notice})

    @router.get("/aml/cases/{case_id}/sar.xml")
    @page
    async def sar_download(request: Request, case_id: str) -> Response:
        """The SAR's exact XML as a download."""
        _, service = await bank_or_examiner(request)
        checked_id(case_id, "case")
        await the_case(service, case_id)
        preview = await call(service.sar_preview, case_id)
        xml = views.xml_bytes(preview)
        return Response(xml, media_type="application/xml",
                        headers={"Content-Disposition": f'attachment; filename="SAR-{case_id}.xml"',
                                 "Cache-Control": "no-store"})  # fmt: skip

    @router.post("/aml/cases/{case_id}/sar")
    @page
    async def file_sar(request: Request, case_id: str) -> Response:
        """File the case's SAR (the BSA officer)."""
        principal = await who(request)
        if not roles.is_bsa_officer(principal):
            raise Refusal(403, f"{principal.id} is not the BSA officer", "FORBIDDEN", "refused_officer")
        checked_id(case_id, "case")
        await checked_form(request, principal)
        service = service_for(principal)
        await the_case(service, case_id)
        await call(service.file_sar, case_id)
        return RedirectResponse(f"/aml/cases/{quote(case_id, safe='')}?notice=filed", status_code=303)

    # -- the BSA officer's decisions and deadlines ------------------------------------------------------------------

    @router.get("/aml/decisions")
    @page
    async def decisions(request: Request) -> Response:
        """The BSA officer's decisions and deadlines, overdue first, and the CTRs due."""
        principal, service = await bank_or_examiner(request)
        lang = lang_of(request)
        found = await call(service.cases)
        now = datetime.now(UTC)
        context = views.decisions_page(found, lang, now)
        ctrs = views.ctr_rows(await call(service.ctr_candidates), await call(service.filings), lang, now)
        notice = views.notice_text(request.query_params.get("notice", ""), lang)
        return render(request, principal, "aml_decisions.html", {**context, "ctrs": ctrs, "notice": notice})

    @router.post("/aml/ctr")
    @page
    async def file_ctr(request: Request) -> Response:
        """File the CTR of one account's business day (the BSA officer)."""
        principal = await who(request)
        if not roles.is_bsa_officer(principal):
            raise Refusal(403, f"{principal.id} is not the BSA officer", "FORBIDDEN", "refused_officer_ctr")
        form = await checked_form(request, principal)
        account = str(form.get("account") or "")
        try:
            day = date.fromisoformat(str(form.get("day") or ""))
        except ValueError:
            raise Refusal(400, "expected the business day as YYYY-MM-DD", "BAD_FORM", "refused_step") from None
        if not SAFE_ID.fullmatch(account):
            raise Refusal(404, f"no account {account[:80]!r}", "NOT_FOUND", "not_found_account", account[:24])
        await call(service_for(principal).ctr, account, day)
        return RedirectResponse("/aml/decisions?notice=ctr", status_code=303)

    # -- the examiner's audit trail ---------------------------------------------------------------------------------

    @router.get("/aml/audit")
    @page
    async def audit(request: Request) -> Response:
        """The audit trail, each step verifiable in the browser, and the examination notes."""
        principal, service = await bank_or_examiner(request)
        lang = lang_of(request)
        trail = await call(service.audit_trail, proofs=False)  # the browser fetches each proof it verifies
        notes = await call(service.examination_notes)
        notice = views.notice_text(request.query_params.get("notice", ""), lang)
        context = views.audit_page(trail, notes, lang, datetime.now(UTC))
        return render(request, principal, "aml_audit.html", {**context, "notice": notice})

    @router.post("/aml/audit/notes")
    @page
    async def examination_note(request: Request) -> Response:
        """Write an examination note (examiners only)."""
        principal = await who(request)
        if not roles.is_examiner(principal):
            raise Refusal(403, f"{principal.id} is not an examiner: only examiners write examination notes",
                          "FORBIDDEN", "refused_examiner")  # fmt: skip
        form = await checked_form(request, principal)
        text = str(form.get("note") or "").strip()[:MAX_TEXT]
        subject = str(form.get("subject") or "").strip()[:200]
        if not text:
            raise Refusal(400, "write a note", "EMPTY_NOTE", "refused_empty_note")
        if not subject:
            raise Refusal(400, "say what the note is about (a record's id)", "EMPTY_SUBJECT", "refused_note_subject")
        await call(service_for(principal).examination_note, subject, text)
        return RedirectResponse("/aml/audit?notice=noted", status_code=303)

    @router.get("/aml/records/{tx_id}/proof")
    @page
    async def proof(request: Request, tx_id: str) -> Response:
        """The platform's proof of one transaction, for the in-browser verifier."""
        _, service = await bank_or_examiner(request)
        if not TX_ID.fullmatch(tx_id):
            raise Refusal(404, f"not a transaction id: {tx_id[:80]!r}", "NOT_FOUND", "not_found_record", tx_id[:16])
        try:
            document = await call(service.proof, tx_id)
        except Refusal as refusal:
            raise Refusal(refusal.status, refusal.detail, refusal.code, "not_found_record", tx_id[:16]) from None
        return JSONResponse(document, headers={"Cache-Control": "no-store"})

    @router.get("/aml/consistency")
    @page
    async def consistency(
        request: Request, start: int = Query(..., alias="from", ge=0), end: int = Query(..., alias="to", ge=0)
    ) -> Response:
        """A consistency proof between two blocks, for the in-browser verifier."""
        principal, _ = await bank_or_examiner(request)
        document = await run_in_threadpool(consistency_of, backend, principal, start, end)
        return JSONResponse(document, headers={"Cache-Control": "no-store"})

    # -- due diligence --------------------------------------------------------------------------------------------

    @router.get("/aml/exchanges")
    @page
    async def exchanges(request: Request) -> Response:
        """The exchanges and their onboarding state."""
        principal, service = await bank_or_examiner(request)
        found = await call(service.exchanges)
        return render(request, principal, "aml_exchanges.html", views.exchanges_page(found, lang_of(request)))

    def checked_exchange(exchange: str) -> str:
        """One of the consortium's exchanges, else 'not found'."""
        if exchange not in roles.EXCHANGES:
            raise Refusal(404, f"no exchange {exchange[:80]!r}", "NOT_FOUND", "not_found_exchange", exchange[:24])
        return exchange

    @router.get("/aml/exchanges/{exchange}")
    @page
    async def onboarding(request: Request, exchange: str) -> Response:
        """One exchange's due diligence and approvals."""
        principal, service = await bank_or_examiner(request)
        checked_exchange(exchange)
        lang = lang_of(request)
        try:
            view = await call(service.onboarding, exchange)
        except Refusal as refusal:
            if refusal.status == 404:
                raise Refusal(404, refusal.detail, "NOT_FOUND", "not_found_exchange", exchange[:24]) from None
            raise
        context = views.onboarding_page(view, principal, lang, datetime.now(UTC))
        notice = views.notice_text(request.query_params.get("notice", ""), lang)
        return render(request, principal, "aml_onboarding.html", {**context, "notice": notice})

    @router.post("/aml/exchanges/{exchange}/approve")
    @page
    async def approve(request: Request, exchange: str) -> Response:
        """Approve the shown version of an exchange's record (the bank's staff)."""
        principal = await who(request)
        if not roles.is_bank_staff(principal):
            raise Refusal(403, f"{principal.id} is not the bank's analyst or BSA officer", "FORBIDDEN",
                          "refused_approve")  # fmt: skip
        checked_exchange(exchange)
        form = await checked_form(request, principal)
        version = str(form.get("record_hash") or "")
        if not TX_ID.fullmatch(version):
            raise Refusal(400, f"expected the record's SHA-256 in 64 hex digits, found {version[:80]!r}", "BAD_FORM")
        await call(service_for(principal).approve_onboarding, exchange, version)
        return RedirectResponse(f"/aml/exchanges/{exchange}?notice=approved", status_code=303)

    # -- accounts -------------------------------------------------------------------------------------------------

    @router.get("/aml/accounts")
    @page
    async def accounts(request: Request) -> Response:
        """The caller's accounts (an exchange's own only)."""
        principal = await who(request)
        service = service_for(principal)
        lang = lang_of(request)
        found = await call(service.accounts)
        context = views.accounts_page(found, principal, lang, datetime.now(UTC))
        return render(request, principal, "aml_accounts.html", context)

    @router.get("/aml/accounts/{account}")
    @page
    async def account(request: Request, account: str) -> Response:
        """One account and its transactions (another exchange's is not found)."""
        principal = await who(request)
        checked_id(account, "account")
        service = service_for(principal)
        try:
            found = await call(service.account, account)  # another exchange's: not found (and the attempt logged)
        except Refusal as refusal:
            if refusal.status == 404:
                raise Refusal(404, refusal.detail, "NOT_FOUND", "not_found_account", account[:24]) from None
            raise
        context = views.account_page(found, lang_of(request), datetime.now(UTC))
        return render(request, principal, "aml_account.html", context)

    return router


def install(app: FastAPI, backend: Backend, service_factory: ServiceFactory | None = None) -> None:
    """Add the AML pages and their static files to a gateway service (if the network has the channel)."""
    if roles.CHANNEL not in backend.channel_names() or getattr(app.state, "aml_installed", False):
        return
    app.state.aml_installed = True
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["quote"] = lambda value: quote(str(value), safe="")
    app.mount("/aml/static", StaticFiles(directory=str(HERE / "static")), name="aml-static")
    app.include_router(pages_router(backend, templates, service_factory or real_service))
