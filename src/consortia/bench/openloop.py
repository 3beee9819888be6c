"""Open-loop load: transactions offered at a fixed rate, latency measured from when each was due.

A closed loop (:mod:`consortia.network.workload`) sends the next transaction when a slot frees up, so a slow
network is simply offered less work, and a stall delays the sends that would have measured it: the latencies it
reports omit the very waits a user would see (Gil Tene's *coordinated omission*). An open loop instead fixes a
schedule beforehand — transaction ``i`` is due at ``start + i / rate`` — and sends each one at its time whether
or not earlier ones have committed.

A handful of sender threads share the schedule: each takes the next transaction number, sleeps until it is due and
submits it (endorsement happens in the sender, as in a client application). When every sender is busy the next
transaction is sent late, and its latency still counts from the time it was *due*, so queueing in the driver is
charged to the network like any other delay. A transaction sent more than :data:`LATE_AFTER` after it was due is
counted as late; many late sends mean the offered rate was not really offered (more senders, or a lower rate).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from consortia.bench.stats import Summary
from consortia.client.errors import GatewayError
from consortia.client.sdk import Contract, SubmitResult
from consortia.network.workload import Job

LATE_AFTER = 0.010
"""Seconds after its due time beyond which a send counts as late."""

DRAIN_SECONDS = 30.0
"""How long to wait, after the last send, for outstanding transactions to commit."""

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Schedule:
    """When each transaction of an open-loop run is due: ``i / rate`` seconds after the start, ``count`` of them."""

    rate: float
    count: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"an offered rate is a positive number of transactions per second, got {self.rate!r}")
        if self.count < 1:
            raise ValueError(f"a schedule holds at least one transaction, got {self.count!r}")

    @classmethod
    def for_duration(cls, rate: float, seconds: float) -> Schedule:
        """The transactions due within ``seconds`` at ``rate`` per second (at least one)."""
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"a duration is a positive number of seconds, got {seconds!r}")
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"an offered rate is a positive number of transactions per second, got {rate!r}")
        return cls(rate, max(1, math.floor(rate * seconds + 1e-9)))

    def due(self, number: int) -> float:
        """Seconds after the start at which transaction ``number`` is due."""
        if not 0 <= number < self.count:
            raise IndexError(f"transaction {number} is outside a schedule of {self.count}")
        return number / self.rate

    @property
    def duration(self) -> float:
        """Seconds from the first due time to one interval after the last."""
        return self.count / self.rate


@dataclass(frozen=True)
class OpenLoopReport:
    """What an open-loop run offered and achieved."""

    offered_tx_per_s: float
    scheduled: int
    submitted: int
    committed: int
    late: int
    """Sent more than :data:`LATE_AFTER` after they were due."""
    failed: int
    """Refused at endorsement or ordering, committed invalid, or not committed before the drain ended."""
    outcomes: dict[str, int]
    achieved_tx_per_s: float
    """Committed transactions per second, from the start to the last commit."""
    latency: Summary
    """Due time → commit, valid transactions only."""
    send_lag: Summary
    """Due time → send, every transaction sent."""
    elapsed: float


@dataclass
class _Tally:
    """What the senders and commit callbacks record, under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    submitted: int = 0
    outstanding: int = 0
    last_commit: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    drained: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.drained = threading.Condition(self.lock)


def run_open_loop(
    contracts: list[Contract],
    job: Job,
    schedule: Schedule,
    *,
    senders: int = 8,
    clock: Clock = time.perf_counter,
    sleep: Sleep = time.sleep,
    drain_seconds: float = DRAIN_SECONDS,
) -> OpenLoopReport:
    """Offer ``schedule`` to the network through ``contracts`` (sender ``k`` uses ``contracts[k % len]``)."""
    if not contracts:
        raise ValueError("an open-loop run needs at least one contract handle")
    if senders < 1:
        raise ValueError(f"an open-loop run needs at least one sender thread, got {senders}")
    tally = _Tally()
    numbers = iter(range(schedule.count))
    take = threading.Lock()
    start = clock() + 0.05  # every sender is running before the first transaction is due

    def committed(future: Future[SubmitResult], due: float) -> None:
        now = clock()
        with tally.lock:
            try:
                future.result()
            except GatewayError as exc:
                tally.outcomes[exc.code] += 1
            else:
                tally.outcomes["VALID"] += 1
                tally.latencies.append(now - due)
                tally.last_commit = max(tally.last_commit, now)
            tally.outstanding -= 1
            if tally.outstanding == 0:
                tally.drained.notify_all()

    def sender(contract: Contract) -> None:
        while True:
            with take:
                number = next(numbers, None)
            if number is None:
                return
            due = start + schedule.due(number)
            wait = due - clock()
            if wait > 0:
                sleep(wait)
            sent = clock()
            function, args = job(number)
            with tally.lock:
                tally.lags.append(sent - due)
                tally.outstanding += 1
            try:
                future = contract.submit_async(function, *args)
            except GatewayError as exc:
                with tally.lock:
                    tally.outcomes[exc.code] += 1
                    tally.outstanding -= 1
                continue
            with tally.lock:
                tally.submitted += 1
            future.add_done_callback(lambda f, due=due: committed(f, due))

    threads = [
        threading.Thread(target=sender, args=(contracts[k % len(contracts)],), name=f"open-loop-{k}", daemon=True)
        for k in range(senders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with tally.lock:
        tally.drained.wait_for(lambda: tally.outstanding == 0, timeout=drain_seconds)
        outcomes = Counter(tally.outcomes)
        if tally.outstanding:
            outcomes["NOT_COMMITTED_IN_TIME"] += tally.outstanding
        latencies, lags = list(tally.latencies), list(tally.lags)
        submitted, last_commit = tally.submitted, tally.last_commit
    committed_count = outcomes.get("VALID", 0)
    span = (last_commit - start) if committed_count else 0.0
    return OpenLoopReport(
        offered_tx_per_s=schedule.rate,
        scheduled=schedule.count,
        submitted=submitted,
        committed=committed_count,
        late=sum(1 for lag in lags if lag > LATE_AFTER),
        failed=sum(count for code, count in outcomes.items() if code != "VALID"),
        outcomes=dict(outcomes),
        achieved_tx_per_s=committed_count / span if span > 0 else 0.0,
        latency=Summary.of(latencies),
        send_lag=Summary.of(lags),
        elapsed=max(0.0, clock() - start),
    )
