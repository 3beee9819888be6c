"""The explorer pages: login, dashboard, channels, blocks, transactions (with the in-browser verifier), search,
and each channel's configuration history (with its membership chart, an SVG drawn here; its JSON twin is
``/api/channels/{ch}/config/history`` in :mod:`consortia.gateway.server.api`).

Server-rendered Jinja2 templates over the same :class:`Backend` the JSON API uses, so every page enforces exactly
the API's access rules: anonymous visitors are sent to ``/login``, a caller who may not read a channel gets a 403
page, unknown channels, blocks and transactions a 404 page. The live parts (transactions-per-second chart, recent
blocks, invalid transactions by reason) are plain JavaScript in ``static/explorer.js`` fed by the server-sent
events of ``/api/channels/{ch}/events``; the Verify box is driven by ``static/verify-widget.js``.

Pages carry a strict Content-Security-Policy (scripts only from this origin, no inline script), so data for the
scripts travels in ``data-`` attributes.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from consortia.gateway.server import explorer
from consortia.gateway.server.auth import (
    SESSION_COOKIE,
    Principal,
    SessionStore,
    client_address,
    cookies_secure,
    principal_from_session,
)
from consortia.gateway.server.backend import Backend
from consortia.gateway.server.explorer import ConfigHistory
from consortia.gateway.server.limits import ascii_int
from consortia.gateway.server.problems import Problem
from consortia.gateway.server.text import CATALOGUE as TEXT
from consortia.gateway.server.text import LANGUAGE_COOKIE, error_title, page_language
from consortia.gateway.server.views import block_view, transaction_view
from consortia.identity import MembershipError
from consortia.identity.wallet import WalletError
from consortia.ledger.block import header_hash
from consortia.ledger.codes import code_name
from consortia.ledger.encoding import MalformedError
from consortia.ledger.ledger import CommittedBlock, LedgerError
from consortia.ui.i18n import pick_language

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"

PAGE_SIZE = 20
RECENT_BLOCKS = 12
REASON_WINDOW = 200
"""How many recent blocks per channel the invalid-by-reason view counts over."""
CHART_SECONDS = 120
SEED_BLOCKS = 1000
"""At most this many blocks per channel are read to seed the chart with the last two minutes."""
LIVE_CHANNELS = 4
"""Server-sent event streams a dashboard opens at most (browsers allow six connections per host)."""
MAX_QUERY = 256

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

PrincipalGetter = Callable[[Request], Awaitable[Principal | None]]


# -- formatting ------------------------------------------------------------------------------------------------


def short_hash(value: str | None, head: int = 8, tail: int = 6) -> str:
    """A long hex string shortened for display (``abcd1234…9f8e7d``)."""
    if not value:
        return "—"
    return value if len(value) <= head + tail + 1 else f"{value[:head]}…{value[-tail:]}"


def format_time(ms: int | None) -> str:
    """Milliseconds since the epoch as ``YYYY-MM-DD HH:MM:SS UTC`` (the explorer's one zone, named)."""
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_time(ms: int) -> str:
    """Milliseconds since the epoch as an ISO 8601 UTC timestamp (for ``<time datetime>``)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def pretty_json(value: Any) -> str:
    """A JSON value indented for reading."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def compact_json(value: Any) -> str:
    """A JSON value on one line."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def code_class(code: str | None) -> str:
    """The CSS class of a validation code."""
    if code == "VALID":
        return "code-valid"
    return "code-invalid" if code else "code-none"


def who(party: Mapping[str, Any] | None) -> str:
    """``org/name`` of a creator, endorser or orderer view."""
    if not party or not party.get("org"):
        return "unknown"
    return f"{party['org']}/{party['name']}"


# -- the membership chart ---------------------------------------------------------------------------------------

CHART_LABEL_W = 96
CHART_PLOT_W = 560
CHART_ROW_H = 30
CHART_TOP = 26
CHART_AXIS_H = 30
CHART_MIN_GAP = 26
"""Closer axis labels than this (in chart units) are left out, so numbers never overprint."""


def membership_svg(history: ConfigHistory) -> Markup:
    """Who was a member when: one row per organisation, a bar per block range, a diamond per revocation change.

    The x axis runs over block numbers 0 … height (the last slot is the next block, which the configuration in
    force will judge); dashed lines mark configuration blocks. Drawn on the server so the page needs no script.
    """
    orgs = history.organisations
    slots = max(1, history.height)
    plot_right = CHART_LABEL_W + CHART_PLOT_W
    rows_h = CHART_ROW_H * max(1, len(orgs))
    height = CHART_TOP + rows_h + CHART_AXIS_H

    def x(block: float) -> float:
        return round(CHART_LABEL_W + CHART_PLOT_W * min(block, slots) / slots, 2)

    def y(org: str) -> int:
        return CHART_TOP + CHART_ROW_H * orgs.index(org)

    def blocks_text(start: int, end: int | None) -> str:
        return f"blocks {start}–{end}" if end is not None else f"from block {start} on (in force)"

    parts = [
        f'<svg class="membership-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {plot_right + 8} {height}" '
        f'role="img" aria-labelledby="membership-chart-title">',
        '<title id="membership-chart-title">Membership of channel '
        f"{escape(history.channel)} by block: {len(orgs)} organisation(s) over {history.height} block(s)</title>",
    ]
    for index, org in enumerate(orgs):
        top = y(org)
        if index % 2 == 0:
            parts.append(f'<rect class="row-band" x="0" y="{top}" width="{plot_right}" height="{CHART_ROW_H}"></rect>')
        parts.append(
            f'<text class="row-label" x="4" y="{top + CHART_ROW_H / 2 + 4}" data-org="{escape(org)}">'
            f"{escape(org)}</text>"
        )
    for span in history.members:
        end = span.to_block + 1 if span.to_block is not None else slots
        left, right = x(span.from_block), x(end)
        width = max(2.0, round(right - left, 2))
        parts.append(
            f'<rect class="member-bar{"" if span.to_block is not None else " in-force"}" x="{left}" '
            f'y="{y(span.org) + 7}" width="{width}" height="{CHART_ROW_H - 14}" rx="3" data-org="{escape(span.org)}" '
            f'data-from="{span.from_block}" data-to="{"" if span.to_block is None else span.to_block}">'
            f"<title>{escape(span.org)}: member during {blocks_text(span.from_block, span.to_block)}</title></rect>"
        )
    last_label = -CHART_MIN_GAP
    for version in history.versions[1:]:
        at = x(version.block + 0.5)
        parts.append(
            f'<line class="config-line" x1="{at}" y1="{CHART_TOP - 6}" x2="{at}" y2="{CHART_TOP + rows_h}" '
            f'data-block="{version.block}"><title>block {version.block}: configuration version {version.version}'
            "</title></line>"
        )
        if at - last_label >= CHART_MIN_GAP:
            parts.append(f'<text class="config-label" x="{at}" y="{CHART_TOP - 10}">v{version.version}</text>')
            last_label = at
    for change in history.revocations:
        if change.org not in orgs:
            continue
        cx, cy = x(change.from_block), y(change.org) + CHART_ROW_H / 2
        serials = ", ".join(format(serial, "x") for serial in change.revoked) or "none new"
        parts.append(
            f'<path class="revocation-mark" d="M{cx} {cy - 7} L{cx + 7} {cy} L{cx} {cy + 7} L{cx - 7} {cy} Z" '
            f'data-org="{escape(change.org)}" data-block="{change.from_block}"><title>{escape(change.org)}: '
            f"revocation list changed by version {change.version} (block {change.block}), in force from block "
            f"{change.from_block}; newly revoked serial(s) {serials}</title></path>"
        )
    axis_y = CHART_TOP + rows_h
    parts.append(f'<line class="axis" x1="{CHART_LABEL_W}" y1="{axis_y}" x2="{plot_right}" y2="{axis_y}"></line>')
    ticks = sorted({0, *(v.block for v in history.versions[1:]), history.height})
    last_tick = -CHART_MIN_GAP
    for number in ticks:
        at = x(number + 0.5) if 0 < number < history.height else x(number)
        if at - last_tick < CHART_MIN_GAP and number != history.height:
            continue
        anchor = "end" if number == history.height and number > 0 else "middle" if number else "start"
        label = f"#{number}" if number < history.height else f"{number} (next)"
        parts.append(f'<text class="axis-label" x="{at}" y="{axis_y + 18}" text-anchor="{anchor}">{label}</text>')
        last_tick = at
    parts.append("</svg>")
    return Markup("".join(parts))


def safe_next(value: str | None) -> str:
    """A local path to return to after login (anything else becomes ``/``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return "/"
    return value


def _int(value: str | None) -> int | None:
    return ascii_int(value)


# -- the pages -------------------------------------------------------------------------------------------------


def explorer_templates() -> Jinja2Templates:
    """The explorer's templates with the filters and globals they use."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.filters.update(
        short=short_hash, when=format_time, iso=iso_time, pretty=pretty_json, compact=compact_json, who=who
    )
    env.filters["code_class"] = code_class
    env.globals["quote"] = lambda value: quote(str(value), safe="")
    return templates


def install_pages(app: FastAPI, backend: Backend, sessions: SessionStore, get_principal: PrincipalGetter) -> None:
    """Add the explorer pages, their static files and HTML error pages to the gateway application."""
    templates = explorer_templates()
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    principal_dep = Depends(get_principal)

    def settings() -> Any:
        return app.state.settings

    def render(
        request: Request,
        template: str,
        context: dict[str, Any],
        principal: Principal | None,
        status: int = 200,
    ) -> Response:
        session = sessions.get(request.cookies.get(SESSION_COOKIE)) if principal is not None else None
        # The explorer's pages are an English tool for operators; what an anonymous visitor reaches from an
        # application (the login page, error pages) speaks the visitor's language.
        lang = "en" if principal is not None else page_language(request)
        full = {
            "lang": lang,
            "t": TEXT.table(lang),
            "principal": principal,
            "csrf": session.csrf if session is not None else "",
            "query": "",
            "nav_channels": readable(principal) if principal is not None else [],
            **context,
        }
        response = templates.TemplateResponse(request, template, full, status_code=status)
        response.headers.update(SECURITY_HEADERS)
        return response

    def error_page(request: Request, principal: Principal | None, status: int, detail: str) -> Response:
        try:
            title = HTTPStatus(status).phrase
        except ValueError:
            title = "Error"
        if principal is None:
            title = error_title(page_language(request), status)
        context = {"status": status, "title": title, "detail": detail}
        return render(request, "error.html", context, principal, status)

    def to_login(request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    def page(
        request: Request,
        principal: Principal | None,
        template: str,
        build: Callable[[Principal], dict[str, Any]],
    ) -> Response:
        """Render a page for a logged-in caller; redirect anonymous ones, turn problems into error pages."""
        if principal is None:
            return to_login(request)
        try:
            context = build(principal)
        except Problem as exc:
            if exc.status == 401:
                return to_login(request)
            return error_page(request, principal, exc.status, exc.detail)
        except (MalformedError, LedgerError) as exc:
            return error_page(request, principal, 422, f"this ledger entry cannot be shown: {exc}")
        except Exception as exc:
            log.exception("unexpected error rendering %s", request.url.path)
            return error_page(request, principal, 500, f"the page failed ({type(exc).__name__}); the error was logged")
        return render(request, template, context, principal)

    def readable(principal: Principal) -> list[str]:
        return [name for name in backend.channel_names() if backend.can_read(principal, name)]

    def same_origin(request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is None or origin == "null":
            return origin is None
        return urlsplit(origin).netloc == request.headers.get("host", "")

    # -- login / logout ----------------------------------------------------------------------------------------

    @app.get("/login", include_in_schema=False)
    async def login_form(request: Request, principal: Principal | None = principal_dep) -> Response:
        target = safe_next(request.query_params.get("next"))
        if principal is not None:
            return RedirectResponse(target, status_code=303)
        lang = page_language(request)
        response = render(request, "login.html", {"next": target, "username": "", "error": None}, None)
        if request.query_params.get("lang") == lang:
            response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, samesite="lax")
        return response

    @app.post("/login", include_in_schema=False)
    async def login_submit(request: Request) -> Response:
        form = await request.form()
        username = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        target = safe_next(str(form.get("next") or "/"))

        lang = pick_language(
            str(form.get("lang") or ""), None, request.headers.get("accept-language"), TEXT.languages, TEXT.default
        )

        def again(key: str, status: int, **params: object) -> Response:
            context = {"next": target, "username": username[:128], "error": TEXT.text(lang, key, **params)}
            response = render(request, "login.html", {**context, "lang": lang, "t": TEXT.table(lang)}, None, status)
            return response

        if not same_origin(request):
            return again("login.same_site", 403)
        if not username or not password or len(username) > 128 or len(password) > 1024:
            return again("login.missing", 401)
        address = client_address(request)
        refusal = app.state.throttle.check(username, address)
        if refusal is not None:
            return again("login.throttled", 429, seconds=refusal.retry_after_s)
        try:
            user, identity = await run_in_threadpool(backend.wallet.login, username, password)
        except WalletError:
            app.state.throttle.failed(username, address)
            return again("login.wrong", 401)
        app.state.throttle.succeeded(username)
        try:  # as the API login: a revoked certificate or a removed organisation gets no session
            backend.members.judge_now(identity.certificate_der)
        except MembershipError as exc:
            return again("login.refused", 403 if exc.code == MembershipError.REVOKED_CERTIFICATE else 401)
        token = sessions.create(user, identity)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=cookies_secure(request, settings().secure_cookies),
            max_age=int(settings().session_ttl_seconds),
        )
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        form = await request.form()
        token = request.cookies.get(SESSION_COOKIE)
        session = sessions.get(token)
        if session is not None:
            sent = str(form.get("csrf") or "")
            if not same_origin(request) or not secrets.compare_digest(sent.encode(), session.csrf.encode()):
                return error_page(
                    request, principal_from_session(session), 403, "This logout request did not come from this site."
                )
            sessions.end(token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    # -- dashboard ---------------------------------------------------------------------------------------------

    def dashboard_context(principal: Principal) -> dict[str, Any]:
        now_ms = int(time.time() * 1000)
        cutoff_ms = now_ms - CHART_SECONDS * 1000
        channels: list[dict[str, Any]] = []
        recent: list[dict[str, Any]] = []
        reasons: Counter[str] = Counter()
        examined_tx = 0
        examined_blocks = 0
        seed: list[list[int]] = []
        for name in readable(principal):
            access = backend.access(name)
            peer_channel = backend.peer_channel(name, principal)
            height = peer_channel.height
            last = peer_channel.ledger.last_header
            channels.append(
                {
                    "name": name,
                    "height": height,
                    "organisations": list(access.orgs),
                    "last_hash": None if last is None else header_hash(last).hex(),
                    "last_time": None if last is None else last.timestamp_ms,
                }
            )
            chart_open = True
            lowest = max(0, height - max(REASON_WINDOW, SEED_BLOCKS))
            for number in range(height - 1, lowest - 1, -1):
                in_reasons = number >= height - REASON_WINDOW
                in_recent = number >= height - RECENT_BLOCKS
                if not (in_reasons or in_recent or chart_open):
                    break
                record = peer_channel.ledger.record(number)
                if in_reasons:
                    examined_blocks += 1
                    examined_tx += len(record.codes)
                    reasons.update(code_name(c) for c in record.codes if c != 0)
                if not (in_recent or chart_open):
                    continue
                committed = CommittedBlock.from_record(record)
                if in_recent:
                    view = block_view(committed, with_transactions=False)
                    view["channel"] = name
                    recent.append(view)
                timestamp_ms = committed.block.header.timestamp_ms
                if chart_open and timestamp_ms >= cutoff_ms:
                    valid = sum(1 for c in committed.codes if c == 0)
                    seed.append([timestamp_ms, valid, len(committed.codes) - valid])
                else:
                    chart_open = False  # block times only grow: everything older is off the chart
        recent.sort(key=lambda b: (b["header"]["timestamp_ms"], b["number"]), reverse=True)
        rows = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
        return {
            "channels": channels,
            "recent": recent[:RECENT_BLOCKS],
            "reasons": rows,
            "reason_max": max((count for _, count in rows), default=0),
            "examined_tx": examined_tx,
            "examined_blocks": examined_blocks,
            "reason_window": REASON_WINDOW,
            "live": {
                "channels": [{"name": c["name"], "from": c["height"]} for c in channels[:LIVE_CHANNELS]],
                "serverNow": now_ms,
                "seconds": CHART_SECONDS,
                "seed": seed,
                "recentMax": RECENT_BLOCKS,
            },
        }

    @app.get("/", include_in_schema=False)
    def dashboard(request: Request, principal: Principal | None = principal_dep) -> Response:
        return page(request, principal, "dashboard.html", dashboard_context)

    # -- channel -----------------------------------------------------------------------------------------------

    @app.get("/channels/{channel}", include_in_schema=False)
    def channel_page(channel: str, request: Request, principal: Principal | None = principal_dep) -> Response:
        def build(principal: Principal) -> dict[str, Any]:
            access = backend.require_read(principal, channel)
            peer_channel = backend.peer_channel(channel, principal)
            height = peer_channel.height
            rows = peer_channel.ledger.state.range("_lifecycle", "definition/", "definition0")
            contracts = [json.loads(value.value) for _, value in rows]
            orderers = [o.msp_id for o in peer_channel.rules.config.orderer.organisations]
            requested = _int(request.query_params.get("from"))
            first = max(0, height - PAGE_SIZE) if requested is None else min(requested, max(0, height - 1))
            last = min(height, first + PAGE_SIZE)
            blocks = [
                block_view(peer_channel.ledger.committed_block(number), with_transactions=False)
                for number in range(last - 1, first - 1, -1)
            ]
            header = peer_channel.ledger.last_header
            return {
                "channel": channel,
                "organisations": list(access.orgs),
                "reader_roles": list(access.readers),
                "config_version": peer_channel.rules.config.version,
                "orderers": orderers,
                "contracts": contracts,
                "height": height,
                "last_hash": None if header is None else header_hash(header).hex(),
                "blocks": blocks,
                "newer": first + PAGE_SIZE if last < height else None,
                "older": max(0, first - PAGE_SIZE) if first > 0 else None,
                "latest": last < height,
            }

        return page(request, principal, "channel.html", build)

    # -- block -------------------------------------------------------------------------------------------------

    @app.get("/channels/{channel}/blocks/{number}", include_in_schema=False)
    def block_page(
        channel: str, number: str, request: Request, principal: Principal | None = principal_dep
    ) -> Response:
        def build(principal: Principal) -> dict[str, Any]:
            backend.require_read(principal, channel)
            peer_channel = backend.peer_channel(channel, principal)
            height = peer_channel.height
            n = _int(number)
            if n is None or n >= height:
                raise Problem(404, f"channel {channel!r} has no block {number} (height {height})")
            view = block_view(peer_channel.ledger.committed_block(n))
            return {
                "channel": channel,
                "block": view,
                "height": height,
                "previous": n - 1 if n > 0 else None,
                "next": n + 1 if n + 1 < height else None,
                "invalid": sum(1 for t in view["transactions"] if t["validation_code"] != "VALID"),
            }

        return page(request, principal, "block.html", build)

    # -- configuration history ---------------------------------------------------------------------------------

    @app.get("/channels/{channel}/config", include_in_schema=False)
    def config_page(channel: str, request: Request, principal: Principal | None = principal_dep) -> Response:
        def build(principal: Principal) -> dict[str, Any]:
            history = explorer.channel_config_history(backend, principal, channel)
            return {
                "channel": channel,
                "history": history,
                "versions": list(reversed(history.versions)),
                "chart": membership_svg(history),
                "json_url": f"/api/channels/{quote(channel, safe='')}/config/history",
            }

        return page(request, principal, "config.html", build)

    # -- transaction -------------------------------------------------------------------------------------------

    @app.get("/channels/{channel}/tx/{tx_id}", include_in_schema=False)
    def transaction_page(
        channel: str, tx_id: str, request: Request, principal: Principal | None = principal_dep
    ) -> Response:
        def build(principal: Principal) -> dict[str, Any]:
            located = explorer.locate(backend, principal, channel, tx_id)
            tx = tx_id.strip().lower()
            view = transaction_view(located.transaction)
            writes = sum(len(ns["writes"]) for ns in view["rwset"])
            reads = sum(len(ns["reads"]) for ns in view["rwset"])
            private = sum(len(ns["private"]) for ns in view["rwset"])
            return {
                "channel": channel,
                "tx": view,
                "proof_url": f"/api/channels/{quote(channel, safe='')}/transactions/{quote(tx, safe='')}/proof",
                "consistency_url": f"/api/channels/{quote(channel, safe='')}/consistency",
                "counts": {"reads": reads, "writes": writes, "private": private},
            }

        return page(request, principal, "transaction.html", build)

    # -- search ------------------------------------------------------------------------------------------------

    @app.get("/search", include_in_schema=False)
    def search_page(request: Request, principal: Principal | None = principal_dep) -> Response:
        raw = request.query_params.get("q", "")

        def build(principal: Principal) -> dict[str, Any]:
            text = raw.strip()
            if len(text) > MAX_QUERY:
                return {"query": raw[:MAX_QUERY], "results": [], "error": f"Search for at most {MAX_QUERY} characters."}
            results = [hit.as_json() for hit in explorer.search(backend, principal, text)]
            return {"query": text, "results": results, "error": None}

        return page(request, principal, "search.html", build)

    # -- HTML error pages for browsers -------------------------------------------------------------------------

    previous_handler = app.exception_handlers.get(StarletteHTTPException)

    async def html_errors(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        wants_html = "text/html" in request.headers.get("accept", "")
        if wants_html and not request.url.path.startswith("/api/") and exc.status_code in (404, 405):
            principal = None
            session = sessions.get(request.cookies.get(SESSION_COOKIE))
            if session is not None:
                principal = principal_from_session(session)
            detail = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
            return error_page(request, principal, exc.status_code, detail)
        if previous_handler is not None:
            result = previous_handler(request, exc)
            return await result if isinstance(result, Awaitable) else result
        raise exc

    app.add_exception_handler(StarletteHTTPException, html_errors)
