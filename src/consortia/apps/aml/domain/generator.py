"""Labelled synthetic transactions: money-laundering typologies planted amid the ordinary life of a bank.

A detector tuned on uniform random transfers learns nothing: every real bank sees patterns that *look* like
laundering and are not. This generator makes both, deterministically from a seed:

**Normal behaviour** (a retail and small-business bank):

- people paid by their *employer* every other Friday, all employees on the same day (a fan-out that repeats);
- *rent* on the first of the month and monthly *subscriptions* (fixed days, fixed amounts);
- *retail purchases* at favourite merchants (a merchant is paid by many customers: a fan-in every day), and
  occasional *large-ticket purchases* (furniture, cars' down payments) at a few big-ticket merchants, which pay
  some of them back as *refunds*;
- *suppliers* paid by employers and merchants; *cash-intensive businesses* depositing cash most business days;
- ATM *cash withdrawals*, occasional cash deposits;
- *people settling up in small circles* of friends (cycles of small amounts), *loans* between friends repaid in
  round instalments (two-account cycles), *one-off payments* to strangers, *short-lived relationships* (a
  contractor paid a few times over some weeks) — and round amounts everywhere (rent, loans, contractors).

**Laundering** (IBM AMLSim's typologies, plus structuring), on existing accounts that keep their normal life,
starting after a warm-up month (the bank's history of its customers): ``fan_in``, ``fan_out``, ``cycle``,
``bipartite``, ``stack``, ``random``, ``scatter_gather``, ``gather_scatter`` — new relationships active together
in the same weeks, repeated for one to three weekly rounds, amounts between $1,000 and $9,500 with a small cut
at each hop (layered typologies split what a layer received among the next layer's accounts, stage by stage
within a few days; chains move one payment after another) — and ``structuring``: cash deposits just under
$10,000 on consecutive business days, or split across branches on one day.

Output: :class:`Dataset`, a polars table in the native schema (:data:`NATIVE_COLUMNS`) plus the labels
(``is_sar``, ``alert_id`` = the planted pattern, ``typology``), and the planted :class:`Pattern` list. Two CSV
formats are written from it (as text; the command line writes files):

- **AMLSim** (:func:`to_amlsim_csv`): ``tran_id,orig_acct,bene_acct,tx_type,base_amt,tran_timestamp,is_sar,
  alert_id`` — IBM AMLSim's converted ``transactions.csv``; timestamps ISO 8601 UTC with ``Z``, ``alert_id`` -1
  for normal transactions, tx_type upper case (``TRANSFER``, ``WIRE``, ``ACH``, ``CHECK``, ``CASH-IN``,
  ``CASH-OUT``).
- **native** (:func:`to_native_csv`): ``tx_id,timestamp,orig_account,bene_account,amount,currency,tx_type,
  orig_country,bene_country`` followed by the optional label columns ``is_sar,alert_id,typology`` (a scan never
  reads them); timestamps ISO 8601 with offset, amounts in dollars with two decimals, tx_type as in
  :mod:`.transactions` (``cash_deposit`` … ``check``). A cash deposit's originator, and a cash withdrawal's
  beneficiary, is the teller's drawer ``CASH``.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl

from consortia.apps.aml.domain.transactions import (
    ACH,
    CASH_ACCOUNT,
    CASH_DEPOSIT,
    CASH_WITHDRAWAL,
    CHECK,
    TRANSFER,
    WIRE,
)

TYPOLOGIES = (
    "fan_in",
    "fan_out",
    "cycle",
    "bipartite",
    "stack",
    "random",
    "scatter_gather",
    "gather_scatter",
    "structuring",
)
"""The laundering typologies the generator plants (AMLSim's eight, plus structuring)."""

NATIVE_COLUMNS = (
    "tx_id",
    "timestamp",
    "orig_account",
    "bene_account",
    "amount",
    "currency",
    "tx_type",
    "orig_country",
    "bene_country",
)
"""The native CSV format's columns, in order (label columns may follow)."""

AMLSIM_COLUMNS = ("tran_id", "orig_acct", "bene_acct", "tx_type", "base_amt", "tran_timestamp", "is_sar", "alert_id")
"""IBM AMLSim's converted transactions CSV."""

AMLSIM_TYPES = {
    TRANSFER: "TRANSFER",
    WIRE: "WIRE",
    ACH: "ACH",
    CHECK: "CHECK",
    CASH_DEPOSIT: "CASH-IN",
    CASH_WITHDRAWAL: "CASH-OUT",
}
"""How the native transaction types are written in the AMLSim format."""


@dataclass(frozen=True)
class GeneratorConfig:
    """How much data to make, and from which seed."""

    seed: int
    people: int = 1500
    days: int = 120
    start: date = date(2026, 1, 5)
    warmup_days: int = 35
    patterns_per_typology: int | None = None
    """How many patterns of each typology; by default one for every 250 customers (six for 1,500)."""

    def __post_init__(self) -> None:
        if self.people < 50:
            raise ValueError(f"expected at least 50 customers, found {self.people}")
        if self.days < self.warmup_days + 28:
            raise ValueError(
                f"expected at least {self.warmup_days + 28} days (a {self.warmup_days}-day warm-up and four weeks "
                f"of patterns), found {self.days}"
            )

    @property
    def patterns(self) -> int:
        """Patterns planted per typology."""
        return self.patterns_per_typology if self.patterns_per_typology is not None else max(1, self.people // 250)


@dataclass(frozen=True)
class Pattern:
    """One planted laundering pattern: its id (the AMLSim ``alert_id``), typology and accounts."""

    pattern_id: str
    typology: str
    accounts: tuple[str, ...]


@dataclass(frozen=True)
class Dataset:
    """Generated transactions (native schema with amounts in cents, plus labels) and the planted patterns."""

    frame: pl.DataFrame
    """Columns: the monitoring schema (:data:`.monitoring.frame.SCHEMA`) plus ``is_sar``, ``alert_id``,
    ``typology``."""
    patterns: tuple[Pattern, ...]
    config: GeneratorConfig


class _Builder:
    """Collects rows; amounts in cents."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.rows: list[tuple] = []
        origin = datetime(config.start.year, config.start.month, config.start.day, tzinfo=UTC)
        # Instants are seconds since the epoch while generating (cheap), datetimes in the table.
        self.origin_s = int(origin.timestamp())
        self.end_s = self.origin_s + config.days * 86_400

    def at(self, day: int, hour_lo: float = 13.0, hour_hi: float = 23.0) -> float:
        """An instant on ``day`` (days since the start) between two UTC hours (13-23 UTC: New York daytime)."""
        seconds = int(self.rng.uniform(hour_lo, hour_hi) * 3600)
        return self.origin_s + day * 86_400 + seconds

    def add(
        self,
        when: float,
        orig: str,
        bene: str,
        cents: int,
        tx_type: str,
        pattern: Pattern | None = None,
    ) -> None:
        if cents <= 0 or when >= self.end_s:
            return
        self.rows.append(
            (
                int(when),  # whole seconds, as both CSV formats write them
                orig,
                bene,
                int(cents),
                tx_type,
                pattern is not None,
                pattern.pattern_id if pattern else None,
                pattern.typology if pattern else None,
            )
        )


def _money(rng: random.Random, lo: float, hi: float, step: float = 0.01) -> int:
    """Cents between ``lo`` and ``hi`` dollars, in multiples of ``step`` dollars."""
    units = rng.randint(round(lo / step), round(hi / step))
    return round(units * step * 100)


def _normal(b: _Builder, people: list[str]) -> None:
    rng, days = b.rng, b.config.days
    n = len(people)
    employers = [f"EMP{i:03d}" for i in range(max(3, n // 100))]
    landlords = [f"LLD{i:03d}" for i in range(max(3, n // 50))]
    subscriptions = [(f"SUB{i:02d}", c) for i, c in enumerate((999, 1499, 1099, 5000, 2999, 799, 6500, 1299))]
    merchants = [f"MER{i:03d}" for i in range(max(10, n // 40))]
    big_ticket = [f"BIG{i:02d}" for i in range(max(2, n // 400))]
    suppliers = [f"SUP{i:03d}" for i in range(max(5, n // 80))]
    cash_businesses = [f"CSH{i:02d}" for i in range(max(3, n // 150))]

    def weekdays_from(first: int, every: int) -> range:
        return range(first, days, every)

    # Payroll: every other Friday, every employee of an employer on the same day (ACH).
    staff: dict[str, list[tuple[str, int]]] = {e: [] for e in employers}
    for person in people:
        if rng.random() < 0.85:
            salary = _money(rng, 1400, 4800, 25)
            staff[rng.choice(employers)].append((person, salary))
    first_friday = (4 - b.config.start.weekday()) % 7
    for employer, members in staff.items():
        for day in weekdays_from(first_friday, 14):
            when = b.at(day, 13, 14)
            for person, salary in members:
                b.add(when + rng.randint(0, 600), employer, person, salary, ACH)
        # The employer pays its suppliers monthly: established business relationships.
        mine = rng.sample(suppliers, k=min(3, len(suppliers)))
        for month_day in range(2, days, 30):
            for supplier in mine:
                b.add(b.at(month_day + rng.randint(0, 3)), employer, supplier, _money(rng, 2000, 40000, 100), WIRE)
        # Revenue comes in from customers' businesses (outside the bank: the employer's own deposits).
        for week in range(0, days, 7):
            b.add(b.at(week + rng.randint(0, 4)), "EXT-CLIENTS", employer, _money(rng, 20000, 90000, 1), WIRE)

    for person in people:
        # Rent on the first of each month (round amounts), subscriptions on fixed days.
        if rng.random() < 0.7:
            landlord, rent = rng.choice(landlords), _money(rng, 1100, 2900, 50)
            offset = rng.randint(-2, 2)
            for month in range(0, days, 30):
                b.add(b.at(max(0, month + offset)), person, landlord, rent, ACH)
        for name, amount in rng.sample(subscriptions, k=rng.randint(0, 3)):
            day0 = rng.randint(0, 29)
            for month in range(day0, days, 30):
                b.add(b.at(month), person, name, amount, ACH)
        # Retail purchases at favourite merchants, refunds now and then.
        favourites = rng.sample(merchants, k=min(4, len(merchants)))
        for day in range(days):
            for _ in range(rng.choices((0, 1, 2), weights=(50, 40, 10))[0]):
                merchant = rng.choice(favourites) if rng.random() < 0.8 else rng.choice(merchants)
                amount = _money(rng, 4, 220)
                when = b.at(day)
                b.add(when, person, merchant, amount, TRANSFER)
                if rng.random() < 0.02:
                    b.add(when + 86_400 * rng.randint(2, 10), merchant, person, amount, TRANSFER)
        # ATM withdrawals, occasional cash deposits.
        for day in range(rng.randint(0, 6), days, rng.randint(5, 12)):
            b.add(b.at(day), person, CASH_ACCOUNT, _money(rng, 40, 400, 20), CASH_WITHDRAWAL)
        if rng.random() < 0.15:
            for _ in range(rng.randint(1, 3)):
                b.add(b.at(rng.randrange(days)), CASH_ACCOUNT, person, _money(rng, 100, 2500, 10), CASH_DEPOSIT)
        # A large-ticket purchase (new relationship, large, often round), sometimes refunded.
        if rng.random() < 0.12:
            merchant, day = rng.choice(big_ticket), rng.randrange(days)
            amount = _money(rng, 800, 6000, rng.choice((0.01, 100, 500)))
            b.add(b.at(day), person, merchant, amount, rng.choice((TRANSFER, CHECK)))
            if rng.random() < 0.15:
                b.add(b.at(day + rng.randint(3, 20)), merchant, person, amount, TRANSFER)
        # One-off payments to strangers (most small, some large and round).
        for day in range(days):
            if rng.random() < 0.01:
                amount = _money(rng, 20, 300) if rng.random() < 0.8 else _money(rng, 500, 4000, 100)
                b.add(b.at(day), person, rng.choice(people), amount, TRANSFER)

    # Big-ticket merchants and shops pay their suppliers weekly; cash businesses deposit most business days.
    for merchant in merchants + big_ticket:
        supplier = rng.choice(suppliers)
        for week in range(rng.randint(0, 6), days, 7):
            b.add(b.at(week), merchant, supplier, _money(rng, 1500, 25000, 1), WIRE)
    for shop in cash_businesses:
        for day in range(days):
            if (b.config.start + timedelta(days=day)).weekday() < 5 and rng.random() < 0.8:
                b.add(b.at(day, 20, 21.5), CASH_ACCOUNT, shop, _money(rng, 400, 8000, 1), CASH_DEPOSIT)
        for week in range(0, days, 7):
            b.add(b.at(week + 1), shop, rng.choice(suppliers), _money(rng, 2000, 12000, 1), CHECK)

    # Friends settling up in small circles: small amounts around the circle, sometimes a shared trip.
    shuffled = people[:]
    rng.shuffle(shuffled)
    circles = [shuffled[i : i + rng.randint(3, 5)] for i in range(0, n // 3, 5)]
    for circle in circles:
        for day in range(rng.randint(0, 9), days, rng.randint(5, 14)):
            payer, payee = rng.sample(circle, 2)
            b.add(b.at(day), payer, payee, _money(rng, 10, 160), TRANSFER)
        if rng.random() < 0.3:
            host, day = circle[0], rng.randrange(days)
            share = _money(rng, 300, 1400, 50)
            for friend in circle[1:]:
                b.add(b.at(day + rng.randint(0, 3)), friend, host, share, TRANSFER)
        # A loan between two friends, repaid in round instalments.
        if rng.random() < 0.25:
            lender, borrower = rng.sample(circle, 2)
            loan, day = _money(rng, 1000, 6000, 500), rng.randrange(days)
            b.add(b.at(day), lender, borrower, loan, TRANSFER)
            parts = rng.randint(2, 4)
            for k in range(parts):
                b.add(b.at(day + 14 * (k + 1)), borrower, lender, loan // parts, TRANSFER)

    # Short-lived relationships: a contractor paid a few times over a few weeks.
    for _ in range(n // 20):
        client, contractor = rng.sample(people, 2)
        day = rng.randrange(days)
        for k in range(rng.randint(2, 4)):
            b.add(b.at(day + 7 * k + rng.randint(0, 3)), client, contractor, _money(rng, 300, 2500, 50), CHECK)


def _laundering(b: _Builder, pool: list[str]) -> list[Pattern]:
    rng, cfg = b.rng, b.config
    patterns: list[Pattern] = []
    counter = 0

    def take(k: int) -> list[str]:
        if len(pool) < k:
            raise ValueError(
                f"{cfg.people} customers are too few for {cfg.patterns} patterns of each typology: "
                "expected more customers or fewer patterns"
            )
        return [pool.pop() for _ in range(k)]

    def amount(base: int | None = None, cut: float = 0.0) -> int:
        if base is None:
            return _money(rng, 1000, 9500, rng.choice((0.01, 1, 100)))
        return max(100_00, int(base * (1 - cut) * rng.uniform(0.985, 1.0)))

    def start_day() -> int:
        return rng.randint(cfg.warmup_days, cfg.days - 28)

    order = [t for t in TYPOLOGIES for _ in range(cfg.patterns)]
    rng.shuffle(order)
    for typology in order:
        counter += 1
        pid = f"{counter}"
        rounds = rng.randint(1, 3)
        day0 = start_day()
        kind = rng.choice((TRANSFER, WIRE))
        if typology == "fan_in":
            members = take(rng.randint(5, 9) + 1)
            hub, sources = members[0], members[1:]
            edges = [(s, hub) for s in sources]
        elif typology == "fan_out":
            members = take(rng.randint(5, 9) + 1)
            hub, targets = members[0], members[1:]
            edges = [(hub, t) for t in targets]
        elif typology == "cycle":
            members = take(rng.randint(3, 6))
            edges = [(members[i], members[(i + 1) % len(members)]) for i in range(len(members))]
        elif typology == "bipartite":
            left, right = take(rng.randint(3, 5)), take(rng.randint(3, 5))
            members = left + right
            edges = [(s, t) for s in left for t in right if rng.random() < 0.85]
        elif typology == "stack":
            layers = [take(rng.randint(2, 4)) for _ in range(3)]
            members = [a for layer in layers for a in layer]
            edges = [(s, t) for i in range(2) for s in layers[i] for t in layers[i + 1]]
        elif typology == "random":
            members = take(rng.randint(4, 7))
            edges = []
            current = members[0]
            for _ in range(rng.randint(len(members), len(members) + 3)):
                nxt = rng.choice([m for m in members if m != current])
                edges.append((current, nxt))
                current = nxt
        elif typology == "scatter_gather":
            members = take(rng.randint(4, 7) + 2)
            source, sink, middles = members[0], members[1], members[2:]
            edges = [(source, m) for m in middles] + [(m, sink) for m in middles]
        elif typology == "gather_scatter":
            members = take(rng.randint(8, 12) + 1)
            hub, rest = members[0], members[1:]
            half = len(rest) // 2
            edges = [(s, hub) for s in rest[:half]] + [(hub, t) for t in rest[half:]]
        else:  # structuring
            members = take(1)
            edges = []
        pattern = Pattern(pid, typology, tuple(members))
        patterns.append(pattern)

        for r in range(rounds):
            day = day0 + 7 * r
            if typology == "structuring":
                person = members[0]
                if rng.random() < 0.5:  # just under $10,000 on consecutive business days
                    d = day
                    for _ in range(rng.randint(2, 4)):
                        while (cfg.start + timedelta(days=d)).weekday() >= 5:
                            d += 1
                        b.add(b.at(d, 14, 20), CASH_ACCOUNT, person, _money(rng, 9000, 9950, 10), CASH_DEPOSIT, pattern)
                        d += 1
                else:  # more than $10,000 split across branches on one day, every deposit well under it
                    while (cfg.start + timedelta(days=day)).weekday() >= 5:
                        day += 1
                    parts = rng.randint(3, 4)
                    total = _money(rng, 10_500, 4_800 * parts, 10)
                    for k in range(parts):
                        share = total // parts + (total % parts if k == 0 else 0)
                        b.add(b.at(day, 13.5, 20.5), CASH_ACCOUNT, person, share, CASH_DEPOSIT, pattern)
                continue
            when = b.at(day)
            base = amount()
            sequential = typology in ("cycle", "random", "stack", "scatter_gather", "gather_scatter")
            layered = typology in ("stack", "scatter_gather", "gather_scatter")
            # Layers move money stage by stage: every payment of a stage within hours, the next stage a day or so
            # later (a chain — cycle, random — moves one payment after another).
            level: dict[str, int] = {}
            for s, t in edges:
                level[t] = max(level.get(t, 0), level.get(s, 0) + 1)
            # (Drawn from a generator of their own, so the other patterns and the normal data stay as they were.)
            pace = random.Random(f"{cfg.seed}/{pid}/{r}")
            stages = [when]
            for _ in range(max(level.values(), default=0) + 1):
                stages.append(stages[-1] + 3_600 * pace.uniform(18, 40))
            received: dict[str, int] = {}
            for s, t in edges:
                if sequential:
                    if layered:
                        when = stages[level.get(s, 0)] + 3_600 * rng.uniform(0, 8)
                    else:
                        when = when + 3_600 * rng.uniform(4, 30)
                    value = amount(received.get(s, base), 0.02 if s in received else 0.0)
                    if layered and s in received:
                        outs = sum(1 for e in edges if e[0] == s)
                        value = max(100_00, int(received[s] / outs * rng.uniform(0.96, 0.99)))
                    if typology == "gather_scatter" and s not in received and t == members[0]:
                        value = amount()
                else:
                    when = b.at(day + rng.randint(0, 3))
                    value = amount(base, 0.0)
                received[t] = received.get(t, 0) + value if typology != "cycle" else value
                b.add(when, s, t, value, kind, pattern)
    return patterns


def generate(config: GeneratorConfig) -> Dataset:
    """Labelled transactions for ``config`` (the same config always gives the same data)."""
    b = _Builder(config)
    people = [f"ACC{i:06d}" for i in range(config.people)]
    _normal(b, people)
    pool = people[:]
    b.rng.shuffle(pool)
    planned = _laundering(b, pool)
    rows = sorted(b.rows, key=lambda r: (r[0], r[1], r[2], r[3]))
    # A pattern's accounts are those its payments actually touched (a random walk may skip a member).
    touched: dict[str, set[str]] = {p.pattern_id: set() for p in planned}
    for row in rows:
        if row[6] is not None:
            touched[row[6]].update(a for a in (row[1], row[2]) if a != CASH_ACCOUNT)
    patterns = [
        Pattern(p.pattern_id, p.typology, tuple(a for a in p.accounts if a in touched[p.pattern_id]))
        for p in planned
        if touched[p.pattern_id]
    ]
    frame = pl.DataFrame(
        rows,
        schema={
            "timestamp": pl.Int64(),
            "orig_account": pl.String(),
            "bene_account": pl.String(),
            "amount_cents": pl.Int64(),
            "tx_type": pl.String(),
            "is_sar": pl.Boolean(),
            "alert_id": pl.String(),
            "typology": pl.String(),
        },
        orient="row",
    )
    frame = frame.with_row_index("n").select(
        pl.format("T{}", pl.col("n").cast(pl.String).str.zfill(8)).alias("tx_id"),
        pl.from_epoch("timestamp", "s").dt.replace_time_zone("UTC").dt.cast_time_unit("us").alias("timestamp"),
        "orig_account",
        "bene_account",
        "amount_cents",
        pl.lit("USD").alias("currency"),
        "tx_type",
        pl.lit("US").alias("orig_country"),
        pl.lit("US").alias("bene_country"),
        "is_sar",
        "alert_id",
        "typology",
    )
    return Dataset(frame, tuple(patterns), config)


def _dollars(cents: pl.Expr) -> pl.Expr:
    return pl.format("{}.{}", cents // 100, (cents % 100).cast(pl.String).str.zfill(2))


def to_amlsim_csv(dataset: Dataset) -> str:
    """The dataset in IBM AMLSim's converted transactions format (labels included, as AMLSim writes them)."""
    out = dataset.frame.select(
        pl.col("tx_id").alias("tran_id"),
        pl.col("orig_account").alias("orig_acct"),
        pl.col("bene_account").alias("bene_acct"),
        pl.col("tx_type").replace_strict(AMLSIM_TYPES, default=pl.col("tx_type").str.to_uppercase()).alias("tx_type"),
        _dollars(pl.col("amount_cents")).alias("base_amt"),
        pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("tran_timestamp"),
        pl.col("is_sar").cast(pl.String).str.to_lowercase().alias("is_sar"),
        pl.col("alert_id").fill_null("-1").alias("alert_id"),
    )
    return out.write_csv()


def to_native_csv(dataset: Dataset, *, labels: bool = True) -> str:
    """The dataset in the native format (see the module docstring); label columns only when ``labels``."""
    columns = [
        "tx_id",
        pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%:z").alias("timestamp"),
        "orig_account",
        "bene_account",
        _dollars(pl.col("amount_cents")).alias("amount"),
        "currency",
        "tx_type",
        "orig_country",
        "bene_country",
    ]
    if labels:
        columns += [pl.col("is_sar").cast(pl.String).str.to_lowercase(), pl.col("alert_id").fill_null(""), "typology"]
    return dataset.frame.select(columns).write_csv()


def csv_rows(text: str) -> list[dict[str, str]]:
    """Parse CSV text into dictionaries (a helper for tests and small tools)."""
    return list(csv.DictReader(io.StringIO(text)))
