"""Simulated loggers: realistic temperature traces of the Busan scenario, published over MQTT.

Each logger of :mod:`consortia.apps.coldchain.demo.scenario` samples ``rate`` times a minute while it watches lots,
following the profile of where it is: ice in the boat's hold (fish come aboard at sea temperature and are chilled
within the hour), the dock (a warm hour; the excursion lot's tote sits in the sun above 21 °C), the market's
cold room, reefer trucks (a door-open spike at loading), the processing plant, the shop's display case (defrost
cycles every six hours). Noise is Gaussian and seeded, so a run is reproducible.

:func:`messages` yields the MQTT messages — with a share of duplicates (the same reading sent twice, as QoS 1
redelivery does) and of out-of-order pairs — and :func:`publish` sends them to a broker with QoS 1.
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from consortia.apps.coldchain.demo import scenario
from consortia.apps.coldchain.domain import readings, timestamps
from consortia.apps.coldchain.domain.readings import Reading

if TYPE_CHECKING:
    from consortia.network.embedded import EmbeddedNetwork

MINUTE = 60_000
HOUR = 60 * MINUTE


@dataclass(frozen=True)
class Plan:
    """A scenario and the readings its loggers take."""

    scenario: scenario.Scenario
    rate: float
    readings: tuple[Reading, ...]

    @property
    def devices(self) -> list[str]:
        """Device ids that take readings."""
        return sorted({r.device for r in self.readings})


def _profile(name: str, since_ms: int, at_ms: int, rng: random.Random) -> float:
    hours = (at_ms - since_ms) / HOUR
    noise = rng.gauss(0.0, 0.15)
    if name == "boat":
        base = 0.4 + 11.5 * math.exp(-hours * 3) + 0.25 * math.sin(at_ms / (3 * HOUR) * 2 * math.pi)
    elif name == "dock":
        base = 2.0 + 7.0 * math.sin(min(hours, 1.0) * math.pi) if hours < 1.0 else 3.0
    elif name == "dock-hot":
        base = 23.5 - 20.0 * math.exp(-hours * 6) + 0.6 * math.sin(hours * 2)
        noise *= 2
    elif name == "coldroom":
        base = 0.8 + 3.0 * math.exp(-hours * 4)
    elif name == "truck":
        base = 1.6 + (4.5 if hours < 1 / 6 else 0.0) + 0.3 * math.sin(hours * 5)
    elif name == "plant":
        base = 3.4 + 0.4 * math.sin(hours * 3)
    elif name == "display":
        cycle = (at_ms / HOUR) % 6
        base = 2.2 + (3.0 if cycle < 1 / 3 else 0.0) + 0.3 * math.sin(at_ms / HOUR)
    else:
        base = 2.0
    return round(base + noise, 2)


def plan(
    lots: int = 2,
    devices: int | None = None,
    hours: float = 48.0,
    rate: float = 1.0,
    seed: int = 7,
    start_ms: int | None = None,
    *,
    first_lot: int = 1,
    device_prefix: str = "LG",
    without: Collection[str] = (),
) -> Plan:
    """The scenario and every reading its loggers take (ending now unless ``start_ms`` is given)."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    if start_ms is None:
        start_ms = (int(time.time() * 1000) - int(hours * HOUR)) // MINUTE * MINUTE
    built = scenario.build(
        lots=lots,
        devices=devices,
        hours=hours,
        start_ms=start_ms,
        first_lot=first_lot,
        device_prefix=device_prefix,
        without=without,
    )
    rng = random.Random(seed)
    step = max(1, int(MINUTE / rate))
    out: list[Reading] = []
    for device in built.devices:
        times: dict[int, tuple[str, int, str]] = {}
        for stage in device.stages:
            first = -(-stage.start_ms // step) * step
            for at in range(first, stage.end_ms, step):
                times.setdefault(at, (stage.profile, stage.start_ms, stage.site))
        for seq, at in enumerate(sorted(times), start=1):
            profile, since, site = times[at]
            out.append(Reading(f"site-{site}", device.token, seq, at, _profile(profile, since, at, rng)))
    out.sort(key=lambda r: (r.ts_ms, r.device))
    return Plan(built, rate, tuple(out))


def until(simulation: Plan, end_ms: int) -> Plan:
    """The part of a plan that has happened by ``end_ms``: earlier events and readings only (a trip under way)."""
    captures = [
        c
        for c in simulation.scenario.captures
        if timestamps.to_ms(c.document["epcisBody"]["eventList"][0]["eventTime"]) <= end_ms
    ]
    cut = dataclasses.replace(simulation.scenario, captures=captures)
    return Plan(cut, simulation.rate, tuple(r for r in simulation.readings if r.ts_ms <= end_ms))


def register(network: EmbeddedNetwork, simulation: Plan) -> None:
    """Capture the scenario's events (lots, device associations) so the ingester knows the loggers."""
    scenario.record(network, simulation.scenario)


def messages(
    simulation: Plan, *, duplicates: float = 0.0, disorder: float = 0.0, seed: int = 7, offset: str = "+09:00"
) -> Iterator[tuple[str, bytes]]:
    """The MQTT messages of a plan: each reading once, some twice, some swapped with the next one."""
    rng = random.Random(seed + 1)
    pending: list[tuple[str, bytes]] = []
    for reading in simulation.readings:
        message = (readings.topic(reading.site, reading.device), readings.encode(reading, offset))
        pending.append(message)
        if rng.random() < duplicates:
            pending.append(message)
        if len(pending) >= 2 and rng.random() < disorder:
            pending[-1], pending[-2] = pending[-2], pending[-1]
        while len(pending) > 2:
            yield pending.pop(0)
    yield from pending


def publish(
    simulation: Plan,
    host: str,
    port: int,
    *,
    duplicates: float = 0.01,
    disorder: float = 0.01,
    seed: int = 7,
    extra: list[tuple[str, bytes]] | None = None,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Publish a plan's messages (and any ``extra`` ones) with QoS 1; return what was sent."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"coldchain-sim-{seed}-{time.time_ns() % 10**9}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect(host, port, keepalive=30)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise OSError(f"no CONNACK from the MQTT broker at {host}:{port}")
        sent = seen = duplicates_sent = out_of_order = 0
        last_seq: dict[str, int] = {}
        seen_keys: set[tuple[str, bytes]] = set()
        infos = []
        for topic, payload in [
            *messages(simulation, duplicates=duplicates, disorder=disorder, seed=seed),
            *(extra or []),
        ]:
            infos.append(client.publish(topic, payload, qos=1))
            sent += 1
            if (topic, payload) in seen_keys:
                duplicates_sent += 1
            else:
                seen_keys.add((topic, payload))
                parsed = readings.parse(topic, payload, int(time.time() * 1000) + 10**12)
                if isinstance(parsed, Reading):
                    seen += 1
                    if parsed.seq < last_seq.get(parsed.device, -1):
                        out_of_order += 1
                    last_seq[parsed.device] = max(parsed.seq, last_seq.get(parsed.device, -1))
        deadline = time.monotonic() + timeout
        for info in infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
    finally:
        client.loop_stop()
        client.disconnect()
    return {
        "published": sent,
        "readings": len(simulation.readings),
        "duplicates": duplicates_sent,
        "out_of_order": out_of_order,
        "devices": len(simulation.devices),
        "lots": [lot.key for lot in simulation.scenario.landing_lots + simulation.scenario.retail_lots],
        "start_ms": simulation.scenario.start_ms,
        "hours": simulation.scenario.hours,
    }
