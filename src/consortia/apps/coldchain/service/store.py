"""The off-chain store of raw sensor readings, the batches that anchor them, and what was refused.

Raw readings stay off the ledger — a logger sampling every minute for a week is ten thousand readings, and the
ledger needs only proof that they existed unchanged. This SQLite database (WAL, one writer) keeps:

* ``readings`` — every valid reading exactly once (primary key ``device, seq``; a repeat is a duplicate), with the
  window and part of the batch it belongs to, assigned when it arrives. The primary key is the only index: each
  further index would cost another B-tree insert per reading, and a batch's readings are found through the seq
  range its ``batches`` row records;
* ``batches`` — one row per (device, window, part): statistics, the Merkle root of its readings, the lots the
  device watched, and, once anchored, the EPCIS event ID and transaction that put the root on the ledger;
* ``quarantine`` — readings of devices no AssociationEvent has named yet (kept, replayed when one does);
* ``rejects`` — messages that were not readings, with the reason, so nothing disappears silently;
* ``latest`` — each device's newest reading, for live views;
* ``counters`` — the ingester's counters, saved when it stops.

Beside it, :class:`JobStore` keeps the capture jobs of the EPCIS REST binding (``POST /epcis/capture``) in their
own SQLite file, so that a job's status outlives the server that accepted it: each job is written before its
``202 Accepted`` answer and again whenever it changes, with the process that runs it and the event IDs it sent to
the ledger. A job still ``running`` under another process was interrupted (the server stopped or crashed); the
ledger alone says how it ended (see :mod:`consortia.apps.coldchain.service.capture`). The readings database is
not used for this: its presence is what tells the consumer pages that a folder has sensor readings.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from consortia.apps.coldchain.domain.batches import Sealed
from consortia.apps.coldchain.domain.readings import Reading

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    device TEXT NOT NULL, seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL, celsius REAL NOT NULL, site TEXT NOT NULL,
    window INTEGER NOT NULL, part INTEGER NOT NULL, received_ms INTEGER NOT NULL,
    PRIMARY KEY (device, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
    device TEXT NOT NULL, window INTEGER NOT NULL, part INTEGER NOT NULL,
    start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, count INTEGER NOT NULL,
    min REAL NOT NULL, max REAL NOT NULL, mean REAL NOT NULL, root BLOB NOT NULL,
    first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, lots TEXT NOT NULL, site TEXT NOT NULL,
    status TEXT NOT NULL, event_id TEXT, tx_id TEXT, block INTEGER, sealed_ms INTEGER, anchored_ms INTEGER,
    PRIMARY KEY (device, window, part)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batches_status ON batches (status);
CREATE TABLE IF NOT EXISTS quarantine (
    device TEXT NOT NULL, seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL, celsius REAL NOT NULL, site TEXT NOT NULL,
    received_ms INTEGER NOT NULL, PRIMARY KEY (device, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rejects (
    id INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL,
    detail TEXT NOT NULL, payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS latest (
    device TEXT PRIMARY KEY, site TEXT NOT NULL, ts_ms INTEGER NOT NULL, celsius REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class BatchRow(Sealed):
    """A batch as stored: the sealed batch, the lots and site it covers, and how far its anchoring got."""

    lots: tuple[str, ...]
    site: str
    status: str
    event_id: str | None
    tx_id: str | None
    block: int | None

    @classmethod
    def of(cls, sealed: Sealed, lots: tuple[str, ...], site: str) -> BatchRow:
        """A freshly sealed batch, not yet anchored."""
        return cls(*(getattr(sealed, f.name) for f in fields(Sealed)), lots, site, "sealed", None, None, None)

    @property
    def key(self) -> tuple[str, int, int]:
        """(device, window, part)."""
        return (self.device, self.window, self.part)


_BATCH_COLUMNS = (
    "device, window, part, start_ms, end_ms, count, min, max, mean, root, first_seq, last_seq, lots, site, status, "
    "event_id, tx_id, block"
)


def _batch(row: tuple) -> BatchRow:
    values = list(row)
    values[12] = tuple(json.loads(values[12]))
    return BatchRow(*values)


class ReadingStore:
    """The readings database of one ingester (thread-safe; one connection guarded by a lock)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.RLock()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (the ingester wraps each drained batch of messages in one)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- writing (inside transaction()) ----------------------------------------------------------------------

    @staticmethod
    def add(conn: sqlite3.Connection, reading: Reading, window: int, part: int, received_ms: int) -> bool:
        """Store a reading once; False when (device, seq) was already stored (a duplicate)."""
        cursor = conn.execute(
            "INSERT OR IGNORE INTO readings VALUES (?,?,?,?,?,?,?,?)",
            (reading.device, reading.seq, reading.ts_ms, reading.celsius, reading.site, window, part, received_ms),
        )
        return cursor.rowcount == 1

    @staticmethod
    def quarantine(conn: sqlite3.Connection, reading: Reading, received_ms: int) -> bool:
        """Keep a reading of an unknown device aside; False when it was already kept."""
        cursor = conn.execute(
            "INSERT OR IGNORE INTO quarantine VALUES (?,?,?,?,?,?)",
            (reading.device, reading.seq, reading.ts_ms, reading.celsius, reading.site, received_ms),
        )
        return cursor.rowcount == 1

    @staticmethod
    def reject(
        conn: sqlite3.Connection, received_ms: int, topic: str, reason: str, detail: str, payload: bytes
    ) -> None:
        """Record a message that was not a reading."""
        conn.execute(
            "INSERT INTO rejects (received_ms, topic, reason, detail, payload) VALUES (?,?,?,?,?)",
            (received_ms, topic[:512], reason, detail[:500], bytes(payload[:4096])),
        )

    def is_stored(self, device: str, seq: int) -> bool:
        """Whether a reading is in the store (a late duplicate check outside a transaction)."""
        with self._lock:
            return (
                self._conn.execute("SELECT 1 FROM readings WHERE device=? AND seq=?", (device, seq)).fetchone()
                is not None
            )

    def save_batch(self, batch: BatchRow, sealed_ms: int) -> None:
        """Record a sealed batch (status ``sealed``)."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO batches VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    batch.device,
                    batch.window,
                    batch.part,
                    batch.start_ms,
                    batch.end_ms,
                    batch.count,
                    batch.min,
                    batch.max,
                    batch.mean,
                    batch.root,
                    batch.first_seq,
                    batch.last_seq,
                    json.dumps(list(batch.lots)),
                    batch.site,
                    "sealed",
                    None,
                    None,
                    None,
                    sealed_ms,
                    None,
                ),
            )

    def mark_anchored(self, anchored: Iterable[tuple[tuple[str, int, int], str, str, int]], at_ms: int) -> None:
        """Record the event ID and transaction of anchored batches: ((device, window, part), event, tx, block)."""
        with self._lock:
            self._conn.executemany(
                "UPDATE batches SET status='anchored', event_id=?, tx_id=?, block=?, anchored_ms=? "
                "WHERE device=? AND window=? AND part=?",
                [(event, tx, block, at_ms, *key) for key, event, tx, block in anchored],
            )

    def mark_failed(self, keys: Iterable[tuple[str, int, int]]) -> None:
        """Note batches whose anchoring failed (they are retried when the ingester restarts)."""
        with self._lock:
            self._conn.executemany(
                "UPDATE batches SET status='failed' WHERE device=? AND window=? AND part=?", [tuple(k) for k in keys]
            )

    def save_counters(self, counters: dict[str, int]) -> None:
        """Save the ingester's counters."""
        with self._lock:
            self._conn.executemany("INSERT OR REPLACE INTO counters VALUES (?,?)", list(counters.items()))

    def take_quarantined(self, device: str) -> list[tuple[Reading, int]]:
        """Remove and return a device's quarantined readings (to replay them now that it is known)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT device, seq, ts_ms, celsius, site, received_ms FROM quarantine WHERE device=? ORDER BY seq",
                (device,),
            ).fetchall()
            self._conn.execute("DELETE FROM quarantine WHERE device=?", (device,))
        return [(Reading(site, dev, seq, ts, c), received) for dev, seq, ts, c, site, received in rows]

    # -- reading ---------------------------------------------------------------------------------------------

    def batch_readings(self, device: str, window: int, part: int) -> list[tuple[int, int, float]]:
        """(seq, ts_ms, celsius) of a batch's readings in leaf order (time, then seq)."""
        with self._lock:
            bounds = self._conn.execute(
                "SELECT first_seq, last_seq FROM batches WHERE device=? AND window=? AND part=?", (device, window, part)
            ).fetchone()
            low, high = bounds if bounds else (-1, 1 << 62)  # unsealed (after a restart): scan the device
            rows = self._conn.execute(
                "SELECT seq, ts_ms, celsius FROM readings "
                "WHERE device=? AND seq BETWEEN ? AND ? AND window=? AND part=?",
                (device, low, high, window, part),
            ).fetchall()
        return sorted(rows, key=lambda r: (r[1], r[0]))

    def reading(self, device: str, seq: int) -> tuple[int, float, int, int] | None:
        """(ts_ms, celsius, window, part) of one stored reading."""
        with self._lock:
            return self._conn.execute(
                "SELECT ts_ms, celsius, window, part FROM readings WHERE device=? AND seq=?", (device, seq)
            ).fetchone()

    def batch(self, device: str, window: int, part: int) -> BatchRow | None:
        """One batch."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_BATCH_COLUMNS} FROM batches WHERE device=? AND window=? AND part=?", (device, window, part)
            ).fetchone()
        return _batch(row) if row else None

    def batches(self, status: str | None = None) -> list[BatchRow]:
        """Every batch (or those with a status)."""
        with self._lock:
            if status is None:
                rows = self._conn.execute(f"SELECT {_BATCH_COLUMNS} FROM batches ORDER BY start_ms").fetchall()
            else:
                rows = self._conn.execute(
                    f"SELECT {_BATCH_COLUMNS} FROM batches WHERE status=? ORDER BY start_ms", (status,)
                ).fetchall()
        return [_batch(r) for r in rows]

    def unsealed(self) -> list[tuple[str, int, int]]:
        """(device, window, part) of stored readings that no batch covers yet (after a restart)."""
        with self._lock:
            return self._conn.execute(
                "SELECT DISTINCT r.device, r.window, r.part FROM readings r WHERE NOT EXISTS "
                "(SELECT 1 FROM batches b WHERE b.device=r.device AND b.window=r.window AND b.part=r.part)"
            ).fetchall()

    def max_part(self, device: str, window: int) -> int:
        """The highest part number of a device's sealed batches of a window, -1 if none."""
        with self._lock:
            row = self._conn.execute(
                "SELECT MAX(part) FROM batches WHERE device=? AND window=?", (device, window)
            ).fetchone()
        return -1 if row[0] is None else int(row[0])

    def series(self, device: str, start_ms: int, end_ms: int | None, limit: int = 5000) -> list[tuple[int, float]]:
        """(ts_ms, celsius) of a device's readings in [start, end), evenly thinned to at most ``limit``."""
        end = end_ms if end_ms is not None else 1 << 62
        with self._lock:
            # The batches overlapping the interval bound the seq range to read (readings have no time index).
            low, high = self._conn.execute(
                "SELECT MIN(first_seq), MAX(last_seq) FROM batches WHERE device=? AND start_ms<? AND end_ms>?",
                (device, end, start_ms),
            ).fetchone()
            sealed_until = self._conn.execute("SELECT MAX(end_ms) FROM batches WHERE device=?", (device,)).fetchone()[0]
            if sealed_until is None or end > sealed_until:
                high = None  # the newest readings are not sealed into a batch yet
            rows = self._conn.execute(
                "SELECT ts_ms, celsius FROM readings WHERE device=? AND seq BETWEEN ? AND ? AND ts_ms>=? AND ts_ms<?",
                (device, -1 if low is None else low, 1 << 62 if high is None else high, start_ms, end),
            ).fetchall()
        rows.sort()
        step = max(1, -(-len(rows) // limit))
        return rows[::step] if step > 1 else rows

    @staticmethod
    def set_latest(conn: sqlite3.Connection, rows: Iterable[tuple[str, str, int, float]]) -> None:
        """Record devices' newest readings (device, site, ts_ms, celsius)."""
        conn.executemany(
            "INSERT INTO latest VALUES (?,?,?,?) ON CONFLICT(device) DO UPDATE SET "
            "site=excluded.site, ts_ms=excluded.ts_ms, celsius=excluded.celsius WHERE excluded.ts_ms > latest.ts_ms",
            list(rows),
        )

    def latest(self) -> list[tuple[str, str, int, float]]:
        """The latest reading of each device: (device, site, ts_ms, celsius)."""
        with self._lock:
            return self._conn.execute("SELECT device, site, ts_ms, celsius FROM latest ORDER BY device").fetchall()

    def count(self, table: str = "readings") -> int:
        """Rows in a table."""
        if table not in ("readings", "batches", "quarantine", "rejects"):
            raise ValueError(table)
        with self._lock:
            return self._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def rejects(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest refused messages."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT received_ms, topic, reason, detail FROM rejects ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [{"received_ms": r[0], "topic": r[1], "reason": r[2], "detail": r[3]} for r in rows]

    def saved_counters(self) -> dict[str, int]:
        """The counters saved when the ingester last stopped."""
        with self._lock:
            return dict(self._conn.execute("SELECT name, value FROM counters").fetchall())


JOBS_SCHEMA = """
CREATE TABLE IF NOT EXISTS capture_jobs (
    capture_id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, running INTEGER NOT NULL, owner TEXT NOT NULL,
    job TEXT NOT NULL, pending TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS capture_jobs_created ON capture_jobs (created_ms);
"""


def jobs_path(data: Path | str) -> Path:
    """Where the capture jobs of a data folder's server are kept."""
    return Path(data) / "coldchain" / "capture-jobs.sqlite"


@dataclass(frozen=True)
class StoredJob:
    """A capture job as stored: its JSON form, whether it runs, which process runs it, what it sent."""

    capture_id: str
    created_ms: int
    running: bool
    owner: str
    job: dict[str, Any]
    """The job's JSON form (``CaptureJob.as_dict``)."""
    pending: tuple[str, ...]
    """The event IDs its transaction carries (the ledger is asked about them if the job was interrupted)."""


def _stored_job(row: tuple) -> StoredJob:
    capture_id, created_ms, running, owner, job, pending = row
    return StoredJob(capture_id, created_ms, bool(running), owner, json.loads(job), tuple(json.loads(pending)))


class JobStore:
    """Capture jobs in SQLite (thread-safe; one connection guarded by a lock). ``:memory:`` keeps them in memory."""

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(JOBS_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()

    def save(self, stored: StoredJob) -> None:
        """Record a job (a new one, or its new state); durable when this returns."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO capture_jobs VALUES (?,?,?,?,?,?)",
                (
                    stored.capture_id,
                    stored.created_ms,
                    int(stored.running),
                    stored.owner,
                    json.dumps(stored.job, separators=(",", ":")),
                    json.dumps(list(stored.pending)),
                ),
            )

    def get(self, capture_id: str) -> StoredJob | None:
        """A job by id."""
        with self._lock:
            row = self._conn.execute(
                "SELECT capture_id, created_ms, running, owner, job, pending FROM capture_jobs WHERE capture_id=?",
                (capture_id,),
            ).fetchone()
        return _stored_job(row) if row else None

    def newest(self, limit: int) -> list[StoredJob]:
        """The newest jobs, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT capture_id, created_ms, running, owner, job, pending FROM capture_jobs "
                "ORDER BY created_ms DESC, rowid DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_stored_job(r) for r in rows]

    def prune(self, keep: int) -> None:
        """Forget all but the newest ``keep`` finished jobs (a running job is never forgotten)."""
        with self._lock:
            self._conn.execute(
                "DELETE FROM capture_jobs WHERE running=0 AND capture_id NOT IN "
                "(SELECT capture_id FROM capture_jobs ORDER BY created_ms DESC, rowid DESC LIMIT ?)",
                (keep,),
            )
