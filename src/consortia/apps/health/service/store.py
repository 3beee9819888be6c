"""The off-chain record store: sealed records, and the custodian's vault of wrapped data keys.

The provincial health office is the custodian of the records. It keeps them in this store — SQLite in
``<data>/health/records.sqlite`` — only as AES-GCM ciphertexts (:mod:`.crypto`), each addressed by its batch and
leaf index: the pointer the ledger's anchor carries. Beside each ciphertext the store keeps what it needs to
find records without opening them (patient pseudonym, data class, time); the salt and the values are inside.

The salted hashes of every batch are kept in leaf order so that any record's Merkle inclusion proof up to the
anchored root can be rebuilt, also after other patients of the same batch were erased (a salted hash whose salt
is shredded reveals nothing).

The *vault* holds each patient's data key wrapped for the custodian's own key-encryption key. Erasing a patient
deletes the vault entry and every ciphertext with SQLite's ``secure_delete`` on, so the freed pages are
overwritten with zeros rather than left in the file. Writes of a batch are staged (``pending``) until its
anchor commits on the ledger, and dropped if it does not, so a failed import leaves nothing behind.

FHIR Observations that carry a business identifier are remembered per patient by the SHA-256 of
``system|value`` (:func:`identifier_hash`): the same Observation posted again — a retried upload, a replayed
request — is found here and stored once. Staging a batch claims its identifiers in the same SQLite transaction
(a primary key), so two concurrent posts of one Observation cannot both be stored.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS vault (patient TEXT PRIMARY KEY, wrapped BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    batch TEXT PRIMARY KEY, patient TEXT NOT NULL, count INTEGER NOT NULL, root BLOB NOT NULL,
    tx_id TEXT, state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    batch TEXT NOT NULL, leaf INTEGER NOT NULL, patient TEXT NOT NULL, class TEXT NOT NULL,
    effective INTEGER NOT NULL, blob BLOB NOT NULL, PRIMARY KEY (batch, leaf)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hashes (
    batch TEXT NOT NULL, leaf INTEGER NOT NULL, digest BLOB NOT NULL, PRIMARY KEY (batch, leaf)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_by_patient ON records (patient, class, effective);
CREATE TABLE IF NOT EXISTS identifiers (
    patient TEXT NOT NULL, identifier BLOB NOT NULL, batch TEXT NOT NULL, leaf INTEGER NOT NULL,
    PRIMARY KEY (patient, identifier)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS identifiers_by_batch ON identifiers (batch);
"""


class DuplicateRecord(Exception):
    """A staged record whose identifier the patient already has (a concurrent post of the same Observation)."""


def identifier_hash(identifier: str) -> bytes:
    """How the store remembers a FHIR business identifier (``system|value``)."""
    return hashlib.sha256(identifier.encode()).digest()


@dataclass(frozen=True)
class StoredSource:
    """Where a record with a given identifier was stored: batch, leaf, anchoring transaction, state."""

    batch: str
    leaf: int
    tx_id: str | None
    state: str


@dataclass(frozen=True)
class StoredRecord:
    """One sealed record and where it sits."""

    batch: str
    leaf: int
    patient: str
    data_class: str
    effective: int
    blob: bytes
    digest: bytes = b""
    identifier: bytes = b""
    """SHA-256 of the FHIR identifier (b"" when the record has none)."""

    @property
    def record_id(self) -> str:
        """The id bound into the ciphertext: ``<batch>/<leaf>``."""
        return f"{self.batch}/{self.leaf}"


class RecordStore:
    """Sealed records and wrapped keys in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    # -- the vault -------------------------------------------------------------------------------------------

    def put_keys(self, rows: Iterable[tuple[str, bytes]]) -> None:
        """Store wrapped data keys (patient, wrapped), replacing none: a patient's key is made once."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany("INSERT INTO vault (patient, wrapped) VALUES (?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def wrapped_key(self, patient: str) -> bytes | None:
        """The custodian's wrapped copy of a patient's data key, or None (not enrolled, or erased)."""
        with self._lock:
            row = self._db.execute("SELECT wrapped FROM vault WHERE patient = ?", (patient,)).fetchone()
        return None if row is None else bytes(row[0])

    def wrapped_keys(self, patients: Sequence[str]) -> dict[str, bytes]:
        """Wrapped keys of many patients."""
        out: dict[str, bytes] = {}
        with self._lock:
            for start in range(0, len(patients), 500):
                chunk = list(patients[start : start + 500])
                marks = ",".join("?" * len(chunk))
                for patient, wrapped in self._db.execute(
                    f"SELECT patient, wrapped FROM vault WHERE patient IN ({marks})", chunk
                ):
                    out[patient] = bytes(wrapped)
        return out

    # -- records ---------------------------------------------------------------------------------------------

    def stage(self, batch: str, patient: str, root: bytes, records: Sequence[StoredRecord]) -> None:
        """Write a batch's records as pending (not yet anchored)."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute(
                    "INSERT INTO batches (batch, patient, count, root, tx_id, state) VALUES (?, ?, ?, ?, NULL, ?)",
                    (batch, patient, len(records), root, "pending"),
                )
                self._db.executemany(
                    "INSERT INTO records (batch, leaf, patient, class, effective, blob) VALUES (?, ?, ?, ?, ?, ?)",
                    ((r.batch, r.leaf, r.patient, r.data_class, r.effective, r.blob) for r in records),
                )
                self._db.executemany(
                    "INSERT INTO hashes (batch, leaf, digest) VALUES (?, ?, ?)",
                    ((r.batch, r.leaf, r.digest) for r in records),
                )
                self._db.executemany(
                    "INSERT INTO identifiers (patient, identifier, batch, leaf) VALUES (?, ?, ?, ?)",
                    ((r.patient, r.identifier, r.batch, r.leaf) for r in records if r.identifier),
                )
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError:
                self._db.execute("ROLLBACK")
                raise DuplicateRecord(f"batch {batch} repeats an identifier the patient already has") from None
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def commit(self, batch: str, tx_id: str) -> None:
        """Mark a staged batch anchored by ``tx_id``."""
        with self._lock:
            self._db.execute("UPDATE batches SET tx_id = ?, state = 'anchored' WHERE batch = ?", (tx_id, batch))

    def drop(self, batch: str) -> None:
        """Remove a staged batch whose anchor did not commit."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM records WHERE batch = ?", (batch,))
            self._db.execute("DELETE FROM hashes WHERE batch = ?", (batch,))
            self._db.execute("DELETE FROM identifiers WHERE batch = ?", (batch,))
            self._db.execute("DELETE FROM batches WHERE batch = ?", (batch,))
            self._db.execute("COMMIT")

    def batch(self, batch: str) -> tuple[str, int, bytes, str | None, str] | None:
        """(patient, count, root, tx_id, state) of a batch."""
        with self._lock:
            row = self._db.execute(
                "SELECT patient, count, root, tx_id, state FROM batches WHERE batch = ?", (batch,)
            ).fetchone()
        return None if row is None else (row[0], row[1], bytes(row[2]), row[3], row[4])

    def records(
        self, patient: str, classes: Sequence[str] | None = None, since: int | None = None
    ) -> list[StoredRecord]:
        """A patient's anchored records (optionally of some classes, from a time), oldest first."""
        query = (
            "SELECT r.batch, r.leaf, r.patient, r.class, r.effective, r.blob FROM records r "
            "JOIN batches b ON b.batch = r.batch WHERE r.patient = ? AND b.state = 'anchored'"
        )
        args: list[object] = [patient]
        if classes:
            query += f" AND r.class IN ({','.join('?' * len(classes))})"
            args.extend(classes)
        if since is not None:
            query += " AND r.effective >= ?"
            args.append(since)
        query += " ORDER BY r.effective, r.batch, r.leaf"
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [StoredRecord(b, leaf, p, c, e, bytes(blob)) for b, leaf, p, c, e, blob in rows]

    def sources(self, patient: str, identifiers: Sequence[bytes]) -> dict[bytes, StoredSource]:
        """Which of these identifier hashes the patient's records already have, and where."""
        out: dict[bytes, StoredSource] = {}
        with self._lock:
            for start in range(0, len(identifiers), 500):
                chunk = list(identifiers[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT i.identifier, i.batch, i.leaf, b.tx_id, b.state FROM identifiers i "
                    f"JOIN batches b ON b.batch = i.batch WHERE i.patient = ? AND i.identifier IN ({marks})",
                    [patient, *chunk],
                ).fetchall()
                for identifier, batch, leaf, tx_id, state in rows:
                    out[bytes(identifier)] = StoredSource(batch, leaf, tx_id, state)
        return out

    def digests(self, batch: str) -> list[bytes]:
        """The salted hashes of a batch's records in leaf order (kept after erasure: they reveal nothing)."""
        with self._lock:
            rows = self._db.execute("SELECT digest FROM hashes WHERE batch = ? ORDER BY leaf", (batch,)).fetchall()
        return [bytes(row[0]) for row in rows]

    def count(self, patient: str | None = None) -> int:
        """How many records (of one patient) the store holds."""
        with self._lock:
            if patient is None:
                return self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
            return self._db.execute("SELECT COUNT(*) FROM records WHERE patient = ?", (patient,)).fetchone()[0]

    # -- erasure ---------------------------------------------------------------------------------------------

    def shred(self, patient: str) -> tuple[bool, int]:
        """Destroy a patient's wrapped key and ciphertexts; return (key existed, records deleted)."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                had_key = self._db.execute("DELETE FROM vault WHERE patient = ?", (patient,)).rowcount > 0
                deleted = self._db.execute("DELETE FROM records WHERE patient = ?", (patient,)).rowcount
                self._db.execute("DELETE FROM identifiers WHERE patient = ?", (patient,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return had_key, deleted
