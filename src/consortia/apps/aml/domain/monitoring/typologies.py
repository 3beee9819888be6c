"""From rule hits to alerts: typologies as weighted rules (Tazama) and as structures in the graph over time.

Two kinds of typology, both configured in ``rules.toml``:

- **Account typologies** (structuring, CTR, high-risk jurisdictions, dormant reactivation): for one account, the
  distinct rules it hit within ``window_days`` are weighted and summed, as Tazama's typology processor sums its
  rule results; at or above the threshold the account is alerted. Each run of qualifying transactions (no two
  more than a window apart) is one alert.
- **Network typologies** (fan-in, fan-out, cycle, bipartite, stack, scatter-gather, gather-scatter, random):
  laundering is a set of accounts whose new relationships are active together, repeatedly, in the same weeks.
  Within each time bucket of ``group_window_days`` (two staggered bucketings, so that a pattern straddling a
  boundary is whole in one of them) the graph of *fresh* payments (:mod:`.frame`) touching an account with a
  structural hit (fan-in, fan-out, pass-through, cycle) is split into weakly connected components with networkx.
  A component is scored with the weights of the distinct rules its accounts hit in the bucket, plus two group
  pseudo-rules — ``recurring`` (relationships active in two or more distinct weeks) and ``dense_group`` (at least
  four accounts and as many relationships as accounts) — and named by its shape.

Every alert carries its rule hits (rule, weight, what it saw) and the ids of the transactions behind them.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import networkx as nx
import polars as pl

from consortia.apps.aml.domain.monitoring.config import Rules, Typology
from consortia.apps.aml.domain.monitoring.frame import DAY
from consortia.apps.aml.domain.transactions import Alert, RuleHit

STRUCTURAL = ("fan_in", "fan_out", "pass_through", "cycle")
"""Rules that anchor a group: the accounts whose fresh payments make the graph a network typology reads."""

SHAPES = ("fan_in", "fan_out", "cycle", "bipartite", "stack", "scatter_gather", "gather_scatter", "random")
"""The names a network alert can take (AMLSim's typologies)."""

_UNITS = {
    "ctr_aggregate": "cents",
    "structuring": "cents",
    "just_under_threshold": "cents",
    "high_risk_jurisdiction": "cents",
    "round_amount": "cents",
    "split_cash_same_day": "transactions in the business day",
    "velocity_spike": "transactions in the window",
    "fan_in": "new payers in the window",
    "fan_out": "new payees in the window",
    "new_relationship": "new relationships in the account's baseline",
    "rapid_movement": "sent / received in the window",
    "pass_through": "received / sent on new relationships",
    "cycle": "accounts in the cycle",
    "dormant_reactivation": "days silent",
}


def describe(rule: str, value: float, tx_id: str) -> str:
    """One line saying what a rule measured, for an analyst."""
    unit = _UNITS.get(rule, "")
    if unit == "cents":
        return f"{rule}: ${value / 100:,.2f} at {tx_id}"
    if unit.startswith("sent") or unit.startswith("received"):
        return f"{rule}: ratio {value:.2f} ({unit}) at {tx_id}"
    return f"{rule}: {value:g} {unit} at {tx_id}"


def _alert_id(typology: str, accounts: tuple[str, ...], tx_ids: tuple[str, ...]) -> str:
    digest = hashlib.sha256("|".join([typology, ",".join(accounts), ",".join(tx_ids)]).encode()).hexdigest()
    return f"AML-{digest[:12]}"


def _instant(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


@dataclass(frozen=True)
class _HitRow:
    seq: int
    t: int
    tx_id: str
    account: str
    rule: str
    value: float
    support: str


def _rows(hits: pl.DataFrame) -> list[_HitRow]:
    return [
        _HitRow(*row) for row in hits.select("seq", "t", "tx_id", "account", "rule", "value", "support").iter_rows()
    ]


def account_alerts(hits: pl.DataFrame, typology: Typology) -> list[Alert]:
    """Alerts of an account typology from rule hits (with their times ``t``)."""
    weighted = [rule for rule, weight in typology.weights if weight > 0]
    relevant = hits.filter(pl.col("rule").is_in(weighted))
    if relevant.height == 0:
        return []
    # Only accounts whose distinct rules could reach the threshold at all need the sliding look.
    best = relevant.group_by("account").agg(pl.col("rule").unique())
    possible = [
        account
        for account, rules in best.iter_rows()
        if sum(typology.weight(r) for r in rules) >= typology.threshold - 1e-9
    ]
    relevant = relevant.filter(pl.col("account").is_in(possible)).sort("account", "seq", "rule")
    window = typology.window_days * DAY
    alerts = []
    by_account: dict[str, list[_HitRow]] = defaultdict(list)
    for row in _rows(relevant):
        by_account[row.account].append(row)
    for account, rows in by_account.items():
        episodes: list[list[int]] = []  # indices of the last hit of each qualifying transaction
        last_t = None
        for i, row in enumerate(rows):
            if i + 1 < len(rows) and rows[i + 1].seq == row.seq:
                continue  # judge a transaction once all its hits are in
            rules = {r.rule for r in rows[: i + 1] if r.t > row.t - window}
            score = sum(typology.weight(r) for r in rules)
            if score >= typology.threshold - 1e-9:
                if last_t is None or row.t - last_t > window:
                    episodes.append([])
                episodes[-1].append(i)
                last_t = row.t
        for episode in episodes:
            first_t, end = rows[episode[0]].t, episode[-1]
            behind = [r for r in rows[: end + 1] if r.t > first_t - window]
            alerts.append(_alert(typology.name, typology, (account,), behind, extra_tx=()))
    return alerts


def _alert(
    name: str,
    typology: Typology,
    accounts: tuple[str, ...],
    behind: list[_HitRow],
    extra_tx: tuple[str, ...],
    group_rules: tuple[str, ...] = (),
) -> Alert:
    first: dict[str, _HitRow] = {}
    for row in behind:
        if typology.weight(row.rule) > 0 and row.rule not in first:
            first[row.rule] = row
    rule_hits = tuple(
        RuleHit(rule, typology.weight(rule), describe(rule, row.value, row.tx_id))
        for rule, row in sorted(first.items())
    ) + tuple(RuleHit(rule, typology.weight(rule), _GROUP_DETAIL[rule]) for rule in group_rules)
    tx_ids = tuple(sorted({r.tx_id for r in behind if typology.weight(r.rule) > 0} | set(extra_tx)))
    score = round(sum(h.weight for h in rule_hits), 6)
    last = max((r.t for r in behind), default=0)
    return Alert(_alert_id(name, accounts, tx_ids), name, accounts, tx_ids, score, rule_hits, _instant(last))


_GROUP_DETAIL = {
    "recurring": "recurring: the group's relationships are active in two or more distinct weeks",
    "dense_group": "dense_group: four or more accounts with at least as many relationships among them",
}


def shape_of(graph: nx.DiGraph, has_cycle_hit: bool, max_hops: int) -> str:
    """Name a group of accounts by the shape of its payments (one of :data:`SHAPES`)."""
    if has_cycle_hit or any(len(c) >= 3 for c in nx.simple_cycles(graph, length_bound=max_hops)):
        return "cycle"
    ins, outs = dict(graph.in_degree()), dict(graph.out_degree())
    through = [n for n in graph if ins[n] and outs[n]]
    sources = [n for n in graph if outs[n] and not ins[n]]
    sinks = [n for n in graph if ins[n] and not outs[n]]
    if not through:
        if len(sinks) == 1 and ins[sinks[0]] >= 2:
            return "fan_in"
        if len(sources) == 1 and outs[sources[0]] >= 2:
            return "fan_out"
        return "bipartite"
    if len(through) == 1:
        hub = through[0]
        if ins[hub] >= 2 and outs[hub] >= 2:
            return "gather_scatter"
        if ins[hub] >= 3 and outs[hub] <= 1:
            return "fan_in"
        if outs[hub] >= 3 and ins[hub] <= 1:
            return "fan_out"
        return "random"
    if (
        len(sources) == 1
        and len(sinks) == 1
        and all(graph.has_edge(sources[0], n) and graph.has_edge(n, sinks[0]) for n in through)
    ):
        return "scatter_gather"
    if nx.is_directed_acyclic_graph(graph):
        layers = list(nx.topological_generations(graph))
        if len(layers) >= 3 and sum(1 for layer in layers if len(layer) >= 2) >= 2:
            return "stack"
    return "random"


def network_alerts(df: pl.DataFrame, hits: pl.DataFrame, rules: Rules, typology: Typology) -> list[Alert]:
    """Alerts of the network typology: groups of accounts active together (see the module docstring)."""
    fresh = df.filter(pl.col("fresh")).select("seq", "t", "tx_id", "orig_account", "bene_account")
    if fresh.height == 0 or hits.height == 0:
        return []
    span = rules.network.group_window_days * DAY
    origin = int(df["t"].min())
    anchors_all = hits.filter(pl.col("rule").is_in(STRUCTURAL))
    if anchors_all.height == 0:
        return []
    weighted = hits.filter(pl.col("rule").is_in([r for r, w in typology.weights if w > 0]))
    support: dict[str, set[str]] = defaultdict(set)  # cycle paths: payments the component must include
    for account, text in anchors_all.filter(pl.col("rule") == "cycle").select("account", "support").iter_rows():
        support[account].update(x for x in text.split(";") if x)
    found: dict[frozenset[str], Alert] = {}
    for offset in (0, span // 2):
        bucket = ((pl.col("t") - origin + offset) // span).alias("bucket")
        edges_b = fresh.with_columns(bucket)
        anchors_b = anchors_all.with_columns(bucket)
        weighted_b = weighted.with_columns(bucket)
        for b in sorted(set(anchors_b["bucket"].to_list())):
            anchors = set(anchors_b.filter(pl.col("bucket") == b)["account"].to_list())
            extra = set().union(*(support[a] for a in anchors)) if anchors else set()
            edges = edges_b.filter(
                (
                    (pl.col("bucket") == b)
                    & (pl.col("orig_account").is_in(anchors) | pl.col("bene_account").is_in(anchors))
                )
                | pl.col("tx_id").is_in(list(extra))
            )
            if edges.height == 0:
                continue
            graph = nx.DiGraph()
            pair_weeks: dict[tuple[str, str], set[int]] = defaultdict(set)
            pair_tx: dict[tuple[str, str], list[str]] = defaultdict(list)
            leaves: dict[str, set[tuple[str, str]]] = defaultdict(set)  # anchor -> its edges to non-anchors
            for _seq, t, tx_id, orig, bene, _bucket in edges.iter_rows():
                pair_weeks[(orig, bene)].add((t - origin) // (7 * DAY))
                pair_tx[(orig, bene)].append(tx_id)
                if orig in anchors and bene in anchors:
                    graph.add_edge(orig, bene)
                else:
                    graph.add_nodes_from(a for a in (orig, bene) if a in anchors)
                    leaves[orig if orig in anchors else bene].add((orig, bene))
            # Groups are joined through accounts with structural hits only; the others hang on as leaves, so two
            # groups that both paid the same furniture shop stay two groups.
            groups = []
            for core in nx.weakly_connected_components(graph):
                sub = nx.DiGraph(graph.subgraph(core))
                for anchor in core:
                    sub.add_edges_from(leaves.get(anchor, ()))
                if sub.number_of_nodes() >= typology.min_accounts:
                    groups.append(sub)
            if not groups:
                continue
            members = [n for sub in groups for n in sub.nodes]
            hits_by_account: dict[str, list[_HitRow]] = defaultdict(list)
            for row in _rows(
                weighted_b.filter((pl.col("bucket") == b) & pl.col("account").is_in(members)).drop("bucket")
            ):
                hits_by_account[row.account].append(row)
            for sub in groups:
                nodes = set(sub.nodes)
                behind = [row for n in sorted(nodes) for row in hits_by_account.get(n, [])]
                pairs = list(sub.edges)
                group_rules = []
                if sum(1 for pair in pairs if len(pair_weeks[pair]) >= 2) >= 2 or (
                    len({w for pair in pairs for w in pair_weeks[pair]}) >= 2 and len(pairs) >= 4
                ):
                    group_rules.append("recurring")
                if len(nodes) >= 4 and len(pairs) >= len(nodes):
                    group_rules.append("dense_group")
                rules_hit = {r.rule for r in behind} | set(group_rules)
                score = sum(typology.weight(r) for r in rules_hit)
                if score < typology.threshold - 1e-9:
                    continue
                name = shape_of(sub, any(r.rule == "cycle" for r in behind), rules.params.cycle_max_hops)
                accounts = tuple(sorted(nodes))
                edge_tx = tuple(tx for pair in pairs for tx in pair_tx[pair])
                alert = _alert(name, typology, accounts, behind, edge_tx, tuple(group_rules))
                key = frozenset(accounts)
                if key not in found or found[key].score < alert.score:
                    found[key] = alert
    # A group seen whole in one bucketing and in part in the other: keep the whole.
    keys = sorted(found, key=len, reverse=True)
    kept: list[frozenset[str]] = []
    for key in keys:
        if not any(key < bigger for bigger in kept):
            kept.append(key)
    return sorted((found[k] for k in kept), key=lambda a: (a.detected_at, a.alert_id))


def alerts_from_hits(df: pl.DataFrame, hits: pl.DataFrame, rules: Rules) -> list[Alert]:
    """Every alert of every typology, from the prepared table and its rule hits, in order of detection."""
    timed = hits.join(df.select("seq", "t"), on="seq", how="left")
    alerts: list[Alert] = []
    for typology in rules.typologies:
        if typology.kind == "account":
            alerts.extend(account_alerts(timed, typology))
        else:
            alerts.extend(network_alerts(df, timed, rules, typology))
    return sorted(alerts, key=lambda a: (a.detected_at, a.typology, a.alert_id))
