"""The monitoring rules as data: ``rules.toml`` parsed into frozen dataclasses, every key checked.

A compliance officer tunes thresholds in the file, not in the code; each threshold carries its legal or industry
source beside it. This module turns the TOML text into :class:`Rules`, and a mistake — a missing key, a string
where a number belongs, a weight naming a rule that does not exist — is a :class:`RulesError` naming the key
(``rules.structuring.window_business_days: expected a positive integer, found -1``), never a silent default.
Amounts are exact: strings of dollars converted to integer cents, so $10,000.00 and $10,000.01 differ.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

RULE_NAMES = (
    "ctr_aggregate",
    "structuring",
    "just_under_threshold",
    "split_cash_same_day",
    "rapid_movement",
    "new_relationship",
    "fan_in",
    "fan_out",
    "pass_through",
    "cycle",
    "velocity_spike",
    "dormant_reactivation",
    "high_risk_jurisdiction",
    "round_amount",
)
"""Every rule the engines know, in the order they are evaluated."""

GROUP_RULES = ("recurring", "dense_group")
"""Pseudo-rules of network typologies, scored on a group of accounts rather than on one transaction."""


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the key, what was expected and what was found."""


@dataclass(frozen=True)
class CalendarRules:
    """The bank's business day: its time zone and the cut-off after which a transaction counts for the next day."""

    timezone: str
    cutoff: time
    source: str


@dataclass(frozen=True)
class NetworkRules:
    """Which transactions are edges of the graph the network typologies read."""

    min_amount_cents: int
    fresh_days: int
    min_history_days: int
    """An account's relationships are judged against its own history only once it has this much of it."""
    group_window_days: int
    source: str


@dataclass(frozen=True)
class RuleParams:
    """The parameters of every rule (one flat record: each rule reads its own fields)."""

    ctr_threshold_cents: int
    structuring_threshold_cents: int
    structuring_window_business_days: int
    structuring_min_transactions: int
    structuring_baseline_business_days: int
    structuring_baseline_factor: float
    just_under_thresholds_cents: tuple[int, ...]
    just_under_margin: Decimal
    split_min_transactions: int
    rapid_window_hours: int
    rapid_min_amount_cents: int
    rapid_min_ratio: float
    new_rel_baseline_days: int
    new_rel_baseline_max: int
    fan_in_window_days: int
    fan_in_min_counterparties: int
    fan_in_baseline_days: int
    fan_in_baseline_max: int
    fan_out_window_days: int
    fan_out_min_counterparties: int
    fan_out_baseline_days: int
    fan_out_baseline_max: int
    pass_through_window_days: int
    pass_through_min_ratio: float
    pass_through_baseline_days: int
    pass_through_baseline_max: int
    cycle_max_hops: int
    cycle_window_days: int
    cycle_amount_tolerance: float
    velocity_window_days: int
    velocity_baseline_days: int
    velocity_factor: float
    velocity_min_transactions: int
    dormant_days: int
    dormant_min_amount_cents: int
    high_risk_countries: frozenset[str]
    round_min_amount_cents: int
    round_multiple_cents: int
    sources: tuple[tuple[str, str], ...]
    """(rule, source) pairs, for the alert's explanation."""


@dataclass(frozen=True)
class Typology:
    """Weighted rules and the threshold their sum must reach, as Tazama scores a typology."""

    name: str
    kind: str
    """``account`` (scored per account) or ``network`` (scored per group of accounts active together)."""
    weights: tuple[tuple[str, float], ...]
    threshold: float
    window_days: int
    min_accounts: int
    reporting: bool
    """True for a report that is due (a CTR) rather than a suspicion; evaluation leaves it out."""
    source: str

    def weight(self, rule: str) -> float:
        """The weight of ``rule`` in this typology (0 when it does not count)."""
        return dict(self.weights).get(rule, 0.0)


@dataclass(frozen=True)
class Rules:
    """Everything ``rules.toml`` says."""

    version: int
    tuned_on_seeds: tuple[int, ...]
    calendar: CalendarRules
    network: NetworkRules
    params: RuleParams
    typologies: tuple[Typology, ...]

    def typology(self, name: str) -> Typology:
        """The typology called ``name``."""
        for typology in self.typologies:
            if typology.name == name:
                return typology
        raise KeyError(f"no typology {name!r}; known: {', '.join(t.name for t in self.typologies)}")


class _Reader:
    """Reads typed values out of nested tables, naming the dotted key in every error."""

    def __init__(self, table: dict[str, Any], prefix: str) -> None:
        self.table = table
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def raw(self, name: str) -> Any:
        if name not in self.table:
            raise RulesError(f"{self.key(name)}: missing")
        return self.table[name]

    def sub(self, name: str) -> _Reader:
        value = self.raw(name)
        if not isinstance(value, dict):
            raise RulesError(f"{self.key(name)}: expected a table, found {type(value).__name__}")
        return _Reader(value, self.key(name))

    def text(self, name: str) -> str:
        value = self.raw(name)
        if not isinstance(value, str) or not value.strip():
            raise RulesError(f"{self.key(name)}: expected a non-empty string, found {value!r}")
        return value

    def integer(self, name: str, minimum: int = 1) -> int:
        value = self.raw(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise RulesError(f"{self.key(name)}: expected an integer >= {minimum}, found {value!r}")
        return value

    def number(self, name: str, minimum: float = 0.0) -> float:
        value = self.raw(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise RulesError(f"{self.key(name)}: expected a number >= {minimum}, found {value!r}")
        return float(value)

    def decimal(self, name: str, value: Any = None) -> Decimal:
        value = self.raw(name) if value is None else value
        try:
            amount = Decimal(value) if isinstance(value, str) else None
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount <= 0:
            raise RulesError(
                f'{self.key(name)}: expected a positive decimal string such as "10000.00", found {value!r}'
            )
        return amount

    def cents(self, name: str, value: Any = None) -> int:
        amount = self.decimal(name, value)
        cents = amount * 100
        if cents != cents.to_integral_value():
            raise RulesError(
                f"{self.key(name)}: expected whole cents, found {value if value is not None else self.raw(name)!r}"
            )
        return int(cents)


def parse_rules(text: str) -> Rules:
    """Parse and validate the text of a rules file (TOML)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"rules file is not valid TOML: {exc}") from exc
    root = _Reader(document, "")
    meta = root.sub("meta")
    seeds = meta.raw("tuned_on_seeds")
    if not isinstance(seeds, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise RulesError(f"meta.tuned_on_seeds: expected a list of integers, found {seeds!r}")

    cal = root.sub("calendar")
    zone = cal.text("timezone")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RulesError(f"calendar.timezone: expected an IANA time zone, found {zone!r}") from exc
    cutoff_text = cal.text("cutoff")
    try:
        cutoff = time.fromisoformat(cutoff_text)
    except ValueError as exc:
        raise RulesError(f'calendar.cutoff: expected a time such as "17:00", found {cutoff_text!r}') from exc
    calendar = CalendarRules(zone, cutoff, cal.text("source"))

    net = root.sub("network")
    network = NetworkRules(
        net.cents("min_amount"),
        net.integer("fresh_days"),
        net.integer("min_history_days"),
        net.integer("group_window_days"),
        net.text("source"),
    )

    rules = root.sub("rules")
    for name in rules.table:
        if name not in RULE_NAMES:
            raise RulesError(f"rules.{name}: unknown rule; known: {', '.join(RULE_NAMES)}")
    r = {name: rules.sub(name) for name in RULE_NAMES}
    sources = tuple((name, r[name].text("source")) for name in RULE_NAMES)
    ju = r["just_under_threshold"]
    thresholds = ju.raw("thresholds")
    if not isinstance(thresholds, list) or not thresholds:
        raise RulesError(f"{ju.key('thresholds')}: expected a non-empty list of decimal strings, found {thresholds!r}")
    margin = ju.decimal("margin")
    if margin >= 1:
        raise RulesError(f"{ju.key('margin')}: expected a fraction below 1, found {ju.raw('margin')!r}")
    countries = r["high_risk_jurisdiction"].raw("countries")
    if not isinstance(countries, list) or not all(isinstance(c, str) and len(c) == 2 for c in countries):
        raise RulesError(
            f"rules.high_risk_jurisdiction.countries: expected ISO 3166 alpha-2 codes, found {countries!r}"
        )
    params = RuleParams(
        ctr_threshold_cents=r["ctr_aggregate"].cents("threshold"),
        structuring_threshold_cents=r["structuring"].cents("threshold"),
        structuring_window_business_days=r["structuring"].integer("window_business_days"),
        structuring_min_transactions=r["structuring"].integer("min_transactions"),
        structuring_baseline_business_days=r["structuring"].integer("baseline_business_days"),
        structuring_baseline_factor=r["structuring"].number("baseline_factor"),
        just_under_thresholds_cents=tuple(ju.cents("thresholds", t) for t in thresholds),
        just_under_margin=margin,
        split_min_transactions=r["split_cash_same_day"].integer("min_transactions", 2),
        rapid_window_hours=r["rapid_movement"].integer("window_hours"),
        rapid_min_amount_cents=r["rapid_movement"].cents("min_amount"),
        rapid_min_ratio=r["rapid_movement"].number("min_ratio"),
        new_rel_baseline_days=r["new_relationship"].integer("baseline_days"),
        new_rel_baseline_max=r["new_relationship"].integer("baseline_max", 0),
        fan_in_window_days=r["fan_in"].integer("window_days"),
        fan_in_min_counterparties=r["fan_in"].integer("min_counterparties", 2),
        fan_in_baseline_days=r["fan_in"].integer("baseline_days"),
        fan_in_baseline_max=r["fan_in"].integer("baseline_max", 0),
        fan_out_window_days=r["fan_out"].integer("window_days"),
        fan_out_min_counterparties=r["fan_out"].integer("min_counterparties", 2),
        fan_out_baseline_days=r["fan_out"].integer("baseline_days"),
        fan_out_baseline_max=r["fan_out"].integer("baseline_max", 0),
        pass_through_window_days=r["pass_through"].integer("window_days"),
        pass_through_min_ratio=r["pass_through"].number("min_ratio"),
        pass_through_baseline_days=r["pass_through"].integer("baseline_days"),
        pass_through_baseline_max=r["pass_through"].integer("baseline_max", 0),
        cycle_max_hops=r["cycle"].integer("max_hops", 3),
        cycle_window_days=r["cycle"].integer("window_days"),
        cycle_amount_tolerance=r["cycle"].number("amount_tolerance"),
        velocity_window_days=r["velocity_spike"].integer("window_days"),
        velocity_baseline_days=r["velocity_spike"].integer("baseline_days"),
        velocity_factor=r["velocity_spike"].number("factor"),
        velocity_min_transactions=r["velocity_spike"].integer("min_transactions"),
        dormant_days=r["dormant_reactivation"].integer("dormant_days"),
        dormant_min_amount_cents=r["dormant_reactivation"].cents("min_amount"),
        high_risk_countries=frozenset(c.upper() for c in countries),
        round_min_amount_cents=r["round_amount"].cents("min_amount"),
        round_multiple_cents=r["round_amount"].cents("multiple"),
        sources=sources,
    )

    typologies = []
    table = root.sub("typologies")
    for name in table.table:
        t = table.sub(name)
        kind = t.text("kind")
        if kind not in ("account", "network"):
            raise RulesError(f'{t.key("kind")}: expected "account" or "network", found {kind!r}')
        weights_raw = t.sub("weights")
        known = set(RULE_NAMES) | (set(GROUP_RULES) if kind == "network" else set())
        weights = []
        for rule in weights_raw.table:
            if rule not in known:
                raise RulesError(f"{weights_raw.key(rule)}: unknown rule; known: {', '.join(sorted(known))}")
            weights.append((rule, weights_raw.number(rule)))
        reporting = t.table.get("reporting", False)
        if not isinstance(reporting, bool):
            raise RulesError(f"{t.key('reporting')}: expected true or false, found {reporting!r}")
        typologies.append(
            Typology(
                name=name,
                kind=kind,
                weights=tuple(weights),
                threshold=t.number("threshold"),
                window_days=t.integer("window_days") if kind == "account" else network.group_window_days,
                min_accounts=t.integer("min_accounts") if kind == "network" else 1,
                reporting=reporting,
                source=t.text("source"),
            )
        )
    if not any(t.kind == "network" for t in typologies):
        raise RulesError('typologies: expected one typology of kind "network", found none')
    return Rules(
        version=meta.integer("version"),
        tuned_on_seeds=tuple(seeds),
        calendar=calendar,
        network=network,
        params=params,
        typologies=tuple(typologies),
    )
