"""The acceptance batch on the ledger: 2,000 generated rows registered through the contract by five banks.

:func:`~consortia.apps.tradefinance.domain.synthetic.generate_batch` plants disguised duplicates (one document
presented at two or three banks, several fields reformatted at once) and different documents that look alike
(the next invoice of a series, a split bill of lading, the same amount and date between other parties, the same
number from another seller). Registered bank by bank through the real contract, every copy after the first of a
planted duplicate must come back REDU (recall), and nothing else may (precision). Run with ``-s`` to see the
figures.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consortia.apps.tradefinance import consortium
from consortia.apps.tradefinance.domain.csvrows import parse_csv
from consortia.apps.tradefinance.domain.documents import DocStatus
from consortia.apps.tradefinance.domain.synthetic import generate_batch
from consortia.apps.tradefinance.service.tradefinance import TradeFinanceService
from consortia.ledger.config import BatchConfig
from consortia.network.embedded import EmbeddedNetwork

ROWS = 2000


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNetwork]:
    folder = tmp_path_factory.mktemp("tf-batch") / "net"
    net = EmbeddedNetwork.create(folder, consortium.network_spec(BatchConfig(max_transactions=200, timeout_ms=20)))
    consortium.deploy(net)
    try:
        yield net
    finally:
        net.close()


def test_planted_duplicates_are_caught_on_the_ledger_and_look_alikes_are_not(network: EmbeddedNetwork) -> None:
    batch = generate_batch(2026, ROWS, list(consortium.BANKS))
    rows = parse_csv(batch.csv_text)
    statuses: dict[int, DocStatus] = {}
    order: dict[int, int] = {}
    similar: dict[int, int] = {}
    for bank in consortium.BANKS:
        service = TradeFinanceService.as_user(network, bank, "client")
        for registration in service.register_documents([row for row in rows if row.bank == bank]):
            order[registration.row.number] = len(order)
            statuses[registration.row.number] = registration.status
            similar[registration.row.number] = len(registration.similar)
    assert len(statuses) == ROWS
    expected_redu = set()
    for group in batch.truth_duplicates:
        first = min(group, key=order.__getitem__)
        expected_redu |= set(group) - {first}
    found_redu = {n for n, status in statuses.items() if status is DocStatus.REDU}
    caught = expected_redu & found_redu
    recall = len(caught) / len(expected_redu)
    precision = len(caught) / len(found_redu) if found_redu else 1.0
    print(
        f"\n{ROWS} rows, {len(batch.truth_duplicates)} planted duplicate groups: {len(expected_redu)} copies expected "
        f"REDU, {len(found_redu)} REDU — recall {recall:.3f}, precision {precision:.3f}"
    )
    assert recall == 1.0, sorted(expected_redu - found_redu)
    assert precision == 1.0, sorted(found_redu - expected_redu)
    for kind, pairs in batch.lookalikes.items():
        for pair in pairs:
            later = max(pair, key=order.__getitem__)
            assert statuses[later] is not DocStatus.REDU, f"{kind} look-alike rows {sorted(pair)} merged"
    # Each planted near-duplicate is flagged (risk and reasons) when the second of the pair is registered.
    flagged = [pair for pair in batch.truth_suspicious if similar[max(pair, key=order.__getitem__)] > 0]
    print(f"near-duplicates: {len(flagged)} of {len(batch.truth_suspicious)} planted pairs flagged for review")
    assert batch.truth_suspicious and len(flagged) == len(batch.truth_suspicious)
