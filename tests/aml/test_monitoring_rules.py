"""Each monitoring rule at its boundaries, on hand-built transactions, in both engines.

Every case runs through the batch engine (polars) and the streaming engine (one transaction at a time) and
checks that they agree before looking at the answer. Dates are chosen around the edges that matter: the $10,000
CTR threshold to the cent, the bank's 17:00 New York cut-off, a weekend, and Thanksgiving 2026 (Thursday
26 November, a US federal holiday).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from consortia.apps.aml.cli import rules_text
from consortia.apps.aml.domain.monitoring.batch import rule_hits
from consortia.apps.aml.domain.monitoring.config import Rules, RulesError, parse_rules
from consortia.apps.aml.domain.monitoring.frame import frame_of
from consortia.apps.aml.domain.monitoring.streaming import StreamingEngine, hits_frame
from consortia.apps.aml.domain.transactions import (
    CASH_ACCOUNT,
    CASH_DEPOSIT,
    CASH_WITHDRAWAL,
    TRANSFER,
    WIRE,
    Transaction,
)

NY = ZoneInfo("America/New_York")
RULES = parse_rules(rules_text())


def ny(year: int, month: int, day: int, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    """A New York wall-clock time, as the aware UTC instant a transaction carries."""
    return datetime(year, month, day, hour, minute, second, tzinfo=NY).astimezone(UTC)


class Book:
    """Builds transactions with sequential ids."""

    def __init__(self) -> None:
        self.txs: list[Transaction] = []

    def pay(
        self,
        when: datetime,
        orig: str,
        bene: str,
        amount: str,
        tx_type: str = TRANSFER,
        orig_country: str = "US",
        bene_country: str = "US",
    ) -> str:
        tx_id = f"t{len(self.txs):04d}"
        self.txs.append(
            Transaction(tx_id, when, orig, bene, Decimal(amount), "USD", tx_type, orig_country, bene_country)
        )
        return tx_id

    def deposit(self, when: datetime, person: str, amount: str) -> str:
        return self.pay(when, CASH_ACCOUNT, person, amount, CASH_DEPOSIT)

    def withdraw(self, when: datetime, person: str, amount: str) -> str:
        return self.pay(when, person, CASH_ACCOUNT, amount, CASH_WITHDRAWAL)

    def history(self, when: datetime, *accounts: str) -> None:
        """A small early payment for each account, so the bank has its history from ``when``."""
        for account in accounts:
            self.pay(when, account, "SHOP", "12.00")


def run_both(txs: list[Transaction], rules: Rules = RULES) -> set[tuple[str, str, str]]:
    """(rule, account, tx_id) of every hit; fails unless batch and streaming agree exactly."""
    ordered = sorted(txs, key=lambda tx: tx.timestamp)
    _, batch = rule_hits(frame_of(ordered), rules)
    engine = StreamingEngine(rules)
    stream = hits_frame([engine.decide(tx) for tx in ordered])
    assert batch.to_dicts() == stream.to_dicts()
    return {(row["rule"], row["account"], row["tx_id"]) for row in batch.to_dicts()}


def rules_named(hits: set[tuple[str, str, str]], rule: str) -> set[tuple[str, str]]:
    return {(account, tx) for r, account, tx in hits if r == rule}


# -- configuration ------------------------------------------------------------------------------------------------


def test_shipped_rules_cite_a_source_for_every_rule() -> None:
    sources = dict(RULES.params.sources)
    assert "31 USC 5324" in sources["structuring"]
    assert "1010.311" in sources["ctr_aggregate"] and "1010.313" in sources["ctr_aggregate"]
    assert RULES.params.ctr_threshold_cents == 1_000_000
    assert RULES.tuned_on_seeds == (1, 2)


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        (
            'threshold = "10000.00"\nwindow_business_days',
            'threshold = "ten"\nwindow_business_days',
            "rules.structuring.threshold",
        ),
        ("window_business_days = 3", "window_business_days = -1", "rules.structuring.window_business_days"),
        ('cutoff = "17:00"', 'cutoff = "5pm"', "calendar.cutoff"),
        ("structuring = 0.4,", "structurin = 0.4,", "typologies.structuring.weights.structurin"),
        ("[rules.round_amount]", "[rules.round_amounts]", "rules.round_amounts"),
    ],
)
def test_a_bad_rules_file_names_the_key(old: str, new: str, named: str) -> None:
    text = rules_text()
    assert old in text
    with pytest.raises(RulesError, match=named.replace(".", r"\.")):
        parse_rules(text.replace(old, new, 1))


def test_a_missing_key_is_named() -> None:
    text = rules_text()
    section = text.index("[rules.fan_in]")
    line = text.index("min_counterparties =", section)
    without = text[:line] + text[text.index("\n", line) + 1 :]
    with pytest.raises(RulesError, match=r"rules\.fan_in\.min_counterparties: missing"):
        parse_rules(without)


# -- currency transaction reports: 31 CFR 1010.311 / 1010.313 ---------------------------------------------------


@pytest.mark.parametrize(("amount", "fires"), [("10000.00", False), ("10000.01", True)])
def test_ctr_threshold_to_the_cent(amount: str, fires: bool) -> None:
    book = Book()
    tx = book.deposit(ny(2026, 11, 24, 11), "ALICE", amount)
    assert (("ALICE", tx) in rules_named(run_both(book.txs), "ctr_aggregate")) is fires


@pytest.mark.parametrize(("second", "fires"), [("5000.00", False), ("5000.01", True)])
def test_ctr_aggregates_deposits_in_one_business_day(second: str, fires: bool) -> None:
    book = Book()
    book.deposit(ny(2026, 11, 24, 9), "ALICE", "5000.00")
    tx = book.deposit(ny(2026, 11, 24, 15), "ALICE", second)
    assert (("ALICE", tx) in rules_named(run_both(book.txs), "ctr_aggregate")) is fires


def test_ctr_counts_cash_in_and_cash_out_separately() -> None:
    book = Book()
    book.deposit(ny(2026, 11, 24, 9), "ALICE", "6000.00")
    book.withdraw(ny(2026, 11, 24, 10), "ALICE", "6000.00")
    assert rules_named(run_both(book.txs), "ctr_aggregate") == set()
    out = book.withdraw(ny(2026, 11, 24, 11), "ALICE", "4000.01")
    assert rules_named(run_both(book.txs), "ctr_aggregate") == {("ALICE", out)}


@pytest.mark.parametrize(
    ("late", "fires"),
    [
        (ny(2026, 11, 24, 16, 59, 59), True),  # before the cut-off: the same business day
        (ny(2026, 11, 24, 17, 0, 0), False),  # at the cut-off: the next business day
    ],
)
def test_the_business_day_ends_at_the_cutoff(late: datetime, fires: bool) -> None:
    book = Book()
    book.deposit(ny(2026, 11, 24, 9), "ALICE", "5000.00")
    tx = book.deposit(late, "ALICE", "5000.01")
    assert (("ALICE", tx) in rules_named(run_both(book.txs), "ctr_aggregate")) is fires


def test_a_weekend_deposit_counts_on_monday() -> None:
    book = Book()
    book.deposit(ny(2026, 11, 21, 12), "ALICE", "6000.00")  # Saturday
    monday = book.deposit(ny(2026, 11, 23, 9), "ALICE", "4000.01")
    assert rules_named(run_both(book.txs), "ctr_aggregate") == {("ALICE", monday)}
    other = Book()
    other.deposit(ny(2026, 11, 20, 12), "BOB", "6000.00")  # Friday before the cut-off
    other.deposit(ny(2026, 11, 21, 12), "BOB", "4000.01")  # Saturday: Monday's business day
    assert rules_named(run_both(other.txs), "ctr_aggregate") == set()


def test_a_federal_holiday_deposit_counts_on_the_next_business_day() -> None:
    book = Book()
    book.deposit(ny(2026, 11, 25, 18), "ALICE", "3000.00")  # Wednesday after the cut-off: Friday
    book.deposit(ny(2026, 11, 26, 12), "ALICE", "3000.00")  # Thanksgiving: Friday
    friday = book.deposit(ny(2026, 11, 27, 9), "ALICE", "4000.01")
    assert rules_named(run_both(book.txs), "ctr_aggregate") == {("ALICE", friday)}


# -- structuring: 31 USC 5324 ---------------------------------------------------------------------------------


def test_structuring_across_three_business_days_over_a_weekend() -> None:
    book = Book()
    book.deposit(ny(2026, 11, 20, 10), "ALICE", "4000.00")  # Friday
    book.deposit(ny(2026, 11, 23, 10), "ALICE", "4000.00")  # Monday
    tuesday = book.deposit(ny(2026, 11, 24, 10), "ALICE", "4000.00")
    assert rules_named(run_both(book.txs), "structuring") == {("ALICE", tuesday)}


def test_structuring_window_is_three_business_days_not_more() -> None:
    book = Book()
    book.deposit(ny(2026, 11, 19, 10), "ALICE", "4000.00")  # Thursday: four business days before Tuesday
    book.deposit(ny(2026, 11, 23, 10), "ALICE", "4000.00")
    book.deposit(ny(2026, 11, 24, 10), "ALICE", "1999.99")
    assert rules_named(run_both(book.txs), "structuring") == set()


def test_structuring_window_skips_thanksgiving() -> None:
    book = Book()
    book.deposit(ny(2026, 11, 25, 10), "ALICE", "4000.00")  # Wednesday
    book.deposit(ny(2026, 11, 27, 10), "ALICE", "4000.00")  # Friday (Thursday is a holiday)
    monday = book.deposit(ny(2026, 11, 30, 10), "ALICE", "2000.01")
    assert rules_named(run_both(book.txs), "structuring") == {("ALICE", monday)}


def test_a_shop_banking_its_takings_daily_is_not_structuring() -> None:
    book = Book()
    day = ny(2026, 9, 1, 15)
    deposits = []
    for k in range(90):  # every weekday for about four months, $4,000 a time
        when = day + timedelta(days=k)
        if when.astimezone(NY).weekday() < 5:
            deposits.append(book.deposit(when, "SHOP", "4000.00"))
    hits = {tx for _, tx in rules_named(run_both(book.txs), "structuring")}
    assert hits  # at first the bank knows no habit, and three days of $4,000 exceed $10,000
    assert hits <= set(deposits[:45])  # once it knows the habit, the same deposits are ordinary


def test_structuring_leaves_out_reportable_amounts() -> None:
    book = Book()
    book.deposit(ny(2026, 11, 24, 10), "ALICE", "10000.01")  # reported on a CTR, not structured
    book.deposit(ny(2026, 11, 24, 11), "ALICE", "500.00")
    assert rules_named(run_both(book.txs), "structuring") == set()


@pytest.mark.parametrize(
    ("amount", "fires"),
    [
        ("8999.99", False),
        ("9000.00", True),
        ("9999.99", True),
        ("10000.00", False),
        ("2700.00", True),
        ("2699.99", False),
    ],
)
def test_amounts_just_under_a_threshold(amount: str, fires: bool) -> None:
    book = Book()
    tx = book.deposit(ny(2026, 11, 24, 10), "ALICE", amount)
    assert (("ALICE", tx) in rules_named(run_both(book.txs), "just_under_threshold")) is fires


def test_three_cash_deposits_in_a_business_day_are_split() -> None:
    book = Book()
    book.deposit(ny(2026, 11, 24, 9), "ALICE", "2500.00")
    book.deposit(ny(2026, 11, 24, 12), "ALICE", "2500.00")
    assert rules_named(run_both(book.txs), "split_cash_same_day") == set()
    third = book.deposit(ny(2026, 11, 24, 15), "ALICE", "2500.00")
    assert rules_named(run_both(book.txs), "split_cash_same_day") == {("ALICE", third)}


# -- flows ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "after_hours", "fires"),
    [("4500.00", 10, True), ("3000.00", 10, False), ("4500.00", 73, False)],
)
def test_rapid_movement_of_funds(sent: str, after_hours: int, fires: bool) -> None:
    book = Book()
    start = ny(2026, 3, 2, 10)
    book.pay(start, "PAYER", "MULE", "5000.00", WIRE)
    tx = book.pay(start + timedelta(hours=after_hours), "MULE", "OUT", sent, WIRE)
    assert (("MULE", tx) in rules_named(run_both(book.txs), "rapid_movement")) is fires


def test_velocity_spike_against_the_account_s_own_history() -> None:
    book = Book()
    start = ny(2026, 1, 5, 10)
    for week in range(15):  # one payment a week for fifteen weeks
        book.pay(start + timedelta(days=7 * week), "ALICE", "SHOP", "20.00")
    burst = [book.pay(start + timedelta(days=105, hours=h), "ALICE", f"P{h}", "30.00") for h in range(10)]
    hits = rules_named(run_both(book.txs), "velocity_spike")
    assert ("ALICE", burst[-1]) in hits
    assert ("ALICE", burst[8]) not in hits  # nine in the week: under the minimum of ten


@pytest.mark.parametrize(
    ("days", "amount", "fires"), [(180, "1000.00", True), (179, "5000.00", False), (200, "999.99", False)]
)
def test_dormant_account_reactivation(days: int, amount: str, fires: bool) -> None:
    book = Book()
    start = ny(2026, 1, 5, 10)
    book.pay(start, "ALICE", "SHOP", "20.00")
    tx = book.pay(start + timedelta(days=days), "ALICE", "BOB", amount)
    assert (("ALICE", tx) in rules_named(run_both(book.txs), "dormant_reactivation")) is fires


def test_high_risk_jurisdiction_and_round_amounts() -> None:
    book = Book()
    day = ny(2026, 3, 2, 10)
    risky = book.pay(day, "ALICE", "FOREIGN", "1234.56", WIRE, bene_country="IR")
    book.pay(day, "ALICE", "CANADA", "1234.56", WIRE, bene_country="CA")
    round_ = book.pay(day, "ALICE", "BOB", "3000.00")
    book.pay(day, "ALICE", "BOB", "3000.50")
    book.pay(day, "ALICE", "BOB", "500.00")
    hits = run_both(book.txs)
    assert rules_named(hits, "high_risk_jurisdiction") == {("ALICE", risky), ("FOREIGN", risky)}
    assert rules_named(hits, "round_amount") == {("ALICE", round_), ("BOB", round_)}


# -- relationships: fan-in, fan-out, pass-through, cycles --------------------------------------------------------


def _seasoned_book(*accounts: str) -> Book:
    book = Book()
    book.history(ny(2026, 1, 5, 10), *accounts)
    return book


@pytest.mark.parametrize(("payers", "fires"), [(2, False), (3, True)])
def test_fan_in_of_new_payers_within_a_week(payers: int, fires: bool) -> None:
    names = [f"P{i}" for i in range(payers)]
    book = _seasoned_book("HUB", *names)
    day = ny(2026, 3, 2, 10)
    txs = [book.pay(day + timedelta(days=i), name, "HUB", "2500.00") for i, name in enumerate(names)]
    assert (("HUB", txs[-1]) in rules_named(run_both(book.txs), "fan_in")) is fires


def test_fan_in_is_ordinary_for_a_shop_that_always_has_new_customers() -> None:
    names = [f"P{i}" for i in range(12)]
    book = _seasoned_book("SOFA", *names)
    early = ny(2026, 1, 20, 10)
    for i, name in enumerate(names[:8]):  # eight new customers in the weeks before, never three in a week
        book.pay(early + timedelta(days=4 * i), name, "SOFA", "1800.00")
    day = ny(2026, 3, 2, 10)
    for i, name in enumerate(names[8:]):
        book.pay(day + timedelta(days=i), name, "SOFA", "1800.00")
    assert rules_named(run_both(book.txs), "fan_in") == set()


def test_fan_out_needs_the_bank_to_know_the_account() -> None:
    names = [f"R{i}" for i in range(5)]
    seasoned = _seasoned_book("BOSS", *names)
    day = ny(2026, 3, 2, 10)
    for name in names:
        seasoned.pay(day, "BOSS", name, "1500.00")
    assert {a for a, _ in rules_named(run_both(seasoned.txs), "fan_out")} == {"BOSS"}
    brand_new = Book()  # the first payroll of an account the bank has just met
    for name in names:
        brand_new.pay(day, "BOSS", name, "1500.00")
    assert rules_named(run_both(brand_new.txs), "fan_out") == set()


def test_pass_through_on_new_relationships() -> None:
    book = _seasoned_book("A", "B", "C")
    day = ny(2026, 3, 2, 10)
    book.pay(day, "A", "B", "5000.00")
    onward = book.pay(day + timedelta(days=2), "B", "C", "4800.00")
    assert rules_named(run_both(book.txs), "pass_through") == {("B", onward)}


def test_funds_returning_in_three_hops_is_a_cycle() -> None:
    book = _seasoned_book("A", "B", "C")
    day = ny(2026, 3, 2, 10)
    first = book.pay(day, "A", "B", "5000.00")
    second = book.pay(day + timedelta(days=1), "B", "C", "4900.00")
    back = book.pay(day + timedelta(days=2), "C", "A", "4800.00")
    hits = run_both(book.txs)
    assert rules_named(hits, "cycle") == {("C", back)}
    _, batch = rule_hits(frame_of(book.txs), RULES)
    support = batch.filter(batch["rule"] == "cycle")["support"][0]
    assert support.split(";") == [first, second]


def test_a_refund_or_repaid_loan_is_not_a_cycle() -> None:
    book = _seasoned_book("A", "B")
    day = ny(2026, 3, 2, 10)
    book.pay(day, "A", "B", "5000.00")
    book.pay(day + timedelta(days=1), "B", "A", "5000.00")
    assert rules_named(run_both(book.txs), "cycle") == set()


def test_a_cycle_needs_similar_amounts_and_time_order() -> None:
    book = _seasoned_book("A", "B", "C")
    day = ny(2026, 3, 2, 10)
    book.pay(day, "A", "B", "5000.00")
    book.pay(day + timedelta(days=1), "B", "C", "4900.00")
    book.pay(day + timedelta(days=2), "C", "A", "1200.00")  # not the same money
    other = _seasoned_book("A", "B", "C")
    other.pay(day + timedelta(days=1), "B", "C", "4900.00")  # paid on before it was received
    other.pay(day + timedelta(days=2), "C", "A", "4800.00")
    other.pay(day + timedelta(days=3), "A", "B", "5000.00")
    assert rules_named(run_both(book.txs), "cycle") == set()
    # In the second book A → B closes B → C → A, which did happen earlier: that is a cycle seen from A → B.
    assert {a for a, _ in rules_named(run_both(other.txs), "cycle")} == {"A"}
