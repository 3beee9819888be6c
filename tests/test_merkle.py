"""Tests for the RFC 9162 Merkle tree: shared test vectors, a reference implementation and tampered proofs."""

import base64
import functools
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from consortia.ledger import merkle
from consortia.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parents[1].parent / "shared/testvectors/rfc9162"
VECTOR_FILES = sorted(VECTORS.rglob("*.json"))
MAX_N = 70


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _proof(case: dict[str, Any]) -> list[bytes]:
    return [_b64(p) for p in case["proof"] or []]


def reference_root(leaf_hashes: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 §2.1.1 defines it, recursively."""
    n = len(leaf_hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + reference_root(leaf_hashes[:k]) + reference_root(leaf_hashes[k:])).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@functools.cache
def inclusion_shape(index: int, size: int) -> tuple[str, ...]:
    """Sides of the siblings on PATH(index, D[size]), leaf first (RFC 9162 §2.1.3.1, recursively)."""
    if size == 1:
        return ()
    k = _split(size)
    if index < k:
        return (*inclusion_shape(index, k), "right")
    return (*inclusion_shape(index - k, size - k), "left")


def consistency_shape(size1: int, size2: int) -> tuple[bool, list[str]]:
    """Whether PROOF(size1, D[size2]) omits the old root, and the sides of its other nodes."""

    def subproof(m: int, n: int, complete: bool) -> tuple[bool, list[str]]:
        if m == n:
            return (True, []) if complete else (False, ["seed"])
        k = _split(n)
        if m <= k:
            omitted, sides = subproof(m, k, complete)
            return omitted, [*sides, "right"]
        omitted, sides = subproof(m - k, n - k, False)
        return omitted, [*sides, "left"]

    return subproof(size1, size2, True)


def _leaves(count: int, seed: int = 0) -> list[bytes]:
    # Distinct leaves: a tampered proof might otherwise pick out an equal twin.
    rng = random.Random(seed)
    return [leaf_hash(i.to_bytes(4, "big") + rng.randbytes(rng.randrange(0, 40))) for i in range(count)]


def _flip_bit(value: bytes, rng: random.Random) -> bytes:
    bit = rng.randrange(len(value) * 8)
    flipped = bytearray(value)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def _tampered_proofs(proof: list[bytes], rng: random.Random) -> list[list[bytes]]:
    """Every proof here differs from `proof` by one flipped bit, a missing element or an extra one."""
    extra = rng.randbytes(32)
    variants = [[extra, *proof], [*proof, extra]]
    if proof:
        variants += [proof[1:], proof[:-1], [*proof, proof[-1]], [proof[0], *proof]]
        for i in range(len(proof)):
            variants.append([*proof[:i], _flip_bit(proof[i], rng), *proof[i + 1 :]])
            variants.append([*proof[:i], *proof[i + 1 :]])
            variants.append([*proof[:i], proof[i][:31], *proof[i + 1 :]])
            variants.append([*proof[:i], proof[i] + b"\x00", *proof[i + 1 :]])
    return variants


# -- shared test vectors ---------------------------------------------------------------------------------


def test_vector_count() -> None:
    assert len(VECTOR_FILES) >= 90


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: str(p.relative_to(VECTORS)))
def test_vector(path: Path) -> None:
    case = _load(path)
    if path.relative_to(VECTORS).parts[0] == "inclusion":
        ok = verify_inclusion(
            _b64(case["leafHash"]), case["leafIdx"], case["treeSize"], _proof(case), _b64(case["root"])
        )
    else:
        ok = verify_consistency(case["size1"], case["size2"], _proof(case), _b64(case["root1"]), _b64(case["root2"]))
    assert ok is (not case["wantErr"])


def test_builders_reproduce_vector_proofs() -> None:
    # The vectors come from the transparency-dev tree over these eight leaves.
    data = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        bytes(range(0x50, 0x58)),
        bytes(range(0x60, 0x70)),
    ]
    leaves = [leaf_hash(d) for d in data]
    for name in ("consistency/1/happy-path.json", "consistency/2/happy-path.json"):
        case = _load(VECTORS / name)
        assert root(leaves[: case["size1"]]) == _b64(case["root1"])
        assert root(leaves[: case["size2"]]) == _b64(case["root2"])
        assert consistency_proof(leaves, case["size1"], case["size2"]) == _proof(case)
    for name in ("inclusion/1/happy-path.json", "inclusion/2/happy-path.json"):
        case = _load(VECTORS / name)
        assert leaves[case["leafIdx"]] == _b64(case["leafHash"])
        assert inclusion_proof(leaves[: case["treeSize"]], case["leafIdx"]) == _proof(case)


# -- roots ----------------------------------------------------------------------------------------------


def test_hashing_primitives() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_root_matches_reference() -> None:
    leaves = _leaves(300)
    for n in range(301):
        assert root(leaves[:n]) == reference_root(leaves[:n]), n


def test_root_accepts_any_sequence_and_rejects_bad_leaves() -> None:
    leaves = _leaves(9)
    assert root(tuple(leaves)) == root(leaves)
    with pytest.raises(ValueError):
        root([*leaves, b"short"])


def test_root_of_many_leaves() -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(2**17 + 3)]
    compact = CompactRange()
    compact.extend(leaves)
    assert root(leaves) == compact.root()


# -- proofs built here verify; tampered ones do not ------------------------------------------------------


def test_inclusion_proofs_verify_and_tampering_fails() -> None:
    rng = random.Random(1)
    leaves = _leaves(MAX_N + 1, seed=1)
    roots = [root(leaves[:n]) for n in range(MAX_N + 2)]
    for n in range(1, MAX_N + 1):
        tree = leaves[:n]
        tree_root = roots[n]
        for index in range(n):
            proof = inclusion_proof(tree, index)
            assert len(proof) == len(inclusion_shape(index, n))
            assert verify_inclusion(tree[index], index, n, proof, tree_root)
            assert verify_inclusion(tree[index], index, n, tuple(proof), tree_root)

            assert not verify_inclusion(_flip_bit(tree[index], rng), index, n, proof, tree_root)
            assert not verify_inclusion(tree[index], index, n, proof, _flip_bit(tree_root, rng))
            assert not verify_inclusion(leaves[n], index, n, proof, tree_root)
            for tampered in _tampered_proofs(proof, rng):
                assert not verify_inclusion(tree[index], index, n, tampered, tree_root), (n, index)

            # Another index or size is accepted exactly when the RFC hashes the
            # same path for it, which never happens for another index.
            for other in range(n + 2):
                if other != index:
                    assert not verify_inclusion(tree[index], other, n, proof, tree_root), (n, index, other)
            for size in range(1, n + 4):
                if size != n:
                    same_path = index < size and inclusion_shape(index, size) == inclusion_shape(index, n)
                    assert verify_inclusion(tree[index], index, size, proof, tree_root) is same_path
                    if index < size <= len(leaves):
                        assert not verify_inclusion(tree[index], index, size, proof, roots[size])


def test_consistency_proofs_verify_and_tampering_fails() -> None:
    rng = random.Random(2)
    leaves = _leaves(MAX_N + 1, seed=2)
    roots = [root(leaves[:n]) for n in range(MAX_N + 2)]
    for size2 in range(1, MAX_N + 1):
        for size1 in range(size2 + 1):
            proof = consistency_proof(leaves[:size2], size1, size2)
            root1, root2 = roots[size1], roots[size2]
            assert verify_consistency(size1, size2, proof, root1, root2), (size1, size2)
            assert verify_consistency(size1, size2, tuple(proof), root1, root2)
            assert consistency_proof(leaves, size1, size2) == proof

            assert not verify_consistency(size1, size2, proof, _flip_bit(root1, rng), root2)
            if size1 > 0:  # every tree extends the empty one, whatever its root
                assert not verify_consistency(size1, size2, proof, root1, _flip_bit(root2, rng))
            if root1 != root2:
                assert not verify_consistency(size1, size2, proof, root2, root1)
            for tampered in _tampered_proofs(proof, rng):
                assert not verify_consistency(size1, size2, tampered, root1, root2), (size1, size2)

            # A proof against the wrong size passes only where the RFC would hash
            # the very same nodes, and never against that size's real root.
            if 0 < size1 < size2:
                shape = consistency_shape(size1, size2)
                for other1, other2 in [
                    (size1 - 1, size2),
                    (size1 + 1, size2),
                    (size1, size2 - 1),
                    (size1, size2 + 1),
                    (size1 ^ 2, size2),
                    (size1, size2 * 2),
                ]:
                    valid_sizes = 0 < other1 < other2
                    same = valid_sizes and consistency_shape(other1, other2) == shape
                    assert verify_consistency(other1, other2, proof, root1, root2) is same
                    if valid_sizes and other2 <= MAX_N + 1:
                        assert not verify_consistency(other1, other2, proof, roots[other1], roots[other2])


def test_consistency_edge_cases() -> None:
    leaves = _leaves(8)
    r4, r8 = root(leaves[:4]), root(leaves)
    assert verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    assert verify_consistency(0, 8, [], EMPTY_ROOT, r8)
    assert not verify_consistency(0, 8, [], r4, r8)  # the empty tree has one root
    assert not verify_consistency(0, 8, [r8], EMPTY_ROOT, r8)
    assert verify_consistency(8, 8, [], r8, r8)
    assert not verify_consistency(8, 8, [], r4, r8)
    assert not verify_consistency(8, 8, [r8], r8, r8)
    assert not verify_consistency(8, 4, consistency_proof(leaves, 4, 8), r8, r4)
    assert not verify_consistency(4, 8, [], r4, r8)


def test_builders_reject_out_of_range_arguments() -> None:
    leaves = _leaves(5)
    for index in (-1, 5, 6):
        with pytest.raises(ValueError):
            inclusion_proof(leaves, index)
    with pytest.raises(ValueError):
        inclusion_proof([], 0)
    for size1, size2 in ((-1, 3), (4, 3), (2, 6), (0, -1)):
        with pytest.raises(ValueError):
            consistency_proof(leaves, size1, size2)
    assert consistency_proof(leaves, 0, 5) == []
    assert consistency_proof(leaves, 3, 3) == []
    assert consistency_proof([], 0, 0) == []


BAD_SIZES: list[Any] = [None, -1, 2**64, 2**100, True, 1.0, "1", b"\x01"]
BAD_HASHES: list[Any] = [None, b"", b"\x00" * 31, b"\x00" * 33, "0" * 32, bytearray(32), 0]
BAD_PROOFS: list[Any] = [None, "", b"", 0, {}, iter(()), [None], [b"\x00" * 31], [[b"\x00" * 32]]]


def test_verifiers_reject_malformed_arguments_without_raising() -> None:
    leaves = _leaves(13)
    r13, r6 = root(leaves), root(leaves[:6])
    incl = inclusion_proof(leaves, 6)
    cons = consistency_proof(leaves, 6, 13)
    assert verify_inclusion(leaves[6], 6, 13, incl, r13)
    assert verify_consistency(6, 13, cons, r6, r13)

    for bad in BAD_SIZES:
        assert verify_inclusion(leaves[6], bad, 13, incl, r13) is False
        assert verify_inclusion(leaves[6], 6, bad, incl, r13) is False
        assert verify_consistency(bad, 13, cons, r6, r13) is False
        assert verify_consistency(6, bad, cons, r6, r13) is False
    for bad in BAD_HASHES:
        assert verify_inclusion(bad, 6, 13, incl, r13) is False
        assert verify_inclusion(leaves[6], 6, 13, incl, bad) is False
        assert verify_consistency(6, 13, cons, bad, r13) is False
        assert verify_consistency(6, 13, cons, r6, bad) is False
        assert verify_inclusion(leaves[6], 6, 13, [*incl[:-1], bad], r13) is False
        assert verify_consistency(6, 13, [bad, *cons[1:]], r6, r13) is False
        # A malformed element never passes, even where an empty proof would.
        assert verify_inclusion(leaves[0], 0, 1, [bad], leaves[0]) is False
    for bad in BAD_PROOFS:
        assert verify_inclusion(leaves[6], 6, 13, bad, r13) is False
        assert verify_consistency(6, 13, bad, r6, r13) is False
        assert verify_consistency(6, 6, bad, r6, r6) is False
    assert verify_inclusion(leaves[0], 0, 1, [], leaves[0])
    assert verify_inclusion(leaves[0], 2**64 - 1, 2**64 - 1, [], leaves[0]) is False
    assert verify_inclusion(leaves[0], 0, 0, [], EMPTY_ROOT) is False
    # A huge claimed size needs as many proof elements; a short proof must not pass.
    assert verify_inclusion(leaves[0], 0, 2**64 - 1, incl, r13) is False


# -- compact ranges --------------------------------------------------------------------------------------


def test_compact_range_root_matches_every_prefix() -> None:
    leaves = _leaves(300, seed=3)
    compact = CompactRange()
    assert compact.size == 0
    assert compact.root() == EMPTY_ROOT
    for n, leaf in enumerate(leaves, start=1):
        compact.append(leaf)
        assert compact.size == n
        assert len(compact.hashes) == n.bit_count()
        assert compact.root() == root(leaves[:n])
        assert CompactRange.from_bytes(compact.to_bytes()) == compact


def test_compact_range_serialization() -> None:
    compact = CompactRange()
    compact.extend(_leaves(11))
    encoded = compact.to_bytes()
    assert len(encoded) == 8 + 3 * 32
    copy = CompactRange.from_bytes(encoded)
    assert copy == compact
    copy.append(leaf_hash(b"more"))
    assert copy != compact
    assert compact.copy() == compact
    assert merkle.Frontier is CompactRange
    for bad in (b"", encoded[:7], encoded[:-1], encoded + b"\x00", (12).to_bytes(8, "big") + encoded[8:]):
        with pytest.raises(ValueError):
            CompactRange.from_bytes(bad)
    with pytest.raises(ValueError):
        CompactRange(3, [b"\x00" * 32])
    with pytest.raises(ValueError):
        compact.append(b"short")
