"""Input limits at the gateway's door: JSON bodies within depth and number-length limits, ASCII-only numbers.

Every route that accepts JSON — the platform's API and the applications' (EPCIS capture, FHIR, risk
calculators …) — is behind :class:`JsonBodyLimits`, so a body nested 3,000 levels deep is answered with a 400
naming the limit before any parser recurses into it. Numbers in paths, query strings and headers are accepted
only as ASCII digits: ``str.isdigit()`` also accepts '²' and other Unicode digits that ``int()`` refuses.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consortia.gateway.server.problems import problem_response
from consortia.ledger.encoding import JsonLimitError, check_json_limits

MAX_INT_DIGITS = 18


def ascii_int(text: str | None, max_digits: int = MAX_INT_DIGITS) -> int | None:
    """The value of a decimal number of ASCII digits (surrounding spaces allowed), else None."""
    if text is None:
        return None
    text = text.strip()
    if not text or len(text) > max_digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def _is_json(content_type: bytes) -> bool:
    kind = content_type.split(b";")[0].strip().lower()
    return kind.endswith(b"/json") or kind.endswith(b"+json")


class JsonBodyLimits:
    """Refuse JSON request bodies deeper or with longer numbers than the limits, with a 400 problem."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        if not _is_json(content_type):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        try:
            check_json_limits(b"".join(chunks))
        except JsonLimitError as exc:
            response = problem_response(Request(scope), 400, str(exc), code="JSON_LIMIT")
            await response(scope, receive, send)
            return
        replay = iter(messages)

        async def replayed() -> Message:
            try:
                return next(replay)
            except StopIteration:
                return await receive()

        await self.app(scope, replayed, send)
