"""Block and contract events: telling clients what committed, as soon as it did.

After each block a peer publishes a :class:`BlockEvent` — the block number, header hash and, per transaction,
its id, validation code and (for valid ones) the contract events it emitted. Clients waiting for their own
transaction get a future resolved with its outcome; subscribers get every block from a number they choose,
replayed from the ledger first and then live, so a client that reconnects misses nothing.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass

from consortia.peer.outcome import TxOutcome


@dataclass(frozen=True)
class BlockEvent:
    """What committed in one block."""

    channel: str
    number: int
    header_hash: bytes
    timestamp_ms: int
    transactions: tuple[TxOutcome, ...]


@dataclass(frozen=True)
class CommitStatus:
    """The outcome of one transaction, as a waiting client receives it."""

    tx_id: str
    block: int
    code: int
    detail: str
    outcome: TxOutcome | None


class EventHub:
    """Distributes block events to subscribers and resolves per-transaction waiters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, list[Future[CommitStatus]]] = {}
        self._subscribers: list[queue.Queue[BlockEvent | None]] = []

    def waiter(self, tx_id: str) -> Future[CommitStatus]:
        """A future resolved when ``tx_id`` commits (valid or not); cancelling it stops the wait."""
        future: Future[CommitStatus] = Future()
        with self._lock:
            self._waiters.setdefault(tx_id, []).append(future)
        future.add_done_callback(lambda done: self.forget(tx_id, done) if done.cancelled() else None)
        return future

    def forget(self, tx_id: str, future: Future[CommitStatus]) -> None:
        """Stop waiting for a transaction (after a timeout or failure)."""
        with self._lock:
            futures = self._waiters.get(tx_id)
            if futures and future in futures:
                futures.remove(future)
                if not futures:
                    del self._waiters[tx_id]

    def publish(self, event: BlockEvent) -> None:
        """Resolve waiters of the block's transactions and hand the event to every subscriber."""
        with self._lock:
            resolved = []
            for outcome in event.transactions:
                futures = self._waiters.pop(outcome.tx_id, None)
                if futures:
                    status = CommitStatus(outcome.tx_id, event.number, int(outcome.code), outcome.detail, outcome)
                    resolved.extend((future, status) for future in futures)
            subscribers = list(self._subscribers)
        for future, status in resolved:
            if not future.done():
                future.set_result(status)
        for subscriber in subscribers:
            subscriber.put(event)

    def subscribe(self, maxsize: int = 10_000) -> queue.Queue[BlockEvent | None]:
        """A queue that receives every block event from now on (None when the hub closes)."""
        subscription: queue.Queue[BlockEvent | None] = queue.Queue(maxsize)
        with self._lock:
            self._subscribers.append(subscription)
        return subscription

    def unsubscribe(self, subscription: queue.Queue[BlockEvent | None]) -> None:
        """Stop delivering to a subscription queue."""
        with self._lock:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)

    def close(self) -> None:
        """Wake every subscriber with None and fail pending waiters."""
        with self._lock:
            subscribers, self._subscribers = self._subscribers, []
            waiters, self._waiters = self._waiters, {}
        for subscription in subscribers:
            with contextlib.suppress(queue.Full):
                subscription.put_nowait(None)
        for futures in waiters.values():
            for future in futures:
                if not future.done():
                    future.set_exception(ConnectionError("peer closed before the transaction committed"))


def iterate(subscription: queue.Queue[BlockEvent | None], timeout: float | None = None) -> Iterator[BlockEvent]:
    """Yield events from a subscription until it is closed (or ``timeout`` passes without one)."""
    while True:
        try:
            event = subscription.get(timeout=timeout)
        except queue.Empty:
            return
        if event is None:
            return
        yield event
