"""``consortia health …`` while a node serves the same data folder (as ``make demo`` does).

A seeded health folder is served by the gateway app under uvicorn (tests/servers.py), which holds its ledgers. The
commands run as separate processes, as a person would type them: without ``--server`` each says in one line what
to run instead (exit status 2, no traceback); with ``--server`` (the command's own option, or the global one)
each works through the running node — a person logged in with their password, a program signing with its own key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from consortia.apps.health import consortium
from consortia.apps.health.demo.player import seed
from consortia.gateway.server.app import create_app
from consortia.network.embedded import EmbeddedNetwork
from servers import Server

from .hl_support import PASSWORD, bp_observation, bundle, health_spec

CONSORTIA = [sys.executable, "-m", "consortia"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, Path]]:
    """A seeded health folder behind a running server: (folder, URL, a FHIR Bundle file)."""
    root = tmp_path_factory.mktemp("health-served")
    folder = root / "net"
    network = EmbeddedNetwork.create(folder, health_spec(4))
    consortium.deploy(network)
    seed(network, Console(quiet=True), 4, days=3, train_model=False)
    server = Server(create_app(network)).start()
    document = root / "bp.json"
    observation = bp_observation(131, 84, "2026-12-01T08:00:00+09:00", "GW-0001")
    observation["identifier"] = [{"system": "urn:gw:device", "value": "served-0001"}]
    document.write_text(json.dumps(bundle(observation)))
    try:
        yield folder, server.url, document
    finally:
        server.stop()
        network.close()
        server.join()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """One ``consortia`` command in its own process (the demo password in the environment)."""
    env = {**os.environ, "CONSORTIA_PASSWORD": PASSWORD, "COLUMNS": "300"}
    return subprocess.run([*CONSORTIA, *args], capture_output=True, text=True, env=env, timeout=300, check=False)


def answer(result: subprocess.CompletedProcess[str]) -> Any:
    """The JSON a command printed, after checking it succeeded."""
    assert result.returncode == 0, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "command",
    [
        ["import-fhir", "{doc}", "--patient", "GW-0001"],
        ["read", "GW-0001", "--org", "ChuncheonHospital", "--user", "drkim"],
        ["access-log", "GW-0001", "--user", "patient001"],
        ["alerts"],
        ["grant", "--to", "WonjuClinic", "--purpose", "TREAT", "--user", "patient001"],
        ["revoke", "c-x", "--user", "patient001"],
        ["erase", "GW-0004", "--user", "officer"],
        ["promote-model", "1.0.0-00000000"],
    ],
)
def test_without_server_a_served_folder_says_what_to_run_instead(
    served: tuple[Path, str, Path], command: list[str]
) -> None:
    """Exit status 2 and one line naming the same command with --server; nothing is stored, no traceback."""
    folder, _, document = served
    result = run("health", *[a.replace("{doc}", str(document)) for a in command], "--data", str(folder))
    assert result.returncode == 2, (result.stdout, result.stderr)
    message = " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr and "in use by a running node" in message, message
    assert f"consortia --server http://127.0.0.1:8000 health {command[0]}" in message, message
    assert len(result.stderr.strip().splitlines()) <= 3  # one line (wrapped by the terminal at most)


def test_import_fhir_and_reads_work_through_the_running_node(served: tuple[Path, str, Path]) -> None:
    """import-fhir (the office's ingestion service, signed), then read, access-log and alerts as people."""
    folder, url, document = served
    data = ["--data", str(folder)]
    stored = answer(run("--server", url, "health", "import-fhir", str(document), "--patient", "GW-0001", *data,
                        "--json"))  # fmt: skip
    assert stored["stored"] == 1 and stored["batches"] and stored["rejected"] == []
    again = answer(run("health", "import-fhir", str(document), "--patient", "GW-0001", *data, "--server", url,
                       "--json"))  # fmt: skip
    assert again["stored"] == 0 and again["duplicates"]  # the same identifier is not stored twice
    body = answer(run("--server", url, "health", "read", "GW-0001", "--org", "ChuncheonHospital", "--user", "drkim",
                      *data, "--json"))  # fmt: skip
    assert any(r["value"] == {"systolic": 131.0, "diastolic": 84.0} for r in body["readings"]), body["readings"][:3]
    log = answer(run("--server", url, "health", "access-log", "GW-0001", "--user", "patient001", *data, "--json"))
    assert any(e["accessor"] == "ChuncheonHospital/drkim" and e["tx_id"] == body["access_id"] for e in log)
    assert isinstance(answer(run("--server", url, "health", "alerts", *data, "--json")), list)
    # A refusal through the node is a clean error with the logged access, as it is embedded.
    refused = run("--server", url, "health", "read", "GW-0002", "--org", "ChuncheonHospital", "--user", "drkim",
                  *data, "--json")  # fmt: skip
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert json.loads(refused.stdout)["access_id"]


def test_consent_and_the_model_through_the_running_node(served: tuple[Path, str, Path]) -> None:
    """grant and revoke as the patient; train registers (analysis service) and promotes (health office)."""
    folder, url, _ = served
    data = ["--data", str(folder), "--server", url, "--json"]
    doc = answer(run("health", "grant", "--to", "ChuncheonHospital", "--purpose", "TREAT", "--user", "patient002",
                     *data))  # fmt: skip
    assert doc["status"] == "active"
    read = answer(run("health", "read", "GW-0002", "--org", "ChuncheonHospital", "--user", "drkim", *data))
    assert read["readings"]
    revoked = answer(run("health", "revoke", doc["id"], "--user", "patient002", *data))
    assert revoked["status"] == "inactive"
    trained = answer(run("health", "train", *data))
    assert trained["registered"]["ledger"] and trained["registered"]["current"]
    assert trained["registered"]["promoted_by"].startswith("GangwonHealthOffice/")
    promoted = answer(run("health", "promote-model", trained["version"], *data))
    assert promoted["loaded"] is True
