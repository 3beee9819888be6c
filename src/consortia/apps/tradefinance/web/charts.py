"""Server-drawn SVG bar charts for the supervisory dashboard, each bar a link to the ledger records behind it.

The pages carry a strict Content-Security-Policy (no inline script or style), so charts are SVG written here with
presentation attributes only, scaled to the width of the page (``viewBox``; nothing wider than a phone). Axes use
round ticks (:func:`consortia.ui.ticks.nice_ticks`: steps of 1, 2 or 5 × 10^k), so a regulator reads "0, 5 M,
10 M" rather than "0, 3.7 M, 7.4 M". Every bar segment is an ``<a>`` to its drill-down page — a figure on the
dashboard is never further than one click from the records that make it, and each record from its proof.

:func:`columns` draws stacked columns over months (financings by corridor and currency; duplicate attempts);
:func:`bars` draws stacked horizontal bars (exposure per trader, segments per bank).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from consortia.ui.ticks import nice_ticks

WIDTH = 420
"""The drawing's width in user units: phone-first, so that its 12-unit text stays legible when a 390 px screen
shrinks it, and the stylesheet caps how far a desktop page enlarges it."""
FONT = 12
MAX_TICKS = 6
PALETTE = ("#1f5fbf", "#d35400", "#1c7a3b", "#6f42c1", "#b42318", "#0f7c8c", "#9a6b00", "#5b6b7d", "#c2185b")


@dataclass(frozen=True)
class Segment:
    """One part of a bar: its value, the page listing its records, and its accessible label."""

    value: float
    link: str
    label: str


@dataclass(frozen=True)
class Series:
    """One stacked layer across every category: a legend label, a colour and one segment per category."""

    label: str
    colour: str
    segments: Sequence[Segment | None]


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns (a Chinese character takes two), with an ellipsis when cut."""
    used, out = 0, []
    for ch in text:
        used += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used > width - 1:
            return "".join(out) + "…"
        out.append(ch)
    return text


def colour(index: int) -> str:
    """The palette's colour for the ``index``-th series (cycling)."""
    return PALETTE[index % len(PALETTE)]


UNITS = {"en": ((1e9, "G"), (1e6, "M"), (1e3, "k")), "zh": ((1e8, "亿"), (1e4, "万"))}
"""Large-number units: thousands and millions in English, 万 (10⁴) and 亿 (10⁸) in Chinese."""


def short_number(value: float, lang: str = "en") -> str:
    """An axis label: 1 200 000 → "1.2M" in English and "120万" in Chinese; 7 → "7"."""
    for size, suffix in UNITS["zh" if lang.startswith("zh") else "en"]:
        if abs(value) >= size:
            text = f"{value / size:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:g}"


def _totals(categories: Sequence[str], series: Sequence[Series]) -> list[float]:
    return [sum(s.segments[i].value for s in series if s.segments[i] is not None) for i in range(len(categories))]


def _open(element_id: str, title: str, height: int) -> list[str]:
    return [
        f'<svg id="{escape(element_id)}" class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
    ]


def _axis_titles(y_unit: str, x_unit: str, pad_l: int, height: int) -> str:
    """The axes' names: the vertical one's unit above it, the horizontal one's (with its zone, for time) below."""
    parts = []
    if y_unit:
        parts.append(
            f'<text class="axis-title" x="4" y="14" font-size="{FONT}" fill="currentColor">{escape(y_unit)}</text>'
        )
    if x_unit:
        parts.append(
            f'<text class="axis-title" x="{(pad_l + WIDTH) / 2:.0f}" y="{height - 6}" text-anchor="middle" '
            f'font-size="{FONT}" fill="currentColor">{escape(x_unit)}</text>'
        )
    return "".join(parts)


def _segment(x: float, y: float, w: float, h: float, fill: str, segment: Segment) -> str:
    return (
        f'<a href="{escape(segment.link)}" class="bar-link"><rect class="bar" x="{x:.1f}" y="{y:.1f}" '
        f'width="{max(w, 0.5):.1f}" height="{max(h, 0.5):.1f}" fill="{fill}" data-value="{segment.value:g}">'
        f"<title>{escape(segment.label)}</title></rect></a>"
    )


def columns(
    categories: Sequence[str],
    series: Sequence[Series],
    title: str,
    element_id: str,
    lang: str = "en",
    *,
    y_unit: str = "",
    x_unit: str = "",
    counts: bool = False,
) -> Markup:
    """Stacked columns, one per category (months), with a round-ticked vertical axis naming its unit.

    ``counts``: the values are whole numbers (financings, attempts), so the axis never steps by less than one —
    an axis of "0, 0.2, 0.4" financings means nothing.
    """
    height, pad_l, pad_r, pad_t, pad_b = 250, 40, 6, 24, 44
    totals = _totals(categories, series)
    highest = max(totals, default=0.0) or 1.0
    ticks = nice_ticks(0.0, max(highest, MAX_TICKS - 1.0) if counts else highest, MAX_TICKS)
    top = ticks[-1] or 1.0
    inner_w, inner_h = WIDTH - pad_l - pad_r, height - pad_t - pad_b

    def y(value: float) -> float:
        return pad_t + inner_h * (1 - value / top)

    parts = _open(element_id, title, height)
    for tick in ticks:
        parts.append(
            f'<line x1="{pad_l}" x2="{WIDTH - pad_r}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="currentColor" '
            f'stroke-opacity="0.15"/><text class="tick" x="{pad_l - 4}" y="{y(tick) + 4:.1f}" text-anchor="end" '
            f'font-size="{FONT}" fill="currentColor">{short_number(tick, lang)}</text>'
        )
    slot = inner_w / max(len(categories), 1)
    bar_w = max(min(slot * 0.7, 48), 2)
    label_every = max(1, math.ceil(len(categories) / 5))  # at most five month labels, legible on a phone
    for i, category in enumerate(categories):
        x = pad_l + slot * i + (slot - bar_w) / 2
        base = 0.0
        for layer in series:
            segment = layer.segments[i]
            if segment is None or segment.value <= 0:
                continue
            parts.append(_segment(x, y(base + segment.value), bar_w, y(base) - y(base + segment.value), layer.colour,
                                  segment))  # fmt: skip
            base += segment.value
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 26}" text-anchor="middle" font-size="{FONT}" '
                f'fill="currentColor">{escape(category)}</text>'
            )
    parts.append(_axis_titles(y_unit, x_unit, pad_l, height))
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(
    categories: Sequence[str],
    series: Sequence[Series],
    title: str,
    element_id: str,
    lang: str = "en",
    *,
    x_unit: str = "",
) -> Markup:
    """Stacked horizontal bars, one per category (traders), with a round-ticked horizontal axis naming its unit."""
    row_h, pad_l, pad_r, pad_t, pad_b = 26, 140, 14, 8, 44
    height = pad_t + pad_b + row_h * max(len(categories), 1)
    totals = _totals(categories, series)
    ticks = nice_ticks(0.0, max(totals, default=0.0) or 1.0, MAX_TICKS)
    top = ticks[-1] or 1.0
    inner_w = WIDTH - pad_l - pad_r

    def x(value: float) -> float:
        return pad_l + inner_w * value / top

    parts = _open(element_id, title, height)
    for tick in ticks:
        parts.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{pad_t}" y2="{height - pad_b}" stroke="currentColor" '
            f'stroke-opacity="0.15"/><text class="tick" x="{x(tick):.1f}" y="{height - 26}" text-anchor="middle" '
            f'font-size="{FONT}" fill="currentColor">{short_number(tick, lang)}</text>'
        )
    for i, category in enumerate(categories):
        top_y = pad_t + row_h * i + 4
        name = shorten(category, 18)
        parts.append(
            f'<text x="{pad_l - 6}" y="{top_y + row_h / 2:.1f}" text-anchor="end" font-size="{FONT}" '
            f'fill="currentColor">{escape(name)}</text>'
        )
        base = 0.0
        for layer in series:
            segment = layer.segments[i]
            if segment is None or segment.value <= 0:
                continue
            parts.append(_segment(x(base), top_y, x(base + segment.value) - x(base), row_h - 8, layer.colour, segment))
            base += segment.value
    parts.append(_axis_titles("", x_unit, pad_l, height))
    parts.append("</svg>")
    return Markup("".join(parts))
