"""Tamper evidence: flipping any byte of any stored block makes ``consortia verify`` fail, naming that block.

One small network (three organisations, two channels, a few hundred transactions in 20+ blocks per channel copy)
is built once per module and closed. Each flip XORs one byte of a block segment file with a random non-zero
value; the block the byte belongs to is worked out from the store's index file alone (16-byte big-endian entries
``>IQI`` = segment, offset, payload length; a record occupies ``[offset, offset + 12 + length)``), and the audit
must report exactly that block in exactly that ledger copy. The flipped byte is put back before the next flip.

Positions are drawn from ``random.Random(SEED)`` (override with ``CONSORTIA_TAMPER_SEED``) and cycle through
record headers (``magic ‖ length ‖ crc32``), record boundaries, block headers, transaction envelopes, the rest
of a record (framing, orderer certificate and signature, validation codes) and uniformly anywhere in the file.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import ASSET_TRANSFER, three_org_spec
from consortia.ledger.block import Block, BlockRecord
from consortia.ledger.blockstore import BlockStore
from consortia.ledger.config import BatchConfig
from consortia.ledger.encoding import decode, encode
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.workload import run_workload
from consortia.peer.audit import AuditReport, LedgerReport, audit_network

SEED = int(os.environ.get("CONSORTIA_TAMPER_SEED", "912377"))
SRC = Path(__file__).resolve().parents[1] / "src"
INDEX_ENTRY = struct.Struct(">IQI")
RECORD_HEADER_SIZE = 12
MIN_FLIPS = 200
CLI_FLIPS = 10
CATEGORIES = ("record-header", "boundary", "block-header", "transaction", "rest", "anywhere")


@dataclass
class Record:
    """One block record as the index places it, with the byte ranges of its parts (absolute file offsets)."""

    number: int
    segment: int
    offset: int
    length: int
    header: tuple[int, int]
    transactions: list[tuple[int, int]]

    @property
    def end(self) -> int:
        """One past the record's last byte."""
        return self.offset + RECORD_HEADER_SIZE + self.length


@dataclass
class LedgerFiles:
    """One ledger copy's block store: where it is and what its index says."""

    node: str
    channel: str
    blocks: Path
    peer: bool
    records: list[Record] = field(default_factory=list)

    @property
    def name(self) -> str:
        """``node/channel`` as verify names a ledger."""
        return f"{self.node}/{self.channel}"


@dataclass(frozen=True)
class Flip:
    """One altered byte and the block it must be blamed on."""

    ledger: LedgerFiles
    path: Path
    position: int
    mask: int
    category: str
    expected_block: int

    def describe(self) -> str:
        """A line for assertion messages."""
        return (
            f"{self.category} flip at {self.path.name}:{self.position} ^ {self.mask:#04x} in {self.ledger.name} "
            f"(expected block {self.expected_block}; seed {SEED})"
        )


# -- building the ledger once ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(working data folder, pristine copy): a closed network with a few hundred transactions on two channels."""
    root = tmp_path_factory.mktemp("tamper")
    folder = root / "net"
    network = EmbeddedNetwork.create(folder, three_org_spec(BatchConfig(max_transactions=10, timeout_ms=20)))
    try:
        network.deploy("ch1", ASSET_TRANSFER, policy="AND('Org1.peer','Org2.peer')")
        network.deploy("ch2", ASSET_TRANSFER, policy="AND('Org2.peer','Org3.peer')")

        def job(number: int) -> tuple[str, tuple]:
            if number % 3 == 0:
                return "touch", (f"hot{number % 11}",)
            return "create", (f"a{number}", ("red", "green")[number % 2], 1 + number % 5, 10 * number)

        ch1 = [network.gateway(org).network("ch1").contract("asset-transfer") for org in ("Org1", "Org2", "Org3")]
        ch2 = [network.gateway(org).network("ch2").contract("asset-transfer") for org in ("Org2", "Org3")]
        first = run_workload(ch1, job, count=240, window=6)
        second = run_workload(ch2, job, count=60, window=6)
        assert first.committed > 150 and second.committed > 30, (first.outcomes, second.outcomes)
        for channel in ("ch1", "ch2"):
            network.wait_for_height(channel, network.orderer.height(channel))
    finally:
        network.close()
    pristine = root / "pristine"
    shutil.copytree(folder, pristine)
    return folder, pristine


def ledger_files(folder: Path) -> list[LedgerFiles]:
    """Every ledger copy's block store under a data folder, its records located from the index file."""
    found = [
        LedgerFiles(blocks.parent.parent.name, blocks.parent.name, blocks, True)
        for blocks in sorted((folder / "peers").glob("*/*/blocks"))
    ]
    found += [
        LedgerFiles("orderer", blocks.parent.name, blocks, False)
        for blocks in sorted((folder / "orderer").glob("*/blocks"))
    ]
    for ledger in found:
        index = (ledger.blocks / "index").read_bytes()
        assert len(index) % INDEX_ENTRY.size == 0, f"{ledger.name}: index holds a partial entry"
        segments: dict[int, bytes] = {}
        for number, pos in enumerate(range(0, len(index), INDEX_ENTRY.size)):
            segment, offset, length = INDEX_ENTRY.unpack_from(index, pos)
            if segment not in segments:
                segments[segment] = (ledger.blocks / f"segment-{segment:06d}.blk").read_bytes()
            payload = segments[segment][offset + RECORD_HEADER_SIZE : offset + RECORD_HEADER_SIZE + length]
            block_bytes = decode(payload, BlockRecord).block if ledger.peer else payload
            block = decode(block_bytes, Block)
            start = offset + RECORD_HEADER_SIZE
            header_bytes = encode(block.header)
            header_at = payload.find(header_bytes)
            assert header_at >= 0, f"{ledger.name} block {number}: header bytes not found in the record"
            spans = []
            cursor = 0
            for envelope in block.transactions:
                at = payload.find(envelope, cursor)
                assert at >= 0, f"{ledger.name} block {number}: an envelope is not found in the record"
                spans.append((start + at, start + at + len(envelope)))
                cursor = at + len(envelope)
            ledger.records.append(
                Record(
                    number, segment, offset, length, (start + header_at, start + header_at + len(header_bytes)), spans
                )
            )
        for segment, content in segments.items():
            last = max(r.end for r in ledger.records if r.segment == segment)
            assert last == len(content), f"{ledger.name}: segment {segment} holds bytes beyond its last record"
    return found


def block_from_index(blocks: Path, segment: int, position: int) -> int:
    """The number of the block whose record holds byte ``position`` of ``segment``, read from the index file."""
    index = (blocks / "index").read_bytes()
    for number, pos in enumerate(range(0, len(index), INDEX_ENTRY.size)):
        entry_segment, offset, length = INDEX_ENTRY.unpack_from(index, pos)
        if entry_segment == segment and offset <= position < offset + RECORD_HEADER_SIZE + length:
            return number
    raise AssertionError(f"byte {position} of segment {segment} in {blocks} is in no indexed record")


def choose_position(rng: random.Random, ledger: LedgerFiles, category: str) -> tuple[int, int]:
    """(segment, absolute offset) of a byte of ``category`` in a random block of ``ledger``."""
    record = rng.choice(ledger.records)
    if category == "record-header":
        return record.segment, record.offset + rng.randrange(RECORD_HEADER_SIZE)
    if category == "boundary":
        return record.segment, rng.choice((record.offset, record.end - 1))
    if category == "block-header":
        return record.segment, rng.randrange(*record.header)
    if category == "transaction":
        return record.segment, rng.randrange(*rng.choice(record.transactions))
    if category == "rest":
        taken = [record.header, *record.transactions]
        while True:
            position = rng.randrange(record.offset + RECORD_HEADER_SIZE, record.end)
            if not any(lo <= position < hi for lo, hi in taken):
                return record.segment, position
    if category == "anywhere":
        segment = rng.choice(sorted({r.segment for r in ledger.records}))
        size = (ledger.blocks / f"segment-{segment:06d}.blk").stat().st_size
        return segment, rng.randrange(size)
    raise ValueError(category)


def make_flip(rng: random.Random, ledger: LedgerFiles, category: str) -> Flip:
    """Choose a byte and a mask; work out the block from the index."""
    segment, position = choose_position(rng, ledger, category)
    path = ledger.blocks / f"segment-{segment:06d}.blk"
    return Flip(
        ledger, path, position, rng.randrange(1, 256), category, block_from_index(ledger.blocks, segment, position)
    )


def apply_flip(flip: Flip) -> int:
    """XOR the byte in place; return its original value."""
    with open(flip.path, "r+b") as handle:
        handle.seek(flip.position)
        original = handle.read(1)[0]
        handle.seek(flip.position)
        handle.write(bytes([original ^ flip.mask]))
    return original


def restore(flip: Flip, original: int) -> None:
    """Put the original byte back."""
    with open(flip.path, "r+b") as handle:
        handle.seek(flip.position)
        handle.write(bytes([original]))


def run_verify(folder: Path) -> tuple[int, dict]:
    """Run the real ``consortia verify --json`` on ``folder``: (exit code, JSON document)."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("CONSORTIA_DATA", None)
    done = subprocess.run(
        [sys.executable, "-m", "consortia", "verify", "--data", str(folder), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        document = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(
            f"verify printed no JSON (exit {done.returncode}): {done.stdout!r} {done.stderr!r}"
        ) from None
    return done.returncode, document


def report_of(report: AuditReport, node: str, channel: str) -> LedgerReport:
    """The report of one ledger copy."""
    matches = [r for r in report.ledgers if (r.node, r.channel) == (node, channel)]
    assert len(matches) == 1, f"{node}/{channel} audited {len(matches)} times"
    return matches[0]


def assert_same_files(folder: Path, pristine: Path) -> None:
    """Every block file under ``folder`` equals its pristine copy."""
    for path in sorted(pristine.rglob("blocks/*")):
        assert (folder / path.relative_to(pristine)).read_bytes() == path.read_bytes(), f"{path} was not restored"


# -- the tests ----------------------------------------------------------------------------------------------------


def test_ledger_has_enough_to_tamper_with(data: tuple[Path, Path]) -> None:
    """The module's network holds 20+ blocks and a few hundred transactions per channel-1 copy."""
    folder, _ = data
    ledgers = ledger_files(folder)
    assert {ledger.name for ledger in ledgers} == {
        "Org1.peer0/ch1",
        "Org2.peer0/ch1",
        "Org3.peer0/ch1",
        "Org2.peer0/ch2",
        "Org3.peer0/ch2",
        "orderer/ch1",
        "orderer/ch2",
    }
    for ledger in ledgers:
        minimum = 20 if ledger.channel == "ch1" else 8
        assert len(ledger.records) >= minimum, f"{ledger.name} holds only {len(ledger.records)} blocks"
    ch1 = next(ledger for ledger in ledgers if ledger.name == "orderer/ch1")
    assert sum(len(record.transactions) for record in ch1.records) >= 200


def test_untouched_ledger_verifies(data: tuple[Path, Path]) -> None:
    """`consortia verify` on the untouched data folder exits 0 and reports every ledger sound."""
    folder, pristine = data
    code, document = run_verify(folder)
    assert code == 0, document
    assert document["ok"] is True
    assert document["first_bad_block"] is None and document["error"] is None
    assert len(document["ledgers"]) == 7
    assert all(ledger["ok"] and ledger["warnings"] == [] for ledger in document["ledgers"]), document["ledgers"]
    assert_same_files(folder, pristine)


def test_every_flipped_byte_is_blamed_on_its_block(data: tuple[Path, Path]) -> None:
    """≥ 200 single-byte flips, a few ledger copies at a time: each copy's audit names exactly the flipped block.

    A round flips one byte in each of a random set of ledger copies (files of different copies are audited
    independently, so they cannot mask each other); the in-process audit — what `consortia verify` runs — must
    fail every flipped copy at exactly the expected block, pass every other copy, and name the first failing
    copy as the network's first failure.
    """
    folder, pristine = data
    ledgers = ledger_files(folder)
    rng = random.Random(SEED)
    flips_done: Counter[str] = Counter()
    ledgers_hit: Counter[str] = Counter()
    blocks_hit: set[tuple[str, int]] = set()
    total = 0
    rounds = 0
    while total < MIN_FLIPS:
        rounds += 1
        chosen = rng.sample(ledgers, rng.randint(2, len(ledgers)))
        flips = []
        for ledger in chosen:
            flips.append(make_flip(rng, ledger, CATEGORIES[total % len(CATEGORIES)]))
            total += 1
        originals = [apply_flip(flip) for flip in flips]
        try:
            report = audit_network(folder)
        finally:
            for flip, original in zip(flips, originals, strict=True):
                restore(flip, original)
        context = f"round {rounds}: " + "; ".join(flip.describe() for flip in flips)
        assert not report.ok, context
        expected = {(flip.ledger.node, flip.ledger.channel): flip for flip in flips}
        for ledger_report in report.ledgers:
            flip = expected.get((ledger_report.node, ledger_report.channel))
            if flip is None:
                assert ledger_report.ok, f"{ledger_report.node}/{ledger_report.channel} failed: {ledger_report.error}"
                continue
            assert not ledger_report.ok, f"not detected: {flip.describe()}"
            assert ledger_report.bad_block == flip.expected_block, (
                f"blamed block {ledger_report.bad_block} ({ledger_report.error}): {flip.describe()}"
            )
            assert f"block {flip.expected_block}" in (ledger_report.error or ""), (
                f"error does not name the block: {ledger_report.error!r}: {flip.describe()}"
            )
            flips_done[flip.category] += 1
            ledgers_hit[flip.ledger.name] += 1
            blocks_hit.add((flip.ledger.name, flip.expected_block))
        first = report.first_failure
        assert first is not None
        first_expected = next(r for r in report.ledgers if (r.node, r.channel) in expected)
        assert (first.node, first.channel, first.bad_block) == (
            first_expected.node,
            first_expected.channel,
            expected[(first.node, first.channel)].expected_block,
        ), context
    assert total >= MIN_FLIPS
    assert all(flips_done[category] >= MIN_FLIPS // len(CATEGORIES) - 1 for category in CATEGORIES), flips_done
    assert set(ledgers_hit) == {ledger.name for ledger in ledgers}, ledgers_hit
    assert len(blocks_hit) >= 60, f"only {len(blocks_hit)} distinct blocks were hit (seed {SEED})"
    assert_same_files(folder, pristine)
    assert audit_network(folder).ok


def test_cli_names_flipped_block(data: tuple[Path, Path]) -> None:
    """A sample of single flips through the real CLI: exit 1, `first_bad_block` and the ledger in `error` right."""
    folder, pristine = data
    ledgers = ledger_files(folder)
    rng = random.Random(SEED + 1)
    for number in range(CLI_FLIPS):
        flip = make_flip(rng, rng.choice(ledgers), CATEGORIES[number % len(CATEGORIES)])
        original = apply_flip(flip)
        try:
            code, document = run_verify(folder)
        finally:
            restore(flip, original)
        assert code == 1, f"exit {code}: {flip.describe()}: {document}"
        assert document["ok"] is False, flip.describe()
        assert document["first_bad_block"] == flip.expected_block, f"{document['error']}: {flip.describe()}"
        assert document["error"].startswith(f"{flip.ledger.name}: block {flip.expected_block}"), (
            f"{document['error']!r}: {flip.describe()}"
        )
        failing = [ledger for ledger in document["ledgers"] if not ledger["ok"]]
        assert [(ledger["node"], ledger["channel"]) for ledger in failing] == [
            (flip.ledger.node, flip.ledger.channel)
        ], flip.describe()
    assert_same_files(folder, pristine)


def test_changed_state_row_fails_verify(data: tuple[Path, Path], tmp_path: Path) -> None:
    """Changing one value in a peer's state database makes verify fail, blaming that peer's state database."""
    _, pristine = data
    folder = tmp_path / "net"
    shutil.copytree(pristine, folder)
    database = folder / "peers" / "Org2.peer0" / "ch1" / "state.sqlite"
    with sqlite3.connect(database) as conn:
        key, value = conn.execute(
            "SELECT key, value FROM state WHERE ns = 'asset-transfer' AND key LIKE 'asset:a%' ORDER BY key LIMIT 1"
        ).fetchone()
        changed = json.loads(value)
        changed["value"] += 1_000_000
        conn.execute(
            "UPDATE state SET value = ? WHERE ns = 'asset-transfer' AND key = ?",
            (json.dumps(changed, sort_keys=True, separators=(",", ":")), key),
        )
    conn.close()
    code, document = run_verify(folder)
    assert code == 1, document
    assert document["ok"] is False
    assert document["error"].startswith("Org2.peer0/ch1: ") and "state database" in document["error"], document
    failing = [(ledger["node"], ledger["channel"]) for ledger in document["ledgers"] if not ledger["ok"]]
    assert failing == [("Org2.peer0", "ch1")]


def _drop_last_index_entry(blocks: Path, cut: int) -> bytes:
    """Cut ``cut`` bytes off the end of a block store's index; return the original index."""
    index_path = blocks / "index"
    original = index_path.read_bytes()
    index_path.write_bytes(original[: len(original) - cut])
    return original


def _sees_whole_ledger_or_fails(ledger: LedgerReport, height: int) -> bool:
    """Verify either audited every stored block or refused the copy — never 'sound' with blocks left out."""
    return not ledger.ok or ledger.warnings != [] or ledger.blocks == height


@pytest.mark.parametrize("cut", [INDEX_ENTRY.size, 7], ids=["whole-entry", "partial-entry"])
def test_lost_index_entry_is_repaired_on_open(data: tuple[Path, Path], tmp_path: Path, cut: int) -> None:
    """Losing the tail of an index is repaired when a node opens the store: the index is rebuilt byte for byte."""
    _, pristine = data
    folder = tmp_path / "net"
    shutil.copytree(pristine, folder)
    peer_blocks = folder / "peers" / "Org1.peer0" / "ch1" / "blocks"
    orderer_blocks = folder / "orderer" / "ch1" / "blocks"
    originals = {blocks: _drop_last_index_entry(blocks, cut) for blocks in (peer_blocks, orderer_blocks)}
    heights = {blocks: len(original) // INDEX_ENTRY.size for blocks, original in originals.items()}

    # Verify (read-only, changes nothing) must not call the peer's copy sound while leaving its last block out:
    # the peer's state database already holds that block's effects.
    peer_report = report_of(audit_network(folder), "Org1.peer0", "ch1")
    assert _sees_whole_ledger_or_fails(peer_report, heights[peer_blocks]), peer_report
    for blocks, original in originals.items():
        assert (blocks / "index").read_bytes() == original[: len(original) - cut], "verify wrote to the index"

    # A block store opened for writing re-indexes the complete record the index lost ...
    with BlockStore(peer_blocks) as store:
        assert store.height == heights[peer_blocks]
    assert (peer_blocks / "index").read_bytes() == originals[peer_blocks]

    # ... and so does the network when it opens (here: the orderer's copy), without adding or losing a block.
    network = EmbeddedNetwork(folder)
    try:
        assert network.orderer.height("ch1") == heights[orderer_blocks]
        for channel in ("ch1", "ch2"):
            network.wait_for_height(channel, network.orderer.height(channel))
        assert network.peer("Org1").channel("ch1").ledger.stored_height == heights[peer_blocks]
    finally:
        network.close()
    for blocks, original in originals.items():
        assert (blocks / "index").read_bytes() == original, f"{blocks} index differs after repair"
    code, document = run_verify(folder)
    assert code == 0, document
    blocks_seen = {(ledger["node"], ledger["channel"]): ledger["blocks"] for ledger in document["ledgers"]}
    assert blocks_seen[("Org1.peer0", "ch1")] == heights[peer_blocks]
    assert blocks_seen[("orderer", "ch1")] == heights[orderer_blocks]


def test_verify_does_not_skip_unindexed_orderer_block(data: tuple[Path, Path], tmp_path: Path) -> None:
    """With the orderer's last index entry lost, verify audits (or at least flags) the block it no longer indexes."""
    _, pristine = data
    folder = tmp_path / "net"
    shutil.copytree(pristine, folder)
    blocks = folder / "orderer" / "ch1" / "blocks"
    original = _drop_last_index_entry(blocks, INDEX_ENTRY.size)
    report = report_of(audit_network(folder), "orderer", "ch1")
    assert _sees_whole_ledger_or_fails(report, len(original) // INDEX_ENTRY.size), report
