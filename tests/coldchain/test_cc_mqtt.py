"""Sensor readings through a real Mosquitto broker: ≥ 10,000 readings, duplicates and disorder, every one stored
once, batches anchored, inclusion proofs that verify; bad messages counted, never fatal."""

from __future__ import annotations

import json
import os
import random

import pytest

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.demo import simulate
from consortia.apps.coldchain.service import broker, proofs
from consortia.apps.coldchain.service.ingest import IngestService
from consortia.apps.coldchain.service.store import ReadingStore

from .cc_support import settle

START = 1709560800000  # 2024-03-04 23:00 KST

pytestmark = pytest.mark.skipif(
    broker.mosquitto_binary() is None and os.environ.get("CI") != "true",
    reason="Mosquitto is not installed (required when CI=true)",
)

TOPIC = "coldchain/site-dock/LG-001/temperature"


def body(**fields: object) -> bytes:
    """A reading's JSON with some fields changed (``drop`` names one to leave out)."""
    value = {"ts": "2024-03-05T04:00:00+09:00", "celsius": 1.0, "device": "LG-001", "seq": 900_000}
    value.update(fields)
    return json.dumps(value).encode()


BAD = [
    (TOPIC, b"{not json"),
    (TOPIC, b"[1, 2]"),
    (TOPIC, json.dumps({"ts": "2024-03-05T04:00:00+09:00", "fahrenheit": 34, "device": "LG-001", "seq": 1}).encode()),
    (TOPIC, body(celsius=95, seq=900_002)),
    (TOPIC, body(device="LG-002", seq=900_003)),
    (TOPIC, body(ts="2024-03-05 04:00", seq=900_004)),
    ("coldchain/site-dock/LG-999/temperature", body(device="LG-999", seq=1)),
    (TOPIC, b"\xff\xfe garbage"),
]
BAD_REASONS = {"malformed": 3, "wrong_unit": 1, "out_of_range": 1, "device_mismatch": 1, "bad_timestamp": 1}


def test_ten_thousand_readings_through_mosquitto(cc_network) -> None:
    plan = simulate.plan(lots=2, devices=8, hours=48, rate=4, start_ms=START)
    assert len(plan.readings) >= 10_000
    simulate.register(cc_network, plan)
    with broker.start_mosquitto() as mqtt:
        service = IngestService.for_network(cc_network, window_seconds=300)
        service.connect(mqtt.host, mqtt.port)
        sent = simulate.publish(plan, mqtt.host, mqtt.port, duplicates=0.02, disorder=0.02, extra=BAD)
        assert sent["duplicates"] > 100 and sent["out_of_order"] > 100
        assert service.wait_for(sent["published"], timeout=120), service.counters()
        service.close()
    counters = service.counters()
    unique = len(plan.readings)
    assert counters["received"] == sent["published"]
    assert counters["stored"] == unique
    assert counters["duplicates"] == sent["duplicates"]
    assert counters["out_of_order"] == sent["out_of_order"]
    assert counters["unknown_device"] == 1
    assert {k: counters[k] for k in BAD_REASONS} == BAD_REASONS
    assert counters["readings_anchored"] == unique and counters["anchor_failures"] == 0
    assert counters["batches_anchored"] == counters["batches_sealed"] > 0
    store = ReadingStore(proofs.store_path(cc_network.directory))
    try:
        assert store.count() == unique
        assert store.count("rejects") == sum(BAD_REASONS.values())
        assert store.count("quarantine") == 1
        assert all(batch.status == "anchored" for batch in store.batches())
        settle(cc_network)
        peer_channel = cc_network.peers[consortium.RETAILER].channel(consortium.CHANNEL)
        rng = random.Random(4)
        for reading in rng.sample(plan.readings, 8):
            document = proofs.reading_proof(store, peer_channel, reading.device, reading.seq)
            steps = proofs.verify_reading_proof(document)
            assert all(s.ok for s in steps), [s for s in steps if not s.ok]
            assert document["reading"]["celsius"] == reading.celsius
        document = proofs.reading_proof(store, peer_channel, plan.readings[0].device, plan.readings[0].seq)
        document["reading"]["celsius"] += 0.1  # a doctored reading fails its inclusion proof
        assert not all(s.ok for s in proofs.verify_reading_proof(document))
        document = proofs.reading_proof(store, peer_channel, plan.readings[0].device, plan.readings[0].seq)
        document["batch"]["root"] = "00" * 32  # a root the ledger never saw
        assert not all(s.ok for s in proofs.verify_reading_proof(document))
    finally:
        store.close()
    contract = cc_network.gateway(consortium.RETAILER).network(consortium.CHANNEL).contract(consortium.CONTRACT)
    alarms = {(tuple(a["lots"]), a["code"]) for a in contract.evaluate("alarms", True)}
    excursion = plan.scenario.excursion_lot.key
    assert ((excursion,), "high_temperature_exposure") in alarms
    derived = {lot.key for lot in plan.scenario.retail_lots if lot.lot.split("-")[1][:2] == "02"}
    assert {lot for (lots, code) in alarms for lot in lots if code == "high_temperature_exposure"} == {
        excursion,
        *derived,
    }
