"""Capturing EPCIS documents on the ledger, and the capture jobs the EPCIS REST binding reports on.

:class:`Capturer` sends one validated :class:`~consortia.apps.coldchain.document.Document` to the contract as one
transaction — the unit of "whole or nothing" — through the client SDK. The document travels as *transient data*
(it reaches the endorsing peers, never the block) with one fresh random salt per event; the transaction's only
arguments are the Merkle root and leaf count of the events' public projections
(:mod:`consortia.apps.coldchain.domain.commitment`), which the capturer computes here and the contract recomputes. The
leaves carry the event IDs, so a root the contract accepts means it assigned the IDs the document's validation
computed. A document that recalls lots needs the lots' owners and the inspection agency to endorse it: the
capturer asks the contract who they are and collects their endorsements. The EPCIS 2.0 REST binding makes capture
asynchronous (``POST /capture`` answers ``202 Accepted`` with a capture job, ``GET /capture/{id}`` reports it);
:class:`CaptureJobs` keeps those jobs in memory, each resolved when its transaction commits or fails.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from consortia.apps.coldchain.consortium import CHANNEL, CONTRACT
from consortia.apps.coldchain.domain import commitment
from consortia.apps.coldchain.domain.document import Document, DocumentRejected, Rejection
from consortia.apps.coldchain.domain.facts import event_facts
from consortia.client.errors import EndorsementFailed, GatewayError
from consortia.client.sdk import Contract, Gateway, SubmitResult
from consortia.ledger.encoding import canonical_json

if TYPE_CHECKING:
    from consortia.network.embedded import EmbeddedNetwork

SALT_BYTES = 16


@dataclass(frozen=True)
class CaptureResult:
    """A captured document: its capture id, event IDs, and the transaction that recorded them."""

    capture_id: str
    event_ids: tuple[str, ...]
    tx_id: str
    block: int


def contract_of(gateway: Gateway) -> Contract:
    """The cold-chain contract as seen through a gateway."""
    return gateway.network(CHANNEL).contract(CONTRACT)


@dataclass(frozen=True)
class Submission:
    """What a capture sends: the public commitment (the arguments) and the document as transient data."""

    commitment: commitment.Commitment
    transient: dict[str, bytes]


def submission(document: Document, capture_id: str) -> Submission:
    """The commitment and transient data of a document, with a fresh random salt per event."""
    salts = [os.urandom(SALT_BYTES) for _ in document.events]
    leaves = commitment.capture_leaves(document.events, document.event_ids, document.prefixes, salts)
    payload: dict[str, Any] = {
        "events": [dict(event) for event in document.events],
        "context": document.context,
        "captureID": capture_id,
        "salts": [salt.hex() for salt in salts],
    }
    if document.master_data:
        payload["masterData"] = document.master_data
    return Submission(commitment.commit(leaves), {"capture": canonical_json(payload)})


def recalled_lots(document: Document) -> list[str]:
    """The lots a document recalls directly (events whose disposition, or persistent one, is ``recalled``)."""
    lots: dict[str, None] = {}
    for event in document.events:
        if "recalled" not in str(event.get("disposition")) and "persistentDisposition" not in event:
            continue  # the common case, decided without reading the event's facts
        facts = event_facts(event)
        if "recalled" in (facts.disposition, *facts.persistent_set):
            lots.update(dict.fromkeys(facts.lots))
    return list(lots)


def _rejection(exc: EndorsementFailed, document: Document) -> DocumentRejected:
    """A contract refusal as a document rejection naming the event, when the contract named one."""
    message = exc.message
    for index, event_id in enumerate(document.event_ids):
        marker = f"event {index} ({event_id}): "
        if marker in message:
            detail = message.split(marker, 1)[1]
            name, sep, rest = detail.partition(": ")
            if sep and " " not in name:
                return DocumentRejected(
                    [Rejection(rest, index, event_id, name)], document.source, code=exc.contract_code
                )
            return DocumentRejected([Rejection(detail, index, event_id)], document.source, code=exc.contract_code)
    return DocumentRejected([Rejection(message)], document.source, code=exc.contract_code)


class Capturer:
    """Captures validated documents through one gateway identity."""

    def __init__(self, contract: Contract, *, endorsing_orgs: list[str] | None = None) -> None:
        self.contract = contract
        self.endorsing_orgs = endorsing_orgs

    def _endorsers(self, document: Document) -> list[str] | None:
        """Who must endorse: the contract's policy alone, unless the document recalls lots (owners, inspectors)."""
        lots = recalled_lots(document)
        if not lots:
            return None
        try:
            return list(self.contract.evaluate("endorsers", {"recall": lots}))
        except EndorsementFailed as exc:
            raise DocumentRejected([Rejection(exc.message)], document.source, code=exc.contract_code) from None

    def capture(self, document: Document, capture_id: str | None = None, timeout: float = 60.0) -> CaptureResult:
        """Capture a document now; raise DocumentRejected if the contract refuses it, GatewayError otherwise."""
        return self.capture_async(document, capture_id, timeout).result(timeout)

    def capture_async(
        self, document: Document, capture_id: str | None = None, timeout: float = 60.0
    ) -> Future[CaptureResult]:
        """Endorse and order a capture now; the future resolves when it commits."""
        capture_id = capture_id or str(uuid.uuid4())
        sent = submission(document, capture_id)
        try:
            submitted = self.contract.submit_async(
                "capture",
                sent.commitment.root.hex(),
                sent.commitment.count,
                transient=sent.transient,
                endorsing_orgs=self.endorsing_orgs or self._endorsers(document),
                timeout=timeout,
            )
        except EndorsementFailed as exc:
            if exc.code == "CONTRACT_ERROR":
                raise _rejection(exc, document) from None
            raise
        result: Future[CaptureResult] = Future()

        def done(future: Future[SubmitResult]) -> None:
            try:
                committed = future.result()
            except Exception as exc:
                result.set_exception(exc)
                return
            # The leaves hold the event IDs and the contract accepted our root: it assigned the IDs we computed.
            # (It does not return them: a submit's result is in the block, and a CBV hash ID is an unsalted hash.)
            if committed.result.get("root") != sent.commitment.root.hex():
                result.set_exception(
                    GatewayError(
                        "COMMITMENT_MISMATCH",
                        f"contract committed to {committed.result.get('root')}, expected {sent.commitment.root.hex()}",
                    )
                )
                return
            result.set_result(CaptureResult(capture_id, document.event_ids, committed.tx_id, committed.block))

        submitted.add_done_callback(done)
        return result


@dataclass
class CaptureJob:
    """One capture job of the EPCIS REST binding."""

    capture_id: str
    created_ms: int
    events: int
    running: bool = True
    success: bool | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    tx_id: str | None = None
    block: int | None = None
    finished_ms: int | None = None
    captured_by: str | None = None
    code: str | None = None
    """The contract's code when it refused the capture (``FORBIDDEN``, ``CONFLICT`` …)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON form, following the EPCIS 2.0 capture job resource."""
        return {
            "captureID": self.capture_id,
            "createdAt": self.created_ms,
            "finishedAt": self.finished_ms,
            "running": self.running,
            "success": self.success,
            "captureErrorBehaviour": "rollback",
            "errors": self.errors,
            "events": self.events,
            "eventIDs": self.event_ids,
            "txID": self.tx_id,
            "block": self.block,
            "capturedBy": self.captured_by,
        }


class CaptureJobs:
    """Capture jobs in memory (the most recent ``keep`` of them)."""

    def __init__(self, keep: int = 10_000) -> None:
        self.keep = keep
        self._jobs: OrderedDict[str, CaptureJob] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, capturer: Capturer, document: Document, captured_by: str | None = None) -> CaptureJob:
        """Submit a document and return its (running) job; endorsement refusals fail the job at once."""
        capture_id = str(uuid.uuid4())
        job = CaptureJob(capture_id, int(time.time() * 1000), len(document.events), captured_by=captured_by)
        with self._lock:
            self._jobs[capture_id] = job
            while len(self._jobs) > self.keep:
                self._jobs.popitem(last=False)
        try:
            future = capturer.capture_async(document, capture_id)
        except DocumentRejected as exc:
            self._finish(job, None, exc.as_dict()["rejections"], exc.code)
            return job
        except GatewayError as exc:
            self._finish(job, None, [{"message": exc.message, "code": exc.code}], exc.contract_code)
            return job

        def done(f: Future[CaptureResult]) -> None:
            try:
                self._finish(job, f.result(), [])
            except GatewayError as exc:
                self._finish(job, None, [{"message": exc.message, "code": exc.code}], exc.contract_code)
            except Exception as exc:
                self._finish(job, None, [{"message": str(exc)}])

        future.add_done_callback(done)
        return job

    def _finish(
        self, job: CaptureJob, result: CaptureResult | None, errors: list[dict[str, Any]], code: str | None = None
    ) -> None:
        with self._lock:
            job.code = code
            job.running = False
            job.success = result is not None
            job.errors = errors
            job.finished_ms = int(time.time() * 1000)
            if result is not None:
                job.event_ids = list(result.event_ids)
                job.tx_id = result.tx_id
                job.block = result.block

    def get(self, capture_id: str) -> CaptureJob | None:
        """A job by id."""
        with self._lock:
            return self._jobs.get(capture_id)

    def all(self) -> list[CaptureJob]:
        """Every kept job, newest first."""
        with self._lock:
            return list(reversed(self._jobs.values()))

    def wait(self, capture_id: str, timeout: float = 30.0) -> CaptureJob | None:
        """Wait until a job finishes (tests and the CLI)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(capture_id)
            if job is None or not job.running:
                return job
            time.sleep(0.01)
        return self.get(capture_id)


def settle(network: EmbeddedNetwork) -> None:
    """Wait until every peer of the channel has what any of them has committed."""
    heights = [peer.channel(CHANNEL).height for peer in network.peers.values() if CHANNEL in peer.channels]
    network.wait_for_height(CHANNEL, max(heights))
