"""The streaming engine: one transaction at a time, incremental state per account, the same rules as the batch.

A bank decides on a payment as it arrives (Tazama's real-time path): :class:`StreamingEngine` keeps, for each
account, the running sums the rules need — per business day for currency, per window for flows, per relationship
for the graph — as append-only series with prefix sums (:class:`_Series`), so every window question is two
binary searches. :meth:`StreamingEngine.decide` returns the rule hits of one transaction and the account
typologies whose score that transaction pushed over their threshold. It is written the plain way, rule by rule,
and serves as the reference the vectorised batch engine (:mod:`.batch`) is tested against: fed the same
transactions in the same order, the two produce the same hits.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC

import polars as pl

from consortia.apps.aml.domain.monitoring.batch import HITS_SCHEMA
from consortia.apps.aml.domain.monitoring.business_days import business_day_number
from consortia.apps.aml.domain.monitoring.config import Rules, Typology
from consortia.apps.aml.domain.monitoring.cycles import Edge, EdgeIndex, closing_path
from consortia.apps.aml.domain.monitoring.frame import DAY, HOUR, cents, frame_of, prepare
from consortia.apps.aml.domain.monitoring.typologies import alerts_from_hits
from consortia.apps.aml.domain.transactions import CASH_ACCOUNT, CASH_DEPOSIT, CASH_TYPES, Alert, Transaction


@dataclass(frozen=True)
class Hit:
    """One rule that fired on one transaction for one account (a row of the batch engine's hits table)."""

    seq: int
    tx_id: str
    account: str
    rule: str
    value: float
    support: str = ""


@dataclass(frozen=True)
class TypologyDecision:
    """An account typology whose weighted score reached its threshold at this transaction."""

    typology: str
    account: str
    score: float
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    """What the engine decided about one transaction."""

    tx_id: str
    seq: int
    hits: tuple[Hit, ...]
    alerts: tuple[TypologyDecision, ...]


class _Series:
    """An append-only time series with prefix sums of several value columns."""

    __slots__ = ("prefix", "times")

    def __init__(self, columns: int) -> None:
        self.times: list[int] = []
        self.prefix: list[list[float]] = [[0] for _ in range(columns)]

    def append(self, t: int, *values: float) -> None:
        self.times.append(t)
        for column, value in zip(self.prefix, values, strict=True):
            column.append(column[-1] + value)

    def sum(self, column: int, after: int) -> float:
        """Sum of ``column`` over entries with time > ``after`` (all entries so far)."""
        start = bisect_right(self.times, after)
        values = self.prefix[column]
        return values[-1] - values[start]

    def between(self, column: int, after: int, upto: int) -> float:
        """Sum of ``column`` over entries with time in ``(after, upto]``."""
        values = self.prefix[column]
        return values[bisect_right(self.times, upto)] - values[bisect_right(self.times, after)]


@dataclass
class _State:
    day_sum: dict[tuple[str, str, int], int] = field(default_factory=lambda: defaultdict(int))
    day_count: dict[tuple[str, str, int], int] = field(default_factory=lambda: defaultdict(int))
    small_cash: dict[tuple[str, str], list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    flows: dict[str, _Series] = field(default_factory=dict)  # columns: inflow, outflow, count
    first_t: dict[str, int] = field(default_factory=dict)
    last_t: dict[str, int] = field(default_factory=dict)
    pair_first_t: dict[tuple[str, str], int] = field(default_factory=dict)
    firsts: dict[str, _Series] = field(default_factory=dict)  # columns: count, in-mark, out-mark
    fresh: dict[str, _Series] = field(default_factory=dict)  # columns: inflow, outflow
    edges: EdgeIndex = field(default_factory=EdgeIndex)
    account_hits: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))


class StreamingEngine:
    """Decides each transaction as it arrives, from the rules and what it has seen so far."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.state = _State()
        self.seq = 0
        self.seen: list[Transaction] = []
        self.late = 0
        """How many transactions arrived with a timestamp before one already decided."""
        self.hits: list[Hit] = []
        self.account_typologies: tuple[Typology, ...] = tuple(t for t in rules.typologies if t.kind == "account")

    def decide(self, tx: Transaction) -> Decision:
        """The rule hits of ``tx`` and the account typologies it completes.

        Transactions are expected in timestamp order; one that arrives late is decided against the state as it
        stands (it is counted in :attr:`late`), and only in-order input is guaranteed to match the batch engine.
        """
        if self.seen and tx.timestamp < self.seen[-1].timestamp:
            self.late += 1
        self.seen.append(tx)
        seq = self.seq
        self.seq += 1
        hits: list[Hit] = []
        t = int(tx.timestamp.astimezone(UTC).timestamp() // 1)
        amount = cents(tx.amount)
        self._cash(tx, seq, t, amount, hits)
        if tx.orig_account != tx.bene_account:
            self._flows(tx, seq, t, amount, hits)
            self._parties(tx, seq, amount, hits)
            self._relationships(tx, seq, t, amount, hits)
        hits.sort(key=lambda h: (h.rule, h.account))
        self.hits.extend(hits)
        return Decision(tx.tx_id, seq, tuple(hits), self._typologies(t, hits))

    def alerts(self) -> list[Alert]:
        """Every alert so far, the network typologies included: groups of accounts are assembled over the hits
        the engine decided (the same typology stage as the batch), as a monitoring job does at each window's end."""
        df = prepare(frame_of(self.seen), self.rules)
        hits = pl.DataFrame(
            [(h.seq, h.tx_id, h.account, h.rule, h.value, h.support) for h in self.hits],
            schema=HITS_SCHEMA,
            orient="row",
        ).sort("seq", "rule", "account")
        return alerts_from_hits(df, hits, self.rules)

    # -- currency -------------------------------------------------------------------------------------------------

    def _cash(self, tx: Transaction, seq: int, t: int, amount: int, hits: list[Hit]) -> None:
        p = self.rules.params
        if tx.tx_type not in CASH_TYPES:
            return
        deposit = tx.tx_type == CASH_DEPOSIT
        person = tx.bene_account if deposit else tx.orig_account
        if person == CASH_ACCOUNT:
            return
        direction = "in" if deposit else "out"
        cal = self.rules.calendar
        bday = business_day_number(tx.timestamp, cal.timezone, cal.cutoff)
        key = (person, direction, bday)
        self.state.day_sum[key] += amount
        self.state.day_count[key] += 1
        total, count = self.state.day_sum[key], self.state.day_count[key]
        if total > p.ctr_threshold_cents >= total - amount:
            hits.append(Hit(seq, tx.tx_id, person, "ctr_aggregate", float(total)))
        if count >= p.split_min_transactions:
            hits.append(Hit(seq, tx.tx_id, person, "split_cash_same_day", float(count)))
        for threshold in p.just_under_thresholds_cents:
            if int(threshold - threshold * p.just_under_margin) <= amount < threshold:
                hits.append(Hit(seq, tx.tx_id, person, "just_under_threshold", float(amount)))
                break
        if amount <= p.structuring_threshold_cents:
            days, base = p.structuring_window_business_days, p.structuring_baseline_business_days
            window = self.state.small_cash[(person, direction)]
            window.append((bday, amount))
            window[:] = [(d, a) for d, a in window if d > bday - days - base]
            recent = [a for d, a in window if d > bday - days]
            expected = sum(a for d, a in window if d <= bday - days) * days / base
            total = sum(recent)
            if (
                total > p.structuring_threshold_cents
                and len(recent) >= p.structuring_min_transactions
                and total >= p.structuring_baseline_factor * expected
            ):
                hits.append(Hit(seq, tx.tx_id, person, "structuring", float(total)))

    # -- flows of each account -------------------------------------------------------------------------------------

    def _sides(self, tx: Transaction, amount: int) -> list[tuple[str, int, int]]:
        sides = []
        if tx.orig_account != CASH_ACCOUNT:
            sides.append((tx.orig_account, 0, amount))
        if tx.bene_account != CASH_ACCOUNT:
            sides.append((tx.bene_account, amount, 0))
        return sides

    def _flows(self, tx: Transaction, seq: int, t: int, amount: int, hits: list[Hit]) -> None:
        p = self.rules.params
        for account, inflow, outflow in self._sides(tx, amount):
            series = self.state.flows.get(account)
            if series is None:
                series = self.state.flows[account] = _Series(3)
                self.state.first_t[account] = t
            back = p.rapid_window_hours * HOUR
            in_sum = series.sum(0, t - back)
            previous = self.state.last_t.get(account)
            series.append(t, inflow, outflow, 1)
            self.state.last_t[account] = t
            out_sum = series.sum(1, t - back)
            if (
                outflow >= p.rapid_min_amount_cents
                and in_sum >= p.rapid_min_amount_cents
                and out_sum >= p.rapid_min_ratio * max(in_sum, 1)
            ):
                hits.append(Hit(seq, tx.tx_id, account, "rapid_movement", out_sum / max(in_sum, 1)))
            w, b = p.velocity_window_days * DAY, p.velocity_baseline_days * DAY
            recent = series.sum(2, t - w)
            base = series.between(2, t - w - b, t - w)
            if (
                self.state.first_t[account] <= t - w - b
                and recent >= p.velocity_min_transactions
                and recent >= p.velocity_factor * max(base * (w / b), 1.0)
            ):
                hits.append(Hit(seq, tx.tx_id, account, "velocity_spike", float(recent)))
            if previous is not None and t - previous >= p.dormant_days * DAY and amount >= p.dormant_min_amount_cents:
                hits.append(Hit(seq, tx.tx_id, account, "dormant_reactivation", (t - previous) / DAY))

    def _parties(self, tx: Transaction, seq: int, amount: int, hits: list[Hit]) -> None:
        p = self.rules.params
        risky = tx.orig_country.upper() in p.high_risk_countries or tx.bene_country.upper() in p.high_risk_countries
        round_ = (
            tx.tx_type not in CASH_TYPES and amount >= p.round_min_amount_cents and amount % p.round_multiple_cents == 0
        )
        for rule, fired in (("high_risk_jurisdiction", risky), ("round_amount", round_)):
            if fired:
                for account, _, _ in self._sides(tx, amount):
                    hits.append(Hit(seq, tx.tx_id, account, rule, float(amount)))

    # -- the graph of relationships -----------------------------------------------------------------------------

    def _relationships(self, tx: Transaction, seq: int, t: int, amount: int, hits: list[Hit]) -> None:
        p = self.rules.params
        net = self.rules.network
        candidate = (
            tx.tx_type not in CASH_TYPES
            and amount >= net.min_amount_cents
            and CASH_ACCOUNT not in (tx.orig_account, tx.bene_account)
        )
        if not candidate:
            return
        pair = (tx.orig_account, tx.bene_account)
        first = pair not in self.state.pair_first_t
        if first:
            self.state.pair_first_t[pair] = t
        sides = self._sides(tx, amount)
        if first:
            for account, inflow, _ in sides:
                seasoned = self.state.first_t[account] <= t - net.min_history_days * DAY
                series = self.state.firsts.get(account)
                if series is None:
                    series = self.state.firsts[account] = _Series(3)
                known = series.sum(0, t - p.new_rel_baseline_days * DAY)
                is_in = inflow > 0
                series.append(t, 1, int(is_in), int(not is_in))
                if seasoned and known <= p.new_rel_baseline_max:
                    hits.append(Hit(seq, tx.tx_id, account, "new_relationship", float(known)))
                column, rule = (1, "fan_in") if is_in else (2, "fan_out")
                window, minimum, baseline, most = (
                    (p.fan_in_window_days, p.fan_in_min_counterparties, p.fan_in_baseline_days, p.fan_in_baseline_max)
                    if is_in
                    else (
                        p.fan_out_window_days,
                        p.fan_out_min_counterparties,
                        p.fan_out_baseline_days,
                        p.fan_out_baseline_max,
                    )
                )
                recent = series.sum(column, t - window * DAY)
                before = series.between(column, t - (window + baseline) * DAY, t - window * DAY)
                if seasoned and recent >= minimum and before <= most:
                    hits.append(Hit(seq, tx.tx_id, account, rule, float(recent)))
        if t - self.state.pair_first_t[pair] > net.fresh_days * DAY:
            return
        back = p.pass_through_window_days * DAY
        for account, inflow, outflow in sides:
            series = self.state.fresh.get(account)
            if series is None:
                series = self.state.fresh[account] = _Series(2)
            received = series.sum(0, t - back)
            series.append(t, inflow, outflow)
            seasoned = self.state.first_t[account] <= t - net.min_history_days * DAY
            opened = self.state.firsts.get(account)
            known = opened.sum(0, t - p.pass_through_baseline_days * DAY) if opened is not None else 0
            if (
                seasoned
                and known <= p.pass_through_baseline_max
                and outflow > 0
                and received > 0
                and received >= p.pass_through_min_ratio * outflow
            ):
                hits.append(Hit(seq, tx.tx_id, account, "pass_through", received / max(outflow, 1)))
        edge = Edge(seq, t, tx.orig_account, tx.bene_account, amount, tx.tx_id)
        path = closing_path(
            self.state.edges,
            edge,
            max_hops=p.cycle_max_hops,
            window_seconds=p.cycle_window_days * DAY,
            tolerance=p.cycle_amount_tolerance,
        )
        if path is not None:
            support = ";".join(e.tx_id for e in path)
            hits.append(Hit(seq, tx.tx_id, tx.orig_account, "cycle", float(len(path) + 1), support))
        self.state.edges.add(edge)

    # -- account typologies (Tazama: weighted distinct rules against a threshold) ---------------------------------

    def _typologies(self, t: int, hits: list[Hit]) -> tuple[TypologyDecision, ...]:
        decisions = []
        touched = sorted({h.account for h in hits})
        for account in touched:
            history = self.state.account_hits[account]
            history.extend((t, h.rule) for h in hits if h.account == account)
            for typology in self.account_typologies:
                since = t - typology.window_days * DAY
                rules = sorted({rule for when, rule in history if when > since and typology.weight(rule) > 0})
                score = sum(typology.weight(rule) for rule in rules)
                new_rules = {h.rule for h in hits if h.account == account}
                if score >= typology.threshold - 1e-9 and new_rules & set(rules):  # as the batch: sums of floats
                    decisions.append(TypologyDecision(typology.name, account, round(score, 6), tuple(rules)))
            # Keep only what any typology window can still see.
            horizon = t - max((ty.window_days for ty in self.account_typologies), default=0) * DAY
            if history and history[0][0] <= horizon:
                history[:] = [(when, rule) for when, rule in history if when > horizon]
        return tuple(decisions)


def hits_frame(decisions: list[Decision]) -> pl.DataFrame:
    """The hits of many decisions as a table shaped like the batch engine's (:data:`.batch.HITS_SCHEMA`)."""
    rows = [(h.seq, h.tx_id, h.account, h.rule, h.value, h.support) for d in decisions for h in d.hits]
    return pl.DataFrame(rows, schema=HITS_SCHEMA, orient="row").sort("seq", "rule", "account")
