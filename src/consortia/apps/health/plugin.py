"""How the health application plugs into the platform: one :class:`~consortia.plugins.Application`.

``pyproject.toml`` names :data:`application` under the ``consortia.apps`` entry-point group. The platform then
adds the five organisations (with the pilot's synthetic patients' identities) and the ``health`` channel to
``consortia demo``, deploys the contract and plays the pilot (``demo/pilot.json``, by :mod:`.demo.player`), mounts
``consortia health …`` (:mod:`.cli`) and lets :mod:`.web` add the FHIR endpoints, the API, the alert stream and
the pages to the gateway service. Heavy modules (scikit-learn, FHIR models) are imported only when the platform
calls in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from consortia.apps.health.cli import app as cli
from consortia.apps.health.consortium import channel_spec, deploy, org_specs
from consortia.apps.health.demo.scenario import pilot
from consortia.plugins import Application

if TYPE_CHECKING:
    from fastapi import FastAPI
    from rich.console import Console

    from consortia.gateway.server.backend import Backend
    from consortia.network.embedded import EmbeddedNetwork

PILOT = pilot()


def _deploy(network: EmbeddedNetwork) -> None:
    deploy(network)


def _seed(network: EmbeddedNetwork, console: Console) -> list[str]:
    from consortia.apps.health.demo.player import seed

    return seed(network, console, scenario=PILOT)


def _install(app: FastAPI, backend: Backend) -> None:
    from consortia.apps.health.web.routes import install

    install(app, backend)


application = Application(
    name="health",
    title="Chronic-disease care (Gangwon): consented BP and glucose records, alerts, risk equations and model",
    orgs=org_specs(PILOT.patients, patient_passwords=PILOT.password_patients),
    channels=(channel_spec(),),
    deploy=_deploy,
    seed=_seed,
    cli=cli,
    install=_install,
)
