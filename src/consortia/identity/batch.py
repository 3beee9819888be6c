"""Verifying many signatures at once, spread over the machine's cores.

Signature verification bounds a peer's throughput: each transaction carries the client's signature and one per
endorsement, and every peer checks them all. A block's signatures are independent of each other, so they are
verified in bulk by a small thread pool: libsodium releases Python's global interpreter lock while it verifies,
so chunks of a block's signatures run on every core at once. (Worker processes were measured too: they avoid
the lock hand-offs but cost as much in pickling and pipe round trips, and a process pool re-imports the
caller's ``__main__``, which scripts embedding a network do not expect.)

Small batches are verified in the calling thread. A process-wide counter records how many verifications were
made, which the benchmark uses to relate throughput to the machine's verify rate.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor

from consortia.identity.signing import verify_signature

SignatureJob = tuple[bytes, bytes, bytes]
"""(public key, message, signature)."""

INLINE_LIMIT = 64
"""Batches up to this size are verified in the calling thread (a hand-off costs more than it saves)."""

_pool: Executor | None = None
_pool_lock = threading.Lock()
_count_lock = threading.Lock()
_verified = 0


def _count(n: int) -> None:
    global _verified
    with _count_lock:
        _verified += n


def _executor() -> Executor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="verify")
        return _pool


def _verify_chunk(jobs: Sequence[SignatureJob]) -> bytes:
    return bytes(verify_signature(key, message, signature) for key, message, signature in jobs)


def verify_one(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Verify one signature in the calling thread (counted)."""
    _count(1)
    return verify_signature(public_key, message, signature)


def verify_many(jobs: Sequence[SignatureJob]) -> list[bool]:
    """Verify signatures on all cores; results in job order."""
    _count(len(jobs))
    if len(jobs) <= INLINE_LIMIT:
        return [bool(b) for b in _verify_chunk(jobs)]
    workers = max(1, os.cpu_count() or 1)
    size = max(INLINE_LIMIT, -(-len(jobs) // (workers * 2)))
    chunks = [jobs[start : start + size] for start in range(0, len(jobs), size)]
    results: list[bool] = []
    try:
        for part in _executor().map(_verify_chunk, chunks):
            results.extend(bool(b) for b in part)
    except Exception:  # a broken pool (e.g. at interpreter shutdown): verify here rather than fail the block
        return [bool(b) for b in _verify_chunk(jobs)]
    return results


def verification_count() -> int:
    """How many signatures this process has verified through this module."""
    return _verified


def shutdown() -> None:
    """Stop the worker threads (they restart on demand)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None
