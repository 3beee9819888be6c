"""The fingerprint benchmark: how fast a peer's world state answers "is this fingerprint registered?" at scale.

A registration looks up each of a document's fingerprints (two or three keyed HMACs) in public state — the
same :class:`~consortia.ledger.statedb.StateDB` (SQLite, ``state`` table keyed by namespace and key) every peer
keeps. The benchmark

1. bulk-loads ``N`` fingerprint records (``fp:<epoch>:<hex>`` in the contract's namespace, with the value the
   contract writes) into a fresh state database, in blocks of :data:`LOAD_BATCH` keys applied as the validator
   applies a block (:meth:`StateDB.apply` of an :class:`UpdateBatch`), in key order, with a progress bar;
2. times :data:`LOOKUPS` point lookups (:meth:`StateDB.get`), half of keys that are present (drawn uniformly
   from the N loaded) and half of keys that are not, and checks every present one is found and no absent one is;
3. times registrations on the state path at that scale: documents of a synthetic batch are fingerprinted
   (:func:`~consortia.apps.tradefinance.domain.fingerprint.fingerprints` under a real key), each fingerprint
   looked up, and the new records committed in blocks of 200 documents — what a peer's state does per
   registration, without signing, endorsement or ordering; :func:`end_to_end_registrations` (``--end-to-end``)
   times the whole path through the contract on a fresh embedded network.

Keys are HMAC-SHA-256 values, uniformly spread: the worst case for a B-tree's locality, and the real one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from consortia.apps.tradefinance.consortium import BANKS, CONTRACT
from consortia.apps.tradefinance.domain.csvrows import parse_csv
from consortia.apps.tradefinance.domain.fingerprint import fingerprints
from consortia.apps.tradefinance.domain.synthetic import generate_batch
from consortia.ledger.encoding import canonical_json, parse_json
from consortia.ledger.rwset import Version
from consortia.ledger.statedb import StateDB
from consortia.ledger.updates import KeyWrite, UpdateBatch

LOAD_BATCH = 100_000
LOOKUPS = 20_000
REGISTRATION_DOCUMENTS = 2_000
REGISTRATION_BLOCK = 200


@dataclass(frozen=True)
class BenchResult:
    """What ``consortia tradefinance bench --json`` prints."""

    fingerprints: int
    lookup_p50_ms: float
    lookup_p99_ms: float
    registrations_per_s: float
    present_p99_ms: float
    absent_p99_ms: float
    found: int
    """Present keys looked up and found (must equal ``looked_up_present``)."""
    looked_up_present: int
    false_hits: int
    """Absent keys found (must be 0)."""
    load_per_s: float
    database_bytes: int

    def to_json(self) -> dict[str, Any]:
        """The JSON document of the result."""
        return asdict(self)


def _digest(secret: bytes, index: int) -> bytes:
    return hmac.new(secret, index.to_bytes(8, "big"), hashlib.sha256).digest()


def fingerprint_key(secret: bytes, index: int) -> str:
    """The state key of the ``index``-th synthetic fingerprint (``fp:1:<hex>``), reproducible from the secret."""
    return "fp:1:" + _digest(secret, index).hex()


def _absent_key(secret: bytes, index: int) -> str:
    return "fp:1:" + hmac.new(secret, b"absent" + index.to_bytes(8, "big"), hashlib.sha256).hexdigest()


def _record(index: int) -> bytes:
    # The value the contract writes for a fingerprint carried by one registration, not financed.
    return canonical_json({"docs": [f"{index:016x}-000"], "financing": None})


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextmanager
def _folder(directory: Path | None) -> Iterator[Path]:
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        yield directory
        return
    with tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp:
        yield Path(tmp)


def run_bench(
    count: int,
    *,
    directory: Path | None = None,
    progress: Callable[[int], None] | None = None,
    lookups: int = LOOKUPS,
    seed: int = 1,
) -> BenchResult:
    """Load ``count`` fingerprints into a fresh state database, time lookups and state-path registrations."""
    if count < 1:
        raise ValueError(f"fingerprints: expected a positive count, found {count}")
    secret = os.urandom(32)
    with _folder(directory) as folder:
        path = folder / "state.sqlite"
        db = StateDB(path)
        try:
            height = 0
            started = time.perf_counter()
            # A bulk load: the N keys are drawn first and applied in key order, so that each block appends to
            # the B-tree instead of scattering writes over it — the same database as any other order, built
            # in minutes rather than hours. (Only the load is ordered; the timed lookups below are not.)
            digests = sorted(_digest(secret, i) for i in range(count))
            for start in range(0, count, LOAD_BATCH):
                height += 1
                version = Version(height, 0)
                chunk = digests[start : start + LOAD_BATCH]
                batch = UpdateBatch(
                    height,
                    {(CONTRACT, "fp:1:" + d.hex()): KeyWrite(_record(start + n), version) for n, d in enumerate(chunk)},
                )
                db.apply(batch)
                if progress is not None:
                    progress(len(chunk))
            del digests
            load_seconds = time.perf_counter() - started
            present_times: list[float] = []
            absent_times: list[float] = []
            found = false_hits = 0
            step = max(1, count // max(1, lookups // 2))
            picks = [(i * step + 7919 * i) % count for i in range(lookups // 2)]
            for n, index in enumerate(picks):
                key = fingerprint_key(secret, index)
                t0 = time.perf_counter()
                value = db.get(CONTRACT, key)
                present_times.append((time.perf_counter() - t0) * 1000)
                found += value is not None
                absent = _absent_key(secret, n)
                t0 = time.perf_counter()
                value = db.get(CONTRACT, absent)
                absent_times.append((time.perf_counter() - t0) * 1000)
                false_hits += value is not None
            rate = _registrations(db, height, seed)
            size = sum(p.stat().st_size for p in folder.glob("state.sqlite*"))
        finally:
            db.close()
    times = present_times + absent_times
    return BenchResult(
        fingerprints=count,
        lookup_p50_ms=round(statistics.median(times), 4),
        lookup_p99_ms=round(_percentile(times, 0.99), 4),
        registrations_per_s=round(rate, 1),
        present_p99_ms=round(_percentile(present_times, 0.99), 4),
        absent_p99_ms=round(_percentile(absent_times, 0.99), 4),
        found=found,
        looked_up_present=len(present_times),
        false_hits=false_hits,
        load_per_s=round(count / load_seconds, 1) if load_seconds > 0 else 0.0,
        database_bytes=size,
    )


def _registrations(db: StateDB, height: int, seed: int) -> float:
    """Documents per second fingerprinted, looked up and committed on the state path, at the loaded scale."""
    rows = parse_csv(generate_batch(seed, REGISTRATION_DOCUMENTS, list(BANKS)).csv_text)
    key = os.urandom(32)
    started = time.perf_counter()
    for start in range(0, len(rows), REGISTRATION_BLOCK):
        height += 1
        version = Version(height, 0)
        writes: dict[tuple[str, str], KeyWrite] = {}
        for offset, row in enumerate(rows[start : start + REGISTRATION_BLOCK]):
            ref = f"{height:016x}-{offset:03d}"
            for fingerprint in fingerprints(row.document, key, 1):
                state_key = f"fp:1:{fingerprint.value}"
                current = writes.get((CONTRACT, state_key))
                record = db.get(CONTRACT, state_key) if current is None else current
                docs = [] if record is None else list(_docs(record))
                writes[(CONTRACT, state_key)] = KeyWrite(
                    canonical_json({"docs": [*docs, ref], "financing": None}), version
                )
        db.apply(UpdateBatch(height, writes))
    elapsed = time.perf_counter() - started
    return len(rows) / elapsed if elapsed > 0 else 0.0


def _docs(record: KeyWrite | Any) -> list[str]:
    """The registrations a fingerprint record (a pending write or a stored value) lists."""
    return list(parse_json(record.value)["docs"])


def end_to_end_registrations(documents: int = REGISTRATION_DOCUMENTS, seed: int = 1) -> float:
    """Documents per second registered through the real contract: signed, endorsed, ordered, validated and
    committed on a fresh embedded network of the consortium (five banks, 200 documents per transaction)."""
    from consortia.apps.tradefinance.consortium import deploy, network_spec
    from consortia.apps.tradefinance.service.tradefinance import TradeFinanceService
    from consortia.ledger.config import BatchConfig
    from consortia.network.embedded import EmbeddedNetwork

    rows = parse_csv(generate_batch(seed, documents, list(BANKS)).csv_text)
    with tempfile.TemporaryDirectory(prefix="tf-bench-net-") as tmp:
        network = EmbeddedNetwork.create(
            Path(tmp) / "net", network_spec(BatchConfig(max_transactions=50, timeout_ms=20))
        )
        try:
            deploy(network)
            services = {bank: TradeFinanceService.as_user(network, bank, "client") for bank in BANKS}
            started = time.perf_counter()
            for bank, service in services.items():
                service.register_documents([row for row in rows if row.bank == bank])
            elapsed = time.perf_counter() - started
        finally:
            network.close()
    return len(rows) / elapsed if elapsed > 0 else 0.0
