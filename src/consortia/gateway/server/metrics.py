"""Prometheus metrics: blocks, transactions by validation code, submit latency, refused requests.

Counters are fed from each channel's block events (one peer per channel), so they count what committed, not what
the gateway happened to submit; the latency histogram measures submit → commit as clients of this gateway see it.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from consortia.ledger.codes import code_name
from consortia.peer.channel import PeerChannel

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class GatewayMetrics:
    """The metrics of one gateway service."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.blocks = Counter("consortia_blocks", "Blocks committed", ["channel"], registry=self.registry)
        self.transactions = Counter(
            "consortia_transactions",
            "Transactions committed, by validation code",
            ["channel", "code"],
            registry=self.registry,
        )
        self.height = Gauge("consortia_channel_height", "Blocks in the channel", ["channel"], registry=self.registry)
        self.latency = Histogram(
            "consortia_submit_latency_seconds",
            "Submit to commit latency seen by the gateway",
            ["channel"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.denied = Counter("consortia_http_denied", "Requests refused (401/403)", ["status"], registry=self.registry)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def follow(self, channel: PeerChannel) -> None:
        """Count a channel's blocks from now on (and its current height)."""
        self.height.labels(channel.name).set(channel.height)
        thread = threading.Thread(target=self._follow, args=(channel,), name=f"metrics-{channel.name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _follow(self, channel: PeerChannel) -> None:
        start = channel.height
        for event in channel.block_events(start, self._stop):
            self.blocks.labels(channel.name).inc()
            self.height.labels(channel.name).set(event.number + 1)
            for outcome in event.transactions:
                self.transactions.labels(channel.name, code_name(outcome.code)).inc()

    def render(self) -> bytes:
        """The metrics in the Prometheus text format."""
        return generate_latest(self.registry)

    def close(self) -> None:
        """Stop following channels."""
        self._stop.set()
