"""An alert's counterparty graph over time, drawn on the server as SVG.

Laundering through a network is a shape *in time*: a set of accounts whose new relationships are active together,
week after week (``domain/monitoring/typologies.py``). A picture of who paid whom, with every payment ever made,
hides that; so the graph here draws each transfer as its own arrow, coloured by the **week** it was made in (weeks
start on Monday in New York, the bank's zone), with a legend naming each week by its first day. Below it, a
timeline puts every transfer on a time axis (days in Eastern Time, round ticks from
:func:`consortia.ui.ticks.nice_ticks`) against its amount in US dollars, in the same colours, so an analyst sees
both *who* and *when*.

Nodes are placed by networkx (Kamada–Kawai, deterministic: the same alert always draws the same way). The
alert's own accounts are always drawn; of their other counterparties only the :data:`MAX_NODES` largest by amount
are, and the page says how many were left out, so that a busy account's graph stays readable on a phone.
Several transfers between the same two accounts are drawn as arcs bowed apart, so none hides another. Every arrow
and dot carries a ``<title>`` (amount, time with zone, transaction) for pointer and screen-reader users.

The drawing is plain SVG with presentation attributes (the pages' Content-Security-Policy allows no inline style
or script) and a ``viewBox``, so it scales to a 390 px phone without making the page wider.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from html import escape

import networkx as nx
from markupsafe import Markup

from consortia.ui.ticks import nice_ticks, tick_label
from consortia.ui.timefmt import format_date

ZONE = "America/New_York"
WIDTH = 420
GRAPH_HEIGHT = 300
TIMELINE_HEIGHT = 190
FONT = 11
NODE_RADIUS = 9
PALETTE = ("#1f5fbf", "#d35400", "#1c7a3b", "#6f42c1", "#b42318", "#0f7c8c", "#9a6b00", "#c2185b", "#5b6b7d")
"""One colour per week (cycling after nine weeks)."""
FOCUS = "#111111"
MAX_NODES = 14
"""Accounts drawn at most (the alert's own accounts always; then counterparties by amount)."""
SMALL_LABEL = ' font-size="9" fill-opacity="0.8"'
"""Counterparties' labels are smaller than the alert's own accounts'."""
DASHED = ' stroke-dasharray="4 3"'
"""Edges of the accounts' wider dealings (not behind the alert) are dashed."""


@dataclass(frozen=True)
class Transfer:
    """Money from one account to another on one New York day (one payment, or several summed), as drawn."""

    key: str
    """What identifies it on the page (its first transaction)."""
    orig: str
    bene: str
    amount: Decimal
    day: date
    """The New York calendar day."""
    count: int = 1
    in_alert: bool = True
    """Whether a transaction behind the alert is among them (others are the accounts' wider dealings)."""


@dataclass(frozen=True)
class Week:
    """A week of the legend: its first day (Monday, New York), its colour, and how many transfers fell in it."""

    start: date
    colour: str
    label: str
    count: int


@dataclass(frozen=True)
class Drawing:
    """The graph and the timeline as SVG, and the legend of weeks both share."""

    graph: Markup
    timeline: Markup
    weeks: tuple[Week, ...]
    accounts: tuple[str, ...]
    hidden: int = 0
    """Counterparties left out of the drawing (the smallest by amount), so that it stays readable."""


Words = Callable[..., str]
"""The catalogue's ``text(key, **params)`` in the page's language."""


def week_of(day: date) -> date:
    """The Monday of the week a (New York) calendar day falls in."""
    return day - timedelta(days=day.weekday())


def _short(account: str, width: int = 14) -> str:
    return account if len(account) <= width else account[: width - 1] + "…"


def _layout(accounts: Sequence[str], transfers: Sequence[Transfer]) -> dict[str, tuple[float, float]]:
    """Positions in [0, 1]² for each account (a circle for two or three, a seeded spring layout beyond)."""
    if len(accounts) <= 3:
        positions = nx.circular_layout(accounts)
    else:
        graph = nx.Graph()
        graph.add_nodes_from(accounts)
        graph.add_edges_from((t.orig, t.bene) for t in transfers if t.orig != t.bene)
        # Kamada–Kawai spreads a small graph evenly (path lengths as distances) and is deterministic; an account
        # with no path to the others would make its distances infinite, so such graphs fall back to a seeded spring.
        if nx.is_connected(graph):
            positions = nx.kamada_kawai_layout(graph)
        else:
            positions = nx.spring_layout(graph, seed=7, iterations=200, k=1.6 / math.sqrt(len(accounts)))
    xs = [float(p[0]) for p in positions.values()]
    ys = [float(p[1]) for p in positions.values()]
    span_x = (max(xs) - min(xs)) or 1.0
    span_y = (max(ys) - min(ys)) or 1.0
    return {
        account: ((float(p[0]) - min(xs)) / span_x, (float(p[1]) - min(ys)) / span_y)
        for account, p in positions.items()
    }


def money(amount: Decimal) -> str:
    """``$12,500.00``."""
    return f"${amount:,.2f}"


def _label(transfer: Transfer, lang: str, words: Words) -> str:
    key = "graph_edge_one" if transfer.count == 1 else "graph_edge_many"
    return words(
        key,
        amount=money(transfer.amount),
        count=transfer.count,
        orig=transfer.orig,
        bene=transfer.bene,
        day=format_date(transfer.day, ZONE, lang),
    )


def _graph_svg(
    accounts: Sequence[str],
    focus: frozenset[str],
    transfers: Sequence[Transfer],
    colours: dict[date, str],
    title: str,
    svg_id: str,
    lang: str,
    words: Words,
) -> Markup:
    margin_x, margin_top, margin_bottom = 52, 22, 34
    inner_w, inner_h = WIDTH - 2 * margin_x, GRAPH_HEIGHT - margin_top - margin_bottom
    unit = _layout(accounts, transfers)
    at = {a: (margin_x + x * inner_w, margin_top + (1 - y) * inner_h) for a, (x, y) in unit.items()}
    parts = [
        f'<svg class="chart aml-graph" id="{escape(svg_id)}" viewBox="0 0 {WIDTH} {GRAPH_HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" font-size="{FONT}">',
        f"<title>{escape(title)}</title>",
        "<defs>",
    ]
    for start, colour in colours.items():
        parts.append(
            f'<marker id="{escape(svg_id)}-arrow-{start.isoformat()}" viewBox="0 0 10 10" refX="10" refY="5" '
            f'markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{colour}"/></marker>'
        )
    parts.append("</defs>")
    # Transfers between the same pair (either way) are bowed apart: the k-th of n gets its own curvature.
    by_pair: dict[tuple[str, str], list[Transfer]] = defaultdict(list)
    for transfer in transfers:
        first, second = sorted((transfer.orig, transfer.bene))
        by_pair[(first, second)].append(transfer)
    for (first, _), group in sorted(by_pair.items()):
        group.sort(key=lambda t: (t.day, t.key))
        for k, transfer in enumerate(group):
            if transfer.orig not in at or transfer.bene not in at or transfer.orig == transfer.bene:
                continue
            (x1, y1), (x2, y2) = at[transfer.orig], at[transfer.bene]
            length = math.hypot(x2 - x1, y2 - y1) or 1.0
            ux, uy = (x2 - x1) / length, (y2 - y1) / length
            # Stop the arrow at the circles' edges.
            sx, sy = x1 + ux * NODE_RADIUS, y1 + uy * NODE_RADIUS
            ex, ey = x2 - ux * (NODE_RADIUS + 1), y2 - uy * (NODE_RADIUS + 1)
            spread = (k - (len(group) - 1) / 2) * 12
            side = 1 if transfer.orig == first else -1  # one side per pair, whichever way the money flows
            cx, cy = (sx + ex) / 2 - uy * side * spread, (sy + ey) / 2 + ux * side * spread
            week = week_of(transfer.day)
            parts.append(
                f'<path class="edge{"" if transfer.in_alert else " context"}" data-tx-id="{escape(transfer.key)}" '
                f'data-week="{week.isoformat()}" d="M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}" '
                f'fill="none" stroke="{colours[week]}" stroke-width="{2.2 if transfer.in_alert else 1.2}"'
                f"{'' if transfer.in_alert else DASHED} "
                f'marker-end="url(#{escape(svg_id)}-arrow-{week.isoformat()})">'
                f"<title>{escape(_label(transfer, lang, words))}</title></path>"
            )
    parts.append('<g class="nodes" translate="no">')
    for account in accounts:
        x, y = at[account]
        is_focus = account in focus
        below = y < GRAPH_HEIGHT - margin_bottom - 4
        label_y = y + NODE_RADIUS + FONT + 1 if below else y - NODE_RADIUS - 4
        parts.append(
            f'<g class="node" data-account="{escape(account)}"><circle cx="{x:.1f}" cy="{y:.1f}" r="{NODE_RADIUS}" '
            f'fill="{"#ffd54f" if is_focus else "#ffffff"}" stroke="{FOCUS}" '
            f'stroke-width="{2.2 if is_focus else 1.2}"><title>{escape(account)}</title></circle>'
            f'<text x="{x:.1f}" y="{label_y:.1f}" text-anchor="middle" fill="currentColor"'
            f"{'' if is_focus else SMALL_LABEL}>{escape(_short(account))}</text></g>"
        )
    parts.append("</g></svg>")
    return Markup("".join(parts))


def _timeline_svg(
    transfers: Sequence[Transfer], colours: dict[date, str], title: str, svg_id: str, lang: str, words: Words
) -> Markup:
    left, right, top, bottom = 58, 26, 14, 46
    inner_w, inner_h = WIDTH - left - right, TIMELINE_HEIGHT - top - bottom
    first = min(t.day for t in transfers)
    span = max((t.day - first).days for t in transfers)
    x_ticks = nice_ticks(0, max(span, 1), 6)
    y_ticks = nice_ticks(0, float(max(t.amount for t in transfers)), 5)
    x_lo, x_hi, y_hi = x_ticks[0], x_ticks[-1], y_ticks[-1] or 1.0

    def sx(v: float) -> float:
        return left + (v - x_lo) / ((x_hi - x_lo) or 1) * inner_w

    def sy(v: float) -> float:
        return top + inner_h - v / y_hi * inner_h

    parts = [
        f'<svg class="chart aml-timeline" id="{escape(svg_id)}" viewBox="0 0 {WIDTH} {TIMELINE_HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" font-size="{FONT}">',
        f"<title>{escape(title)}</title>",
    ]
    for value in y_ticks:
        y = sy(value)
        parts.append(
            f'<g class="tick y-tick" data-value="{tick_label(value)}"><line x1="{left}" x2="{WIDTH - right}" '
            f'y1="{y:.1f}" y2="{y:.1f}" stroke="currentColor" stroke-opacity="0.15"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="currentColor">'
            f"{escape(short_dollars(value))}</text></g>"
        )
    for value in x_ticks:
        x = sx(value)
        day = first + timedelta(days=int(value))
        parts.append(
            f'<g class="tick x-tick" data-value="{tick_label(value)}"><line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" '
            f'y2="{top + inner_h}" stroke="currentColor" stroke-opacity="0.1"/>'
            f'<text x="{x:.1f}" y="{top + inner_h + 14}" text-anchor="middle" fill="currentColor">'
            f"{escape(day_label(day, lang))}</text></g>"
        )
    parts.append(
        f'<line x1="{left}" x2="{WIDTH - right}" y1="{top + inner_h}" y2="{top + inner_h}" stroke="currentColor"/>'
    )
    # Several transfers on one day sit side by side within the day, so none hides another.
    per_day: dict[date, int] = defaultdict(int)
    for transfer in transfers:
        per_day[transfer.day] += 1
    seen: dict[date, int] = defaultdict(int)
    for transfer in transfers:
        slot = seen[transfer.day]
        seen[transfer.day] += 1
        offset = (slot + 1) / (per_day[transfer.day] + 1) - 0.5 if per_day[transfer.day] > 1 else 0.0
        x = sx((transfer.day - first).days + offset * 0.8)
        week = week_of(transfer.day)
        parts.append(
            f'<circle class="dot" data-tx-id="{escape(transfer.key)}" cx="{x:.1f}" '
            f'cy="{sy(float(transfer.amount)):.1f}" r="{3.8 if transfer.in_alert else 2.6}" '
            f'fill="{colours[week]}"><title>{escape(_label(transfer, lang, words))}</title></circle>'
        )
    parts.append(
        f'<text x="{left + inner_w / 2:.1f}" y="{TIMELINE_HEIGHT - 8}" text-anchor="middle" fill="currentColor">'
        f"{escape(words('axis_days'))}</text>"
    )
    parts.append(
        f'<text x="13" y="{top + inner_h / 2:.1f}" text-anchor="middle" fill="currentColor" '
        f'transform="rotate(-90 13 {top + inner_h / 2:.1f})">{escape(words("axis_amount"))}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def short_dollars(value: float) -> str:
    """An axis label: 25000 → ``$25k``; 1500000 → ``$1.5M``."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            text = f"{value / size:.1f}".rstrip("0").rstrip(".")
            return f"${text}{suffix}"
    return f"${tick_label(value)}"


def day_label(day: date, lang: str) -> str:
    """``3 Nov`` (the legend names the weeks with their year)."""
    return " ".join(format_date(day, ZONE, lang).split(" ")[:2])


def draw(
    transfers: Sequence[Transfer], focus: Sequence[str], lang: str, words: Words, key: str = "alert"
) -> Drawing | None:
    """The counterparty graph and timeline of ``transfers`` (None when there is nothing to draw)."""
    kept = sorted(transfers, key=lambda t: (t.day, t.key))
    if not kept:
        return None
    every = {t.orig for t in kept} | {t.bene for t in kept}
    chosen = set(focus) & every
    weight: dict[str, Decimal] = defaultdict(Decimal)
    for transfer in kept:
        for account in (transfer.orig, transfer.bene):
            if account not in chosen:
                weight[account] += transfer.amount * (2 if transfer.in_alert else 1)
    room = max(0, MAX_NODES - len(chosen))
    chosen |= {a for a, _ in sorted(weight.items(), key=lambda item: (-item[1], item[0]))[:room]}
    kept = [t for t in kept if t.orig in chosen and t.bene in chosen]
    if not kept:
        return None
    accounts = sorted({t.orig for t in kept} | {t.bene for t in kept})
    weeks = sorted({week_of(t.day) for t in kept})
    colours = {start: PALETTE[i % len(PALETTE)] for i, start in enumerate(weeks)}
    counts: dict[date, int] = defaultdict(int)
    for transfer in kept:
        counts[week_of(transfer.day)] += transfer.count
    legend = tuple(
        Week(start, colours[start], words("week_of", day=format_date(start, ZONE, lang)), counts[start])
        for start in weeks
    )
    graph = _graph_svg(accounts, frozenset(focus), kept, colours, words("graph_title"), f"{key}-graph", lang, words)
    timeline = _timeline_svg(kept, colours, words("timeline_title"), f"{key}-timeline", lang, words)
    return Drawing(graph, timeline, legend, tuple(accounts), len(every - set(accounts)))
