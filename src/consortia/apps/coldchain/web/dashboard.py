"""The operators' dashboard: lots in transit, live temperatures, open alarms, recalls and downstream trace.

``/coldchain/dashboard`` is for members of the consortium (log in first; anonymous visitors are sent to the
gateway's login page, a member of another consortium gets a 403 page). It is in Korean or English
(:mod:`.catalogue`), times in Busan's zone with the zone named, places by name, codes by name; every lot carries the
same safety state as its consumer page (:func:`consortia.apps.coldchain.service.journey.assess`), and a live reading
older than :data:`.present.STALE_AFTER_MS` is marked stale with its age. Its script reads ``/api/coldchain/lots``,
``/api/coldchain/alarms`` and ``/api/coldchain/trace`` — one click on a lot lists everything made from it, which is
what a recall needs — and can recall a lot with everything made from it in one EPCIS event (``POST
/api/coldchain/recall``: the owner of every lot, or an inspector of the inspection agency, with the owners' and the
agency's peers endorsing; the answer names the transaction holding the recall event, an earlier one when the same
event was already on the ledger, listed under ``already_captured``), and listens to ``/api/coldchain/live``, a
server-sent event stream of the loggers' latest readings and of the contract's alarm and capture events as blocks
commit. Beside each logger, "verify" checks its
last anchored reading in the browser (``readingproof.js``): ``/api/coldchain/devices`` names that reading and
``/api/coldchain/reading-proof?device=…&seq=…`` serves its proof (without the members' ``sealed`` part, which the
``consortia coldchain reading-proof`` command checks).

:func:`start_services` starts, with the server, what the data folder's ``coldchain/services.json`` asks for
(written by the demo): an MQTT broker, the ingestion service, and live loggers that keep publishing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from consortia.apps.coldchain.consortium import CHANNEL, CONTRACT
from consortia.apps.coldchain.domain import gs1, timestamps
from consortia.apps.coldchain.domain.document import DocumentRejected, read_document
from consortia.apps.coldchain.domain.facts import CONTEXT, PREFIX
from consortia.apps.coldchain.service import proofs
from consortia.apps.coldchain.service.capture import Capturer, contract_of
from consortia.apps.coldchain.service.store import ReadingStore
from consortia.apps.coldchain.web import present
from consortia.apps.coldchain.web.access import reader, signer
from consortia.apps.coldchain.web.catalogue import CATALOGUE, named, page_strings
from consortia.apps.coldchain.web.consumer import TEMPLATES, Resources
from consortia.apps.coldchain.web.errors import SECURITY_HEADERS, PageErrors, language_of
from consortia.client.errors import GatewayError
from consortia.gateway.server.auth import SESSION_COOKIE, caller_of
from consortia.gateway.server.backend import Backend
from consortia.gateway.server.problems import CONTRACT_STATUS, Problem, problem_for
from consortia.ledger.codes import Code
from consortia.ledger.encoding import parse_json

log = logging.getLogger(__name__)

SERVICES_FILE = "services.json"
SITES_FILE = "sites.json"
STREAM_SECONDS = 15.0


def _evaluate(backend: Backend, function: str, *args: Any) -> Any:
    contract = contract_of(backend.gateway(reader(backend, CHANNEL)))
    try:
        return contract.evaluate(function, *args)
    except GatewayError as exc:
        raise problem_for(exc) from None


class RecallOrder(BaseModel):
    """A recall: the lot (Digital Link, LGTIN URI or <gtin>/<lot>) and why."""

    lot: str = Field(..., max_length=300)
    reason: str = Field(..., min_length=3, max_length=500)


def _links(lot: str) -> dict[str, str]:
    lot_id = gs1.LotId.from_key(lot)
    return {"digital_link": lot_id.canonical, "page": lot_id.path}


def _sites(directory: str | Path) -> dict[str, dict[str, Any]]:
    """The loggers' MQTT sites by name (``coldchain/sites.json``, written by the demo): site → en, ko, gln."""
    path = Path(directory) / "coldchain" / SITES_FILE
    try:
        value = parse_json(path.read_bytes()) if path.is_file() else {}
    except (OSError, ValueError):
        log.warning("ignoring %s: not readable JSON", path)
        return {}
    return value if isinstance(value, dict) else {}


def _site(sites: Mapping[str, Mapping[str, Any]], site: str, lang: str) -> dict[str, Any]:
    """A logger's site as shown: its name in ``lang`` and its GLN, or the site id itself."""
    known = sites.get(site) or {}
    return {"name": known.get(lang) or known.get("en") or site, "gln": known.get("gln"), "known": bool(known)}


def anchored_readings(readings: ReadingStore, lang: str) -> dict[str, dict[str, Any]]:
    """Each logger's last reading in an anchored batch (the one the dashboard offers to verify), by device."""
    last: dict[str, Any] = {}
    for batch in readings.batches("anchored"):
        known = last.get(batch.device)
        if known is None or (batch.end_ms, batch.part) > (known.end_ms, known.part):
            last[batch.device] = batch
    out: dict[str, dict[str, Any]] = {}
    for device, batch in last.items():
        rows = readings.batch_readings(device, batch.window, batch.part)
        if not rows:
            continue
        seq, ts_ms, celsius = rows[-1]
        text = CATALOGUE.text(
            lang, "dash.anchored_reading", celsius=present.celsius_text(celsius), when=present.when(ts_ms, lang)
        )
        out[device] = {"seq": seq, "ts_ms": ts_ms, "celsius": celsius, "text": text}
    return out


def build_router(backend: Backend, resources: Resources) -> APIRouter:
    """The dashboard page and its API."""
    router = APIRouter(tags=["cold chain: operators"], route_class=PageErrors)
    templates = Jinja2Templates(directory=str(TEMPLATES))
    store = resources.store  # one reading store for the consumer pages and the dashboard

    @router.get("/coldchain/dashboard", response_class=HTMLResponse, summary="Operators' dashboard")
    async def page(request: Request) -> Response:
        principal = await caller_of(request)
        if principal is None:
            return RedirectResponse(f"/login?next={quote('/coldchain/dashboard')}", status_code=303)
        backend.require_read(principal, CHANNEL)
        lang = language_of(request)
        sessions = getattr(request.app.state, "sessions", None)
        session = sessions.get(request.cookies.get(SESSION_COOKIE)) if sessions is not None else None
        context = {
            "who": principal.id,
            "lang": lang,
            "text": CATALOGUE.table(lang),
            "strings": page_strings(lang),
            "csrf": session.csrf if session is not None else "",
            "other_lang": "en" if lang == "ko" else "ko",
            "zone": present.zone_note(lang),
        }
        return templates.TemplateResponse(request, "dashboard.html", context, headers=SECURITY_HEADERS)

    def lot_rows(lang: str) -> list[dict[str, Any]]:
        rows = _evaluate(backend, "lots")
        names = _evaluate(backend, "master_data").get("locations", {})
        now_ms = int(time.time() * 1000)
        for row in rows:
            row.update(_links(row["lot"]))
            verdict = resources.safety(row["lot"], now_ms)
            row["safety"] = None if verdict is None else verdict.as_dict()
            row["display"] = present.lot_row_display(row, names, lang)
        return rows

    @router.get("/api/coldchain/lots", summary="Lots with their status and safety state")
    async def lots(request: Request) -> dict[str, Any]:
        backend.require_read(await caller_of(request), CHANNEL)
        return {"lots": await run_in_threadpool(lot_rows, language_of(request))}

    @router.get("/api/coldchain/alarms", summary="Alarms, newest first")
    async def alarms(request: Request, open_only: bool = Query(False, alias="open")) -> dict[str, Any]:
        backend.require_read(await caller_of(request), CHANNEL)
        lang = language_of(request)
        rows = await run_in_threadpool(_evaluate, backend, "alarms", open_only)
        for row in rows:
            row["display"] = {
                "name": named(lang, "alarm", row.get("code")),
                "when": present.when(row.get("raisedAtMs"), lang),
                "detail": row.get("message_ko" if lang == "ko" else "message") or "",  # never English on a Korean page
            }
        return {"alarms": rows}

    @router.get("/api/coldchain/trace", summary="Lots upstream or downstream of a lot")
    async def trace(
        request: Request,
        lot: str = Query(..., max_length=300),
        direction: str = Query("forward", pattern="^(back|forward)$"),
    ) -> dict[str, Any]:
        backend.require_read(await caller_of(request), CHANNEL)
        try:
            key = gs1.LotId.parse(lot).key
        except gs1.GS1Error as exc:
            raise Problem(400, str(exc), code="BAD_LOT") from None
        lang = language_of(request)
        result = await run_in_threadpool(_evaluate, backend, "trace", key, direction)
        result["links"] = {x: _links(x) for x in result["lots"]}
        result["display"] = {
            x: {
                "last_step": named(lang, "cte", summary.get("last_cte")) if summary.get("last_cte") else "",
                "when": present.when(summary.get("last_ms"), lang),
            }
            for x, summary in (result.get("summaries") or {}).items()
        }
        return result

    @router.post("/api/coldchain/recall", summary="Recall a lot and everything made from it (one EPCIS event)")
    async def recall(request: Request, order: RecallOrder) -> dict[str, Any]:
        principal = await caller_of(request)
        backend.require_write(principal, CHANNEL)
        assert principal is not None
        try:
            key = gs1.LotId.parse(order.lot).key
        except gs1.GS1Error as exc:
            raise Problem(400, str(exc), code="BAD_LOT") from None
        downstream = await run_in_threadpool(_evaluate, backend, "trace", key, "forward")
        lots = [gs1.LotId.from_key(x) for x in downstream["lots"]]
        now = int(time.time() * 1000)
        event = {
            "type": "ObjectEvent",
            "eventTime": timestamps.iso_local(now, "+09:00"),
            "eventTimeZoneOffset": "+09:00",
            "epcList": [],
            "quantityList": [{"epcClass": lot.canonical} for lot in lots],
            "action": "OBSERVE",
            "bizStep": "holding",
            "disposition": "recalled",
            f"{PREFIX}:reason": order.reason,
        }
        document = {
            "@context": CONTEXT,
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": timestamps.iso_ms(now),
            "epcisBody": {"eventList": [event]},
        }
        capturer = Capturer(contract_of(backend.gateway(signer(backend, principal))))
        try:
            result = await run_in_threadpool(capturer.capture, read_document(document, "recall"))
        except DocumentRejected as exc:  # FORBIDDEN: not the owner of every lot, nor an inspector
            status = CONTRACT_STATUS.get(exc.code, 400) if exc.code else 400
            raise Problem(status, str(exc), code="RECALL_REFUSED", contract_code=exc.code) from None
        except GatewayError as exc:
            raise problem_for(exc) from None
        # the same recall already on the ledger (sent twice in one millisecond) is answered with its transaction
        tx_id = result.tx_id if result.tx_id is not None else result.already_captured[0].tx_id
        return {
            "recalled": [lot.key for lot in lots],
            "eventIDs": list(result.event_ids),
            "txID": tx_id,
            "already_captured": [a.as_dict() for a in result.already_captured],
        }

    def device_rows(lang: str) -> list[dict[str, Any]]:
        readings = store()
        sites = _sites(backend.directory)
        now_ms = int(time.time() * 1000)
        return [
            {
                "device": d,
                "site": s,
                "ts_ms": ts,
                "celsius": c,
                "display": {"site": _site(sites, s, lang), **present.reading_display(ts, now_ms, lang)},
            }
            for d, s, ts, c in (readings.latest() if readings is not None else [])
        ]

    def device_rows_with_proofs(lang: str) -> list[dict[str, Any]]:
        rows = device_rows(lang)
        readings = store()
        anchored = anchored_readings(readings, lang) if readings is not None else {}
        for row in rows:
            row["anchored"] = anchored.get(row["device"])
        return rows

    @router.get("/api/coldchain/devices", summary="Loggers: latest reading (stale ones marked) and associations")
    async def devices(request: Request) -> dict[str, Any]:
        backend.require_read(await caller_of(request), CHANNEL)
        readings = store()
        return {
            "devices": await run_in_threadpool(device_rows_with_proofs, language_of(request)),
            "counters": readings.saved_counters() if readings is not None else {},
            "stale_after_ms": present.STALE_AFTER_MS,
        }

    @router.get("/api/coldchain/reading-proof", summary="The proof of one stored reading, for the browser (members)")
    async def reading_proof(
        request: Request,
        device: str = Query(..., min_length=1, max_length=64),
        seq: int = Query(..., ge=0, le=proofs.MAX_SAFE_INTEGER),
    ) -> dict[str, Any]:
        backend.require_read(await caller_of(request), CHANNEL)
        readings = store()
        if readings is None:
            raise Problem(404, "this server keeps no readings", code="NO_READINGS")
        settings = getattr(request.app.state, "settings", None)
        try:
            return await run_in_threadpool(
                proofs.browser_reading_proof,
                readings,
                backend.peer_channel(CHANNEL),
                device,
                seq,
                tamper=bool(getattr(settings, "tamper_proofs", False)),
            )
        except proofs.ProofError as exc:
            raise Problem(404, str(exc)[:300], code="NO_PROOF") from None

    @router.get("/api/coldchain/live", summary="Server-sent events: latest readings, alarms, captures")
    async def live(request: Request) -> Response:
        backend.require_read(await caller_of(request), CHANNEL)
        peer_channel = backend.peer_channel(CHANNEL)
        lang = language_of(request)

        def poll(seen: dict[str, int], height: int) -> tuple[list[str], int]:
            messages = []
            for data in device_rows(lang):
                if seen.get(data["device"]) != data["ts_ms"]:
                    seen[data["device"]] = data["ts_ms"]
                    messages.append(f"event: reading\ndata: {json.dumps(data)}\n\n")
            while height < peer_channel.height:
                event = peer_channel.stored_event(height)
                height += 1
                for outcome in event.transactions:
                    if outcome.contract != CONTRACT or outcome.code != Code.VALID:
                        continue
                    for contract_event in outcome.events:
                        payload = parse_json(contract_event.payload or b"null")
                        kind = "alarm" if contract_event.name == "ColdChainAlarm" else "capture"
                        data = {"name": contract_event.name, "tx_id": outcome.tx_id, "payload": payload}
                        messages.append(f"event: {kind}\ndata: {json.dumps(data)}\n\n")
            return messages, height

        async def stream() -> AsyncIterator[str]:
            yield "retry: 2000\n\n"
            seen: dict[str, int] = {}
            height = peer_channel.height
            deadline = time.monotonic() + STREAM_SECONDS
            while time.monotonic() < deadline:
                if await request.is_disconnected():
                    return
                messages, height = await run_in_threadpool(poll, seen, height)
                for message in messages:
                    yield message
                yield ": keep-alive\n\n"
                await asyncio.sleep(1.0)
            yield ": reconnect to continue\n\n"

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    return router


class Services:
    """Broker, ingester and live loggers started with the gateway (as ``coldchain/services.json`` asks)."""

    def __init__(self, backend: Backend, config: dict[str, Any]) -> None:
        self.backend = backend
        self.config = config
        self.broker: Any = None
        self.ingester: Any = None
        self._stop = threading.Event()
        self._live: threading.Thread | None = None

    def start(self) -> None:
        """Start what the configuration names; failures are logged, never fatal to the gateway."""
        from consortia.apps.coldchain.service import broker
        from consortia.apps.coldchain.service.broker import parse_broker
        from consortia.apps.coldchain.service.ingest import IngestService

        try:
            where = self.config.get("broker", "embedded")
            if where == "embedded":
                self.broker = broker.start()
                host, port = self.broker.host, self.broker.port
            else:
                host, port = parse_broker(where)
            ingest = self.config.get("ingest", {})
            self.ingester = IngestService.for_network(
                self.backend.network,
                org=ingest.get("org", "ColdLogistics"),
                window_seconds=int(ingest.get("window_seconds", 300)),
            )
            self.ingester.connect(host, port)
            devices = self.config.get("live_devices") or []
            if devices:
                self._live = threading.Thread(
                    target=self._publish_live, args=(host, port, devices), name="coldchain-live", daemon=True
                )
                self._live.start()
            log.info("cold chain services: broker %s:%d, ingester up, %d live loggers", host, port, len(devices))
        except Exception:
            log.exception("the cold chain's MQTT services did not start")

    def _publish_live(self, host: str, port: int, devices: list[dict[str, Any]]) -> None:
        import random

        import paho.mqtt.client as mqtt

        from consortia.apps.coldchain.domain import readings

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="coldchain-live-loggers")
        try:
            client.connect(host, port)
        except OSError:
            return
        client.loop_start()
        rng = random.Random(11)
        seqs = {d["device"]: int(d.get("next_seq", 1)) for d in devices}
        while not self._stop.wait(float(self.config.get("live_interval_seconds", 5))):
            for device in devices:
                token = device["device"]
                reading = readings.Reading(
                    device.get("site", "site-shop"),
                    token,
                    seqs[token],
                    int(time.time() * 1000),
                    round(float(device.get("celsius", 2.2)) + rng.gauss(0, 0.3), 2),
                )
                seqs[token] += 1
                client.publish(readings.topic(reading.site, token), readings.encode(reading), qos=1)
        client.loop_stop()
        client.disconnect()

    def stop(self) -> None:
        """Stop the live loggers, the ingester (flushing it) and the broker."""
        self._stop.set()
        if self._live is not None:
            self._live.join(10)
        if self.ingester is not None:
            try:
                self.ingester.close(timeout=30)
            except Exception:
                log.exception("stopping the cold chain ingester failed")
        if self.broker is not None:
            self.broker.stop()


def start_services(app: FastAPI, backend: Backend) -> None:
    """Start the configured services with the gateway application and stop them with it.

    The gateway runs a lifespan context (no startup/shutdown events), and the plug-in interface has no
    lifecycle hook, so the services wrap the application's lifespan: started before it, stopped after it.
    """
    path = Path(backend.directory) / "coldchain" / SERVICES_FILE
    if not path.is_file():
        return
    try:
        config = parse_json(path.read_bytes())
    except (OSError, ValueError):
        log.warning("ignoring %s: not readable JSON", path)
        return
    services = Services(backend, config)
    app.state.coldchain_services = services
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        await run_in_threadpool(services.start)
        try:
            async with inner(application) as state:
                yield state
        finally:
            await run_in_threadpool(services.stop)

    app.router.lifespan_context = lifespan
