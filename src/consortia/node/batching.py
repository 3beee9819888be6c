"""Coalescing calls: many threads' requests to one node, sent as a few batched HTTP requests.

A busy client has many transactions in flight, each wanting an endorsement from a peer and an acknowledgement
from the orderer. One HTTP request each would spend most of the CPU on HTTP itself (and the signature every
request carries). A :class:`Batcher` queues the calls; a few sender threads each take everything queued (up to
a limit), send it as one request, and hand each caller its own answer. Under light load a batch is one call and
nothing waits; under heavy load batches grow by themselves while earlier ones are in flight.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Sends queued items in batches through ``send`` (items → one answer per item) from a few threads."""

    def __init__(self, send: Callable[[list[T]], list[R]], *, max_items: int = 256, senders: int = 4, name: str = ""):
        self._send = send
        self._max = max_items
        self._queue: queue.SimpleQueue[tuple[T, Future[R]] | None] = queue.SimpleQueue()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._run, name=f"batch-{name}-{i}", daemon=True) for i in range(senders)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, item: T) -> Future[R]:
        """Queue an item; the future resolves with its answer (or the exception sending raised)."""
        future: Future[R] = Future()
        if self._closed:
            future.set_exception(RuntimeError("batcher is closed"))
        else:
            self._queue.put((item, future))
        return future

    def call(self, item: T, timeout: float | None = None) -> R:
        """Queue an item and wait for its answer."""
        return self.submit(item).result(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max:
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
                if entry is None:
                    self._queue.put(None)  # let the other senders see it too
                    break
                batch.append(entry)
            try:
                answers = self._send([item for item, _ in batch])
                if len(answers) != len(batch):
                    raise RuntimeError(f"{len(answers)} answers for {len(batch)} items")
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)

    def close(self) -> None:
        """Stop the senders once the queue is drained."""
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)
