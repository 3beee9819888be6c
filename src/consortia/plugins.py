"""Consortium applications plug into the platform without the platform importing them.

Each application (cold chain, health, trade finance, AML) lives in its own package under ``consortia.apps`` and
declares itself in ``pyproject.toml`` under the entry-point group ``consortia.apps``, pointing at an
:class:`Application`. The command line mounts its commands (``consortia coldchain …``), the gateway service lets
it add API routes and pages, and ``consortia demo`` adds its organisations and channels to the demo network,
deploys its contracts and runs its scenario. Nothing in the platform names an application.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI
    from rich.console import Console

    from consortia.gateway.server.backend import Backend
    from consortia.network.embedded import EmbeddedNetwork
    from consortia.network.spec import ChannelSpec, OrgSpec

log = logging.getLogger(__name__)

GROUP = "consortia.apps"


@dataclass(frozen=True)
class Application:
    """What an application contributes to the platform."""

    name: str
    title: str
    orgs: tuple[OrgSpec, ...] = ()
    """Organisations the demo network needs for this application (merged by name with the others)."""
    channels: tuple[ChannelSpec, ...] = ()
    """Channels the demo network needs for this application."""
    deploy: Callable[[EmbeddedNetwork], None] | None = None
    """Deploy the application's contracts on a demo network."""
    seed: Callable[[EmbeddedNetwork, Console], list[str]] | None = None
    """Run the demo scenario; return summary lines (e.g. URLs of consumer pages)."""
    cli: Any = None
    """A typer.Typer mounted as ``consortia <name>``."""
    install: Callable[[FastAPI, Backend], None] | None = None
    """Add API routes and pages to the gateway service."""
    extra: dict[str, Any] = field(default_factory=dict)


def discover() -> list[Application]:
    """Every installed application, in name order; a broken one is logged and skipped."""
    found: dict[str, Application] = {}
    for entry in entry_points(group=GROUP):
        try:
            application = entry.load()
            if callable(application) and not isinstance(application, Application):
                application = application()
        except Exception:  # one broken application must not take the platform down
            log.exception("application %s failed to load", entry.name)
            continue
        if isinstance(application, Application):
            found[application.name] = application
    return [found[name] for name in sorted(found)]
