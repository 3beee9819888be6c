"""Errors as people and programs each need them: a translated page for a browser, problem details for a program.

Every cold-chain route is built with :class:`PageErrors` as its route class. When the route fails — a 401 from
``backend.require_read`` for a visitor who has not logged in, a 403 for a member of another consortium, a 404 for
a lot nobody recorded, a 422 for a query the route cannot read — the answer is chosen by the caller's ``Accept``
header (:func:`consortia.gateway.server.problems.wants_html`): a browser gets the cold chain's own error page in
Korean or English, with a log-in link on a 401 that brings the person back to where they were; a program gets the
platform's RFC 9457 problem details (:func:`~consortia.gateway.server.problems.problem_response`), unchanged.

An error page never echoes what the caller sent at length: an identifier is cut to :data:`ECHO_LIMIT` characters.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from consortia.apps.coldchain.web.catalogue import CATALOGUE, DEFAULT, LANGUAGES
from consortia.gateway.server.problems import Problem, problem_response, wants_html
from consortia.ui.i18n import pick_language

TEMPLATES = Path(__file__).parent / "templates"
ECHO_LIMIT = 60
"""The longest piece of a caller's input an error page repeats."""
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
LANG_COOKIE = "lang"

_templates = Jinja2Templates(directory=str(TEMPLATES))


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text`` cut to ``limit`` characters (with an ellipsis), so a page never repeats a very long input."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def language_of(request: Request) -> str:
    """The page language: ``?lang=`` (an unsupported one is ignored), the cookie, ``Accept-Language``, Korean."""
    return pick_language(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
        LANGUAGES,
        DEFAULT,
    )


def error_page(request: Request, status: int, *, detail: str | None = None, lang: str | None = None) -> HTMLResponse:
    """The cold chain's error page for ``status`` in the reader's language (``detail``: already translated)."""
    lang = lang or language_of(request)
    table = CATALOGUE.table(lang)
    title = table.get(f"error.{status}") or table["error.other"]
    text = detail or table.get(f"error.{status}.detail") or ""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    context = {
        "lang": lang,
        "text": table,
        "status": status,
        "title": title,
        "detail": text,
        "login": f"/login?next={quote(target, safe='')}" if status == 401 else None,
        "other_lang": next(x for x in LANGUAGES if x != lang),
        # the language switch repeats the address: not for a very long one (it is the caller's input)
        "path": request.url.path if len(request.url.path) <= 4 * ECHO_LIMIT else None,
    }
    return _templates.TemplateResponse(request, "error.html", context, status_code=status, headers=SECURITY_HEADERS)


def respond(request: Request, problem: Problem, *, detail: str | None = None) -> Response:
    """A page for a browser, problem details for a program (see the module docstring)."""
    if wants_html(request):
        return error_page(request, problem.status, detail=detail)
    return problem_response(request, problem.status, problem.detail, problem.code, **problem.extra)


class PageErrors(APIRoute):
    """A route whose errors are answered by :func:`respond` (a translated page, or problem details)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler: a :class:`Problem` or an unreadable request becomes :func:`respond`'s answer."""
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except Problem as exc:
                return respond(request, exc)
            except RequestValidationError as exc:
                errors = [
                    {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
                    for e in exc.errors()
                ]
                detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
                return respond(request, Problem(422, detail, code="INVALID_REQUEST", errors=errors))

        return answer
