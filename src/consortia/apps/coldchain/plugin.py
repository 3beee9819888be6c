"""How the cold chain plugs into the platform: one :class:`~consortia.plugins.Application`.

``pyproject.toml`` names :data:`application` under the ``consortia.apps`` entry-point group. The platform then
adds the five organisations and the ``coldchain`` channel to ``consortia demo``, deploys the contract and runs
the Busan scenario (:mod:`consortia.apps.coldchain.demo.seed`), mounts ``consortia coldchain …`` and lets
:mod:`consortia.apps.coldchain.web.app` add the EPCIS REST binding, the public consumer pages and the dashboard to the
gateway service. Heavy modules are imported only when the platform calls in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.cli import app as cli
from consortia.plugins import Application

if TYPE_CHECKING:
    from fastapi import FastAPI
    from rich.console import Console

    from consortia.gateway.server.backend import Backend
    from consortia.network.embedded import EmbeddedNetwork


VARIANT_ENV = "CONSORTIA_COLDCHAIN_WITHOUT"
"""Optional scenario steps the demo leaves out, comma-separated: ``inspection`` (nobody tests the excursion lot)."""


def _seed(network: EmbeddedNetwork, console: Console) -> list[str]:
    import os

    from consortia.apps.coldchain.demo.scenario import OPTIONAL
    from consortia.apps.coldchain.demo.seed import seed

    asked = {name.strip() for name in os.environ.get(VARIANT_ENV, "").split(",") if name.strip()}
    if asked - OPTIONAL:
        console.print(
            f"{VARIANT_ENV}: ignoring {', '.join(sorted(asked - OPTIONAL))} "
            f"(optional steps: {', '.join(sorted(OPTIONAL))})"
        )
    return seed(network, console, without=asked & OPTIONAL)


def _install(app: FastAPI, backend: Backend) -> None:
    from consortia.apps.coldchain.web.app import install

    install(app, backend)


application = Application(
    name="coldchain",
    title="Seafood cold chain (Busan): EPCIS 2.0, IoT sensors, freshness rules, consumer QR pages",
    orgs=consortium.org_specs(passwords=True),
    channels=(consortium.channel_spec(),),
    deploy=consortium.deploy,
    seed=_seed,
    cli=cli,
    install=_install,
)
