"""A document's ``ignoreFields`` reaches every place that hashes its events: the ``event-hash`` command, reading
a document for capture, the capturer's re-capture check and the contract (which hashes an event sent without an
eventID, and recomputes the hash of an event it holds). GS1's ``epcisDocHavingEventWithIgnoreFields`` holds one
event twice, once with a repository's own fields (``repository-x:hash``, ``example:captureID``) that the document
asks hashers to leave out: both are the same event, with the same hash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.cli import app as cli
from consortia.apps.coldchain.domain.document import read_document
from consortia.apps.coldchain.domain.eventhash import document_events, document_hash_ids
from consortia.apps.coldchain.service.capture import Capturer, contract_of, submission
from consortia.apps.coldchain.web.rest import query_document
from consortia.client.errors import EndorsementFailed

from .cc_support import load, settle

VECTORS = Path(__file__).parent / "vectors" / "epcis-event-hash-generator"
DOCUMENT = VECTORS / "epcisDocHavingEventWithIgnoreFields.jsonld"
QUERY_DOCUMENT = VECTORS / "epcisQueryDocHavingEventWithIgnoreFields.jsonld"
runner = CliRunner()


def _lines(path: Path, suffix: str) -> list[str]:
    return [line for line in path.with_suffix(suffix).read_text().splitlines() if line]


def _unnamed_first(document: dict[str, Any]) -> dict[str, Any]:
    """The document with only its first event (the one carrying the repository's fields), without its eventID."""
    (event, _) = document["epcisBody"]["eventList"]
    del event["eventID"]
    document["epcisBody"]["eventList"] = [event]
    return document


def _only_second(document: dict[str, Any]) -> dict[str, Any]:
    """The document with only its second event (no repository fields, its eventID given)."""
    document["epcisBody"]["eventList"] = document["epcisBody"]["eventList"][1:]
    return document


@pytest.mark.parametrize("path", [DOCUMENT, QUERY_DOCUMENT], ids=["capture", "query"])
def test_event_hash_prints_the_reference_answers(path: Path) -> None:
    expected = _lines(path, ".hashes")
    assert len(expected) == 2 and len(set(expected)) == 1  # one event, twice
    text = runner.invoke(cli, ["event-hash", str(path)])
    assert text.exit_code == 0, text.output
    assert text.output.splitlines() == expected
    listed = runner.invoke(cli, ["event-hash", str(path), "--json"])
    assert listed.exit_code == 0 and json.loads(listed.output) == expected
    prehashes = runner.invoke(cli, ["event-hash", str(path), "--prehash", "--json"])
    assert prehashes.exit_code == 0 and json.loads(prehashes.output) == _lines(path, ".prehashes")
    # the first event without its eventID: the same hash, since the repository's fields are left out
    unnamed = _unnamed_first(load(DOCUMENT))
    assert read_document(unnamed).event_ids == (expected[0],)


def test_without_ignore_fields_the_repository_fields_count(tmp_path: Path) -> None:
    """The check can fail: drop the document's ignoreFields and the first event hashes differently."""
    document = load(DOCUMENT)
    del document["repository-x:ignoreFields"]
    path = tmp_path / "no-ignore.jsonld"
    path.write_text(json.dumps(document))
    result = runner.invoke(cli, ["event-hash", str(path), "--json"])
    assert result.exit_code == 0, result.output
    first, second = json.loads(result.output)
    assert second == _lines(DOCUMENT, ".hashes")[1] and first != second


def _import(path: Path, folder: Path) -> Any:
    return runner.invoke(cli, ["import-epcis", str(path), "--data", str(folder), "--json"])


def test_import_epcis_captures_under_the_reference_ids(tmp_path: Path, cc_folder: Path) -> None:
    (expected, _) = _lines(DOCUMENT, ".hashes")
    first = tmp_path / "first.jsonld"
    first.write_text(json.dumps(_unnamed_first(load(DOCUMENT))))
    captured = _import(first, cc_folder)
    assert captured.exit_code == 0, captured.output
    outcome = json.loads(captured.output)
    assert outcome["event_ids"] == [expected] and outcome["already_captured"] == []
    # the same event without the repository's fields, and the first again: already on the ledger, under that id
    # (the ledger recomputes the stored event's hash with the ignoreFields recorded beside it)
    second = tmp_path / "second.jsonld"
    second.write_text(json.dumps(_only_second(load(DOCUMENT))))
    for path in (second, first):
        again = _import(path, cc_folder)
        assert again.exit_code == 0, again.output
        repeated = json.loads(again.output)
        assert repeated["event_ids"] == [] and [a["event_id"] for a in repeated["already_captured"]] == [expected]
    # the reference document itself holds that one event twice: refused whole, naming the repeat
    whole = _import(DOCUMENT, cc_folder)
    assert whole.exit_code != 0
    assert "eventID repeats event 0" in whole.output and expected in whole.output


def test_the_contract_hashes_with_the_documents_ignore_fields(cc_network) -> None:
    (expected, _) = _lines(DOCUMENT, ".hashes")
    capturer = Capturer(contract_of(cc_network.gateway(consortium.FISH_MARKET)))
    document = read_document(_unnamed_first(load(DOCUMENT)))
    assert document.ignore == {"repository-x:hash", "example:captureID"}
    result = capturer.capture(document)
    assert result.event_ids == (expected,)
    answer = capturer.contract.evaluate("captured", [expected])["events"]
    assert answer[expected]["eventHash"] == expected and answer[expected]["txID"] == result.tx_id
    # a submission that skipped the check: the contract names it already captured, with the reference hash
    sent = submission(document, "a-second-capture")
    with pytest.raises(EndorsementFailed) as caught:
        capturer.contract.submit("capture", sent.commitment.root.hex(), sent.commitment.count, transient=sent.transient)
    assert caught.value.contract_code == "CONFLICT"
    assert "already captured" in caught.value.message and f"event hash {expected}" in caught.value.message


@pytest.mark.parametrize(
    "ignore",
    [["bizStep"], "repository-x:hash", [3], ["x:" + "y" * 600], ["x:y"] * 101],
    ids=["standard-field", "not-a-list", "not-a-string", "too-long", "too-many"],
)
def test_the_contract_refuses_ignore_fields_that_are_not_extension_names(cc_network, ignore: Any) -> None:
    capturer = Capturer(contract_of(cc_network.gateway(consortium.FISH_MARKET)))
    document = read_document(_unnamed_first(load(DOCUMENT)))
    sent = submission(document, "a-capture")
    payload = json.loads(sent.transient["capture"])
    payload["ignoreFields"] = ignore
    with pytest.raises(EndorsementFailed) as caught:
        capturer.contract.submit(
            "capture",
            sent.commitment.root.hex(),
            sent.commitment.count,
            transient={"capture": json.dumps(payload).encode()},
        )
    assert caught.value.contract_code == "INVALID"
    assert "ignoreFields must be a list" in caught.value.message
    assert capturer.contract.evaluate("captured", list(document.event_ids))["events"] == {}


def test_the_query_answer_lists_the_ignore_fields_and_captures_back(cc_network) -> None:
    """``GET /epcis/events`` serves the event with the repository's fields: it says to ignore them again."""
    (expected, _) = _lines(DOCUMENT, ".hashes")
    capturer = Capturer(contract_of(cc_network.gateway(consortium.FISH_MARKET)))
    first = capturer.capture(read_document(_unnamed_first(load(DOCUMENT))))
    settle(cc_network)
    records = capturer.contract.evaluate("query_events", {"perPage": 10})["events"]
    answer = query_document(records)
    (served,) = document_events(answer)
    assert served["repository-x:hash"] == expected and served["eventID"] == expected
    assert answer["epcisBody"]["queryResults"]["cc:ignoreFields"] == ["example:captureID", "repository-x:hash"]
    assert document_hash_ids(answer) == [expected]
    again = capturer.capture(read_document(answer))  # schema-valid, and the same event
    assert again.tx_id is None and [(a.event_id, a.tx_id) for a in again.already_captured] == [(expected, first.tx_id)]
