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
from consortia.apps.aml.domain.transactions import CASH_ACCOUNT

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


def _hits(
    df: pl.DataFrame, mask: np.ndarray | pl.Series, account: str | pl.Series, rule: str, value: object
) -> pl.DataFrame:
    """Hits of ``rule`` on the rows of ``df`` where ``mask`` holds, about ``account`` (a column name or a
    column), measuring ``value`` (a number or a column)."""
    accounts = df[account] if isinstance(account, str) else account
    values = np.broadcast_to(np.asarray(value, dtype=np.float64), (df.height,))
    base = pl.DataFrame(
        {
            "seq": df["seq"],
            "tx_id": df["tx_id"],
            "account": accounts,
            "rule": pl.Series([rule] * df.height, dtype=pl.String),
            "value": pl.Series(values, dtype=pl.Float64),
            "support": pl.Series([""] * df.height, dtype=pl.String),
        }
    )
    return base.filter(pl.Series(np.asarray(mask, dtype=bool)))


def _sides(df: pl.DataFrame, mask: pl.Expr | None = None) -> pl.DataFrame:
    """One row per (transaction, account touched), sorted by account then processing order: ``inflow`` and
    ``outflow`` hold the amount in cents on the side where the money moved (the cash drawer has no side)."""
    base = df if mask is None else df.filter(mask)
    base = base.filter(pl.col("orig_account") != pl.col("bene_account"))
    out = base.filter(pl.col("orig_account") != CASH_ACCOUNT).select(
        "seq",
        "t",
        "tx_id",
        "amount_cents",
        pl.col("orig_account").alias("account"),
        pl.lit(0, pl.Int64).alias("inflow"),
        pl.col("amount_cents").alias("outflow"),
    )
    inn = base.filter(pl.col("bene_account") != CASH_ACCOUNT).select(
        "seq",
        "t",
        "tx_id",
        "amount_cents",
        pl.col("bene_account").alias("account"),
        pl.col("amount_cents").alias("inflow"),
        pl.lit(0, pl.Int64).alias("outflow"),
    )
    return pl.concat([out, inn]).sort("account", "seq")


def _run_codes(column: pl.Series) -> np.ndarray:
    """Consecutive group numbers of a column sorted by group (0, 0, 1, 2, 2, …): no string sort needed."""
    return (column != column.shift(1)).fill_null(True).cum_sum().to_numpy().astype(np.int64)


def _windows(sides: pl.DataFrame, reach: int) -> Windows:
    return Windows.of(_run_codes(sides["account"]), sides["t"].to_numpy(), reach)


def cash_rules(df: pl.DataFrame, rules: Rules) -> list[pl.DataFrame]:
    """CTR aggregation, structuring, amounts just under thresholds, split cash in a day."""
    p = rules.params
    cash = df.filter(pl.col("is_cash") & (pl.col("person") != CASH_ACCOUNT))
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
    out.append(_hits(cash, cash.select(crossing).to_series(), "person", "ctr_aggregate", cash["day_sum"].to_numpy()))
    split = cash["day_count"] >= p.split_min_transactions
    out.append(_hits(cash, split, "person", "split_cash_same_day", cash["day_count"].to_numpy()))
    amounts = cash["amount_cents"].to_numpy()
    under = np.zeros(len(amounts), dtype=bool)
    for threshold in p.just_under_thresholds_cents:
        floor = int(threshold - threshold * p.just_under_margin)
        under |= (amounts >= floor) & (amounts < threshold)
    out.append(_hits(cash, under, "person", "just_under_threshold", amounts))

    small = cash.filter(pl.col("amount_cents") <= p.structuring_threshold_cents).sort("person", "direction", "seq")
    if small.height:
        codes = _run_codes(small.select(pl.concat_str("person", "direction")).to_series())
        days = p.structuring_window_business_days
        win = Windows.of(codes, small["bday"].to_numpy(), days)
        total = win.sum(small["amount_cents"].to_numpy(), days)
        count = win.sum(np.ones(small.height, dtype=np.int64), days)
        hit = (total > p.structuring_threshold_cents) & (count >= p.structuring_min_transactions)
        out.append(_hits(small, hit, "person", "structuring", total))
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
    out = [_hits(sides, rapid, sides["account"], "rapid_movement", ratio)]

    ones = np.ones(len(t), dtype=np.int64)
    w, b = p.velocity_window_days * DAY, p.velocity_baseline_days * DAY
    recent = win.sum(ones, w)
    base = win.sum_between(ones, w + b, w)
    first_t = sides.select(pl.col("t").min().over("account")).to_series().to_numpy()
    expected = base * (w / b)
    spike = (
        (first_t <= t - w - b)
        & (recent >= p.velocity_min_transactions)
        & (recent >= p.velocity_factor * np.maximum(expected, 1.0))
    )
    out.append(_hits(sides, spike, sides["account"], "velocity_spike", recent))

    previous = sides.select(pl.col("t").shift(1).over("account")).to_series().to_numpy()
    gap = t - np.nan_to_num(previous.astype(np.float64), nan=np.inf)
    amounts = sides["amount_cents"].to_numpy()
    dormant = (gap >= p.dormant_days * DAY) & (amounts >= p.dormant_min_amount_cents)
    out.append(_hits(sides, dormant, sides["account"], "dormant_reactivation", np.where(dormant, gap / DAY, 0)))
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
        out.append(_hits(sides, np.ones(sides.height, dtype=bool), sides["account"], rule, sides["amount_cents"]))
    return out


def _first_seen(df: pl.DataFrame) -> pl.DataFrame:
    """When each account first paid or was paid (the start of the bank's history of it)."""
    moved = df.filter(pl.col("orig_account") != pl.col("bene_account"))
    both = pl.concat(
        [
            moved.select(pl.col("orig_account").alias("account"), "t"),
            moved.select(pl.col("bene_account").alias("account"), "t"),
        ]
    )
    return both.group_by("account").agg(pl.col("t").min().alias("first_t"))


def relationship_rules(df: pl.DataFrame, rules: Rules) -> list[pl.DataFrame]:
    """New relationships, fan-in, fan-out and pass-through, on the graph's fresh edges."""
    p = rules.params
    out = []
    firsts = _sides(df, pl.col("cand_first"))
    if firsts.height:
        firsts = firsts.join(_first_seen(df), on="account", how="left", maintain_order="left")
        seasoned = firsts["first_t"].to_numpy() <= firsts["t"].to_numpy() - rules.network.min_history_days * DAY
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
        out.append(
            _hits(firsts, seasoned & (known <= p.new_rel_baseline_max), firsts["account"], "new_relationship", known)
        )
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
            out.append(_hits(firsts, hit, firsts["account"], rule, recent))

    fresh = _sides(df, pl.col("fresh"))
    if fresh.height:
        fresh = fresh.join(_first_seen(df), on="account", how="left", maintain_order="left")
        seasoned = fresh["first_t"].to_numpy() <= fresh["t"].to_numpy() - rules.network.min_history_days * DAY
        back = p.pass_through_window_days * DAY
        win = _windows(fresh, back)
        inflow = fresh["inflow"].to_numpy()
        outflow = fresh["outflow"].to_numpy()
        received = win.sum(inflow, back, include_self=False)
        hit = seasoned & (outflow > 0) & (received > 0) & (received >= p.pass_through_min_ratio * outflow)
        out.append(_hits(fresh, hit, fresh["account"], "pass_through", received / np.maximum(outflow, 1)))
    return out


def cycle_rule(df: pl.DataFrame, rules: Rules) -> list[pl.DataFrame]:
    """Funds returning within ``max_hops`` hops (:mod:`.cycles`), searched only where a cycle can close."""
    p = rules.params
    fresh = df.filter(pl.col("fresh")).select("seq", "t", "tx_id", "orig_account", "bene_account", "amount_cents")
    if fresh.height < 3:
        return []
    back = p.cycle_window_days * DAY
    sides = _sides(fresh)
    win = _windows(sides, back)
    received = win.sum(sides["inflow"].to_numpy() > 0, back, include_self=False)
    sent = win.sum(sides["outflow"].to_numpy() > 0, back, include_self=False)
    flags = sides.select("seq", "account").with_columns(
        pl.Series("received", received > 0), pl.Series("sent", sent > 0)
    )
    # A payment a → b can close a cycle only if a received and b sent a fresh payment earlier in the window.
    orig_ok = flags.filter(pl.col("received")).select("seq", pl.col("account").alias("orig_account"))
    bene_ok = flags.filter(pl.col("sent")).select("seq", pl.col("account").alias("bene_account"))
    possible = set(
        fresh.join(orig_ok, on=["seq", "orig_account"]).join(bene_ok, on=["seq", "bene_account"])["seq"].to_list()
    )
    index = EdgeIndex()
    rows: list[tuple[int, str, str, str, float, str]] = []
    for seq, t, tx_id, orig, bene, amount in fresh.iter_rows():
        edge = Edge(seq, t, orig, bene, amount, tx_id)
        if seq in possible:
            path = closing_path(
                index, edge, max_hops=p.cycle_max_hops, window_seconds=back, tolerance=p.cycle_amount_tolerance
            )
            if path is not None:
                rows.append((seq, tx_id, orig, "cycle", float(len(path) + 1), ";".join(e.tx_id for e in path)))
        index.add(edge)
    return [pl.DataFrame(rows, schema=HITS_SCHEMA, orient="row")]


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
    parts = [part.select(list(HITS_SCHEMA)).cast(HITS_SCHEMA) for part in parts if part.height]
    hits = pl.concat(parts) if parts else pl.DataFrame(schema=HITS_SCHEMA)
    return df, hits.sort("seq", "rule", "account")
