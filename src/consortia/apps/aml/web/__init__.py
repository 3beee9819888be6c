"""The AML pages: the bank's analysts and BSA officer, the exchanges, and the examiner, each seeing their part.

Start with :mod:`.routes` (:func:`~.routes.install`, what the plug-in hook calls: the pages under ``/aml``, who may
open which, errors for people and for programs), then :mod:`.views` (the service's answers shaped for the
templates: rule hits in words, statuses by name, times in New York with the zone named, deadline countdowns),
:mod:`.graph` (an alert's counterparty graph over time as server-drawn SVG) and :mod:`.text` (every word, through
the platform's catalogue — English only, the bank's language, but checked like every other application's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from consortia.gateway.server.backend import Backend

__all__ = ["install"]


def install(app: FastAPI, backend: Backend) -> None:
    """Add the AML pages to a gateway service (the pages are imported only when the platform calls in)."""
    from consortia.apps.aml.web.routes import install as install_routes

    install_routes(app, backend)
