"""A recall the ledger already holds: the dashboard's recall route answers with the transaction that holds it.

A recall event is the lot, the reason and the time (to the millisecond): the same order sent twice within one
millisecond is the same event, with the same CBV 2.0 hash, so the second capture submits nothing and the ledger
reports the event already captured. The answer still names the transaction that recalled the lot."""

from __future__ import annotations

import json
import types
from typing import Any

from fastapi.testclient import TestClient

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.domain import gs1
from consortia.apps.coldchain.domain.document import read_document
from consortia.apps.coldchain.domain.facts import CONTEXT
from consortia.apps.coldchain.service.capture import Capturer, contract_of
from consortia.apps.coldchain.web import dashboard
from consortia.client.request_signing import authorization_header
from consortia.gateway.server.app import create_app
from consortia.network.embedded import EmbeddedNetwork

from .cc_support import settle

LOT = gs1.LotId.parse("urn:epc:class:lgtin:8809012.012345.RC17LOT1")
TARGET = "/api/coldchain/recall"
FIXED_MS = 1_709_600_000_123


def _landing() -> dict[str, Any]:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2024-03-05T10:00:00+09:00",
        "eventTimeZoneOffset": "+09:00",
        "epcList": [],
        "quantityList": [{"epcClass": LOT.canonical, "quantity": 120, "uom": "KGM"}],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": "urn:epc:id:sgln:8809012.00001.0"},
    }
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-05T01:00:00Z",
        "epcisBody": {"eventList": [event]},
    }


def _recall(client: TestClient, network: EmbeddedNetwork) -> Any:
    order = json.dumps({"lot": LOT.canonical, "reason": "the same order, sent twice"}).encode()
    identity = network.identity(consortium.FISH_MARKET, "client")
    headers = {
        "Content-Type": "application/json",
        "Authorization": authorization_header(identity, "POST", TARGET, order),
    }
    return client.post(TARGET, content=order, headers=headers)


def test_a_recall_already_on_the_ledger_names_its_transaction(cc_network: EmbeddedNetwork, monkeypatch) -> None:
    Capturer(contract_of(cc_network.gateway(consortium.FISH_MARKET))).capture(read_document(_landing()))
    settle(cc_network)
    # both orders at the same instant: the same recall event
    monkeypatch.setattr(dashboard, "time", types.SimpleNamespace(time=lambda: FIXED_MS / 1000))
    with TestClient(create_app(cc_network)) as client:
        first = _recall(client, cc_network)
        assert first.status_code == 200, first.text
        recalled = first.json()
        assert recalled["recalled"] == [LOT.key] and recalled["already_captured"] == []
        assert len(recalled["txID"]) == 64
        settle(cc_network)
        again = _recall(client, cc_network)
        assert again.status_code == 200, again.text
        repeated = again.json()
    assert repeated["txID"] == recalled["txID"] and repeated["eventIDs"] == recalled["eventIDs"]
    assert repeated["already_captured"] == [{"eventID": recalled["eventIDs"][0], "txID": recalled["txID"]}]
    contract = contract_of(cc_network.gateway(consortium.PROCESSOR))
    assert contract.evaluate("event_commitment", recalled["eventIDs"][0])["txID"] == recalled["txID"]
