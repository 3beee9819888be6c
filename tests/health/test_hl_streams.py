"""The live alert stream: asynchronous, capped per session, and it tells each viewer only what consent covers.

A real server (uvicorn on 127.0.0.1) with a cap of two open streams per caller. A coordinator opens two streams —
one with a ``Last-Event-ID`` of a Unicode digit, which counts as none — and a third is refused with 429 while the
server keeps answering; a hypertensive crisis of a patient who consented to care coordination arrives on an open
stream with its details; once the streams close, their slots are free again.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from consortia.apps.health.consortium import CARE, CUSTODIAN
from consortia.apps.health.domain import consent as consent_rules
from consortia.apps.health.domain.readings import Reading
from consortia.apps.health.service.health import service_for
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.gateway.server.auth import SESSION_COOKIE
from servers import Server

from .hl_support import PASSWORD, make_network, person

STREAM = "/api/health/alerts/stream"


def test_alert_streams_are_capped_per_session_and_deliver_consented_alerts(tmp_path: Path) -> None:
    """Two streams open, the third is 429, the server still answers; an alert arrives; closed streams free slots."""
    network = make_network(tmp_path / "net")
    app = create_app(network, ServerSettings(max_streams_per_caller=2))
    server = Server(app).start()
    try:
        with httpx.Client(base_url=server.url, timeout=20) as http:
            login = http.post("/api/login", json={"username": "GangwonCareCentre/choi", "password": PASSWORD})
            assert login.status_code == 200, login.text
            key = "session:" + http.cookies[SESSION_COOKIE]
            with (
                http.stream("GET", STREAM) as first,
                http.stream("GET", STREAM, headers={"last-event-id": "²".encode()}) as second,
            ):
                assert first.status_code == 200 and second.status_code == 200
                lines, other = first.iter_lines(), second.iter_lines()  # (dropping an iterator closes its stream)
                assert next(lines) == "retry: 2000" and next(other) == "retry: 2000"
                third = http.get(STREAM)
                assert third.status_code == 429 and third.json()["code"] == "TOO_MANY_STREAMS", third.text
                assert app.state.streams.open_count(key) == 2
                assert http.get("/healthz").status_code == 200  # open streams hold no worker thread
                service = service_for(network)
                service.grant(person(network, CUSTODIAN, "patient001"), CARE, [consent_rules.CAREMGT])
                crisis = Reading(
                    "GW-0001", "85354-9", "bp", "blood-pressure", 203, "mm[Hg]", datetime.now(UTC), value2=126
                )
                service.ingest([crisis])
                event = next(line for line in lines if line.startswith("event: "))
                assert event == "event: alert"
                alert = json.loads(next(line for line in lines if line.startswith("data: ")).removeprefix("data: "))
                assert alert["patient"] == "GW-0001" and alert["detail"]["value"] == "203/126 mm Hg"
            deadline = time.monotonic() + 20
            while app.state.streams.open_count(key) and time.monotonic() < deadline:
                time.sleep(0.05)  # the server notices the disconnects at its next poll
            assert app.state.streams.open_count(key) == 0
            with http.stream("GET", STREAM) as again:
                assert again.status_code == 200
    finally:
        server.close()
        network.close()
