"""``consortia health bench``: one day of the province's readings, ingested end to end, and every patient scored.

Gangwon's target is 450,000 patients. At six home readings a day (blood pressure and pulse morning and evening,
two glucose values) that is about 2.7 million readings a day. The benchmark builds a health network in a scratch
folder and enrols N synthetic patients (data keys in the custodian's vault, pseudonyms in the ledger's private
collection — *setup*, timed separately), then measures:

* **ingest** — for one day of readings: plausibility checks and alert rules (vectorised), each reading sealed
  with AES-GCM under its patient's data key (unwrapped from the vault) with its salted hash, written to the
  off-chain store, and anchored on the ledger in batches (one transaction per ``--batch`` records: the RFC 9162
  Merkle root of the salted hashes), alerts recorded on the ledger. Target: ≤ 5 minutes.
* **score** — every patient's 10-year risk by the Pooled Cohort Equations and Framingham 2008 (numpy) and by the
  trained model (scikit-learn), each score sealed, stored and anchored with the model version. Target: ≤ 60 s.

The readings are synthetic and spread over the day; the alert rate is what the distributions give. Batches hold
many patients (the interactive path anchors one patient's import per transaction); the ledger sees ~N×6/batch
anchor transactions a day instead of millions.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from consortia.apps.health.consortium import CUSTODIAN
from consortia.apps.health.domain import alerts as alert_rules
from consortia.apps.health.domain import framingham, pce
from consortia.apps.health.service import crypto
from consortia.ledger import merkle

KINDS = ("bp", "heart_rate", "glucose")


class BenchError(Exception):
    """The benchmark cannot run with these settings."""


def _pseudonyms(count: int) -> list[str]:
    return [f"GW-B{n:07d}" for n in range(count)]


def _day(patients: int, per_day: float, start: datetime, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One day of readings, grouped by patient: index, kind, values, times."""
    per = max(1, round(per_day))
    patient = np.repeat(np.arange(patients), per)
    slot = np.tile(np.arange(per), patients)
    kind = np.where(slot % 3 == 0, 0, np.where(slot % 3 == 1, 1, 2))  # bp, heart rate, glucose
    base_sbp = rng.normal(134, 14, patients)[patient]
    sbp = np.clip(rng.normal(base_sbp, 9), 80, 260).round()
    dbp = np.clip(sbp * 0.6 + rng.normal(0, 6, len(sbp)), 40, sbp - 20).round()
    pulse = np.clip(rng.normal(72, 8, len(sbp)), 35, 180).round()
    glucose = np.clip(rng.lognormal(np.log(125), 0.28, len(sbp)), 25, 600).round()
    value = np.where(kind == 0, sbp, np.where(kind == 1, pulse, glucose))
    value2 = np.where(kind == 0, dbp, 0)
    seconds = (slot * (86400 // per) + rng.integers(0, max(1, 86400 // per), len(slot))).astype("timedelta64[s]")
    times = np.datetime64(start.replace(tzinfo=None), "s") + seconds
    return {"patient": patient, "kind": kind, "value": value, "value2": value2, "time": times}


def _seal_batch(
    rows: range,
    day: dict[str, np.ndarray],
    names: list[str],
    keys: list[Any],
    batch: str,
    effective: np.ndarray,
    stamps: np.ndarray,
) -> tuple[list, bytes]:
    """Seal records ``rows`` as one batch; return (store rows, Merkle root)."""
    from consortia.apps.health.service.store import StoredRecord

    out = []
    leaves = []
    noise = os.urandom(28 * len(rows))
    patient_of, kind_of, value_of, value2_of = day["patient"], day["kind"], day["value"], day["value2"]
    for leaf, index in enumerate(rows):
        p = int(patient_of[index])
        k = int(kind_of[index])
        when = stamps[index]
        if k == 0:
            body = (
                f'{{"class":"blood-pressure","code":"85354-9","effective":"{when}","kind":"bp","patient":'
                f'"{names[p]}","unit":"mm[Hg]","value":{value_of[index]:.0f},"value2":{value2_of[index]:.0f}}}'
            )
            data_class = "blood-pressure"
        elif k == 1:
            body = (
                f'{{"class":"blood-pressure","code":"8867-4","effective":"{when}","kind":"heart_rate",'
                f'"patient":"{names[p]}","unit":"/min","value":{value_of[index]:.0f}}}'
            )
            data_class = "blood-pressure"
        else:
            body = (
                f'{{"class":"glucose","code":"41653-7","context":"glucometer","effective":"{when}",'
                f'"kind":"glucose","patient":"{names[p]}","unit":"mg/dL","value":{value_of[index]:.0f}}}'
            )
            data_class = "glucose"
        record = body.encode()
        nonce, salt = noise[28 * leaf : 28 * leaf + 12], noise[28 * leaf + 12 : 28 * leaf + 28]
        blob = nonce + keys[p].encrypt(nonce, salt + record, f"{batch}/{leaf}".encode())
        digest = crypto.salted_hash(salt, record)
        leaves.append(merkle.leaf_hash(digest))
        out.append(StoredRecord(batch, leaf, names[p], data_class, int(effective[index]), blob, digest))
    return out, merkle.root(leaves)


def run(
    patients: int,
    per_day: float = 6.0,
    batch: int = 20_000,
    data: Path | None = None,
    seed: int = 7,
) -> dict[str, Any]:
    """Run the benchmark; return its figures."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from consortia.apps.health.consortium import channel_spec, deploy, org_specs
    from consortia.apps.health.service import training
    from consortia.apps.health.service.health import HealthService, transient
    from consortia.ledger.config import BatchConfig
    from consortia.network.embedded import EmbeddedNetwork
    from consortia.network.spec import NetworkSpec

    if patients < 1:
        raise BenchError("--patients must be at least 1")
    scratch = Path(tempfile.mkdtemp(prefix="health-bench-")) if data is None else Path(data)
    if data is not None and scratch.exists() and any(scratch.iterdir()):
        raise BenchError(f"{scratch} is not empty; give an empty or new folder")
    rng = np.random.default_rng(seed)
    figures: dict[str, Any] = {"patients": patients, "cores": os.cpu_count(), "batch": batch}
    started = time.perf_counter()
    spec = NetworkSpec(
        orgs=org_specs(0),
        channels=(channel_spec(BatchConfig(max_transactions=500, timeout_ms=20)),),
    )
    network = EmbeddedNetwork.create(scratch / "net", spec)
    try:
        deploy(network)
        service = HealthService(network)
        names = _pseudonyms(patients)
        service.enroll(names)
        _, report, blob = training.train()
        report = training.save(report, blob, service.models_dir)
        model = training.load(Path(report.files["model"]), report.sha256)
        figures["setup_seconds"] = round(time.perf_counter() - started, 1)

        # -- ingest one day ----------------------------------------------------------------------------------
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        day = _day(patients, per_day, start, rng)
        total = len(day["patient"])
        t0 = time.perf_counter()
        vault = service.keyring.vault_key(CUSTODIAN)
        wrapped = service.store.wrapped_keys(names)
        keys = [AESGCM(crypto.unwrap_local(wrapped[name], vault, name)) for name in names]
        stamps = np.datetime_as_string(day["time"], unit="s").astype(object) + "Z"
        effective = day["time"].astype("int64")
        kind, value, value2 = day["kind"], day["value"], day["value2"]
        implausible = ((kind == 0) & ((value < 50) | (value > 300) | (value2 >= value))) | (
            (kind == 2) & ((value < 10) | (value > 1000))
        )
        crisis = (kind == 0) & ((value > 180) | (value2 > 120)) & ~implausible
        hypo2 = (kind == 2) & (value < 54) & ~implausible
        hypo1 = (kind == 2) & (value >= 54) & (value < 70)
        found = []
        for index, name in (
            (np.flatnonzero(crisis), "hypertensive-crisis"),
            (np.flatnonzero(hypo2), "hypoglycaemia-level-2"),
        ):
            for i in index:
                when = datetime.fromtimestamp(int(effective[i]), UTC)
                shown = (
                    f"{value[i]:.0f}/{value2[i]:.0f} mm Hg"
                    if name == "hypertensive-crisis"
                    else f"{value[i]:.0f} mg/dL"
                )
                found.append(
                    alert_rules.Alert(names[int(day["patient"][i])], name, alert_rules.CRITICAL, when, shown, "bench")
                )
        anchors: list[Future] = []
        custodian = service.custodian()
        pool = ThreadPoolExecutor(4)

        def anchor(batch_id: str, root: bytes, count: int, classes: list[str]) -> str:
            about = transient(records={"patient": "", "classes": classes})
            result = service.submit(custodian, "anchor", batch_id, count, root.hex(), [], transient=about)
            service.store.commit(batch_id, result.tx_id)
            return result.tx_id

        keep = np.flatnonzero(~implausible)
        for number, first in enumerate(range(0, len(keep), batch)):
            rows = keep[first : first + batch]
            batch_id = f"d{start:%Y%m%d}-{number:05d}-{os.urandom(3).hex()}"
            stored, root = _seal_batch(rows, day, names, keys, batch_id, effective, stamps)
            service.store.stage(batch_id, "", root, stored)
            classes = sorted({r.data_class for r in stored})
            anchors.append(pool.submit(anchor, batch_id, root, len(stored), classes))
        tx_ids = [f.result() for f in anchors]
        recorded = service.record_alerts(found) if found else []
        ingest = time.perf_counter() - t0
        figures.update(
            readings=total,
            rejected_implausible=int(implausible.sum()),
            ingest_seconds=round(ingest, 2),
            readings_per_second=round(total / ingest),
            anchor_transactions=len(tx_ids),
            alerts_recorded=len(recorded),
            level1_hypoglycaemia_readings=int(hypo1.sum()),
            ingest_target_met=ingest <= 300,
        )

        # -- score every patient ------------------------------------------------------------------------------
        t1 = time.perf_counter()
        female = rng.random(patients) < 0.52
        black = np.zeros(patients, dtype=bool)
        age = rng.integers(45, 80, patients).astype(float)
        tc = np.clip(rng.normal(195, 32, patients), 130, 320)
        hdl = np.clip(rng.normal(52, 12, patients), 25, 95)
        sbp_home = np.bincount(day["patient"][kind == 0], weights=value[kind == 0], minlength=patients) / np.maximum(
            np.bincount(day["patient"][kind == 0], minlength=patients), 1
        )
        treated = rng.random(patients) < 0.6
        smoker = rng.random(patients) < 0.18
        diabetic = rng.random(patients) < 0.3
        risk_pce = pce.risk_arrays(female, black, age, tc, hdl, sbp_home, treated, smoker, diabetic)
        risk_fr = framingham.risk_arrays(female, age, tc, hdl, sbp_home, treated, smoker, diabetic)
        rows = np.column_stack(
            [
                ~female,
                age,
                smoker,
                smoker * 10.0,
                treated,
                np.zeros(patients),
                treated | (sbp_home >= 140),
                diabetic,
                tc,
                sbp_home,
                np.full(patients, np.nan),
                np.full(patients, np.nan),
                np.full(patients, np.nan),
                np.full(patients, np.nan),
            ]
        )
        risk_model = model.predict(rows.astype(float))
        scored_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        score_anchors: list[Future] = []
        for number, first in enumerate(range(0, patients, batch)):
            batch_id = f"r{start:%Y%m%d}-{number:05d}-{os.urandom(3).hex()}"
            stored = []
            leaves = []
            noise = os.urandom(28 * min(batch, patients - first))
            for leaf, p in enumerate(range(first, min(first + batch, patients))):
                record = (
                    f'{{"class":"risk","effective":"{scored_at}","kind":"risk-score","model":{{"name":'
                    f'"{model.name}","version":"{model.version}","sha256":"{model.sha256}","chd_10y":'
                    f'{risk_model[p]:.4f}}},"patient":"{names[p]}","pce":{risk_pce[p]:.4f},'
                    f'"framingham":{risk_fr[p]:.4f}}}'
                ).encode()
                nonce, salt = noise[28 * leaf : 28 * leaf + 12], noise[28 * leaf + 12 : 28 * leaf + 28]
                blob = nonce + keys[p].encrypt(nonce, salt + record, f"{batch_id}/{leaf}".encode())
                digest = crypto.salted_hash(salt, record)
                leaves.append(merkle.leaf_hash(digest))
                stored.append(_stored(batch_id, leaf, names[p], blob, digest))
            root = merkle.root(leaves)
            service.store.stage(batch_id, "", root, stored)
            score_anchors.append(pool.submit(anchor, batch_id, root, len(stored), ["risk"]))
        for future in score_anchors:
            future.result()
        pool.shutdown()
        score = time.perf_counter() - t1
        figures.update(
            scoring_seconds=round(score, 2),
            patients_scored_per_second=round(patients / score),
            model=f"{model.name} {model.version}",
            mean_risk_pce=round(float(risk_pce.mean()), 4),
            mean_risk_model=round(float(risk_model.mean()), 4),
            score_target_met=score <= 60,
            store_bytes=service.store.path.stat().st_size,
            total_seconds=round(time.perf_counter() - started, 1),
        )
        service.store.close()
    finally:
        network.close()
        if data is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return figures


def _stored(batch: str, leaf: int, patient: str, blob: bytes, digest: bytes) -> Any:
    from consortia.apps.health.service.store import StoredRecord

    return StoredRecord(batch, leaf, patient, "risk", 0, blob, digest)
