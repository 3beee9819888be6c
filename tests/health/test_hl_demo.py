"""The plug-in and the demo: discovered by the platform, seeds clearly synthetic patients, verify still passes."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from consortia.apps.health import consortium
from consortia.apps.health.cli import app
from consortia.apps.health.demo import synthetic
from consortia.apps.health.demo.player import seed
from consortia.apps.health.service.health import service_for
from consortia.network.embedded import EmbeddedNetwork
from consortia.peer.audit import audit_network
from consortia.plugins import discover

from .hl_support import PASSWORD, health_spec


def test_plugin_is_discovered() -> None:
    """The entry point names the application: orgs, channel, deploy, seed, CLI and routes."""
    [health] = [a for a in discover() if a.name == "health"]
    assert {o.name for o in health.orgs} == set(consortium.ORGS)
    assert [c.name for c in health.channels] == ["health"]
    assert health.deploy and health.seed and health.cli and health.install
    custodian = next(o for o in health.orgs if o.name == consortium.CUSTODIAN)
    assert sum(1 for u in custodian.users if u.attributes.get("role") == "patient") == 100


def test_synthetic_patients_are_marked_and_scripted() -> None:
    """Every profile is marked synthetic; exactly one crisis and one level-2 hypoglycaemia are scripted."""
    from datetime import UTC, datetime

    from consortia.apps.health.domain import alerts

    people = synthetic.patients(20)
    assert all(p.profile["synthetic"] for p in people)
    end = datetime(2024, 6, 1, tzinfo=UTC)
    found = [a.kind for p in people for a in alerts.scan(synthetic.readings(p, 90, end))]
    assert sorted(found) == ["hypertensive-crisis", "hypoglycaemia-level-2"]


def test_seed_then_verify(tmp_path: Path) -> None:
    """A small pilot: alerts on the ledger, consents, scores; then the audit of every ledger copy passes."""
    network = EmbeddedNetwork.create(tmp_path / "net", health_spec(12))
    consortium.deploy(network)
    lines = seed(network, Console(quiet=True), 12, days=10, train_model=False)
    assert any("{base}/health" in line for line in lines)
    service = service_for(network)
    coordinator = service.identity(consortium.CARE, "choi", PASSWORD)
    alerts = service.alerts(coordinator, "open")
    assert sorted(a["patient"] for a in alerts) == ["GW-0007", "GW-0012"]
    assert {a["severity"] for a in alerts} == {"critical"}
    details = {service.alert_detail(coordinator, a["id"])["detail"]["kind"] for a in alerts}
    assert details == {"hypertensive-crisis", "hypoglycaemia-level-2"}
    assert len(service.evaluate(coordinator, "my_patients", "CAREMGT")) == 12
    directory = network.directory
    service.store.close()
    network.close()
    report = audit_network(directory)
    assert report.ok, report.first_failure


def test_cli_consent_commands(tmp_path: Path) -> None:
    """init, grant, read, revoke, access-log, erase and alerts through ``consortia health``; errors exit non-zero."""
    runner = CliRunner()
    folder = tmp_path / "data"
    assert runner.invoke(app, ["init", "--data", str(folder), "--patients", "2"]).exit_code == 0
    assert runner.invoke(app, ["init", "--data", str(folder)]).exit_code == 2
    as_patient = ["--user", "patient001", "--password", PASSWORD, "--data", str(folder), "--json"]
    as_doctor = ["--org", "ChuncheonHospital", "--user", "drkim", "--password", PASSWORD, "--data", str(folder)]
    refused = runner.invoke(app, ["read", "GW-0001", *as_doctor, "--json"])
    assert refused.exit_code == 1 and json.loads(refused.output)["logged"] is True
    granted = runner.invoke(app, ["grant", "--to", "ChuncheonHospital", "--purpose", "TREAT", *as_patient])
    assert granted.exit_code == 0, granted.output
    consent_id = json.loads(granted.output)["id"]
    assert runner.invoke(app, ["read", "GW-0001", *as_doctor, "--json"]).exit_code == 0
    assert runner.invoke(app, ["revoke", consent_id, *as_patient]).exit_code == 0
    assert runner.invoke(app, ["read", "GW-0001", *as_doctor, "--json"]).exit_code == 1
    log = json.loads(runner.invoke(app, ["access-log", "GW-0001", *as_patient]).output)
    assert [e["decision"] for e in log[:3]] == ["deny", "permit", "deny"]
    bad = runner.invoke(app, ["grant", "--to", "Nowhere", "--purpose", "TREAT", *as_patient])
    assert bad.exit_code == 1 and "unknown organisation" in json.loads(bad.output)["error"]
    wrong = runner.invoke(app, ["read", "GW-0001", "--org", "ChuncheonHospital", "--user", "drkim", "--password",
                                "wrong-password", "--data", str(folder), "--json"])  # fmt: skip
    assert wrong.exit_code == 2 and "cannot log in" in json.loads(wrong.output)["error"]
    erased = runner.invoke(app, ["erase", "GW-0001", *as_patient])
    assert erased.exit_code == 0 and json.loads(erased.output)["vault_key_destroyed"] is True
    assert runner.invoke(app, ["alerts", "--password", PASSWORD, "--data", str(folder), "--json"]).exit_code == 0
    assert runner.invoke(app, ["read", "GW-0001", *as_doctor]).exit_code == 1
    missing = runner.invoke(app, ["alerts", "--data", str(tmp_path / "nowhere"), "--json"])
    assert missing.exit_code == 1 and "holds no Consortia network" in json.loads(missing.output)["error"]
    report = audit_network(folder)
    assert report.ok, report.first_failure
