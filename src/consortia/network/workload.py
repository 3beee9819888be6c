"""Driving a network with many transactions in flight, for the demo and the benchmark.

A few client threads each keep a window of transactions in flight with ``submit_async``: a thread endorses and
hands the next envelope to the ordering service while earlier ones are still being ordered and committed. This is
how a busy client application uses a gateway, and it needs no more threads than cores to fill the pipeline.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from consortia.client.errors import GatewayError
from consortia.client.sdk import Contract

Job = Callable[[int], tuple[str, tuple[Any, ...]]]
"""Transaction number → (function name, arguments)."""


@dataclass
class WorkloadResult:
    """What a workload run achieved."""

    submitted: int = 0
    committed: int = 0
    elapsed: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    tx_ids: list[str] = field(default_factory=list)

    def percentile(self, fraction: float) -> float:
        """A latency percentile in seconds (0 when nothing committed)."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]

    @property
    def rate(self) -> float:
        """Committed valid transactions per second."""
        return self.committed / self.elapsed if self.elapsed else 0.0


class _Window:
    """At most ``size`` transactions in flight; a full window wakes its client only once a batch of slots is free.

    Waking the client thread at every commit would cost a context switch per transaction (and a fight for the
    interpreter lock with the committing thread); waking it when an eighth of the window is free keeps the pipeline
    full at a fraction of the switches.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.in_flight = 0
        self.resume_at = max(0, size - max(1, size // 8))
        self.condition = threading.Condition()

    def acquire(self) -> None:
        with self.condition:
            if self.in_flight >= self.size:
                while self.in_flight > self.resume_at:
                    self.condition.wait()
            self.in_flight += 1

    def release(self) -> None:
        with self.condition:
            self.in_flight -= 1
            if self.in_flight == self.resume_at or self.in_flight == 0:
                self.condition.notify_all()

    def drain(self) -> None:
        with self.condition:
            while self.in_flight:
                self.condition.wait(0.5)


def run_workload(
    contracts: list[Contract],
    job: Job,
    *,
    count: int | None = None,
    seconds: float | None = None,
    window: int = 64,
    progress: Callable[[int], None] | None = None,
) -> WorkloadResult:
    """Submit transactions from one thread per contract handle until ``count`` are done or ``seconds`` pass."""
    result = WorkloadResult()
    lock = threading.Lock()
    counter = iter(range(count if count is not None else 1 << 62))
    deadline = None if seconds is None else time.monotonic() + seconds

    def record(outcome: str, started: float | None, tx_id: str | None) -> None:
        with lock:
            result.outcomes[outcome] += 1
            if started is not None:
                result.committed += 1
                result.latencies.append(time.perf_counter() - started)
            if tx_id and len(result.tx_ids) < 10_000:
                result.tx_ids.append(tx_id)
        if progress is not None:
            progress(1)

    def client(contract: Contract) -> None:
        window_state = _Window(window)
        while deadline is None or time.monotonic() < deadline:
            with lock:
                number = next(counter, None)
            if number is None:
                break
            function, args = job(number)
            window_state.acquire()
            started = time.perf_counter()
            try:
                future = contract.submit_async(function, *args)
            except GatewayError as exc:
                window_state.release()
                record(exc.code, None, exc.tx_id)
                continue
            with lock:
                result.submitted += 1

            def done(f: Any, started: float = started) -> None:
                try:
                    submitted = f.result()
                    record("VALID", started, submitted.tx_id)
                except GatewayError as exc:
                    record(exc.code, None, exc.tx_id)
                finally:
                    window_state.release()

            future.add_done_callback(done)
        window_state.drain()

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(c,), name=f"client-{i}") for i, c in enumerate(contracts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.elapsed = time.monotonic() - began
    return result
