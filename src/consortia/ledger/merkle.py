"""
Merkle Trees (RFC 9162)
^^^^^^^^^^^^^^^^^^^^^^^

.. contents:: Table of Contents
    :backlinks: none
    :local:

Introduction
------------

A Merkle tree commits to an ordered list of leaves with a single 32-byte
root. This module implements the tree of Certificate Transparency version 2
(RFC 9162 §2.1) with SHA-256:

- a leaf is hashed as ``SHA-256(0x00 || data)`` and an interior node as
  ``SHA-256(0x01 || left || right)``; the distinct prefixes stop anyone from
  passing off an interior node as a leaf (a second-preimage attack);
- the tree over ``n > 1`` leaves is split at ``k``, the largest power of two
  smaller than ``n``: the left subtree is a *complete* tree of ``k`` leaves
  and the right subtree holds the remaining ``n - k``. Nothing is ever
  duplicated, so unlike Bitcoin's tree, two different lists never share a
  root;
- the empty tree's root is ``SHA-256("")``.

Two kinds of proof let a client who holds only a root check a claim:

- an *inclusion proof* (the audit path) shows that a leaf hash sits at a
  given index of the tree of a given size;
- a *consistency proof* shows that the tree of ``size1`` leaves is a prefix
  of the tree of ``size2`` leaves, that is, the log was only appended to.

Subtrees
--------

Every node of an RFC 9162 tree covers a leaf range ``[begin, end)`` that
splits, by the binary digits of ``end - begin``, into *aligned complete
subtrees*: ranges of ``2**level`` leaves starting at a multiple of
``2**level``. An aligned complete subtree never changes once its leaves
exist, so a store can keep its hash forever. The proof builders below are
written against a ``SubtreeHash`` callable that returns such hashes, so an
in-memory list (``root``, ``inclusion_proof``, ``consistency_proof``) and the
on-disk history tree share one implementation.

Compact ranges
--------------

``CompactRange`` keeps only the right edge of a growing tree: one hash per
set bit of its size. That is enough to append leaves and to compute the root,
which is how an orderer tracks the ledger-wide history root without storing
any leaves.
"""

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
"""Length in bytes of every hash in the tree."""

MAX_TREE_SIZE = 2**64 - 1
"""Largest tree size a verifier accepts (RFC 9162 sizes are ``uint64``)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root of the tree with no leaves."""

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

SubtreeHash = Callable[[int, int], bytes]
"""
``subtree_hash(level, index)`` returns the hash of the aligned complete
subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``.
"""

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """Hash a leaf's data into a leaf hash."""
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two child hashes into their parent's hash."""
    return _sha256(NODE_PREFIX + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Compute the root of the tree over ``leaf_hashes``."""
    _check_leaf_hashes(leaf_hashes)
    if len(leaf_hashes) == 0:
        return EMPTY_ROOT
    level: Sequence[bytes] = leaf_hashes
    while len(level) > 1:
        # Pairing neighbours level by level and lifting an unpaired last
        # hash unchanged builds exactly the RFC's "split at the largest power
        # of two" tree, without recursion or copying sub-lists. zip() drops
        # that unpaired hash; it is appended below.
        pairs = iter(level)
        parents = [_sha256(NODE_PREFIX + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
        if len(level) % 2 == 1:
            parents.append(level[-1])
        level = parents
    return bytes(level[0])


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Build the RFC 9162 inclusion proof of leaf ``index`` in the tree over ``leaf_hashes``."""
    _check_leaf_hashes(leaf_hashes)
    return build_inclusion_proof(index, len(leaf_hashes), _subtree_hash_of(leaf_hashes))


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int, size2: int) -> list[bytes]:
    """Build the RFC 9162 consistency proof between the first ``size1`` and ``size2`` leaves."""
    _check_leaf_hashes(leaf_hashes)
    if not _is_int(size2) or size2 > len(leaf_hashes):
        raise ValueError(f"size2 {size2!r} exceeds the {len(leaf_hashes)} leaves given")
    return build_consistency_proof(size1, size2, _subtree_hash_of(leaf_hashes))


def verify_inclusion(leaf_hash: bytes, index: int, tree_size: int, proof: list[bytes], root: bytes) -> bool:
    """Check an inclusion proof as in RFC 9162 §2.1.3.2; any malformed input is rejected."""
    if not (_is_hash(leaf_hash) and _is_hash(root) and _is_proof(proof)):
        return False
    if not (_is_size(index) and _is_size(tree_size) and index < tree_size):
        return False

    fn = index
    sn = tree_size - 1
    r = leaf_hash
    for p in proof:
        # Reaching the top with elements left over means the proof is padded.
        if sn == 0 or not _is_hash(p):
            return False
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            # A right-edge node with no right sibling is lifted unchanged, so
            # skip the levels where it has none.
            if fn % 2 == 0:
                while fn != 0 and fn % 2 == 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1

    # sn reaches 0 exactly when the path climbed all the way to the root; a
    # truncated proof leaves it positive even if some prefix hashed to `root`.
    return sn == 0 and r == root


def verify_consistency(size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes) -> bool:
    """Check a consistency proof as in RFC 9162 §2.1.4.2; any malformed input is rejected."""
    if not (_is_hash(root1) and _is_hash(root2) and _is_proof(proof)):
        return False
    if not (_is_size(size1) and _is_size(size2) and size1 <= size2):
        return False

    if size1 == size2:
        # Nothing was appended: there is nothing to prove, so an honest
        # prover sends nothing and the roots must simply agree.
        return len(proof) == 0 and root1 == root2 and (size1 != 0 or root1 == EMPTY_ROOT)
    if size1 == 0:
        # Every tree extends the empty tree, whose root is fixed.
        return len(proof) == 0 and root1 == EMPTY_ROOT
    if len(proof) == 0:
        return False

    path = list(proof)
    if size1 & (size1 - 1) == 0:
        # The old tree is a complete subtree of the new one; its root is the
        # starting point and the prover leaves it out.
        path.insert(0, root1)
    fn = size1 - 1
    sn = size2 - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1

    if not _is_hash(path[0]):
        return False
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0 or not _is_hash(c):
            return False
        if fn % 2 == 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if fn % 2 == 0:
                while fn != 0 and fn % 2 == 0:
                    fn >>= 1
                    sn >>= 1
        else:
            # Right siblings exist only in the new tree.
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1

    # Both counters must have reached the root: matching end points alone
    # would accept proofs that stop early or wander off the path.
    return sn == 0 and fn == 0 and fr == root1 and sr == root2


def subtree_root(begin: int, end: int, subtree_hash: SubtreeHash) -> bytes:
    """Compute the root over leaves ``[begin, end)`` from aligned complete subtree hashes."""
    if not (_is_int(begin) and _is_int(end) and 0 <= begin <= end):
        raise ValueError(f"invalid leaf range [{begin!r}, {end!r})")
    if begin == end:
        return EMPTY_ROOT
    hashes = []
    start = begin
    count = end - begin
    for level in range(count.bit_length() - 1, -1, -1):
        if (count >> level) & 1:
            if start % (1 << level) != 0:
                raise ValueError(f"leaf range [{begin}, {end}) is not aligned to complete subtrees")
            hashes.append(subtree_hash(level, start >> level))
            start += 1 << level
    # The largest subtree is the left child of the root; the rest of the
    # range forms its right child, recursively.
    result = hashes.pop()
    while hashes:
        result = node_hash(hashes.pop(), result)
    return result


def build_inclusion_proof(index: int, size: int, subtree_hash: SubtreeHash) -> list[bytes]:
    """Build the inclusion proof of leaf ``index`` in the tree of ``size`` leaves (RFC 9162 PATH)."""
    if not (_is_int(index) and _is_int(size) and 0 <= index < size):
        raise ValueError(f"leaf index {index!r} is outside a tree of size {size!r}")
    proof = []
    begin, end = 0, size
    # Walk down from the root, collecting the sibling of each node on the
    # path; the RFC lists them from the leaf up, hence the final reverse.
    while end - begin > 1:
        middle = begin + _split_point(end - begin)
        if index < middle:
            proof.append(subtree_root(middle, end, subtree_hash))
            end = middle
        else:
            proof.append(subtree_root(begin, middle, subtree_hash))
            begin = middle
    proof.reverse()
    return proof


def build_consistency_proof(size1: int, size2: int, subtree_hash: SubtreeHash) -> list[bytes]:
    """Build the consistency proof between trees of ``size1`` and ``size2`` leaves (RFC 9162 PROOF)."""
    if not (_is_int(size1) and _is_int(size2) and 0 <= size1 <= size2):
        raise ValueError(f"invalid tree sizes {size1!r} and {size2!r}")
    if size1 == 0 or size1 == size2:
        return []
    proof = []
    begin, end = 0, size2
    # `remaining` leaves of the old tree lie in [begin, end); `complete`
    # stays true while the old tree is a left-edge subtree whose root the
    # verifier already holds (SUBPROOF's boolean argument).
    remaining = size1
    complete = True
    while end - begin != remaining:
        middle = begin + _split_point(end - begin)
        if begin + remaining <= middle:
            proof.append(subtree_root(middle, end, subtree_hash))
            end = middle
        else:
            proof.append(subtree_root(begin, middle, subtree_hash))
            remaining -= middle - begin
            begin = middle
            complete = False
    if not complete:
        proof.append(subtree_root(begin, end, subtree_hash))
    proof.reverse()
    return proof


class CompactRange:
    """
    The right edge of a tree: enough to append leaves and compute the root.

    ``hashes`` holds the roots of the aligned complete subtrees that make up
    the tree, one per set bit of ``size``, largest (leftmost) first.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        hashes = list(hashes)
        if not _is_size(size):
            raise ValueError(f"invalid tree size {size!r}")
        if len(hashes) != size.bit_count() or not all(_is_hash(h) for h in hashes):
            raise ValueError(f"a compact range of size {size} needs {size.bit_count()} 32-byte hashes")
        self._size = size
        self._hashes = hashes

    @property
    def size(self) -> int:
        """Return the number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Return the subtree roots of the right edge, largest first."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash to the tree."""
        if not _is_hash(leaf_hash):
            raise ValueError("a leaf hash must be 32 bytes")
        hashes = self._hashes
        hashes.append(leaf_hash)
        # Each trailing one bit of the old size is a subtree of the same
        # height as the new one: merge them like a binary carry.
        size = self._size
        while size % 2 == 1:
            right = hashes.pop()
            hashes[-1] = node_hash(hashes[-1], right)
            size >>= 1
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append several leaf hashes in order."""
        for h in leaf_hashes:
            self.append(h)

    def root(self) -> bytes:
        """Return the root of the tree of all leaves appended so far."""
        if not self._hashes:
            return EMPTY_ROOT
        result = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            result = node_hash(h, result)
        return result

    def copy(self) -> "CompactRange":
        """Return an independent copy."""
        return CompactRange(self._size, self._hashes)

    def to_bytes(self) -> bytes:
        """Serialize as an 8-byte big-endian size followed by the edge hashes."""
        return self._size.to_bytes(8, "big") + b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> "CompactRange":
        """Parse the output of ``to_bytes``, raising ``ValueError`` if malformed."""
        if not isinstance(data, bytes | bytearray | memoryview) or len(data) < 8:
            raise ValueError("compact range encoding is too short")
        data = bytes(data)
        size = int.from_bytes(data[:8], "big")
        body = data[8:]
        if len(body) != size.bit_count() * HASH_SIZE:
            raise ValueError(f"compact range of size {size} has {len(body)} bytes of hashes")
        return cls(size, [body[i : i + HASH_SIZE] for i in range(0, len(body), HASH_SIZE)])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


Frontier = CompactRange
"""Alternative name for ``CompactRange`` (the right edge is also called the frontier)."""


def _split_point(count: int) -> int:
    # The largest power of two strictly smaller than `count` (count >= 2).
    return 1 << ((count - 1).bit_length() - 1)


def _subtree_hash_of(leaf_hashes: Sequence[bytes]) -> SubtreeHash:
    def subtree_hash(level: int, index: int) -> bytes:
        return root(leaf_hashes[index << level : (index + 1) << level])

    return subtree_hash


def _check_leaf_hashes(leaf_hashes: Sequence[bytes]) -> None:
    # A raw payload passed by mistake would still hash to some root, just
    # one no verifier can ever reproduce; fail loudly instead.
    for h in leaf_hashes:
        if len(h) != HASH_SIZE:
            raise ValueError(f"leaf hashes must be {HASH_SIZE} bytes, got {len(h)}")


def _is_int(value: object) -> bool:
    # bool is an int subclass, but True is not a tree size.
    return type(value) is int


def _is_size(value: object) -> bool:
    return type(value) is int and 0 <= value <= MAX_TREE_SIZE


def _is_hash(value: object) -> bool:
    return type(value) is bytes and len(value) == HASH_SIZE


def _is_proof(value: object) -> bool:
    return isinstance(value, list | tuple)
