"""``consortia bench --rate`` and ``--scale``: the open-loop schedule, the percentile arithmetic, the at-scale report.

The open loop is checked on a virtual clock (a sleep advances it, a slow submission advances it), so the test
knows exactly when each transaction was due, sent and committed, and can recompute every figure by hand; the
percentiles are checked against a naive definition in exact arithmetic. Nothing here asserts a speed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from concurrent.futures import Future
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from consortia.bench.openloop import LATE_AFTER, Schedule, run_open_loop
from consortia.bench.stats import Summary, percentile
from consortia.cli.main import app
from consortia.client.errors import EndorsementFailed, TransactionInvalid
from consortia.client.sdk import SubmitResult

# -- percentiles ---------------------------------------------------------------------------------------------------


def naive_percentile(values: list[float], fraction: float) -> float:
    """The smallest value that at least ``fraction`` of the values do not exceed (exact arithmetic)."""
    wanted = Fraction(str(fraction)) * len(values)
    return min(v for v in values if sum(1 for w in values if w <= v) >= wanted)


FRACTIONS = st.sampled_from([0.01, 0.07, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0]) | st.floats(0.001, 1.0).map(
    lambda f: round(f, 3)
)


@given(st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=300), FRACTIONS)
def test_percentile_matches_the_naive_definition(values: list[float], fraction: float) -> None:
    """Nearest rank, for any sample and fraction, equals the definition computed the slow way."""
    assert percentile(values, fraction) == naive_percentile(values, fraction)


def test_percentile_known_values() -> None:
    """p50 of 1..4 is 2, p99.9 of 1000 samples is the largest, p99 of 1000 samples is the 990th."""
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0
    thousand = [float(i) for i in range(1, 1001)]
    assert percentile(thousand, 0.999) == 999.0
    assert percentile(thousand, 1.0) == 1000.0
    assert percentile(thousand, 0.99) == 990.0
    assert percentile([], 0.5) == 0.0


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.5, math.nan])
def test_percentile_refuses_a_fraction_outside_0_1(fraction: float) -> None:
    """A fraction outside (0, 1] is a programming error, said as such."""
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        percentile([1.0], fraction)


@given(st.lists(st.floats(0, 5, allow_nan=False), min_size=1, max_size=200))
def test_summary_is_the_percentiles_in_milliseconds(values: list[float]) -> None:
    """Summary.of gives p50, p99, p99.9 and the maximum of the naive definition, in ms."""
    summary = Summary.of(values)
    assert summary.count == len(values)
    for got, fraction in ((summary.p50_ms, 0.5), (summary.p99_ms, 0.99), (summary.p999_ms, 0.999)):
        assert got == round(naive_percentile(values, fraction) * 1000, 3)
    assert summary.max_ms == round(max(values) * 1000, 3)


# -- the schedule ----------------------------------------------------------------------------------------------------


def test_schedule_spaces_transactions_one_interval_apart() -> None:
    """At 250 tx/s for 2 s: 500 transactions, the i-th due at i/250 s."""
    schedule = Schedule.for_duration(250, 2)
    assert schedule.count == 500
    assert [schedule.due(i) for i in (0, 1, 2, 499)] == [0.0, 0.004, 0.008, 499 / 250]
    assert schedule.duration == 2.0
    with pytest.raises(IndexError, match="outside a schedule of 500"):
        schedule.due(500)
    assert Schedule.for_duration(1000, 0.0001).count == 1  # at least one transaction


@pytest.mark.parametrize("rate", [0.0, -3.0, math.inf, math.nan])
def test_schedule_refuses_a_rate_that_is_not_positive(rate: float) -> None:
    """A rate must be a positive, finite number; the error says what it got."""
    with pytest.raises(ValueError, match="positive number of transactions per second"):
        Schedule.for_duration(rate, 1)
    with pytest.raises(ValueError, match="positive number"):
        Schedule(rate, 10)


class VirtualClock:
    """Time that passes only when someone sleeps or works."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeContract:
    """A contract whose submission takes ``work(number)`` virtual seconds and commits as ``outcome(number)`` says."""

    def __init__(self, clock: VirtualClock, work: Callable[[int], float], outcome: Callable[[int], str]) -> None:
        self.clock = clock
        self.work = work
        self.outcome = outcome
        self.sent: list[tuple[int, float]] = []

    def submit_async(self, function: str, number: int) -> Future[SubmitResult]:
        assert function == "touch"
        self.sent.append((number, self.clock()))
        self.clock.now += self.work(number)
        outcome = self.outcome(number)
        if outcome == "REFUSED":
            raise EndorsementFailed("ENDORSEMENT_POLICY_FAILURE", "refused", f"tx{number}")
        future: Future[SubmitResult] = Future()
        if outcome == "VALID":
            future.set_result(SubmitResult(f"tx{number}", 1, "VALID", None))
        else:
            future.set_exception(TransactionInvalid(outcome, "invalid", f"tx{number}", 1))
        return future


def test_open_loop_counts_latency_from_the_due_time() -> None:
    """A stall delays later sends; their latency counts from when they were due, and they count as late.

    At 100 tx/s a transaction is due every 10 ms. Each submission takes 1 ms, except number 5, which takes 45 ms:
    numbers 6 to 9 go out late, one right after the other. Every send time, latency and the late count are
    recomputed here from that rule.
    """
    clock = VirtualClock()
    work = {5: 0.045}
    contract = FakeContract(clock, lambda n: work.get(n, 0.001), lambda n: "VALID")
    schedule = Schedule.for_duration(100, 0.2)
    report = run_open_loop(
        [contract],  # type: ignore[list-item]  # the fake has the one method the open loop calls
        lambda n: ("touch", (n,)),
        schedule,
        senders=1,
        clock=clock,
        sleep=clock.sleep,
    )
    start = 0.05
    expected_sends, expected_latencies = [], []
    free_at = 0.0
    for number in range(schedule.count):
        due = start + number / 100
        sent = max(due, free_at)
        free_at = sent + work.get(number, 0.001)
        expected_sends.append((number, sent))
        expected_latencies.append(free_at - due)
    assert [n for n, _ in contract.sent] == list(range(20))
    assert [t for _, t in contract.sent] == pytest.approx([t for _, t in expected_sends])
    assert report.scheduled == report.submitted == report.committed == 20
    assert report.failed == 0
    assert report.outcomes == {"VALID": 20}
    lags = [sent - (start + n / 100) for n, sent in expected_sends]
    assert report.late == sum(1 for lag in lags if lag > LATE_AFTER) == 3  # 6, 7 and 8; 9 is back within 10 ms
    expected = Summary.of(expected_latencies)
    assert report.latency.count == expected.count
    for name in ("p50_ms", "p99_ms", "p999_ms", "max_ms"):
        assert getattr(report.latency, name) == pytest.approx(getattr(expected, name), abs=0.002)
    assert report.latency.max_ms == pytest.approx(45.0)  # number 5 itself
    assert report.achieved_tx_per_s == pytest.approx(20 / (free_at - start))
    assert report.offered_tx_per_s == 100


def test_open_loop_counts_refusals_and_invalid_commits_as_failures() -> None:
    """A refused submission and an invalid commit are failures with their codes; only valid commits have latency."""
    clock = VirtualClock()
    outcomes = {3: "REFUSED", 7: "MVCC_READ_CONFLICT"}
    contract = FakeContract(clock, lambda n: 0.001, lambda n: outcomes.get(n, "VALID"))
    report = run_open_loop(
        [contract],  # type: ignore[list-item]
        lambda n: ("touch", (n,)),
        Schedule(50, 10),
        senders=1,
        clock=clock,
        sleep=clock.sleep,
    )
    assert report.outcomes == {"VALID": 8, "ENDORSEMENT_POLICY_FAILURE": 1, "MVCC_READ_CONFLICT": 1}
    assert report.failed == 2
    assert report.submitted == 9  # the refused one never reached the orderer
    assert report.committed == report.latency.count == 8


def test_open_loop_with_several_senders_sends_every_transaction_once() -> None:
    """Four sender threads on the real clock share one schedule: each number is sent exactly once."""
    sent: list[int] = []

    class Instant:
        def submit_async(self, function: str, number: int) -> Future[SubmitResult]:
            sent.append(number)
            future: Future[SubmitResult] = Future()
            future.set_result(SubmitResult(f"tx{number}", 1, "VALID", None))
            return future

    report = run_open_loop([Instant()], lambda n: ("touch", (n,)), Schedule(4000, 200), senders=4)  # type: ignore[list-item]
    assert sorted(sent) == list(range(200))
    assert report.committed == report.scheduled == 200
    assert report.failed == 0


# -- the command line --------------------------------------------------------------------------------------------


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["bench", *args])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "-5"], "--rate is transactions per second offered"),
        (["--rate", "0"], "--rate is transactions per second offered"),
        (["--rate", "nan"], "--rate is transactions per second offered"),
        (["--rate", "100", "--senders", "0"], "--senders is a number of threads"),
        (["--scale", "--transactions", "0"], "--transactions is a ledger size"),
        (["--scale", "--transactions", "-10"], "--transactions is a ledger size"),
        (["--scale"], "--scale needs --transactions N"),
        (["--transactions", "5000"], "add --scale"),
        (["--scale", "--transactions", "5000", "--cluster"], "cannot be combined with --cluster"),
        (["--rate", "100", "--cluster"], "--rate drives the embedded network only"),
        (["--scale", "--transactions", "5000", "--rate", "10"], "give one of them"),
        (["--scale", "--transactions", "5000", "--samples", "0"], "--samples is a number"),
    ],
)
def test_bad_options_exit_2_with_a_clear_error(args: list[str], message: str) -> None:
    """Every nonsensical option gets exit 2 and one line saying what was expected, as JSON too."""
    result = run_cli(*args, "--json")
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert message in document["error"]


def test_scale_refuses_a_folder_that_holds_something_else(tmp_path: Path) -> None:
    """A non-empty folder without a scale ledger is refused (exit 2), and nothing in it is touched."""
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    result = run_cli("--scale", "--transactions", "2000", "--data", str(folder), "--json")
    assert result.exit_code == 2, result.output
    assert "holds no scale ledger" in json.loads(result.stdout)["error"]
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    assert (folder / "notes.txt").read_text() == "keep me"


SUMMARIES = (
    "inclusion_proof_generate",
    "inclusion_proof_verify",
    "transaction_proof_generate",
    "transaction_proof_check",
    "consistency_proof_generate",
    "consistency_proof_verify",
    "state_point_read",
    "state_range_read",
)


def test_scale_builds_then_reuses_then_extends_the_ledger(tmp_path: Path) -> None:
    """2,000 transactions end to end with every figure; the second run reuses the folder, a bigger N extends it."""
    folder = tmp_path / "scale"
    first = run_cli("--scale", "--transactions", "2000", "--data", str(folder), "--samples", "25", "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["mode"] == "scale"
    assert report["transactions"] >= 2000
    assert report["reused"] is False
    assert report["added"] > 1900  # all but the genesis and the contract's deployment
    assert report["build_failed"] == {}
    for name in SUMMARIES:
        summary = report[name]
        assert summary["count"] == 25
        assert 0 < summary["p50_ms"] <= summary["p99_ms"] <= summary["p999_ms"] <= summary["max_ms"]
    assert report["state_point_read_hits"] == 25  # every key the build touched is in the state database
    assert report["state_range_rows"] > 25
    assert report["verify_ok"] is True and report["verify_error"] is None
    assert report["verify_tx_per_s"] > 0
    assert report["verify_signatures_per_tx"] >= 2  # the client's and the endorser's, at least
    assert report["disk_bytes"] == sum(report["disk_bytes_by_part"].values()) > 0
    assert report["disk_bytes_per_tx"] == pytest.approx(report["disk_bytes"] / report["transactions"], abs=0.1)
    assert {"peer blocks", "peer history", "orderer"} <= set(report["disk_bytes_by_part"])
    assert 0 < report["peak_rss_after_build_mib"] <= report["peak_rss_mib"]

    again = json.loads(
        run_cli("--scale", "--transactions", "2000", "--data", str(folder), "--samples", "5", "--json").stdout
    )
    assert again["reused"] is True
    assert again["added"] == 0
    assert again["transactions"] == report["transactions"]
    assert again["blocks"] == report["blocks"]

    bigger = run_cli("--scale", "--transactions", "2600", "--data", str(folder), "--samples", "5", "--json")
    assert bigger.exit_code == 0, bigger.output
    extended = json.loads(bigger.stdout)
    assert extended["reused"] is True
    assert extended["transactions"] >= 2600
    assert extended["added"] == extended["transactions"] - report["transactions"]
    assert extended["verify_ok"] is True
    assert extended["state_point_read_hits"] == 5


def test_rate_reports_the_open_loop_figures(tmp_path: Path) -> None:
    """``--rate`` on the embedded network: every scheduled transaction commits, and every figure is reported."""
    result = run_cli("--rate", "100", "--seconds", "1", "--senders", "4", "--data", str(tmp_path / "net"), "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["mode"] == "open-loop"
    assert figures["offered_tx_per_s"] == 100
    assert figures["scheduled"] == 100
    assert figures["committed"] == figures["submitted"] == 100
    assert figures["failed"] == 0
    assert figures["outcomes"] == {"VALID": 100}
    assert 0 < figures["p50_latency_ms"] <= figures["p99_latency_ms"] <= figures["p999_latency_ms"]
    assert figures["achieved_tx_per_s"] > 0
    assert 0 <= figures["late"] <= 100
