"""The trade-finance pages: bank officers register documents and apply for financing, regulators oversee.

Start with :mod:`.routes` (:func:`~.routes.install`, what the plug-in hook calls: the pages, who may open which,
errors for people and for programs), then :mod:`.views` (the service's answers shaped for the templates, in the
viewer's language and time zone), :mod:`.charts` (server-drawn SVG with round ticks, every bar a link to its
records) and :mod:`.text` (every word, in simplified Chinese, traditional Chinese and English).
"""

from __future__ import annotations

__all__ = ["install"]


def install(app, backend):  # type: ignore[no-untyped-def]
    """Add the trade-finance pages to a gateway service (imports the pages only when the platform calls in)."""
    from consortia.apps.tradefinance.web.routes import install as install_routes

    install_routes(app, backend)
