"""The cold chain's part of ``consortia demo``: two days of the Busan scenario, replayed through MQTT.

:func:`seed` records the scenario — mackerel and monkfish landed at the Busan Cooperative Fish Market the day
before yesterday, chilled, auctioned, filleted at the processor, trucked to a Seoul shop, one mackerel lot left
in the sun on the dock — then starts an MQTT broker (Mosquitto if installed, else amqtt in-process), an
ingester, and replays every logger's readings through the broker: the readings are stored, anchored in Merkle
batches, and the excursion becomes on-chain alarms for that lot and the fillet lots made from it. It leaves a
``coldchain/services.json`` so that the gateway server started next keeps a broker, the ingester and the shop's
display-case logger running live, and returns the summary lines: every lot's consumer page, the dashboard, and
the CLI commands that show the rest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.demo import scenario, simulate
from consortia.apps.coldchain.domain import gs1
from consortia.apps.coldchain.service import broker
from consortia.apps.coldchain.service.ingest import IngestService

if TYPE_CHECKING:
    from rich.console import Console

    from consortia.network.embedded import EmbeddedNetwork

HOURS = 48.0


def seed(
    network: EmbeddedNetwork,
    console: Console,
    *,
    lots: int = 3,
    rate: float = 1.0,
    without: Collection[str] = (),
    now_ms: int | None = None,
) -> list[str]:
    """Record the scenario, replay its sensor readings through MQTT, and return the summary lines.

    ``without`` names optional steps to leave out (``{"inspection"}``: nobody tests the excursion lot, which then
    stays held for inspection).
    """
    started = time.monotonic()
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    start = (now - int(HOURS * 3_600_000)) // 60_000 * 60_000
    plan = simulate.plan(lots=lots, hours=HOURS, rate=rate, start_ms=start, without=without)
    # A second trip, started 19 hours ago: its fillets are on the reefer truck to Seoul now (the lines printed say
    # when each thing happened, computed from these times).
    underway = simulate.until(
        simulate.plan(
            lots=1,
            hours=HOURS,
            rate=rate,
            start_ms=now - 19 * 3_600_000,
            first_lot=lots + 1,
            device_prefix="LT",
            without=without,
        ),
        now,
    )
    console.print(
        f"Recording the Busan scenario: {len(plan.scenario.landing_lots)} landing lots → "
        f"{len(plan.scenario.retail_lots)} retail lots, and one trip under way "
        f"({len(plan.scenario.captures) + len(underway.scenario.captures)} EPCIS documents) …"
    )
    simulate.register(network, plan)
    simulate.register(network, underway)
    with broker.start() as mqtt:
        count = len(plan.readings) + len(underway.readings)
        console.print(
            f"Replaying {count} readings of {len(plan.devices) + len(underway.devices)} loggers through "
            f"{mqtt.kind} on {mqtt.host}:{mqtt.port} …"
        )
        service = IngestService.for_network(network, org=consortium.LOGISTICS)
        service.connect(mqtt.host, mqtt.port)
        sent = simulate.publish(plan, mqtt.host, mqtt.port, duplicates=0.01, disorder=0.01)
        more = simulate.publish(underway, mqtt.host, mqtt.port, duplicates=0.01, disorder=0.01, seed=8)
        service.wait_for(sent["published"] + more["published"], timeout=180)
        service.close()
    counters = service.counters()
    console.print(
        f"Stored {counters['stored']} readings ({counters['duplicates']} duplicates dropped, "
        f"{counters['out_of_order']} out of order), anchored {counters['batches_anchored']} batches in "
        f"{counters['anchor_transactions']} transactions, raised {counters['alarms_raised']} alarms "
        f"({time.monotonic() - started:.1f} s)."
    )
    live = _write_services(network.directory, [plan, underway], now)
    _write_sites(network.directory)
    lots_total = len({x.key for p in (plan, underway) for x in p.scenario.landing_lots + p.scenario.retail_lots})
    lines = [
        "",
        f"{lots_total} lots on the ledger (times in Asia/Seoul, as on the pages).",
        "[bold]Consumer pages[/] (scan the QR code, or open):",
    ]
    for lot in plan.scenario.landing_lots + plan.scenario.retail_lots:
        tag = " ← temperature excursion" if lot == plan.scenario.excursion_lot else ""
        if tag and "inspection" in without:
            tag += ", not inspected: held"
        lines.append(f"  {{base}}{lot.path}{tag}")
    for lot in underway.scenario.landing_lots + underway.scenario.retail_lots:
        lines.append(f"  {{base}}{lot.path} ← {_last_step(underway.scenario, lot, now)}")
    first = plan.scenario.retail_lots[0]
    data = network.directory
    lines += [
        f"  QR label of a lot: {{base}}/coldchain/qr{first.path}",
        "[bold]Operators' dashboard[/]: {base}/coldchain/dashboard "
        f"(log in as {consortium.RETAILER}/yuna, password {consortium.DEMO_PASSWORD}; live loggers {', '.join(live)})",
        "[bold]EPCIS 2.0[/]: {base}/epcis/events?EQ_bizStep=shipping",
        "[bold]Look further[/] (these work while the server runs; without it, leave out --server):",
        f"  consortia coldchain trace {first.canonical} --direction back --server {{base}} --data {data}",
        f"  consortia coldchain fsma204 --from {_day(plan.scenario.start_ms)} --to {_day(plan.scenario.start_ms, 2)} "
        f"--out fsma204.xlsx --server {{base}} --data {data}",
    ]
    return lines


def _last_step(built: scenario.Scenario, lot: gs1.LotId, now_ms: int) -> str:
    """What last happened to a lot and when, computed from the scenario's times ("shipping to Seoul, 2 hours ago")."""
    from consortia.apps.coldchain.domain import timestamps
    from consortia.ui import timefmt

    # a pack travels on the trip's pallet once packed: the pallet's shipping and receiving are its steps too
    names = (lot.canonical, built.pallet) if lot in built.retail_lots else (lot.canonical,)
    steps = [
        c
        for c in built.captures
        if ":" not in c.label and any(name in json.dumps(c.document["epcisBody"]["eventList"]) for name in names)
    ]
    if not steps:
        return "recorded"
    last = steps[-1]
    at = timestamps.to_ms(last.document["epcisBody"]["eventList"][0]["eventTime"])
    return f"{last.label}, {timefmt.relative(at, now_ms, 'en')} ({timefmt.format_datetime(at, scenario.ZONE, 'en')})"


def _write_sites(directory: Path) -> None:
    """Name the loggers' MQTT sites for the dashboard (``coldchain/sites.json``: site → en, ko, gln)."""
    names = {
        f"site-{key}": {"en": site.names.get("en"), "ko": site.names.get("ko"), "gln": site.gln}
        for key, site in scenario.SITES.items()
    }
    folder = Path(directory) / "coldchain"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sites.json").write_text(json.dumps(names, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _day(ms: int, plus: int = 0) -> str:
    from consortia.apps.coldchain.domain.timestamps import iso_local

    return iso_local(ms + plus * 86_400_000, "+09:00")[:10]


def _write_services(directory: Path, plans: list[simulate.Plan], now_ms: int) -> list[str]:
    """Ask the next server on this folder to run a broker, the ingester, and the loggers still watching lots."""
    baseline = {"display": 2.2, "truck": 1.6, "plant": 3.4, "coldroom": 0.8}
    live = []
    for plan in plans:
        last_seq: dict[str, int] = {}
        for reading in plan.readings:
            last_seq[reading.device] = max(last_seq.get(reading.device, 0), reading.seq)
        for device in plan.scenario.devices:
            stage = next((x for x in device.stages if x.start_ms <= now_ms < x.end_ms + 3_600_000), None)
            if stage is not None and stage.profile in baseline:
                live.append(
                    {
                        "device": device.token,
                        "site": f"site-{stage.site}",
                        "next_seq": last_seq.get(device.token, 0) + 1,
                        "celsius": baseline[stage.profile],
                    }
                )
    folder = Path(directory) / "coldchain"
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "broker": "embedded",
        "ingest": {"org": consortium.LOGISTICS, "window_seconds": 300},
        "live_devices": live,
        "live_interval_seconds": 5,
    }
    (folder / "services.json").write_text(json.dumps(config, indent=2) + "\n")
    return [d["device"] for d in live]
