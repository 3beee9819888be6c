"""The trade-finance pages: bank officers register documents and apply for financing, regulators oversee.

Start with :mod:`.routes` (:func:`~.routes.install`, what the plug-in hook calls: the pages, who may open which,
errors for people and for programs), then :mod:`.views` (the service's answers shaped for the templates, in the
viewer's language and time zone), :mod:`.charts` (server-drawn SVG with round ticks, every bar a link to its
records) and :mod:`.text` (every word, in simplified Chinese, traditional Chinese and English).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from consortia.gateway.server.backend import Backend

__all__ = ["install"]


def install(app: FastAPI, backend: Backend) -> None:
    """Add the trade-finance pages to a gateway service (the pages are imported only when the platform calls in)."""
    from consortia.apps.tradefinance.web.routes import install as install_routes

    install_routes(app, backend)
