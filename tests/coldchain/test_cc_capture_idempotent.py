"""Re-capture (issue 17, item 3): an event the ledger already holds with the same event hash is an idempotent
success reported per event; an eventID the ledger holds with other content refuses the document, naming both
hashes. The ledger decides — the contract's ``captured`` query before submitting, and the contract's own refusal
when a capture races another."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from fastapi.testclient import TestClient

import consortia.apps.coldchain.consortium as consortium
from consortia.apps.coldchain.domain.document import DocumentRejected, read_document
from consortia.apps.coldchain.domain.eventhash import event_hash_id
from consortia.apps.coldchain.service.capture import Capturer, Recapture, contract_of, submission
from consortia.client.errors import EndorsementFailed, TransactionInvalid
from consortia.client.request_signing import authorization_header
from consortia.gateway.server.app import create_app
from consortia.network.embedded import EmbeddedNetwork

from .cc_support import EVENT_HASH, load, settle

FIRST = EVENT_HASH / "ReferenceEventHashAlgorithm2.jsonld"
SECOND = EVENT_HASH / "epcisDocWithSingleEvent.jsonld"


def _capturer(network: EmbeddedNetwork, org: str = consortium.FISH_MARKET) -> Capturer:
    return Capturer(contract_of(network.gateway(org)))


def _stored_ids(network: EmbeddedNetwork) -> list[str]:
    settle(network)
    contract = contract_of(network.gateway(consortium.PROCESSOR))
    return [e["eventID"] for e in contract.evaluate("query_events", {"perPage": 1000})["events"]]


def _both(*paths) -> dict[str, Any]:
    document = load(paths[0])
    document["epcisBody"]["eventList"] = [e for p in paths for e in load(p)["epcisBody"]["eventList"]]
    return document


def test_the_same_document_again_is_a_success_reporting_each_event(cc_network) -> None:
    capturer = _capturer(cc_network)
    first = capturer.capture(read_document(load(FIRST)))
    assert first.tx_id and first.already_captured == () and first.captured_ids == first.event_ids
    again = capturer.capture(read_document(load(FIRST)))
    assert again.tx_id is None and again.block is None and again.captured_ids == ()
    assert [(a.event_id, a.tx_id) for a in again.already_captured] == [(first.event_ids[0], first.tx_id)]
    # another member capturing the same event is told the same: the ledger, not who asks, decides
    other = _capturer(cc_network, consortium.LOGISTICS).capture(read_document(load(FIRST)))
    assert [a.event_id for a in other.already_captured] == list(first.event_ids)
    assert _stored_ids(cc_network) == list(first.event_ids)


def test_a_document_mixing_old_and_new_events_captures_only_the_new(cc_network) -> None:
    capturer = _capturer(cc_network)
    first = capturer.capture(read_document(load(FIRST)))
    mixed = capturer.capture(read_document(_both(FIRST, SECOND)))
    (new_id,) = mixed.captured_ids
    assert mixed.event_ids == (first.event_ids[0], new_id) and mixed.tx_id not in (None, first.tx_id)
    assert [a.event_id for a in mixed.already_captured] == list(first.event_ids)
    assert sorted(_stored_ids(cc_network)) == sorted([*first.event_ids, new_id])
    # the new event's commitment proves against the new transaction; the old one's still against its own
    contract = contract_of(cc_network.gateway(consortium.PROCESSOR))
    assert contract.evaluate("event_commitment", new_id)["txID"] == mixed.tx_id
    assert contract.evaluate("event_commitment", first.event_ids[0])["txID"] == first.tx_id


def test_a_reused_event_id_with_other_content_is_refused_naming_both_hashes(cc_network) -> None:
    capturer = _capturer(cc_network)
    original = load(SECOND)
    original["epcisBody"]["eventList"][0]["eventID"] = "urn:uuid:8d6c1a4e-0d1f-4c7e-9f55-2a9d3b7c1e01"
    first = capturer.capture(read_document(original))
    stored_hash = event_hash_id(load(SECOND)["epcisBody"]["eventList"][0], read_document(original).prefixes)
    changed = load(SECOND)
    event = changed["epcisBody"]["eventList"][0]
    event.update(eventID="urn:uuid:8d6c1a4e-0d1f-4c7e-9f55-2a9d3b7c1e01", disposition="damaged")
    new_hash = event_hash_id(event, read_document(changed).prefixes)
    assert new_hash != stored_hash
    fresh = load(FIRST)["epcisBody"]["eventList"][0]  # a new event before it: refused whole, so not stored either
    changed["epcisBody"]["eventList"].insert(0, fresh)
    with pytest.raises(DocumentRejected) as caught:
        capturer.capture(read_document(changed, "changed.json"))
    refusal = caught.value
    assert refusal.code == "CONFLICT" and refusal.source == "changed.json"
    (rejection,) = refusal.rejections
    assert rejection.event_index == 1 and rejection.event_id == first.event_ids[0] and rejection.field == "eventID"
    assert stored_hash in rejection.message and new_hash in rejection.message and first.tx_id in rejection.message
    assert _stored_ids(cc_network) == list(first.event_ids)


def test_the_contract_itself_refuses_an_event_already_there(cc_network) -> None:
    """A submission that skipped the check (or raced another) cannot record an event twice."""
    capturer = _capturer(cc_network)
    document = read_document(load(FIRST))
    first = capturer.capture(document)
    sent = submission(document, "a-second-capture")
    with pytest.raises(EndorsementFailed) as caught:
        capturer.contract.submit("capture", sent.commitment.root.hex(), sent.commitment.count, transient=sent.transient)
    assert caught.value.contract_code == "CONFLICT"
    assert "already captured" in caught.value.message and first.tx_id in caught.value.message
    answer = capturer.contract.evaluate("captured", [*document.event_ids, "urn:uuid:not-there"])["events"]
    assert set(answer) == set(document.event_ids)
    assert answer[document.event_ids[0]]["eventHash"] == document.event_ids[0]  # no eventID given: the hash
    assert answer[document.event_ids[0]]["txID"] == first.tx_id
    for bad, words in (("not a list", "must be list"), (["fine", 3], "list of eventIDs")):
        with pytest.raises(EndorsementFailed, match=words):
            capturer.contract.evaluate("captured", bad)


def test_a_capture_that_loses_a_race_asks_the_ledger_again(cc_network, monkeypatch) -> None:
    """The first look is stale (the event arrived since): the contract refuses, the capturer asks again."""
    capturer = _capturer(cc_network)
    capturer.capture(read_document(load(FIRST)))
    looks: list[Recapture] = []
    real = Capturer.recapture

    def stale_first(self: Capturer, document) -> Recapture:
        plan = real(self, document) if looks else Recapture(document, ())
        looks.append(plan)
        return plan

    monkeypatch.setattr(Capturer, "recapture", stale_first)
    result = capturer.capture(read_document(_both(FIRST, SECOND)))
    assert len(looks) == 2 and len(result.captured_ids) == 1 and len(result.already_captured) == 1


def _lost_at_validation(capturer: Capturer, monkeypatch, code: str) -> list[str]:
    """The capturer's next submission commits invalid with ``code`` (as if another transaction beat it)."""
    real = capturer.contract.submit_async
    calls: list[str] = []

    def submit_async(*args, **kwargs) -> Future:
        calls.append(code if not calls else "real")
        if len(calls) > 1:
            return real(*args, **kwargs)
        failed: Future = Future()
        failed.set_exception(TransactionInvalid(code, "key 'hd…' changed after it was read", "ab" * 32, 7))
        return failed

    monkeypatch.setattr(capturer.contract, "submit_async", submit_async)
    return calls


def test_a_capture_invalidated_by_a_read_conflict_asks_the_ledger_again(cc_network, monkeypatch) -> None:
    """A stale peer endorsed it and another capture of its event committed first: asked again, not failed."""
    capturer = _capturer(cc_network)
    first = capturer.capture(read_document(load(FIRST)))
    looks: list[Recapture] = []
    real = Capturer.recapture

    def stale_first(self: Capturer, document) -> Recapture:
        plan = real(self, document) if looks else Recapture(document, ())
        looks.append(plan)
        return plan

    monkeypatch.setattr(Capturer, "recapture", stale_first)
    calls = _lost_at_validation(capturer, monkeypatch, "MVCC_READ_CONFLICT")
    result = capturer.capture(read_document(_both(FIRST, SECOND)))
    assert calls == ["MVCC_READ_CONFLICT", "real"] and len(looks) == 2
    assert [(a.event_id, a.tx_id) for a in result.already_captured] == [(first.event_ids[0], first.tx_id)]
    (new_id,) = result.captured_ids
    assert result.tx_id not in (None, first.tx_id)
    assert sorted(_stored_ids(cc_network)) == sorted([first.event_ids[0], new_id])


def test_a_capture_invalid_for_another_reason_fails(cc_network, monkeypatch) -> None:
    capturer = _capturer(cc_network)
    calls = _lost_at_validation(capturer, monkeypatch, "ENDORSEMENT_POLICY_FAILURE")
    with pytest.raises(TransactionInvalid, match="changed after it was read") as caught:
        capturer.capture(read_document(load(FIRST)))
    assert caught.value.code == "ENDORSEMENT_POLICY_FAILURE" and calls == ["ENDORSEMENT_POLICY_FAILURE"]
    assert _stored_ids(cc_network) == []


def test_an_error_declaration_already_recorded_is_already_captured(cc_network) -> None:
    capturer = _capturer(cc_network)
    (event_id,) = capturer.capture(read_document(load(SECOND))).event_ids
    declared = load(SECOND)
    declaration = {"declarationTime": "2026-03-01T10:00:00+09:00", "reason": "incorrect_data"}
    declared["epcisBody"]["eventList"][0].update(eventID=event_id, errorDeclaration=declaration)
    recorded = capturer.capture(read_document(declared))
    assert recorded.captured_ids == (event_id,) and recorded.tx_id  # the declaration is recorded once
    again = capturer.capture(read_document(declared))
    assert again.tx_id is None and [a.event_id for a in again.already_captured] == [event_id]


# -- over the EPCIS REST binding ---------------------------------------------------------------------------


def _signed(network: EmbeddedNetwork, method: str, target: str, body: bytes = b"") -> dict[str, str]:
    identity = network.identity(consortium.FISH_MARKET, "client")
    return {"Authorization": authorization_header(identity, method, target, body)}


@pytest.fixture
def client(cc_network: EmbeddedNetwork) -> Iterator[TestClient]:
    with TestClient(create_app(cc_network)) as test_client:
        yield test_client


def _post(client: TestClient, network: EmbeddedNetwork, document: dict[str, Any]) -> Any:
    body = json.dumps(document).encode()
    headers = {"Content-Type": "application/ld+json", **_signed(network, "POST", "/epcis/capture", body)}
    return client.post("/epcis/capture", content=body, headers=headers)


def _finished(client: TestClient, network: EmbeddedNetwork, accepted: Any) -> dict[str, Any]:
    assert accepted.status_code == 202, accepted.text
    url = accepted.headers["location"]
    for _ in range(500):
        job = client.get(url, headers=_signed(network, "GET", url)).json()
        if not job["running"]:
            return job
        time.sleep(0.02)
    raise AssertionError(f"{url} did not finish")


def test_the_capture_job_reports_already_captured_events(cc_network, client) -> None:
    first = _finished(client, cc_network, _post(client, cc_network, load(FIRST)))
    assert first["success"] and first["already_captured"] == [] and len(first["eventIDs"]) == 1
    mixed = _finished(client, cc_network, _post(client, cc_network, _both(FIRST, SECOND)))
    assert mixed["success"] is True and mixed["events"] == 2 and len(mixed["eventIDs"]) == 1
    assert mixed["already_captured"] == [{"eventID": first["eventIDs"][0], "txID": first["txID"]}]
    listed = client.get("/epcis/capture", headers=_signed(cc_network, "GET", "/epcis/capture")).json()
    assert [j["captureID"] for j in listed["captureJobs"][:2]] == [mixed["captureID"], first["captureID"]]


def test_the_capture_route_refuses_a_reused_event_id_with_409_naming_both(cc_network, client) -> None:
    original = load(SECOND)
    original["epcisBody"]["eventList"][0]["eventID"] = "urn:uuid:0e3f6c2a-5b1d-4a8e-b7c9-1d2e3f4a5b6c"
    first = _finished(client, cc_network, _post(client, cc_network, original))
    changed = json.loads(json.dumps(original))
    changed["epcisBody"]["eventList"][0]["disposition"] = "damaged"
    refused = _post(client, cc_network, changed)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    (rejection,) = problem["rejections"]
    assert (
        rejection["event_id"] == "urn:uuid:0e3f6c2a-5b1d-4a8e-b7c9-1d2e3f4a5b6c"
        and first["txID"] in rejection["message"]
    )
    assert rejection["message"].count("ni:///sha-256;") == 2 and problem["contract_code"] == "CONFLICT"
