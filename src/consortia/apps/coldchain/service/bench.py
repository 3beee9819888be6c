"""``consortia coldchain bench``: how fast readings are ingested and anchored, and EPCIS events captured.

Three figures on a fresh cold-chain network in a temporary folder (five organisations, every peer validating
every block):

* **sensor readings ingested and anchored per second** — ``readings`` readings of ``devices`` loggers (one a
  second each) handed to the ingester as MQTT payloads: parsed, validated, stored once in SQLite, batched per
  device and 5-minute window, Merkle-hashed, and the roots anchored on the ledger (committed). The clock stops
  when the last anchoring transaction has committed. The ingest-only rate (stored, before anchoring) is shown too;
* the same **through a Mosquitto broker** (QoS 1 publisher → broker → ingester → ledger), when installed;
* **EPCIS events captured per second** — documents of ``per_document`` ObjectEvents validated (JSON Schema, GS1
  keys), hashed (CBV 2.0 event hash IDs, in the contract), committed to by a Merkle root of their public
  projections and stored in the five members' private collection (each event reaches every member peer as
  private data; the block holds only the root, opaque index keys and salted hashes), several documents in flight.

The benchmark prints figures only; it asserts nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.domain import readings, timestamps
from consortia.apps.coldchain.domain.document import read_document
from consortia.apps.coldchain.domain.facts import CONTEXT, DEVICE_PREFIX
from consortia.apps.coldchain.service import broker
from consortia.apps.coldchain.service.capture import Capturer, contract_of, settle
from consortia.apps.coldchain.service.ingest import IngestService
from consortia.ledger.config import BatchConfig
from consortia.network.embedded import EmbeddedNetwork

START = 1709560800000


def _document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-05T00:00:00Z",
        "epcisBody": {"eventList": events},
    }


def _associate(network: EmbeddedNetwork, devices: list[str], lot: str) -> None:
    events = [
        {
            "type": "AssociationEvent",
            "eventTime": timestamps.iso_local(START - 60_000, "+09:00"),
            "eventTimeZoneOffset": "+09:00",
            "parentID": f"urn:epc:id:sscc:8809012.0{i % 1000:03d}000000",
            "childEPCs": [f"urn:epc:id:giai:{DEVICE_PREFIX}.{device}"],
            "childQuantityList": [{"epcClass": lot}],
            "action": "ADD",
            "bizStep": "installing",
        }
        for i, device in enumerate(devices)
    ]
    capturer = Capturer(contract_of(network.gateway(consortium.LOGISTICS)))
    for start in range(0, len(events), 100):
        capturer.capture(read_document(_document(events[start : start + 100])))
    settle(network)


def _payloads(devices: list[str], per_device: int) -> list[tuple[str, bytes]]:
    messages = []
    for seq in range(1, per_device + 1):
        for n, device in enumerate(devices):
            reading = readings.Reading("site-bench", device, seq, START + seq * 1000, round(1.5 + (n % 7) * 0.1, 2))
            messages.append((readings.topic("site-bench", device), readings.encode(reading)))
    return messages


def _ingest(network: EmbeddedNetwork, messages: list[tuple[str, bytes]], folder: Path) -> dict[str, Any]:
    service = IngestService.for_network(network, data=folder, raise_alarms=False)
    started = time.perf_counter()
    for topic, payload in messages:
        service.handle(topic, payload, received_ms=START + 10**9)
    service.drain(600)
    stored_at = time.perf_counter()
    service.flush(600)
    done = time.perf_counter()
    counters = service.counters()
    service.close()
    return {
        "readings": len(messages),
        "stored": counters["stored"],
        "anchored": counters["readings_anchored"],
        "batches": counters["batches_anchored"],
        "anchor_transactions": counters["anchor_transactions"],
        "ingest_only_per_s": round(len(messages) / (stored_at - started)),
        "ingested_and_anchored_per_s": round(counters["readings_anchored"] / (done - started)),
        "seconds": round(done - started, 2),
    }


def publish_file(host: str, port: int, path: str) -> None:
    """Publish the messages of a file (``topic<TAB>payload`` lines) with QoS 1 (run in a separate process)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="coldchain-bench-publisher")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    infos = []
    with open(path, "rb") as handle:
        for line in handle:
            topic, _, payload = line.rstrip(b"\n").partition(b"\t")
            infos.append(client.publish(topic.decode(), payload, qos=1))
    for info in infos:
        info.wait_for_publish(300)
    client.loop_stop()
    client.disconnect()


def _ingest_mqtt(network: EmbeddedNetwork, messages: list[tuple[str, bytes]], folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    spool = folder / "messages.tsv"
    with spool.open("wb") as handle:
        for topic, payload in messages:
            handle.write(topic.encode() + b"\t" + payload + b"\n")
    with broker.start() as server:
        service = IngestService.for_network(network, data=folder, raise_alarms=False)
        service.connect(server.host, server.port, client_id="coldchain-bench")
        code = (
            "from consortia.apps.coldchain.service.bench import publish_file; "
            f"publish_file({server.host!r}, {server.port}, {str(spool)!r})"
        )
        started = time.perf_counter()
        publisher = subprocess.Popen([sys.executable, "-c", code])  # the loggers are other processes
        service.wait_for(len(messages), 600)
        service.flush(600)
        done = time.perf_counter()
        publisher.wait(60)
        counters = service.counters()
        service.close()
    return {
        "broker": server.kind,
        "readings": len(messages),
        "stored": counters["stored"],
        "anchored": counters["readings_anchored"],
        "ingested_and_anchored_per_s": round(counters["readings_anchored"] / (done - started)),
        "seconds": round(done - started, 2),
        "publisher": "a separate process, QoS 1",
    }


def _capture(network: EmbeddedNetwork, count: int, per_document: int, inflight: int = 8) -> dict[str, Any]:
    lot = "urn:epc:class:lgtin:8801234.000011.BENCH"
    documents = []
    for d in range(0, count, per_document):
        events = []
        for i in range(d, min(count, d + per_document)):
            events.append(
                {
                    "type": "ObjectEvent",
                    "eventTime": timestamps.iso_local(START + i * 1000, "+09:00"),
                    "eventTimeZoneOffset": "+09:00",
                    "epcList": [f"urn:epc:id:sgtin:8801234.000011.{i}"],
                    "quantityList": [{"epcClass": lot, "quantity": 10, "uom": "KGM"}],
                    "action": "OBSERVE",
                    "bizStep": "shipping",
                    "disposition": "in_transit",
                    "readPoint": {"id": "urn:epc:id:sgln:8801234.00001.0"},
                    "bizTransactionList": [{"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:8801234000017:{i}"}],
                }
            )
        documents.append(_document(events))
    validated_at = time.perf_counter()
    parsed = [read_document(d) for d in documents]
    validation_seconds = time.perf_counter() - validated_at
    capturer = Capturer(contract_of(network.gateway(consortium.FISH_MARKET)))
    started = time.perf_counter()
    pending = []
    captured = 0
    for document in parsed:
        pending.append(capturer.capture_async(document))
        if len(pending) >= inflight:
            captured += len(pending.pop(0).result(600).event_ids)
    for future in pending:
        captured += len(future.result(600).event_ids)
    elapsed = time.perf_counter() - started
    return {
        "events": captured,
        "per_document": per_document,
        "documents": len(parsed),
        "validated_per_s": round(count / validation_seconds),
        "captured_per_s": round(captured / elapsed),
        "seconds": round(elapsed, 2),
    }


def run(
    *,
    readings: int = 200_000,
    devices: int = 200,
    events: int = 5000,
    per_document: int = 100,
    mqtt: bool = True,
    folder: Path | None = None,
) -> dict[str, Any]:
    """Run the three measurements and return the figures."""
    keep = folder is not None  # a folder the caller named stays; a temporary one (hundreds of MB) goes
    folder = folder or Path(tempfile.mkdtemp(prefix="coldchain-bench-"))
    network = EmbeddedNetwork.create(
        folder / "net", consortium.network_spec(BatchConfig(max_transactions=500, timeout_ms=50))
    )
    figures: dict[str, Any] = {"cores": os.cpu_count() or 1, "organisations": len(consortium.ORGS)}
    try:
        consortium.deploy(network)
        lot = "urn:epc:class:lgtin:8801234.000011.BENCH"
        tokens = [f"B-{n:05d}" for n in range(devices)]
        mqtt_tokens = [f"M-{n:05d}" for n in range(max(1, devices // 4))]  # other loggers: other batches
        _associate(network, tokens + mqtt_tokens, lot)
        per_device = max(1, readings // devices)
        figures["sensor_ingest"] = _ingest(network, _payloads(tokens, per_device), folder / "direct")
        if mqtt and broker.mosquitto_binary() is not None:
            mqtt_messages = _payloads(mqtt_tokens, max(1, min(readings, 50_000) // len(mqtt_tokens)))
            figures["sensor_ingest_mqtt"] = _ingest_mqtt(network, mqtt_messages, folder / "mqtt")
        figures["epcis_capture"] = _capture(network, events, per_document)
    finally:
        network.close()
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    figures["target_readings_per_s"] = 50_000
    figures["command"] = (
        f"consortia coldchain bench --readings {readings} --devices {devices} --events {events} "
        f"--per-document {per_document}{'' if mqtt else ' --no-mqtt'} --json"
    )
    return figures
