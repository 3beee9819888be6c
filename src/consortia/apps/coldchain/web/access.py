"""Who is calling the cold chain's routes, and which identity signs what they ask for.

The gateway service authenticates programs by signed requests and people by session cookies; the application's
routes resolve their caller exactly as the platform's do, with :func:`consortia.gateway.server.auth.caller_of`
(replay cache, sessions, the JSON-only rule for cookie writes), and apply the same channel rules through
:class:`~consortia.gateway.server.backend.Backend`.

Signing: a logged-in person's transactions are signed with their own identity. A *program* acts as itself: the
gateway holds keys only for its organisations' service identities (``client``), so a program that is such an
identity (an organisation's EPCIS integration) has its captures signed with its own key, and any other program
gets 403 and signs its own proposals through the platform's endorse/submit API — the gateway never lends it the
service identity. Reads use the channel's public identity once access is checked.
"""

from __future__ import annotations

from consortia.gateway.server.auth import Principal
from consortia.gateway.server.backend import Backend
from consortia.identity import SigningIdentity

SERVICE_USER = "client"


def signer(backend: Backend, principal: Principal) -> SigningIdentity:
    """The identity that signs a write for ``principal``: their own (never another program's of the same org)."""
    return backend.acting_identity(principal, SERVICE_USER)


def reader(backend: Backend, channel: str) -> SigningIdentity:
    """The identity that signs read-only queries once the caller's access was checked."""
    return backend.public_identity(channel)
