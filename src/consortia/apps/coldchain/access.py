"""Who is calling the cold chain's routes, and which identity signs what they ask for.

The gateway service authenticates programs by signed requests and people by session cookies
(:mod:`consortia.gateway.server.auth`); the application's routes use the same two ways through
:func:`principal_of`, and the same channel rules through :class:`~consortia.gateway.server.backend.Backend`.

Signing: a logged-in person's transactions are signed with their own identity. A *program* that posts an EPCIS
document with a signed request has proven who it is, but the server holds no key of its own: the EPCIS REST
binding has no endorse-then-sign round trip, so the capture is signed by the organisation's ``client`` service
identity and the program's name is recorded with the capture job (until the platform offers delegated
submission). Reads use the channel's public identity once access is checked.
"""

from __future__ import annotations

from fastapi import Request

from consortia.gateway.server import auth
from consortia.gateway.server.auth import AuthError, Principal
from consortia.gateway.server.backend import Backend
from consortia.gateway.server.problems import Problem
from consortia.identity import SigningIdentity

SERVICE_USER = "client"


async def principal_of(request: Request, backend: Backend) -> Principal | None:
    """The caller: a program signing its request, a logged-in person, or None (anonymous)."""
    try:
        return await auth.principal_of(request, backend.members, getattr(request.app.state, "sessions", None))
    except AuthError as exc:
        raise Problem(401, exc.message, code="BAD_REQUEST_SIGNATURE") from None


def signer(backend: Backend, principal: Principal) -> SigningIdentity:
    """The identity that signs a write for ``principal`` (their own, or their organisation's service identity)."""
    if principal.identity is not None:
        return principal.identity
    try:
        return backend.network.identity(principal.org, SERVICE_USER)
    except (OSError, ValueError):
        raise Problem(
            503, f"{principal.org} has no service identity on this gateway to sign captures", code="NO_SERVICE_IDENTITY"
        ) from None


def reader(backend: Backend, channel: str) -> SigningIdentity:
    """The identity that signs read-only queries once the caller's access was checked."""
    return backend.public_identity(channel)
