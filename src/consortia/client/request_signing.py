"""Request signing: how a program (or a node) proves who sent an HTTP request, and how the receiver checks it.

Every request carries an ``Authorization`` header in the ``Consortia-Ed25519`` scheme: the sender's certificate,
a timestamp, a random nonce and an Ed25519 signature over

    consortia-request/v2 ‖ METHOD ‖ path?query ‖ timestamp ‖ nonce ‖ SHA-256(body)

The receiver (:func:`verify_request`) checks the certificate against the CAs of the organisations it knows
(validity included) and that it is of a kind the route admits, the signature, that the timestamp is within
:data:`MAX_SKEW_MS` of its own clock, and — with a :class:`NonceCache` — that it has not seen the same
certificate and nonce within that window, so a request captured on the wire cannot be sent again. The sender
keeps its key: nothing in the header lets anyone sign on its behalf.

The receiver judges the certificate with whatever answers "is this a member now?" (:class:`MemberJudge`: a
channel's :class:`~consortia.identity.Membership`, or the gateway's view over every channel's configuration in
force). A *revoked* certificate is told apart from every other failure (:attr:`AuthError.code` is
``REVOKED_CERTIFICATE``), but only once the request's signature shows the sender holds its key, so that a
revocation is reported to its holder and not to anyone replaying a certificate seen on the wire.

The gateway service (programs calling its REST API) and the nodes of a cluster (peers, orderers and their
clients) use this one scheme; the client library signs with :func:`authorization_header`.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Collection
from typing import Protocol

from consortia.identity import CertificateError, CertInfo, Kind, MembershipError, SigningIdentity, parse_certificate
from consortia.identity.signing import verify_signature

SCHEME = "Consortia-Ed25519"
MAX_SKEW_MS = 5 * 60 * 1000
NONCE_BYTES = 16
MAX_NONCES = 1_000_000
_PARAM = re.compile(r'(\w+)="([^"]*)"')


BAD_REQUEST_SIGNATURE = "BAD_REQUEST_SIGNATURE"


class AuthError(Exception):
    """Authentication failed (an HTTP server answers 401, or 403 for a revoked certificate); the message says why."""

    def __init__(self, message: str, code: str = BAD_REQUEST_SIGNATURE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        """``BAD_REQUEST_SIGNATURE``, or ``REVOKED_CERTIFICATE`` when the signer's own certificate is revoked."""

    @property
    def revoked(self) -> bool:
        """Whether the sender proved to hold a certificate its CA has revoked."""
        return self.code == MembershipError.REVOKED_CERTIFICATE


class MemberJudge(Protocol):
    """What decides whether a certificate identifies a member at a moment (a :class:`Membership` does)."""

    def validate(self, certificate_der: bytes, *, at_ms: int, kinds: Collection[Kind] | None = None) -> CertInfo:
        """Return what the certificate says if it identifies a member at `at_ms`; else `MembershipError`."""
        ...


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
    """The Authorization header value a program sends (used by the CLI, the remote client and the nodes)."""
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
    members: MemberJudge,
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
        raise AuthError('authorization needs cert="<base64 DER>", ts="<ms>", nonce="<hex>", sig="<base64>"') from None
    if not (16 <= len(nonce) <= 64 and all(c in "0123456789abcdef" for c in nonce)):
        raise AuthError("nonce must be 16–64 lowercase hex digits")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - timestamp) > MAX_SKEW_MS:
        raise AuthError("request timestamp is more than 5 minutes from the server's clock")
    try:
        info = members.validate(cert, at_ms=now, kinds=kinds)
    except MembershipError as exc:
        if exc.code == MembershipError.REVOKED_CERTIFICATE and _signed_by_holder(
            cert, request_signing_bytes(method, target, timestamp, nonce, body), signature
        ):
            raise AuthError(exc.message, MembershipError.REVOKED_CERTIFICATE) from None
        raise AuthError(exc.message) from None
    if not verify_signature(info.public_key, request_signing_bytes(method, target, timestamp, nonce, body), signature):
        raise AuthError("request signature does not verify")
    if nonces is not None:
        nonces.check_and_remember(hashlib.sha256(cert).digest(), nonce, timestamp, now)
    return info


def _signed_by_holder(certificate: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` over `message` verifies with the key of `certificate` (whoever issued it)."""
    try:
        public_key = parse_certificate(certificate).public_key
    except CertificateError:
        return False
    return verify_signature(public_key, message, signature)
