"""Open event streams, counted per caller: one person cannot tie up the server with streams.

Every server-sent-event route is an asynchronous generator (an open stream costs no worker thread), and takes
a slot from :class:`StreamSlots` for as long as it is open, keyed by the session or program that opened it.
A caller who already has ``per_key`` streams open is answered 429 until one closes.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable
from types import TracebackType

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse

from consortia.gateway.server.auth import SESSION_COOKIE, Principal
from consortia.gateway.server.problems import Problem
from consortia.peer.channel import PeerChannel
from consortia.peer.events import BlockEvent

MAX_STREAMS_PER_CALLER = 8
KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 0.1


class StreamSlot:
    """One open stream's slot; release it (or leave the ``with`` block) when the stream ends."""

    def __init__(self, owner: StreamSlots, key: str) -> None:
        self._owner = owner
        self._key = key
        self._released = False

    def release(self) -> None:
        """Give the slot back (idempotent)."""
        if not self._released:
            self._released = True
            self._owner._release(self._key)

    def __enter__(self) -> StreamSlot:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()


class StreamSlots:
    """Counts open streams per caller and refuses one over the cap."""

    def __init__(self, per_key: int = MAX_STREAMS_PER_CALLER) -> None:
        self.per_key = per_key
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> StreamSlot:
        """A slot for a new stream of ``key``; Problem 429 when it already has ``per_key`` open."""
        with self._lock:
            count = self._open.get(key, 0)
            if count >= self.per_key:
                raise Problem(
                    429,
                    f"you already have {count} event streams open (the limit is {self.per_key}): close one first",
                    code="TOO_MANY_STREAMS",
                )
            self._open[key] = count + 1
        return StreamSlot(self, key)

    def open_count(self, key: str) -> int:
        """How many streams ``key`` has open."""
        with self._lock:
            return self._open.get(key, 0)

    def _release(self, key: str) -> None:
        with self._lock:
            count = self._open.get(key, 0) - 1
            if count > 0:
                self._open[key] = count
            else:
                self._open.pop(key, None)


def stream_key(request: Request, principal: Principal) -> str:
    """Whose streams a new one counts against: the session (a person) or the certificate (a program)."""
    token = request.cookies.get(SESSION_COOKIE)
    if principal.via == "session" and token:
        return "session:" + token
    return "cert:" + (principal.cert_hash.hex() or principal.id)


Render = Callable[[BlockEvent], AsyncIterator[str]]
"""Turns one committed block into server-sent-event text (nothing, for a block the stream does not show)."""


def block_event_stream(
    request: Request, peer_channel: PeerChannel, start: int, render: Render, slot: StreamSlot
) -> StreamingResponse:
    """A server-sent-event response of blocks from ``start``: stored ones first, then each as it commits.

    It polls the peer's event queue from the event loop (an open stream holds no worker thread), sends a
    keep-alive comment when quiet, ends when the client goes or the peer closes, and gives its slot back.
    """

    async def stream() -> AsyncIterator[str]:
        subscription = peer_channel.events.subscribe()
        number = start
        quiet = 0.0
        try:
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                if number < peer_channel.height:
                    async for chunk in render(peer_channel.stored_event(number)):
                        yield chunk
                    number += 1
                    quiet = 0.0
                    continue
                try:
                    event = subscription.get_nowait()
                except queue.Empty:
                    await asyncio.sleep(POLL_SECONDS)
                    quiet += POLL_SECONDS
                    if quiet >= KEEPALIVE_SECONDS:
                        quiet = 0.0
                        yield ": keep-alive\n\n"
                    continue
                if event is None:
                    return
                if event.number == number:
                    async for chunk in render(event):
                        yield chunk
                    number += 1
                    quiet = 0.0
        finally:
            peer_channel.events.unsubscribe(subscription)
            slot.release()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(slot.release),  # also when the stream never started
    )
