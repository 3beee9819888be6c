"""Tests for the on-disk history tree: agreement with ``merkle`` at every size, reopening, crash repair."""

import os
import random
from pathlib import Path

import pytest

from consortia.ledger import history, merkle
from consortia.ledger.history import HistoryTree
from consortia.ledger.merkle import EMPTY_ROOT, HASH_SIZE, leaf_hash


def _leaves(count: int, start: int = 0) -> list[bytes]:
    return [leaf_hash(i.to_bytes(8, "big")) for i in range(start, start + count)]


def _level_file(directory: Path, level: int) -> Path:
    return directory / f"level-{level:02d}.hashes"


def _spread(size: int) -> list[int]:
    """All of 0..size-1 for small sizes; otherwise the edges, the powers of two and a stride."""
    if size <= 80:
        return list(range(size))
    picks = {0, 1, size // 2, size - 2, size - 1} | {1 << k for k in range(size.bit_length())}
    return sorted(i for i in picks | set(range(3, size, 23)) if i < size)


def _assert_matches(tree: HistoryTree, leaves: list[bytes], sizes: list[int]) -> None:
    """Check roots, inclusion and consistency proofs at each size against merkle.py."""
    assert tree.size == len(leaves)
    for size in sizes:
        prefix = leaves[:size]
        assert tree.root(size) == merkle.root(prefix)
        for index in _spread(size):
            assert tree.inclusion_proof(index, size) == merkle.inclusion_proof(prefix, index)
        for size1 in [*_spread(size), size]:
            assert tree.consistency_proof(size1, size) == merkle.consistency_proof(prefix, size1, size)


def test_empty_tree(tmp_path: Path) -> None:
    with HistoryTree(tmp_path / "h") as tree:
        assert tree.size == 0
        assert tree.root() == EMPTY_ROOT
        assert tree.consistency_proof(0) == []
        tree.append([])
        assert tree.size == 0
        with pytest.raises(ValueError):
            tree.inclusion_proof(0)
    with HistoryTree(tmp_path / "h") as tree:
        assert tree.size == 0


def test_every_size_matches_merkle(tmp_path: Path) -> None:
    rng = random.Random(7)
    leaves = _leaves(300)
    roots = [merkle.root(leaves[:n]) for n in range(301)]
    with HistoryTree(tmp_path) as tree:
        size = 0
        while size < len(leaves):
            chunk = rng.choice([1, 1, 2, 3, 5, 8, 13, 31, 64])
            tree.append(leaves[size : size + chunk])
            size = min(size + chunk, len(leaves))
            # Leave some records buffered and some on disk, so reads cross both.
            if rng.random() < 0.3:
                tree.flush(sync=rng.random() < 0.5)
            assert tree.size == size
            assert tree.root() == roots[size]
        for n in range(301):
            assert tree.root(n) == roots[n]
        assert [tree.leaf(i) for i in range(300)] == leaves
        compact = tree.compact_range(77)
        assert compact.size == 77
        assert compact.root() == roots[77]


def test_proofs_match_merkle(tmp_path: Path) -> None:
    leaves = _leaves(300)
    sizes = [1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 63, 64, 65, 80, 100, 255, 256, 257, 300]
    with HistoryTree(tmp_path) as tree:
        tree.append(leaves[:150])
        tree.flush()
        tree.append(leaves[150:])
        for size in sizes:
            prefix = leaves[:size]
            for index in range(size):
                assert tree.inclusion_proof(index, size) == merkle.inclusion_proof(prefix, index)
            for size1 in range(size + 1):
                assert tree.consistency_proof(size1, size) == merkle.consistency_proof(prefix, size1, size)
        for index in (0, 99, 299):
            proof = tree.inclusion_proof(index)
            assert merkle.verify_inclusion(leaves[index], index, 300, proof, tree.root())
        for size1 in (1, 17, 150, 256):
            proof = tree.consistency_proof(size1)
            assert merkle.verify_consistency(size1, 300, proof, tree.root(size1), tree.root())


def test_arguments_out_of_range(tmp_path: Path) -> None:
    with HistoryTree(tmp_path) as tree:
        tree.append(_leaves(10))
        for call in (
            lambda: tree.root(11),
            lambda: tree.root(-1),
            lambda: tree.leaf(10),
            lambda: tree.leaf(-1),
            lambda: tree.inclusion_proof(10),
            lambda: tree.inclusion_proof(5, 5),
            lambda: tree.inclusion_proof(0, 11),
            lambda: tree.consistency_proof(11),
            lambda: tree.consistency_proof(6, 5),
            lambda: tree.consistency_proof(1, 11),
            lambda: tree.truncate(11),
            lambda: tree.append([b"short"]),
            lambda: tree.append(["x" * 32]),  # type: ignore[list-item]
        ):
            with pytest.raises(ValueError):
                call()
        assert tree.size == 10


def test_reopen_gives_same_tree(tmp_path: Path) -> None:
    leaves = _leaves(1000)
    with HistoryTree(tmp_path) as tree:
        for start in range(0, 1000, 37):
            tree.append(leaves[start : start + 37])
        roots = [tree.root(n) for n in range(1001)]
    # Closing flushed the buffered records.
    with HistoryTree(tmp_path) as tree:
        assert tree.size == 1000
        assert [tree.root(n) for n in range(1001)] == roots
        assert tree.inclusion_proof(513, 777) == merkle.inclusion_proof(leaves[:777], 513)
        assert tree.consistency_proof(300, 999) == merkle.consistency_proof(leaves, 300, 999)
        tree.append(_leaves(5, start=1000))
    with HistoryTree(tmp_path) as tree:
        assert tree.root() == merkle.root(leaves + _leaves(5, start=1000))


def test_level_files_hold_two_n_records(tmp_path: Path) -> None:
    with HistoryTree(tmp_path) as tree:
        tree.append(_leaves(1000))
    sizes = {path.name: path.stat().st_size for path in tmp_path.iterdir() if path.suffix == ".hashes"}
    assert sizes == {_level_file(tmp_path, k).name: (1000 >> k) * 32 for k in range(10)}


def test_second_opener_is_refused(tmp_path: Path) -> None:
    with HistoryTree(tmp_path), pytest.raises(RuntimeError):
        HistoryTree(tmp_path)
    HistoryTree(tmp_path).close()


def test_closed_tree_refuses_use(tmp_path: Path) -> None:
    tree = HistoryTree(tmp_path)
    tree.close()
    tree.close()
    with pytest.raises(ValueError):
        tree.root()
    with pytest.raises(ValueError):
        tree.append(_leaves(1))


@pytest.mark.parametrize("flushed", [True, False], ids=["flushed", "buffered"])
def test_truncate_then_append(tmp_path: Path, flushed: bool) -> None:
    leaves = _leaves(200)
    replacement = _leaves(60, start=10_000)
    with HistoryTree(tmp_path) as tree:
        tree.append(leaves[:120])
        if flushed:
            tree.flush()
        tree.append(leaves[120:])
        for cut in (199, 150, 121, 77):
            tree.truncate(cut)
            assert tree.size == cut
            assert tree.root() == merkle.root(leaves[:cut])
        tree.append(replacement)
        expected = leaves[:77] + replacement
        _assert_matches(tree, expected, [137, 100, 77, 64, 1])
        tree.truncate(0)
        assert tree.root() == EMPTY_ROOT
        tree.append(replacement)
        tree.truncate(33)
    with HistoryTree(tmp_path) as tree:
        assert tree.size == 33
        assert tree.root() == merkle.root(replacement[:33])
    assert sorted(p.name for p in tmp_path.iterdir()) == [_level_file(tmp_path, k).name for k in range(6)]


@pytest.mark.parametrize("damage", ["delete", "shorten", "lengthen", "tail", "all"])
def test_upper_levels_are_repaired_on_open(tmp_path: Path, damage: str) -> None:
    leaves = _leaves(777)
    with HistoryTree(tmp_path) as tree:
        tree.append(leaves)
    level3 = _level_file(tmp_path, 3)
    if damage == "delete":
        level3.unlink()
    elif damage == "shorten":
        os.truncate(level3, 30 * 32 + 5)
    elif damage == "lengthen":
        with level3.open("ab") as f:
            f.write(os.urandom(3 * 32 + 7))
        with _level_file(tmp_path, 11).open("wb") as f:
            f.write(os.urandom(64))
    elif damage == "tail":
        with level3.open("r+b") as f:
            f.seek(-32, os.SEEK_END)
            f.write(os.urandom(32))
    else:
        for level in range(1, 10):
            _level_file(tmp_path, level).unlink()
    with HistoryTree(tmp_path) as tree:
        assert tree.size == 777
        _assert_matches(tree, leaves, [777, 700, 512, 97])
    assert level3.stat().st_size == (777 >> 3) * 32
    assert not _level_file(tmp_path, 11).exists()


def test_partial_trailing_leaf_is_ignored(tmp_path: Path) -> None:
    leaves = _leaves(100)
    with HistoryTree(tmp_path) as tree:
        tree.append(leaves)
    with _level_file(tmp_path, 0).open("ab") as f:
        f.write(b"\xab" * 17)  # a torn append
    with HistoryTree(tmp_path) as tree:
        assert tree.size == 100
        assert tree.root() == merkle.root(leaves)
        more = _leaves(30, start=100)
        tree.append(more)
        _assert_matches(tree, leaves + more, [130, 101])
    with HistoryTree(tmp_path) as tree:
        assert tree.root() == merkle.root(leaves + more)


def test_lost_upper_levels_after_crash_mid_flush(tmp_path: Path) -> None:
    # Level 0 reached the disk but the levels above did not.
    leaves = _leaves(500)
    with HistoryTree(tmp_path) as tree:
        tree.append(leaves[:300])
    for level in range(1, 9):
        path = _level_file(tmp_path, level)
        if path.exists():
            os.truncate(path, 0)
    with _level_file(tmp_path, 0).open("ab") as f:
        f.write(b"".join(leaves[300:]))
    with HistoryTree(tmp_path) as tree:
        _assert_matches(tree, leaves, [500, 301, 300, 256])


def test_auto_write_keeps_reads_consistent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "AUTO_WRITE_BYTES", 1000)
    leaves = _leaves(300)
    with HistoryTree(tmp_path) as tree:
        for start in range(0, 300, 7):
            tree.append(leaves[start : start + 7])
        assert _level_file(tmp_path, 0).stat().st_size > 0
        _assert_matches(tree, leaves, [300, 129])


def test_large_tree(tmp_path: Path) -> None:
    count = 200_000
    leaves = _leaves(count)
    with HistoryTree(tmp_path) as tree:
        for start in range(0, count, 1000):
            tree.append(leaves[start : start + 1000])
            if start % 50_000 == 0:
                tree.flush(sync=False)
        full_root = merkle.root(leaves)
        assert tree.root() == full_root
        for index in (0, 1, 65_535, 65_536, 123_457, count - 1):
            proof = tree.inclusion_proof(index)
            assert merkle.verify_inclusion(leaves[index], index, count, proof, full_root)
        proof = tree.consistency_proof(131_073)
        assert merkle.verify_consistency(131_073, count, proof, tree.root(131_073), full_root)
    with HistoryTree(tmp_path) as tree:
        assert tree.compact_range().root() == full_root


def test_a_read_only_view_beside_the_writer_matches_merkle(tmp_path: Path) -> None:
    """A reader opens the tree while its owner has it open (no lock), sees what was flushed, and proves alike."""
    leaves = _leaves(300)
    with HistoryTree(tmp_path) as writer:
        writer.append(leaves[:200])
        writer.flush(sync=False)
        with HistoryTree(tmp_path, read_only=True) as reader:
            _assert_matches(reader, leaves[:200], [1, 2, 3, 64, 127, 200])
            writer.append(leaves[200:])  # buffered, not yet written: the reader still sees 200
            assert reader.size == 200
            with pytest.raises(ValueError, match="read-only"):
                reader.append(leaves[:1])
        writer.flush(sync=False)
        with HistoryTree(tmp_path, read_only=True) as reader:
            _assert_matches(reader, leaves, [255, 256, 300])


def test_a_read_only_view_recomputes_records_not_written_yet(tmp_path: Path) -> None:
    """Upper-level records missing on disk (a writer midway) are recomputed from the level below, not guessed."""
    leaves = _leaves(97)
    with HistoryTree(tmp_path) as writer:
        writer.append(leaves)
    for level in (2, 3):
        with open(_level_file(tmp_path, level), "r+b") as file:
            file.truncate(HASH_SIZE * 1 + 7)  # one whole record and a torn one
    os.remove(_level_file(tmp_path, 5))
    with HistoryTree(tmp_path, read_only=True) as reader:
        _assert_matches(reader, leaves, [1, 33, 64, 96, 97])
    with pytest.raises(FileNotFoundError):
        HistoryTree(tmp_path / "nothing-here", read_only=True)
