"""Capture jobs persist (issue 17, item 5): ``POST /epcis/capture``'s jobs are recorded in the data folder, so a
job's status survives a restart of ``consortia serve``; a job a crash interrupted is settled by what the ledger
holds — completed with its transaction, or failed with a reason a person can act on — and never lost."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.domain.document import read_document
from consortia.apps.coldchain.service.capture import (
    INTERRUPTED,
    PROCESS,
    CaptureJob,
    CaptureJobs,
    Capturer,
    contract_of,
)
from consortia.apps.coldchain.service.store import JobStore, StoredJob, jobs_path
from consortia.client.errors import GatewayError
from consortia.client.remote import RemoteClient
from consortia.gateway.server.app import create_app
from consortia.identity import SigningIdentity
from consortia.ledger.config import BatchConfig
from consortia.network.embedded import EmbeddedNetwork

from .cc_support import EVENT_HASH, load

FIRST = EVENT_HASH / "ReferenceEventHashAlgorithm2.jsonld"
SECOND = EVENT_HASH / "epcisDocWithSingleEvent.jsonld"
GONE = "elsewhere:1:0123456789ab"
"""The owner recorded by a server process that no longer runs."""


def _interrupted_row(store: JobStore, capture_id: str, events: int, pending: tuple[str, ...]) -> None:
    """A job as a server that crashed while it ran left it."""
    job = CaptureJob(capture_id, int(time.time() * 1000), events, captured_by="BusanFishMarket/client")
    store.save(StoredJob(capture_id, job.created_ms, True, GONE, job.as_dict(), pending))


def test_jobs_are_read_back_from_their_store_by_another_instance(cc_network, tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    jobs = CaptureJobs(store=JobStore(path))
    capturer = Capturer(contract_of(cc_network.gateway(consortium.FISH_MARKET)))
    started = jobs.start(capturer, read_document(load(FIRST)), "BusanFishMarket/client")
    finished = jobs.wait(started.capture_id)
    assert finished is not None and finished.success is True and finished.tx_id
    later = CaptureJobs(store=JobStore(path))  # as a restarted server opens it
    again = later.get(started.capture_id)
    assert again is not None and again.as_dict() == finished.as_dict()
    assert [j.capture_id for j in later.all()] == [started.capture_id]
    assert later.get("no-such-job") is None


def test_the_gateway_service_keeps_its_jobs_in_the_data_folder(cc_network) -> None:
    """The service is built with the folder's job store (not an in-memory one switched later)."""
    app = create_app(cc_network)
    jobs: CaptureJobs = app.state.coldchain_jobs
    assert Path(jobs.store.path) == jobs_path(cc_network.directory)
    assert jobs_path(cc_network.directory).is_file()


def test_an_interrupted_job_whose_transaction_committed_is_completed(cc_network, tmp_path: Path) -> None:
    contract = contract_of(cc_network.gateway(consortium.FISH_MARKET))
    document = read_document(load(FIRST))
    committed = Capturer(contract).capture(document, "5b8f0a64-0c1e-4d2b-9a7f-3e6d5c4b3a21")
    store = JobStore(tmp_path / "jobs.sqlite")
    _interrupted_row(store, committed.capture_id, 1, document.event_ids)
    jobs = CaptureJobs(store=store)
    job = jobs.get(committed.capture_id)
    assert job is not None and job.running and jobs.interrupted(job)
    settled = jobs.settle(job, contract)
    assert settled.running is False and settled.success is True and settled.errors == []
    assert (settled.tx_id, settled.block, settled.event_ids) == (
        committed.tx_id,
        committed.block,
        list(document.event_ids),
    )
    stored = CaptureJobs(store=JobStore(tmp_path / "jobs.sqlite")).get(committed.capture_id)
    assert stored is not None and stored.success is True and not stored.running  # the settlement is recorded


@pytest.mark.parametrize("sent", [True, False], ids=["submitted", "before-submission"])
def test_an_interrupted_job_whose_events_are_not_on_the_ledger_failed(cc_network, tmp_path: Path, sent) -> None:
    contract = contract_of(cc_network.gateway(consortium.FISH_MARKET))
    document = read_document(load(SECOND))
    jobs = CaptureJobs(store=JobStore(tmp_path / "jobs.sqlite"))
    _interrupted_row(jobs.store, "7d1e2f3a-4b5c-4d6e-8f70-1a2b3c4d5e6f", 1, document.event_ids if sent else ())
    job = jobs.get("7d1e2f3a-4b5c-4d6e-8f70-1a2b3c4d5e6f")
    assert job is not None
    settled = jobs.settle(job, contract)
    assert settled.running is False and settled.success is False and settled.code == INTERRUPTED
    (error,) = settled.errors
    assert error["code"] == INTERRUPTED and "send the document again" in error["message"]
    assert ("before its transaction committed" if sent else "before it was sent") in error["message"]
    # and it is safe advice: sending it again captures it
    assert Capturer(contract).capture(document).captured_ids == document.event_ids


def test_a_job_is_left_running_while_the_ledger_cannot_say(tmp_path: Path) -> None:
    class Unreachable:
        def evaluate(self, function: str, *args: Any) -> Any:
            raise GatewayError("UNAVAILABLE", "no peer answers")

    jobs = CaptureJobs(store=JobStore(tmp_path / "jobs.sqlite"))
    _interrupted_row(jobs.store, "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", 1, ("urn:uuid:one",))
    job = jobs.get("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
    assert job is not None
    kept = jobs.settle(job, Unreachable())  # type: ignore[arg-type]
    assert kept.running is True and jobs.interrupted(kept)  # still there, settled at a later look


def test_this_process_running_jobs_are_not_interrupted_and_pruning_keeps_them(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite")
    mine = CaptureJob("11111111-2222-4333-8444-555555555555", 1, 1)
    store.save(StoredJob(mine.capture_id, 1, True, PROCESS, mine.as_dict(), ()))
    for n in range(3):
        done = CaptureJob(f"00000000-0000-4000-8000-00000000000{n}", 10 + n, 1, running=False, success=True)
        store.save(StoredJob(done.capture_id, done.created_ms, False, GONE, done.as_dict(), ()))
    jobs = CaptureJobs(keep=1, store=store)
    job = jobs.get(mine.capture_id)
    assert job is not None and job.running and not jobs.interrupted(job)
    store.prune(1)
    assert {j.capture_id for j in jobs.all()} == {mine.capture_id, "00000000-0000-4000-8000-000000000002"}


# -- a real ``consortia serve`` killed and restarted ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(folder: Path, port: int) -> subprocess.Popen[str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "consortia", "serve", "--data", str(folder), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"consortia serve did not start: {server.stderr.read() if server.stderr else ''}")
        time.sleep(0.3)


def _stop(server: subprocess.Popen[str]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


@pytest.fixture
def slow_folder(tmp_path: Path) -> Path:
    """A cold-chain folder whose orderer cuts a lone transaction's block only after 4 s (so a kill can beat it)."""
    folder = tmp_path / "data"
    network = EmbeddedNetwork.create(
        folder, consortium.network_spec(BatchConfig(max_transactions=200, timeout_ms=4000))
    )
    try:
        consortium.deploy(network)
    finally:
        network.close()
    return folder


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    try:
        yield started
    finally:
        for server in started:
            _stop(server)


def _finished(client: RemoteClient, job: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while job["running"] and time.monotonic() < deadline:
        time.sleep(0.2)
        job = client.get(f"/epcis/capture/{job['captureID']}")
    return job


def test_a_capture_job_survives_consortia_serve_killed_and_restarted(slow_folder: Path, servers) -> None:
    identity = SigningIdentity.load(slow_folder / "crypto" / consortium.FISH_MARKET / "users" / "client")
    port = _free_port()
    servers.append(_serve(slow_folder, port))
    url = f"http://127.0.0.1:{port}"
    client = RemoteClient(url, identity)
    try:
        done = _finished(client, client.request("POST", "/epcis/capture", load(FIRST)))
        assert done["success"] is True and done["txID"], done
        # a job whose transaction waits in the orderer's pending batch when the server is killed
        cut_short = client.request("POST", "/epcis/capture", load(SECOND))
        os.kill(servers[0].pid, signal.SIGKILL)
        servers[0].wait(timeout=30)
    finally:
        client.close()
    recorded = JobStore(jobs_path(slow_folder))
    try:
        row = recorded.get(cut_short["captureID"])
        assert row is not None and row.running and len(row.pending) == 1  # it was running when the server died
    finally:
        recorded.close()

    servers.append(_serve(slow_folder, port))
    client = RemoteClient(url, identity)
    try:
        assert client.get(f"/epcis/capture/{done['captureID']}") == done  # the finished job, as it was
        settled = client.get(f"/epcis/capture/{cut_short['captureID']}")
        assert settled["running"] is False and settled["success"] is False, settled
        assert settled["code"] == INTERRUPTED and "send the document again" in settled["errors"][0]["message"]
        listed = client.get("/epcis/capture")["captureJobs"]
        assert [j["captureID"] for j in listed] == [cut_short["captureID"], done["captureID"]]
        # the advice holds: sent again, the document is captured (nothing of it reached the ledger)
        again = _finished(client, client.request("POST", "/epcis/capture", load(SECOND)))
        assert again["success"] is True and again["eventIDs"] == list(row.pending) and again["already_captured"] == []
        assert client.get(f"/epcis/events/{quote(row.pending[0], safe='')}")["eventID"] == row.pending[0]
    finally:
        client.close()
