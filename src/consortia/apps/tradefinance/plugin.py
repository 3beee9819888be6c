"""How trade finance plugs into the platform: one :class:`~consortia.plugins.Application`.

``pyproject.toml`` names :data:`application` under the ``consortia.apps`` entry-point group
(``tradefinance = "consortia.apps.tradefinance.plugin:application"``). The platform then adds the five banks and
four regulators and the ``tradefinance`` channel to ``consortia demo``, deploys the contract with its collections
and the first fingerprint key (:func:`.consortium.deploy`), plays the GBA scenario (:mod:`.demo.seed`), mounts
``consortia tradefinance …`` (:mod:`.cli`) and lets :mod:`.web` add the bank officers' and regulators' pages to
the gateway service. Heavy modules are imported only when the platform calls in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from consortia.apps.tradefinance.cli import app as cli
from consortia.apps.tradefinance.consortium import channel_spec, deploy, org_specs
from consortia.plugins import Application

if TYPE_CHECKING:
    from fastapi import FastAPI
    from rich.console import Console

    from consortia.gateway.server.backend import Backend
    from consortia.network.embedded import EmbeddedNetwork


def _deploy(network: EmbeddedNetwork) -> None:
    deploy(network)


def _seed(network: EmbeddedNetwork, console: Console) -> list[str]:
    from consortia.apps.tradefinance.demo.seed import seed

    return seed(network, console)


def _install(app: FastAPI, backend: Backend) -> None:
    from consortia.apps.tradefinance.web import install

    install(app, backend)


application = Application(
    name="tradefinance",
    title="GBA trade finance: trader registry, private document fingerprints, duplicate-financing detection",
    orgs=org_specs(),
    channels=(channel_spec(),),
    deploy=_deploy,
    seed=_seed,
    cli=cli,
    install=_install,
)
