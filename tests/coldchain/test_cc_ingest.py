"""The ingester without a broker: every kind of bad message, unknown devices, late readings, a restart."""

from __future__ import annotations

import json

import pytest

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.demo import simulate
from consortia.apps.coldchain.domain import readings
from consortia.apps.coldchain.domain.document import read_document
from consortia.apps.coldchain.domain.facts import CONTEXT, DEVICE_PREFIX
from consortia.apps.coldchain.domain.readings import Reading, Rejected
from consortia.apps.coldchain.service import proofs
from consortia.apps.coldchain.service.anchoring import Anchorer
from consortia.apps.coldchain.service.capture import Capturer, contract_of
from consortia.apps.coldchain.service.devices import DeviceRegistry
from consortia.apps.coldchain.service.ingest import IngestService
from consortia.apps.coldchain.service.store import ReadingStore

from .cc_support import settle

START = 1709560800000
NOW = START + 10 * 24 * 3_600_000
W = 300_000


def payload(device: str, seq: int, ts_ms: int, celsius: float) -> tuple[str, bytes]:
    reading = Reading("site-x", device, seq, ts_ms, celsius)
    return readings.topic("site-x", device), readings.encode(reading)


def _json(**fields: object) -> bytes:
    value = {"ts": "2024-03-05T04:00:00Z", "celsius": 1, "device": "D1", "seq": 1}
    value.update(fields)
    return json.dumps({k: v for k, v in value.items() if v is not None}).encode()


T = "coldchain/s/D1/temperature"


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        (T, b"{nope", "malformed"),
        (T, b'"a string"', "malformed"),
        (T, _json(celsius="cold"), "malformed"),
        (T, _json(celsius=True), "malformed"),
        (T, _json(seq=1.5), "malformed"),
        (T, _json(seq=-1), "malformed"),
        (T, _json(seq=None), "malformed"),
        (
            T,
            json.dumps({"ts": "2024-03-05T04:00:00Z", "fahrenheit": 34, "device": "D1", "seq": 1}).encode(),
            "wrong_unit",
        ),
        (T, _json(celsius=34, unit="F"), "wrong_unit"),
        (T, _json(celsius=274.1), "out_of_range"),
        (T, _json(device="D2"), "device_mismatch"),
        (T, _json(ts="2024-03-05T04:00:00"), "bad_timestamp"),
        (T, _json(ts="2099-03-05T04:00:00Z"), "bad_timestamp"),
        ("coldchain/s/D1/humidity", _json(), "bad_topic"),
        ("coldchain/s/../temperature", b"{}", "bad_topic"),
    ],
)
def test_bad_messages_are_told_apart(topic: str, body: bytes, reason: str) -> None:
    result = readings.parse(topic, body, NOW)
    assert isinstance(result, Rejected) and result.reason == reason, result


def test_a_valid_reading_parses() -> None:
    topic, body = payload("LG-001", 7, START, 1.25)
    assert readings.parse(topic, body, NOW) == Reading("site-x", "LG-001", 7, START, 1.25)


@pytest.fixture
def small(cc_network):
    """A one-lot scenario over six hours, recorded; its loggers take a reading a minute."""
    plan = simulate.plan(lots=1, devices=3, hours=6, rate=1, start_ms=START)
    simulate.register(cc_network, plan)
    return cc_network, plan


def test_bad_input_never_stops_the_ingester_nor_loses_valid_readings(small) -> None:
    network, plan = small
    service = IngestService.for_network(network, window_seconds=300)
    good = [payload(r.device, r.seq, r.ts_ms, r.celsius) for r in plan.readings]
    junk = [
        ("coldchain/s/LG-001/temperature", b"{nope"),
        ("coldchain/s/LG-001/temperature", b'{"ts":"x","celsius":1,"device":"LG-001","seq":1}'),
        ("coldchain/s/LG-001/temperature", b'{"ts":"2024-03-05T04:00:00Z","celsius":99,"device":"LG-001","seq":1}'),
        ("nope", b"{}"),
        ("coldchain/s/LG-001/temperature", b"\x00" * 10_000),
    ]
    for i, message in enumerate(good):
        service.handle(*message, received_ms=NOW)
        if i % 50 == 0:
            service.handle(*junk[i // 50 % len(junk)], received_ms=NOW)
    service.close()
    counters = service.counters()
    assert counters["stored"] == len(plan.readings) == counters["readings_anchored"]
    assert sum(counters[r] for r in readings.REASONS) == -(-len(good) // 50)
    assert counters["anchor_failures"] == 0


def test_unknown_devices_are_kept_and_replayed_once_associated(small) -> None:
    network, plan = small
    service = IngestService.for_network(network, window_seconds=300)
    lot = plan.scenario.landing_lots[0]
    for seq in range(1, 31):
        service.handle(*payload("LG-NEW", seq, START + seq * 60_000, 0.5), received_ms=NOW)
    service.flush()
    assert service.counters()["unknown_device"] == 30 and service.counters()["stored"] == 0
    association = {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-05T00:00:00Z",
        "epcisBody": {
            "eventList": [
                {
                    "type": "AssociationEvent",
                    "eventTime": "2024-03-04T23:00:00+09:00",
                    "eventTimeZoneOffset": "+09:00",
                    "parentID": "urn:epc:id:sscc:8809012.0000000099",
                    "childEPCs": [f"urn:epc:id:giai:{DEVICE_PREFIX}.LG-NEW"],
                    "childQuantityList": [{"epcClass": lot.canonical}],
                    "action": "ADD",
                    "bizStep": "installing",
                }
            ]
        },
    }
    Capturer(contract_of(network.gateway(consortium.LOGISTICS))).capture(read_document(association))
    settle(network)
    assert service.replay_quarantine() == 30
    service.close()
    counters = service.counters()
    assert counters["stored"] == 30 == counters["readings_anchored"]
    store = ReadingStore(proofs.store_path(network.directory))
    try:
        assert store.count("quarantine") == 0
        batches = [b for b in store.batches() if b.device == "LG-NEW"]
        assert batches and all(b.lots == (lot.key,) for b in batches)
    finally:
        store.close()


def test_late_readings_are_anchored_in_a_further_part_and_provable(small) -> None:
    network, plan = small
    device = plan.readings[0].device
    service = IngestService.for_network(network, window_seconds=300, lateness_seconds=0)
    base = (START // W + 2) * W
    for seq in range(1, 6):
        service.handle(*payload(device, 10_000 + seq, base + seq * 30_000, 1.0), received_ms=NOW)
    service.handle(*payload(device, 10_010, base + W + 1000, 1.1), received_ms=NOW)  # passes the window's end
    service.drain()
    service.handle(*payload(device, 10_006, base + 200_000, 1.2), received_ms=NOW)  # for the sealed window
    service.handle(*payload(device, 10_006, base + 200_000, 1.2), received_ms=NOW)  # and again
    service.close()
    counters = service.counters()
    assert counters["late"] == 1 and counters["duplicates"] == 1 and counters["out_of_order"] == 1
    store = ReadingStore(proofs.store_path(network.directory))
    try:
        window = base // W
        assert [b.part for b in store.batches() if b.device == device and b.window == window] == [0, 1]
        settle(network)
        channel = network.peers[consortium.PROCESSOR].channel(consortium.CHANNEL)
        late = proofs.reading_proof(store, channel, device, 10_006)
        assert late["batch"]["part"] == 1 and late["batch"]["count"] == 1
        assert all(s.ok for s in proofs.verify_reading_proof(late))
        with pytest.raises(proofs.ProofError, match="no reading"):
            proofs.reading_proof(store, channel, device, 424242)
    finally:
        store.close()


def test_a_restarted_ingester_seals_and_anchors_what_it_had_stored(small) -> None:
    network, plan = small
    first = IngestService.for_network(network, window_seconds=300)
    chosen = plan.readings[:40]
    for r in chosen:
        first.handle(*payload(r.device, r.seq, r.ts_ms, r.celsius), received_ms=NOW)
    first.drain()
    first.anchorer.wait()
    sealed_before = first.counters()["batches_sealed"]
    first.store.close()  # the process dies: open windows were never sealed
    second = IngestService.for_network(network, window_seconds=300)
    second.close()
    store = ReadingStore(proofs.store_path(network.directory))
    try:
        assert store.count() == len(chosen)
        assert all(b.status == "anchored" for b in store.batches())
        assert sum(b.count for b in store.batches()) == len(chosen)
        assert store.count("batches") >= sealed_before
    finally:
        store.close()
    assert json.dumps(second.counters())


def test_a_batch_anchored_twice_stays_provable_under_its_first_transaction(small) -> None:
    """Anchoring a batch again (the same event, so already on the ledger) keeps its transaction, not none."""
    network, plan = small
    service = IngestService.for_network(network, window_seconds=300)
    chosen = [r for r in plan.readings if r.device == plan.readings[0].device][:12]
    for r in chosen:
        service.handle(*payload(r.device, r.seq, r.ts_ms, r.celsius), received_ms=NOW)
    service.close()
    settle(network)
    store = ReadingStore(proofs.store_path(network.directory))
    contract = contract_of(network.gateway(consortium.LOGISTICS))
    registry = DeviceRegistry(lambda: contract.evaluate("device_associations", ""))
    registry.refresh(force=True)
    anchorer = Anchorer(Capturer(contract), store, registry, window_ms=W)
    try:
        first = {b.key: (b.event_id, b.tx_id, b.block) for b in store.batches()}
        assert first and all(tx is not None and block is not None for _, tx, block in first.values())
        for batch in store.batches():
            anchorer.submit(batch)
        assert anchorer.wait()
        assert anchorer.counters["batches_anchored"] == len(first) and anchorer.counters["anchor_failures"] == 0
        assert anchorer.counters["anchor_transactions"] == 0  # nothing new went to the ledger
        again = {b.key: (b.event_id, b.tx_id, b.block) for b in store.batches()}
        assert again == first and {b.status for b in store.batches()} == {"anchored"}
        channel = network.peers[consortium.PROCESSOR].channel(consortium.CHANNEL)
        for r in (chosen[0], chosen[-1]):
            proof = proofs.reading_proof(store, channel, r.device, r.seq)
            assert all(s.ok for s in proofs.verify_reading_proof(proof))
    finally:
        anchorer.close()
        store.close()
