"""Who is calling: signed requests for programs, sessions for people, and what each may see or do.

*Programs* sign every request with their own key. The ``Authorization`` header carries their certificate, a
timestamp and an Ed25519 signature over ``consortia-request/v1 ‖ method ‖ path?query ‖ timestamp ‖
SHA-256(body)``; the server checks the certificate against the CAs of the network's organisations (validity
included), the signature, and that the timestamp is within five minutes. The server holds no key for them: a
program's transactions are endorsed here but signed by the program (see the ``endorse`` route).

*People* log in with a password (:mod:`consortia.identity.wallet`); the session cookie is a random token bound
on the server to that user's decrypted identity, which signs their submissions.

*Authorisation*: a channel is readable by its member organisations and by any identity whose ``role``
attribute is one of the channel's reader roles (e.g. ``regulator``); it is writable by member organisations'
clients and admins. Contract functions marked public may be evaluated by anyone.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from starlette.requests import Request

from consortia.identity import CertInfo, Kind, Membership, MembershipError, SigningIdentity
from consortia.identity.signing import verify_signature
from consortia.identity.wallet import WalletUser

SCHEME = "Consortia-Ed25519"
SESSION_COOKIE = "consortia_session"
MAX_SKEW_MS = 5 * 60 * 1000
_PARAM = re.compile(r'(\w+)="([^"]*)"')


class AuthError(Exception):
    """Authentication failed; ``status`` is 401."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    org: str
    name: str
    kind: str
    attributes: Mapping[str, str]
    via: str  # "signature" or "session"
    identity: SigningIdentity | None = None

    @property
    def role(self) -> str | None:
        """The application role attribute."""
        return self.attributes.get("role")

    @property
    def id(self) -> str:
        """``org/name``."""
        return f"{self.org}/{self.name}"


def request_signing_bytes(method: str, target: str, timestamp_ms: int, body: bytes) -> bytes:
    """The bytes a program signs for one HTTP request."""
    digest = hashlib.sha256(body).hexdigest()
    return f"consortia-request/v1\n{method.upper()}\n{target}\n{timestamp_ms}\n{digest}".encode()


def authorization_header(
    identity: SigningIdentity, method: str, target: str, body: bytes, timestamp_ms: int | None = None
) -> str:
    """The Authorization header value a program sends (used by the CLI and the remote client)."""
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    signature = identity.sign(request_signing_bytes(method, target, ts, body))
    cert = base64.b64encode(identity.certificate_der).decode()
    return f'{SCHEME} cert="{cert}", ts="{ts}", sig="{base64.b64encode(signature).decode()}"'


def verify_request(
    header: str,
    method: str,
    target: str,
    body: bytes,
    members: Membership,
    now_ms: int | None = None,
    *,
    kinds: Collection[Kind] = (Kind.CLIENT, Kind.ADMIN),
) -> CertInfo:
    """Authenticate a signed request from one of ``kinds`` (programs, or nodes); return the caller's certificate."""
    scheme, _, rest = header.partition(" ")
    if scheme != SCHEME:
        raise AuthError(f"unsupported authorization scheme {scheme!r}; use {SCHEME}")
    params = dict(_PARAM.findall(rest))
    try:
        cert = base64.b64decode(params["cert"], validate=True)
        timestamp = int(params["ts"])
        signature = base64.b64decode(params["sig"], validate=True)
    except (KeyError, ValueError):
        raise AuthError('authorization needs cert="<base64 DER>", ts="<ms>", sig="<base64>"') from None
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - timestamp) > MAX_SKEW_MS:
        raise AuthError("request timestamp is more than 5 minutes from the server's clock")
    try:
        info = members.validate(cert, at_ms=now, kinds=kinds)
    except MembershipError as exc:
        raise AuthError(exc.message) from None
    if not verify_signature(info.public_key, request_signing_bytes(method, target, timestamp, body), signature):
        raise AuthError("request signature does not verify")
    return info


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


def request_target(request: Request) -> str:
    """The request target exactly as sent (percent-encoding included): what a program signs."""
    raw_query = request.scope.get("query_string", b"").decode("latin-1")
    raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    return raw_path + (f"?{raw_query}" if raw_query else "")


async def principal_of(request: Request, members: Membership, sessions: SessionStore | None) -> Principal | None:
    """The caller: a program that signed its request, a logged-in person, or None; AuthError if a signature fails."""
    header = request.headers.get("authorization")
    if header:
        body = await request.body()
        return principal_from_certificate(
            verify_request(header, request.method, request_target(request), body, members)
        )
    session = sessions.get(request.cookies.get(SESSION_COOKIE)) if sessions is not None else None
    return principal_from_session(session) if session is not None else None


def principal_from_session(session: Session) -> Principal:
    """The principal of a logged-in person."""
    info = session.identity.info
    return Principal(info.org, info.name, info.kind.value, info.attributes, "session", session.identity)


def principal_from_certificate(info: CertInfo) -> Principal:
    """The principal of a program that signed its request."""
    return Principal(info.org, info.name, info.kind.value, info.attributes, "signature")
