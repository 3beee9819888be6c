"""Reading proofs (issue 17, item 4): the browser's verifier and the Python one agree, and the public proof route.

The same proof documents — a demo reading's, as the consumer page gets it, and one tampered copy for each link of
the chain — go to :func:`~consortia.apps.coldchain.service.proofs.verify_reading_proof` and to ``readingproof.js``
(imported from the running gateway into Debian's Chromium); both must give the same steps with the same verdicts.
The route itself: a lot's proof names no other lot and carries no members' part, and bad requests get clear errors.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import msgspec
import pytest

import consortia.apps.coldchain.consortium as consortium
from chromium import HAS_CHROMIUM, IN_CI, LAUNCH_ARGS, chromium_browser, requires_chromium
from consortia.apps.coldchain.domain import gs1
from consortia.apps.coldchain.service.proofs import verify_reading_proof
from consortia.ledger import merkle
from consortia.ledger.encoding import canonical_json
from consortia.ledger.proof import corrupt_in_transit

from .cc_support import ServerThread


def _lots(network) -> list[gs1.LotId]:
    contract = network.gateway(consortium.RETAILER).network(consortium.CHANNEL).contract(consortium.CONTRACT)
    return [gs1.LotId.from_key(row["lot"]) for row in contract.evaluate("lots")]


def _retail(network) -> gs1.LotId:
    return next(lot for lot in _lots(network) if lot.lot.startswith("FL"))


def _journey(server: ServerThread, lot: gs1.LotId) -> dict[str, Any]:
    response = httpx.get(f"{server.base}/api/coldchain/public/journey", params={"lot": lot.key}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def _proof(server: ServerThread, lot: gs1.LotId, ts_ms: int) -> httpx.Response:
    return httpx.get(
        f"{server.base}/api/coldchain/public/reading-proof", params={"lot": lot.key, "ts": ts_ms}, timeout=60
    )


@pytest.fixture(scope="module")
def good(demo_network, server) -> dict[str, Any]:
    """The proof of the warmest reading the retail lot's page offers, as the page fetches it."""
    lot = _retail(demo_network)
    offered = _journey(server, lot)["display"]["readings"]
    assert offered, "the page offers no reading to check"
    response = _proof(server, lot, offered[0]["ts_ms"])
    assert response.status_code == 200, response.text
    return response.json()


# -- the public route -----------------------------------------------------------------------------------------


def test_a_lots_reading_proof_verifies_and_discloses_nothing_else(demo_network, server, good) -> None:
    steps = verify_reading_proof(good)
    assert steps and all(s.ok for s in steps), [s for s in steps if not s.ok]
    assert "sealed" not in good  # the members' full event and salt never reach a browser
    lot = _retail(demo_network)
    journey = _journey(server, lot)
    allowed = {lot.key, *journey["upstream"]}
    anchored = json.loads(good["event"]["leaf"])
    assert anchored["lot"] in allowed | {None}
    text = json.dumps(good)
    for other in _lots(demo_network):
        if other.key not in allowed:
            assert other.lot not in text, other  # no other lot, not even as the anchoring event's first leaf
    for secret in ("KR-BS-0807", "pgln", '"quantity"', "KGM", "sourceList", "bizTransaction"):
        assert secret not in text, secret


def test_bad_reading_proof_requests_get_clear_errors(demo_network, server, good) -> None:
    lot = _retail(demo_network)
    url = f"{server.base}/api/coldchain/public/reading-proof"
    missing = httpx.get(url, params={"lot": lot.key})
    assert missing.status_code == 422
    nothing = _proof(server, lot, good["reading"]["ts_ms"] + 1)  # no reading at that instant
    assert nothing.status_code == 404 and nothing.json()["code"] == "NO_PROOF", nothing.text
    assert "was taken at" in nothing.json()["detail"]
    bad_lot = httpx.get(url, params={"lot": "not a lot", "ts": 1})
    assert bad_lot.status_code == 400 and bad_lot.json()["code"] == "BAD_LOT"
    unknown = httpx.get(url, params={"lot": gs1.LotId(lot.gtin, "NO-SUCH-LOT").key, "ts": 1})
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"
    negative = httpx.get(url, params={"lot": lot.key, "ts": -5})
    assert negative.status_code == 422
    again = _proof(server, lot, good["reading"]["ts_ms"])  # and nothing was lost: the good one still answers
    assert again.status_code == 200 and again.json()["leaf_hash"] == good["leaf_hash"]


def test_the_dashboards_reading_proofs_are_for_members_and_refuse_bad_input(server) -> None:
    url = f"{server.base}/api/coldchain/reading-proof"
    anonymous = httpx.get(url, params={"device": "LG-001", "seq": 1}, headers={"Accept": "application/json"})
    assert anonymous.status_code == 401
    with httpx.Client(base_url=server.base, timeout=60, headers={"Accept": "application/json"}) as member:
        login = member.post(
            "/api/login", json={"username": f"{consortium.RETAILER}/yuna", "password": consortium.DEMO_PASSWORD}
        )
        assert login.status_code < 400, login.text
        devices = member.get("/api/coldchain/devices").json()["devices"]
        offered = [row for row in devices if row["anchored"]]
        assert offered, devices
        row = offered[0]
        proof = member.get(url, params={"device": row["device"], "seq": row["anchored"]["seq"]})
        assert proof.status_code == 200, proof.text
        document = proof.json()
        assert "sealed" not in document
        assert document["reading"]["ts_ms"] == row["anchored"]["ts_ms"]
        assert document["reading"]["celsius"] == row["anchored"]["celsius"]
        assert all(s.ok for s in verify_reading_proof(document))
        unknown = member.get(url, params={"device": row["device"], "seq": 999_999_999})
        assert unknown.status_code == 404 and unknown.json()["code"] == "NO_PROOF"
        assert "no reading" in unknown.json()["detail"]
        assert member.get(url, params={"device": row["device"], "seq": "x"}).status_code == 422
        assert member.get(url, params={"device": "", "seq": 1}).status_code == 422
        assert member.get(url, params={"device": "L" * 65, "seq": 1}).status_code == 422


# -- tampered copies ------------------------------------------------------------------------------------------


def _relabel(doc: dict[str, Any]) -> None:
    """Claim a colder reading, with the leaf hash recomputed to match (so the batch inclusion is what fails)."""
    reading = doc["reading"]
    reading["celsius"] = round(reading["celsius"] - 1.5, 2)
    data = b"coldchain-reading/v1\x00" + canonical_json(
        {
            "celsius": float(reading["celsius"]),
            "device": reading["device"],
            "seq": reading["seq"],
            "ts_ms": reading["ts_ms"],
        }
    )
    doc["leaf_hash"] = merkle.leaf_hash(data).hex()


def _flip(hex_text: str) -> str:
    return ("0" if hex_text[0] != "0" else "1") + hex_text[1:]


def _anchor_leaf(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        leaf = json.loads(doc["event"]["leaf"])
        change(leaf)
        doc["event"]["leaf"] = canonical_json(leaf).decode()

    return edit


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = doc
        for name in parents:
            target = target[name]
        target[last] = value

    return edit


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = doc
        for name in parents:
            target = target[name]
        del target[last]

    return edit


def _whole_celsius(doc: dict[str, Any]) -> None:
    """celsius written as 2 instead of 2.0: still the same reading (a browser cannot tell them apart)."""
    doc["reading"]["celsius"] = int(doc["reading"]["celsius"])


TAMPERED: dict[str, Callable[[dict[str, Any]], None]] = {
    "colder reading": lambda d: d["reading"].update(celsius=round(d["reading"]["celsius"] - 1.5, 2)),
    "other time": lambda d: d["reading"].update(ts_ms=d["reading"]["ts_ms"] - 60_000),
    "other seq": lambda d: d["reading"].update(seq=d["reading"]["seq"] + 1),
    "other logger": lambda d: d["reading"].update(device="LG-999"),
    "relabelled with its leaf hash": _relabel,
    "batch root": lambda d: d["batch"].update(root=_flip(d["batch"]["root"])),
    "batch path": lambda d: d["batch"].update(path=[_flip(h) for h in d["batch"]["path"]] or ["00" * 32]),
    "batch index": lambda d: d["batch"].update(index=d["batch"]["index"] + 1),
    "anchoring leaf of another logger": _anchor_leaf(lambda leaf: leaf["sensor"].update(device="https://id.example/x")),
    "anchoring leaf of another root": _anchor_leaf(lambda leaf: leaf["sensor"].update(merkleRoot="00" * 32)),
    "anchoring leaf without sensor": _anchor_leaf(lambda leaf: leaf.update(sensor=None)),
    "capture path": lambda d: d["event"].update(path=[_flip(h) for h in d["event"]["path"]] or ["00" * 32]),
    "capture count": lambda d: d["event"].update(count=d["event"]["count"] + 1),
    "other transaction named": lambda d: d["batch"].update(tx_id=_flip(d["batch"]["tx_id"])),
    "transaction corrupted in transit": lambda d: corrupt_in_transit(d["transaction_proof"]),
    "transaction signature": lambda d: d["transaction_proof"].update(
        signature=_flip(d["transaction_proof"]["signature"])
    ),
    "envelope not base64": _set("transaction_proof.envelope", "not base64!"),
    "no reading": _delete("reading"),
    "celsius as text": _set("reading.celsius", "1.8"),
    "seq as text": _set("reading.seq", "7"),
    "leaf not JSON": _set("event.leaf", "{not json"),
    "no transaction proof": _delete("transaction_proof"),
}


@pytest.fixture(scope="module")
def browser_page(server) -> Iterator[Any]:
    if not HAS_CHROMIUM and not IN_CI:
        pytest.skip("Debian's Chromium is not installed (required when CI=true)")
    with chromium_browser(LAUNCH_ARGS) as browser:
        page = browser.new_page()
        page.goto(f"{server.base}/coldchain/static/consumer.css")  # any page of the gateway's origin
        yield page


def _in_browser(page: Any, doc: Any) -> list[tuple[str, bool]]:
    steps = page.evaluate(
        """async (doc) => {
          const verifier = await import('/static/verifier.js');
          const proof = await import('/coldchain/static/readingproof.js');
          return (await proof.verifyReadingProof(doc, verifier)).map((s) => [s.name, s.ok]);
        }""",
        doc,
    )
    return [(name, ok) for name, ok in steps]


def _in_python(doc: Any) -> list[tuple[str, bool]]:
    return [(s.name, s.ok) for s in verify_reading_proof(json.loads(json.dumps(doc)))]


@requires_chromium
def test_the_browser_and_python_verify_a_good_proof_alike(browser_page, good) -> None:
    python = _in_python(good)
    assert python == _in_browser(browser_page, good)
    assert all(ok for _, ok in python) and len(python) >= 10


@requires_chromium
@pytest.mark.parametrize("kind", list(TAMPERED))
def test_the_browser_and_python_fail_a_tampered_proof_alike(browser_page, good, kind) -> None:
    doc = copy.deepcopy(good)
    TAMPERED[kind](doc)
    python = _in_python(doc)
    assert not all(ok for _, ok in python), f"{kind}: the Python verifier accepted a tampered proof"
    assert _in_browser(browser_page, doc) == python, kind


@requires_chromium
def test_a_whole_number_of_degrees_is_the_same_reading_for_both(browser_page, good) -> None:
    doc = copy.deepcopy(good)
    doc["reading"]["celsius"] = 2.0
    _relabel_to(doc, 2.0)
    _whole_celsius(doc)
    python = _in_python(doc)
    assert python == _in_browser(browser_page, doc)
    assert python[:2] == [("proof document is readable", True), ("reading leaf hash", True)]


def _relabel_to(doc: dict[str, Any], celsius: float) -> None:
    reading = doc["reading"]
    data = b"coldchain-reading/v1\x00" + canonical_json(
        {"celsius": celsius, "device": reading["device"], "seq": reading["seq"], "ts_ms": reading["ts_ms"]}
    )
    doc["leaf_hash"] = merkle.leaf_hash(data).hex()


@requires_chromium
def test_readings_are_written_as_the_server_writes_floats(browser_page) -> None:
    values = [0.0, -0.0, 1.0, 1.8, -0.5, 59.99, 2.675, 0.1 + 0.2, 1e-5, 9.99e-6, 1e-7, 1e16, 1.5e16, 9999999999999998.0]
    written = browser_page.evaluate(
        """async (values) => {
          const proof = await import('/coldchain/static/readingproof.js');
          return values.map((x) => proof.floatJson(x));
        }""",
        values,
    )
    assert written == [msgspec.json.encode(x).decode() for x in values]


@requires_chromium
def test_nothing_that_is_not_a_proof_makes_either_verifier_throw(browser_page) -> None:
    for doc in (None, [], "proof", 7, {}, {"reading": {}, "batch": [], "event": None}):
        python = _in_python(doc)
        assert python == _in_browser(browser_page, doc) == [("proof document is readable", False)]
