"""Who is calling: signed requests for programs, sessions for people, and what each may see or do.

*Programs* sign every request with their own key. The ``Authorization`` header carries their certificate, a
timestamp, a random nonce and an Ed25519 signature over ``consortia-request/v2 ‖ method ‖ path?query ‖
timestamp ‖ nonce ‖ SHA-256(body)``; the server checks the certificate against the CAs of the network's
organisations (validity included), the signature, that the timestamp is within five minutes, and that it has
not seen the same certificate and nonce within that window (:class:`NonceCache`): a request captured on the wire
cannot be sent again. The server holds no key for them: a program's transactions are endorsed here but signed by
the program (see the ``endorse`` route).

*People* log in with a password (:mod:`consortia.identity.wallet`); the session cookie is a random token bound
on the server to that user's decrypted identity, which signs their submissions.

*Authorisation*: a channel's configuration names who may read its blocks through the gateway (its read
scope, pairs of organisation and role, see :mod:`consortia.channel.scope`); it is writable by member
organisations' clients and admins. Contract functions marked public may be evaluated by anyone.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from starlette.requests import Request

from consortia.identity import CertInfo, Kind, Membership, MembershipError, SigningIdentity
from consortia.identity.signing import verify_signature
from consortia.identity.wallet import WalletUser

SCHEME = "Consortia-Ed25519"
SESSION_COOKIE = "consortia_session"
MAX_SKEW_MS = 5 * 60 * 1000
NONCE_BYTES = 16
MAX_NONCES = 1_000_000
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


def request_signing_bytes(method: str, target: str, timestamp_ms: int, nonce: str, body: bytes) -> bytes:
    """The bytes a program signs for one HTTP request."""
    digest = hashlib.sha256(body).hexdigest()
    return f"consortia-request/v2\n{method.upper()}\n{target}\n{timestamp_ms}\n{nonce}\n{digest}".encode()


def authorization_header(
    identity: SigningIdentity,
    method: str,
    target: str,
    body: bytes,
    timestamp_ms: int | None = None,
    nonce: str | None = None,
) -> str:
    """The Authorization header value a program sends (used by the CLI and the remote client)."""
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    nonce = secrets.token_hex(NONCE_BYTES) if nonce is None else nonce
    signature = identity.sign(request_signing_bytes(method, target, ts, nonce, body))
    cert = base64.b64encode(identity.certificate_der).decode()
    return f'{SCHEME} cert="{cert}", ts="{ts}", nonce="{nonce}", sig="{base64.b64encode(signature).decode()}"'


class NonceCache:
    """Nonces of signed requests seen within the clock-skew window, per certificate: a replay is refused.

    A request is accepted only within ``MAX_SKEW_MS`` of the server's clock, so a nonce needs remembering only
    that long (twice, to cover a timestamp in the future). The cache is bounded: when full, the oldest entries
    go first, and requests older than the oldest remembered one are refused rather than risk a replay.
    """

    def __init__(self, window_ms: int = MAX_SKEW_MS, capacity: int = MAX_NONCES) -> None:
        self.window_ms = window_ms
        self.capacity = capacity
        self._seen: OrderedDict[bytes, int] = OrderedDict()
        self._floor_ms = 0
        self._lock = threading.Lock()

    def check_and_remember(self, cert_hash: bytes, nonce: str, timestamp_ms: int, now_ms: int) -> None:
        """Remember a request's nonce; AuthError if it was seen before (or is too old to tell)."""
        key = cert_hash + nonce.encode()
        with self._lock:
            horizon = now_ms - 2 * self.window_ms
            while self._seen:
                seen_at = next(iter(self._seen.values()))
                if seen_at >= horizon and len(self._seen) < self.capacity:
                    break
                self._seen.popitem(last=False)
                self._floor_ms = max(self._floor_ms, seen_at)
            if key in self._seen:
                raise AuthError("request replayed: this nonce was already used (sign every request anew)")
            if timestamp_ms < self._floor_ms - self.window_ms:
                raise AuthError("request too old for the replay check: sign it anew")
            self._seen[key] = now_ms


def verify_request(
    header: str,
    method: str,
    target: str,
    body: bytes,
    members: Membership,
    now_ms: int | None = None,
    *,
    kinds: Collection[Kind] = (Kind.CLIENT, Kind.ADMIN),
    nonces: NonceCache | None = None,
) -> CertInfo:
    """Authenticate a signed request from one of ``kinds`` (programs, or nodes); return the caller's certificate."""
    scheme, _, rest = header.partition(" ")
    if scheme != SCHEME:
        raise AuthError(f"unsupported authorization scheme {scheme!r}; use {SCHEME}")
    params = dict(_PARAM.findall(rest))
    try:
        cert = base64.b64decode(params["cert"], validate=True)
        ts_text = params["ts"]
        if not (ts_text.isascii() and ts_text.isdigit() and len(ts_text) <= 15):
            raise ValueError(ts_text)
        timestamp = int(ts_text)
        nonce = params["nonce"]
        signature = base64.b64decode(params["sig"], validate=True)
    except (KeyError, ValueError):
        raise AuthError(
            'authorization needs cert="<base64 DER>", ts="<ms>", nonce="<hex>", sig="<base64>"'
        ) from None
    if not (16 <= len(nonce) <= 64 and all(c in "0123456789abcdef" for c in nonce)):
        raise AuthError("nonce must be 16–64 lowercase hex digits")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - timestamp) > MAX_SKEW_MS:
        raise AuthError("request timestamp is more than 5 minutes from the server's clock")
    try:
        info = members.validate(cert, at_ms=now, kinds=kinds)
    except MembershipError as exc:
        raise AuthError(exc.message) from None
    if not verify_signature(info.public_key, request_signing_bytes(method, target, timestamp, nonce, body), signature):
        raise AuthError("request signature does not verify")
    if nonces is not None:
        nonces.check_and_remember(hashlib.sha256(cert).digest(), nonce, timestamp, now)
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


async def principal_of(request: Request, members: Membership, sessions: SessionStore | None) -> Principal | None:
    """The caller: a program that signed its request, a logged-in person, or None; AuthError if a signature fails.

    The answer is kept on the request, so a route and the dependencies it uses see one check of the signature
    (and one use of its nonce). Signed requests are checked against the application's replay cache
    (``app.state.nonces``) when it has one.
    """
    cached = request.scope.get(_PRINCIPAL_KEY, _UNSET)
    if isinstance(cached, AuthError):
        raise cached
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    header = request.headers.get("authorization")
    try:
        if header:
            body = await request.body()
            nonces = getattr(request.app.state, "nonces", None) if "app" in request.scope else None
            principal: Principal | None = principal_from_certificate(
                verify_request(header, request.method, request_target(request), body, members, nonces=nonces)
            )
        else:
            session = sessions.get(request.cookies.get(SESSION_COOKIE)) if sessions is not None else None
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
    return Principal(
        info.org, info.name, info.kind.value, info.attributes, "session", session.identity, info.cert_hash
    )


def principal_from_certificate(info: CertInfo) -> Principal:
    """The principal of a program that signed its request."""
    return Principal(info.org, info.name, info.kind.value, info.attributes, "signature", None, info.cert_hash)
