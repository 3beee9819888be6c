"""The consumer side of the gateway: the page a lot's QR code opens, and the journey it verifies. No login.

``GET /01/{gtin}/10/{lot}`` is the GS1 Digital Link path itself, so the QR code on the box needs no other
resolver: the gateway answers it with the consumer page, in Korean or English (``?lang=``, else the browser's
``Accept-Language``; a language the page does not have is ignored, never an error). A well-formed code that no
lot carries gets a "no such lot" page (404), never an empty page. The page is HTML with its strings
(:mod:`.catalogue`) as a JSON data block; its script (``/coldchain/static/consumer.js``) fetches
``GET /api/coldchain/public/journey?lot=…&lang=…`` — built from the contract's *public* ``lot_journey`` function, the
loggers' intervals (read by the server as a member, never sent) and the peer's ledger — draws the timeline, map,
temperature chart and freshness gauge, and verifies each step before showing "Verified": its leaf is in its
capture's Merkle tree, that tree's root is the capture transaction's argument, and the transaction is under its
orderer-signed block header (the gateway's ``verifier.js``).

``GET /api/coldchain/public/reading-proof?lot=…&ts=…`` is the proof of one reading the page shows (its instant
in milliseconds): the reading's leaf in its logger's anchored batch, the anchoring event's leaf about this lot, and
the capture transaction's proof (:func:`consortia.apps.coldchain.service.proofs.public_reading_proof`). The page
offers the warmest and the latest reading of its chart (``display.readings``) and checks the proof in the browser
(``readingproof.js``), step by step, against the reading it shows.

``app.state.settings.tamper_proofs`` (a test switch) corrupts the transaction proofs in transit, so the failure
path of the badge can be tested too.

``GET /coldchain/qr/01/{gtin}/10/{lot}`` is a lot's QR label page: its QR code, product and safety state — the
same state as the consumer page, the dashboard and the API (:func:`consortia.apps.coldchain.service.journey.assess`).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from consortia.apps.coldchain.consortium import CHANNEL
from consortia.apps.coldchain.domain import gs1, safety, species
from consortia.apps.coldchain.service import journey, proofs
from consortia.apps.coldchain.service.capture import contract_of
from consortia.apps.coldchain.service.ingest import store_path
from consortia.apps.coldchain.service.store import ReadingStore
from consortia.apps.coldchain.web import present, qrcode
from consortia.apps.coldchain.web.catalogue import CATALOGUE, named, page_strings
from consortia.apps.coldchain.web.errors import SECURITY_HEADERS, PageErrors, clip, error_page, language_of
from consortia.client.errors import GatewayError
from consortia.gateway.server.backend import Backend
from consortia.gateway.server.problems import Problem, problem_for

TEMPLATES = Path(__file__).parent / "templates"


class Resources:
    """What the public routes share: the reading store (when this server has one) and the species table."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._store: ReadingStore | None = None
        self._lock = threading.Lock()
        folder = Path(backend.directory) / "coldchain"
        config = folder / "species.json"
        self.species = species.load(config if config.is_file() else None)

    def store(self) -> ReadingStore | None:
        """The data folder's reading store, if the ingester ever wrote one."""
        with self._lock:
            if self._store is None and store_path(self.backend.directory).is_file():
                self._store = ReadingStore(store_path(self.backend.directory))
            return self._store

    def recorded(self, lot_key: str) -> dict[str, Any] | None:
        """A lot's public journey and its loggers as the contract records them; None if no lot has that key."""
        contract = contract_of(self.backend.gateway(self.backend.public_identity(CHANNEL)))
        try:
            recorded = contract.evaluate("lot_journey", lot_key)
            sensors = contract.evaluate("lot_sensors", lot_key)  # the server's own use: loggers, batches
        except GatewayError as exc:
            if exc.contract_code == "NOT_FOUND":
                return None
            raise problem_for(exc) from None
        return {**recorded, **sensors}

    def safety(self, lot_key: str, now_ms: int) -> safety.Safety | None:
        """The lot's one safety state (the derivation every page shares), or None for an unknown lot."""
        recorded = self.recorded(lot_key)
        if recorded is None:
            return None
        return journey.assess(recorded, self.store(), self.species, now_ms).safety


def _lot_or_page(request: Request, gtin: str, lot: str, lang: str) -> gs1.LotId | Response:
    """The lot of a Digital Link path, or the "no such lot" page for an address that names none."""
    try:
        return gs1.LotId(gtin, lot)
    except gs1.GS1Error as exc:
        reason = clip(str(exc))
        return error_page(request, 404, detail=CATALOGUE.text(lang, "error.404.bad", reason=reason), lang=lang)


def _not_recorded(request: Request, lot_id: gs1.LotId, lang: str) -> Response:
    return error_page(request, 404, detail=CATALOGUE.text(lang, "error.404.detail", lot=clip(lot_id.lot)), lang=lang)


def build_router(backend: Backend, resources: Resources) -> APIRouter:
    """The consumer routes and the QR label page."""
    router = APIRouter(tags=["cold chain: consumers"], route_class=PageErrors)
    templates = Jinja2Templates(directory=str(TEMPLATES))

    @router.get("/01/{gtin}/10/{lot:path}", response_class=HTMLResponse, summary="Consumer page of a lot (GS1 DL)")
    async def consumer_page(gtin: str, lot: str, request: Request) -> Response:
        lang = language_of(request)
        lot_id = _lot_or_page(request, gtin, lot, lang)
        if isinstance(lot_id, Response):
            return lot_id
        recorded = await run_in_threadpool(resources.recorded, lot_id.key)
        if recorded is None or not recorded.get("events"):
            return _not_recorded(request, lot_id, lang)
        context = {
            "lang": lang,
            "text": CATALOGUE.table(lang),
            "strings": page_strings(lang),
            "lot": lot_id,
            "journey_url": f"/api/coldchain/public/journey?lot={quote(lot_id.key, safe='')}&lang={lang}",
            "other_lang": "en" if lang == "ko" else "ko",
            "path": lot_id.path,
        }
        return templates.TemplateResponse(request, "consumer.html", context, headers=SECURITY_HEADERS)

    @router.get("/api/coldchain/public/journey", summary="A lot's journey with proofs (public)")
    async def public_journey(
        request: Request, lot: str = Query(..., max_length=300), lang: str | None = Query(None, max_length=20)
    ) -> dict[str, Any]:
        try:
            lot_id = gs1.LotId.parse(lot)
        except gs1.GS1Error as exc:
            raise Problem(400, str(exc), code="BAD_LOT") from None
        recorded = await run_in_threadpool(resources.recorded, lot_id.key)
        if recorded is None:
            raise Problem(404, f"lot {clip(lot_id.key)} is not on the ledger", code="NOT_FOUND")
        settings = getattr(request.app.state, "settings", None)
        now_ms = int(time.time() * 1000)
        document = await run_in_threadpool(
            journey.build,
            recorded,
            backend.peer_channel(CHANNEL),
            resources.store(),
            resources.species,
            tamper=bool(getattr(settings, "tamper_proofs", False)),
            now_ms=now_ms,
        )
        document["display"] = present.journey_display(document, language_of(request), now_ms)
        return document

    @router.get("/api/coldchain/public/reading-proof", summary="The proof of one reading a lot's page shows (public)")
    async def public_reading_proof(
        request: Request,
        lot: str = Query(..., max_length=300),
        ts: int = Query(..., ge=0, le=proofs.MAX_SAFE_INTEGER, description="the reading's instant, ms since 1970"),
    ) -> dict[str, Any]:
        try:
            lot_id = gs1.LotId.parse(lot)
        except gs1.GS1Error as exc:
            raise Problem(400, str(exc), code="BAD_LOT") from None
        recorded = await run_in_threadpool(resources.recorded, lot_id.key)
        if recorded is None:
            raise Problem(404, f"lot {clip(lot_id.key)} is not on the ledger", code="NOT_FOUND")
        store = resources.store()
        if store is None:
            raise Problem(404, "this server keeps no readings", code="NO_READINGS")
        settings = getattr(request.app.state, "settings", None)
        try:
            return await run_in_threadpool(
                proofs.public_reading_proof,
                store,
                backend.peer_channel(CHANNEL),
                recorded,
                ts,
                tamper=bool(getattr(settings, "tamper_proofs", False)),
            )
        except proofs.ProofError as exc:
            raise Problem(404, clip(str(exc)), code="NO_PROOF") from None

    @router.get("/api/coldchain/public/qr.svg", summary="QR code of a lot's Digital Link (public)")
    def public_qr(request: Request, lot: str = Query(..., max_length=300)) -> Response:
        try:
            text = qrcode.svg(lot, resolver=str(request.base_url).rstrip("/"))
        except gs1.GS1Error as exc:
            raise Problem(400, str(exc), code="BAD_LOT") from None
        return Response(text, media_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})

    @router.get("/coldchain/qr/01/{gtin}/10/{lot:path}", response_class=HTMLResponse, summary="A lot's QR label page")
    async def qr_page(gtin: str, lot: str, request: Request) -> Response:
        """The label a shop prints for a lot: its QR code, its product and its safety state (public)."""
        lang = language_of(request)
        lot_id = _lot_or_page(request, gtin, lot, lang)
        if isinstance(lot_id, Response):
            return lot_id
        recorded = await run_in_threadpool(resources.recorded, lot_id.key)
        if recorded is None or not recorded.get("events"):
            return _not_recorded(request, lot_id, lang)
        now_ms = int(time.time() * 1000)
        verdict = (
            await run_in_threadpool(journey.assess, recorded, resources.store(), resources.species, now_ms)
        ).safety
        product = (recorded.get("products") or {}).get(lot_id.gtin, {})
        name = (product.get("descriptionKo") if lang == "ko" else None) or product.get("descriptionShort") or ""
        context = {
            "lang": lang,
            "text": CATALOGUE.table(lang),
            "lot": lot_id,
            "product": name,
            "state": verdict.state.value,
            "saleable": verdict.saleable,
            "state_text": named(lang, "state", verdict.state.value),
            "qr_url": f"/api/coldchain/public/qr.svg?lot={quote(lot_id.key, safe='')}",
            "alt": CATALOGUE.text(lang, "qr.alt", lot=lot_id.lot),
            "other_lang": "en" if lang == "ko" else "ko",
            "path": request.url.path,
            "now": present.when(now_ms, lang),
        }
        return templates.TemplateResponse(request, "qr.html", context, headers=SECURITY_HEADERS)

    return router
