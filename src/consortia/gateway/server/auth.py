"""Who is calling: signed requests for programs, sessions for people, and what each may see or do.

*Programs* sign every request with their own key, in the scheme of :mod:`consortia.client.request_signing`
(certificate, timestamp, nonce and an Ed25519 signature over method, target, time and body hash; replays refused
by a :class:`NonceCache`). The server holds no key for them: a program's transactions are endorsed here but
signed by the program (see the ``endorse`` route).

*People* log in with a password (:mod:`consortia.identity.wallet`); the session cookie is a random token bound
on the server to that user's decrypted identity, which signs their submissions. A session lasts only while that
identity's certificate identifies a member: on the first request after a configuration block revokes it (or
removes its organisation from every channel, or it expires) the session ends (:class:`SessionEnded`, a 401).

Both are judged with the membership *in force now* (:class:`~consortia.gateway.server.backend.MembersNow`), so a
revocation takes effect at the gateway with the block that carries it.

*Authorisation*: a channel's configuration names who may read its blocks through the gateway (its read
scope, pairs of organisation and role, see :mod:`consortia.channel.scope`); it is writable by member
organisations' clients and admins. Contract functions marked public may be evaluated by anyone.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request

from consortia.client.request_signing import AuthError, MemberJudge, verify_request
from consortia.identity import CertInfo, MembershipError, SigningIdentity
from consortia.identity.wallet import WalletUser

SESSION_COOKIE = "consortia_session"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    org: str
    name: str
    kind: str
    attributes: Mapping[str, str]
    via: str  # "signature" or "session"
    identity: SigningIdentity | None = None
    cert_hash: bytes = b""
    """SHA-256 of the caller's certificate: a program is itself, never a look-alike of its organisation."""

    @property
    def role(self) -> str | None:
        """The application role attribute."""
        return self.attributes.get("role")

    @property
    def id(self) -> str:
        """``org/name``."""
        return f"{self.org}/{self.name}"


@dataclass
class Session:
    """A logged-in person."""

    user: WalletUser
    identity: SigningIdentity
    expires: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(16))


class SessionStore:
    """Sessions by random token; kept in memory only (a restart logs everyone out)."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, user: WalletUser, identity: SigningIdentity) -> str:
        """Start a session; return its token."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[token] = Session(user, identity, time.monotonic() + self.ttl)
        return token

    def get(self, token: str | None) -> Session | None:
        """The live session of a token, if any."""
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if session.expires < time.monotonic():
                del self._sessions[token]
                return None
            return session

    def end(self, token: str | None) -> None:
        """Log out."""
        if token:
            with self._lock:
                self._sessions.pop(token, None)


class SessionEnded(AuthError):
    """A logged-in person whose certificate no longer identifies a member: the session is over (401)."""

    SESSION_ENDED = "SESSION_ENDED"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, self.SESSION_ENDED)
        self.reason = reason
        """The membership code that ended it, e.g. ``REVOKED_CERTIFICATE``."""


def check_session(session: Session, token: str, sessions: SessionStore, members: MemberJudge) -> None:
    """End `session` and raise :class:`SessionEnded` unless its identity is still a member now."""
    try:
        members.validate(session.identity.certificate_der, at_ms=int(time.time() * 1000))
    except MembershipError as exc:
        sessions.end(token)
        raise SessionEnded(
            f"your session has ended ({exc.code}): {exc.message}; log in again with a valid certificate", exc.code
        ) from None


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def is_loopback(host: str | None) -> bool:
    """Whether an address is this machine's loopback (127.0.0.0/8, ::1, localhost)."""
    return host is not None and (host in LOOPBACK_HOSTS or host.startswith("127."))


def cookies_secure(request: Request, configured: bool | None) -> bool:
    """Whether session cookies get the ``Secure`` flag: as configured, else whenever the server is not on loopback."""
    if configured is not None:
        return configured
    server = request.scope.get("server")
    return not is_loopback(server[0] if server else None)


def client_address(request: Request) -> str:
    """The caller's network address (for throttling)."""
    client = request.scope.get("client")
    return str(client[0]) if client else "unknown"


def request_target(request: Request) -> str:
    """The request target exactly as sent (percent-encoding included): what a program signs."""
    raw_query = request.scope.get("query_string", b"").decode("latin-1")
    raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    return raw_path + (f"?{raw_query}" if raw_query else "")


async def principal_of(request: Request, members: MemberJudge, sessions: SessionStore | None) -> Principal | None:
    """The caller: a program that signed its request, a logged-in person, or None; AuthError if a signature fails.

    The answer is kept on the request, so a route and the dependencies it uses see one check of the signature
    (and one use of its nonce). Signed requests are checked against the application's replay cache
    (``app.state.nonces``) when it has one.
    """
    cached = request.scope.get(_PRINCIPAL_KEY, _UNSET)
    if isinstance(cached, AuthError):
        raise cached
    if cached is not _UNSET:
        return cast(Principal | None, cached)
    header = request.headers.get("authorization")
    try:
        if header:
            body = await request.body()
            nonces = getattr(request.app.state, "nonces", None) if "app" in request.scope else None
            principal: Principal | None = principal_from_certificate(
                verify_request(header, request.method, request_target(request), body, members, nonces=nonces)
            )
        else:
            token = request.cookies.get(SESSION_COOKIE)
            session = sessions.get(token) if sessions is not None else None
            if session is not None and sessions is not None and token:
                check_session(session, token, sessions, members)
            principal = principal_from_session(session) if session is not None else None
    except AuthError as exc:
        request.scope[_PRINCIPAL_KEY] = exc
        raise
    request.scope[_PRINCIPAL_KEY] = principal
    return principal


_PRINCIPAL_KEY = "consortia.principal"
_UNSET = object()


def principal_from_session(session: Session) -> Principal:
    """The principal of a logged-in person."""
    info = session.identity.info
    return Principal(info.org, info.name, info.kind.value, info.attributes, "session", session.identity, info.cert_hash)


def principal_from_certificate(info: CertInfo) -> Principal:
    """The principal of a program that signed its request."""
    return Principal(info.org, info.name, info.kind.value, info.attributes, "signature", None, info.cert_hash)


async def caller_of(request: Request) -> Principal | None:
    """The caller of a request to the gateway service, as every route resolves it (401 problem on a bad signature).

    Applications' routes use this rather than their own resolution, so that the replay cache, the session store
    and the JSON-only rule for cookie writes apply to them exactly as to the platform's routes.
    """
    resolve = request.app.state.get_principal
    principal: Principal | None = await resolve(request)
    return principal


class FormRefused(Exception):
    """A posted form that did not come from this site with the session's token; the message says which."""


def same_origin(request: Request) -> bool:
    """Whether the request's ``Origin`` (when the browser sent one) is this site."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin != "null" and urlsplit(origin).netloc == request.headers.get("host", "")


def session_csrf(request: Request) -> str:
    """The CSRF token of the request's session (empty without a session)."""
    sessions: SessionStore = request.app.state.sessions
    session = sessions.get(request.cookies.get(SESSION_COOKIE))
    return session.csrf if session is not None else ""


async def checked_form(request: Request) -> FormData:
    """A person's posted form, once shown to come from this site with their session's CSRF token.

    Pages that change the ledger for a logged-in person post forms; a cookie alone would let another site post
    them (cross-site request forgery), so each form carries the session's token and the browser's ``Origin``
    must be this site. Raises :class:`FormRefused` saying what was wrong.
    """
    form = await request.form()
    if not same_origin(request):
        raise FormRefused("the form was sent from another site")
    expected = session_csrf(request)
    if not expected:
        raise FormRefused("the form was sent without a session; log in again")
    sent = str(form.get("csrf") or "")
    if not secrets.compare_digest(sent.encode(), expected.encode()):
        raise FormRefused("the form's CSRF token is not this session's; reload the page and send it again")
    return form
