"""Two banks racing to finance one document: exactly one FNCD, and the other DFIN.

Both hold the document (the second bank's registration came back REDU); both have a current KYC attestation of
the seller. A financing claims every fingerprint of its document: the transaction reads each fingerprint record
and writes it. Endorsed against the same state, the two transactions cannot both commit — the one ordered second
fails the MVCC read check — and the loser's retry reads the winner's claim and is refused with DFIN (logged).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consortia.apps.tradefinance import consortium
from consortia.apps.tradefinance.consortium import CHANNEL, CONTRACT
from consortia.apps.tradefinance.demo.seed import race
from consortia.apps.tradefinance.domain.documents import DocStatus
from consortia.apps.tradefinance.service.tradefinance import (
    DocumentView,
    FinancingView,
    Registration,
    TradeFinanceService,
)
from consortia.client import Gateway, TransactionInvalid, build_proposal
from consortia.ledger.config import BatchConfig
from consortia.ledger.encoding import encode
from consortia.ledger.transaction import ENVELOPE_TRANSACTION, Envelope
from consortia.network.embedded import EmbeddedNetwork

from .test_contract_tradefinance import attest, csv_rows, examiner, invoice, officer

SZ, HK = consortium.SHENZHEN, consortium.HONG_KONG


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNetwork]:
    """The consortium with blocks cut every 100 ms, so that concurrent submissions meet in one block."""
    folder = tmp_path_factory.mktemp("tf-race") / "net"
    net = EmbeddedNetwork.create(folder, consortium.network_spec(BatchConfig(max_transactions=200, timeout_ms=100)))
    consortium.deploy(net)
    try:
        yield net
    finally:
        net.close()


def _one_document_at_two_banks(network: EmbeddedNetwork, number: str, amount: int) -> tuple[str, str]:
    sz, hk = officer(network, SZ), officer(network, HK)
    for service in (sz, hk):
        attest(service)
    first = sz.register_documents(csv_rows(invoice(SZ, number, f"{amount}.00")))[0]
    second = hk.register_documents(csv_rows(invoice(HK, number.lower().replace("-", " "), f"{amount:,}")))[0]
    assert (first.status, second.status) == (DocStatus.REGU, DocStatus.REDU)
    return first.doc_ref, second.doc_ref


def test_endorsed_on_the_same_state_one_commits_and_the_other_fails_mvcc(network: EmbeddedNetwork) -> None:
    refs = _one_document_at_two_banks(network, "RACE-0001", 250000)
    envelopes = []
    contracts = []
    for bank, ref in zip((SZ, HK), refs, strict=True):
        identity = officer(network, bank).identity
        contract = Gateway(identity, network).network(CHANNEL).contract(CONTRACT)
        prepared = build_proposal(identity, CHANNEL, CONTRACT, "apply_financing", [ref, "100000", "CNY"], None)
        transaction = contract.endorse(prepared)  # both simulate before either is ordered
        envelopes.append(encode(Envelope(ENVELOPE_TRANSACTION, transaction, identity.sign(transaction))))
        contracts.append(contract)
    futures = [contract.order(envelope) for contract, envelope in zip(contracts, envelopes, strict=True)]
    outcomes = []
    for future in futures:
        try:
            outcomes.append(future.result(30).result["status"])
        except TransactionInvalid as exc:
            outcomes.append(exc.code)
    assert sorted(outcomes) == ["FNCD", "MVCC_READ_CONFLICT"]
    # The loser's retry (what the service does on MVCC_READ_CONFLICT) is refused with DFIN, and logged.
    loser = HK if outcomes[1] == "MVCC_READ_CONFLICT" else SZ
    retry = officer(network, loser).apply_financing(refs[(SZ, HK).index(loser)], "100000", "CNY")
    assert retry.status is DocStatus.DFIN and retry.state == "refused"
    assert retry.tx_id in {r.tx_id for r in examiner(network).refusals()}


def test_concurrent_submissions_through_the_service_one_fncd_one_dfin(network: EmbeddedNetwork) -> None:
    refs = _one_document_at_two_banks(network, "RACE-0002", 310000)
    services = [officer(network, SZ), officer(network, HK)]
    registrations = []
    for service, ref in zip(services, refs, strict=True):
        view = service.document(ref)
        registrations.append((service, view))
    answers = race([(service, _registration(service, view)) for service, view in registrations])
    assert all(isinstance(a, FinancingView) for a in answers.values()), answers
    assert sorted(str(a.status) for a in answers.values()) == ["DFIN", "FNCD"]
    statuses = {service.org: service.document(ref).status for service, ref in zip(services, refs, strict=True)}
    assert sorted(map(str, statuses.values())) == ["DFIN", "FNCD"]


def _registration(service: TradeFinanceService, view: DocumentView) -> Registration:
    """A document view in the shape :func:`race` takes (the row only carries the amount and currency)."""
    row = csv_rows(invoice(service.org, view.doc_number, str(view.amount)))[0]
    return Registration(row, view.doc_ref, view.status, view.similar, view.tx_id)
