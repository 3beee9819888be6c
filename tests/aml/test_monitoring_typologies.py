"""Typologies on small hand-built graphs: the alert's name, its accounts, its rule hits and its transactions."""

from __future__ import annotations

from datetime import timedelta

import networkx as nx
import pytest

from consortia.apps.aml.domain.monitoring.engine import scan
from consortia.apps.aml.domain.monitoring.frame import frame_of
from consortia.apps.aml.domain.monitoring.streaming import StreamingEngine
from consortia.apps.aml.domain.monitoring.typologies import shape_of
from consortia.apps.aml.domain.transactions import Alert

from .test_monitoring_rules import RULES, Book, ny


def _seasoned(*accounts: str) -> Book:
    book = Book()
    book.history(ny(2026, 1, 5, 10), *accounts)
    return book


def _alerts(book: Book) -> list[Alert]:
    return list(scan(frame_of(sorted(book.txs, key=lambda tx: tx.timestamp)), RULES).alerts)


def _only(alerts: list[Alert], typology: str) -> Alert:
    found = [a for a in alerts if a.typology == typology]
    assert len(found) == 1, [(a.typology, a.accounts) for a in alerts]
    return found[0]


def test_structuring_alert_carries_its_hits_and_deposits() -> None:
    book = Book()
    deposits = [
        book.deposit(ny(2026, 11, 23, 10), "ALICE", "9500.00"),
        book.deposit(ny(2026, 11, 24, 10), "ALICE", "9400.00"),
        book.deposit(ny(2026, 11, 25, 10), "ALICE", "9600.00"),
    ]
    alert = _only(_alerts(book), "structuring")
    assert alert.accounts == ("ALICE",)
    assert set(alert.tx_ids) == set(deposits)
    assert {hit.rule for hit in alert.rule_hits} == {"structuring", "just_under_threshold"}
    assert alert.score == pytest.approx(0.7)
    assert all(hit.detail for hit in alert.rule_hits)
    assert alert.detected_at == ny(2026, 11, 25, 10)


def test_one_cash_deposit_just_under_the_threshold_is_not_structuring() -> None:
    book = Book()
    book.deposit(ny(2026, 11, 23, 10), "ALICE", "9500.00")
    assert [a.typology for a in _alerts(book)] == []


def test_a_ctr_is_a_report_not_a_suspicion() -> None:
    book = Book()
    tx = book.deposit(ny(2026, 11, 23, 10), "SHOP", "12000.00")
    alert = _only(_alerts(book), "ctr")
    assert alert.tx_ids == (tx,)
    assert RULES.typology("ctr").reporting


def test_fan_in_repeated_in_two_weeks() -> None:
    payers = [f"P{i}" for i in range(5)]
    book = _seasoned("HUB", *payers)
    for week in range(2):
        day = ny(2026, 3, 2, 10) + timedelta(days=7 * week)
        for i, payer in enumerate(payers):
            book.pay(day + timedelta(hours=5 * i), payer, "HUB", "4800.00")
    alert = _only(_alerts(book), "fan_in")
    assert set(alert.accounts) == {"HUB", *payers}
    rules = {hit.rule for hit in alert.rule_hits}
    assert {"fan_in", "new_relationship", "recurring"} <= rules
    assert len(alert.tx_ids) == 10


def test_cycle_through_four_accounts() -> None:
    ring = ["A", "B", "C", "D"]
    book = _seasoned(*ring)
    day = ny(2026, 3, 2, 10)
    amount = 7000.0
    for i in range(4):
        book.pay(day + timedelta(hours=12 * i), ring[i], ring[(i + 1) % 4], f"{amount:.2f}")
        amount *= 0.98
    alert = _only(_alerts(book), "cycle")
    assert set(alert.accounts) == set(ring)
    assert {"cycle", "pass_through"} <= {hit.rule for hit in alert.rule_hits}


def test_scatter_gather_through_intermediaries() -> None:
    middles = [f"M{i}" for i in range(4)]
    book = _seasoned("SRC", "DST", *middles)
    day = ny(2026, 3, 2, 10)
    for i, m in enumerate(middles):
        book.pay(day + timedelta(hours=i), "SRC", m, "2400.00")
    for i, m in enumerate(middles):
        book.pay(day + timedelta(days=1, hours=i), m, "DST", "2350.00")
    alert = _only(_alerts(book), "scatter_gather")
    assert set(alert.accounts) == {"SRC", "DST", *middles}


def test_friends_settling_up_and_a_paid_back_loan_raise_nothing() -> None:
    friends = ["ANN", "BEN", "CAT", "DAN"]
    book = _seasoned(*friends)
    day = ny(2026, 3, 2, 10)
    for k in range(12):
        book.pay(day + timedelta(days=k), friends[k % 4], friends[(k + 1) % 4], f"{20 + 7 * k}.50")
    book.pay(day, "ANN", "BEN", "3000.00")
    for k in range(3):
        book.pay(day + timedelta(days=14 * (k + 1)), "BEN", "ANN", "1000.00")
    assert _alerts(book) == []


def test_streaming_decides_the_account_typologies_as_the_batch_alerts_them() -> None:
    book = Book()
    book.deposit(ny(2026, 11, 23, 10), "ALICE", "9500.00")
    book.deposit(ny(2026, 11, 24, 10), "ALICE", "9400.00")
    book.deposit(ny(2026, 11, 24, 11), "BOB", "10000.01")
    engine = StreamingEngine(RULES)
    decided = {(d.typology, d.account) for tx in book.txs for d in engine.decide(tx).alerts}
    batch = {(a.typology, a.accounts[0]) for a in _alerts(book)}
    assert decided == batch == {("structuring", "ALICE"), ("ctr", "BOB")}


@pytest.mark.parametrize(
    ("edges", "shape"),
    [
        ([("a", "h"), ("b", "h"), ("c", "h")], "fan_in"),
        ([("h", "a"), ("h", "b"), ("h", "c")], "fan_out"),
        ([("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")], "bipartite"),
        ([("a", "h"), ("b", "h"), ("h", "x"), ("h", "y")], "gather_scatter"),
        ([("s", "m1"), ("s", "m2"), ("m1", "t"), ("m2", "t")], "scatter_gather"),
        ([("a", "c"), ("a", "d"), ("b", "c"), ("b", "d"), ("c", "e"), ("c", "f"), ("d", "e"), ("d", "f")], "stack"),
        ([("a", "b"), ("b", "c"), ("c", "a")], "cycle"),
        ([("a", "b"), ("b", "c"), ("c", "d")], "random"),
    ],
)
def test_shapes(edges: list[tuple[str, str]], shape: str) -> None:
    assert shape_of(nx.DiGraph(edges), has_cycle_hit=False, max_hops=6) == shape
