"""The cold chain's part of the gateway service: EPCIS REST binding, public consumer pages, operators' dashboard.

:func:`install` is what the platform calls (through the plug-in hook) when it builds the gateway service. It adds

* the EPCIS 2.0 REST binding (:mod:`consortia.apps.coldchain.web.rest`) under ``/epcis``;
* the public consumer side (:mod:`consortia.apps.coldchain.web.consumer`): the GS1 Digital Link path
  ``/01/{gtin}/10/{lot}`` a QR code opens, in Korean or English, and the JSON journey with Merkle proofs it
  verifies in the browser;
* the operators' dashboard (:mod:`consortia.apps.coldchain.web.dashboard`) and its live feed;
* the static files of those pages under ``/coldchain/static``;
* capture jobs recorded in the data folder (``coldchain/capture-jobs.sqlite``), so a restarted server still
  answers for them;
* their OpenAPI description at ``/coldchain/openapi.json`` (and ``/coldchain/docs``), apart from the
  gateway's own document.

If the data folder asks for it (``coldchain/services.json``, written by the demo), the MQTT ingestion service
starts with the server and stops with it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from consortia.apps.coldchain.service.capture import CaptureJobs
from consortia.apps.coldchain.service.store import JobStore, jobs_path
from consortia.apps.coldchain.web import consumer, dashboard, rest
from consortia.gateway.server.backend import Backend

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, backend: Backend) -> None:
    """Add the cold chain's routes, pages and static files to a gateway service."""
    jobs = CaptureJobs(store=JobStore(jobs_path(backend.directory)))  # in the data folder: they outlive the server
    app.state.coldchain_jobs = jobs
    resources = consumer.Resources(backend)
    routers = [
        rest.build_router(backend, jobs),
        consumer.build_router(backend, resources),
        dashboard.build_router(backend, resources),
    ]
    # The gateway's own OpenAPI document describes the platform (its tests pin the operations); the cold
    # chain's operations are described in a document of their own.
    schema = get_openapi(
        title="Consortia cold chain (EPCIS 2.0 REST binding, consumer and operator API)",
        version="1.0",
        routes=[route for router in routers for route in router.routes],
    )
    for router in routers:
        app.include_router(router, include_in_schema=False)
    app.mount("/coldchain/static", StaticFiles(directory=str(STATIC)), name="coldchain-static")

    @app.get("/coldchain/openapi.json", include_in_schema=False)
    def openapi_document() -> JSONResponse:
        return JSONResponse(schema)

    @app.get("/coldchain/docs", include_in_schema=False)
    def openapi_page() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/coldchain/openapi.json", title="Consortia cold chain API")

    dashboard.start_services(app, backend)
