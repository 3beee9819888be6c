"""Transactions as a polars table, and the per-transaction facts every rule reads.

The batch engine works on columns, not objects: :func:`frame_of` turns :class:`~..transactions.Transaction`
objects into a table with the schema :data:`SCHEMA` (amounts in integer cents, so $10,000.00 and $10,000.01
compare exactly), and :func:`prepare` orders it and adds what the rules need:

- ``seq`` — the processing order: by timestamp, ties kept in input order. The streaming engine is fed in the
  same order, and every window is *causal*: a rule at row ``seq`` sees rows ``<= seq`` only.
- ``t`` — whole seconds since the epoch (windows are in seconds in both engines);
- ``bday`` — the consecutive number of the business day the bank posts the transaction on (cut-off, weekends,
  US federal holidays, :mod:`.business_days`);
- cash facts — ``is_cash``, the ``person`` a currency transaction is made for and its direction (in, out);
- relationship facts — ``candidate`` (a non-cash transfer of at least the network minimum between two accounts),
  ``cand_first`` (the first candidate payment of its ordered pair of accounts: a *new relationship*) and
  ``fresh`` (a candidate payment on a relationship at most ``fresh_days`` old).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

from consortia.apps.aml.domain.monitoring.business_days import number_of_business_date
from consortia.apps.aml.domain.monitoring.config import Rules
from consortia.apps.aml.domain.transactions import CASH_ACCOUNT, CASH_DEPOSIT, CASH_TYPES, Transaction

SCHEMA: dict[str, pl.DataType] = {
    "tx_id": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
    "orig_account": pl.String(),
    "bene_account": pl.String(),
    "amount_cents": pl.Int64(),
    "currency": pl.String(),
    "tx_type": pl.String(),
    "orig_country": pl.String(),
    "bene_country": pl.String(),
}
"""The columns of a transactions table, as the engines read it."""

DAY = 86_400
HOUR = 3_600


def cents(amount: Decimal) -> int:
    """Whole cents of an amount, a fraction of a cent rounded half up (as the CSV readers do)."""
    return int((Decimal(amount) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def frame_of(transactions: Iterable[Transaction]) -> pl.DataFrame:
    """A transactions table (schema :data:`SCHEMA`) from transaction objects, in their order."""
    rows = [
        (
            tx.tx_id,
            tx.timestamp.astimezone(UTC),
            tx.orig_account,
            tx.bene_account,
            cents(tx.amount),
            tx.currency,
            tx.tx_type,
            tx.orig_country,
            tx.bene_country,
        )
        for tx in transactions
    ]
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def transactions_of(frame: pl.DataFrame) -> list[Transaction]:
    """Transaction objects from a transactions table, in its row order."""
    return [
        Transaction(
            tx_id=row[0],
            timestamp=row[1],
            orig_account=row[2],
            bene_account=row[3],
            amount=Decimal(row[4]) / 100,
            currency=row[5],
            tx_type=row[6],
            orig_country=row[7],
            bene_country=row[8],
        )
        for row in frame.select(list(SCHEMA)).iter_rows()
    ]


def _bday_numbers(frame: pl.DataFrame, rules: Rules) -> pl.Series:
    """The business-day number of every row (vectorised: one calendar look-up per distinct posting date)."""
    cutoff = rules.calendar.cutoff
    cutoff_seconds = cutoff.hour * HOUR + cutoff.minute * 60 + cutoff.second
    local = pl.col("timestamp").dt.convert_time_zone(rules.calendar.timezone)
    seconds = local.dt.hour().cast(pl.Int64) * HOUR + local.dt.minute().cast(pl.Int64) * 60 + local.dt.second()
    # At or after the cut-off a transaction counts for the next calendar day (then weekends and holidays roll on).
    posted = frame.select(
        (local.dt.date() + pl.duration(days=(seconds >= cutoff_seconds).cast(pl.Int64))).alias("posted")
    )
    unique = posted["posted"].unique()
    lookup = pl.DataFrame(
        {"posted": unique, "bday": [number_of_business_date(d) for d in unique.to_list()]},
        schema={"posted": pl.Date(), "bday": pl.Int64()},
    )
    return posted.join(lookup, on="posted", how="left", maintain_order="left")["bday"]


def prepare(frame: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """The table in processing order with the facts every rule reads (see the module docstring)."""
    net = rules.network
    df = frame.select(list(SCHEMA)).with_row_index("row").sort("timestamp", "row", maintain_order=True)
    df = df.drop("row").with_row_index("seq").with_columns(pl.col("seq").cast(pl.Int64))
    df = df.with_columns(
        (pl.col("timestamp").dt.epoch("s")).alias("t"),
        _bday_numbers(df, rules).alias("bday"),
        pl.col("tx_type").is_in(list(CASH_TYPES)).alias("is_cash"),
    )
    deposit = pl.col("tx_type") == CASH_DEPOSIT
    candidate = (
        ~pl.col("is_cash")
        & (pl.col("amount_cents") >= net.min_amount_cents)
        & (pl.col("orig_account") != pl.col("bene_account"))
        & (pl.col("orig_account") != CASH_ACCOUNT)
        & (pl.col("bene_account") != CASH_ACCOUNT)
    )
    df = df.with_columns(
        pl.when(deposit).then(pl.col("bene_account")).otherwise(pl.col("orig_account")).alias("person"),
        pl.when(deposit).then(pl.lit("in")).otherwise(pl.lit("out")).alias("direction"),
        candidate.alias("candidate"),
    )
    # Integer ids of the accounts: sorting and grouping by an integer is far cheaper than by a string.
    accounts = pl.concat([df["orig_account"], df["bene_account"]]).unique().sort()
    ids = pl.Series(range(len(accounts)), dtype=pl.Int64)
    df = df.with_columns(
        pl.col("orig_account").replace_strict(accounts, ids, return_dtype=pl.Int64).alias("orig_id"),
        pl.col("bene_account").replace_strict(accounts, ids, return_dtype=pl.Int64).alias("bene_id"),
    )
    pair = ["orig_id", "bene_id"]
    first = (
        df.filter(pl.col("candidate"))
        .group_by(pair)
        .agg(pl.col("seq").min().alias("pair_first_seq"), pl.col("t").min().alias("pair_first_t"))
    )
    df = df.join(first, on=pair, how="left", maintain_order="left")
    return df.with_columns(
        (pl.col("candidate") & (pl.col("seq") == pl.col("pair_first_seq"))).alias("cand_first"),
        (pl.col("candidate") & ((pl.col("t") - pl.col("pair_first_t")) <= net.fresh_days * DAY)).alias("fresh"),
    )
