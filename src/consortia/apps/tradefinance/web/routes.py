"""The trade-finance pages in the gateway service: officers register documents, regulators oversee the channel.

:func:`install` is what the platform calls through the plug-in hook (``plugin.py``). Under ``/tradefinance``:

* ``/tradefinance/documents`` — a bank officer uploads a CSV of trade documents (or fills in one), sees each row's
  status by name (REGU, REDU, DFIN, FNCD, CANC) with a plain explanation and the near-duplicate reasons — the other
  bank is only ever "another member bank" — applies for financing of their bank's own documents (the page says
  what the contract answered: FNCD, DFIN, or why it refused) and cancels an unfinanced registration.
* ``/tradefinance/traders`` — the shared trader registry: is there a current KYC attestation, and by which bank;
  an officer attests a trader for their own bank (the note is the private file; the ledger holds its salted hash).
* ``/tradefinance/oversight`` — the regulators' dashboard: financings by corridor and currency per month,
  duplicate and near-duplicate attempts per month, exposure per trader across banks (one chart per currency),
  financings by bank, the latest refused requests, with CSV and XLSX exports. Every figure links to
  ``/tradefinance/oversight/records`` (the ledger records behind it), each record to ``/tradefinance/records/{tx}``
  — what it is, a financing's way to settlement (steps and cross-border flows), its proof (``…/proof``, with
  ``/tradefinance/consistency``) which the platform's verifier checks in the browser — where a regulator adds a
  supervisory flag or note.

**Who acts.** Each request builds a :class:`TradeFinanceService` for the caller
(:meth:`~TradeFinanceService.for_caller`: the person's own key through ``backend.acting_identity``, never a
borrowed one), so the contract — not this module — decides what a bank or a regulator may read and write. The
pages add only what a person should see before the contract would refuse: an officer's pages for officers, the
dashboard for regulators, and records and proofs only of a bank's own documents (anything else is 404, which says
nothing about whether it exists).

**Errors.** A person (``Accept: text/html``) gets an error page in their language — 401 with a link to log in and
come back, 403, 404 — and a program gets RFC 9457 problem details
(:func:`consortia.gateway.server.problems.problem_response`). Every refusal is logged (the gateway's 401/403
counter and log line, and ours with the reason).

**Forms** are same-origin and carry the session's CSRF token; cookie-authenticated JSON writes stay under ``/api``
with the platform's rules.
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from consortia.apps.tradefinance.consortium import BANKS, CHANNEL, DISPLAY, REGULATORS, zone_of
from consortia.apps.tradefinance.service.tradefinance import Refused, TradeFinanceError, TradeFinanceService
from consortia.apps.tradefinance.web import views
from consortia.apps.tradefinance.web.text import CATALOGUE, LANGUAGES, SWITCH_LABEL
from consortia.client.errors import GatewayError
from consortia.gateway.server.auth import FormRefused, Principal, caller_of, session_csrf
from consortia.gateway.server.auth import checked_form as session_form
from consortia.gateway.server.backend import Backend
from consortia.gateway.server.pages import SECURITY_HEADERS
from consortia.gateway.server.problems import Problem, problem_for, problem_response, wants_html
from consortia.ledger.block import Block
from consortia.ledger.encoding import encode
from consortia.ledger.proof import UnknownTransaction, build_consistency, header_json
from consortia.ui.i18n import pick_language
from consortia.ui.timefmt import ZONE_NAMES

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
LANG_COOKIE = "tradefinance_lang"
MAX_NOTE = 1000
T = TypeVar("T")


# -- who is calling -------------------------------------------------------------------------------------------


def is_officer(principal: Principal | None) -> bool:
    """A member bank's officer (the role counts only from a bank, as in the contract's configuration)."""
    return principal is not None and principal.org in BANKS and principal.role == "officer"


def is_regulator(principal: Principal | None) -> bool:
    """A regulator's person or program (role ``regulator`` from one of the four regulators)."""
    return principal is not None and principal.org in REGULATORS and principal.role == "regulator"


@dataclass(frozen=True)
class Refusal(Exception):
    """A request a page answers with an error: what a person reads (a catalogue key), and what a program reads."""

    status: int
    detail: str
    """For programs (problem details) and the log, in English; a person sees it small, under the message."""
    code: str = ""
    key: str = ""
    """The catalogue key of the message a person reads (empty: the status's general message)."""
    what: str = ""
    """What was looked for (a 404 names it, cut short)."""


def problem_refusal(exc: Problem) -> Refusal:
    """A platform Problem (bad signature, not a member of the channel) as a refusal."""
    return Refusal(exc.status, exc.detail, exc.code or "")


def service_error(exc: Exception) -> Refusal:
    """The refusal answering a service or SDK error (status from the contract's or SDK's code, never its text)."""
    if isinstance(exc, GatewayError):
        problem = problem_for(exc)
        return Refusal(problem.status, exc.message, problem.code or "")
    if isinstance(exc, TradeFinanceError):
        status = {"FORBIDDEN": 403, "NOT_FOUND": 404, "CONFLICT": 409}.get(exc.code, 400)
        detail = exc.reason if isinstance(exc, Refused) else str(exc)
        return Refusal(status, detail, exc.code)
    raise exc


# -- proofs ---------------------------------------------------------------------------------------------------


def consistency_of(backend: Backend, principal: Principal, start: int, end: int) -> dict[str, Any]:
    """A consistency proof between two blocks of the channel (headers and hashes only: nothing commercial)."""
    peer_channel = backend.peer_channel(CHANNEL, principal)
    height = peer_channel.height
    if not 0 <= start <= end < height:
        raise Refusal(400, f"need 0 ≤ from ≤ to < height ({height}), not from={start} to={end}", "BAD_RANGE")
    first, last = peer_channel.ledger.block(start), peer_channel.ledger.block(end)
    proof = build_consistency(peer_channel.ledger.history, first.header.history_size, last.header.history_size)

    def signed(block: Block) -> dict[str, Any]:
        """A block's header, its bytes, the orderer's signature and certificate."""
        return {
            "header": header_json(block.header),
            "header_bytes": base64.b64encode(encode(block.header)).decode(),
            "signature": block.signature.hex(),
            "orderer_certificate": base64.b64encode(block.orderer).decode(),
        }

    return {"channel": CHANNEL, "from": signed(first), "to": signed(last), "proof": proof}


# -- the pages ------------------------------------------------------------------------------------------------


def pages_router(backend: Backend, templates: Jinja2Templates) -> APIRouter:
    """The ``/tradefinance`` pages, exports, records and proofs."""
    router = APIRouter(include_in_schema=False)

    def render(
        request: Request, principal: Principal | None, template: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        """A page in the caller's language, with the place's zone, the security headers and the language cookie."""
        lang = lang_of(request)
        zone = zone_of(principal.org) if principal is not None else "Asia/Shanghai"
        full = {
            "principal": principal,
            "csrf": session_csrf(request),
            "lang": lang,
            "t": CATALOGUE.table(lang),
            "switcher": [(code, SWITCH_LABEL[code], same_page_in(request, code)) for code in LANGUAGES],
            "path": request.url.path,
            "zone": zone,
            "zone_name": ZONE_NAMES.get(zone, {}).get(lang, zone),
            "org_name": DISPLAY.get(principal.org, {}).get(lang, principal.org) if principal else "",
            "is_officer": is_officer(principal),
            "is_regulator": is_regulator(principal),
            "channel": CHANNEL,
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
            "tradefinance: %s %s refused %s to %s: %s",
            request.method,
            request.url.path,
            refusal.status,
            principal.id if principal else "anonymous",
            refusal.detail,
        )
        if not wants_html(request):
            return problem_response(request, refusal.status, refusal.detail, refusal.code or _CODES.get(refusal.status))
        table = CATALOGUE.table(lang_of(request))
        key = refusal.key or f"error_{refusal.status}"
        message = table.get(key, "").format(what=refusal.what + ("…" if refusal.what else ""))
        title_key = f"error_{refusal.status}_title"
        title = table[title_key] if title_key in table else table["error_other_title"]
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        context = {"status": refusal.status, "title": title, "message": message, "detail": refusal.detail,
                   "next": target if request.method == "GET" else "/tradefinance"}  # fmt: skip
        response = render(request, principal, "tf_error.html", context, refusal.status)
        if refusal.status == 401:
            response.headers["WWW-Authenticate"] = 'Consortia-Ed25519 realm="consortia"'
        return response

    async def who(request: Request) -> Principal:
        """The caller, who must be logged in (or sign) and be a member of the channel."""
        try:
            principal = await caller_of(request)
        except Problem as exc:
            raise problem_refusal(exc) from None
        if principal is None:
            raise Refusal(401, "log in or sign the request", "UNAUTHENTICATED")
        try:
            backend.require_read(principal, CHANNEL)
        except Problem as exc:
            raise problem_refusal(exc) from None
        return principal

    def service_for(principal: Principal) -> TradeFinanceService:
        """The service acting for the caller, with their own identity."""
        try:
            return TradeFinanceService.for_caller(backend, principal)
        except Problem as exc:  # a program the gateway holds no key for signs its own proposals
            raise problem_refusal(exc) from None

    async def call(function: Callable[..., T], *args: Any) -> T:
        """Run a service call off the event loop; its errors become refusals."""
        try:
            return await run_in_threadpool(function, *args)
        except (TradeFinanceError, GatewayError) as exc:
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
            """Call the handler; a Refusal becomes an error page or problem details."""
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

    # -- home ---------------------------------------------------------------------------------------------------

    @router.get("/tradefinance")
    @page
    async def home(request: Request) -> Response:
        """Send each person to their page: regulators to the dashboard, officers to their documents."""
        principal = await who(request)
        if is_regulator(principal):
            return RedirectResponse("/tradefinance/oversight", status_code=303)
        if is_officer(principal):
            return RedirectResponse("/tradefinance/documents", status_code=303)
        return RedirectResponse("/tradefinance/traders", status_code=303)

    # -- the officer's documents ----------------------------------------------------------------------------------

    async def officer(request: Request) -> tuple[Principal, TradeFinanceService]:
        """The caller, who must be a member bank's officer, and their service."""
        principal = await who(request)
        if not is_officer(principal):
            raise Refusal(403, f"{principal.id} is not a member bank's officer", "FORBIDDEN", "refused_officer")
        return principal, service_for(principal)

    async def documents_page(
        request: Request,
        principal: Principal,
        service: TradeFinanceService,
        *,
        results: list[Any] | None = None,
        errors: list[dict[str, Any]] | None = None,
        form: dict[str, str] | None = None,
        notice: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        """The officer's page, with this registration's outcome or problems when there are."""
        lang = lang_of(request)
        documents = await call(service.documents)
        context = views.documents_page(documents, results, errors, form, lang, zone_of(principal.org))
        return render(request, principal, "tf_documents.html", {**context, "notice": notice}, status)

    @router.get("/tradefinance/documents")
    @page
    async def documents(request: Request) -> Response:
        """The officer's page: upload, one-document form, the bank's documents."""
        principal, service = await officer(request)
        notice = views.notice_text(request.query_params.get("notice", ""), lang_of(request))
        return await documents_page(request, principal, service, notice=notice)

    async def register(request: Request, principal: Principal, service: TradeFinanceService, text: str,
                       form: dict[str, str] | None = None) -> Response:  # fmt: skip
        """Register the rows of a file (all or nothing) and show each row's status."""
        lang = lang_of(request)
        parsed = views.parse_rows(text, principal.org, lang)
        if isinstance(parsed, views.RowProblems):
            return await documents_page(request, principal, service, errors=list(parsed.problems), form=form,
                                        status=400)  # fmt: skip
        try:
            registrations = await run_in_threadpool(service.register_documents, parsed)
        except (TradeFinanceError, GatewayError) as exc:
            refusal = service_error(exc)
            table = CATALOGUE.table(lang)
            title = table.get(f"error_{refusal.status}_title", table["error_other_title"])
            problem = [{"row": 0, "field": "", "where": title, "field_name": "", "detail": refusal.detail}]
            return await documents_page(request, principal, service, errors=problem, form=form,
                                        status=refusal.status)  # fmt: skip
        return await documents_page(request, principal, service, results=registrations)

    @router.post("/tradefinance/documents")
    @page
    async def upload(request: Request) -> Response:
        """A CSV file (or pasted rows) from the upload form."""
        principal, service = await officer(request)
        form = await checked_form(request, principal)
        upload = form.get("file")
        text = ""
        if upload is not None and not isinstance(upload, str):
            raw = await upload.read()
            text = views.decode_upload(raw)
        if not text.strip():
            text = str(form.get("text") or "")
        return await register(request, principal, service, text)

    @router.post("/tradefinance/documents/one")
    @page
    async def register_one(request: Request) -> Response:
        """One document from the form, read as a one-row file."""
        principal, service = await officer(request)
        form = await checked_form(request, principal)
        values = {name: str(form.get(name) or "") for name in views.FORM_FIELDS}
        return await register(request, principal, service, views.one_row_csv(values, principal.org), values)

    @router.post("/tradefinance/financings")
    @page
    async def apply(request: Request) -> Response:
        """Apply to finance one of the bank's own documents; the page then says what the contract answered."""
        principal, service = await officer(request)
        form = await checked_form(request, principal)
        doc_ref = str(form.get("doc_ref") or "")
        amount = str(form.get("amount") or "")
        currency = str(form.get("currency") or "")
        own = {d.doc_ref for d in await call(service.documents)}
        if doc_ref not in own:  # another bank's reference, or none: nothing to say about it
            raise Refusal(404, f"no document {doc_ref[:80]!r} of {principal.org}", "NOT_FOUND", "not_found_document",
                          doc_ref[:24])  # fmt: skip
        try:
            financing = await run_in_threadpool(service.apply_financing, doc_ref, amount, currency)
            notice = views.notice_of(financing)
        except Refused as exc:  # no current KYC of the seller, a cancelled document …: logged on the ledger
            notice = views.refusal_notice(exc.code)
        except (TradeFinanceError, GatewayError) as exc:
            raise service_error(exc) from None
        return RedirectResponse(f"/tradefinance/documents?notice={quote(notice, safe='')}", status_code=303)

    @router.post("/tradefinance/documents/{doc_ref}/cancel")
    @page
    async def cancel(request: Request, doc_ref: str) -> Response:
        """Cancel one of the bank's own unfinanced registrations."""
        principal, service = await officer(request)
        await checked_form(request, principal)
        own = {d.doc_ref for d in await call(service.documents)}
        if doc_ref not in own:  # another bank's reference, or none: nothing to say about it
            raise Refusal(404, f"no document {doc_ref[:80]!r} of {principal.org}", "NOT_FOUND", "not_found_document",
                          doc_ref[:24])  # fmt: skip
        document = await call(service.cancel_document, doc_ref)
        notice = quote(f"{document.status}:{doc_ref}", safe="")
        return RedirectResponse(f"/tradefinance/documents?notice={notice}", status_code=303)

    # -- the trader registry ------------------------------------------------------------------------------------

    @router.get("/tradefinance/traders")
    @page
    async def traders(request: Request) -> Response:
        """The shared trader registry with each trader's current KYC attestations."""
        principal = await who(request)
        service = service_for(principal)
        rows = await call(service.traders)
        lang = lang_of(request)
        own = principal.org if is_officer(principal) else None
        expiry = (datetime.now(ZoneInfo(zone_of(principal.org))).date() + timedelta(days=365)).isoformat()
        context = {
            "traders": views.trader_rows(rows, lang, zone_of(principal.org), own),
            "notice": views.notice_text(request.query_params.get("notice", ""), lang),
            "levels": [(level, CATALOGUE.text(lang, f"kyc_level_{level}")) for level in views.KYC_LEVELS],
            "default_expiry": expiry,
        }
        return render(request, principal, "tf_traders.html", context)

    @router.post("/tradefinance/traders/kyc")
    @page
    async def attest(request: Request) -> Response:
        """An officer's bank attests a trader's KYC today; the officer's note is the file, kept in the bank's
        private collection (only its salted hash reaches the ledger)."""
        principal, service = await officer(request)
        form = await checked_form(request, principal)
        trader = str(form.get("trader") or "")
        level = str(form.get("level") or "")
        expiry = str(form.get("expiry") or "")
        today = datetime.now(ZoneInfo(zone_of(principal.org))).date().isoformat()
        file = {"note": str(form.get("note") or "")[:MAX_NOTE], "officer": principal.id, "date": today}
        view = await call(service.attest_kyc, trader, level, today, expiry, file)
        notice = quote(f"KYC:{view.trader}", safe="")
        return RedirectResponse(f"/tradefinance/traders?notice={notice}", status_code=303)

    # -- the regulators' dashboard ------------------------------------------------------------------------------

    async def regulator(request: Request) -> tuple[Principal, TradeFinanceService]:
        """The caller, who must be a regulator, and their service."""
        principal = await who(request)
        if not is_regulator(principal):
            raise Refusal(403, f"{principal.id} is not a regulator", "FORBIDDEN", "refused_regulator")
        return principal, service_for(principal)

    @router.get("/tradefinance/oversight")
    @page
    async def oversight(request: Request) -> Response:
        """The regulators' dashboard."""
        principal, service = await regulator(request)
        figures = await call(service.oversight)
        traders = await call(service.traders)
        lang = lang_of(request)
        context = views.oversight_page(figures, traders, lang, zone_of(principal.org))
        return render(request, principal, "tf_oversight.html", context)

    @router.get("/tradefinance/oversight/records")
    @page
    async def figure_records(request: Request) -> Response:
        """The ledger records behind one figure of the dashboard."""
        principal, service = await regulator(request)
        lang = lang_of(request)
        selection = views.Selection.from_query(request.query_params)
        figures = await call(service.oversight)
        names = views.trader_names(await call(service.traders), lang)
        tx_ids = views.select(figures, selection)
        peer_channel = backend.peer_channel(CHANNEL, principal)
        shown = tx_ids[: views.MAX_RECORDS]
        records = views.record_rows(peer_channel.ledger, shown, selection.kind_key, lang, zone_of(principal.org))
        for row in records:
            row.update(views.record_facts(row["tx_id"], figures, None, names, lang))
        context = {"figure": views.describe(selection, lang, names), "records": records, "total": len(tx_ids),
                   "shown": len(shown)}  # fmt: skip
        return render(request, principal, "tf_records.html", context)

    @router.get("/tradefinance/oversight/export.csv")
    @page
    async def export_csv(request: Request) -> Response:
        """The dashboard's figures as CSV (UTF-8 with BOM, so spreadsheets read Chinese names)."""
        _, service = await regulator(request)
        text = await call(service.export_csv)
        return Response(text.encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="tradefinance-oversight.csv"',
                                 "Cache-Control": "no-store"})  # fmt: skip

    @router.get("/tradefinance/oversight/export.xlsx")
    @page
    async def export_xlsx(request: Request) -> Response:
        """The dashboard's figures as an Excel workbook."""
        _, service = await regulator(request)
        data = await call(service.export_xlsx)
        return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": 'attachment; filename="tradefinance-oversight.xlsx"',
                                 "Cache-Control": "no-store"})  # fmt: skip

    # -- records and proofs -------------------------------------------------------------------------------------

    async def visible_record(request: Request, tx_id: str) -> tuple[Principal, TradeFinanceService]:
        """The caller, once the record is theirs to see: a regulator any record, a bank its own documents' only."""
        principal = await who(request)
        if not views.TX_ID.fullmatch(tx_id):
            raise Refusal(404, f"not a transaction id: {tx_id[:80]!r}", "NOT_FOUND", "not_found_record", tx_id[:24])
        service = service_for(principal)
        if is_regulator(principal):
            return principal, service
        if principal.org in BANKS:
            own = views.own_tx_ids(await call(service.documents))
            if tx_id in own:
                return principal, service
        raise Refusal(404, f"transaction {tx_id} is not one of {principal.org}'s records", "NOT_FOUND",
                      "not_found_record", tx_id[:16])  # fmt: skip

    @router.get("/tradefinance/records/{tx_id}")
    @page
    async def record(request: Request, tx_id: str) -> Response:
        """One ledger record: what it is, its proof to verify, a financing's trail, and for regulators the flags."""
        principal, service = await visible_record(request, tx_id)
        lang = lang_of(request)
        peer_channel = backend.peer_channel(CHANNEL, principal)
        rows = views.record_rows(peer_channel.ledger, (tx_id,), "kind_record", lang, zone_of(principal.org))
        if not rows:
            raise Refusal(404, f"transaction {tx_id} is not on channel {CHANNEL}", "NOT_FOUND", "not_found_record",
                          tx_id[:16])  # fmt: skip
        notice = CATALOGUE.text(lang, "flag_added") if request.query_params.get("notice") == "flagged" else ""
        flags: list[dict[str, Any]] = []
        zone = zone_of(principal.org)
        if is_regulator(principal):
            figures = await call(service.oversight)
            names = views.trader_names(await call(service.traders), lang)
            rows[0].update(views.record_facts(tx_id, figures, None, names, lang))
            flags = views.flag_rows(figures.flags, tx_id, lang, zone)
            financing = views.financing_of(tx_id, figures.records)
        else:
            documents = await call(service.documents)
            rows[0].update(views.record_facts(tx_id, None, documents, {}, lang))
            financing = views.financing_of(tx_id, (d.financing for d in documents if d.financing is not None))
        money = views.trail(financing, lang, zone) if financing is not None else None
        context = {"record": rows[0], "notice": notice, "flags": flags, "trail": money}
        return render(request, principal, "tf_record.html", context)

    @router.get("/tradefinance/records/{tx_id}/proof")
    @page
    async def proof(request: Request, tx_id: str) -> Response:
        """The record's proof document, which the platform's verifier checks in the browser."""
        _, service = await visible_record(request, tx_id)
        try:
            document = await call(service.proof, tx_id)
        except UnknownTransaction as exc:
            raise Refusal(404, str(exc), "UNKNOWN_TRANSACTION", "not_found_record", tx_id[:16]) from None
        return JSONResponse(document, headers={"Cache-Control": "no-store"})

    @router.get("/tradefinance/consistency")
    @page
    async def consistency(
        request: Request, start: int = Query(..., alias="from", ge=0), end: int = Query(..., alias="to", ge=0)
    ) -> Response:
        """A consistency proof between two blocks, for a browser that verified an older header before."""
        principal = await who(request)
        document = await run_in_threadpool(consistency_of, backend, principal, start, end)
        return JSONResponse(document, headers={"Cache-Control": "no-store"})

    @router.post("/tradefinance/records/{tx_id}/flag")
    @page
    async def flag(request: Request, tx_id: str) -> Response:
        """A regulator's supervisory flag or note on a record."""
        principal = await who(request)
        if not is_regulator(principal):
            raise Refusal(403, f"{principal.id} is not a regulator", "FORBIDDEN", "refused_regulator")
        await visible_record(request, tx_id)
        form = await checked_form(request, principal)
        note = str(form.get("note") or "").strip()[:MAX_NOTE]
        if not note:
            raise Refusal(400, "write a note", "EMPTY_NOTE", "refused_empty_note")
        await call(service_for(principal).flag, tx_id, note)
        return RedirectResponse(f"/tradefinance/records/{tx_id}?notice=flagged", status_code=303)

    return router


_CODES = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 400: "BAD_REQUEST", 409: "CONFLICT"}


def same_page_in(request: Request, lang: str) -> str:
    """This page's address in another language (its other query parameters kept: a drill-down stays one)."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("lang", "notice")]
    return f"{request.url.path}?{urlencode([*query, ('lang', lang)])}"


def lang_of(request: Request) -> str:
    """The page's language: ``?lang=``, the cookie, the browser's ``Accept-Language``, else simplified Chinese."""
    return pick_language(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
        LANGUAGES,
        CATALOGUE.default,
    )


def install(app: FastAPI, backend: Backend) -> None:
    """Add the trade-finance pages and their static files to a gateway service (if the network has the channel)."""
    if CHANNEL not in backend.channel_names() or getattr(app.state, "tradefinance_installed", False):
        return
    app.state.tradefinance_installed = True
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["quote"] = lambda value: quote(str(value), safe="")
    app.mount("/tradefinance/static", StaticFiles(directory=str(HERE / "static")), name="tradefinance-static")
    app.include_router(pages_router(backend, templates))
