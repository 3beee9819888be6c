"""The cost of a ledger as it grows: build one of N transactions, then time what an auditor and a reader do with it.

Building goes through the real write path, only with big blocks: one organisation's client endorses each
transaction with its peer (the contract runs, the peer signs), signs the envelope, the solo orderer admits it and
cuts and signs blocks of up to :data:`BLOCK_TRANSACTIONS`, and the peer validates every signature and commits
each block durably (block store synced, history tree, state database). Every transaction ``touch``-es a key of
its own, so the state database grows with the ledger. A folder that already holds a scale ledger is reused, and
extended when it holds fewer than N transactions.

Then, on the peer's copy of the ledger, opened read-only as ``consortia proof`` and ``consortia verify`` open it:

* history-tree inclusion proofs of random transactions, generated and verified (RFC 9162, the ledger-wide tree);
* the whole proof document of a random transaction by its id (``consortia proof``: state-DB lookup, block read,
  both inclusion proofs, signed header) and its full check, orderer signature included;
* consistency proofs between a random earlier size and the current one, generated and verified;
* state-database point reads of random keys and range reads of :data:`RANGE_ROWS` rows;
* the audit of the peer's copy (``consortia verify``'s code path), as transactions per second, with the Ed25519
  verifications it made per transaction and the bound they set on this machine;
* bytes on disk per transaction, and this process's peak resident memory.
"""

from __future__ import annotations

import json
import os
import random
import resource
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from consortia.bench.stats import Summary
from consortia.channel.rules import read_genesis
from consortia.client.errors import GatewayError
from consortia.client.sdk import Contract, SubmitResult
from consortia.identity.batch import verification_count
from consortia.ledger import merkle
from consortia.ledger.config import BatchConfig
from consortia.ledger.history import HistoryTree
from consortia.ledger.ledger import ChannelLedger
from consortia.ledger.proof import build_transaction_proof, check_proof, proof_holds
from consortia.ledger.transaction import open_envelope
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec
from consortia.peer.audit import audit_ledger

MARKER = "scale.json"
"""The file that marks a folder as a scale ledger and records how many keys its transactions touched."""

FORMAT = "consortia-scale/v1"
ORG = "Org1"
PEER = "Org1.peer0"
CHANNEL = "scale"
CONTRACT = "asset-transfer"
ASSET_TRANSFER = "consortia.samples.asset_transfer:AssetTransfer"
POLICY = "AND('Org1.peer')"
BLOCK_TRANSACTIONS = 2000
"""Transactions per block while building (big blocks: the per-block costs, an fsync first, are paid less often)."""
BLOCK_BYTES = 16 << 20
WINDOW = 2500
"""Transactions in flight per client thread while building."""
CLIENTS = 2
RANGE_ROWS = 100

T = TypeVar("T")

Progress = Callable[[int, int], None]
"""(transactions in the ledger, transactions wanted)."""


class ScaleError(Exception):
    """The folder cannot be used for a scale ledger, or building it failed; the message says why."""


@dataclass(frozen=True)
class BuildReport:
    """How the ledger came to be."""

    transactions: int
    blocks: int
    reused: bool
    added: int
    build_seconds: float
    build_tx_per_s: float
    failed: dict[str, int]


@dataclass(frozen=True)
class ScaleReport:
    """What the ledger of ``transactions`` costs to prove, read, audit and keep."""

    transactions: int
    blocks: int
    reused: bool
    added: int
    build_seconds: float
    build_tx_per_s: float
    build_failed: dict[str, int]
    samples: int
    inclusion_proof_generate: Summary
    inclusion_proof_verify: Summary
    transaction_proof_generate: Summary
    """``consortia proof``'s document: lookup by id, block read, block and history proofs, header."""
    transaction_proof_check: Summary
    """Every step of the document's check, certificate and Ed25519 signature included."""
    consistency_proof_generate: Summary
    consistency_proof_verify: Summary
    state_point_read: Summary
    state_point_read_hits: int
    state_range_read: Summary
    state_range_rows: int
    verify_seconds: float
    verify_tx_per_s: float
    verify_ok: bool
    verify_error: str | None
    verify_signatures_per_tx: float
    ed25519_verify_per_s_per_core: float
    verify_bound_tx_per_s: float
    """All cores verifying signatures and doing nothing else."""
    disk_bytes: int
    disk_bytes_per_tx: float
    disk_bytes_by_part: dict[str, int]
    peak_rss_after_build_mib: float
    peak_rss_mib: float

    def to_json(self) -> dict[str, object]:
        """The report as plain JSON values."""
        return asdict(self)


def peer_ledger_dir(folder: Path) -> Path:
    """The peer's copy of the scale channel's ledger."""
    return folder / "peers" / PEER / CHANNEL


def _read_marker(folder: Path) -> int | None:
    """The keys the folder's transactions touched, None for an empty or absent folder; ScaleError for anything else."""
    if not folder.exists():
        return None
    if not folder.is_dir():
        raise ScaleError(f"{folder} is a file, not a folder for a scale ledger")
    marker = folder / MARKER
    if not marker.is_file():
        if any(folder.iterdir()):
            raise ScaleError(f"{folder} is not empty and holds no scale ledger ({MARKER} is missing)")
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScaleError(f"{marker} is unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("keys"), int):
        raise ScaleError(f"{marker} is not a {FORMAT} marker: found {str(data)[:120]}")
    return data["keys"]


def _write_marker(folder: Path, keys: int) -> None:
    path = folder / MARKER
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"format": FORMAT, "keys": keys}), encoding="utf-8")
    os.replace(temporary, path)


def key_of(number: int) -> str:
    """The asset id touched by the build's transaction ``number``."""
    return f"s{number:010d}"


def state_key(number: int) -> str:
    """The state-database key of asset ``key_of(number)`` (the contract's ``asset:`` prefix)."""
    return f"asset:{key_of(number)}"


def build_ledger(folder: Path, transactions: int, *, progress: Progress | None = None) -> BuildReport:
    """Make ``folder`` hold a scale ledger of at least ``transactions`` transactions; reuse what is there."""
    if transactions < 1:
        raise ScaleError(f"a scale ledger holds at least one transaction, asked for {transactions}")
    marker = _read_marker(folder)
    began = time.perf_counter()
    if marker is None:
        spec = NetworkSpec(
            orgs=(OrgSpec(ORG),),
            channels=(
                ChannelSpec(
                    CHANNEL,
                    (ORG,),
                    BatchConfig(max_transactions=BLOCK_TRANSACTIONS, max_bytes=BLOCK_BYTES, timeout_ms=200),
                ),
            ),
        )
        network = EmbeddedNetwork.create(folder, spec)
        keys = 0
        try:
            network.deploy(CHANNEL, ASSET_TRANSFER, policy=POLICY)
        except BaseException:
            network.close()
            raise
        _write_marker(folder, keys)
    else:
        keys = marker
        network = EmbeddedNetwork(folder)
    failed: Counter[str] = Counter()
    try:
        channel = network.peer(ORG).channel(CHANNEL)
        start_size = channel.ledger.history_range().size
        reused = marker is not None
        rounds = 0
        while (size := channel.ledger.history_range().size) < transactions:
            rounds += 1
            if rounds > 3:
                raise ScaleError(
                    f"the ledger holds {size} of the {transactions} transactions asked for after 3 rounds; "
                    f"failures: {dict(failed)}"
                )
            needed = transactions - size
            # The marker is written before the keys are used, so a reused ledger never touches one twice.
            _write_marker(folder, keys + needed)
            _drive(network, keys, needed, failed, lambda: channel.ledger.history_range().size, transactions, progress)
            keys += needed
        final = channel.ledger.history_range().size
        blocks = channel.ledger.height
    finally:
        network.close()
    elapsed = time.perf_counter() - began
    added = final - start_size
    return BuildReport(
        transactions=final,
        blocks=blocks,
        reused=reused,
        added=added,
        build_seconds=round(elapsed, 2),
        build_tx_per_s=round(added / elapsed, 1) if added else 0.0,
        failed=dict(failed),
    )


def _drive(
    network: EmbeddedNetwork,
    first_key: int,
    count: int,
    failed: Counter[str],
    size: Callable[[], int],
    wanted: int,
    progress: Progress | None,
) -> None:
    """Submit ``count`` touches of fresh keys from a few client threads, each with a window in flight."""
    lock = threading.Lock()
    stop = threading.Event()
    numbers = iter(range(first_key, first_key + count))
    contracts = [network.gateway(ORG).network(CHANNEL).contract(CONTRACT) for _ in range(CLIENTS)]

    def client(contract: Contract) -> None:
        slots = threading.BoundedSemaphore(WINDOW)

        def done(future: Future[SubmitResult]) -> None:
            try:
                future.result()
            except GatewayError as exc:
                with lock:
                    failed[exc.code] += 1
            finally:
                slots.release()

        while not stop.is_set():
            with lock:
                number = next(numbers, None)
            if number is None:
                break
            slots.acquire()
            try:
                future = contract.submit_async("touch", key_of(number))
            except GatewayError as exc:
                slots.release()
                with lock:
                    failed[exc.code] += 1
                continue
            future.add_done_callback(done)
        for _ in range(WINDOW):  # every slot back: every transaction of this client has an outcome
            slots.acquire()

    threads = [
        threading.Thread(target=client, args=(c,), name=f"scale-{i}", daemon=True) for i, c in enumerate(contracts)
    ]
    for thread in threads:
        thread.start()
    try:
        while any(thread.is_alive() for thread in threads):
            if progress is not None:
                progress(size(), wanted)
            threads[0].join(0.25)
    finally:
        # Interrupted (Ctrl-C) or not, the clients finish what they have in flight before the network closes: a
        # ledger closed under a running endorsement is a crash, and what is committed stays for the next run.
        stop.set()
        for thread in threads:
            thread.join()
    if progress is not None:
        progress(size(), wanted)


def _peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _disk(folder: Path) -> dict[str, int]:
    parts: Counter[str] = Counter()
    peer = peer_ledger_dir(folder)
    for root, _, files in os.walk(folder):
        here = Path(root)
        for name in files:
            try:
                size = (here / name).stat().st_size
            except FileNotFoundError:
                continue
            if here.is_relative_to(peer):
                relative = here.relative_to(peer)
                part = f"peer {relative.parts[0]}" if relative.parts else f"peer {name}"
            elif here.is_relative_to(folder / "orderer"):
                part = "orderer"
            else:
                part = "other"
            parts[part] += size
    return dict(sorted(parts.items()))


def _timed(action: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def measure(
    folder: Path,
    build: BuildReport,
    *,
    samples: int = 300,
    seed: int = 16,
    verify_rate: float,
    cores: int,
    progress: Callable[[str], None] | None = None,
) -> ScaleReport:
    """Time proofs, reads and the audit on the peer's copy of the scale ledger in ``folder``."""
    say = progress or (lambda _: None)
    keys = _read_marker(folder)
    if keys is None:
        raise ScaleError(f"{folder} holds no scale ledger")
    peak_after_build = _peak_rss_mib()
    rng = random.Random(seed)
    directory = peer_ledger_dir(folder)
    history = HistoryTree(directory / "history", read_only=True)
    ledger = ChannelLedger(directory, read_only=True)
    try:
        size = history.size
        height = ledger.height
        if size < 2 or height < 2:
            raise ScaleError(f"the ledger in {directory} is too small to measure ({size} transactions)")
        root = history.root(size)
        say("inclusion proofs")
        generate, verify = [], []
        for _ in range(samples):
            index = rng.randrange(size)
            took, proof = _timed(partial(history.inclusion_proof, index, size))
            generate.append(took)
            leaf = history.leaf(index)
            took, holds = _timed(partial(merkle.verify_inclusion, leaf, index, size, proof, root))
            if holds is not True:
                raise ScaleError(f"the inclusion proof of leaf {index} in a tree of {size} does not verify")
            verify.append(took)
        say("transaction proofs")
        config, _ = read_genesis(ledger.block(0))
        cas = config.orderer_cas()
        documents, checks = [], []
        for _ in range(samples):
            block = ledger.block(rng.randrange(1, height))
            tx_id = open_envelope(block.transactions[rng.randrange(len(block.transactions))]).tx_id
            took, document = _timed(partial(build_transaction_proof, ledger, tx_id, cas, history))
            documents.append(took)
            took, steps = _timed(partial(check_proof, document))
            if not proof_holds(steps):
                raise ScaleError(f"the proof of transaction {tx_id} does not hold: {steps}")
            checks.append(took)
        say("consistency proofs")
        consistency, consistency_verify = [], []
        for _ in range(samples):
            earlier = rng.randrange(1, size)
            took, proof = _timed(partial(history.consistency_proof, earlier, size))
            consistency.append(took)
            earlier_root = history.root(earlier)
            took, holds = _timed(partial(merkle.verify_consistency, earlier, size, proof, earlier_root, root))
            if holds is not True:
                raise ScaleError(f"the consistency proof from {earlier} to {size} does not verify")
            consistency_verify.append(took)
        say("state reads")
        points, ranges = [], []
        hits = rows = 0
        for _ in range(samples):
            number = rng.randrange(max(1, keys))
            took, value = _timed(partial(ledger.state.get, CONTRACT, state_key(number)))
            points.append(took)
            hits += value is not None
            took, found = _timed(
                partial(ledger.state.range, CONTRACT, state_key(number), state_key(number + RANGE_ROWS), RANGE_ROWS)
            )
            ranges.append(took)
            rows += len(found)
    finally:
        ledger.close()
        history.close()
    say(f"auditing {size} transactions (consortia verify's code path)")
    verified_before = verification_count()
    took, audit = _timed(partial(audit_ledger, directory, PEER, CHANNEL, peer=True))
    verified = verification_count() - verified_before
    audited = audit.transactions
    per_tx = verified / audited if audited else 0.0
    disk = _disk(folder)
    total = sum(disk.values())
    return ScaleReport(
        transactions=size,
        blocks=height,
        reused=build.reused,
        added=build.added,
        build_seconds=build.build_seconds,
        build_tx_per_s=build.build_tx_per_s,
        build_failed=build.failed,
        samples=samples,
        inclusion_proof_generate=Summary.of(generate),
        inclusion_proof_verify=Summary.of(verify),
        transaction_proof_generate=Summary.of(documents),
        transaction_proof_check=Summary.of(checks),
        consistency_proof_generate=Summary.of(consistency),
        consistency_proof_verify=Summary.of(consistency_verify),
        state_point_read=Summary.of(points),
        state_point_read_hits=hits,
        state_range_read=Summary.of(ranges),
        state_range_rows=rows,
        verify_seconds=round(took, 2),
        verify_tx_per_s=round(audited / took, 1) if took else 0.0,
        verify_ok=audit.ok,
        verify_error=None if audit.ok else f"block {audit.bad_block}: {audit.error}",
        verify_signatures_per_tx=round(per_tx, 2),
        ed25519_verify_per_s_per_core=round(verify_rate),
        verify_bound_tx_per_s=round(cores * verify_rate / per_tx, 1) if per_tx else 0.0,
        disk_bytes=total,
        disk_bytes_per_tx=round(total / size, 1),
        disk_bytes_by_part=disk,
        peak_rss_after_build_mib=peak_after_build,
        peak_rss_mib=_peak_rss_mib(),
    )
