"""The state database: the current value of every key, derived from the valid transactions of the blocks.

SQLite in WAL mode holds, per channel and peer:

* ``state`` — namespace, key → JSON value and the version (block, tx) that wrote it;
* ``key_policy`` — key-level endorsement policies that override a contract's policy for one key;
* ``history`` — every write of every key, for key-history queries;
* ``hashed`` — the salted hashes of private data, which every peer keeps;
* ``private`` — private plaintext, which only member organisations' peers keep (and purge);
* ``transient`` — private plaintext received at endorsement time, waiting for its transaction to commit;
* ``txids`` — every transaction id seen with its position and validation code (duplicate detection, lookups);
* ``meta`` — the height: the number of blocks whose effects are in this database.

A block's effects (an :class:`~consortia.ledger.updates.UpdateBatch`) and the new height are written in one SQLite
transaction, so the database is always exactly the replay of the first ``height`` blocks of the block store;
after a crash the peer replays the rest.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from consortia.ledger.query import compile_query
from consortia.ledger.rwset import Version
from consortia.ledger.updates import UpdateBatch

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, block INTEGER NOT NULL, tx INTEGER NOT NULL,
    PRIMARY KEY (ns, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS key_policy (
    ns TEXT NOT NULL, key TEXT NOT NULL, policy TEXT NOT NULL, PRIMARY KEY (ns, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
    ns TEXT NOT NULL, key TEXT NOT NULL, block INTEGER NOT NULL, tx INTEGER NOT NULL, tx_id TEXT NOT NULL,
    value TEXT, is_delete INTEGER NOT NULL, timestamp_ms INTEGER NOT NULL,
    PRIMARY KEY (ns, key, block, tx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hashed (
    ns TEXT NOT NULL, coll TEXT NOT NULL, key_hash BLOB NOT NULL, value_hash BLOB NOT NULL,
    block INTEGER NOT NULL, tx INTEGER NOT NULL, PRIMARY KEY (ns, coll, key_hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS private (
    ns TEXT NOT NULL, coll TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, salt BLOB NOT NULL,
    block INTEGER NOT NULL, tx INTEGER NOT NULL, expires INTEGER NOT NULL,
    PRIMARY KEY (ns, coll, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS private_expiry ON private (expires) WHERE expires > 0;
CREATE TABLE IF NOT EXISTS purged (
    ns TEXT NOT NULL, coll TEXT NOT NULL, key_hash BLOB NOT NULL, block INTEGER NOT NULL,
    reason TEXT NOT NULL, PRIMARY KEY (ns, coll, key_hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS transient (
    tx_id TEXT NOT NULL, ns TEXT NOT NULL, coll TEXT NOT NULL, data BLOB NOT NULL, received_ms INTEGER NOT NULL,
    PRIMARY KEY (tx_id, ns, coll)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS txids (
    tx_id TEXT PRIMARY KEY, block INTEGER NOT NULL, tx INTEGER NOT NULL, code INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""

NULL_VERSION_BLOCK = -1

SNAPSHOT_TABLES: dict[str, tuple[int, str]] = {
    "state": (5, "ns, key"),
    "key_policy": (3, "ns, key"),
    "history": (8, "ns, key, block, tx"),
    "hashed": (6, "ns, coll, key_hash"),
    "txids": (4, "tx_id"),
}
"""Tables a snapshot carries, with their column counts and row order: everything a replay of the blocks would
write except private plaintext (``private``, ``purged``, ``transient``), which only member peers keep. ``txids``
is whole — a duplicate check must know every transaction id ever used, not only recent ones — and so is
``history``, the key history that history queries and the state digest read."""


@dataclass(frozen=True)
class StateValue:
    """A key's current JSON value (canonical bytes) and version."""

    value: bytes
    version: Version


@dataclass(frozen=True)
class HistoryEntry:
    """One write of a key: where, by which transaction, what value (None for a delete)."""

    block: int
    tx: int
    tx_id: str
    value: bytes | None
    timestamp_ms: int


@dataclass(frozen=True)
class PrivateValue:
    """Private plaintext as a member peer holds it."""

    value: bytes
    salt: bytes
    version: Version


class TxPosition(NamedTuple):
    """Where a committed transaction is: its block, its index in the block, and its validation code.

    A named tuple, so that code written when this was a plain ``(block, index, code)`` tuple still unpacks it.
    """

    block: int
    index: int
    code: int


class StateDB:
    """SQLite-backed world state with history, private data and the committed height."""

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._snapshots: dict[int, int] = {}
        self._generation = 0
        self._policy_namespaces: set[str] = set()
        if not read_only:
            self._writer = self._connect()
            self._writer.executescript(_SCHEMA)
            self._policy_namespaces = {row[0] for row in self._writer.execute("SELECT DISTINCT ns FROM key_policy")}

    # -- connections -----------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        else:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-16384")
        # Purged private data must not linger in freed pages: overwrite deleted content.
        conn.execute("PRAGMA secure_delete=ON")
        with self._connections_lock:
            self._connections.append(conn)
        return conn

    def _borrow(self) -> sqlite3.Connection:
        # Pooled connections may keep a read transaction open between uses (see snapshot); one whose snapshot
        # predates the last applied block is refreshed, so every read sees at least the committed height.
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            return self._connect()
        if conn.in_transaction and self._snapshots.get(id(conn)) != self._generation:
            conn.execute("COMMIT")
        return conn

    def _release(self, conn: sqlite3.Connection) -> None:
        self._pool.put(conn)

    def _one(self, sql: str, params: Any = ()) -> Any:
        bound = getattr(self._local, "conn", None)
        if bound is not None:
            return bound.execute(sql, params).fetchone()
        conn = self._borrow()
        try:
            return conn.execute(sql, params).fetchone()
        finally:
            self._pool.put(conn)

    def _all(self, sql: str, params: Any = ()) -> list[Any]:
        bound = getattr(self._local, "conn", None)
        if bound is not None:
            return bound.execute(sql, params).fetchall()
        conn = self._borrow()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            self._pool.put(conn)

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        bound = getattr(self._local, "conn", None)
        if bound is not None:
            yield bound
            return
        conn = self._borrow()
        try:
            yield conn
        finally:
            self._pool.put(conn)

    def _write(self, sql: str, params: Any = ()) -> int:
        return self._writer.execute(sql, params).rowcount

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Run the enclosed reads against one consistent snapshot of the database (one read transaction).

        The read transaction is left open when the connection goes back to the pool and reused by later
        snapshots until a block is applied: simulations at the same height then cost no BEGIN/COMMIT.
        """
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        conn = self._borrow()
        if not conn.in_transaction:
            self._snapshots[id(conn)] = self._generation
            conn.execute("BEGIN")
        self._local.conn = conn
        try:
            yield
        finally:
            self._local.conn = None
            self._pool.put(conn)

    def _refresh_idle(self) -> None:
        """End the read transactions of idle pooled connections so they do not pin old WAL pages."""
        idle = []
        while True:
            try:
                idle.append(self._pool.get_nowait())
            except queue.Empty:
                break
        for conn in idle:
            if conn.in_transaction:
                conn.execute("COMMIT")
            self._pool.put(conn)

    def close(self) -> None:
        """Close every connection this database opened."""
        with self._connections_lock:
            for conn in self._connections:
                with suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()
        self._local = threading.local()
        self._pool = queue.SimpleQueue()

    # -- public state ----------------------------------------------------------------------------------------

    @property
    def height(self) -> int:
        """Number of blocks applied."""
        row = self._one("SELECT value FROM meta WHERE name = 'height'")
        return row[0] if row else 0

    def get(self, ns: str, key: str) -> StateValue | None:
        """The current value and version of a key, or None."""
        row = self._one("SELECT value, block, tx FROM state WHERE ns = ? AND key = ?", (ns, key))
        if row is None:
            return None
        return StateValue(row[0].encode(), Version(row[1], row[2]))

    def get_version(self, ns: str, key: str) -> Version | None:
        """The version of a key, or None when it does not exist."""
        row = self._one("SELECT block, tx FROM state WHERE ns = ? AND key = ?", (ns, key))
        return Version(row[0], row[1]) if row else None

    def range(self, ns: str, start: str, end: str, limit: int | None = None) -> list[tuple[str, StateValue]]:
        """Keys in [start, end) in key order ('' as end means: to the end of the namespace)."""
        sql = "SELECT key, value, block, tx FROM state WHERE ns = ? AND key >= ?"
        params: list[Any] = [ns, start]
        if end:
            sql += " AND key < ?"
            params.append(end)
        sql += " ORDER BY key"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self._all(sql, params)
        return [(row[0], StateValue(row[1].encode(), Version(row[2], row[3]))) for row in rows]

    def query(self, ns: str, query: Any) -> list[tuple[str, StateValue]]:
        """Rich query over JSON values (see :mod:`consortia.ledger.query`)."""
        compiled = compile_query(query)
        sql = (
            f"SELECT key, value, block, tx FROM state WHERE ns = ? AND ({compiled.where}) "
            f"ORDER BY {compiled.order_by} LIMIT ?"
        )
        rows = self._all(sql, (ns, *compiled.params, compiled.limit))
        return [(row[0], StateValue(row[1].encode(), Version(row[2], row[3]))) for row in rows]

    def has_key_policies(self, ns: str) -> bool:
        """Whether any key of the namespace may carry a key-level policy (lets validation skip lookups)."""
        return self.read_only or ns in self._policy_namespaces

    def versions(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Version]:
        """Current versions of many keys at once (absent keys are left out)."""
        pairs = list(dict.fromkeys(keys))
        found: dict[tuple[str, str], Version] = {}
        for start in range(0, len(pairs), 400):
            chunk = pairs[start : start + 400]
            values = ",".join("(?, ?)" for _ in chunk)
            params = [item for pair in chunk for item in pair]
            for ns, key, block, tx in self._all(
                f"SELECT ns, key, block, tx FROM state WHERE (ns, key) IN (VALUES {values})", params
            ):
                found[(ns, key)] = Version(block, tx)
        return found

    def find_key(self, key: str) -> list[tuple[str, StateValue]]:
        """Every namespace holding ``key``, with its value and version."""
        rows = self._all("SELECT ns, value, block, tx FROM state WHERE key = ? ORDER BY ns", (key,))
        return [(row[0], StateValue(row[1].encode(), Version(row[2], row[3]))) for row in rows]

    def key_policy(self, ns: str, key: str) -> str | None:
        """The key-level endorsement policy of a key, if one is set."""
        row = self._one("SELECT policy FROM key_policy WHERE ns = ? AND key = ?", (ns, key))
        return row[0] if row else None

    def history(self, ns: str, key: str, limit: int = 1000) -> list[HistoryEntry]:
        """Writes of a key, newest first."""
        rows = self._all(
            "SELECT block, tx, tx_id, value, is_delete, timestamp_ms FROM history WHERE ns = ? AND key = ? "
            "ORDER BY block DESC, tx DESC LIMIT ?",
            (ns, key, limit),
        )
        return [HistoryEntry(row[0], row[1], row[2], None if row[4] else row[3].encode(), row[5]) for row in rows]

    def count(self, ns: str | None = None) -> int:
        """Number of keys (in one namespace, or in all)."""
        if ns is None:
            return self._one("SELECT count(*) FROM state")[0]
        return self._one("SELECT count(*) FROM state WHERE ns = ?", (ns,))[0]

    # -- private data ----------------------------------------------------------------------------------------

    def hashed_get(self, ns: str, coll: str, key_hash: bytes) -> tuple[bytes, Version] | None:
        """The salted value hash and version of a private key (kept by every peer)."""
        row = self._one(
            "SELECT value_hash, block, tx FROM hashed WHERE ns = ? AND coll = ? AND key_hash = ?", (ns, coll, key_hash)
        )
        return (row[0], Version(row[1], row[2])) if row else None

    def private_get(self, ns: str, coll: str, key: str) -> PrivateValue | None:
        """Private plaintext (only on member peers, and only until purged)."""
        row = self._one(
            "SELECT value, salt, block, tx FROM private WHERE ns = ? AND coll = ? AND key = ?", (ns, coll, key)
        )
        return PrivateValue(row[0], row[1], Version(row[2], row[3])) if row else None

    def purge_record(self, ns: str, coll: str, key_hash: bytes) -> tuple[int, str] | None:
        """When and why a private key's plaintext was purged, if it was."""
        row = self._one(
            "SELECT block, reason FROM purged WHERE ns = ? AND coll = ? AND key_hash = ?", (ns, coll, key_hash)
        )
        return (row[0], row[1]) if row else None

    def private_rows(self) -> list[tuple[str, str, str, bytes, bytes]]:
        """Every private plaintext held: (ns, coll, key, value, salt)."""
        return self._all("SELECT ns, coll, key, value, salt FROM private ORDER BY ns, coll, key")

    def expired_private(self, block: int) -> list[tuple[str, str, str]]:
        """Private keys whose blocks-to-live end at or before ``block``."""
        return self._all("SELECT ns, coll, key FROM private WHERE expires > 0 AND expires <= ?", (block,))

    def put_transient(self, tx_id: str, ns: str, coll: str, data: bytes, received_ms: int) -> None:
        """Keep private plaintext received for a not-yet-committed transaction."""
        with self._write_lock:
            self._write("INSERT OR REPLACE INTO transient VALUES (?, ?, ?, ?, ?)", (tx_id, ns, coll, data, received_ms))

    def get_transient(self, tx_id: str) -> list[tuple[str, str, bytes]]:
        """Private plaintext received for a transaction: (ns, coll, data) rows."""
        # Read through the writer: a pooled reader may still hold a snapshot (see ``snapshot``) taken before the
        # plaintext arrived, since receiving transient data does not start a new generation.
        with self._write_lock:
            return self._writer.execute("SELECT ns, coll, data FROM transient WHERE tx_id = ?", (tx_id,)).fetchall()

    def drop_transient_before(self, received_ms: int) -> int:
        """Forget transient data of transactions that never committed."""
        with self._write_lock:
            return self._write("DELETE FROM transient WHERE received_ms < ?", (received_ms,))

    # -- transactions ids ------------------------------------------------------------------------------------

    def tx_position(self, tx_id: str) -> TxPosition | None:
        """Where a transaction id already committed is (block, index) and its validation code, or None."""
        row = self._one("SELECT block, tx, code FROM txids WHERE tx_id = ?", (tx_id,))
        return TxPosition(row[0], row[1], row[2]) if row else None

    def tx_seen(self, tx_ids: Iterable[str]) -> set[str]:
        """The subset of ``tx_ids`` already committed."""
        ids = list(tx_ids)
        seen: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" for _ in chunk)
            seen.update(row[0] for row in self._all(f"SELECT tx_id FROM txids WHERE tx_id IN ({marks})", chunk))
        return seen

    # -- applying a block ------------------------------------------------------------------------------------

    def apply(self, batch: UpdateBatch) -> None:
        """Apply one block's updates and record the new height, atomically."""
        if self.read_only:
            raise RuntimeError("state database is open read-only")
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._apply(conn, batch)
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('height', ?)", (batch.height,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._generation += 1
            self._policy_namespaces.update(ns for (ns, _), policy in batch.policies.items() if policy)
        self._refresh_idle()
        if batch.purges:
            # Erasure is only real once the old pages are gone from the write-ahead log too.
            with self._write_lock:
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @staticmethod
    def _apply(conn: sqlite3.Connection, batch: UpdateBatch) -> None:
        upserts = []
        deletes = []
        for (ns, key), write in batch.state.items():
            if write.value is None:
                deletes.append((ns, key))
            else:
                upserts.append((ns, key, write.value.decode(), write.version.block, write.version.tx))
        if upserts:
            conn.executemany("INSERT OR REPLACE INTO state VALUES (?, ?, ?, ?, ?)", upserts)
        if deletes:
            conn.executemany("DELETE FROM state WHERE ns = ? AND key = ?", deletes)
            conn.executemany("DELETE FROM key_policy WHERE ns = ? AND key = ?", deletes)
        for (ns, key), policy in batch.policies.items():
            if policy:
                conn.execute("INSERT OR REPLACE INTO key_policy VALUES (?, ?, ?)", (ns, key, policy))
            else:
                conn.execute("DELETE FROM key_policy WHERE ns = ? AND key = ?", (ns, key))
        if batch.history:
            conn.executemany(
                "INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        h.namespace,
                        h.key,
                        h.block,
                        h.tx,
                        h.tx_id,
                        None if h.value is None else h.value.decode(),
                        h.value is None,
                        h.timestamp_ms,
                    )
                    for h in batch.history
                ],
            )
        for (ns, coll, key_hash), hashed in batch.hashed.items():
            if hashed.value_hash is None:
                conn.execute("DELETE FROM hashed WHERE ns = ? AND coll = ? AND key_hash = ?", (ns, coll, key_hash))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO hashed VALUES (?, ?, ?, ?, ?, ?)",
                    (ns, coll, key_hash, hashed.value_hash, hashed.version.block, hashed.version.tx),
                )
        for (ns, coll, key), entry in batch.private.items():
            if entry is None:
                conn.execute("DELETE FROM private WHERE ns = ? AND coll = ? AND key = ?", (ns, coll, key))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO private VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (ns, coll, key, entry.value, entry.salt, entry.version.block, entry.version.tx, entry.expires),
                )
        for purge in batch.purges:
            conn.execute(
                "INSERT OR REPLACE INTO purged VALUES (?, ?, ?, ?, ?)",
                (purge.namespace, purge.collection, purge.key_hash, purge.block, purge.reason),
            )
        if batch.txids:
            conn.executemany(
                "INSERT OR IGNORE INTO txids VALUES (?, ?, ?, ?)",
                [(record.tx_id, record.block, record.index, record.code) for record in batch.txids],
            )
        if batch.transient_done:
            conn.executemany("DELETE FROM transient WHERE tx_id = ?", [(t,) for t in batch.transient_done])

    # -- snapshots -------------------------------------------------------------------------------------------

    def export_rows(self) -> tuple[int, dict[str, list[tuple[Any, ...]]]]:
        """The height and every row of the tables a snapshot carries (:data:`SNAPSHOT_TABLES`), read at once."""
        with self._reader() as conn:
            began = not conn.in_transaction
            if began:
                conn.execute("BEGIN")
            try:
                row = conn.execute("SELECT value FROM meta WHERE name = 'height'").fetchone()
                tables = {
                    table: [tuple(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY {order}")]
                    for table, (_, order) in SNAPSHOT_TABLES.items()
                }
            finally:
                if began:
                    conn.execute("COMMIT")
        return (row[0] if row else 0), tables

    def import_rows(self, height: int, tables: dict[str, list[tuple[Any, ...]]]) -> None:
        """Fill an empty database with a snapshot's rows and set its height, in one transaction.

        Raises ValueError naming the table and row when a row does not fit (nothing is written then).
        """
        if self.read_only:
            raise RuntimeError("state database is open read-only")
        unknown = sorted(set(tables) - set(SNAPSHOT_TABLES))
        if unknown:
            raise ValueError(f"a snapshot carries the tables {', '.join(SNAPSHOT_TABLES)}, not {', '.join(unknown)}")
        with self._write_lock:
            conn = self._writer
            if conn.execute("SELECT 1 FROM meta WHERE name = 'height'").fetchone() is not None:
                raise ValueError(f"state database {self.path} is not empty: a snapshot goes into a new one")
            conn.execute("BEGIN IMMEDIATE")
            try:
                for table, (columns, _) in SNAPSHOT_TABLES.items():
                    rows = tables.get(table, [])
                    for number, row in enumerate(rows):
                        if len(row) != columns:
                            raise ValueError(f"{table} row {number} has {len(row)} columns, expected {columns}")
                    marks = ", ".join("?" for _ in range(columns))
                    try:
                        conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
                    except sqlite3.Error as exc:
                        raise ValueError(f"{table} rows do not fit the table: {exc}") from None
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('height', ?)", (height,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._generation += 1
            self._policy_namespaces = {row[0] for row in conn.execute("SELECT DISTINCT ns FROM key_policy")}
        self._refresh_idle()

    # -- comparing -------------------------------------------------------------------------------------------

    def digest_rows(self) -> Iterator[tuple[str, tuple[Any, ...]]]:
        """Every row that must equal a replay of the blocks, table by table, in a fixed order."""
        with self._reader() as conn:
            yield from self._digest(conn)

    @staticmethod
    def _digest(conn: sqlite3.Connection) -> Iterator[tuple[str, tuple[Any, ...]]]:
        yield from (("state", row) for row in conn.execute("SELECT * FROM state ORDER BY ns, key"))
        yield from (("key_policy", row) for row in conn.execute("SELECT * FROM key_policy ORDER BY ns, key"))
        yield from (("history", row) for row in conn.execute("SELECT * FROM history ORDER BY ns, key, block, tx"))
        yield from (("hashed", row) for row in conn.execute("SELECT * FROM hashed ORDER BY ns, coll, key_hash"))
        yield from (("txids", row) for row in conn.execute("SELECT * FROM txids ORDER BY tx_id"))
