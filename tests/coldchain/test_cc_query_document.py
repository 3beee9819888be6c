"""EPCIS query documents (issue 17, item 2): ``event-hash`` and ``import-epcis`` read an ``EPCISQueryDocument``
(events under ``epcisBody.queryResults.resultsBody.eventList``), ``GET /epcis/events`` answers one, and what it
answers is schema-valid and captures again — as events already captured."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.cli import app as cli
from consortia.apps.coldchain.domain.document import DocumentRejected, read_document
from consortia.apps.coldchain.domain.eventhash import document_hash_ids
from consortia.apps.coldchain.service.capture import Capturer, contract_of
from consortia.client.request_signing import authorization_header
from consortia.gateway.server.app import create_app
from consortia.network.embedded import EmbeddedNetwork

from .cc_support import EPCIS, EVENT_HASH, load, settle

runner = CliRunner()
PARTS = sorted(EVENT_HASH.glob("*.jsonld"))
"""GS1's event-hash documents: one event each, without an eventID (so each event's ID is its hash)."""
EXPECTED = [h for p in PARTS for h in p.with_suffix(".hashes").read_text().split()]


def capture_document() -> dict[str, Any]:
    """The events of every event-hash document in one capture document (the first's @context covers them all)."""
    document = load(PARTS[0])
    document["epcisBody"]["eventList"] = [e for p in PARTS for e in load(p)["epcisBody"]["eventList"]]
    return document


def as_query_document(document: dict[str, Any]) -> dict[str, Any]:
    """The same events as the answer to a query (an EPCISQueryDocument)."""
    events = document["epcisBody"]["eventList"]
    return {
        "@context": document["@context"],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": document["creationDate"],
        "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": events}}},
    }


@pytest.fixture
def query_file(tmp_path: Path) -> Path:
    path = tmp_path / "answer.jsonld"
    path.write_text(json.dumps(as_query_document(capture_document())))
    return path


def test_event_hash_reads_a_query_document_like_its_capture_document(tmp_path: Path, query_file: Path) -> None:
    assert len(EXPECTED) >= 3
    source = tmp_path / "capture.jsonld"
    source.write_text(json.dumps(capture_document()))
    for path in (source, query_file):
        result = runner.invoke(cli, ["event-hash", str(path), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == EXPECTED
    prehashes = []
    for path in (source, query_file):
        prehash = runner.invoke(cli, ["event-hash", str(path), "--prehash", "--json"])
        assert prehash.exit_code == 0, prehash.output
        prehashes.append(json.loads(prehash.output))
    assert prehashes[0] == prehashes[1] and len(prehashes[0]) == len(EXPECTED)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[]", "JSON object, got list"),
        ('{"type": "EPCISQueryDocument", "epcisBody": {"queryResults": {}}}', "queryResults.resultsBody.eventList"),
        ('{"type": "EPCISDocument", "epcisBody": {}}', "no events"),
    ],
    ids=["not-an-object", "query-without-events", "document-without-events"],
)
def test_event_hash_refuses_what_holds_no_events_clearly(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = runner.invoke(cli, ["event-hash", str(path)])
    assert result.exit_code == 1, result.output
    assert words in result.output and "Traceback" not in result.output


def test_read_document_takes_both_forms_and_names_the_place_of_a_fault() -> None:
    capture = capture_document()
    query = as_query_document(capture)
    from_capture, from_query = read_document(capture), read_document(query)
    assert from_query.event_ids == from_capture.event_ids == tuple(document_hash_ids(query))
    assert from_query.prefixes == from_capture.prefixes
    # a schema violation inside a query document names the event and the field, as in a capture document
    broken = as_query_document(capture_document())
    del broken["epcisBody"]["queryResults"]["resultsBody"]["eventList"][1]["eventTime"]
    with pytest.raises(DocumentRejected) as caught:
        read_document(broken)
    assert any(r.event_index == 1 and r.field == "eventTime" for r in caught.value.rejections), caught.value


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d: d.update(type="EPCISMasterDataDocument"), "'EPCISDocument' or 'EPCISQueryDocument'"),
        (lambda d: d.pop("type"), "got None"),
        (
            lambda d: d.update(type="EPCISQueryDocument"),
            "holds its events in epcisBody.queryResults.resultsBody.eventList",
        ),
        (
            lambda d: d["epcisBody"]["queryResults"]["resultsBody"].update(eventList=[]),
            "epcisBody.queryResults.resultsBody.eventList is empty",
        ),
    ],
    ids=["other-type", "no-type", "query-type-capture-body", "empty-query"],
)
def test_other_documents_are_refused_saying_what_was_expected(mutate, words: str) -> None:
    document = capture_document()
    if "empty" in words:
        document = as_query_document(document)
    mutate(document)
    with pytest.raises(DocumentRejected) as caught:
        read_document(document, "sent.json")
    assert words in str(caught.value) and str(caught.value).startswith("sent.json: ")


def test_a_query_document_imports_and_again_reports_its_events_as_already_captured(
    cc_folder: Path, query_file: Path
) -> None:
    """The acceptance line: it imports and hashes; captured twice, its events are already captured, exit 0."""
    expected = EXPECTED
    first = runner.invoke(cli, ["import-epcis", str(query_file), "--data", str(cc_folder), "--json"])
    assert first.exit_code == 0, first.output
    captured = json.loads(first.output)
    assert captured["event_ids"] == expected and captured["already_captured"] == []
    again = runner.invoke(cli, ["import-epcis", str(query_file), "--data", str(cc_folder), "--json"])
    assert again.exit_code == 0, again.output
    repeated = json.loads(again.output)
    assert repeated["events"] == 0 and repeated["event_ids"] == []
    assert [a["event_id"] for a in repeated["already_captured"]] == expected
    assert {a["source"] for a in repeated["already_captured"]} == {str(query_file)}
    assert all(len(a["tx_id"]) == 64 for a in repeated["already_captured"])
    text = runner.invoke(cli, ["import-epcis", str(query_file), "--data", str(cc_folder)])
    assert text.exit_code == 0 and f"{len(expected)} were already on the ledger" in text.output


def _signed(network: EmbeddedNetwork, method: str, target: str, body: bytes = b"", org: str = "BusanFishMarket"):
    return {"Authorization": authorization_header(network.identity(org, "client"), method, target, body)}


@pytest.fixture
def client(cc_network: EmbeddedNetwork) -> Iterator[TestClient]:
    with TestClient(create_app(cc_network)) as test_client:
        yield test_client


def _job(client: TestClient, network: EmbeddedNetwork, accepted: Any) -> dict[str, Any]:
    assert accepted.status_code == 202, accepted.text
    url = accepted.headers["location"]
    for _ in range(500):
        job = client.get(url, headers=_signed(network, "GET", url)).json()
        if not job["running"]:
            return job
        time.sleep(0.02)
    raise AssertionError(f"capture job {url} still running: {job}")


def test_get_events_answers_a_query_document_that_captures_again(cc_network, client) -> None:
    documents = [load(p) for p in sorted(EPCIS.glob("Example_9.6.*.jsonld"))]
    capturer = Capturer(contract_of(cc_network.gateway(consortium.FISH_MARKET)))
    ids = [i for d in documents for i in capturer.capture(read_document(d)).event_ids]
    settle(cc_network)
    target = "/epcis/events?perPage=1000"
    answer = client.get(target, headers=_signed(cc_network, "GET", target, org="SeoulRetail"))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/ld+json")
    query = answer.json()
    assert query["type"] == "EPCISQueryDocument" and query["schemaVersion"] == "2.0"
    assert query["@context"][0] == "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
    # the examples' own namespaces travel with their events, so extensions hash alike on the way back
    declared = {k for d in documents for c in d["@context"] if isinstance(c, dict) for k in c}
    assert declared and declared <= set(query["@context"][1])
    events = query["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert sorted(e["eventID"] for e in events) == sorted(ids)
    parsed = read_document(query)  # valid against GS1's schema, as anything we answer must be
    assert sorted(parsed.event_ids) == sorted(ids)
    # given back to the repository, every event is already there: an idempotent success
    body = json.dumps(query).encode()
    headers = {"Content-Type": "application/ld+json", **_signed(cc_network, "POST", "/epcis/capture", body)}
    job = _job(client, cc_network, client.post("/epcis/capture", content=body, headers=headers))
    assert job["success"] is True and job["eventIDs"] == [] and job["txID"] is None
    assert sorted(a["eventID"] for a in job["already_captured"]) == sorted(ids)
