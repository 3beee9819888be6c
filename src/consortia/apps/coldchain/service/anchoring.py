"""Anchoring: sealed batches of sensor readings captured on the ledger as EPCIS ``sensor_reporting`` events.

Raw readings stay off-chain; per batch, the members' private collection gets an ObjectEvent carrying the batch's
minimum, maximum and mean and the Merkle root of its readings, and the ledger gets that event's leaf in the capture
transaction's Merkle root (:mod:`..domain.commitment`). So any single reading is later provable by
its inclusion in an anchored batch, the batch's root by the event's leaf, and the leaf by the transaction — with
the other loggers' batches of the same transaction only as sibling hashes. The :class:`Anchorer` packs many batches
into one EPCIS document (so many into one transaction), keeps a few documents in flight, and records in the reading
store which transaction anchored each batch.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from consortia.apps.coldchain.domain.batches import anchor_event
from consortia.apps.coldchain.domain.document import read_document
from consortia.apps.coldchain.domain.facts import CONTEXT
from consortia.apps.coldchain.service.capture import Capturer, CaptureResult, block_of
from consortia.apps.coldchain.service.devices import DeviceRegistry
from consortia.apps.coldchain.service.store import BatchRow, ReadingStore

log = logging.getLogger(__name__)


class Anchorer:
    """Captures sealed batches as sensor_reporting events, up to ``max_events`` per document."""

    def __init__(
        self,
        capturer: Capturer,
        store: ReadingStore,
        registry: DeviceRegistry,
        *,
        window_ms: int,
        max_events: int = 250,
        max_inflight: int = 4,
        alarm_above: float | None = 4.4,
        on_anchored: Callable[[list[BatchRow]], None] | None = None,
    ) -> None:
        self.capturer = capturer
        self.store = store
        self.registry = registry
        self.window_ms = window_ms
        self.max_events = max_events
        self.alarm_above = alarm_above
        self.on_anchored = on_anchored
        self.counters: Counter[str] = Counter()
        self._queue: queue.Queue[BatchRow | None] = queue.Queue()
        self._slots = threading.Semaphore(max_inflight)
        self._pending = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="coldchain-anchorer", daemon=True)
        self._thread.start()

    def submit(self, batch: BatchRow) -> None:
        """Queue a sealed batch for anchoring."""
        with self._idle:
            self._pending += 1
        self._queue.put(batch)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            deadline = time.monotonic() + 0.1  # gather: fewer, fuller transactions
            while len(group) < self.max_events:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                group.append(item)
            self._slots.acquire()
            self._submit(group)

    def _submit(self, group: list[BatchRow]) -> None:
        """Capture a group (holding one in-flight slot); a group too big for a block is split in two."""
        from consortia.client.errors import OrderingFailed

        try:
            self._capture(group)
        except OrderingFailed as exc:
            if exc.code == "ORDERING_413" and len(group) > 1:
                half = len(group) // 2
                self._slots.release()
                for part in (group[:half], group[half:]):
                    self._slots.acquire()
                    self._submit(part)
                return
            log.warning("anchoring %d batches failed: %s", len(group), exc)
            self._failed(group)
        except Exception as exc:  # a failed capture must not stop the anchorer
            log.warning("anchoring %d batches failed: %s", len(group), exc)
            self._failed(group)

    def _events(self, group: list[BatchRow]) -> list[dict[str, Any]]:
        events = []
        for batch in group:
            uri = self.registry.giai(batch.device)
            read_point = self.registry.read_point(batch.device, batch.start_ms, batch.end_ms)
            events.append(anchor_event(batch, uri, batch.lots, read_point=read_point, alarm_above=self.alarm_above))
        return events

    def _capture(self, group: list[BatchRow]) -> None:
        document = {
            "@context": CONTEXT,
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2000-01-01T00:00:00Z",
            "epcisBody": {"eventList": self._events(group)},
        }
        parsed = read_document(document, "anchor")
        future = self.capturer.capture_async(parsed, f"anchor-{uuid.uuid4()}")

        def done(f: Future[CaptureResult]) -> None:
            try:
                result = f.result()
                self.store.mark_anchored(
                    [(b.key, eid, *self._where(result, eid)) for b, eid in zip(group, result.event_ids, strict=True)],
                    int(time.time() * 1000),
                )
                self.counters["batches_anchored"] += len(group)
                self.counters["readings_anchored"] += sum(b.count for b in group)
                self.counters["anchor_transactions"] += result.tx_id is not None  # none: all anchored before
                if self.on_anchored is not None:
                    self.on_anchored(group)
            except Exception as exc:
                log.warning("anchoring %d batches failed at commit: %s", len(group), exc)
                self._failed(group, release=False)
            finally:
                self._slots.release()
                self._done(len(group))

        future.add_done_callback(done)

    def _where(self, result: CaptureResult, event_id: str) -> tuple[str, int | None]:
        """The transaction (and block) that holds an anchoring event: this capture's, or an earlier one's.

        A batch anchored again (an ingester restarted before it recorded the first anchoring, say) is the same
        event with the same hash: the ledger reports it already captured, under the transaction that recorded it,
        and the reading proofs must point there.
        """
        for already in result.already_captured:
            if already.event_id == event_id:
                return already.tx_id, block_of(self.capturer.contract, already.tx_id)
        if result.tx_id is None:
            raise ValueError(f"no transaction holds anchoring event {event_id}: the capture reported none")
        return result.tx_id, result.block

    def _failed(self, group: list[BatchRow], release: bool = True) -> None:
        self.store.mark_failed([b.key for b in group])
        self.counters["anchor_failures"] += len(group)
        if release:
            self._slots.release()
            self._done(len(group))

    def _done(self, count: int) -> None:
        with self._idle:
            self._pending -= count
            self._idle.notify_all()

    def wait(self, timeout: float = 120.0) -> bool:
        """Wait until every submitted batch is anchored (or failed)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self) -> None:
        """Stop the anchoring thread (after :meth:`wait`)."""
        self._queue.put(None)
        self._thread.join(timeout=10)
