"""The batch engine: every rule over a whole table at once, in polars and numpy, no loop per transaction.

Each rule is a column expression, a group-by or a causal window (:mod:`.windows`) over the rows of
:func:`.frame.prepare`; the result is one table of *rule hits* — which rule fired for which account at which
transaction, with the value it measured. The only per-row Python is the cycle search, and only on the few fresh
payments that could close a cycle (their originator received, and their beneficiary sent, a fresh payment within
the window: a vectorised pre-filter). :mod:`.streaming` decides the same hits one transaction at a time; a test
holds the two to the same answer.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from consortia.apps.aml.domain.monitoring.config import Rules
from consortia.apps.aml.domain.monitoring.cycles import Edge, EdgeIndex, closing_path
from consortia.apps.aml.domain.monitoring.frame import DAY, HOUR, prepare
from consortia.apps.aml.domain.monitoring.windows import Windows
from consortia.apps.aml.domain.transactions import CASH_ACCOUNT, CASH_DEPOSIT

HITS_SCHEMA: dict[str, pl.DataType] = {
    "seq": pl.Int64(),
    "tx_id": pl.String(),
    "account": pl.String(),
    "rule": pl.String(),
    "value": pl.Float64(),
    "support": pl.String(),
}
"""A rule hit: the transaction (``seq``, ``tx_id``), the account it is about, the rule, the value it measured
(an amount in cents, a count or a ratio) and, for cycles, the ids of the path's payments (``;``-separated)."""


_RAW_SCHEMA: dict[str, pl.DataType] = {
    "seq": pl.Int64(),
    "account_id": pl.Int64(),
    "rule": pl.String(),
    "value": pl.Float64(),
    "support": pl.String(),
}
"""Hits as the rules make them: by row and account id (names are looked up once, for the hits only)."""


def _hits(rows: pl.DataFrame, mask: np.ndarray | pl.Series, account: str, rule: str, value: object) -> pl.DataFrame:
    """Hits of ``rule`` on the rows where ``mask`` holds, about the account in column ``account`` (an id),
    measuring ``value`` (a number or a column)."""
    index = np.flatnonzero(np.asarray(mask, dtype=bool))
    values = np.broadcast_to(np.asarray(value, dtype=np.float64), (rows.height,))[index]
    n = len(index)
    return pl.DataFrame(
        {
            "seq": rows["seq"].gather(index),
            "account_id": rows[account].gather(index),
            "rule": pl.Series([rule] * n, dtype=pl.String),
            "value": pl.Series(values, dtype=pl.Float64),
            "support": pl.Series([""] * n, dtype=pl.String),
        }
    ).cast(_RAW_SCHEMA)


def _sides(df: pl.DataFrame, mask: pl.Expr | None = None) -> pl.DataFrame:
    """One row per (transaction, account touched), sorted by account then processing order: ``inflow`` and
    ``outflow`` hold the amount in cents on the side where the money moved (the cash drawer has no side)."""
    base = df if mask is None else df.filter(mask)
    base = base.filter(pl.col("orig_id") != pl.col("bene_id"))
    common = ("seq", "t", "amount_cents")
    out = base.filter(pl.col("orig_account") != CASH_ACCOUNT).select(
        *common,
        pl.col("orig_id").alias("account_id"),
        pl.lit(0, pl.Int64).alias("inflow"),
        pl.col("amount_cents").alias("outflow"),
    )
    inn = base.filter(pl.col("bene_account") != CASH_ACCOUNT).select(
        *common,
        pl.col("bene_id").alias("account_id"),
        pl.col("amount_cents").alias("inflow"),
        pl.lit(0, pl.Int64).alias("outflow"),
    )
    both = pl.concat([out, inn])
    # One integer key (account, then order) sorts faster than two columns.
    span = int(df["seq"].max()) + 1 if df.height else 1
    return both.sort(pl.col("account_id") * span + pl.col("seq"))


def _run_codes(column: pl.Series) -> np.ndarray:
    """Consecutive group numbers of a column sorted by group (0, 0, 1, 2, 2, …): no string sort needed."""
    return (column != column.shift(1)).fill_null(True).cum_sum().to_numpy().astype(np.int64)


def _windows(sides: pl.DataFrame, reach: int) -> Windows:
    return Windows.of(sides["account_id"].to_numpy().astype(np.int64), sides["t"].to_numpy(), reach)


def _group_first(groups: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For rows sorted by group: the value of each row's group's first row."""
    starts = np.flatnonzero(np.concatenate(([True], groups[1:] != groups[:-1])))
    run = np.cumsum(np.concatenate(([True], groups[1:] != groups[:-1]))) - 1
    return values[starts][run]


def _group_previous(groups: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For rows sorted by group: the previous row's value in the same group (NaN for a group's first row)."""
    previous = np.concatenate(([np.nan], values[:-1].astype(np.float64)))
    first = np.concatenate(([True], groups[1:] != groups[:-1]))
    previous[first] = np.nan
    return previous


def cash_rules(df: pl.DataFrame, rules: Rules) -> list[pl.DataFrame]:
    """CTR aggregation, structuring, amounts just under thresholds, split cash in a day."""
    p = rules.params
    cash = df.filter(pl.col("is_cash") & (pl.col("person") != CASH_ACCOUNT)).with_columns(
        pl.when(pl.col("tx_type") == CASH_DEPOSIT)
        .then(pl.col("bene_id"))
        .otherwise(pl.col("orig_id"))
        .alias("person_id")
    )
    if cash.height == 0:
        return []
    day = ["person", "direction", "bday"]
    cash = cash.with_columns(
        pl.col("amount_cents").cum_sum().over(day).alias("day_sum"),
        pl.col("amount_cents").cum_count().over(day).alias("day_count"),
    )
    out = []
    crossing = (pl.col("day_sum") > p.ctr_threshold_cents) & (
        pl.col("day_sum") - pl.col("amount_cents") <= p.ctr_threshold_cents
    )
    out.append(_hits(cash, cash.select(crossing).to_series(), "person_id", "ctr_aggregate", cash["day_sum"].to_numpy()))
    split = cash["day_count"] >= p.split_min_transactions
    out.append(_hits(cash, split, "person_id", "split_cash_same_day", cash["day_count"].to_numpy()))
    amounts = cash["amount_cents"].to_numpy()
    under = np.zeros(len(amounts), dtype=bool)
    for threshold in p.just_under_thresholds_cents:
        floor = int(threshold - threshold * p.just_under_margin)
        under |= (amounts >= floor) & (amounts < threshold)
    out.append(_hits(cash, under, "person_id", "just_under_threshold", amounts))

    small = cash.filter(pl.col("amount_cents") <= p.structuring_threshold_cents).sort("person", "direction", "seq")
    if small.height:
        codes = _run_codes(small.select(pl.concat_str("person", "direction")).to_series())
        days, base = p.structuring_window_business_days, p.structuring_baseline_business_days
        win = Windows.of(codes, small["bday"].to_numpy(), days + base)
        amounts = small["amount_cents"].to_numpy()
        total = win.sum(amounts, days)
        count = win.sum(np.ones(small.height, dtype=np.int64), days)
        # What the person's own cash habit would put in such a window (a shop banking its takings every day).
        expected = win.sum_between(amounts, days + base, days) * days / base
        hit = (
            (total > p.structuring_threshold_cents)
            & (count >= p.structuring_min_transactions)
            & (total >= p.structuring_baseline_factor * expected)
        )
        out.append(_hits(small, hit, "person_id", "structuring", total))
    return out


def flow_rules(df: pl.DataFrame, rules: Rules) -> list[pl.DataFrame]:
    """Rapid movement, velocity spikes, dormant reactivation (per account, over all its payments)."""
    p = rules.params
    sides = _sides(df)
    if sides.height == 0:
        return []
    reach = max(p.rapid_window_hours * HOUR, (p.velocity_window_days + p.velocity_baseline_days) * DAY)
    win = _windows(sides, reach)
    inflow = sides["inflow"].to_numpy()
    outflow = sides["outflow"].to_numpy()
    t = sides["t"].to_numpy()
    back = p.rapid_window_hours * HOUR
    in_sum = win.sum(inflow, back, include_self=False)
    out_sum = win.sum(outflow, back)
    rapid = (
        (outflow >= p.rapid_min_amount_cents)
        & (in_sum >= p.rapid_min_amount_cents)
        & (out_sum >= p.rapid_min_ratio * np.maximum(in_sum, 1))
    )
    ratio = out_sum / np.maximum(in_sum, 1)
    out = [_hits(sides, rapid, "account_id", "rapid_movement", ratio)]

    ones = np.ones(len(t), dtype=np.int64)
    w, b = p.velocity_window_days * DAY, p.velocity_baseline_days * DAY
    recent = win.sum(ones, w)
    base = win.sum_between(ones, w + b, w)
    groups = sides["account_id"].to_numpy()
    first_t = _group_first(groups, t)
    expected = base * (w / b)
    spike = (
        (first_t <= t - w - b)
        & (recent >= p.velocity_min_transactions)
        & (recent >= p.velocity_factor * np.maximum(expected, 1.0))
    )
    out.append(_hits(sides, spike, "account_id", "velocity_spike", recent))

    previous = _group_previous(groups, t)
    gap = t - np.nan_to_num(previous.astype(np.float64), nan=np.inf)
    amounts = sides["amount_cents"].to_numpy()
    dormant = (gap >= p.dormant_days * DAY) & (amounts >= p.dormant_min_amount_cents)
    out.append(_hits(sides, dormant, "account_id", "dormant_reactivation", np.where(dormant, gap / DAY, 0)))
    return out


def party_rules(df: pl.DataFrame, rules: Rules) -> list[pl.DataFrame]:
    """High-risk jurisdictions and round amounts, for both accounts of a payment."""
    p = rules.params
    risky = pl.col("orig_country").str.to_uppercase().is_in(list(p.high_risk_countries)) | pl.col(
        "bene_country"
    ).str.to_uppercase().is_in(list(p.high_risk_countries))
    round_ = (
        ~pl.col("is_cash")
        & (pl.col("amount_cents") >= p.round_min_amount_cents)
        & ((pl.col("amount_cents") % p.round_multiple_cents) == 0)
    )
    out = []
    for rule, mask in (("high_risk_jurisdiction", risky), ("round_amount", round_)):
        sides = _sides(df, mask)
        out.append(_hits(sides, np.ones(sides.height, dtype=bool), "account_id", rule, sides["amount_cents"]))
    return out


def _first_seen(df: pl.DataFrame) -> np.ndarray:
    """When each account (by id) first paid or was paid: the start of the bank's history of it."""
    moved = df.filter(pl.col("orig_account") != pl.col("bene_account"))
    size = int(max(df["orig_id"].max(), df["bene_id"].max())) + 1
    first = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
    t = moved["t"].to_numpy()
    np.minimum.at(first, moved["orig_id"].to_numpy(), t)
    np.minimum.at(first, moved["bene_id"].to_numpy(), t)
    return first


def _seasoned(sides: pl.DataFrame, first: np.ndarray, rules: Rules) -> np.ndarray:
    """Whether the bank has ``min_history_days`` of each side's account's history at that side's time."""
    return first[sides["account_id"].to_numpy()] <= sides["t"].to_numpy() - rules.network.min_history_days * DAY


def _count_before(events: pl.DataFrame, rows: pl.DataFrame, back: int) -> np.ndarray:
    """For each of ``rows``: how many ``events`` of its account (both sorted by account, then order) have an order
    at most the row's and a time after the row's time - ``back``."""
    if events.height == 0:
        return np.zeros(rows.height, dtype=np.int64)
    seq_span = int(max(events["seq"].max(), rows["seq"].max())) + 2
    lo = int(min(events["t"].min(), rows["t"].min())) - back - 1
    t_span = int(max(events["t"].max(), rows["t"].max())) - lo + 2
    e_acc, r_acc = events["account_id"].to_numpy(), rows["account_id"].to_numpy()
    by_seq = e_acc * seq_span + events["seq"].to_numpy()
    by_t = e_acc * t_span + (events["t"].to_numpy() - lo)
    upto = np.searchsorted(by_seq, r_acc * seq_span + rows["seq"].to_numpy(), side="right")
    after = np.searchsorted(by_t, r_acc * t_span + (rows["t"].to_numpy() - back - lo), side="right")
    return np.maximum(upto - after, 0)


def relationship_rules(df: pl.DataFrame, rules: Rules) -> list[pl.DataFrame]:
    """New relationships, fan-in, fan-out and pass-through, on the graph's fresh edges."""
    p = rules.params
    out = []
    first_seen = _first_seen(df)
    firsts = _sides(df, pl.col("cand_first"))  # one row per account of each new relationship
    if firsts.height:
        seasoned = _seasoned(firsts, first_seen, rules)
        reach = (
            max(
                p.new_rel_baseline_days,
                p.fan_in_window_days + p.fan_in_baseline_days,
                p.fan_out_window_days + p.fan_out_baseline_days,
            )
            * DAY
        )
        win = _windows(firsts, reach)
        ones = np.ones(firsts.height, dtype=np.int64)
        known = win.sum(ones, p.new_rel_baseline_days * DAY, include_self=False)
        out.append(_hits(firsts, seasoned & (known <= p.new_rel_baseline_max), "account_id", "new_relationship", known))
        is_in = firsts["inflow"].to_numpy() > 0
        for rule, side, window, minimum, baseline, most in (
            (
                "fan_in",
                is_in,
                p.fan_in_window_days,
                p.fan_in_min_counterparties,
                p.fan_in_baseline_days,
                p.fan_in_baseline_max,
            ),
            (
                "fan_out",
                ~is_in,
                p.fan_out_window_days,
                p.fan_out_min_counterparties,
                p.fan_out_baseline_days,
                p.fan_out_baseline_max,
            ),
        ):
            marks = side.astype(np.int64)
            recent = win.sum(marks, window * DAY)
            before = win.sum_between(marks, (window + baseline) * DAY, window * DAY)
            hit = seasoned & side & (recent >= minimum) & (before <= most)
            out.append(_hits(firsts, hit, "account_id", rule, recent))

    fresh = _sides(df, pl.col("fresh"))
    if fresh.height:
        seasoned = _seasoned(fresh, first_seen, rules)
        back = p.pass_through_window_days * DAY
        win = _windows(fresh, back)
        inflow = fresh["inflow"].to_numpy()
        outflow = fresh["outflow"].to_numpy()
        received = win.sum(inflow, back, include_self=False)
        known = _count_before(firsts, fresh, p.pass_through_baseline_days * DAY)
        hit = (
            seasoned
            & (known <= p.pass_through_baseline_max)
            & (outflow > 0)
            & (received > 0)
            & (received >= p.pass_through_min_ratio * outflow)
        )
        out.append(_hits(fresh, hit, "account_id", "pass_through", received / np.maximum(outflow, 1)))
    return out


def cycle_rule(df: pl.DataFrame, rules: Rules) -> list[pl.DataFrame]:
    """Funds returning within ``max_hops`` hops (:mod:`.cycles`), searched only where a cycle can close."""
    p = rules.params
    fresh = df.filter(pl.col("fresh")).select(
        "seq", "t", "tx_id", "orig_account", "bene_account", "amount_cents", "orig_id", "bene_id"
    )
    if fresh.height < 3:
        return []
    back = p.cycle_window_days * DAY
    sides = _sides(fresh)
    win = _windows(sides, back)
    received = win.sum(sides["inflow"].to_numpy() > 0, back, include_self=False)
    sent = win.sum(sides["outflow"].to_numpy() > 0, back, include_self=False)
    flags = sides.select("seq", "account_id").with_columns(
        pl.Series("received", received > 0), pl.Series("sent", sent > 0)
    )
    # A payment a → b can close a cycle only if a received and b sent a fresh payment earlier in the window.
    orig_ok = flags.filter(pl.col("received")).select("seq", pl.col("account_id").alias("orig_id"))
    bene_ok = flags.filter(pl.col("sent")).select("seq", pl.col("account_id").alias("bene_id"))
    possible = set(fresh.join(orig_ok, on=["seq", "orig_id"]).join(bene_ok, on=["seq", "bene_id"])["seq"].to_list())
    index = EdgeIndex()
    rows: list[tuple[int, int, str, float, str]] = []
    for seq, t, tx_id, orig, bene, amount, orig_id, _ in fresh.iter_rows():
        edge = Edge(seq, t, orig, bene, amount, tx_id)
        if seq in possible:
            path = closing_path(
                index, edge, max_hops=p.cycle_max_hops, window_seconds=back, tolerance=p.cycle_amount_tolerance
            )
            if path is not None:
                rows.append((seq, orig_id, "cycle", float(len(path) + 1), ";".join(e.tx_id for e in path)))
        index.add(edge)
    return [pl.DataFrame(rows, schema=_RAW_SCHEMA, orient="row")]


def rule_hits(frame: pl.DataFrame, rules: Rules) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The prepared table and every rule hit in it, sorted by (seq, rule, account)."""
    df = prepare(frame, rules)
    parts = [
        *cash_rules(df, rules),
        *flow_rules(df, rules),
        *party_rules(df, rules),
        *relationship_rules(df, rules),
        *cycle_rule(df, rules),
    ]
    parts = [part for part in parts if part.height]
    raw = pl.concat(parts) if parts else pl.DataFrame(schema=_RAW_SCHEMA)
    names = pl.concat([df["orig_account"], df["bene_account"]]).unique().sort()  # the ids of frame.prepare
    hits = raw.select(
        "seq",
        df["tx_id"].gather(raw["seq"]).alias("tx_id"),
        names.gather(raw["account_id"]).alias("account"),
        "rule",
        "value",
        "support",
    )
    return df, hits.sort("seq", "rule", "account")
