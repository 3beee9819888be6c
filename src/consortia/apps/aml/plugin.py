"""How the AML application plugs into the platform: one :class:`~consortia.plugins.Application`.

``pyproject.toml`` names :data:`application` under the ``consortia.apps`` entry-point group. The platform then adds
the bank, the two exchanges and the examiners (:mod:`.consortium`) and the ``aml`` channel to ``consortia demo``,
deploys the contract and plays the demo (:mod:`.demo.player`: two exchanges onboarded, a month of activity with
planted structuring and layering, alerts, one case decided SAR and filed, one closed without SAR), mounts
``consortia aml …`` (:mod:`.cli`) and lets :mod:`.web` add the pages under ``/aml``. Heavy modules (polars, the
monitoring engine, lxml and the FinCEN schemas) are imported only when the platform calls in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from consortia.apps.aml.cli import app as cli
from consortia.apps.aml.consortium import channel_spec, deploy, org_specs
from consortia.plugins import Application

if TYPE_CHECKING:
    from fastapi import FastAPI
    from rich.console import Console

    from consortia.gateway.server.backend import Backend
    from consortia.network.embedded import EmbeddedNetwork


def _deploy(network: EmbeddedNetwork) -> None:
    deploy(network)


def _seed(network: EmbeddedNetwork, console: Console) -> list[str]:
    from consortia.apps.aml.demo.player import seed

    return seed(network, console)


def _install(app: FastAPI, backend: Backend) -> None:
    from consortia.apps.aml.web import install

    install(app, backend)


application = Application(
    name="aml",
    title="Crypto-exchange accounts at a US bank: due diligence, account policy, monitoring, cases, SAR and CTR",
    orgs=org_specs(),
    channels=(channel_spec(),),
    deploy=_deploy,
    seed=_seed,
    cli=cli,
    install=_install,
)
