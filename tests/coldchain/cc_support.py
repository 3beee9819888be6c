"""Paths and loaders shared by the cold-chain tests."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[2].parent / "shared"  # tests/coldchain → project root → its sibling
EPCIS = SHARED / "testvectors" / "epcis2"
EVENT_HASH = SHARED / "testvectors" / "epcis2-eventhash"
DEMO_SUMMARY: list[str] = []
"""The lines the demo's cold-chain seed printed (filled by the ``demo_network`` fixture)."""


def _ledger_scan() -> Any:
    """The lead's ``tests/ledger_scan.py`` (a module beside the test packages, loaded by path)."""
    name = "consortia_tests_ledger_scan"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "ledger_scan.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
    return sys.modules[name]


def scan_block_files(directory: Path, needles: Iterable[str]) -> list[Any]:
    """Where any planted value occurs in any block file below ``directory`` (see ``tests/ledger_scan.py``)."""
    return _ledger_scan().scan_block_files(directory, needles)


def epcis_documents() -> list[Path]:
    """Every EPCIS document among the shared test vectors (not the JSON-LD context)."""
    return sorted(p for p in EPCIS.glob("*.jsonld") if p.name != "epcis-context.jsonld")


def load(path: Path) -> dict[str, Any]:
    """A fresh copy of a JSON document."""
    return copy.deepcopy(json.loads(path.read_text()))


def settle(network: Any, channel: str = "coldchain") -> None:
    """Wait until every peer of the channel has committed what any of them has (reads after writes)."""
    height = max(peer.channel(channel).height for peer in network.peers.values() if channel in peer.channels)
    network.wait_for_height(channel, height)


class ServerThread:
    """A uvicorn server for an ASGI application on a free loopback port, in a background thread."""

    def __init__(self, app: Any) -> None:
        import socket
        import threading

        import uvicorn

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        import time

        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            raise RuntimeError("the test server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)
