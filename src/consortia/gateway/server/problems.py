"""Problem details (RFC 9457): every error the API returns is a small JSON document a person can act on.

``{"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "Org3 is not a member of channel
trade", "instance": "/api/channels/trade"}`` with media type ``application/problem+json``. Validation errors
also list the offending fields. No traceback ever leaves the server; unexpected failures are logged with one and
answered with a 500 that says so.

:func:`problem_for` is the one place where an SDK error becomes an HTTP status: the endorsement codes
(``UNKNOWN_CONTRACT`` → 404, ``NOT_A_MEMBER`` → 403…), a contract's own code when a contract refused
(``FORBIDDEN`` → 403, ``NOT_FOUND`` → 404, ``CONFLICT`` → 409, ``INVALID`` → 400; the document then carries
``"code": "CONTRACT_ERROR", "contract_code": "FORBIDDEN"``), invalid commits (409), ordering refusals and
commit timeouts. The API and the applications' routes all answer SDK errors through it.
"""

from __future__ import annotations

import logging
from html import escape
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from consortia.client.errors import CommitTimeout, GatewayError, OrderingFailed, TransactionInvalid
from consortia.gateway.server.text import CATALOGUE, error_title, page_language

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, as every error response of the API carries them."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str | None = None


_PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": ProblemDetails.model_json_schema()}}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"description": "The request was refused (problem details, RFC 9457)", "content": _PROBLEM_CONTENT},
    "5XX": {"description": "The server or network failed (problem details, RFC 9457)", "content": _PROBLEM_CONTENT},
}
"""OpenAPI description of the error responses, attached to every operation."""


class Problem(Exception):
    """An error answered as problem details."""

    def __init__(self, status: int, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.extra = extra


ENDORSEMENT_STATUS: dict[str, int] = {
    "CONTRACT_ERROR": 400,
    "BAD_ARGUMENTS": 400,
    "BAD_PROPOSAL": 400,
    "BAD_ENVELOPE": 400,
    "BAD_TXID": 400,
    "BAD_TRANSIENT": 400,
    "WRONG_CHANNEL": 400,
    "BAD_SIGNATURE": 401,
    "NOT_A_MEMBER": 403,
    "REVOKED_CERTIFICATE": 403,
    "UNKNOWN_CONTRACT": 404,
    "UNKNOWN_FUNCTION": 404,
    "UNKNOWN_CHANNEL": 404,
    "NOT_INSTALLED": 503,
    "NO_PEER": 503,
    "NO_ENDORSERS": 503,
    "BEHIND": 503,
    "DUPLICATE_TXID": 409,
    "ENDORSEMENT_MISMATCH": 409,
    "NONDETERMINISTIC_CONTRACT": 422,
    "CONTRACT_FAILED": 422,
}
"""HTTP status of each endorsement error code (anything else: 400)."""

CONTRACT_STATUS: dict[str, int] = {
    "INVALID": 400,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "GONE": 410,
}
"""HTTP status of each contract code (:class:`consortia.contracts.ContractCode`)."""


def _ordering_status(code: str) -> int:
    digits = code.rsplit("_", 1)[-1]
    status = int(digits) if digits.isascii() and digits.isdigit() and len(digits) == 3 else 503
    return status if 400 <= status < 600 else 503


def problem_for(exc: GatewayError) -> Problem:
    """The problem details answering an SDK error (status from its code, or from the contract's own code)."""
    if isinstance(exc, TransactionInvalid):
        return Problem(
            409, f"transaction committed as invalid: {exc.message}", code=exc.code, tx_id=exc.tx_id, block=exc.block
        )
    if isinstance(exc, OrderingFailed):
        return Problem(_ordering_status(exc.code), exc.message, code=exc.code, tx_id=exc.tx_id)
    if isinstance(exc, CommitTimeout):
        return Problem(504, exc.message, code=exc.code, tx_id=exc.tx_id)
    if exc.contract_code is not None:
        status = CONTRACT_STATUS.get(exc.contract_code, 400)
        return Problem(status, exc.message, code=exc.code, tx_id=exc.tx_id, contract_code=exc.contract_code)
    return Problem(ENDORSEMENT_STATUS.get(exc.code, 400), exc.message, code=exc.code, tx_id=exc.tx_id)


def wants_html(request: Request) -> bool:
    """Whether the caller is a browser asking for a page (``Accept: text/html``) rather than a program."""
    accept = request.headers.get("accept", "").lower()
    return "text/html" in accept and "json" not in accept


_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def error_page(status: int, detail: str, lang: str = "en", path: str = "/") -> HTMLResponse:
    """The page a person sees for an error, in their language: what happened and where to go, never JSON."""
    t = CATALOGUE.table(lang)
    title = error_title(lang, status)
    login = f"/login?next={quote(path, safe='')}"
    hint = {
        401: f'{escape(t["error.401.hint"])} <a class="button" href="{escape(login)}">{escape(t["error.log_in"])}</a>',
        403: escape(t["error.403.hint"]),
        404: escape(t["error.404.hint"]),
    }.get(status, "")
    # The detail comes from the code that refused, in English; HTML says so rather than pretending otherwise.
    detail_lang = "" if lang == "en" else ' lang="en"'
    body = (
        f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        f"<title>{status} {escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="/static/app.css"></head><body><main>'
        f'<section class="card error-card"><p class="status-code">{status}</p><h1>{escape(title)}</h1>'
        f"<p{detail_lang}>{escape(detail[:500])}</p><p>{hint}</p>"
        f'<p class="actions"><a class="button" href="/">{escape(t["error.start"])}</a></p></section></main>'
        "</body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=_PAGE_HEADERS)


def problem_response(
    request: Request, status: int, detail: str, code: str | None = None, **extra: Any
) -> JSONResponse | HTMLResponse:
    """A problem-details response for programs, or an error page for a browser that asks for HTML."""
    if wants_html(request):
        return error_page(status, detail, page_language(request), request.url.path)
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if code:
        body["code"] = code
    body.update(extra)
    headers = {"WWW-Authenticate": 'Consortia-Ed25519 realm="consortia"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error as problem details."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        if exc.status in (401, 403):
            log.info("denied %s %s: %s %s", request.method, request.url.path, exc.status, exc.detail)
        return problem_response(request, exc.status, exc.detail, exc.code, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return problem_response(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": ".".join(str(p) for p in error.get("loc", ())), "message": error.get("msg", "")}
            for error in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
        return problem_response(request, 422, detail, "INVALID_REQUEST", errors=errors)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error serving %s %s", request.method, request.url.path)
        return problem_response(
            request, 500, f"the server failed unexpectedly ({type(exc).__name__}); the error was logged"
        )
