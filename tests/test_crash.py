"""Crash safety: SIGKILL a committing process at random moments; nothing acknowledged is lost, nothing is torn.

The test creates a network (three organisations, the asset-transfer contract on both channels) once, then runs
a driver process many times on the same data folder. The driver reopens the network (recovering from the last
kill), keeps several transactions in flight from a few client threads, and prints ``ACK <tx_id> <channel>`` after
each transaction its client saw committed as valid. The test kills it with SIGKILL after a random delay (or right
after its first acknowledgement), then checks, in this process:

* the audit of the crashed folder, before anything is recovered, is clean (no half-written block is indexed, no
  state is ahead of its blocks) — checked every third run and whenever a block store was left with a tail;
* the network reopens, every peer catches up with the orderer, and every acknowledged transaction is committed
  as VALID on every peer of its channel;
* after closing it, no block store ends in a partial or unindexed record, and the audit is clean again: every
  block record intact and chained, and each peer's state database equal to a replay of its blocks.

The acknowledgement check covers the transactions acknowledged in all runs so far, not only the last one.

Delays come from ``random.Random(SEED)`` (override with ``CONSORTIA_CRASH_SEED``).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import ASSET_TRANSFER, three_org_spec
from consortia.ledger.codes import Code
from consortia.ledger.config import BatchConfig
from consortia.network.embedded import EmbeddedNetwork
from consortia.peer.audit import audit_network

SEED = int(os.environ.get("CONSORTIA_CRASH_SEED", "5150"))
RUNS = 24
SRC = Path(__file__).resolve().parents[1] / "src"
CHANNEL_ORGS = {"ch1": ("Org1", "Org2", "Org3"), "ch2": ("Org2", "Org3")}
INDEX_ENTRY_SIZE = 16
RECORD_HEADER_SIZE = 12

DRIVER = '''
"""Reopen the network in argv[1] and commit transactions until killed; print ACK <tx_id> <channel> per commit."""

import random
import sys
import threading
import time
from pathlib import Path

from consortia.client import GatewayError
from consortia.network.embedded import EmbeddedNetwork

folder, run = Path(sys.argv[1]), int(sys.argv[2])
network = EmbeddedNetwork(folder)
output = threading.Lock()


def emit(line: str) -> None:
    with output:
        sys.stdout.write(line + "\\n")
        sys.stdout.flush()


def client(org: str, channel: str) -> None:
    contract = network.gateway(org).network(channel).contract("asset-transfer")
    window = threading.Semaphore(3)
    rng = random.Random(f"{run}-{org}-{channel}")
    number = 0
    while True:
        window.acquire()
        number += 1
        if number % 4 == 0:
            function, args = "touch", (f"hot-{number % 3}",)
        else:
            function, args = "create", (f"r{run}-{org}-{number}", "blue", 1 + number % 7, number)
        try:
            future = contract.submit_async(function, *args)
        except GatewayError:
            window.release()
            continue

        def done(result, channel=channel) -> None:
            try:
                emit(f"ACK {result.result().tx_id} {channel}")
            except GatewayError:
                pass  # an MVCC conflict on a hot key: committed as invalid, never acknowledged
            finally:
                window.release()

        future.add_done_callback(done)
        time.sleep(rng.uniform(0.02, 0.07))


threads = [
    threading.Thread(target=client, args=(org, channel), daemon=True)
    for org, channel in (("Org1", "ch1"), ("Org2", "ch1"), ("Org3", "ch2"))
]
for thread in threads:
    thread.start()
while True:
    time.sleep(1)
'''


def tail_of_store(blocks: Path) -> str:
    """Describe what a crash left after the last indexed record: 'clean', 'unindexed' or 'torn'."""
    index = (blocks / "index").read_bytes()
    whole = len(index) - len(index) % INDEX_ENTRY_SIZE
    if whole == 0:
        return "clean"
    segment = int.from_bytes(index[whole - INDEX_ENTRY_SIZE : whole - 12], "big")
    offset = int.from_bytes(index[whole - 12 : whole - 4], "big")
    length = int.from_bytes(index[whole - 4 : whole], "big")
    end = offset + RECORD_HEADER_SIZE + length
    size = (blocks / f"segment-{segment:06d}.blk").stat().st_size
    later = [p for p in blocks.glob("segment-*.blk") if int(p.stem.split("-")[1]) > segment]
    if size == end and not later and whole == len(index):
        return "clean"
    remainder = (blocks / f"segment-{segment:06d}.blk").read_bytes()[end:]
    if len(remainder) >= RECORD_HEADER_SIZE:
        stored = int.from_bytes(remainder[4:8], "big")
        if len(remainder) == RECORD_HEADER_SIZE + stored:
            return "unindexed"
    return "torn"


class Driver:
    """One run of the driver process, with its acknowledgements collected by a reader thread."""

    def __init__(self, script: Path, folder: Path, run: int, log: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONUNBUFFERED": "1"}
        self.log = log
        self._stderr = open(log, "wb")  # noqa: SIM115 - closed in kill()
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(folder), str(run)],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        self.acked: list[tuple[str, str]] = []
        self.first_ack = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            if not raw.endswith(b"\n"):
                continue  # cut off by the kill
            parts = raw.decode().split()
            if len(parts) == 3 and parts[0] == "ACK" and len(parts[1]) == 64:
                self.acked.append((parts[1], parts[2]))
                self.first_ack.set()

    def kill(self) -> None:
        """SIGKILL the driver (which must still be running) and collect everything it printed."""
        still_running = self.process.poll() is None
        if still_running:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._reader.join(timeout=30)
        self.process.stdout.close()  # type: ignore[union-attr]
        self._stderr.close()
        assert still_running, f"the driver exited by itself ({self.process.returncode}): {self.stderr()}"
        assert self.process.returncode == -signal.SIGKILL

    def stderr(self) -> str:
        """The last lines the driver wrote to standard error."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])


@pytest.fixture
def crash_folder(tmp_path: Path) -> Path:
    """A fresh, closed network with asset-transfer deployed on both channels and one committed asset on each."""
    folder = tmp_path / "net"
    network = EmbeddedNetwork.create(folder, three_org_spec(BatchConfig(max_transactions=5, timeout_ms=20)))
    try:
        network.deploy("ch1", ASSET_TRANSFER, policy="AND('Org1.peer','Org2.peer')")
        network.deploy("ch2", ASSET_TRANSFER, policy="AND('Org2.peer','Org3.peer')")
        network.gateway("Org1").network("ch1").contract("asset-transfer").submit("create", "seed", "red", 1, 1)
        network.gateway("Org3").network("ch2").contract("asset-transfer").submit("create", "seed", "red", 1, 1)
        for channel in CHANNEL_ORGS:
            network.wait_for_height(channel, network.orderer.height(channel))
    finally:
        network.close()
    return folder


def check_recovered(folder: Path, acked: list[tuple[str, str]], context: str) -> dict[str, int]:
    """Reopen the network; every peer catches up and holds every acknowledged transaction as VALID."""
    network = EmbeddedNetwork(folder)
    try:
        heights = {channel: network.orderer.height(channel) for channel in CHANNEL_ORGS}
        for channel, height in heights.items():
            network.wait_for_height(channel, height)
            for org in CHANNEL_ORGS[channel]:
                ledger = network.peer(org).channel(channel).ledger
                assert ledger.height == ledger.stored_height == height, (
                    f"{org}/{channel}: committed {ledger.height}, stored {ledger.stored_height}, orderer {height}; "
                    f"{context}"
                )
        for tx_id, channel in acked:
            for org in CHANNEL_ORGS[channel]:
                position = network.peer(org).channel(channel).ledger.state.tx_position(tx_id)
                assert position is not None, f"acknowledged {tx_id} is missing on {org}/{channel}; {context}"
                assert position[2] == Code.VALID, f"acknowledged {tx_id} is {position} on {org}/{channel}; {context}"
    finally:
        network.close()
    return heights


def test_sigkill_at_random_moments_loses_nothing(crash_folder: Path, tmp_path: Path) -> None:
    """≥ 20 SIGKILLs of a committing process: acknowledged transactions survive, blocks are whole, state = replay."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    rng = random.Random(SEED)
    all_acked: list[tuple[str, str]] = []
    tails: Counter[str] = Counter()
    behind = 0
    heights: dict[str, int] = {}
    for run in range(RUNS):
        mode = "first-ack" if run % 4 == 3 else "delay"
        delay = rng.uniform(0.0, 0.05) if mode == "first-ack" else rng.uniform(0.3, 2.0)
        context = f"run {run} ({mode}, {delay:.3f} s; seed {SEED})"
        driver = Driver(script, crash_folder, run, tmp_path / f"driver-{run}.log")
        try:
            if mode == "first-ack":
                assert driver.first_ack.wait(60), f"no acknowledgement within 60 s; {context}: {driver.stderr()}"
            time.sleep(delay)
        finally:
            driver.kill()
        all_acked.extend(driver.acked)
        context += f", {len(driver.acked)} acknowledged"

        # What the kill left, before anything recovers it: a torn or unindexed tail must be invisible to the
        # audit. (Audited every third run and whenever a tail is not clean, to keep the test fast.)
        left = [tail_of_store(blocks) for blocks in sorted(crash_folder.glob("**/blocks"))]
        tails.update(left)
        if run % 3 == 0 or set(left) != {"clean"}:
            crashed = audit_network(crash_folder)
            assert crashed.ok, f"audit of the crashed folder: {crashed.first_failure}; {context}"
            behind += sum(1 for ledger in crashed.ledgers if any("state database" in w for w in ledger.warnings))

        heights = check_recovered(crash_folder, all_acked, context)
        for blocks in sorted(crash_folder.glob("**/blocks")):
            assert tail_of_store(blocks) == "clean", f"{blocks} still ends in a partial record; {context}"

        recovered = audit_network(crash_folder)
        assert recovered.ok, f"audit after recovery: {recovered.first_failure}; {context}"
        for ledger in recovered.ledgers:
            assert ledger.warnings == [], f"{ledger.node}/{ledger.channel}: {ledger.warnings}; {context}"
            assert ledger.blocks == heights[ledger.channel], f"{ledger.node}/{ledger.channel}; {context}"
    print(
        f"seed {SEED}: {RUNS} kills, {len(all_acked)} acknowledged, heights {heights}, "
        f"store tails after kills {dict(tails)}, "
        f"{behind} state databases behind their blocks in the crashed folders audited"
    )
    assert len(all_acked) >= RUNS, f"too few acknowledged transactions to prove anything ({len(all_acked)})"
    assert len({tx_id for tx_id, _ in all_acked}) == len(all_acked), "a transaction was acknowledged twice"
