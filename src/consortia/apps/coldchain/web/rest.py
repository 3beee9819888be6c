"""The EPCIS 2.0 REST binding over the ledger: capture documents, follow capture jobs, query events.

``POST /epcis/capture`` takes an EPCIS document (``application/json`` or ``application/ld+json``), validates it
whole (schema, GS1 keys, units — a refusal is ``400`` with problem details naming the event and field, and nothing
is stored; a body nested deeper or holding longer numbers than the platform's JSON limits is a ``400`` too, and
a capture the contract refuses for want of authority — a recall by someone else's lot, say — is ``403``) and
answers ``202 Accepted`` with a capture job whose ``Location`` is ``/epcis/capture/{id}``; the job reports success
once the transaction committing to every event has committed (the events themselves go to the members' private
collection, see :mod:`consortia.apps.coldchain.service.capture`). Events the ledger already holds with the same
event hash are not captured twice: the job succeeds and lists them in ``already_captured``; an eventID already
naming other content is a ``409`` naming both hashes. Jobs are kept in the data folder
(:class:`~consortia.apps.coldchain.service.store.JobStore`), so ``GET /epcis/capture/{id}`` answers after the
server restarts; a job the previous server left running is settled then, by what the ledger holds.
``GET /epcis/events`` answers the common query parameters (``EQ_bizStep``, ``MATCH_epc``, ``MATCH_anyEPC``,
``GE_eventTime``, ``LT_eventTime``, ``EQ_bizLocation``, ``EQ_disposition`` and friends) with an
``EPCISQueryDocument`` (valid against GS1's schema, and one ``POST /epcis/capture`` or ``consortia coldchain
import-epcis`` takes back); a further page is announced by a ``Link: <…&nextPageToken=…>; rel="next"`` header;
``perPage`` takes ASCII digits only. All routes need a member of the ``coldchain`` channel; reads are answered by
a member's peer, from the private collection. Errors are problem details for programs, and a page (with a log-in
link on a 401) for a browser that opened a link.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from consortia.apps.coldchain.consortium import CHANNEL
from consortia.apps.coldchain.contract.contract import QUERY_PARAMS
from consortia.apps.coldchain.domain import timestamps
from consortia.apps.coldchain.domain.document import DocumentRejected, read_document
from consortia.apps.coldchain.domain.eventhash import STANDARD_PREFIXES
from consortia.apps.coldchain.domain.facts import NS, PREFIX
from consortia.apps.coldchain.domain.schema import SchemaUnavailable
from consortia.apps.coldchain.service.capture import CaptureJob, CaptureJobs, Capturer, contract_of
from consortia.apps.coldchain.web.access import reader, signer
from consortia.apps.coldchain.web.errors import PageErrors
from consortia.client.errors import GatewayError
from consortia.gateway.server.auth import caller_of
from consortia.gateway.server.backend import Backend
from consortia.gateway.server.problems import CONTRACT_STATUS, Problem, problem_for

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
JSON_TYPES = ("application/json", "application/ld+json")


def query_document(records: list[dict[str, Any]]) -> dict[str, Any]:
    """An EPCISQueryDocument holding event records as captured (with their record time).

    Events captured from a document with ``ignoreFields`` keep those fields; the answer lists them again (as
    ``cc:ignoreFields`` on ``queryResults``), so each event hashes to the ID it was captured under and the answer
    captures back as events already captured.
    """
    prefixes: dict[str, str] = {}
    ignore: set[str] = set()
    events = []
    for record in records:
        for prefix, namespace in (record.get("prefixes") or {}).items():
            if prefix not in STANDARD_PREFIXES:
                prefixes[prefix] = namespace
        ignore.update(record.get("ignoreFields") or ())
        event = dict(record["event"])
        event["recordTime"] = timestamps.iso_ms(record["recordTimeMs"])
        events.append(event)
    results: dict[str, Any] = {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": events}}
    if ignore:
        prefixes.setdefault(PREFIX, NS)
        results[f"{PREFIX}:ignoreFields"] = sorted(ignore)
    context: list[Any] = [EPCIS_CONTEXT]
    if prefixes:
        context.append(prefixes)
    return {
        "@context": context,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": timestamps.iso_ms(int(time.time() * 1000)),
        "epcisBody": {"queryResults": results},
    }


def build_router(backend: Backend, jobs: CaptureJobs) -> APIRouter:
    """The /epcis routes."""
    router = APIRouter(prefix="/epcis", tags=["EPCIS 2.0"], route_class=PageErrors)

    def _settled(job: CaptureJob) -> CaptureJob:
        if not jobs.interrupted(job):
            return job
        return jobs.settle(job, contract_of(backend.gateway(reader(backend, CHANNEL))))

    @router.post("/capture", status_code=202, summary="Capture an EPCIS document (whole or nothing)")
    async def capture(request: Request) -> JSONResponse:
        principal = await caller_of(request)
        backend.require_write(principal, CHANNEL)
        assert principal is not None
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in JSON_TYPES:
            raise Problem(
                415, "send the EPCIS document as application/json or application/ld+json", code="JSON_REQUIRED"
            )
        body = await request.body()
        try:
            document = await run_in_threadpool(read_document, body, "request body")
        except DocumentRejected as exc:
            raise Problem(400, str(exc), code="EPCIS_VALIDATION", rejections=exc.as_dict()["rejections"]) from None
        except SchemaUnavailable as exc:
            raise Problem(503, str(exc), code="SCHEMA_UNAVAILABLE") from None
        capturer = Capturer(contract_of(backend.gateway(signer(backend, principal))))
        job = await run_in_threadpool(jobs.start, capturer, document, principal.id)
        if not job.running and not job.success:
            message = str(job.errors[0].get("message", "capture refused"))
            status = CONTRACT_STATUS.get(job.code, 400) if job.code else 400
            raise Problem(status, message, code="CAPTURE_REFUSED", contract_code=job.code, rejections=job.errors)
        return JSONResponse(job.as_dict(), status_code=202, headers={"Location": f"/epcis/capture/{job.capture_id}"})

    @router.get("/capture", summary="Capture jobs, newest first")
    async def list_jobs(request: Request) -> dict[str, Any]:
        backend.require_read(await caller_of(request), CHANNEL)
        listed = await run_in_threadpool(lambda: [_settled(job).as_dict() for job in jobs.all(100)])
        return {"captureJobs": listed}

    @router.get("/capture/{capture_id}", summary="A capture job's status")
    async def get_job(capture_id: str, request: Request) -> dict[str, Any]:
        backend.require_read(await caller_of(request), CHANNEL)
        job = await run_in_threadpool(jobs.get, capture_id)
        if job is None:
            raise Problem(404, f"there is no capture job {capture_id!r}", code="UNKNOWN_CAPTURE")
        return (await run_in_threadpool(_settled, job)).as_dict()

    def _evaluate(function: str, *args: Any) -> Any:
        contract = contract_of(backend.gateway(reader(backend, CHANNEL)))
        try:
            return contract.evaluate(function, *args)
        except GatewayError as exc:
            raise problem_for(exc) from None

    @router.get("/events", summary="Query events (EPCIS simple event query parameters)")
    async def events(request: Request) -> JSONResponse:
        backend.require_read(await caller_of(request), CHANNEL)
        params: dict[str, Any] = {}
        for name, value in request.query_params.multi_items():
            if name not in QUERY_PARAMS:
                raise Problem(400, f"unknown query parameter {name!r}", code="QUERY_PARAMETER_EXCEPTION")
            params[name] = value if name not in params else f"{params[name]},{value}"
        result = await run_in_threadpool(_evaluate, "query_events", params)
        headers = {}
        if result["nextPageToken"]:
            following = {k: v for k, v in params.items() if k != "nextPageToken"}
            following["nextPageToken"] = result["nextPageToken"]
            headers["Link"] = f'</epcis/events?{urlencode(following)}>; rel="next"'
        return JSONResponse(query_document(result["events"]), headers=headers, media_type="application/ld+json")

    @router.get("/events/{event_id:path}", summary="One event by its eventID")
    async def event(event_id: str, request: Request) -> JSONResponse:
        backend.require_read(await caller_of(request), CHANNEL)
        record = await run_in_threadpool(_evaluate, "get_event", event_id)
        document = query_document([record])
        return JSONResponse(document["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0])

    return router
