"""The gateway service application: API, events, metrics, login and explorer pages over one network.

``create_app(network)`` builds the FastAPI application; ``consortia serve`` and ``consortia demo`` run it with
uvicorn on 127.0.0.1 over the embedded network, and ``consortia node`` runs it next to one organisation's peer (a
:class:`~consortia.gateway.server.backend.GatewayNetwork` either way). OpenAPI is at ``/docs``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consortia import __version__
from consortia.client.request_signing import AuthError, NonceCache
from consortia.gateway.server.api import build_router
from consortia.gateway.server.auth import (
    SESSION_COOKIE,
    Principal,
    SessionEnded,
    SessionStore,
    client_address,
    cookies_secure,
    is_loopback,
    principal_of,
)
from consortia.gateway.server.backend import Backend, GatewayNetwork
from consortia.gateway.server.limits import JsonBodyLimits
from consortia.gateway.server.metrics import CONTENT_TYPE, GatewayMetrics
from consortia.gateway.server.pages import install_pages
from consortia.gateway.server.problems import PROBLEM_RESPONSES, Problem, install_problem_handlers, problem_response
from consortia.gateway.server.streams import StreamSlots
from consortia.gateway.server.throttle import LoginThrottle
from consortia.identity import MembershipError
from consortia.identity.wallet import WalletError
from consortia.plugins import discover

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerSettings:
    """Limits and switches of the gateway service."""

    max_body_bytes: int = 1 << 20
    session_ttl_seconds: float = 8 * 3600
    secure_cookies: bool | None = None
    """``Secure`` session cookies: None means whenever the server is not listening on loopback."""
    metrics_token: str | None = None
    """Bearer token ``/metrics`` requires; without one, only loopback clients may read the metrics."""
    max_streams_per_caller: int = 8
    tamper_proofs: bool = False
    watch_identities: bool = True
    """Follow the nodes' identity folders while served (``consortia identity renew`` then needs no restart)."""
    """Test-only: corrupt proofs in transit so the browser verifier's failure path can be tested."""


class BodyLimit:
    """Refuse request bodies over a limit with 413, before reading them whole."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge(self.limit)
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = problem_response(request, 413, f"request body is larger than {self.limit} bytes")
        await response(scope, receive, send)


class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than {limit} bytes")


class Login(BaseModel):
    """Credentials of a person."""

    username: str = Field(..., min_length=3, max_length=128, description="org/name, e.g. Org1/alice")
    password: str = Field(..., min_length=1, max_length=1024)


NODE_READY = "runs_on_node"
"""``Application.extra`` key an application sets (True) once its pages and services work on an organisation's node."""


def create_app(network: GatewayNetwork, settings: ServerSettings | None = None) -> FastAPI:
    """Build the gateway service for a running network."""
    settings = settings or ServerSettings()
    backend = Backend(network)
    sessions = SessionStore(settings.session_ttl_seconds)
    metrics = GatewayMetrics()
    for name in backend.channel_names():
        metrics.follow(backend.peer_channel(name))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # While served, renewed node certificates are picked up from the data folder without a restart.
        watches = backend.watch_identities() if settings.watch_identities else []
        try:
            yield
        finally:
            for watch in watches:
                watch.stop()
            metrics.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Consortia gateway",
        version=__version__,
        description="Channels, blocks, transactions, proofs, contracts and events of a Consortia network. "
        "Programs sign requests (Authorization: Consortia-Ed25519 …); people log in.",
        responses=PROBLEM_RESPONSES,
    )
    app.state.backend = backend
    app.state.sessions = sessions
    app.state.metrics = metrics
    app.state.settings = settings
    app.state.nonces = NonceCache()
    app.state.streams = StreamSlots(settings.max_streams_per_caller)
    app.state.throttle = LoginThrottle()
    install_problem_handlers(app)
    app.add_middleware(JsonBodyLimits)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)  # outermost: refuse large bodies before reading

    async def get_principal(request: Request) -> Principal | None:
        try:
            principal = await principal_of(request, backend.members, sessions)
        except SessionEnded as exc:
            raise Problem(401, exc.message, code=exc.code, reason=exc.reason) from None
        except AuthError as exc:
            if exc.revoked:
                raise Problem(403, exc.message, code=exc.code) from None
            raise Problem(401, exc.message, code=exc.code) from None
        if principal is not None and principal.via == "session":
            # Cookie-authenticated writes must be JSON: a cross-site form cannot send that without CORS.
            is_json = request.headers.get("content-type", "").startswith("application/json")
            if request.method == "POST" and request.url.path.startswith("/api/") and not is_json:
                raise Problem(415, "send JSON (Content-Type: application/json)", code="JSON_REQUIRED")
        return principal

    app.state.get_principal = get_principal

    @app.middleware("http")
    async def count_denials(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        if response.status_code in (401, 403):
            metrics.denied.labels(str(response.status_code)).inc()
            log.warning("%s %s → %s", request.method, request.url.path, response.status_code)
        return response

    app.include_router(build_router(backend, get_principal, metrics, settings.tamper_proofs))

    @app.get("/healthz", summary="Liveness (channel heights for callers who may read them)")
    async def healthz(request: Request) -> dict[str, Any]:
        try:
            principal = await get_principal(request)
        except Problem:
            principal = None
        if principal is None:
            return {"status": "ok"}  # anonymous callers learn that it is up, not which channels exist
        readable = [n for n in backend.channel_names() if backend.can_read(principal, n)]
        return {"status": "ok", "channels": {n: backend.peer_channel(n, principal).height for n in readable}}

    @app.get(
        "/metrics", summary="Prometheus metrics (loopback clients, or a bearer token)", response_class=PlainTextResponse
    )
    def prometheus(request: Request) -> Response:
        if settings.metrics_token is not None:
            sent = request.headers.get("authorization", "")
            expected = f"Bearer {settings.metrics_token}"
            if not secrets.compare_digest(sent.encode(), expected.encode()):
                raise Problem(401, "send the metrics token (Authorization: Bearer …)", code="METRICS_TOKEN")
        elif not is_loopback(client_address(request)):
            raise Problem(403, "metrics are served to loopback clients only unless a token is set", code="FORBIDDEN")
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    @app.post("/api/login", summary="Log in a person; sets the session cookie")
    def api_login(credentials: Login, request: Request, response: Response) -> dict[str, Any]:
        address = client_address(request)
        refusal = app.state.throttle.check(credentials.username, address)
        if refusal is not None:
            raise Problem(429, refusal.reason, code="TOO_MANY_LOGINS", retry_after_s=refusal.retry_after_s)
        try:
            user, identity = backend.wallet.login(credentials.username, credentials.password)
        except WalletError as exc:
            app.state.throttle.failed(credentials.username, address)
            raise Problem(401, str(exc), code="LOGIN_FAILED") from None
        app.state.throttle.succeeded(credentials.username)
        try:
            backend.members.judge_now(identity.certificate_der)
        except MembershipError as exc:
            status = 403 if exc.code == MembershipError.REVOKED_CERTIFICATE else 401
            raise Problem(status, f"{credentials.username} may not log in: {exc.message}", code=exc.code) from None
        token = sessions.create(user, identity)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=cookies_secure(request, settings.secure_cookies),
            max_age=int(settings.session_ttl_seconds),
        )
        return {"user": user.username, "org": user.org, "kind": user.kind, "role": user.role}

    @app.post("/api/logout", summary="End the session")
    def api_logout(request: Request) -> JSONResponse:
        sessions.end(request.cookies.get(SESSION_COOKIE))
        response = JSONResponse({"logged_out": True})
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/api/me", summary="Who the caller is")
    async def me(request: Request) -> dict[str, Any]:
        principal = await get_principal(request)
        if principal is None:
            raise Problem(401, "not logged in", code="UNAUTHENTICATED")
        return {
            "org": principal.org,
            "name": principal.name,
            "kind": principal.kind,
            "role": principal.role,
            "via": principal.via,
            "channels": [n for n in backend.channel_names() if backend.can_read(principal, n)],
        }

    install_pages(app, backend, sessions, get_principal)

    for application in discover():
        if application.install is not None:
            if backend.embedded is None and not application.extra.get(NODE_READY):
                # Its pages or services reach into the embedded network (every organisation in this process).
                log.info("application %s needs the embedded network; not installed on this node", application.name)
                continue
            try:
                application.install(app, backend)
            except Exception:  # an application's pages must not take the gateway down
                log.exception("application %s failed to install its routes", application.name)

    return app


FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1f4e79"/>'
    b'<path d="M9 11h14M9 16h14M9 21h14" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>'
)
"""The tab icon: three linked blocks, as an SVG (every current browser takes it from /favicon.ico)."""

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATES_DIR = Path(__file__).parent / "templates"
