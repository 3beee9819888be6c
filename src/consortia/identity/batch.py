"""Verifying many signatures at once, spread over the machine's cores.

Signature verification bounds a peer's throughput: each transaction carries the client's signature and one per
endorsement, and every peer checks them all. libsodium releases Python's global interpreter lock while it
verifies, so a small thread pool verifies a block's signatures on every core at once. A process-wide counter
records how many verifications were made, which the benchmark uses to relate throughput to the verify rate.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from consortia.identity.signing import verify_signature

SignatureJob = tuple[bytes, bytes, bytes]
"""(public key, message, signature)."""

_CHUNK = 32
_pool: ThreadPoolExecutor | None = None
_count_lock = threading.Lock()
_verified = 0


def _count(n: int) -> None:
    global _verified
    with _count_lock:
        _verified += n


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="verify")
    return _pool


def _verify_chunk(jobs: Sequence[SignatureJob]) -> list[bool]:
    return [verify_signature(key, message, signature) for key, message, signature in jobs]


def verify_one(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Verify one signature (counted)."""
    _count(1)
    return verify_signature(public_key, message, signature)


def verify_many(jobs: Sequence[SignatureJob]) -> list[bool]:
    """Verify signatures in parallel on all cores; results in job order."""
    _count(len(jobs))
    if len(jobs) <= _CHUNK:
        return _verify_chunk(jobs)
    chunks = [jobs[start : start + _CHUNK] for start in range(0, len(jobs), _CHUNK)]
    results: list[bool] = []
    for part in _executor().map(_verify_chunk, chunks):
        results.extend(part)
    return results


def verification_count() -> int:
    """How many signatures this process has verified through this module."""
    return _verified
