"""Unit tests of the storage layer: block store, state database with rich queries, and ledger history alignment."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consortia.identity import CertificateAuthority, Kind, SigningIdentity
from consortia.ledger import blockstore
from consortia.ledger.block import BlockHeader
from consortia.ledger.blockstore import INDEX_ENTRY, MAGIC, RECORD_HEADER, BlockStore, BlockStoreError
from consortia.ledger.encoding import canonical_json, encode
from consortia.ledger.history import HistoryTree
from consortia.ledger.ledger import ChannelLedger, LedgerError
from consortia.ledger.merkle import CompactRange
from consortia.ledger.query import MAX_LIMIT, QueryError, compile_query
from consortia.ledger.rwset import Version
from consortia.ledger.statedb import StateDB
from consortia.ledger.updates import HistoryRecord, KeyWrite, TxIdRecord, UpdateBatch
from consortia.ordering.solo import make_block

# -- block store ---------------------------------------------------------------------------------------------


def _payload(number: int) -> bytes:
    """A distinct payload per block, of varying length."""
    return f"block {number} ".encode() * (3 + number % 5)


def _segment(directory: Path, number: int = 0) -> Path:
    return directory / f"segment-{number:06d}.blk"


def _files(directory: Path) -> dict[str, bytes]:
    """Every file of a directory with its bytes."""
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file()}


def _store(directory: Path, count: int) -> list[bytes]:
    """Create a store holding ``count`` blocks; return their payloads."""
    payloads = [_payload(n) for n in range(count)]
    with BlockStore(directory, sync=False) as store:
        for number, payload in enumerate(payloads):
            assert store.append(payload) == number
    return payloads


def test_blockstore_append_read_reopen(tmp_path: Path) -> None:
    """Blocks are numbered from 0, read back intact, and survive reopening."""
    payloads = _store(tmp_path, 6)
    with BlockStore(tmp_path) as store:
        assert store.height == 6
        assert [store.read(n) for n in range(6)] == payloads
        assert list(store.iter(2, 4)) == [(2, payloads[2]), (3, payloads[3])]
        assert [n for n, _ in store.iter(4, 100)] == [4, 5]
        store.check_index()
        assert store.append(b"seventh") == 6
    with BlockStore(tmp_path) as store:
        assert store.height == 7
        assert store.read(6) == b"seventh"
    assert (tmp_path / "index").stat().st_size == 7 * INDEX_ENTRY.size


def test_blockstore_empty_and_out_of_range(tmp_path: Path) -> None:
    """An empty store has height 0; reading a block it does not hold names the block and the height."""
    with BlockStore(tmp_path / "new") as store:
        assert store.height == 0
        assert list(store.iter()) == []
        store.check_index()
        for number in (0, -1):
            with pytest.raises(BlockStoreError, match=rf"block {number} is not in the store \(height 0\)") as info:
                store.read(number)
            assert info.value.block == number
        store.append(b"x")
        with pytest.raises(BlockStoreError, match="height 1"):
            store.read(1)


def test_blockstore_segment_rollover(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a small segment limit, records go to new segments; reading, reopening and the index check agree."""
    monkeypatch.setattr(blockstore, "SEGMENT_LIMIT", 100)
    payloads = [bytes([65 + n]) * 30 for n in range(7)]  # 42-byte records: two per 100-byte segment
    with BlockStore(tmp_path, sync=False) as store:
        for payload in payloads:
            store.append(payload)
        assert [store.location(n)[:2] for n in range(7)] == [
            (0, 0),
            (0, 42),
            (1, 0),
            (1, 42),
            (2, 0),
            (2, 42),
            (3, 0),
        ]
        store.check_index()
    assert sorted(p.name for p in tmp_path.glob("segment-*.blk")) == [_segment(tmp_path, n).name for n in range(4)]
    assert all(_segment(tmp_path, n).stat().st_size <= 100 for n in range(4))
    with BlockStore(tmp_path) as store:
        assert store.height == 7
        assert [store.read(n) for n in range(7)] == payloads
        store.check_index()
        store.append(b"z" * 30)
        assert store.location(7)[:2] == (3, 42)


def test_blockstore_payload_larger_than_a_segment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A record bigger than the segment limit gets a segment of its own."""
    monkeypatch.setattr(blockstore, "SEGMENT_LIMIT", 64)
    with BlockStore(tmp_path, sync=False) as store:
        store.append(b"a" * 10)
        store.append(b"b" * 500)
        store.append(b"c" * 10)
        assert [store.location(n)[0] for n in range(3)] == [0, 1, 2]
        store.check_index()
    with BlockStore(tmp_path) as store:
        assert [len(store.read(n)) for n in range(3)] == [10, 500, 10]


@pytest.mark.parametrize(
    "tail",
    [
        b"\x00",
        MAGIC + b"\x00\x00",
        RECORD_HEADER.pack(MAGIC, 1000, 0) + b"only part of the payload",
        RECORD_HEADER.pack(MAGIC, 5, 12345) + b"hello",  # complete, but its checksum is wrong
        RECORD_HEADER.pack(b"XXXX", 5, 0) + b"hello",  # not a record marker
    ],
    ids=["one-byte", "partial-header", "partial-payload", "bad-checksum", "bad-marker"],
)
def test_blockstore_torn_tail_is_cut_on_reopen(tmp_path: Path, tail: bytes) -> None:
    """A half-written last record is cut off on opening; earlier blocks are untouched; appending resumes."""
    payloads = _store(tmp_path, 3)
    segment = _segment(tmp_path)
    intact = segment.read_bytes()
    segment.write_bytes(intact + tail)
    with BlockStore(tmp_path) as store:
        assert store.height == 3
        assert segment.read_bytes() == intact
        assert [store.read(n) for n in range(3)] == payloads
        assert store.append(b"next") == 3
        store.check_index()
    with BlockStore(tmp_path) as store:
        assert store.height == 4
        assert store.read(3) == b"next"


def test_blockstore_unindexed_complete_record_is_indexed(tmp_path: Path) -> None:
    """A record fully written before a crash that lost its index entry is indexed again on opening."""
    payloads = _store(tmp_path, 3)
    index = tmp_path / "index"
    index.write_bytes(index.read_bytes()[: 2 * INDEX_ENTRY.size + 5])  # last entry lost, part of it written
    with BlockStore(tmp_path) as store:
        assert store.height == 3
        assert store.read(2) == payloads[2]
        store.check_index()
    assert index.stat().st_size == 3 * INDEX_ENTRY.size


def test_blockstore_index_entry_beyond_segment_end_is_dropped(tmp_path: Path) -> None:
    """An index entry whose record is not on disk (the disk lost it) is dropped, not trusted."""
    payloads = _store(tmp_path, 3)
    segment = _segment(tmp_path)
    with BlockStore(tmp_path, read_only=True) as store:
        _, start, _ = store.location(2)
    segment.write_bytes(segment.read_bytes()[: start + RECORD_HEADER.size + 2])
    with BlockStore(tmp_path) as store:
        assert store.height == 2
        assert [store.read(n) for n in range(2)] == payloads[:2]
        assert segment.stat().st_size == start
        store.check_index()
    assert (tmp_path / "index").stat().st_size == 2 * INDEX_ENTRY.size


def test_blockstore_torn_tail_after_rollover(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A torn record at the start of a new segment is cut; a complete unindexed one there is indexed."""
    monkeypatch.setattr(blockstore, "SEGMENT_LIMIT", 100)
    payloads = [bytes([97 + n]) * 30 for n in range(4)]
    with BlockStore(tmp_path, sync=False) as store:
        for payload in payloads:
            store.append(payload)
    # A crash while writing block 4 into a fresh segment 2.
    _segment(tmp_path, 2).write_bytes(RECORD_HEADER.pack(MAGIC, 30, 0) + b"e" * 10)
    with BlockStore(tmp_path) as store:
        assert store.height == 4
        assert _segment(tmp_path, 2).stat().st_size == 0
        assert store.append(b"e" * 30) == 4
    # A crash after block 5's record reached segment 2 but before its index entry.
    index = tmp_path / "index"
    index.write_bytes(index.read_bytes()[: 4 * INDEX_ENTRY.size])
    with BlockStore(tmp_path) as store:
        assert store.height == 5
        assert store.read(4) == b"e" * 30
        store.check_index()


def test_blockstore_checksum_mismatch_names_the_block(tmp_path: Path) -> None:
    """A stored record whose bytes changed is reported with the block number, never silently returned."""
    payloads = _store(tmp_path, 4)
    segment = _segment(tmp_path)
    with BlockStore(tmp_path, read_only=True) as store:
        _, offset, length = store.location(2)
    data = bytearray(segment.read_bytes())
    data[offset + RECORD_HEADER.size + length // 2] ^= 0x40
    segment.write_bytes(bytes(data))
    with BlockStore(tmp_path) as store:
        assert store.height == 4
        with pytest.raises(BlockStoreError, match=r"^block 2: record checksum mismatch") as info:
            store.read(2)
        assert info.value.block == 2
        assert store.read(3) == payloads[3]
        with pytest.raises(BlockStoreError):
            list(store.iter())


def test_blockstore_damaged_marker_and_length(tmp_path: Path) -> None:
    """A damaged record marker or length field is reported for its block."""
    _store(tmp_path, 3)
    segment = _segment(tmp_path)
    with BlockStore(tmp_path, read_only=True) as store:
        (_, first, _), (_, second, _) = store.location(0), store.location(1)
    data = bytearray(segment.read_bytes())
    data[first] ^= 0xFF
    data[second + 4 : second + 8] = (999).to_bytes(4, "big")
    segment.write_bytes(bytes(data))
    with BlockStore(tmp_path, read_only=True) as store:
        with pytest.raises(BlockStoreError, match="block 0: record marker is damaged"):
            store.read(0)
        with pytest.raises(BlockStoreError, match=r"block 1: record length 999 disagrees with the index"):
            store.read(1)


def test_blockstore_missing_segment_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A segment file that disappeared is named when one of its blocks is read."""
    monkeypatch.setattr(blockstore, "SEGMENT_LIMIT", 100)
    with BlockStore(tmp_path, sync=False) as store:
        for n in range(6):
            store.append(bytes([65 + n]) * 30)
    _segment(tmp_path, 1).unlink()
    with BlockStore(tmp_path) as store:
        assert store.height == 6
        assert store.read(5) == b"F" * 30
        with pytest.raises(BlockStoreError, match=r"segment file segment-000001\.blk is missing"):
            store.read(2)


def test_blockstore_read_only_never_modifies(tmp_path: Path) -> None:
    """Opening read-only neither repairs a torn tail nor trims the index; appending is refused."""
    payloads = _store(tmp_path, 3)
    segment, index = _segment(tmp_path), tmp_path / "index"
    segment.write_bytes(segment.read_bytes() + RECORD_HEADER.pack(MAGIC, 50, 0) + b"torn")
    index.write_bytes(index.read_bytes() + b"\x00\x01\x02")
    before = _files(tmp_path)
    with BlockStore(tmp_path, read_only=True) as store:
        assert store.height == 3
        assert [store.read(n) for n in range(3)] == payloads
        store.check_index()
        with pytest.raises(BlockStoreError, match="read-only"):
            store.append(b"nope")
    assert _files(tmp_path) == before
    missing = tmp_path / "missing"
    with pytest.raises(BlockStoreError, match="no block store at"):
        BlockStore(missing, read_only=True)
    assert not missing.exists()


def test_blockstore_check_index_detects_bad_entry(tmp_path: Path) -> None:
    """An index entry that points to the wrong place is found by check_index, naming the block."""
    _store(tmp_path, 5)
    index = tmp_path / "index"
    data = bytearray(index.read_bytes())
    segment, offset, length = INDEX_ENTRY.unpack_from(data, 2 * INDEX_ENTRY.size)
    INDEX_ENTRY.pack_into(data, 2 * INDEX_ENTRY.size, segment, offset + 1, length)
    index.write_bytes(bytes(data))
    with BlockStore(tmp_path, read_only=True) as store:
        with pytest.raises(BlockStoreError, match="block 2: index entry points to the wrong place") as info:
            store.check_index()
        assert info.value.block == 2
        with pytest.raises(BlockStoreError, match="block 2"):
            store.read(2)


@pytest.mark.parametrize("damage", ["offset", "length"])
def test_blockstore_damaged_last_index_entry_loses_no_block(tmp_path: Path, damage: str) -> None:
    """A damaged last index entry is reported or rebuilt from the segments; no stored record is cut off."""
    payloads = _store(tmp_path, 3)
    segment, index = _segment(tmp_path), tmp_path / "index"
    intact = segment.read_bytes()
    data = bytearray(index.read_bytes())
    number, offset, length = INDEX_ENTRY.unpack_from(data, 2 * INDEX_ENTRY.size)
    changed = (number, 0, length) if damage == "offset" else (number, offset, length - 7)
    INDEX_ENTRY.pack_into(data, 2 * INDEX_ENTRY.size, *changed)
    index.write_bytes(bytes(data))
    try:
        store = BlockStore(tmp_path)
    except BlockStoreError:
        assert segment.read_bytes() == intact  # refusing to open is fine, cutting records is not
        return
    with store:
        assert segment.read_bytes() == intact
        assert store.height == 3
        assert [store.read(n) for n in range(3)] == payloads


# -- state database ------------------------------------------------------------------------------------------

NS = "assets"


def _docs() -> dict[str, dict[str, Any]]:
    return {
        "a1": {"docType": "asset", "owner": "alice", "size": 5, "origin": {"port": "Busan"}, "tags": ["cold", "fish"]},
        "a2": {"docType": "asset", "owner": "bob", "size": 12, "origin": {"port": "Incheon"}, "tags": ["dry"]},
        "a3": {"docType": "asset", "owner": "carol", "size": 8, "flag": True},
        "a4": {"docType": "asset", "owner": "alice", "size": 20, "note": None},
        "b1": {"docType": "bill", "owner": "bob", "amount": 7.5},
    }


@pytest.fixture
def db(tmp_path: Path) -> Iterator[StateDB]:
    """A state database with five documents written in block 1 and one in another namespace."""
    state = StateDB(tmp_path / "state.sqlite")
    batch = UpdateBatch(height=2)
    for tx, (key, doc) in enumerate(sorted(_docs().items())):
        value = canonical_json(doc)
        batch.state[(NS, key)] = KeyWrite(value, Version(1, tx))
        batch.history.append(HistoryRecord(NS, key, 1, tx, f"tx{tx}", value, 1000 + tx))
        batch.txids.append(TxIdRecord(f"tx{tx}", 1, tx, 0))
    batch.state[("other", "a1")] = KeyWrite(canonical_json({"owner": "zed"}), Version(1, 9))
    state.apply(batch)
    try:
        yield state
    finally:
        state.close()


def _keys(rows: list[tuple[str, Any]]) -> list[str]:
    return [key for key, _ in rows]


def test_statedb_apply_get_range_count(db: StateDB) -> None:
    """Applied writes are readable with their versions; ranges are ordered, bounded and limited."""
    assert db.height == 2
    got = db.get(NS, "a2")
    assert got is not None
    assert got.value == canonical_json(_docs()["a2"])
    assert got.version == Version(1, 1)
    assert db.get(NS, "zz") is None
    assert db.get("nowhere", "a1") is None
    assert db.get_version(NS, "b1") == Version(1, 4)
    assert db.get_version(NS, "zz") is None
    assert _keys(db.range(NS, "a", "b")) == ["a1", "a2", "a3", "a4"]
    assert _keys(db.range(NS, "a2", "")) == ["a2", "a3", "a4", "b1"]
    assert _keys(db.range(NS, "a", "", limit=2)) == ["a1", "a2"]
    assert _keys(db.range(NS, "c", "")) == []
    assert db.count(NS) == 5
    assert db.count() == 6


def test_statedb_updates_deletes_and_history(db: StateDB) -> None:
    """A later block overwrites and deletes keys; history keeps every write newest first, deletes included."""
    batch = UpdateBatch(height=3)
    batch.state[(NS, "a1")] = KeyWrite(canonical_json({"owner": "dave"}), Version(2, 0))
    batch.state[(NS, "a2")] = KeyWrite(None, Version(2, 1))
    batch.history += [
        HistoryRecord(NS, "a1", 2, 0, "tx-b", canonical_json({"owner": "dave"}), 2000),
        HistoryRecord(NS, "a2", 2, 1, "tx-c", None, 2001),
    ]
    db.apply(batch)
    assert db.height == 3
    assert db.get_version(NS, "a1") == Version(2, 0)
    assert db.get(NS, "a2") is None
    assert db.count(NS) == 4
    history = db.history(NS, "a1")
    assert [(h.block, h.tx, h.tx_id) for h in history] == [(2, 0, "tx-b"), (1, 0, "tx0")]
    assert history[0].value == canonical_json({"owner": "dave"})
    assert history[1].timestamp_ms == 1000
    deleted = db.history(NS, "a2")
    assert [(h.tx_id, h.value) for h in deleted] == [("tx-c", None), ("tx1", canonical_json(_docs()["a2"]))]
    assert len(db.history(NS, "a1", limit=1)) == 1
    assert db.history(NS, "never") == []


def test_statedb_versions_and_tx_ids_in_bulk(tmp_path: Path) -> None:
    """versions() and tx_seen() answer for more keys than one SQL statement binds."""
    with_keys = StateDB(tmp_path / "s.sqlite")
    batch = UpdateBatch(height=1)
    for n in range(1000):
        batch.state[(NS, f"k{n:04d}")] = KeyWrite(b"1", Version(0, n))
        batch.txids.append(TxIdRecord(f"t{n}", 0, n, n % 2))
    with_keys.apply(batch)
    wanted = [(NS, f"k{n:04d}") for n in range(0, 1200, 3)] + [(NS, "k0000")]
    found = with_keys.versions(wanted)
    assert found == {(NS, f"k{n:04d}"): Version(0, n) for n in range(0, 1000, 3)}
    ids = [f"t{n}" for n in range(0, 1300, 2)]
    assert with_keys.tx_seen(ids) == {f"t{n}" for n in range(0, 1000, 2)}
    assert with_keys.tx_seen([]) == set()
    assert with_keys.tx_position("t7") == (0, 7, 1)
    assert with_keys.tx_position("nope") is None
    with_keys.close()


def test_statedb_apply_is_atomic(db: StateDB) -> None:
    """A batch that fails part-way changes nothing, not even the height."""
    before = list(db.digest_rows())
    batch = UpdateBatch(height=3)
    batch.state[(NS, "new")] = KeyWrite(b'{"x":1}', Version(2, 0))
    batch.txids.append(TxIdRecord("tx-new", 2, 0, 0))
    batch.history.append(HistoryRecord(NS, "new", 2, 0, "tx-new", "text, not bytes", 1))  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        db.apply(batch)
    assert db.height == 2
    assert db.get(NS, "new") is None
    assert list(db.digest_rows()) == before


def test_statedb_reopen_keeps_everything(tmp_path: Path) -> None:
    """Closing and reopening (also read-only) gives back the same rows and height."""
    state = StateDB(tmp_path / "s.sqlite")
    batch = UpdateBatch(height=4)
    batch.state[(NS, "k")] = KeyWrite(b'{"v":1}', Version(3, 2))
    batch.policies[(NS, "k")] = "AND('Org1.peer')"
    state.apply(batch)
    rows = list(state.digest_rows())
    state.close()
    for read_only in (False, True):
        again = StateDB(tmp_path / "s.sqlite", read_only=read_only)
        assert again.height == 4
        assert list(again.digest_rows()) == rows
        assert again.key_policy(NS, "k") == "AND('Org1.peer')"
        again.close()
    read_only_db = StateDB(tmp_path / "s.sqlite", read_only=True)
    with pytest.raises(RuntimeError, match="read-only"):
        read_only_db.apply(UpdateBatch(height=5))
    read_only_db.close()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"owner": "alice"}, ["a1", "a4"]),
        ({"selector": {"size": {"$gt": 8}}}, ["a2", "a4"]),
        ({"selector": {"size": {"$gte": 8, "$lt": 20}}}, ["a2", "a3"]),
        ({"selector": {"owner": {"$in": ["bob", "carol"]}}}, ["a2", "a3", "b1"]),
        ({"selector": {"owner": {"$nin": ["bob", "carol"]}}}, ["a1", "a4"]),
        ({"selector": {"owner": {"$ne": "alice"}, "docType": "asset"}}, ["a2", "a3"]),
        ({"selector": {"origin.port": {"$exists": True}}}, ["a1", "a2"]),
        ({"selector": {"origin": {"$exists": False}, "docType": "asset"}}, ["a3", "a4"]),
        ({"selector": {"note": None}}, ["a4"]),
        ({"selector": {"note": {"$exists": True}}}, ["a4"]),
        ({"selector": {"flag": True}}, ["a3"]),
        ({"selector": {"tags.0": "cold"}}, ["a1"]),
        ({"selector": {"origin.port": "Incheon"}}, ["a2"]),
        ({"selector": {"amount": {"$lt": 8}}}, ["b1"]),
        ({"selector": {"$or": [{"owner": "carol"}, {"size": {"$gt": 15}}]}}, ["a3", "a4"]),
        ({"selector": {"$and": [{"owner": "alice"}, {"size": {"$lt": 10}}]}}, ["a1"]),
        ({"selector": {"$nor": [{"owner": "alice"}, {"docType": "bill"}]}}, ["a2", "a3"]),
        ({"selector": {"docType": "asset"}, "sort": [{"size": "desc"}]}, ["a4", "a2", "a3", "a1"]),
        ({"selector": {"docType": "asset"}, "sort": ["owner", {"size": "desc"}]}, ["a4", "a1", "a2", "a3"]),
        ({"selector": {"docType": "asset"}, "sort": [{"size": "asc"}], "limit": 2}, ["a1", "a3"]),
        ({"selector": {}}, ["a1", "a2", "a3", "a4", "b1"]),
        ({}, ["a1", "a2", "a3", "a4", "b1"]),
        ({"owner": "zed"}, []),
    ],
)
def test_statedb_rich_queries(db: StateDB, query: dict[str, Any], expected: list[str]) -> None:
    """Selectors, operators, nesting, sorting and limits select the right documents of the namespace only."""
    assert _keys(db.query(NS, query)) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ([1, 2], "a query must be a JSON object, got list"),
        ({"selector": "owner"}, "a selector must be a JSON object, got str"),
        ({"selector": {}, "fields": ["a"]}, "unknown query member(s) ['fields']"),
        ({"owner": {"$regex": "^a"}}, "unknown operator '$regex'"),
        ({"owner": {}}, "empty condition object"),
        ({"owner": {"$in": "alice"}}, "$in needs a non-empty list"),
        ({"owner": {"$nin": []}}, "$nin needs a non-empty list"),
        ({"owner": {"$exists": "yes"}}, "$exists needs true or false"),
        ({"owner": {"$eq": {"nested": 1}}}, "only strings, numbers, booleans and null can be compared, got dict"),
        ({"owner": ["alice"]}, "got list"),
        ({"$where": "1"}, "unknown top-level operator '$where'"),
        ({"$or": []}, "$or needs a non-empty list of selectors"),
        ({"$and": [1]}, "a selector must be a JSON object, got int"),
        ({"bad field": 1}, "invalid field name 'bad field'"),
        ({"a..b": 1}, "invalid field name"),
        ({"1abc": 1}, "invalid field name"),
        ({"a'); DROP TABLE state; --": 1}, "invalid field name"),
        ({"a') OR 1=1 --": {"$exists": True}}, "invalid field name"),
        ({"selector": {}, "sort": ["a'); DROP TABLE state; --"]}, "invalid field name"),
        ({"selector": {}, "sort": [{"size": "sideways"}]}, "sort direction for 'size' must be 'asc' or 'desc'"),
        ({"selector": {}, "sort": [{"size": "asc", "owner": "asc"}]}, "each sort item must be"),
        ({"selector": {}, "sort": "size"}, "sort must be a list"),
        ({"selector": {}, "limit": 0}, f"limit must be an integer from 1 to {MAX_LIMIT}"),
        ({"selector": {}, "limit": MAX_LIMIT + 1}, "limit must be an integer"),
        ({"selector": {}, "limit": True}, "limit must be an integer"),
        ({"selector": {}, "limit": 2.5}, "limit must be an integer"),
    ],
)
def test_statedb_bad_queries_are_refused(db: StateDB, query: Any, message: str) -> None:
    """A bad selector raises QueryError (a ValueError) saying what is wrong, and the table is intact."""
    rows = list(db.digest_rows())
    with pytest.raises(QueryError) as info:
        db.query(NS, query)
    assert isinstance(info.value, ValueError)
    assert message in str(info.value)
    assert list(db.digest_rows()) == rows


def test_statedb_injection_in_values_is_just_data(db: StateDB) -> None:
    """SQL in a compared value is a bound parameter: it matches nothing and harms nothing."""
    for value in ("x'); DROP TABLE state; --", "' OR '1'='1", "alice' --"):
        assert db.query(NS, {"owner": value}) == []
        assert db.query(NS, {"owner": {"$in": [value, "bob"]}}) == db.query(NS, {"owner": "bob"})
    assert db.count(NS) == 5


def test_compiled_queries_never_contain_field_text_outside_a_json_path() -> None:
    """Values never appear in the SQL; only validated field names do, inside json_extract paths."""
    compiled = compile_query({"selector": {"owner": "x' OR 1=1", "size": {"$in": [1, 2]}}, "sort": ["size"]})
    assert "x' OR" not in compiled.where
    assert compiled.params == ("x' OR 1=1", 1, 2)
    assert compiled.where.count("?") == 3
    assert "json_extract(value, '$.size')" in compiled.order_by


def test_statedb_out_of_range_integer_is_a_query_error(db: StateDB) -> None:
    """A JSON integer SQLite cannot bind (beyond 64 bits) is refused as a QueryError, not an OverflowError."""
    with pytest.raises(QueryError):
        db.query(NS, {"size": {"$gt": 2**64}})
    with pytest.raises(QueryError):
        db.query(NS, {"size": {"$in": [1, -(2**70)]}})


def test_statedb_non_string_field_name_is_a_query_error(db: StateDB) -> None:
    """A selector built in Python with a non-string key is refused as a QueryError."""
    with pytest.raises(QueryError, match="1"):
        db.query(NS, {1: "alice"})


def _write(db: StateDB, height: int, key: str, value: dict[str, Any]) -> None:
    batch = UpdateBatch(height=height)
    batch.state[(NS, key)] = KeyWrite(canonical_json(value), Version(height - 1, 0))
    db.apply(batch)


def test_statedb_snapshot_isolation(db: StateDB) -> None:
    """A snapshot that has read keeps seeing its state after an apply; a new snapshot sees the apply."""
    with db.snapshot():
        assert db.height == 2
        first = db.get(NS, "a1")
        _write(db, 3, "a1", {"owner": "eve"})
        _write(db, 4, "zz", {"owner": "eve"})
        assert db.get(NS, "a1") == first
        assert db.get(NS, "zz") is None
        assert db.height == 2
        assert _keys(db.query(NS, {"owner": "eve"})) == []
    assert db.height == 4
    with db.snapshot():
        assert db.height == 4
        assert _keys(db.query(NS, {"owner": "eve"})) == ["a1", "zz"]
    assert db.get(NS, "zz") is not None


def test_statedb_snapshot_is_per_thread(db: StateDB) -> None:
    """Another thread's reads during a snapshot see the latest applied state, not the snapshot."""
    seen: list[Any] = []
    with db.snapshot():
        assert db.get(NS, "zz") is None
        _write(db, 3, "zz", {"owner": "eve"})
        thread = threading.Thread(target=lambda: seen.append(db.get(NS, "zz")))
        thread.start()
        thread.join()
        assert db.get(NS, "zz") is None
    assert seen[0] is not None
    assert seen[0].version == Version(2, 0)


def test_statedb_transient_rows(db: StateDB) -> None:
    """Transient private data is kept per transaction until dropped by age."""
    db.put_transient("t1", NS, "coll", b"one", 100)
    db.put_transient("t2", NS, "coll", b"two", 300)
    assert db.get_transient("t1") == [(NS, "coll", b"one")]
    assert db.drop_transient_before(200) == 1
    assert db.get_transient("t1") == []
    assert db.get_transient("t2") == [(NS, "coll", b"two")]


# -- ledger history alignment --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def orderer() -> SigningIdentity:
    """An orderer identity to sign test blocks with."""
    return CertificateAuthority.create("OrdererOrg").issue("orderer0", Kind.ORDERER)


def _fill_ledger(directory: Path, orderer: SigningIdentity, blocks: int) -> list[BlockHeader]:
    """Append ``blocks`` blocks of 1..5 envelopes to a new ledger; return their headers."""
    ledger = ChannelLedger(directory, sync=False)
    previous: BlockHeader | None = None
    history = CompactRange()
    headers = []
    for number in range(blocks):
        envelopes = [f"envelope {number}.{i}".encode() for i in range(1 + number % 5)]
        block, history = make_block("ch", number, previous, history, envelopes, orderer, 1000 + number)
        ledger.append(encode(block), block, bytes(len(envelopes)), UpdateBatch(height=number + 1))
        headers.append(block.header)
        previous = block.header
    ledger.close()
    return headers


def _assert_history_matches(directory: Path, headers: list[BlockHeader]) -> None:
    """Reopen the ledger and check every header's history root against the tree."""
    ledger = ChannelLedger(directory)
    try:
        assert ledger.history is not None
        assert ledger.height == len(headers)
        assert ledger.history.size == headers[-1].history_size
        for header in headers:
            assert ledger.history.root(header.history_size) == header.history_root
        assert ledger.history_range().root() == headers[-1].history_root
    finally:
        ledger.close()


def _level(directory: Path, level: int) -> Path:
    return directory / "history" / f"level-{level:02d}.hashes"


def test_ledger_append_reopen(tmp_path: Path, orderer: SigningIdentity) -> None:
    """A ledger reopens with its blocks, header and history intact."""
    headers = _fill_ledger(tmp_path, orderer, 9)
    _assert_history_matches(tmp_path, headers)
    ledger = ChannelLedger(tmp_path)
    try:
        assert ledger.last_header == headers[-1]
        assert ledger.block(4).header == headers[4]
        assert ledger.record(4).codes == bytes(5)
        block = ledger.block(8)
        with pytest.raises(LedgerError, match="block 8 is not the next block"):
            ledger.append(encode(block), block, b"", UpdateBatch(height=9))
        assert ledger.height == 9
    finally:
        ledger.close()


@pytest.mark.parametrize(
    "damage",
    ["delete-directory", "delete-upper-levels", "truncate-leaves", "torn-leaf", "empty-leaves"],
)
def test_ledger_restores_history_after_loss(tmp_path: Path, orderer: SigningIdentity, damage: str) -> None:
    """History files cut short or deleted are rebuilt from the blocks to match every header."""
    headers = _fill_ledger(tmp_path, orderer, 12)
    leaves = _level(tmp_path, 0)
    if damage == "delete-directory":
        for path in (tmp_path / "history").iterdir():
            path.unlink()
        (tmp_path / "history").rmdir()
    elif damage == "delete-upper-levels":
        for path in (tmp_path / "history").glob("level-*.hashes"):
            if path != leaves:
                path.unlink()
    elif damage == "truncate-leaves":
        leaves.write_bytes(leaves.read_bytes()[: 32 * 7])
    elif damage == "torn-leaf":
        leaves.write_bytes(leaves.read_bytes()[:-13])
    else:
        leaves.write_bytes(b"")
    _assert_history_matches(tmp_path, headers)


@pytest.mark.parametrize("level", [0, 1, 2])
def test_ledger_rebuilds_tampered_history(tmp_path: Path, orderer: SigningIdentity, level: int) -> None:
    """A history record whose bytes changed (same size) is detected against the signed headers and rebuilt."""
    headers = _fill_ledger(tmp_path, orderer, 12)
    path = _level(tmp_path, level)
    data = bytearray(path.read_bytes())
    data[len(data) - 32] ^= 0x01
    path.write_bytes(bytes(data))
    _assert_history_matches(tmp_path, headers)


def test_ledger_cuts_history_ahead_of_blocks(tmp_path: Path, orderer: SigningIdentity) -> None:
    """Leaves beyond the last stored block (a crash after the history write) are cut on opening."""
    headers = _fill_ledger(tmp_path, orderer, 6)
    with HistoryTree(tmp_path / "history") as tree:
        tree.append([hashlib.sha256(b"stray").digest()] * 3)
    _assert_history_matches(tmp_path, headers)


def test_ledger_history_follows_a_lost_last_block(tmp_path: Path, orderer: SigningIdentity) -> None:
    """If the disk lost the last block record, the history tree is cut back to the previous header."""
    headers = _fill_ledger(tmp_path, orderer, 6)
    segment = tmp_path / "blocks" / "segment-000000.blk"
    with BlockStore(tmp_path / "blocks", read_only=True) as store:
        _, offset, _ = store.location(5)
    with open(segment, "r+b") as handle:
        handle.truncate(offset + RECORD_HEADER.size + 3)
    ledger = ChannelLedger(tmp_path)
    try:
        assert ledger.stored_height == 5
        assert ledger.last_header == headers[4]
        assert ledger.history is not None
        assert ledger.history.size == headers[4].history_size
        assert ledger.history.root() == headers[4].history_root
    finally:
        ledger.close()


def test_ledger_read_only_touches_nothing(tmp_path: Path, orderer: SigningIdentity) -> None:
    """A read-only ledger reads blocks but refuses to append and leaves the history files alone."""
    headers = _fill_ledger(tmp_path, orderer, 4)
    leaves = _level(tmp_path, 0)
    leaves.write_bytes(leaves.read_bytes()[:32])
    before = {p: p.read_bytes() for p in (tmp_path / "history").iterdir()}
    before_blocks = _files(tmp_path / "blocks")
    ledger = ChannelLedger(tmp_path, read_only=True)
    try:
        assert ledger.history is None
        assert ledger.block(3).header == headers[3]
        block = ledger.block(3)
        with pytest.raises(LedgerError, match="read-only"):
            ledger.append(encode(block), block, b"", UpdateBatch(height=5))
        with pytest.raises(LedgerError, match="history tree is not open"):
            ledger.history_range()
    finally:
        ledger.close()
    assert {p: p.read_bytes() for p in (tmp_path / "history").iterdir()} == before
    assert _files(tmp_path / "blocks") == before_blocks


def test_ledger_reports_an_unreadable_record(tmp_path: Path, orderer: SigningIdentity) -> None:
    """A last block record that is intact on disk but not a block record is a LedgerError naming the block."""
    _fill_ledger(tmp_path, orderer, 2)
    with BlockStore(tmp_path / "blocks") as store:
        store.append(b"\x92not a record")
    for read_only in (True, False):
        with pytest.raises(LedgerError, match=r"^block 2: malformed BlockRecord"):
            ChannelLedger(tmp_path, read_only=read_only)
    with BlockStore(tmp_path / "blocks", read_only=True) as store:
        assert store.height == 3


def test_peer_refuses_a_reindexed_record_that_does_not_chain(tmp_path: Path) -> None:
    """A record found beyond the index after a crash is adopted only if it is the next block, signed by the orderer."""
    from conftest import ASSET_TRANSFER, three_org_spec
    from consortia.contracts.registry import ContractRegistry
    from consortia.network.bootstrap import genesis_path, peer_dir
    from consortia.network.embedded import EmbeddedNetwork
    from consortia.peer.channel import PeerChannel

    folder = tmp_path / "net"
    network = EmbeddedNetwork.create(folder, three_org_spec())
    network.deploy("ch1", ASSET_TRANSFER, policy="AND('Org1.peer','Org2.peer')")
    network.close()
    channel_dir = folder / "peers" / "Org3.peer0" / "ch1"
    blocks = channel_dir / "blocks"
    index = (blocks / "index").read_bytes()
    segment, offset, length = INDEX_ENTRY.unpack_from(index, len(index) - INDEX_ENTRY.size)
    segment_file = blocks / f"segment-{segment:06d}.blk"
    # A replayed copy of the last block record, appended without an index entry: CRC-valid, but not the next block.
    record = segment_file.read_bytes()[offset : offset + RECORD_HEADER.size + length]
    with open(segment_file, "ab") as handle:
        handle.write(record)
    genesis = genesis_path(folder, "ch1").read_bytes()
    identity = SigningIdentity.load(peer_dir(folder, "Org3"))
    for _ in range(2):  # refused again on the next start: the refusal does not index the record
        with pytest.raises(LedgerError, match="refusing to adopt"):
            PeerChannel("ch1", identity, channel_dir, ContractRegistry(), genesis)
    assert (blocks / "index").read_bytes() == index


def test_orderer_refuses_a_reindexed_record_that_does_not_chain(tmp_path: Path) -> None:
    """The solo orderer, too, adopts a record found beyond its index only if it is the next signed block."""
    from conftest import three_org_spec
    from consortia.network.bootstrap import orderer_dir
    from consortia.network.embedded import EmbeddedNetwork
    from consortia.ordering.base import OrderingError
    from consortia.ordering.solo import SoloOrderer

    folder = tmp_path / "net"
    EmbeddedNetwork.create(folder, three_org_spec()).close()
    blocks = folder / "orderer" / "ch1" / "blocks"
    index = (blocks / "index").read_bytes()
    segment, offset, length = INDEX_ENTRY.unpack_from(index, len(index) - INDEX_ENTRY.size)
    segment_file = blocks / f"segment-{segment:06d}.blk"
    record = segment_file.read_bytes()[offset : offset + RECORD_HEADER.size + length]
    with open(segment_file, "ab") as handle:
        handle.write(record)
    identity = SigningIdentity.load(orderer_dir(folder, "OrdererOrg"))
    with pytest.raises(OrderingError, match="refusing to adopt"):
        SoloOrderer(identity, folder / "orderer")
    assert (blocks / "index").read_bytes() == index


@pytest.mark.parametrize("sync", [True, False])
def test_peer_sync_setting_reaches_its_block_stores(tmp_path: Path, sync: bool) -> None:
    """Peer(sync=...) is passed to every channel's block store, opened or joined later (it used to be dropped)."""
    from conftest import three_org_spec
    from consortia.network.bootstrap import create_network, genesis_path, peer_dir
    from consortia.peer.peer import Peer

    folder = tmp_path / "net"
    create_network(folder, three_org_spec())
    identity = SigningIdentity.load(peer_dir(folder, "Org2"))
    genesis = {"ch1": genesis_path(folder, "ch1").read_bytes()}
    peer = Peer(identity, tmp_path / "peer", genesis=genesis, sync=sync)
    try:
        peer.join(genesis_path(folder, "ch2").read_bytes(), "ch2")
        assert [peer.channel(name).ledger.blocks.sync for name in ("ch1", "ch2")] == [sync, sync]
    finally:
        peer.close()
    reopened = Peer(identity, tmp_path / "peer", sync=sync)
    try:
        assert sorted(reopened.channels) == ["ch1", "ch2"]
        assert all(channel.ledger.blocks.sync is sync for channel in reopened.channels.values())
    finally:
        reopened.close()
