"""Capturing EPCIS documents on the ledger, and the capture jobs the EPCIS REST binding reports on.

:class:`Capturer` sends one validated :class:`~consortia.apps.coldchain.document.Document` to the contract as one
transaction — the unit of "whole or nothing" — through the client SDK. The document travels as *transient data*
(it reaches the endorsing peers, never the block) with one fresh random salt per event; the transaction's only
arguments are the Merkle root and leaf count of the events' public projections
(:mod:`consortia.apps.coldchain.domain.commitment`), which the capturer computes here and the contract recomputes. The
leaves carry the event IDs, so a root the contract accepts means it assigned the IDs the document's validation
computed. A document that recalls lots needs the lots' owners and the inspection agency to endorse it: the
capturer asks the contract who they are and collects their endorsements. The EPCIS 2.0 REST binding makes capture
asynchronous (``POST /capture`` answers ``202 Accepted`` with a capture job, ``GET /capture/{id}`` reports it).

**Capturing again is harmless.** Partners exchange documents, and a document may be sent twice (a retry after a
timeout, a query document re-imported). Before it submits, the capturer asks the ledger — the contract's
``captured`` query, not a cache of its own — which of the document's eventIDs it already holds and with which
event hash. An event already there with the same hash is reported in ``already_captured`` (with the transaction
that recorded it) and left out of the new transaction; an eventID already naming *different* content refuses
the document, naming both hashes. The contract keeps refusing any event already on the ledger, so two captures
racing with the same event cannot both record it; the capturer that loses asks again and captures the rest.

**Capture jobs outlive the server.** :class:`CaptureJobs` writes every job to a
:class:`~consortia.apps.coldchain.service.store.JobStore` before answering, and again when it ends, with the
event IDs its transaction carries. One server process at a time holds a data folder, so a job recorded as
``running`` by another process was interrupted (that server stopped or crashed). It is settled when it is next
looked at, by asking the ledger: if its events are there under its capture ID it completed (with that
transaction), otherwise it failed — the error says so, and that sending the document again is safe, since the
events that did reach the ledger are then reported as already captured.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from consortia.apps.coldchain.consortium import CHANNEL, CONTRACT
from consortia.apps.coldchain.domain import commitment
from consortia.apps.coldchain.domain.document import Document, DocumentRejected, Rejection
from consortia.apps.coldchain.domain.eventhash import event_hash_id
from consortia.apps.coldchain.domain.facts import event_facts
from consortia.apps.coldchain.service.store import JobStore, StoredJob
from consortia.client.errors import EndorsementFailed, GatewayError, TransactionInvalid
from consortia.client.sdk import Contract, Gateway, SubmitResult
from consortia.ledger.encoding import canonical_json

if TYPE_CHECKING:
    from consortia.network.embedded import EmbeddedNetwork

log = logging.getLogger(__name__)

SALT_BYTES = 16
RETRIES = 3
"""How many times a capture that lost a race for one of its events asks the ledger again and resubmits."""
READ_CONFLICTS = ("MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT")
"""Validation codes of a capture that lost a race with another transaction (it is asked for again)."""
PROCESS = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
"""This process, as recorded with the jobs it runs (a job running under another one was interrupted)."""


@dataclass(frozen=True)
class AlreadyCaptured:
    """An event of a document that the ledger already holds with the same event hash, and where."""

    event_id: str
    tx_id: str

    def as_dict(self) -> dict[str, str]:
        """JSON form (the capture job's)."""
        return {"eventID": self.event_id, "txID": self.tx_id}


@dataclass(frozen=True)
class CaptureResult:
    """A captured document: its capture id, event IDs, the transaction that recorded the new ones, and the others.

    ``event_ids`` are all the document's, in document order; ``tx_id`` and ``block`` are None when every event
    was already on the ledger (nothing was submitted).
    """

    capture_id: str
    event_ids: tuple[str, ...]
    tx_id: str | None
    block: int | None
    already_captured: tuple[AlreadyCaptured, ...] = ()

    @property
    def captured_ids(self) -> tuple[str, ...]:
        """The event IDs this capture recorded (those not already on the ledger)."""
        known = {a.event_id for a in self.already_captured}
        return tuple(e for e in self.event_ids if e not in known)


@dataclass(frozen=True)
class Recapture:
    """A document split by what the ledger holds: what is left to capture (None: nothing), and what is there."""

    remaining: Document | None
    already_captured: tuple[AlreadyCaptured, ...]


def block_of(contract: Contract, tx_id: str) -> int | None:
    """The block holding a committed transaction, as the contract's peer sees it (None when it cannot say)."""
    try:
        status = contract.network.peer_channel().commit_status(tx_id)
    except Exception as exc:  # the block number is a courtesy: the transaction id is the record
        log.warning("no commit status for %s: %s", tx_id, exc)
        return None
    return status.block if status is not None else None


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
    if document.ignore:  # the contract hashes an event without an eventID as the document asks
        payload["ignoreFields"] = sorted(document.ignore)
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


def _renumbered(rejected: DocumentRejected, document: Document) -> DocumentRejected:
    """A refusal of the events left to capture, with each event numbered as in the whole document."""
    position = {event_id: index for index, event_id in enumerate(document.event_ids)}
    rejections = [
        replace(r, event_index=position.get(r.event_id, r.event_index)) if r.event_id is not None else r
        for r in rejected.rejections
    ]
    return DocumentRejected(rejections, rejected.source, code=rejected.code)


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

    def recapture(self, document: Document) -> Recapture:
        """Ask the ledger which events it holds: the same ones are done, a reused eventID refuses the document."""
        try:
            found: Mapping[str, Any] = self.contract.evaluate("captured", list(document.event_ids))["events"]
        except EndorsementFailed as exc:
            if exc.code == "CONTRACT_ERROR":
                raise DocumentRejected([Rejection(exc.message)], document.source, code=exc.contract_code) from None
            raise
        if not found:
            return Recapture(document, ())
        keep: list[int] = []
        already: list[AlreadyCaptured] = []
        conflicts: list[Rejection] = []
        for index, (event, event_id) in enumerate(zip(document.events, document.event_ids, strict=True)):
            stored = found.get(event_id)
            if stored is None:
                keep.append(index)
            elif isinstance(event.get("errorDeclaration"), Mapping):
                # declaring a recorded event in error is the contract's call, unless that declaration is there
                if stored.get("errorDeclaration") == event["errorDeclaration"]:
                    already.append(AlreadyCaptured(event_id, stored["txID"]))
                else:
                    keep.append(index)
            else:
                new_hash = event_hash_id(event, document.prefixes, document.ignore)
                if stored["eventHash"] == new_hash:
                    already.append(AlreadyCaptured(event_id, stored["txID"]))
                else:
                    conflicts.append(
                        Rejection(
                            f"eventID already names a different event on the ledger (transaction {stored['txID']}): "
                            f"the stored event's hash is {stored['eventHash']}, this event's is {new_hash}",
                            index,
                            event_id,
                            "eventID",
                        )
                    )
        if conflicts:
            raise DocumentRejected(conflicts, document.source, code="CONFLICT")
        if not keep:
            return Recapture(None, tuple(already))
        if len(keep) == len(document.events):
            return Recapture(document, ())
        events = tuple(document.events[i] for i in keep)
        remaining = replace(
            document,
            events=events,
            event_ids=tuple(document.event_ids[i] for i in keep),
            hashed=tuple(document.hashed[i] for i in keep),
            sensor_reports=sum(
                len(element.get("sensorReport") or [])
                for event in events
                for element in event.get("sensorElementList") or []
                if isinstance(element, Mapping)
            ),
        )
        return Recapture(remaining, tuple(already))

    def capture(self, document: Document, capture_id: str | None = None, timeout: float = 60.0) -> CaptureResult:
        """Capture a document now; raise DocumentRejected if the contract refuses it, GatewayError otherwise."""
        return self.capture_async(document, capture_id, timeout).result(timeout)

    def capture_async(
        self,
        document: Document,
        capture_id: str | None = None,
        timeout: float = 60.0,
        on_submit: Callable[[tuple[str, ...], tuple[AlreadyCaptured, ...]], None] | None = None,
    ) -> Future[CaptureResult]:
        """Endorse and order a capture of the events the ledger lacks; the future resolves when it commits.

        ``on_submit`` hears the event IDs about to be submitted (and those already captured) first: a capture
        job records them, so that the ledger can tell how an interrupted job ended.
        """
        return self._capture_async(document, capture_id or str(uuid.uuid4()), timeout, on_submit, RETRIES)

    def _capture_async(
        self,
        document: Document,
        capture_id: str,
        timeout: float,
        on_submit: Callable[[tuple[str, ...], tuple[AlreadyCaptured, ...]], None] | None,
        attempts: int,
    ) -> Future[CaptureResult]:
        result: Future[CaptureResult] = Future()
        for attempt in range(attempts):
            plan = self.recapture(document)
            if plan.remaining is None:
                if on_submit is not None:
                    on_submit((), plan.already_captured)
                result.set_result(CaptureResult(capture_id, document.event_ids, None, None, plan.already_captured))
                return result
            remaining = plan.remaining
            if on_submit is not None:
                on_submit(remaining.event_ids, plan.already_captured)
            sent = submission(remaining, capture_id)
            try:
                submitted = self.contract.submit_async(
                    "capture",
                    sent.commitment.root.hex(),
                    sent.commitment.count,
                    transient=sent.transient,
                    endorsing_orgs=self.endorsing_orgs or self._endorsers(remaining),
                    timeout=timeout,
                )
                break
            except EndorsementFailed as exc:
                raced = exc.contract_code == "CONFLICT" and ": already captured (" in exc.message
                if exc.code == "CONTRACT_ERROR" and raced and attempt + 1 < attempts:
                    continue  # another capture recorded one of these events since we asked: ask again
                if exc.code == "CONTRACT_ERROR":
                    raise _renumbered(_rejection(exc, remaining), document) from None
                raise

        def done(future: Future[SubmitResult]) -> None:
            try:
                committed = future.result()
            except TransactionInvalid as exc:
                if exc.code not in READ_CONFLICTS or attempts <= 1:
                    result.set_exception(exc)
                    return
                # Another capture of some of these events (or of the same lots) committed between our look and
                # our block — a peer that had not yet seen it endorsed us. Nothing of ours was recorded: ask again.
                try:
                    again = self._capture_async(document, capture_id, timeout, on_submit, attempts - 1)
                except Exception as retry_exc:
                    result.set_exception(retry_exc)
                    return
                again.add_done_callback(lambda f: _pass_on(f, result))
                return
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
            result.set_result(
                CaptureResult(capture_id, document.event_ids, committed.tx_id, committed.block, plan.already_captured)
            )

        submitted.add_done_callback(done)
        return result


def _pass_on(source: Future[CaptureResult], target: Future[CaptureResult]) -> None:
    """Settle ``target`` as ``source`` settled (a retried capture answering for the first attempt)."""
    error = source.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())


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
    """The events this job recorded (not those already captured)."""
    tx_id: str | None = None
    block: int | None = None
    finished_ms: int | None = None
    captured_by: str | None = None
    code: str | None = None
    """The contract's code when it refused the capture (``FORBIDDEN``, ``CONFLICT`` …)."""
    already_captured: list[AlreadyCaptured] = field(default_factory=list)
    pending: tuple[str, ...] = ()
    """The event IDs its transaction carries, once it is submitted."""

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
            "already_captured": [a.as_dict() for a in self.already_captured],
            "txID": self.tx_id,
            "block": self.block,
            "capturedBy": self.captured_by,
            "code": self.code,
        }

    @classmethod
    def from_stored(cls, stored: StoredJob) -> CaptureJob:
        """A job as its store recorded it."""
        data = stored.job
        return cls(
            capture_id=stored.capture_id,
            created_ms=stored.created_ms,
            events=int(data.get("events") or 0),
            running=stored.running,
            success=data.get("success"),
            errors=list(data.get("errors") or []),
            event_ids=list(data.get("eventIDs") or []),
            tx_id=data.get("txID"),
            block=data.get("block"),
            finished_ms=data.get("finishedAt"),
            captured_by=data.get("capturedBy"),
            code=data.get("code"),
            already_captured=[AlreadyCaptured(a["eventID"], a["txID"]) for a in data.get("already_captured") or []],
            pending=stored.pending,
        )


INTERRUPTED = "INTERRUPTED"


class CaptureJobs:
    """Capture jobs, recorded in a :class:`JobStore` (in memory unless given one; the newest ``keep`` kept)."""

    def __init__(self, keep: int = 10_000, store: JobStore | None = None) -> None:
        self.keep = keep
        self.store = store or JobStore(":memory:")
        self._live: dict[str, CaptureJob] = {}  # this process's running jobs
        self._lock = threading.Lock()

    def _save(self, job: CaptureJob) -> None:
        self.store.save(StoredJob(job.capture_id, job.created_ms, job.running, PROCESS, job.as_dict(), job.pending))

    def start(self, capturer: Capturer, document: Document, captured_by: str | None = None) -> CaptureJob:
        """Record a job, then capture its document; refusals before ordering fail the job at once."""
        capture_id = str(uuid.uuid4())
        job = CaptureJob(capture_id, int(time.time() * 1000), len(document.events), captured_by=captured_by, pending=())
        with self._lock:
            self._live[capture_id] = job
            self._save(job)

        def submitting(event_ids: tuple[str, ...], already: tuple[AlreadyCaptured, ...]) -> None:
            with self._lock:
                job.pending = event_ids
                job.already_captured = list(already)
                self._save(job)  # before the transaction exists: a crash from here on is settled by the ledger

        try:
            future = capturer.capture_async(document, capture_id, on_submit=submitting)
        except DocumentRejected as exc:
            self._finish(job, None, exc.as_dict()["rejections"], exc.code)
            return job
        except GatewayError as exc:
            self._finish(job, None, [{"message": exc.message, "code": exc.code}], exc.contract_code)
            return job
        except Exception as exc:
            self._finish(job, None, [{"message": f"the capture could not be sent: {exc}"}])
            raise

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
                job.event_ids = list(result.captured_ids)
                job.already_captured = list(result.already_captured)
                job.tx_id = result.tx_id
                job.block = result.block
            self._save(job)
            self._live.pop(job.capture_id, None)
        self.store.prune(self.keep)

    def get(self, capture_id: str) -> CaptureJob | None:
        """A job by id (as it was when the server that ran it stopped, if it was interrupted: see ``settle``)."""
        with self._lock:
            live = self._live.get(capture_id)
            if live is not None:
                return live
        stored = self.store.get(capture_id)
        return CaptureJob.from_stored(stored) if stored else None

    def all(self, limit: int = 100) -> list[CaptureJob]:
        """The newest jobs, newest first."""
        jobs = []
        for stored in self.store.newest(limit):
            with self._lock:
                live = self._live.get(stored.capture_id)
            jobs.append(live or CaptureJob.from_stored(stored))
        return jobs

    def interrupted(self, job: CaptureJob) -> bool:
        """Whether a job is recorded as running by a process that is gone (not this one)."""
        if not job.running:
            return False
        with self._lock:
            if job.capture_id in self._live:
                return False
        stored = self.store.get(job.capture_id)
        return stored is not None and stored.running and stored.owner != PROCESS

    def settle(self, job: CaptureJob, contract: Contract) -> CaptureJob:
        """Settle an interrupted job by what the ledger holds: completed if its events are there, else failed.

        A job that is not interrupted is returned as it is; so is one the ledger cannot be asked about now
        (it stays running, and is settled at a later look).
        """
        if not self.interrupted(job):
            return job
        pending = list(job.pending)
        try:
            found = contract.evaluate("captured", pending)["events"] if pending else {}
        except GatewayError as exc:
            log.warning("cannot settle interrupted capture job %s yet: %s", job.capture_id, exc)
            return job
        mine = [found[e] for e in pending if e in found and found[e].get("captureID") == job.capture_id]
        job.running = False
        job.finished_ms = int(time.time() * 1000)
        if pending and len(mine) == len(pending):
            job.success = True
            job.event_ids = pending
            job.tx_id = mine[0]["txID"]
            job.block = block_of(contract, job.tx_id)
        else:
            job.success = False
            job.code = INTERRUPTED
            sent = "before it was sent to the ledger" if not pending else "before its transaction committed"
            found_text = (
                f"{len(mine)} of its {len(pending)} events are on the ledger under this capture"
                if mine
                else f"none of its {len(pending) or job.events} events is on the ledger under this capture"
            )
            job.errors = [
                {
                    "code": INTERRUPTED,
                    "message": (
                        f"the server that accepted this capture stopped {sent}, and {found_text}: send the "
                        "document again (events that are on the ledger by then are reported as already captured)"
                    ),
                }
            ]
        with self._lock:
            self._save(job)
        return job

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
