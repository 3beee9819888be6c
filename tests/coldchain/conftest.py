"""Fixtures of the cold-chain tests: the shared EPCIS test vectors and a cold-chain network."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

import consortia.apps.coldchain.consortium as consortium
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.ledger.config import BatchConfig
from consortia.network.embedded import EmbeddedNetwork

from .cc_support import DEMO_SUMMARY, ServerThread, settle


@pytest.fixture
def cc_network(tmp_path: Path) -> Iterator[EmbeddedNetwork]:
    """A running cold-chain network (five organisations, contract deployed and initialised)."""
    network = EmbeddedNetwork.create(
        tmp_path / "net", consortium.network_spec(BatchConfig(max_transactions=200, timeout_ms=20))
    )
    consortium.deploy(network)
    try:
        yield network
    finally:
        network.close()


@pytest.fixture
def cc_folder(tmp_path: Path) -> Path:
    """A closed cold-chain network folder, for CLI commands that open it themselves."""
    folder = tmp_path / "data"
    network = EmbeddedNetwork.create(folder, consortium.network_spec(BatchConfig(max_transactions=200, timeout_ms=20)))
    try:
        consortium.deploy(network)
    finally:
        network.close()
    return folder


@pytest.fixture(scope="session")
def demo_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNetwork]:
    """The cold chain's demo data (``demo.seed``: scenario recorded, readings replayed through MQTT), ending now.

    The services file the seed leaves for a server is removed, so test servers start no broker of their own.
    """
    from rich.console import Console

    from consortia.apps.coldchain.demo import seed as demo

    folder = tmp_path_factory.mktemp("demo") / "data"
    network = EmbeddedNetwork.create(
        folder, consortium.network_spec(BatchConfig(max_transactions=200, timeout_ms=20), passwords=True)
    )
    consortium.deploy(network)
    printed = io.StringIO()
    DEMO_SUMMARY[:] = demo.seed(network, Console(file=printed, width=200))
    DEMO_SUMMARY.extend(printed.getvalue().splitlines())  # what it printed while seeding, too
    (folder / "coldchain" / "services.json").unlink()
    try:
        yield network
    finally:
        network.close()


@pytest.fixture(scope="session")
def held_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNetwork]:
    """The variant of the demo without the inspection: nobody tests the excursion lot (``without={"inspection"}``)."""
    from rich.console import Console

    from consortia.apps.coldchain.demo import seed as demo

    folder = tmp_path_factory.mktemp("held") / "data"
    network = EmbeddedNetwork.create(
        folder, consortium.network_spec(BatchConfig(max_transactions=200, timeout_ms=20), passwords=True)
    )
    consortium.deploy(network)
    demo.seed(network, Console(quiet=True), lots=2, without={"inspection"})
    (folder / "coldchain" / "services.json").unlink()
    try:
        yield network
    finally:
        network.close()


@pytest.fixture(scope="module")
def server(demo_network: EmbeddedNetwork) -> Iterator[ServerThread]:
    """The demo network's gateway app served on a free loopback port, for browser tests (plain-HTTP cookies)."""
    settle(demo_network)
    with ServerThread(create_app(demo_network, ServerSettings(secure_cookies=False))) as running:
        yield running
