"""
Ledger History Tree
^^^^^^^^^^^^^^^^^^^

.. contents:: Table of Contents
    :backlinks: none
    :local:

Introduction
------------

Every transaction ever ordered on a channel is a leaf of one RFC 9162 Merkle
tree, the *history tree*. Its root, published per block, commits to the
whole history of the channel; inclusion proofs show that a transaction was
ordered, and consistency proofs show that a later history extends an earlier
one rather than rewriting it.

A peer must answer proofs for any past tree size, yet a channel may reach
tens of millions of transactions, so the tree lives on disk.

Layout
------

The directory holds one append-only file per level ``k``,
``level-KK.hashes``, whose ``i``-th 32-byte record is the hash of the
aligned complete subtree over leaves ``[i * 2**k, (i + 1) * 2**k)``.
Level 0 holds the leaf hashes themselves. Such subtrees never change once
complete, so appending a leaf appends to level 0 and, like a binary carry,
to each level above where a pair of siblings has just been completed. Level
``k`` holds ``size >> k`` records, about ``2 * size * 32`` bytes in all.

Every root and proof, for any size, is built from ``O(log n)`` of these
records (see ``consortia.ledger.merkle.subtree_root``), each fetched with a
positioned read; a level is never loaded whole.

Durability
----------

Appends are buffered in memory (and visible to reads) until ``flush``,
which writes them and, when asked, ``fsync``s them. The tree size is the
number of whole records in level 0; everything else is derived from level 0,
so on opening, a torn trailing record is dropped, upper levels that a crash
left behind are recomputed and upper levels that ran ahead are cut back.
The block store remains the source of truth: after a crash the peer
``truncate``s the tree to the transactions of its last stored block.

Starting from a snapshot
------------------------

A peer that joins a channel from a snapshot (``consortia.ledger.snapshot``)
never sees the first ``S`` leaves: it starts from the tree's *frontier* at
size ``S``, its compact range, one subtree hash per set bit of ``S``
(:func:`seed_from_frontier`). At level ``k`` such a tree lacks every record
below index ``2 * (S >> (k + 1))``; the first record it holds there is the
frontier's subtree of height ``k`` when bit ``k`` of ``S`` is set. That is
all appends need (a carry only ever reads the last record of a level, which
is a frontier subtree or a later one), and all any root, inclusion proof of
a leaf at or after ``S``, or consistency proof from a size at or after ``S``
needs: every node such a proof names either lies after ``S`` or is made of
whole frontier subtrees. Asking for anything before ``S`` raises
:class:`BeforeSnapshotError`. The frontier is kept beside the level files in
``frontier.bin`` so that reopening knows where the tree begins.
"""

import fcntl
import hashlib
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from .merkle import (
    HASH_SIZE,
    CompactRange,
    SubtreeHash,
    build_consistency_proof,
    build_inclusion_proof,
    node_hash,
    subtree_root,
)

_LEVEL_FILE = re.compile(r"level-(\d{2})\.hashes")
FRONTIER_FILE = "frontier.bin"
"""The compact range a tree started from a snapshot begins with (absent for a tree that starts at leaf 0)."""
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256

AUTO_WRITE_BYTES = 4 << 20
"""Buffered bytes beyond which ``append`` writes (without ``fsync``) on its own."""

REBUILD_CHUNK = 1 << 15
"""Parent records recomputed per read while repairing a level."""


def open_elsewhere(directory: Path) -> bool:
    """Whether a writer (a running node) holds the history tree in ``directory`` open.

    The writer holds an exclusive ``flock`` on level 0 for as long as it runs; this probes that lock without
    waiting and releases it at once. A missing tree is not open anywhere.
    """
    path = Path(directory) / "level-00.hashes"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing the descriptor releases the probe's lock
    return False


class BeforeSnapshotError(ValueError):
    """A leaf or subtree from before the snapshot a tree was started from: this tree never held it."""


def seed_from_frontier(directory: Path, frontier: CompactRange) -> None:
    """Create a history tree in the empty ``directory`` that starts at ``frontier`` (a snapshot's compact range).

    Each frontier hash becomes the first record of its level; the frontier itself is written to
    ``frontier.bin``. Everything is fsynced before returning.
    """
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise ValueError(f"cannot seed a history tree in {directory}: the directory is not empty")
    directory.mkdir(parents=True, exist_ok=True)
    size = frontier.size
    hashes = list(frontier.hashes)  # largest (highest level) first
    for level in range(max(1, size.bit_length()) - 1, -1, -1):
        data = hashes.pop(0) if (size >> level) & 1 else b""
        _write_synced(directory / f"level-{level:02d}.hashes", data)
    _write_synced(directory / FRONTIER_FILE, frontier.to_bytes())
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def read_frontier(directory: Path) -> CompactRange | None:
    """The frontier a tree in ``directory`` was started from, or None for a tree that starts at leaf 0."""
    path = Path(directory) / FRONTIER_FILE
    if not path.exists():
        return None
    try:
        return CompactRange.from_bytes(path.read_bytes())
    except ValueError as exc:
        raise ValueError(f"history tree {directory}: {FRONTIER_FILE} is damaged: {exc}") from None


class HistoryTree:
    """An append-only Merkle tree of leaf hashes, stored level by level on disk."""

    def __init__(self, directory: Path, *, read_only: bool = False) -> None:
        self._directory = Path(directory)
        self.read_only = read_only
        self._lock = threading.RLock()
        self._fds: list[int] = []
        self._stored: list[int] = []
        self._pending: list[bytearray] = []
        self._pending_bytes = 0
        self._unsynced: set[int] = set()
        self._directory_unsynced = False
        self._size = 0
        self._closed = False
        frontier = read_frontier(self._directory)
        self.start = frontier.size if frontier is not None else 0
        """The first leaf this tree holds: the snapshot size it was started from, else 0."""
        if read_only:
            self._open_read_only()
            return
        self._directory.mkdir(parents=True, exist_ok=True)
        try:
            self._open_level(0)
            try:
                # Two writers appending to the same files would interleave
                # records; refuse a second opener instead.
                fcntl.flock(self._fds[0], fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RuntimeError(f"history tree {self._directory} is open elsewhere") from None
            self._recover()
            if frontier is not None and self.compact_range(self.start) != frontier:
                raise OSError(f"history tree {self._directory}: the level files disagree with {FRONTIER_FILE}")
        except BaseException:
            self._close_files()
            raise

    def _open_read_only(self) -> None:
        """Read the tree as a running node left it: no lock, no repair, whole records only.

        The node that owns the tree writes each block's records before the block's transactions become visible in
        its state database, so every record a proof up to a committed block needs is on disk; one that is not
        (a level the writer has not reached) is recomputed from the level below.
        """
        level = 0
        while (path := self._directory / f"level-{level:02d}.hashes").exists():
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            self._fds.append(fd)
            self._stored.append(self._base(level) + os.fstat(fd).st_size // HASH_SIZE)
            self._pending.append(bytearray())
            level += 1
        if not self._fds:
            raise FileNotFoundError(f"no history tree in {self._directory}")
        self._size = self._stored[0]

    @property
    def directory(self) -> Path:
        """Return the directory holding the level files."""
        return self._directory

    @property
    def size(self) -> int:
        """Return the number of leaves in the tree."""
        return self._size

    def append(self, leaf_hashes: Sequence[bytes]) -> None:
        """Append leaf hashes, updating every level whose subtrees they complete."""
        with self._lock:
            self._check_writable()
            new = list(leaf_hashes)
            for h in new:
                if not isinstance(h, bytes) or len(h) != HASH_SIZE:
                    raise ValueError(f"leaf hashes must be {HASH_SIZE}-byte bytes, got {h!r:.80}")
            if not new:
                return
            appended = len(new)
            count = self._size
            level = 0
            while new:
                if level == len(self._fds):
                    self._open_level(level)
                self._pending[level] += b"".join(new)
                self._pending_bytes += len(new) * HASH_SIZE
                if count % 2 == 1:
                    # The old last record was waiting for its right sibling.
                    new.insert(0, self._read(level, count - 1))
                # An unpaired last record waits for its sibling in a later append.
                pairs = iter(new)
                new = [_sha256(_NODE_PREFIX + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
                count >>= 1
                level += 1
            self._size += appended
            if self._pending_bytes >= AUTO_WRITE_BYTES:
                self._write()

    def flush(self, sync: bool = True) -> None:
        """Write buffered records to the level files, and ``fsync`` them when ``sync``."""
        with self._lock:
            self._check_writable()
            self._write()
            if sync:
                self._sync()

    def root(self, size: int | None = None) -> bytes:
        """Return the root of the first ``size`` leaves (default: all of them)."""
        with self._lock:
            size = self._check_size(size)
            return subtree_root(0, size, self._subtree_hash())

    def leaf(self, index: int) -> bytes:
        """Return the leaf hash at ``index``."""
        with self._lock:
            self._check_open()
            if type(index) is not int or not 0 <= index < self._size:
                raise ValueError(f"leaf index {index!r} is outside a tree of size {self._size}")
            return self._read(0, index)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return the inclusion proof of leaf ``index`` in the tree of ``size`` leaves (default: all)."""
        with self._lock:
            size = self._check_size(size)
            return build_inclusion_proof(index, size, self._subtree_hash())

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """Return the consistency proof between trees of ``size1`` and ``size2`` leaves (default: all)."""
        with self._lock:
            size2 = self._check_size(size2)
            return build_consistency_proof(size1, size2, self._subtree_hash())

    def compact_range(self, size: int | None = None) -> CompactRange:
        """Return the right edge of the tree of ``size`` leaves, e.g. to seed an orderer."""
        with self._lock:
            size = self._check_size(size)
            hashes = []
            start = 0
            for level in range(size.bit_length() - 1, -1, -1):
                if (size >> level) & 1:
                    hashes.append(self._read(level, start >> level))
                    start += 1 << level
            return CompactRange(size, hashes)

    def truncate(self, size: int) -> None:
        """Drop every leaf at or beyond ``size``; the cut is made durable at once."""
        with self._lock:
            self._check_writable()
            if type(size) is not int or not self.start <= size <= self._size:
                if type(size) is int and 0 <= size < self.start:
                    raise BeforeSnapshotError(
                        f"cannot truncate a tree started from a snapshot at size {self.start} to {size}"
                    )
                raise ValueError(f"cannot truncate a tree of size {self._size} to {size!r}")
            cut = []
            for level, fd in enumerate(self._fds):
                keep = size >> level
                if keep < self._stored[level]:
                    os.ftruncate(fd, (keep - self._base(level)) * HASH_SIZE)
                    self._stored[level] = keep
                    self._pending[level] = bytearray()
                    cut.append(level)
                else:
                    del self._pending[level][(keep - self._stored[level]) * HASH_SIZE :]
            self._size = size
            self._pending_bytes = sum(len(p) for p in self._pending)
            # Leaves appended after the cut must never reach the disk while
            # stale upper records from before the cut are still there.
            for level in cut:
                os.fsync(self._fds[level])

    def close(self) -> None:
        """Flush and ``fsync`` buffered records, then release the files."""
        with self._lock:
            if self._closed:
                return
            try:
                if not self.read_only:
                    self._write()
                    self._sync()
            finally:
                self._close_files()

    def __enter__(self) -> "HistoryTree":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HistoryTree({str(self._directory)!r}, size={self._size})"

    def _recover(self) -> None:
        """Derive the size from level 0 and bring the upper levels in line with it."""
        fd0 = self._fds[0]
        length = os.fstat(fd0).st_size
        size = self._base(0) + length // HASH_SIZE
        repaired = set()
        if length != (size - self._base(0)) * HASH_SIZE:
            # A torn append: the partial record was never acknowledged.
            os.ftruncate(fd0, (size - self._base(0)) * HASH_SIZE)
            repaired.add(0)
        if size < self.start:
            raise OSError(f"history tree {self._directory}: level 0 is shorter than its snapshot frontier")
        self._stored[0] = size
        self._size = size

        # Records at or beyond this leaf index must be recomputed at every
        # level still to be visited (the snapshot's frontier records never
        # are: nothing below them is held).
        rebuild_from = size
        for level in range(1, size.bit_length()):
            self._open_level(level)
            fd = self._fds[level]
            expected = size >> level
            held = self.start >> level  # records up to the frontier's, which no level below can rebuild
            base = self._base(level)
            length = os.fstat(fd).st_size
            count = min(base + length // HASH_SIZE, expected, max(held, rebuild_from >> level))
            if count < held:
                raise OSError(f"history tree {self._directory}: level {level} lost its snapshot frontier record")
            if length != (count - base) * HASH_SIZE:
                os.ftruncate(fd, (count - base) * HASH_SIZE)
                repaired.add(level)
            self._stored[level] = count
            if count > held and self._read(level, count - 1) != self._children_hash(level, count - 1):
                # The tail disagrees with the level below (say, a cut that
                # never reached the disk), so no record of this level or
                # those above can be trusted.
                os.ftruncate(fd, (held - base) * HASH_SIZE)
                self._stored[level] = count = held
                rebuild_from = self.start
                repaired.add(level)
            if count < expected:
                self._rebuild_level(level, count, expected)
                repaired.add(level)

        for path in self._directory.iterdir():
            match = _LEVEL_FILE.fullmatch(path.name)
            if match and int(match.group(1)) >= max(1, size.bit_length()):
                path.unlink()
                self._directory_unsynced = True
        for level in repaired:
            os.fsync(self._fds[level])
        if self._directory_unsynced:
            self._sync_directory()

    def _rebuild_level(self, level: int, start: int, stop: int) -> None:
        """Recompute records ``[start, stop)`` of ``level`` from the level below."""
        child_fd = self._fds[level - 1]
        child_base = self._base(level - 1)
        pair_size = 2 * HASH_SIZE
        for first in range(start, stop, REBUILD_CHUNK):
            last = min(stop, first + REBUILD_CHUNK)
            children = self._pread(child_fd, (last - first) * pair_size, (2 * first - child_base) * HASH_SIZE)
            parents = b"".join(
                _sha256(_NODE_PREFIX + children[i : i + pair_size]).digest() for i in range(0, len(children), pair_size)
            )
            self._write_all(level, parents)
            self._stored[level] = last

    def _base(self, level: int) -> int:
        """Index of the first record of ``level`` this tree holds (0 unless it started from a snapshot)."""
        return (self.start >> (level + 1)) << 1

    def _children_hash(self, level: int, index: int) -> bytes:
        return node_hash(self._read(level - 1, 2 * index), self._read(level - 1, 2 * index + 1))

    def _open_level(self, level: int) -> None:
        path = self._directory / f"level-{level:02d}.hashes"
        if not path.exists():
            self._directory_unsynced = True
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        self._fds.append(fd)
        self._stored.append(0)
        self._pending.append(bytearray())

    def _read(self, level: int, index: int) -> bytes:
        """Return record ``index`` of ``level``, from disk or from the write buffer."""
        base = self._base(level)
        if index < base:
            raise BeforeSnapshotError(
                f"history tree {self._directory}: leaves [{index << level}, {(index + 1) << level}) are before "
                f"this tree's snapshot at size {self.start}"
            )
        if self.read_only:
            if level < len(self._stored) and index < self._stored[level]:
                return self._pread(self._fds[level], HASH_SIZE, (index - base) * HASH_SIZE)
            if level == 0:
                raise ValueError(f"leaf {index} is beyond the {self._size} leaves on disk")
            return self._children_hash(level, index)  # not written yet by the node that owns the tree
        stored = self._stored[level]
        if index < stored:
            return self._pread(self._fds[level], HASH_SIZE, (index - base) * HASH_SIZE)
        offset = (index - stored) * HASH_SIZE
        return bytes(self._pending[level][offset : offset + HASH_SIZE])

    def _subtree_hash(self) -> SubtreeHash:
        # Subtrees on the right edge recur in several siblings of one proof;
        # remember them for the duration of a single query.
        cache: dict[tuple[int, int], bytes] = {}

        def subtree_hash(level: int, index: int) -> bytes:
            key = (level, index)
            if key not in cache:
                cache[key] = self._read(level, index)
            return cache[key]

        return subtree_hash

    def _write(self) -> None:
        """Move every buffered record to its level file, level 0 first."""
        for level, pending in enumerate(self._pending):
            if pending:
                self._write_all(level, bytes(pending))
                self._stored[level] += len(pending) // HASH_SIZE
                self._pending[level] = bytearray()
        self._pending_bytes = 0

    def _write_all(self, level: int, data: bytes) -> None:
        fd = self._fds[level]
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            # Leave whole records only, so later appends stay aligned.
            os.ftruncate(fd, (self._stored[level] - self._base(level)) * HASH_SIZE)
            raise
        self._unsynced.add(level)

    def _sync(self) -> None:
        for level in sorted(self._unsynced):
            os.fsync(self._fds[level])
        self._unsynced.clear()
        if self._directory_unsynced:
            self._sync_directory()

    def _sync_directory(self) -> None:
        # New level files are durable only once their directory entry is.
        fd = os.open(self._directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._directory_unsynced = False

    def _pread(self, fd: int, length: int, offset: int) -> bytes:
        data = os.pread(fd, length, offset)
        if len(data) != length:
            raise OSError(f"history tree {self._directory}: a level file shrank underneath us")
        return data

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("history tree is closed")

    def _check_writable(self) -> None:
        self._check_open()
        if self.read_only:
            raise ValueError(f"history tree {self._directory} is open read-only")

    def _check_size(self, size: int | None) -> int:
        self._check_open()
        if size is None:
            return self._size
        if type(size) is not int or not 0 <= size <= self._size:
            raise ValueError(f"tree size {size!r} is outside 0..{self._size}")
        return size

    def _close_files(self) -> None:
        self._closed = True
        for fd in self._fds:
            os.close(fd)
        self._fds = []
