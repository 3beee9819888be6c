"""Fixtures of the health tests: a health network (five organisations, three patients), per test or per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from consortia.network.embedded import EmbeddedNetwork

from .hl_support import make_network


@pytest.fixture
def hl_network(tmp_path: Path) -> Iterator[EmbeddedNetwork]:
    """A running health network of its own (for tests that erase or revoke)."""
    network = make_network(tmp_path / "net")
    try:
        yield network
    finally:
        network.close()


@pytest.fixture(scope="module")
def hl_shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNetwork]:
    """A running health network shared by one test module."""
    network = make_network(tmp_path_factory.mktemp("health") / "net")
    try:
        yield network
    finally:
        network.close()
