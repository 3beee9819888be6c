"""The browser proof verifier (gateway static/verifier.js and verify-widget.js), run in a real headless Chromium.

Debian's Chromium (/usr/bin/chromium, never a downloaded browser) loads the verifier from the gateway app of a real
embedded network, with the static folder and tests/js mounted next to the API. The checks:

* every shared RFC 9162 vector, through verifyInclusion / verifyConsistency, with WebCrypto and with the vendored
  noble fallback;
* real proofs served by the gateway verify step by step with exactly the step names and verdicts of the Python
  reference ``check_proof``, in both crypto modes and on a plain-HTTP, non-localhost origin where the browser
  offers no WebCrypto at all; a proof corrupted in transit (``tamper_proofs``) fails at the history step;
* Ed25519 against RFC 8032 TEST 1, strict header decoding, and the widget: verify, tamper, a proof of another
  transaction than the page's, consistency with the header seen before, a forked trusted header and a changed
  ordering CA.
"""

from __future__ import annotations

import base64
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from chromium import QUIET_LAUNCH_ARGS, chromium_browser, require_chromium
from conftest import ASSET_TRANSFER, IN_CI, SHARED, USERS
from consortia.client import SubmitResult
from consortia.gateway import server as gateway_server
from consortia.gateway.server.app import ServerSettings, create_app
from consortia.identity.ca import CertificateAuthority
from consortia.ledger import merkle
from consortia.ledger.block import BlockHeader
from consortia.ledger.config import BatchConfig
from consortia.ledger.encoding import encode
from consortia.ledger.proof import check_proof, header_json
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec, UserSpec

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None

# A name that Chromium resolves to 127.0.0.1 by itself (no DNS): a plain-HTTP origin that is not "potentially
# trustworthy", so the page is not a secure context and has no crypto.subtle, like a phone on the LAN.
INSECURE_HOST = "verifier.test"
VECTORS = SHARED / "testvectors/rfc9162"
STATIC_DIR = Path(gateway_server.__file__).parent / "static"
TEST_PAGES = Path(__file__).parent / "js"
PAGE = "/test-pages/verifier.html"
WEB_USER, PASSWORD = "Org1/web", "correct horse battery staple"
CONTRACT = "asset-transfer"

STEP_NAMES = [
    "proof document is readable",
    "leaf hash = SHA-256(0x00 ‖ envelope)",
    "transaction is in the block (RFC 9162 inclusion up to data_hash)",
    "transaction is in the ledger history (RFC 9162 inclusion up to history_root)",
    "header fields match the signed header bytes",
    "orderer certificate issued by a trusted ordering CA",
    "orderer signature over the header",
]
HISTORY_STEP = STEP_NAMES[3]
TRANSACTION_STEP = "envelope is the transaction asked for (tx id = SHA-256(nonce ‖ creator))"
PIN_STEP = "ordering CA is the one pinned for this channel (trust on first use)"
WIDGET_STEPS = [*STEP_NAMES, TRANSACTION_STEP, PIN_STEP]
CONSISTENCY_STEPS = [
    "consistency document is readable",
    "headers are the ones expected (earlier one trusted)",
    "both headers signed by the orderer (cert chain)",
    "consistency proof from the trusted size/root to the new size/root",
]

pytestmark = pytest.mark.timeout(180)


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; CI=true, so the browser tests must run")
    pytest.skip(reason)


# -- servers and browser --------------------------------------------------------------------------------------


class Served:
    """An ASGI app served by uvicorn on a free 127.0.0.1 port, in a thread."""

    def __init__(self, app: FastAPI) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()


def _app(net: EmbeddedNetwork, settings: ServerSettings) -> FastAPI:
    app = create_app(net, settings)
    # Under their own prefixes, so nothing the real pages mount can clash with them.
    app.mount("/test-static", StaticFiles(directory=STATIC_DIR), name="test-static")
    app.mount("/test-pages", StaticFiles(directory=TEST_PAGES), name="test-pages")
    return app


@dataclass
class Gateway:
    net: EmbeddedNetwork
    plain: Served
    tampered: Served

    def submit(self, asset_id: str) -> SubmitResult:
        return self.net.gateway("Org1").network("ch1").contract(CONTRACT).submit("create", asset_id, "red", 1, 1)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Org1 and Org2 on ch1 with asset-transfer; a person Org1/web who logs in; an honest and a tampering server."""
    web = UserSpec("web", "client", {}, PASSWORD)
    spec = NetworkSpec(
        orgs=(OrgSpec("Org1", users=(*USERS, web)), OrgSpec("Org2", users=USERS)),
        channels=(ChannelSpec("ch1", ("Org1", "Org2"), BatchConfig(max_transactions=50, timeout_ms=20)),),
    )
    net = EmbeddedNetwork.create(tmp_path_factory.mktemp("jsnet") / "net", spec)
    servers: list[Served] = []
    try:
        net.deploy("ch1", ASSET_TRANSFER, policy="AND('Org1.peer','Org2.peer')")
        servers.append(Served(_app(net, ServerSettings())))
        servers.append(Served(_app(net, ServerSettings(tamper_proofs=True))))
        yield Gateway(net, *servers)
    finally:
        for server in servers:
            server.close()
        net.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if sync_playwright is None:
        _unavailable("the playwright package is not installed")
    require_chromium()
    with chromium_browser([*QUIET_LAUNCH_ARGS, f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1"]) as chromium:
        yield chromium


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """Open the test page in a fresh browser context (own cookies and localStorage), logged in as Org1/web."""
    contexts: list[Any] = []

    def open_(base: str, query: str = "") -> Any:
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base}{PAGE}{query}")
        page.wait_for_function("window.verifier !== undefined")
        username, password = WEB_USER, PASSWORD
        status = page.evaluate(
            """async ([username, password]) => (await fetch('/api/login', {
                method: 'POST', headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({username, password}),
            })).status""",
            [username, password],
        )
        assert status == 200
        assert not errors, errors
        return page

    yield open_
    for context in contexts:
        context.close()


def _fetch_json(page: Any, url: str) -> Any:
    return page.evaluate("async (url) => (await fetch(url)).json()", url)


def _verify_in_page(page: Any, doc: Any, **options: Any) -> list[dict[str, Any]]:
    return page.evaluate("async ([doc, options]) => window.verifier.verifyProof(doc, options)", [doc, options])


def _vendor_loads(page: Any) -> list[str]:
    return page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/vendor/'))"
    )


def _proof_url(tx_id: str) -> str:
    return f"/api/channels/ch1/transactions/{tx_id}/proof"


def _verdicts(steps: list[Any]) -> list[tuple[str, bool]]:
    return [(s["name"], s["ok"]) if isinstance(s, dict) else (s.name, s.ok) for s in steps]


# -- 1. RFC 9162 vectors ---------------------------------------------------------------------------------------

RUN_VECTORS = """async ([cases, forceFallback]) => {
    const v = window.verifier;
    const bytes = (text) => v.base64ToBytes(text);
    const size = (n) => (typeof n === 'string' ? BigInt(n) : n);  // beyond 2^53: sent as text, checked as BigInt
    const results = [];
    for (const c of cases) {
        const proof = (c.proof ?? []).map(bytes);
        const options = {forceFallback};
        results.push(c.kind === 'inclusion'
            ? await v.verifyInclusion(bytes(c.leafHash), size(c.leafIdx), size(c.treeSize), proof, bytes(c.root),
                                      options)
            : await v.verifyConsistency(size(c.size1), size(c.size2), proof, bytes(c.root1), bytes(c.root2),
                                        options));
    }
    return results;
}"""


def _vector_cases() -> tuple[list[str], list[dict[str, Any]]]:
    names, cases = [], []
    for path in sorted(VECTORS.rglob("*.json")):
        case = json.loads(path.read_text())
        case["kind"] = path.relative_to(VECTORS).parts[0]
        for key in ("leafIdx", "treeSize", "size1", "size2"):
            if isinstance(case.get(key), int) and case[key] > 2**53 - 1:
                case[key] = str(case[key])
        names.append(str(path.relative_to(VECTORS)))
        cases.append(case)
    return names, cases


def test_rfc9162_vectors_in_both_crypto_modes(open_page: Any, gateway: Gateway) -> None:
    names, cases = _vector_cases()
    assert len(cases) >= 90, f"only {len(cases)} vectors under {VECTORS}"
    assert {c["kind"] for c in cases} == {"inclusion", "consistency"}
    expected = [not c["wantErr"] for c in cases]
    page = open_page(gateway.plain.url())
    for force in (False, True):
        results = page.evaluate(RUN_VECTORS, [cases, force])
        wrong = [name for name, got, want in zip(names, results, expected, strict=True) if got is not want]
        assert not wrong, f"forceFallback={force}: {wrong}"
        # WebCrypto alone serves a secure context; noble is fetched only when the fallback is asked for.
        assert any("noble-hashes/sha2.js" in url for url in _vendor_loads(page)) is force

    # Sizes beyond uint64, rounded Numbers and non-integers are refused, never wrapped or truncated.
    edge = page.evaluate(
        """() => { const v = window.verifier;
            return [v.toSize(2n ** 64n - 1n) === 2n ** 64n - 1n, v.toSize(2n ** 64n), v.toSize(2 ** 53),
                    v.toSize(-1), v.toSize(1.5), v.toSize(true), v.toSize('3')]; }"""
    )
    assert edge == [True, None, None, None, None, None, None]


def _generated_cases(max_size: int = 24, seed: int = 7) -> list[dict[str, Any]]:
    """Proofs built by merkle.py for every index and size pair up to max_size, wrong claims and tampered paths."""
    rng = random.Random(seed)
    leaves = [merkle.leaf_hash(i.to_bytes(2, "big") + rng.randbytes(rng.randrange(8))) for i in range(max_size)]
    roots = [merkle.root(leaves[:n]) for n in range(max_size + 1)]

    def b64(values: list[bytes]) -> list[str]:
        return [base64.b64encode(v).decode() for v in values]

    def variants(proof: list[bytes]) -> list[list[bytes]]:
        if rng.random() > 0.25:  # tamper with a quarter of the proofs, to keep the run short
            return [proof]
        out = [proof, [*proof, rng.randbytes(32)], [rng.randbytes(32), *proof]]
        if proof:
            i = rng.randrange(len(proof))
            flipped = bytearray(proof[i])
            flipped[rng.randrange(32)] ^= 1 << rng.randrange(8)
            out += [proof[:-1], proof[1:], [*proof[:i], bytes(flipped), *proof[i + 1 :]], [*proof, proof[-1]]]
        return out

    cases: list[dict[str, Any]] = []
    for size in range(1, max_size + 1):
        for index in range(size):
            proof = merkle.inclusion_proof(leaves[:size], index)
            claims = [(index, size, proof), (index, size + 1, proof), (index ^ 1, size, proof)]
            claims += [(index, size, path) for path in variants(proof)[1:]]
            for claimed_index, claimed_size, path in claims:
                leaf, root = b64([leaves[index], roots[size]])
                want = merkle.verify_inclusion(leaves[index], claimed_index, claimed_size, path, roots[size])
                case = {"leafHash": leaf, "leafIdx": claimed_index, "treeSize": claimed_size, "root": root}
                cases.append({"kind": "inclusion", **case, "proof": b64(path), "want": want})
    for size2 in range(max_size + 1):
        for size1 in range(size2 + 1):
            for path in variants(merkle.consistency_proof(leaves, size1, size2)):
                root1, root2 = b64([roots[size1], roots[size2]])
                want = merkle.verify_consistency(size1, size2, path, roots[size1], roots[size2])
                case = {"size1": size1, "size2": size2, "root1": root1, "root2": root2}
                cases.append({"kind": "consistency", **case, "proof": b64(path), "want": want})
    return cases


def test_generated_proofs_agree_with_merkle_py(open_page: Any, gateway: Gateway) -> None:
    cases = _generated_cases()
    assert sum(c["want"] for c in cases) > 500 and sum(not c["want"] for c in cases) > 300
    page = open_page(gateway.plain.url())
    for force in (False, True):
        results = page.evaluate(RUN_VECTORS, [cases, force])
        wrong = [c for c, got in zip(cases, results, strict=True) if got is not c["want"]]
        assert not wrong, f"forceFallback={force}: {len(wrong)} disagree with merkle.py, e.g. {wrong[:2]}"


# -- 2. real proofs, Ed25519, header decoding ------------------------------------------------------------------


def test_real_proof_verifies_like_python_in_both_crypto_modes(open_page: Any, gateway: Gateway) -> None:
    result = gateway.submit("proof-1")
    page = open_page(gateway.plain.url())
    doc = _fetch_json(page, _proof_url(result.tx_id))
    python = _verdicts(check_proof(doc))
    assert python == [(name, True) for name in STEP_NAMES]

    for force, engine in ((False, "WebCrypto"), (True, "noble-curves")):
        steps = _verify_in_page(page, doc, forceFallback=force)
        assert _verdicts(steps) == python, steps
        assert steps[-1]["detail"] == f"Ed25519 ({engine})"
        assert steps[5]["detail"] == "orderer0 of OrdererOrg"

    # Trusting the CA given by the caller rather than the one the server sends: a look-alike CA fails like Python.
    impostor = CertificateAuthority.create("OrdererOrg").certificate_pem.decode()
    steps = _verify_in_page(page, doc, trustedCaPem=impostor)
    assert _verdicts(steps) == _verdicts(check_proof(doc, {"OrdererOrg": impostor.encode()}))
    assert _verdicts(steps)[-1] == (STEP_NAMES[5], False)
    # Which transaction the envelope is: the id in its proposal, which is SHA-256(nonce ‖ creator).
    tx = page.evaluate(
        "async (doc) => window.verifier.envelopeTransaction(window.verifier.base64ToBytes(doc.envelope))", doc
    )
    assert tx["txId"] == tx["computedTxId"] == doc["tx_id"] == result.tx_id
    assert (tx["channel"], tx["contract"], tx["function"]) == ("ch1", CONTRACT, "create")

    genuine = doc["orderer_cas"]["OrdererOrg"]
    assert _verdicts(_verify_in_page(page, doc, trustedCaPem=genuine)) == python

    # Transactions submitted together share a block: inclusion proofs with real paths in the block tree too.
    contract = gateway.net.gateway("Org1").network("ch1").contract(CONTRACT)
    futures = [contract.submit_async("create", f"batch-{i}", "blue", 2, 2) for i in range(5)]
    docs = [_fetch_json(page, _proof_url(future.result().tx_id)) for future in futures]
    assert max(d["block_proof"]["tree_size"] for d in docs) >= 2
    for batch_doc in docs:
        assert _verdicts(_verify_in_page(page, batch_doc)) == python


def test_real_proof_verifies_without_webcrypto_on_plain_http(open_page: Any, gateway: Gateway) -> None:
    result = gateway.submit("proof-lan")
    page = open_page(gateway.plain.url(INSECURE_HOST))
    assert page.evaluate("[window.isSecureContext, typeof globalThis.crypto?.subtle]") == [False, "undefined"]
    doc = _fetch_json(page, _proof_url(result.tx_id))
    steps = _verify_in_page(page, doc)
    assert _verdicts(steps) == [(name, True) for name in STEP_NAMES]
    assert steps[-1]["detail"] == "Ed25519 (noble-curves)"


def test_tampered_proof_fails_at_the_history_step(open_page: Any, gateway: Gateway) -> None:
    result = gateway.submit("proof-tampered")
    page = open_page(gateway.tampered.url())
    doc = _fetch_json(page, _proof_url(result.tx_id))
    python = _verdicts(check_proof(doc))
    assert [name for name, ok in python if not ok] == [HISTORY_STEP]
    for force in (False, True):
        assert _verdicts(_verify_in_page(page, doc, forceFallback=force)) == python

    # Other corruptions: the JS stops where Python stops, with the same verdicts.
    envelope = base64.b64decode(doc["envelope"])
    variants = [
        {**doc, "envelope": base64.b64encode(envelope[:-1] + bytes([envelope[-1] ^ 1])).decode()},
        {**doc, "header_bytes": "not base64!"},
        {**doc, "block_proof": {**doc["block_proof"], "path": ["zz"]}},
        {**doc, "header": {**doc["header"], "timestamp_ms": doc["header"]["timestamp_ms"] + 1}},
        {**doc, "signature": "00" * 64},
        {**doc, "orderer_certificate": doc["orderer_certificate"][:-8] + "AAAAAAA="},
        [],
    ]
    for variant in variants:
        assert _verdicts(_verify_in_page(page, variant)) == _verdicts(check_proof(variant))


RFC8032_TEST1 = {
    "public": "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "message": "",
    "signature": "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065"
    "224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
}


def test_ed25519_rfc8032_test1_in_both_modes(open_page: Any, gateway: Gateway) -> None:
    page = open_page(gateway.plain.url())
    flipped = bytearray.fromhex(RFC8032_TEST1["signature"])
    flipped[17] ^= 0x04
    results = page.evaluate(
        """async ([t, flipped]) => {
            const v = window.verifier, hex = v.hexToBytes, out = [];
            for (const forceFallback of [false, true]) {
                const check = (pk, msg, sig) => v.ed25519VerifyDetailed(hex(pk), hex(msg), hex(sig), {forceFallback});
                out.push([
                    await check(t.public, t.message, t.signature),
                    await check(t.public, t.message, flipped),
                    await check(t.public, '00', t.signature),
                    await check(t.public.slice(2), t.message, t.signature),
                ]);
            }
            return out;
        }""",
        [RFC8032_TEST1, flipped.hex()],
    )
    engines = ("WebCrypto", "noble-curves")
    for engine, (good, bad_signature, bad_message, short_key) in zip(engines, results, strict=True):
        assert good == {"ok": True, "engine": engine}
        assert bad_signature == {"ok": False, "engine": engine}
        assert bad_message == {"ok": False, "engine": engine}
        assert short_key["ok"] is False


def test_header_decoding_is_canonical_only(open_page: Any, gateway: Gateway) -> None:
    header = BlockHeader("ch1", 4, bytes(32), b"\x01" * 32, b"\x02" * 32, 5, 1_795_623_930_839)
    data = encode(header)
    assert data[:6] == b"\x97\xa3ch1\x04"
    non_canonical = {
        "uint8 for a fixint": data[:5] + b"\xcc\x04" + data[6:],
        "trailing byte": data + b"\x00",
        "six fields": b"\x96" + data[1:],
        "negative number": data[:5] + b"\xff" + data[6:],
        "str8 for a fixstr": b"\x97\xd9\x03ch1" + data[5:],
        "truncated": data[:-1],
        "bad UTF-8": b"\x97\xa3c\xffh" + data[5:],
    }
    page = open_page(gateway.plain.url())
    decoded, errors = page.evaluate(
        """([good, bad]) => { const v = window.verifier;
            const errors = {};
            for (const [name, b64] of Object.entries(bad)) {
                try { v.decodeHeader(v.base64ToBytes(b64)); errors[name] = null; }
                catch (e) { errors[name] = e.message; }
            }
            return [v.headerJson(v.decodeHeader(v.base64ToBytes(good))), errors]; }""",
        [base64.b64encode(data).decode(), {k: base64.b64encode(v).decode() for k, v in non_canonical.items()}],
    )
    assert decoded == header_json(header)
    assert all(errors.values()), errors


# -- 3. the widget -----------------------------------------------------------------------------------------------


def _widget_query(tx_id: str) -> str:
    return f"?proof={quote(_proof_url(tx_id))}&consistency={quote('/api/channels/ch1/consistency')}"


def _press(page: Any) -> dict[str, Any]:
    """Press the verify button; wait for the verdict; return it with the rendered steps and summary."""
    page.click("#widget button[data-verify-button]")
    page.wait_for_function("['ok', 'failed'].includes(document.getElementById('widget').dataset.verifyResult)")
    return page.evaluate(
        """() => { const w = document.getElementById('widget');
            return {
                result: w.dataset.verifyResult,
                summary: w.querySelector('[data-verify-summary]').textContent,
                steps: [...w.querySelectorAll('[data-verify-steps] li')].map(li => ({
                    name: li.querySelector('.verify-name').textContent.trim(),
                    ok: li.dataset.stepOk === 'true',
                    mark: li.querySelector('.verify-mark').textContent,
                })),
                trusted: window.verifier.loadTrusted('ch1'),
            }; }"""
    )


def _verify_with_widget(open_page: Any, base: str, result: SubmitResult, page: Any = None) -> dict[str, Any]:
    if page is None:
        page = open_page(base, _widget_query(result.tx_id))
    else:
        page.goto(f"{base}{PAGE}{_widget_query(result.tx_id)}")
        page.wait_for_function("window.verifier !== undefined")
    verdict = _press(page)
    verdict["page"] = page
    return verdict


def test_widget_verifies_and_names_the_failing_step(open_page: Any, gateway: Gateway) -> None:
    result = gateway.submit("widget-1")

    honest = _verify_with_widget(open_page, gateway.plain.url(), result)
    assert honest["result"] == "ok", honest
    assert [s["name"] for s in honest["steps"]] == WIDGET_STEPS
    assert all(s["ok"] and s["mark"] == "✔" for s in honest["steps"])
    assert honest["summary"].startswith(f"Verified: transaction in block {result.block} of channel ch1")
    assert honest["page"].evaluate("document.getElementById('widget').classList.contains('verify-ok')")
    assert honest["trusted"]["number"] == result.block

    # An honest proof of another transaction than the page is about (a server answering with the wrong one).
    other = gateway.submit("widget-2")
    swapped_page = open_page(gateway.plain.url(), f"{_widget_query(other.tx_id)}&tx={result.tx_id}")
    swapped = _press(swapped_page)
    assert swapped["result"] == "failed"
    assert swapped["summary"] == f"Verification failed at: {TRANSACTION_STEP}"
    assert swapped["trusted"] is None

    tampered = _verify_with_widget(open_page, gateway.tampered.url(), result)
    assert tampered["result"] == "failed", tampered
    assert tampered["summary"] == f"Verification failed at: {HISTORY_STEP}"
    assert [s["name"] for s in tampered["steps"] if not s["ok"]] == [HISTORY_STEP]
    assert next(s["mark"] for s in tampered["steps"] if not s["ok"]) == "✘"
    assert tampered["page"].evaluate("document.getElementById('widget').classList.contains('verify-failed')")
    assert tampered["trusted"] is None  # a failed check is never remembered


def test_widget_checks_consistency_with_the_header_seen_before(open_page: Any, gateway: Gateway) -> None:
    base = gateway.plain.url()
    first = gateway.submit("consistency-1")
    seen = _verify_with_widget(open_page, base, first)
    page = seen["page"]
    assert seen["result"] == "ok" and seen["trusted"]["number"] == first.block
    assert not any(s["name"] in CONSISTENCY_STEPS for s in seen["steps"])

    later = [gateway.submit(f"consistency-{i}") for i in (2, 3)][-1]
    assert later.block > first.block
    newer = _verify_with_widget(open_page, base, later, page)
    assert newer["result"] == "ok", newer
    assert [s["name"] for s in newer["steps"]] == [*WIDGET_STEPS, *CONSISTENCY_STEPS]
    assert newer["trusted"]["number"] == later.block
    assert "consistent with block" in newer["summary"]

    # Going back to the older transaction proves the other way round; the newest trusted header stays.
    older = _verify_with_widget(open_page, base, first, page)
    assert older["result"] == "ok", older
    assert [s["name"] for s in older["steps"]][-4:] == CONSISTENCY_STEPS
    assert older["trusted"]["number"] == later.block

    # A trusted header the ledger never had (a fork shown earlier): the widget refuses and remembers nothing new.
    forked = {**older["trusted"], "number": first.block, "header_hash": "ab" * 32}
    page.evaluate("(r) => window.verifier.saveTrusted('ch1', r)", forked)
    fork = _verify_with_widget(open_page, base, later, page)
    assert fork["result"] == "failed"
    assert fork["summary"] == f"Verification failed at: {CONSISTENCY_STEPS[1]}"
    assert fork["trusted"] == forked

    # The ordering CA pinned on first use has changed.
    page.evaluate("localStorage.clear(); window.verifier.savePinnedCas('ch1', ['11'.repeat(32)])")
    pinned = _verify_with_widget(open_page, base, later, page)
    assert pinned["result"] == "failed"
    assert pinned["summary"] == f"Verification failed at: {PIN_STEP}"
    assert pinned["trusted"] is None


def test_widget_speaks_the_pages_language_for_its_verdict(open_page: Any, gateway: Gateway) -> None:
    """A Korean page gives the verdict in Korean; the technical steps stay English and are marked so."""
    result = gateway.submit("widget-ko")
    words = "&lang=ko&ok=" + quote("확인됨: 원장에 있고 그 뒤로 바뀌지 않았습니다") + "&failed=" + quote("확인 실패")
    page = open_page(gateway.plain.url(), _widget_query(result.tx_id) + words)
    verdict = _press(page)
    assert verdict["result"] == "ok" and verdict["summary"] == "확인됨: 원장에 있고 그 뒤로 바뀌지 않았습니다"
    assert page.evaluate("document.querySelector('#widget [data-verify-steps]').lang") == "en"
    assert page.evaluate("document.querySelector('#widget [data-verify-summary]').lang") == ""
    tampered = open_page(gateway.tampered.url(), _widget_query(result.tx_id) + words)
    assert _press(tampered)["summary"] == "확인 실패"
