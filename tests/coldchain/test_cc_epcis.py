"""EPCIS 2.0: event hash IDs, validation, whole-or-nothing capture, queries, inspector-only non-conformance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.cli import app as cli
from consortia.apps.coldchain.domain import eventhash, gs1
from consortia.apps.coldchain.domain.document import DocumentRejected, read_document
from consortia.apps.coldchain.service.capture import Capturer, contract_of
from consortia.client.errors import EndorsementFailed, TransactionInvalid
from consortia.network.embedded import EmbeddedNetwork

from .cc_support import EVENT_HASH, epcis_documents, load, settle

HASH_DOCUMENTS = sorted(EVENT_HASH.glob("*.jsonld"))
runner = CliRunner()


@pytest.mark.parametrize("path", HASH_DOCUMENTS, ids=lambda p: p.stem)
def test_event_hashes_match_the_reference(path: Path) -> None:
    expected = path.with_suffix(".hashes").read_text().split()
    assert eventhash.document_hash_ids(load(path)) == expected


@pytest.mark.parametrize("path", HASH_DOCUMENTS, ids=lambda p: p.stem)
def test_prehash_strings_match_the_reference(path: Path) -> None:
    document = load(path)
    prefixes = eventhash.context_prefixes(document["@context"])
    expected = [line for line in path.with_suffix(".prehashes").read_text().splitlines() if line]
    assert [eventhash.prehash(e, prefixes) for e in document["epcisBody"]["eventList"]] == expected


def test_hash_ignores_field_order_and_spelling() -> None:
    document = load(EVENT_HASH / "epcisDocWithSingleEvent.jsonld")
    event = document["epcisBody"]["eventList"][0]
    reordered = dict(reversed(list(event.items())))
    reordered["epcList"] = list(reversed(event["epcList"]))
    reordered["bizStep"] = "urn:epcglobal:cbv:bizstep:shipping"
    reordered["readPoint"] = {"id": "https://example.com/414/0614141073467/254/1234?x=1"}
    reordered["recordTime"] = "2030-01-01T00:00:00Z"
    assert eventhash.event_hash_id(reordered) == eventhash.event_hash_id(event)
    changed = dict(event, disposition="in_progress")
    assert eventhash.event_hash_id(changed) != eventhash.event_hash_id(event)


def test_event_hash_cli_prints_ids_in_document_order() -> None:
    path = EVENT_HASH / "ReferenceEventHashAlgorithm2.jsonld"
    result = runner.invoke(cli, ["event-hash", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == path.with_suffix(".hashes").read_text().split()
    missing = runner.invoke(cli, ["event-hash", "/nonexistent.jsonld", "--json"])
    assert missing.exit_code == 1 and "cannot read" in json.loads(missing.output)["error"]


def test_every_shared_document_imports_with_its_event_count(cc_folder: Path) -> None:
    documents = epcis_documents() + HASH_DOCUMENTS
    expected = sum(len(load(p)["epcisBody"]["eventList"]) for p in documents)
    reports = sum(
        len(element.get("sensorReport", []))
        for p in documents
        for e in load(p)["epcisBody"]["eventList"]
        for element in e.get("sensorElementList", [])
    )
    args = ["import-epcis", *map(str, documents), "--data", str(cc_folder), "--json"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["documents"] == len(documents)
    assert summary["events"] == expected == len(summary["event_ids"]) == len(set(summary["event_ids"]))
    assert summary["sensor_reports"] == reports
    hashed = [i for p in HASH_DOCUMENTS for i in p.with_suffix(".hashes").read_text().split()]
    assert set(hashed) <= set(summary["event_ids"])
    # the examples that carry an eventID are stored under it
    given = [e["eventID"] for p in epcis_documents() for e in load(p)["epcisBody"]["eventList"] if "eventID" in e]
    assert set(given) <= set(summary["event_ids"])
    # capturing a document again is an idempotent success, reported per event (issue 17, item 3)
    again = runner.invoke(cli, ["import-epcis", str(documents[0]), "--data", str(cc_folder), "--json"])
    assert again.exit_code == 0, again.output
    repeated = json.loads(again.output)
    assert repeated["events"] == 0 and repeated["event_ids"] == []
    first_ids = [e["eventID"] for e in load(documents[0])["epcisBody"]["eventList"]]
    assert [a["event_id"] for a in repeated["already_captured"]] == first_ids


def _events(network, **params) -> list[dict]:
    settle(network)
    return contract_of(network.gateway(consortium.PROCESSOR)).evaluate("query_events", params)["events"]


def test_schema_invalid_document_is_rejected_whole_naming_event_and_field(cc_folder: Path) -> None:
    document = load(epcis_documents()[0])
    document["epcisBody"]["eventList"][1]["bizStep"] = 5
    with pytest.raises(DocumentRejected) as caught:
        read_document(json.dumps(document), "bad.jsonld")
    first = caught.value.rejections[0]
    assert (first.event_index, first.field) == (1, "bizStep")
    assert first.event_id == document["epcisBody"]["eventList"][1]["eventID"]
    del document["epcisBody"]["eventList"][1]["bizStep"]
    del document["epcisBody"]["eventList"][0]["action"]
    with pytest.raises(DocumentRejected) as caught:
        read_document(document)
    assert (caught.value.rejections[0].event_index, caught.value.rejections[0].field) == (0, "action")
    # through the CLI: exit 1, the reason as JSON, and nothing stored (the valid event 1 neither)
    bad = cc_folder.parent / "bad.jsonld"
    bad.write_text(json.dumps(document))
    result = runner.invoke(cli, ["import-epcis", str(bad), "--data", str(cc_folder), "--json"])
    assert result.exit_code == 1
    reason = json.loads(result.output)
    assert reason["ok"] is False and reason["rejections"][0]["field"] == "action"
    assert reason["rejections"][0]["event_index"] == 0
    network = EmbeddedNetwork(cc_folder)
    try:
        assert _events(network) == []
    finally:
        network.close()


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda e: e.update(epcList=["https://id.gs1.org/01/04012345111119/21/1"]), "epcList[0]", "check digit"),
        (lambda e: e.update(epcList=["urn:epc:id:sgtin:12.34.5"]), "epcList[0]", "not a valid EPC URI"),
        (lambda e: e.update(eventTime="2024-03-05T04:10:00"), "eventTime", "date-time"),
        (
            lambda e: e.update(
                sensorElementList=[{"sensorReport": [{"type": "Temperature", "value": 40, "uom": "KGM"}]}]
            ),
            "sensorElementList[0].sensorReport[0].uom",
            "temperature unit",
        ),
        (lambda e: e.update(readPoint={"id": "https://id.gs1.org/414/4012345000055"}), "readPoint.id", "check digit"),
    ],
    ids=["gtin-check-digit", "bad-epc-uri", "no-offset", "wrong-unit", "gln-check-digit"],
)
def test_semantic_problems_are_named(mutate, field: str, words: str) -> None:
    document = load(EVENT_HASH / "epcisDocWithSingleEvent.jsonld")
    mutate(document["epcisBody"]["eventList"][0])
    with pytest.raises(DocumentRejected) as caught:
        read_document(document)
    first = caught.value.rejections[0]
    assert first.event_index == 0 and first.field == field and words in first.message


def test_not_json_and_not_a_document_are_rejected() -> None:
    for raw, words in ((b"{nope", "not valid JSON"), (b"[]", "JSON object"), (b'{"type": "X"}', "EPCISDocument")):
        with pytest.raises(DocumentRejected, match=words):
            read_document(raw)


def test_a_document_is_captured_whole_or_not_at_all(cc_network) -> None:
    capturer = Capturer(contract_of(cc_network.gateway(consortium.FISH_MARKET)))
    single = load(EVENT_HASH / "epcisDocWithSingleEvent.jsonld")
    first = capturer.capture(read_document(single))
    other = load(EVENT_HASH / "ReferenceEventHashAlgorithm.jsonld")
    combined = dict(other)
    # event 1 reuses the eventID of the captured event with other content: the whole document is refused
    # (re-capturing the *same* event is an idempotent success since issue 17: test_cc_capture_idempotent)
    changed = {**single["epcisBody"]["eventList"][0], "eventID": first.event_ids[0], "disposition": "damaged"}
    combined["epcisBody"] = {"eventList": [*other["epcisBody"]["eventList"], changed]}
    with pytest.raises(DocumentRejected) as caught:
        capturer.capture(read_document(combined))
    rejection = caught.value.rejections[0]
    assert rejection.event_index == 1 and "names a different event" in rejection.message
    stored = {e["eventID"] for e in _events(cc_network)}
    assert stored == set(first.event_ids)  # the new event 0 of the refused document was not stored


def test_query_parameters_and_paging(cc_network) -> None:
    capturer = Capturer(contract_of(cc_network.gateway(consortium.FISH_MARKET)))
    for path in epcis_documents():
        capturer.capture(read_document(load(path)))
    everything = _events(cc_network, perPage=1000)
    assert len(everything) == 10
    shipping = _events(cc_network, EQ_bizStep="shipping")
    assert [e["bizStep"] for e in shipping] == ["shipping"]
    both = _events(cc_network, EQ_bizStep="https://ref.gs1.org/cbv/BizStep-receiving,shipping")
    assert {e["bizStep"] for e in both} == {"shipping", "receiving"}
    target = "https://id.gs1.org/01/10614141073464/21/2018"
    holding = [
        e["eventID"]
        for p in epcis_documents()
        for e in load(p)["epcisBody"]["eventList"]
        if target in {gs1.normalise_id(x) for x in e.get("epcList", []) + e.get("childEPCs", [])}
    ]
    matched = _events(cc_network, MATCH_epc=target)
    assert len(holding) >= 2 and sorted(e["eventID"] for e in matched) == sorted(holding)  # URN stored, DL asked
    pattern = _events(cc_network, MATCH_anyEPC="urn:epc:idpat:sgtin:0614141.107346.*")
    assert len(pattern) >= 2
    window = _events(cc_network, GE_eventTime="2005-04-04T00:00:00-06:00", LT_eventTime="2005-04-05T00:00:00-06:00")
    assert [e["bizStep"] for e in window] == ["receiving"]
    located = _events(cc_network, EQ_bizLocation="urn:epc:id:sgln:0012345.11111.0")
    assert len(located) == 1
    contract = contract_of(cc_network.gateway(consortium.PROCESSOR))
    settle(cc_network)
    pages, token = [], None
    while True:
        params = {"perPage": 3} | ({"nextPageToken": token} if token else {})
        page = contract.evaluate("query_events", params)
        pages.append(page["events"])
        token = page["nextPageToken"]
        if token is None:
            break
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    assert [e["eventID"] for p in pages for e in p] == [e["eventID"] for e in everything]
    with pytest.raises(EndorsementFailed, match="unknown query parameter"):
        contract.evaluate("query_events", {"EQ_color": "red"})
    with pytest.raises(EndorsementFailed, match="GE_eventTime"):
        contract.evaluate("query_events", {"GE_eventTime": "yesterday"})


def _inspection(lot: str, disposition: str) -> dict:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-05T10:00:00Z",
        "epcisBody": {
            "eventList": [
                {
                    "type": "ObjectEvent",
                    "eventTime": "2024-03-05T10:00:00+09:00",
                    "eventTimeZoneOffset": "+09:00",
                    "epcList": [],
                    "quantityList": [{"epcClass": lot, "quantity": 10, "uom": "KGM"}],
                    "action": "OBSERVE",
                    "bizStep": "inspecting",
                    "disposition": disposition,
                    "readPoint": {"id": "urn:epc:id:sgln:8801234.00001.0"},
                }
            ]
        },
    }


def test_non_conformance_needs_the_inspection_agency(cc_network) -> None:
    lot = "urn:epc:class:lgtin:8801234.012345.MK-1"
    retailer = Capturer(contract_of(cc_network.gateway(consortium.RETAILER)))
    with pytest.raises(DocumentRejected, match="only an inspector"):
        retailer.capture(read_document(_inspection(lot, "non_conformant")))
    # an inspector's verdict endorsed only by another organisation's peer fails the key-level policy
    inspector = cc_network.gateway(consortium.INSPECTION, "inspector")
    sideways = Capturer(contract_of(inspector), endorsing_orgs=[consortium.RETAILER])
    with pytest.raises(TransactionInvalid) as caught:
        sideways.capture(read_document(_inspection(lot, "non_conformant")))
    assert caught.value.code == "ENDORSEMENT_POLICY_FAILURE"
    # endorsed by the inspection agency's own peer it is valid and recorded in the register
    Capturer(contract_of(inspector)).capture(read_document(_inspection(lot, "non_conformant")))
    settle(cc_network)
    verdict = contract_of(cc_network.gateway(consortium.RETAILER)).evaluate("inspection", lot)
    assert verdict["disposition"] == "non_conformant"


def test_an_event_is_declared_in_error_by_recapturing_it(cc_network) -> None:
    document = load(EVENT_HASH / "epcisDocWithSingleEvent.jsonld")
    market = Capturer(contract_of(cc_network.gateway(consortium.FISH_MARKET)))
    (event_id,) = market.capture(read_document(document)).event_ids
    declared = load(EVENT_HASH / "epcisDocWithSingleEvent.jsonld")
    declared["epcisBody"]["eventList"][0]["errorDeclaration"] = {
        "declarationTime": "2022-02-18T10:00:00Z",
        "reason": "incorrect_data",
    }
    assert eventhash.document_hash_ids(declared) == [event_id]  # the declaration does not change the hash ID
    settle(cc_network)  # the retailer's peer must have the event to see that it is someone else's
    retailer = Capturer(contract_of(cc_network.gateway(consortium.RETAILER)))
    with pytest.raises(DocumentRejected, match="only BusanFishMarket"):
        retailer.capture(read_document(declared))
    assert market.capture(read_document(declared)).event_ids == (event_id,)
    settle(cc_network)
    record = contract_of(cc_network.gateway(consortium.PROCESSOR)).evaluate("get_event", event_id)
    assert record["event"]["errorDeclaration"]["reason"] == "incorrect_data"
