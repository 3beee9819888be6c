"""Open event streams, counted per caller: one person cannot tie up the server with streams.

Every server-sent-event route is an asynchronous generator (an open stream costs no worker thread), and takes
a slot from :class:`StreamSlots` for as long as it is open, keyed by the session or program that opened it.
A caller who already has ``per_key`` streams open is answered 429 until one closes.
"""

from __future__ import annotations

import threading
from types import TracebackType

from starlette.requests import Request

from consortia.gateway.server.auth import SESSION_COOKIE, Principal
from consortia.gateway.server.problems import Problem

MAX_STREAMS_PER_CALLER = 8


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
