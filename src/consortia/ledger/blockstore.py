"""The block store: blocks in append-only segment files, found through a fixed-width index.

Each block is written as one record ``magic ‖ length ‖ crc32 ‖ payload`` at the end of the current segment file
and the segment is fsynced before the block counts as stored; only then is a 16-byte index entry (segment,
offset, length) appended. The index is a cache of the segments: when a process dies between the two writes,
opening the store rescans the tail of the last segment, re-indexes complete records and cuts off a half-written
one. Nothing before the last indexed record is ever rewritten, so corruption there is reported, never "repaired".

Segments roll over at 64 MiB so that no file grows without bound and old segments can be archived whole.

A peer that joined its channel from a snapshot at height ``h`` holds no block before ``h``: its store starts at
block ``h`` (the number is kept in the file ``base``, written by :func:`start_at` before any block), and reading
an earlier block raises :class:`BlockStoreError` saying so.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

MAGIC = b"CSB1"
RECORD_HEADER = struct.Struct(">4sII")
INDEX_ENTRY = struct.Struct(">IQI")
SEGMENT_LIMIT = 64 << 20


class BlockStoreError(Exception):
    """The block store is damaged or was asked for something it does not hold."""

    def __init__(self, message: str, block: int | None = None) -> None:
        super().__init__(message)
        self.block = block


def _segment_name(number: int) -> str:
    return f"segment-{number:06d}.blk"


BASE_FILE = "base"


def start_at(directory: Path, base: int) -> None:
    """Prepare an empty block store in ``directory`` whose first block will be number ``base`` (a snapshot's height)."""
    directory = Path(directory)
    if type(base) is not int or base < 0:
        raise ValueError(f"a block store starts at a block number >= 0, not {base!r}")
    if directory.exists() and any(directory.iterdir()):
        raise BlockStoreError(f"cannot start a block store at block {base} in {directory}: it is not empty")
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / BASE_FILE, "w") as handle:
        handle.write(f"{base}\n")
        handle.flush()
        os.fsync(handle.fileno())
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_base(directory: Path) -> int:
    path = directory / BASE_FILE
    if not path.exists():
        return 0
    text = path.read_text().strip()
    if not text.isdigit():
        raise BlockStoreError(f"{path} should hold the number of the store's first block, found {text[:40]!r}")
    return int(text)


class BlockStore:
    """Append-only storage of block records, numbered from 0."""

    def __init__(self, directory: Path, *, read_only: bool = False, sync: bool = True) -> None:
        self.directory = Path(directory)
        self.read_only = read_only
        self.sync = sync
        self._lock = threading.Lock()
        self._entries: list[tuple[int, int, int]] = []
        self._fds: dict[int, int] = {}
        if not read_only:
            self.directory.mkdir(parents=True, exist_ok=True)
        elif not self.directory.is_dir():
            raise BlockStoreError(f"no block store at {self.directory}")
        self.base = _read_base(self.directory)
        """Number of the first block held: 0, or the height of the snapshot this peer joined from."""
        self._index_path = self.directory / "index"
        self._load_index()
        self.index_repairs: list[str] = []
        self.reindexed: range = range(0)
        """Numbers of blocks found beyond the index on opening (their chain is for the caller to check)."""
        """What opening had to fix (or, read-only, would fix) in the index and the segment tail."""
        self._recover_tail()
        if not read_only:
            self._index_fd = os.open(self._index_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    # -- opening ---------------------------------------------------------------------------------------------

    def _load_index(self) -> None:
        data = self._index_path.read_bytes() if self._index_path.exists() else b""
        whole = len(data) - len(data) % INDEX_ENTRY.size
        self._entries = [INDEX_ENTRY.unpack_from(data, pos) for pos in range(0, whole, INDEX_ENTRY.size)]
        if whole != len(data) and not self.read_only:
            with open(self._index_path, "r+b") as handle:
                handle.truncate(whole)

    def _segment_numbers(self) -> list[int]:
        numbers = []
        for path in self.directory.glob("segment-*.blk"):
            try:
                numbers.append(int(path.stem.split("-")[1]))
            except ValueError:
                continue
        return sorted(numbers)

    def _recover_tail(self) -> None:
        """Index complete records written after the last index entry; cut off a half-written record.

        Read-only, the same repairs are made in memory only (so an audit sees every stored block) and reported in
        ``index_repairs``; nothing on disk changes.
        """
        indexed = len(self._entries)
        # A trailing index entry that does not follow its predecessor, or points past the end of its segment, is
        # damaged or was never completed: drop it (the rescan below finds its record again if the record is whole).
        while self._entries and not self._entry_plausible(len(self._entries) - 1):
            self._entries.pop()
        if len(self._entries) < indexed:
            self.index_repairs.append(f"{indexed - len(self._entries)} damaged trailing index entr(y/ies) dropped")
        if not self.read_only:
            self._rewrite_index_if_shorter()
        if self._entries:
            segment, offset, length = self._entries[-1]
            position = offset + RECORD_HEADER.size + length
            if not self._header_matches(len(self._entries) - 1):
                stored = self._intact_record_length(segment, offset)
                if stored is None:
                    # Record and entry disagree and the record is damaged: change nothing (no acknowledged block is
                    # ever cut off); reading that block reports the damage.
                    self.index_repairs.append(f"block {self.base + len(self._entries) - 1}: record is damaged")
                    return
                # The record is whole, so the entry's length is what was damaged: take the record's own.
                self._entries[-1] = (segment, offset, stored)
                position = offset + RECORD_HEADER.size + stored
                self.index_repairs.append(
                    f"block {self.base + len(self._entries) - 1}: index length corrected from its record"
                )
                if not self.read_only:
                    with open(self._index_path, "r+b") as handle:
                        handle.seek((len(self._entries) - 1) * INDEX_ENTRY.size)
                        handle.write(INDEX_ENTRY.pack(*self._entries[-1]))
                        handle.flush()
                        os.fsync(handle.fileno())
        else:
            segment, position = 0, 0
        segments = [n for n in self._segment_numbers() if n >= segment] or [segment]
        added: list[tuple[int, int, int]] = []
        for number in segments:
            path = self.directory / _segment_name(number)
            if not path.exists():
                continue
            start = position if number == segment else 0
            data = path.read_bytes()
            pos = start
            while pos + RECORD_HEADER.size <= len(data):
                magic, length, crc = RECORD_HEADER.unpack_from(data, pos)
                end = pos + RECORD_HEADER.size + length
                if magic != MAGIC or end > len(data):
                    break
                if zlib.crc32(data[pos + RECORD_HEADER.size : end]) != crc:
                    break
                added.append((number, pos, length))
                pos = end
            if pos < len(data):
                # Everything after the last complete record is a torn write from a crash.
                self.index_repairs.append(f"{len(data) - pos} bytes of a half-written record after the last block")
                if not self.read_only:
                    with open(path, "r+b") as handle:
                        handle.truncate(pos)
                    for later in (n for n in self._segment_numbers() if n > number):
                        (self.directory / _segment_name(later)).unlink()
                break
        if added:
            self.reindexed = range(self.base + len(self._entries), self.base + len(self._entries) + len(added))
            self._entries.extend(added)
            self.index_repairs.append(f"{len(added)} complete block record(s) beyond the index were re-indexed")
        if added and not self.read_only:
            with open(self._index_path, "ab") as handle:
                handle.write(b"".join(INDEX_ENTRY.pack(*entry) for entry in added))
                handle.flush()
                os.fsync(handle.fileno())

    def _entry_plausible(self, number: int) -> bool:
        segment, offset, length = self._entries[number]
        if number == 0:
            expected = {(0, 0)}
        else:
            prev_segment, prev_offset, prev_length = self._entries[number - 1]
            expected = {(prev_segment, prev_offset + RECORD_HEADER.size + prev_length), (prev_segment + 1, 0)}
        if (segment, offset) not in expected:
            return False
        path = self.directory / _segment_name(segment)
        return path.exists() and path.stat().st_size >= offset + RECORD_HEADER.size + length

    def _intact_record_length(self, segment: int, offset: int) -> int | None:
        """The payload length of a whole, checksum-valid record at ``offset``, or None."""
        try:
            data = (self.directory / _segment_name(segment)).read_bytes()
        except OSError:
            return None
        if offset + RECORD_HEADER.size > len(data):
            return None
        magic, length, crc = RECORD_HEADER.unpack_from(data, offset)
        end = offset + RECORD_HEADER.size + length
        if magic != MAGIC or end > len(data) or zlib.crc32(data[offset + RECORD_HEADER.size : end]) != crc:
            return None
        return length

    def _header_matches(self, number: int) -> bool:
        segment, offset, length = self._entries[number]
        try:
            with open(self.directory / _segment_name(segment), "rb") as handle:
                handle.seek(offset)
                raw = handle.read(RECORD_HEADER.size)
        except OSError:
            return False
        if len(raw) < RECORD_HEADER.size:
            return False
        magic, stored_length, _ = RECORD_HEADER.unpack_from(raw, 0)
        return magic == MAGIC and stored_length == length

    def _rewrite_index_if_shorter(self) -> None:
        expected = len(self._entries) * INDEX_ENTRY.size
        if self._index_path.exists() and self._index_path.stat().st_size > expected:
            with open(self._index_path, "r+b") as handle:
                handle.truncate(expected)

    def refresh(self) -> None:
        """Read-only: see the blocks a running writer has appended since this store was opened."""
        if not self.read_only:
            return
        with self._lock:
            self._load_index()
            self.index_repairs = []
            self._recover_tail()

    # -- reading ---------------------------------------------------------------------------------------------

    @property
    def height(self) -> int:
        """The next block number: blocks stored, plus the snapshot height the store started at."""
        return self.base + len(self._entries)

    def _fd(self, segment: int) -> int:
        fd = self._fds.get(segment)
        if fd is None:
            path = self.directory / _segment_name(segment)
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                raise BlockStoreError(f"segment file {path.name} is missing") from None
            self._fds[segment] = fd
        return fd

    def location(self, number: int) -> tuple[int, int, int]:
        """(segment, offset, payload length) of block ``number``."""
        if 0 <= number < self.base:
            raise BlockStoreError(f"block {number} is before this peer's snapshot at height {self.base}", number)
        if not 0 <= number < self.height:
            raise BlockStoreError(f"block {number} is not in the store (height {self.height})", number)
        return self._entries[number - self.base]

    def read(self, number: int) -> bytes:
        """The payload of block ``number``, checked against its record header and checksum."""
        segment, offset, length = self.location(number)
        raw = os.pread(self._fd(segment), RECORD_HEADER.size + length, offset)
        if len(raw) < RECORD_HEADER.size + length:
            raise BlockStoreError(f"block {number}: record is truncated", number)
        magic, stored_length, crc = RECORD_HEADER.unpack_from(raw, 0)
        if magic != MAGIC:
            raise BlockStoreError(f"block {number}: record marker is damaged", number)
        if stored_length != length:
            raise BlockStoreError(
                f"block {number}: record length {stored_length} disagrees with the index ({length})", number
            )
        payload = raw[RECORD_HEADER.size :]
        if zlib.crc32(payload) != crc:
            raise BlockStoreError(f"block {number}: record checksum mismatch (the bytes were altered)", number)
        return payload

    def iter(self, start: int | None = None, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """Yield (number, payload) for blocks in [start, end) (default: from the first block held)."""
        stop = self.height if end is None else min(end, self.height)
        for number in range(self.base if start is None else start, stop):
            yield number, self.read(number)

    def check_index(self) -> None:
        """Cross-check the index against a sequential scan of the segments; raise naming the first bad block."""
        expected_segment, expected_offset = 0, 0
        for number, (segment, offset, length) in enumerate(self._entries, start=self.base):
            if segment == expected_segment + 1 and offset == 0:
                expected_segment, expected_offset = segment, 0
            if (segment, offset) != (expected_segment, expected_offset):
                raise BlockStoreError(f"block {number}: index entry points to the wrong place", number)
            expected_offset = offset + RECORD_HEADER.size + length

    # -- writing ---------------------------------------------------------------------------------------------

    def append(self, payload: bytes) -> int:
        """Store the next block's payload durably; return its number."""
        if self.read_only:
            raise BlockStoreError("block store is open read-only")
        with self._lock:
            if self._entries:
                segment, offset, length = self._entries[-1]
                position = offset + RECORD_HEADER.size + length
                if position + RECORD_HEADER.size + len(payload) > SEGMENT_LIMIT:
                    segment, position = segment + 1, 0
            else:
                segment, position = 0, 0
            record = RECORD_HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload
            path = self.directory / _segment_name(segment)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                written = os.pwrite(fd, record, position)
                if written != len(record):
                    raise BlockStoreError(f"short write to {path.name}")
                if self.sync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            entry = (segment, position, len(payload))
            os.write(self._index_fd, INDEX_ENTRY.pack(*entry))
            self._entries.append(entry)
            return self.base + len(self._entries) - 1

    def drop_reindexed(self) -> None:
        """Take back the index entries of records found beyond the index (their adoption was refused)."""
        if not self.reindexed:
            return
        with self._lock:
            del self._entries[self.reindexed.start - self.base :]
            if not self.read_only:
                os.ftruncate(self._index_fd, len(self._entries) * INDEX_ENTRY.size)
            self.reindexed = range(0)

    def close(self) -> None:
        """Release file descriptors."""
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        if not self.read_only and getattr(self, "_index_fd", None) is not None:
            os.close(self._index_fd)
            self._index_fd = None

    def __enter__(self) -> BlockStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
