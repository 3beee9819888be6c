"""The block cutter: when to close a block.

Envelopes wait in a pending batch until one of three limits is reached — a number of transactions, a number
of bytes, or a time since the first pending envelope arrived — and the batch becomes the next block. Bigger blocks
amortise per-block costs (signing, fsync, database commit); the timeout bounds the latency a lone transaction
sees when traffic is light.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from consortia.ledger.config import BatchConfig


@dataclass
class BlockCutter:
    """Pending envelopes and the rule that turns them into batches."""

    config: BatchConfig
    pending: list[bytes] = field(default_factory=list)
    pending_bytes: int = 0
    first_pending_at: float = 0.0

    def add(self, envelope: bytes) -> list[list[bytes]]:
        """Add an envelope; return the batches that are now complete (usually none or one)."""
        batches = []
        if self.pending and self.pending_bytes + len(envelope) > self.config.max_bytes:
            batches.append(self.cut())
        if not self.pending:
            self.first_pending_at = time.monotonic()
        self.pending.append(envelope)
        self.pending_bytes += len(envelope)
        if len(self.pending) >= self.config.max_transactions or self.pending_bytes >= self.config.max_bytes:
            batches.append(self.cut())
        return batches

    def deadline(self) -> float | None:
        """Monotonic time at which the pending batch must be cut, or None when nothing is pending."""
        if not self.pending:
            return None
        return self.first_pending_at + self.config.timeout_ms / 1000

    def cut(self) -> list[bytes]:
        """Take the pending envelopes as a batch."""
        batch, self.pending, self.pending_bytes = self.pending, [], 0
        return batch
