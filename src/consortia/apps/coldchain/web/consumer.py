"""The consumer side of the gateway: the page a lot's QR code opens, and the journey it verifies. No login.

``GET /01/{gtin}/10/{lot}`` is the GS1 Digital Link path itself, so the QR code on the box needs no other
resolver: the gateway answers it with the consumer page, in Korean or English (``?lang=ko|en``, else the
browser's ``Accept-Language``). The page is static HTML; its script (``/coldchain/static/consumer.js``) fetches
``GET /api/coldchain/public/journey?lot=…`` — built from the contract's *public* ``lot_journey`` function, the
loggers' intervals (read by the server as a member, never sent) and the peer's ledger — draws the timeline, map,
temperature chart and freshness gauge, and verifies each step before showing "Verified": its leaf is in its
capture's Merkle tree, that tree's root is the capture transaction's argument, and the transaction is under its
orderer-signed block header (the gateway's ``verifier.js``).

``app.state.settings.tamper_proofs`` (a test switch) corrupts the proofs in transit, so the failure path of
the badge can be tested too.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from consortia.apps.coldchain.consortium import CHANNEL
from consortia.apps.coldchain.domain import gs1, species
from consortia.apps.coldchain.service import journey
from consortia.apps.coldchain.service.capture import contract_of
from consortia.apps.coldchain.service.ingest import store_path
from consortia.apps.coldchain.service.store import ReadingStore
from consortia.apps.coldchain.web import qrcode
from consortia.client.errors import GatewayError
from consortia.gateway.server.backend import Backend
from consortia.gateway.server.problems import Problem, problem_for

TEMPLATES = Path(__file__).parent / "templates"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
TEXT = {
    "en": {"title": "Where your fish came from", "not_found": "We have no record of this lot."},
    "ko": {"title": "이 생선이 온 길", "not_found": "이 로트의 기록을 찾을 수 없습니다."},
}


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


def language(request: Request, lang: str | None) -> str:
    """``ko`` or ``en``: the query parameter, else the browser's preference."""
    if lang in ("ko", "en"):
        return lang
    accepted = request.headers.get("accept-language", "").lower()
    return "ko" if accepted.startswith("ko") else "en"


def build_router(backend: Backend) -> APIRouter:
    """The consumer routes."""
    router = APIRouter(tags=["cold chain: consumers"])
    templates = Jinja2Templates(directory=str(TEMPLATES))
    resources = Resources(backend)

    @router.get("/01/{gtin}/10/{lot:path}", response_class=HTMLResponse, summary="Consumer page of a lot (GS1 DL)")
    def consumer_page(
        gtin: str, lot: str, request: Request, lang: str | None = Query(None, pattern="^(ko|en)$")
    ) -> Response:
        language_code = language(request, lang)
        try:
            lot_id = gs1.LotId(gtin, lot)
        except gs1.GS1Error as exc:
            return templates.TemplateResponse(
                request,
                "consumer_error.html",
                {"lang": language_code, "message": str(exc), "text": TEXT[language_code]},
                status_code=404,
                headers=SECURITY_HEADERS,
            )
        context = {
            "lang": language_code,
            "text": TEXT[language_code],
            "lot": lot_id,
            "journey_url": f"/api/coldchain/public/journey?lot={quote(lot_id.key, safe='')}",
            "other_lang": "en" if language_code == "ko" else "ko",
            "path": lot_id.path,
        }
        return templates.TemplateResponse(request, "consumer.html", context, headers=SECURITY_HEADERS)

    @router.get("/api/coldchain/public/journey", summary="A lot's journey with proofs (public)")
    def public_journey(request: Request, lot: str = Query(..., max_length=300)) -> dict[str, Any]:
        try:
            lot_id = gs1.LotId.parse(lot)
        except gs1.GS1Error as exc:
            raise Problem(400, str(exc), code="BAD_LOT") from None
        contract = contract_of(backend.gateway(backend.public_identity(CHANNEL)))
        try:
            recorded = contract.evaluate("lot_journey", lot_id.key)
            sensors = contract.evaluate("lot_sensors", lot_id.key)  # the server's own use: loggers, batches
        except GatewayError as exc:
            raise problem_for(exc) from None
        settings = getattr(request.app.state, "settings", None)
        return journey.build(
            {**recorded, **sensors},
            backend.peer_channel(CHANNEL),
            resources.store(),
            resources.species,
            tamper=bool(getattr(settings, "tamper_proofs", False)),
        )

    @router.get("/api/coldchain/public/qr.svg", summary="QR code of a lot's Digital Link (public)")
    def public_qr(request: Request, lot: str = Query(..., max_length=300)) -> Response:
        try:
            text = qrcode.svg(lot, resolver=str(request.base_url).rstrip("/"))
        except gs1.GS1Error as exc:
            raise Problem(400, str(exc), code="BAD_LOT") from None
        return Response(text, media_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})

    return router
