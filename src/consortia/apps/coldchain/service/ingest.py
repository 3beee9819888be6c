"""The ingestion service: MQTT readings in, every valid one stored once, batches anchored, alarms raised.

Messages arrive on the MQTT client's thread and are only queued there. A worker thread drains the queue in
chunks: it parses each message (:mod:`readings`), refuses bad ones with a counted reason (and keeps them in the
store's ``rejects``), keeps readings of unknown devices aside, stores each valid reading exactly once (a repeat
of ``device, seq`` is counted as a duplicate), counts out-of-order and late arrivals, and assigns each reading to
its device's window. After each chunk, windows the device's watermark has passed are sealed into Merkle batches
(:mod:`batches`) and handed to the anchorer (:mod:`anchoring`), which captures them — many per EPCIS document, so
many per transaction — as ``sensor_reporting`` events, a few documents in flight at a time. Lots whose batches were
anchored are then assessed by the species' rules and each broken rule becomes an on-chain alarm (once per lot and
rule). :meth:`IngestService.close` seals what is open, anchors it, waits, and saves the counters: nothing valid is
left unanchored.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consortia.apps.coldchain.domain import readings as readings_module
from consortia.apps.coldchain.domain.batches import seal
from consortia.apps.coldchain.domain.readings import Reading, Rejected
from consortia.apps.coldchain.service.alarms import raise_lot_alarms
from consortia.apps.coldchain.service.anchoring import Anchorer
from consortia.apps.coldchain.service.capture import Capturer, contract_of
from consortia.apps.coldchain.service.devices import DeviceRegistry
from consortia.apps.coldchain.service.store import BatchRow, ReadingStore

if TYPE_CHECKING:
    from consortia.apps.coldchain.domain.species import SpeciesTable
    from consortia.network.embedded import EmbeddedNetwork

log = logging.getLogger(__name__)

COUNTERS = (
    "received",
    "stored",
    "duplicates",
    "out_of_order",
    "late",
    "unknown_device",
    *readings_module.REASONS,
    "batches_sealed",
    "batches_anchored",
    "readings_anchored",
    "anchor_transactions",
    "anchor_failures",
    "alarms_raised",
)


def store_path(data: Path) -> Path:
    """Where the readings of a data folder are kept."""
    return Path(data) / "coldchain" / "readings.sqlite"


class IngestService:
    """MQTT subscriber, reading store, batcher, anchorer and alarm raiser of one organisation."""

    def __init__(
        self,
        store: ReadingStore,
        registry: DeviceRegistry,
        anchorer_factory: Callable[[Callable[[list[BatchRow]], None]], Anchorer],
        *,
        window_seconds: int = 300,
        lateness_seconds: int | None = None,
        alarms: Callable[[set[str]], int] | None = None,
        chunk: int = 5000,
        assess_seconds: float = 10.0,
    ) -> None:
        self.store = store
        self.registry = registry
        self.window_ms = window_seconds * 1000
        self.lateness_ms = (lateness_seconds if lateness_seconds is not None else window_seconds) * 1000
        self.chunk = chunk
        self._alarms = alarms
        self._dirty_lots: set[str] = set()
        self._dirty_lock = threading.Lock()
        self._assess_lock = threading.Lock()
        self.anchorer = anchorer_factory(self._anchored)
        self._counters: Counter[str] = Counter()
        self._queue: queue.SimpleQueue[tuple[str, bytes, int] | None] = queue.SimpleQueue()
        self._buffers: dict[tuple[str, int, int], list[tuple[int, int, float]]] = {}
        self._sites: dict[str, str] = {}
        self._open_part: dict[tuple[str, int], int] = {}
        self._sealed: set[tuple[str, int]] = set()
        self._seen: dict[tuple[str, int], set[int]] = {}
        self._watermark: dict[str, int] = {}
        self._last_seq: dict[str, int] = {}
        self._work_lock = threading.Lock()
        self._arrivals = itertools.count(1)  # next() is atomic: handle() takes no lock
        self._handled = 0
        self._processed = 0
        self._progress = threading.Condition()
        self._client: Any = None
        self._client_id = "coldchain-ingest"
        self._last_message = time.monotonic()
        self._stopping = False
        self.live: Callable[[Reading], None] | None = None
        self._recover()
        self._thread = threading.Thread(target=self._run, name="coldchain-ingest", daemon=True)
        self._thread.start()
        self._stop_assessing = threading.Event()
        if alarms is not None:
            # A long-running ingester assesses the lots it anchored every few seconds, not only when it stops.
            threading.Thread(
                target=self._assess_loop, args=(assess_seconds,), name="coldchain-assess", daemon=True
            ).start()

    # -- construction ----------------------------------------------------------------------------------------

    @classmethod
    def for_network(
        cls,
        network: EmbeddedNetwork,
        *,
        org: str = "ColdLogistics",
        user: str = "client",
        data: Path | None = None,
        window_seconds: int = 300,
        lateness_seconds: int | None = None,
        species: SpeciesTable | None = None,
        raise_alarms: bool = True,
        max_events: int = 250,
    ) -> IngestService:
        """An ingester of a network's data folder, anchoring as ``user`` of ``org``."""
        from consortia.apps.coldchain.domain import species as species_module

        contract = contract_of(network.gateway(org, user))
        store = ReadingStore(store_path(data or network.directory))
        registry = DeviceRegistry(lambda: contract.evaluate("device_associations", ""))
        registry.refresh(force=True)
        table = species or species_module.load()

        def anchorer(on_anchored: Callable[[list[BatchRow]], None]) -> Anchorer:
            return Anchorer(
                Capturer(contract),
                store,
                registry,
                window_ms=window_seconds * 1000,
                max_events=max_events,
                on_anchored=on_anchored,
            )

        alarms = (lambda lots: raise_lot_alarms(contract, store, table, lots)) if raise_alarms else None
        return cls(
            store, registry, anchorer, window_seconds=window_seconds, lateness_seconds=lateness_seconds, alarms=alarms
        )

    def _recover(self) -> None:
        """After a restart: seal readings no batch covers, re-anchor batches sealed or failed before."""
        for device, window, part in self.store.unsealed():
            self._buffers[(device, window, part)] = [
                (s, t, c) for s, t, c in self.store.batch_readings(device, window, part)
            ]
            self._open_part[(device, window)] = max(part, self._open_part.get((device, window), part))
            self._seen.setdefault((device, window), set()).update(
                s for s, _, _ in self._buffers[(device, window, part)]
            )
        for status in ("sealed", "failed"):
            for batch in self.store.batches(status):
                self.anchorer.submit(batch)

    # -- MQTT ------------------------------------------------------------------------------------------------

    def connect(self, host: str, port: int, timeout: float = 10.0, client_id: str | None = None) -> None:
        """Subscribe to every logger's topic (QoS 1) on a broker; return once the subscription is granted.

        The session is persistent (clean_session off, a stable client id): while the ingester is away the broker
        keeps its QoS 1 messages and delivers them when it reconnects.
        """
        import paho.mqtt.client as mqtt

        subscribed = threading.Event()
        self._client_id = client_id or self._client_id
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self._client_id, clean_session=False)

        def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
            c.subscribe(readings_module.TOPIC_FILTER, qos=1)

        def on_subscribe(c: Any, userdata: Any, mid: Any, reasons: Any, properties: Any) -> None:
            subscribed.set()

        def on_message(c: Any, userdata: Any, message: Any) -> None:
            self.handle(message.topic, message.payload)

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        client.connect(host, port, keepalive=30)
        client.loop_start()
        self._client = client
        if not subscribed.wait(timeout):
            raise OSError(f"the MQTT broker at {host}:{port} did not confirm the subscription")

    # -- intake ----------------------------------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes, received_ms: int | None = None) -> None:
        """Queue one message (called on the MQTT thread, or directly by tests and the benchmark)."""
        self._handled = next(self._arrivals)
        self._last_message = time.monotonic()
        self._queue.put((topic, bytes(payload), received_ms or int(time.time() * 1000)))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            chunk = [item]
            while len(chunk) < self.chunk:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                chunk.append(more)
            try:
                with self._work_lock:
                    self._process(chunk)
                    self._seal(final=False)
            except Exception:  # the ingester keeps running whatever a chunk held
                log.exception("ingesting %d messages failed", len(chunk))
            finally:
                with self._progress:
                    self._processed += len(chunk)
                    self._progress.notify_all()

    def _part(self, device: str, window: int) -> tuple[int, bool]:
        key = (device, window)
        if key in self._open_part:
            return self._open_part[key], key in self._sealed
        if key in self._sealed:
            part = self.store.max_part(device, window) + 1
        else:
            part = 0
            existing = self.store.max_part(device, window)
            if existing >= 0:  # sealed before a restart
                part = existing + 1
                self._sealed.add(key)
        self._open_part[key] = part
        return part, key in self._sealed

    def _process(self, chunk: list[tuple[str, bytes, int]]) -> None:
        """Parse, check and store a chunk of messages in one database transaction.

        The hot path is a reading of a window that is open in memory: its duplicate check is the window's set of
        sequence numbers, and its row joins one ``executemany`` at the end of the chunk. Everything else — the
        first reading of a window, late readings of sealed windows, unknown devices, bad messages — takes the
        slow path, checked against the database row by row.
        """
        counters = self._counters
        parse = readings_module.parse
        window_ms = self.window_ms
        known = self.registry.known
        open_part, sealed, seen, buffers = self._open_part, self._sealed, self._seen, self._buffers
        last_seq, watermark, sites = self._last_seq, self._watermark, self._sites
        newest: dict[str, Reading] = {}
        rows: list[tuple[Any, ...]] = []
        stored = duplicates = out_of_order = 0
        with self.store.transaction() as conn:
            for topic, payload, received in chunk:
                reading = parse(topic, payload, received)
                if type(reading) is Rejected:
                    counters[reading.reason] += 1
                    self.store.reject(conn, received, topic, reading.reason, reading.detail, payload)
                    continue
                device, seq, ts = reading.device, reading.seq, reading.ts_ms
                if not known(device):
                    if self.store.quarantine(conn, reading, received):
                        counters["unknown_device"] += 1
                    else:
                        duplicates += 1
                    continue
                window = ts // window_ms
                key = (device, window)
                part = open_part.get(key)
                if part is None or key in sealed:
                    if self._store_reading(conn, reading, received, window_ms):
                        newest[device] = max(newest.get(device, reading), reading, key=lambda r: r.ts_ms)
                    continue
                numbers = seen[key]
                if seq in numbers:
                    duplicates += 1
                    continue
                numbers.add(seq)
                rows.append((device, seq, ts, reading.celsius, reading.site, window, part, received))
                buffers[(device, window, part)].append((seq, ts, reading.celsius))
                stored += 1
                last = last_seq.get(device)
                if last is not None and seq < last:
                    out_of_order += 1
                else:
                    last_seq[device] = seq
                sites[device] = reading.site
                if ts > watermark.get(device, -1):
                    watermark[device] = ts
                previous = newest.get(device)
                if previous is None or ts > previous.ts_ms:
                    newest[device] = reading
                if self.live is not None:
                    self.live(reading)
            if rows:
                before = conn.total_changes
                conn.executemany("INSERT OR IGNORE INTO readings VALUES (?,?,?,?,?,?,?,?)", rows)
                if conn.total_changes - before != len(rows):
                    dropped = self._drop_conflicts(conn, rows)
                    stored -= dropped
                    duplicates += dropped
            counters["received"] += len(chunk)
            counters["stored"] += stored
            counters["duplicates"] += duplicates
            counters["out_of_order"] += out_of_order
            self.store.set_latest(conn, [(r.device, r.site, r.ts_ms, r.celsius) for r in newest.values()])

    def _drop_conflicts(self, conn: Any, rows: list[tuple[Any, ...]]) -> int:
        """Remove from the buffers readings the database refused (same device and seq stored in another window)."""
        dropped = 0
        for device, seq, _ts, _celsius, _site, window, part, _received in rows:
            stored = conn.execute(
                "SELECT ts_ms, window, part FROM readings WHERE device=? AND seq=?", (device, seq)
            ).fetchone()
            if stored is not None and (stored[1], stored[2]) != (window, part):
                buffer = self._buffers.get((device, window, part), [])
                buffer[:] = [row for row in buffer if row[0] != seq]
                dropped += 1
        return dropped

    def _store_reading(self, conn: Any, reading: Reading, received: int, window_ms: int) -> bool:
        """The slow path: store one reading, checked against the database."""
        counters = self._counters
        window = reading.ts_ms // window_ms
        part, late = self._part(reading.device, window)
        if not self.store.add(conn, reading, window, part, received):
            counters["duplicates"] += 1
            return False
        counters["stored"] += 1
        if late:
            counters["late"] += 1
        else:
            self._seen.setdefault((reading.device, window), set()).add(reading.seq)
        last = self._last_seq.get(reading.device)
        if last is not None and reading.seq < last:
            counters["out_of_order"] += 1
        else:
            self._last_seq[reading.device] = reading.seq
        self._buffers.setdefault((reading.device, window, part), []).append(
            (reading.seq, reading.ts_ms, reading.celsius)
        )
        self._sites[reading.device] = reading.site
        if reading.ts_ms > self._watermark.get(reading.device, -1):
            self._watermark[reading.device] = reading.ts_ms
        if self.live is not None:
            self.live(reading)
        return True

    def _seal(self, final: bool) -> None:
        ready = []
        for key in list(self._buffers):
            device, window, part = key
            end = (window + 1) * self.window_ms
            late_part = (device, window) in self._sealed
            if final or late_part or self._watermark.get(device, -1) >= end + self.lateness_ms:
                ready.append(key)
        now = int(time.time() * 1000)
        for key in sorted(ready, key=lambda k: (k[1], k[0], k[2])):
            device, window, part = key
            rows = self._buffers.pop(key)
            sealed = seal(device, window, part, self.window_ms, rows)
            lots = self.registry.lots(device, sealed.start_ms, sealed.end_ms)
            batch = BatchRow.of(sealed, lots, self._sites.get(device, ""))
            self.store.save_batch(batch, now)
            self._sealed.add((device, window))
            self._open_part.pop((device, window), None)
            self._seen.pop((device, window), None)
            self._counters["batches_sealed"] += 1
            self.anchorer.submit(batch)

    def replay_quarantine(self) -> int:
        """Store the kept readings of devices that are known now; return how many were replayed."""
        self.registry.refresh(force=True)
        replayed = 0
        with self._work_lock, self.store.transaction() as conn:
            for device in self.registry.devices():
                for reading, received in self.store.take_quarantined(device):
                    self._store_reading(conn, reading, received, self.window_ms)
                    replayed += 1
        return replayed

    # -- alarms ----------------------------------------------------------------------------------------------

    def _anchored(self, group: list[BatchRow]) -> None:
        with self._dirty_lock:
            for batch in group:
                self._dirty_lots.update(batch.lots)

    def _assess_loop(self, seconds: float) -> None:
        while not self._stop_assessing.wait(seconds):
            try:
                self.assess()
            except Exception:  # the ledger may be busy or closing; try again next time
                log.exception("assessing lots failed")

    def assess(self) -> int:
        """Apply the rules to lots whose batches were anchored since the last time; return alarms raised."""
        if self._alarms is None:
            return 0
        with self._assess_lock:
            with self._dirty_lock:
                lots, self._dirty_lots = self._dirty_lots, set()
            if not lots:
                return 0
            raised = self._alarms(lots)
            self._counters["alarms_raised"] += raised
            return raised

    # -- stopping --------------------------------------------------------------------------------------------

    @property
    def handled(self) -> int:
        """Messages handed to the ingester so far."""
        return self._handled

    def wait_for(self, count: int, timeout: float = 60.0) -> bool:
        """Wait until ``count`` messages arrived and were processed (tests, the demo)."""
        deadline = time.monotonic() + timeout
        while self._handled < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.drain(max(0.0, deadline - time.monotonic())) and self._handled >= count

    def quiet(self, seconds: float = 1.0, timeout: float = 60.0) -> None:
        """Wait until no message arrived for ``seconds`` (the broker has delivered what it had)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and time.monotonic() - self._last_message < seconds:
            time.sleep(0.05)

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait until every queued message is processed."""
        deadline = time.monotonic() + timeout
        with self._progress:
            while self._processed < self._handled:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._progress.wait(min(remaining, 0.05))
        return True

    def flush(self, timeout: float = 120.0) -> bool:
        """Process everything queued, seal every open window, anchor all, and assess the lots."""
        drained = self.drain(timeout)
        with self._work_lock:
            self._seal(final=True)
        anchored = self.anchorer.wait(timeout)
        self.assess()
        return drained and anchored

    def close(self, timeout: float = 120.0) -> None:
        """Stop listening, flush, save the counters, close the store."""
        if self._stopping:
            return
        self._stopping = True
        self._stop_assessing.set()
        if self._client is not None:
            self.quiet(min(1.0, timeout), timeout)
            self._client.loop_stop()
            self._client.disconnect()
        self.flush(timeout)
        self._queue.put(None)
        self._thread.join(timeout=10)
        self.anchorer.close()
        self.store.save_counters(self.counters())
        self.store.close()

    def counters(self) -> dict[str, int]:
        """Every counter (zeros included)."""
        merged = Counter(self._counters)
        merged.update(self.anchorer.counters)
        return {name: int(merged.get(name, 0)) for name in COUNTERS}
