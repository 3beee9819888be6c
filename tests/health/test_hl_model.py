"""The trained model: the teaching cohort, cross-validation, calibration, the comparison, the card and the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from consortia.apps.health.cli import app
from consortia.apps.health.consortium import ANALYTICS
from consortia.apps.health.service import dataset, training
from consortia.apps.health.service.health import HealthService
from consortia.network.embedded import EmbeddedNetwork

from .hl_support import person


@pytest.fixture(scope="module")
def trained() -> tuple[object, training.TrainingReport, bytes]:
    """One training run shared by the module."""
    return training.train()


def test_cohort_reads_with_cr_line_endings() -> None:
    """4,240 participants, 16 columns, NaN for NA; CR, LF and CRLF files parse alike; bad files are refused."""
    cohort = dataset.load()
    assert cohort.rows == 4240 and cohort.columns[-1] == "TenYearCHD"
    assert np.isnan(cohort.column("glucose")).sum() > 0
    raw, _ = dataset.raw_bytes()
    assert b"\r" in raw and b"\n" not in raw
    again = dataset.parse(raw.replace(b"\r", b"\r\n"))
    assert np.array_equal(np.nan_to_num(again.values), np.nan_to_num(cohort.values))
    with pytest.raises(dataset.DatasetError, match="columns"):
        dataset.parse(b"a,b\r1,2\r")
    with pytest.raises(dataset.DatasetError, match="line 2"):
        dataset.parse(raw.split(b"\r")[0] + b"\r1,2\r")


def test_report_compares_model_and_equation_on_the_same_rows(trained: tuple) -> None:
    """Cross-validated candidates, a calibrated model, AUC and Brier of model and equation on one held-out split."""
    _, report, blob = trained
    body = report.to_json()
    assert body["data"]["train_rows"] + body["data"]["test_rows"] == 4240
    assert set(body["cross_validation"]["candidates"]) == {"logistic-regression", "gradient-boosting"}
    model, equation = body["held_out"]["model"], body["held_out"]["framingham_2008_equation"]
    for metrics in (model, equation):
        assert 0.6 < metrics["roc_auc"] < 0.9 and 0.05 < metrics["brier"] < 0.2
        assert metrics["observed"] == equation["observed"]  # the same rows
    assert abs(model["mean_predicted"] - model["observed"]) < 0.03  # calibrated
    assert report.sha256 == __import__("hashlib").sha256(blob).hexdigest()
    assert report.version.endswith(report.sha256[:8])


def test_save_load_and_refuse_an_altered_file(trained: tuple, tmp_path: Path) -> None:
    """The file loads only with its registered hash; the card states data, metrics and limits."""
    _, report, blob = trained
    saved = training.save(report, blob, tmp_path)
    loaded = training.load(Path(saved.files["model"]), report.sha256)
    row = np.array([1, 55, 0, 0, 0, 0, 0, 0, 213, 140, np.nan, np.nan, np.nan, np.nan], dtype=float)
    assert 0 < loaded.predict(row)[0] < 1
    card = Path(saved.files["model_card"]).read_text()
    for heading in ("## Data", "## Features", "## Held-out metrics", "## Limits", report.sha256):
        assert heading in card
    Path(saved.files["model"]).write_bytes(blob + b"x")
    with pytest.raises(training.ModelError, match="not the registered"):
        training.load(Path(saved.files["model"]), report.sha256)
    with pytest.raises(training.ModelError, match="cannot read"):
        training.load(tmp_path / "missing.joblib")


def test_train_cli_registers_the_model_hash(hl_network: EmbeddedNetwork) -> None:
    """``health train --json`` prints the report and records the hash on the ledger; scores log the version."""
    folder = hl_network.directory
    hl_network.close()
    result = CliRunner().invoke(app, ["train", "--data", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["registered"]["ledger"] is True
    assert {"roc_auc", "brier"} <= set(body["held_out"]["model"]) and "framingham_2008_equation" in body["held_out"]
    network = EmbeddedNetwork(folder)
    try:
        service = HealthService(network)
        record = service.evaluate(service.custodian(), "model", training.NAME, "")
        assert record["sha256"] == body["sha256"] and record["version"] == body["version"]
        model = service.current_model()
        assert model.sha256 == body["sha256"]
        # A non-analyst cannot register a model.
        with pytest.raises(Exception, match="only an analyst"):
            service.submit(service.custodian(), "register_model", "x", "1", "0" * 64, {})
        analyst = person(network, ANALYTICS, "analyst")
        service.put_profile("GW-0001", {"age": 60, "sex": "male", "race": "other", "total_chol": 210, "hdl": 45,
                                        "sbp": 145, "bp_treated": True, "smoker": True, "diabetes": False})  # fmt: skip
        patient = person(network, "GangwonHealthOffice", "patient001")
        service.grant(patient, ANALYTICS, ["CAREMGT"])
        [scored] = service.score(analyst, ["GW-0001"], model).values()
        assert scored["model"]["version"] == body["version"] and scored["model"]["sha256"] == body["sha256"]
        assert 0 < scored["model"]["chd_10y"] < 1 and scored["equations"]["pce"]["risk_10y"] > 0
        stored = service.read(patient, "GW-0001", "PATRQT", ["risk"]).documents
        assert any(d.get("kind") == "risk-score" and d["model"]["version"] == body["version"] for d in stored)
    finally:
        network.close()


def test_only_the_health_office_makes_a_checked_model_current(hl_network: EmbeddedNetwork) -> None:
    """A strict version, registration by the analyst, promotion by the custodian, the file's hash before any use."""
    from fastapi.testclient import TestClient

    from consortia.apps.health.consortium import CUSTODIAN
    from consortia.apps.health.service.health import HealthError, service_for
    from consortia.client.errors import EndorsementFailed
    from consortia.gateway.server.app import ServerSettings, create_app

    service = service_for(hl_network)
    analyst = person(hl_network, ANALYTICS, "analyst")
    for version in ("..", "../x", "1.0", "1.0.0-zzzzzzzz", "1.0.0-00000000/.."):
        with pytest.raises(EndorsementFailed, match="model version must match"):
            service.submit(analyst, "register_model", training.NAME, version, "0" * 64, {})
    with pytest.raises(EndorsementFailed, match="must end with the first 8 hex digits of its SHA-256"):
        service.submit(analyst, "register_model", training.NAME, "1.0.0-12345678", "0" * 64, {})
    with pytest.raises(EndorsementFailed, match="model name must match"):
        service.submit(analyst, "register_model", "..", "1.0.0-00000000", "0" * 64, {})
    # A zero hash can be registered (it is only a claim) but does not become current by registering it…
    service.submit(analyst, "register_model", training.NAME, "1.0.0-00000000", "0" * 64, {})
    assert service.current_record() is None
    # …and the analysis service cannot make it current; the health office can.
    with pytest.raises(EndorsementFailed, match=r"only the custodian \(GangwonHealthOffice\).* may make a model"):
        service.promote_model(analyst, training.NAME, "1.0.0-00000000")
    officer = person(hl_network, CUSTODIAN, "officer")
    with pytest.raises(EndorsementFailed, match="is not registered"):
        service.promote_model(officer, training.NAME, "9.9.9-99999999")
    service.promote_model(officer, training.NAME, "1.0.0-00000000")
    assert service.current_record()["sha256"] == "0" * 64
    # Before the model or its card is used, the file must have the registered hash: a planted file is refused.
    folder = service.model_folder("1.0.0-00000000")
    folder.mkdir(parents=True)
    (folder / "model.joblib").write_bytes(b"not the registered model")
    (folder / "MODEL_CARD.md").write_text("PLANTED CARD")
    (service.models_dir.parent / "MODEL_CARD.md").write_text("OUTSIDE THE MODELS FOLDER")
    with pytest.raises(training.ModelError, match="not the registered"):
        service.current_model()
    card = service.model_card()
    assert card.card == "" and "not the registered" in card.problem
    with pytest.raises(HealthError, match="model version must match"):
        service.model_folder("..")
    app = create_app(hl_network, ServerSettings(secure_cookies=False))
    client = TestClient(app)
    client.post("/api/login", json={"username": "GangwonHealthOffice/officer", "password": "consortia-demo"})
    page = client.get("/health/model?lang=en")
    assert page.status_code == 200 and 'id="model-problem"' in page.text
    assert "PLANTED CARD" not in page.text and "OUTSIDE THE MODELS FOLDER" not in page.text
