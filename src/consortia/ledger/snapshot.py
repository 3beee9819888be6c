"""Channel snapshots: the state of a channel at a height, so that a new peer need not replay every block.

A peer that joins a long-running channel would otherwise fetch and validate every block since the genesis
block. A *snapshot* at height ``h`` instead carries what a replay of blocks ``0 .. h-1`` leaves behind:

* ``header`` — the header of block ``h - 1``, the last block the snapshot covers. The joining peer fetches that
  block from the ordering service and compares header hashes, so the orderers' signature vouches for the height;
* ``frontier`` — the history tree's right edge at that header's ``history_size`` (a compact range, one hash per
  set bit of the size). Its root must be the header's ``history_root``. A compact range is all that later
  appends, roots, inclusion proofs of later transactions and consistency proofs from ``h`` on need
  (see :mod:`consortia.ledger.history`);
* ``config`` — the channel configuration in force (the canonical bytes of the record kept in the state under
  the ``_config`` namespace, repeated on its own so the signer can be checked before the state is read);
* ``state``, ``key_policy``, ``history``, ``hashed``, ``txids`` — every row of those state database tables
  (:data:`~consortia.ledger.statedb.SNAPSHOT_TABLES`). All transaction ids are included, not only recent ones:
  a duplicate check must know every id ever committed on the channel.

Private plaintext is **not** included: a snapshot is for a new organisation's peer, which is not a member of
the existing private data collections; it holds their salted hashes (``hashed``), as every peer does.

The file is a ``manifest`` (JSON: channel, height, the header's hash, the signer's certificate, and the
SHA-256 and size of every part), the signer's Ed25519 ``signature`` over the manifest, then the parts, each
framed by its name and length. Reading one (:func:`read_snapshot`) checks the signature against the certificate
in the manifest, every part's hash and the frontier against the header, and refuses the file naming it and what
is wrong; whether the signer is a member peer of the channel, and whether the header is the one the ordering
service serves, is for the joining peer to check (:mod:`consortia.peer.snapshot_join`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from consortia.identity import CertificateError, CertInfo, SigningIdentity, parse_certificate
from consortia.identity.batch import verify_one
from consortia.ledger.block import BlockHeader, header_hash
from consortia.ledger.encoding import MalformedError, decode_canonical, encode
from consortia.ledger.history import HistoryTree
from consortia.ledger.ledger import ChannelLedger, LedgerError, read_snapshot_header
from consortia.ledger.merkle import CompactRange
from consortia.ledger.statedb import SNAPSHOT_TABLES

SNAPSHOT_FORMAT = "consortia-snapshot/v1"
MAGIC = b"CONSORTIA-SNAPSHOT/1\n"
_NAME = struct.Struct(">H")
_LENGTH = struct.Struct(">Q")
FIXED_PARTS = ("header", "frontier", "config")
PART_NAMES = (*FIXED_PARTS, *SNAPSHOT_TABLES)
"""Every part a snapshot holds, in file order."""

_ROWS = msgspec.msgpack.Encoder()
_ROWS_DECODER = msgspec.msgpack.Decoder(list[list[Any]])


def manifest_signing_bytes(manifest: bytes) -> bytes:
    """The bytes a snapshot's signer signs: a domain tag and the manifest."""
    return b"consortia/snapshot-manifest/v1\x00" + manifest


class SnapshotError(Exception):
    """A snapshot that cannot be written or used: names the file and what is wrong with it."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"snapshot {path}: {message}")
        self.path = path
        self.message = message


class PartEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One part of a snapshot as the manifest lists it."""

    name: str
    size: int
    sha256: str


class Manifest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a snapshot holds and who vouches for it."""

    format: str
    channel: str
    height: int
    """Number of blocks the snapshot covers: the state after blocks ``0 .. height - 1``."""
    last_header_hash: str
    history_size: int
    created_ms: int
    signer_certificate: bytes
    parts: tuple[PartEntry, ...]


@dataclass(frozen=True)
class SnapshotContents:
    """What a snapshot is made of, before it is written or after it was read and its hashes checked."""

    channel: str
    height: int
    header: BlockHeader
    frontier: CompactRange
    config: bytes
    """Canonical bytes of the channel configuration in force at ``height``."""
    tables: dict[str, list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Snapshot:
    """A snapshot file read and checked: its contents, its manifest, and the signer's certificate."""

    path: Path
    manifest: Manifest
    contents: SnapshotContents
    signer: CertInfo


@dataclass(frozen=True)
class ExportedLedger:
    """A channel ledger's state at its committed height, with the header and history frontier of that height."""

    height: int
    header: BlockHeader
    frontier: CompactRange
    tables: dict[str, list[tuple[Any, ...]]]


def export_ledger(directory: Path) -> ExportedLedger:
    """Read a peer's channel ledger (without writing to it) at the height its state database has reached.

    The state rows are read in one transaction; block store and history tree are at least as far along
    (they are written first), so header ``height - 1`` and the frontier of its tree size are there.
    """
    directory = Path(directory)
    if not (directory / "state.sqlite").is_file():
        raise LedgerError(f"{directory} holds no peer ledger (no state.sqlite)")
    ledger = ChannelLedger(directory, read_only=True)
    try:
        height, tables = ledger.state.export_rows()
        if height < 1:
            raise LedgerError(f"{directory}: the state database holds no block yet")
        header = ledger.header(height - 1)
        with HistoryTree(directory / "history", read_only=True) as history:
            frontier = history.compact_range(header.history_size)
    finally:
        ledger.close()
    if frontier.root() != header.history_root:
        raise LedgerError(
            f"{directory}: the history tree's root at size {header.history_size} is not block "
            f"{header.number}'s history_root; run consortia verify"
        )
    return ExportedLedger(height, header, frontier, tables)


def _encode_rows(rows: list[tuple[Any, ...]]) -> bytes:
    return _ROWS.encode([list(row) for row in rows])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_snapshot(path: Path, contents: SnapshotContents, identity: SigningIdentity, created_ms: int) -> Manifest:
    """Write ``contents`` to ``path`` with a manifest signed by ``identity``; return the manifest.

    The file is written beside ``path`` first and renamed into place, so a crash never leaves half a snapshot.
    """
    path = Path(path)
    if contents.header.number != contents.height - 1 or contents.header.channel != contents.channel:
        raise SnapshotError(
            path,
            f"header of block {contents.header.number} on {contents.header.channel!r} does not end height "
            f"{contents.height} of {contents.channel!r}",
        )
    parts: dict[str, bytes] = {
        "header": encode(contents.header),
        "frontier": contents.frontier.to_bytes(),
        "config": contents.config,
    }
    for table in SNAPSHOT_TABLES:
        parts[table] = _encode_rows(contents.tables.get(table, []))
    manifest = Manifest(
        format=SNAPSHOT_FORMAT,
        channel=contents.channel,
        height=contents.height,
        last_header_hash=header_hash(contents.header).hex(),
        history_size=contents.frontier.size,
        created_ms=created_ms,
        signer_certificate=identity.certificate_der,
        parts=tuple(PartEntry(name, len(data), _sha256(data)) for name, data in parts.items()),
    )
    manifest_bytes = msgspec.json.encode(manifest)
    sections = [("manifest", manifest_bytes), ("signature", identity.sign(manifest_signing_bytes(manifest_bytes)))]
    sections += list(parts.items())
    temporary = path.with_name(f".{path.name}.partial")
    try:
        with open(temporary, "wb") as handle:
            handle.write(MAGIC)
            for name, data in sections:
                raw_name = name.encode()
                handle.write(_NAME.pack(len(raw_name)) + raw_name + _LENGTH.pack(len(data)))
                handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return manifest


def _sections(path: Path, data: bytes) -> list[tuple[str, bytes]]:
    """Split a snapshot file into its named sections (SnapshotError if the framing is broken)."""
    if not data.startswith(MAGIC):
        raise SnapshotError(path, f"not a Consortia snapshot (expected the header {MAGIC!r})")
    sections: list[tuple[str, bytes]] = []
    position = len(MAGIC)
    while position < len(data):
        if position + _NAME.size > len(data):
            raise SnapshotError(path, f"truncated section name at byte {position}")
        (name_length,) = _NAME.unpack_from(data, position)
        name_end = position + _NAME.size + name_length
        if name_end + _LENGTH.size > len(data):
            raise SnapshotError(path, f"truncated section header at byte {position}")
        try:
            name = data[position + _NAME.size : name_end].decode("ascii")
        except UnicodeDecodeError:
            raise SnapshotError(path, f"unreadable section name at byte {position}") from None
        (length,) = _LENGTH.unpack_from(data, name_end)
        start = name_end + _LENGTH.size
        if start + length > len(data):
            raise SnapshotError(
                path, f"section {name!r} claims {length} bytes but only {len(data) - start} follow (truncated?)"
            )
        sections.append((name, data[start : start + length]))
        position = start + length
    return sections


def read_snapshot(path: Path) -> Snapshot:
    """Read a snapshot file and check its manifest signature, every part's hash and its frontier against its header.

    Raises SnapshotError naming the file and the first thing wrong (for a changed byte: the part whose hash no
    longer matches, or the manifest whose signature no longer verifies).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SnapshotError(path, f"cannot be read: {exc.strerror or exc}") from None
    sections = _sections(path, data)
    names = [name for name, _ in sections]
    if names[:2] != ["manifest", "signature"]:
        raise SnapshotError(path, f"expected a manifest and its signature first, found sections {names[:2]}")
    manifest_bytes, signature = sections[0][1], sections[1][1]
    try:
        manifest = msgspec.json.decode(manifest_bytes, type=Manifest)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SnapshotError(path, f"manifest is unreadable: {exc}") from None
    if manifest.format != SNAPSHOT_FORMAT:
        raise SnapshotError(path, f"format {manifest.format!r} is not {SNAPSHOT_FORMAT!r}")
    try:
        signer = parse_certificate(manifest.signer_certificate)
    except CertificateError as exc:
        raise SnapshotError(path, f"the signer's certificate is unreadable: {exc}") from None
    if not verify_one(signer.public_key, manifest_signing_bytes(manifest_bytes), signature):
        raise SnapshotError(path, f"the manifest's signature by {signer.describe()} does not verify")

    parts = dict(sections[2:])
    listed = [entry.name for entry in manifest.parts]
    if listed != list(PART_NAMES) or names[2:] != listed:
        raise SnapshotError(path, f"holds parts {names[2:]}, the manifest lists {listed}, expected {list(PART_NAMES)}")
    for entry in manifest.parts:
        found = _sha256(parts[entry.name])
        if found != entry.sha256 or len(parts[entry.name]) != entry.size:
            raise SnapshotError(
                path,
                f"part {entry.name!r} has SHA-256 {found} ({len(parts[entry.name])} bytes), "
                f"the signed manifest lists {entry.sha256} ({entry.size} bytes)",
            )

    try:
        header = decode_canonical(parts["header"], BlockHeader)
        frontier = CompactRange.from_bytes(parts["frontier"])
        tables = {table: [tuple(row) for row in _ROWS_DECODER.decode(parts[table])] for table in SNAPSHOT_TABLES}
    except (MalformedError, ValueError, msgspec.DecodeError) as exc:
        raise SnapshotError(path, f"a part is unreadable: {exc}") from None
    if header.channel != manifest.channel or header.number != manifest.height - 1:
        raise SnapshotError(
            path,
            f"the header is of block {header.number} of {header.channel!r}, the manifest says height "
            f"{manifest.height} of {manifest.channel!r}",
        )
    if header_hash(header).hex() != manifest.last_header_hash:
        raise SnapshotError(path, "the header's hash is not the one the manifest lists")
    if frontier.size != header.history_size or frontier.root() != header.history_root:
        raise SnapshotError(
            path,
            f"the history frontier (size {frontier.size}, root {frontier.root().hex()}) is not the tree of block "
            f"{header.number}'s header (size {header.history_size}, root {header.history_root.hex()})",
        )
    contents = SnapshotContents(manifest.channel, manifest.height, header, frontier, parts["config"], tables)
    return Snapshot(path, manifest, contents, signer)


JOINED_SNAPSHOT_FILE = "snapshot.bin"
"""The snapshot a peer joined from, kept in its channel directory so that an audit can start where the peer did."""


def joined_snapshot(directory: Path) -> Snapshot | None:
    """The snapshot the ledger in ``directory`` was started from, checked again; None for a ledger from block 0.

    An audit of such a ledger starts from it: its state rows at ``contents.height`` (load them into a scratch
    database with ``StateDB.import_rows``), its configuration, its ``header`` (what block ``contents.height``
    must chain to) and its ``frontier`` (the history tree before that block). Raises SnapshotError if the file
    is missing, damaged, or not the snapshot whose header the ledger continues from.
    """
    directory = Path(directory)
    started = read_snapshot_header(directory)
    if started is None:
        return None
    snapshot = read_snapshot(directory / JOINED_SNAPSHOT_FILE)
    if snapshot.contents.header != started:
        raise SnapshotError(
            snapshot.path,
            f"ends at block {snapshot.contents.header.number} ({snapshot.manifest.last_header_hash}), but the ledger "
            f"in {directory} continues from block {started.number} ({header_hash(started).hex()})",
        )
    return snapshot


def describe(snapshot: Snapshot) -> dict[str, Any]:
    """A snapshot's manifest as JSON a person can read."""
    manifest = snapshot.manifest
    return {
        "file": str(snapshot.path),
        "channel": manifest.channel,
        "height": manifest.height,
        "last_header_hash": manifest.last_header_hash,
        "history_size": manifest.history_size,
        "created_ms": manifest.created_ms,
        "signer": f"{snapshot.signer.org}/{snapshot.signer.name}",
        "signer_certificate": base64.b64encode(manifest.signer_certificate).decode(),
        "parts": {entry.name: {"size": entry.size, "sha256": entry.sha256} for entry in manifest.parts},
    }
