"""Server-drawn SVG: trend charts with target bands and the risk gauge.

The pages carry a strict Content-Security-Policy (no inline script, no inline style), so charts are SVG written
on the server with presentation attributes only. A trend chart plots points over time with a shaded target band
(blood pressure: systolic < 130 and diastolic < 80 mm Hg, the ACC/AHA 2017 and KSH 2018 target for people at high
risk; glucose: 70–180 mg/dL, the consensus target range). The gauge is a half circle from 0 to 30 % ten-year risk
coloured by the ACC/AHA risk categories (< 5 % low, 5–7.5 % borderline, 7.5–20 % intermediate, ≥ 20 % high).

The value axis is labelled with round ticks (:func:`consortia.ui.ticks.nice_ticks`: 50 / 100 / 150 / 200, never
50 / 88 / 125 / 162 / 200) and the time axis with the first and last day in the place's zone, in the page's
language; every label arrives from the caller already translated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from markupsafe import Markup

from consortia.ui.ticks import nice_ticks, tick_label

WIDTH, HEIGHT = 640, 220
PAD_L, PAD_R, PAD_T, PAD_B = 40, 10, 10, 24
COLOURS = {"low": "#1c7a3b", "borderline": "#b7950b", "intermediate": "#d35400", "high": "#b42318"}


@dataclass(frozen=True)
class Series:
    """Points of one line: (time, value), a colour and a label."""

    label: str
    colour: str
    points: Sequence[tuple[datetime, float]]


def trend(
    series: Sequence[Series],
    bands: Sequence[tuple[float, float, str]],
    low: float,
    high: float,
    start: datetime,
    end: datetime,
    title: str,
    element_id: str,
    start_label: str | None = None,
    end_label: str | None = None,
) -> Markup:
    """A time-series chart with shaded bands (low, high, colour) and grid lines at round ticks covering
    ``low``–``high``; ``start_label``/``end_label`` name the ends of the time axis (default: ISO days)."""
    ticks = nice_ticks(low, high, 7)
    low, high = ticks[0], ticks[-1]
    span = max((end - start).total_seconds(), 1.0)
    inner_w, inner_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B

    def x(when: datetime) -> float:
        return PAD_L + inner_w * min(max((when - start).total_seconds() / span, 0.0), 1.0)

    def y(value: float) -> float:
        return PAD_T + inner_h * (1 - (min(max(value, low), high) - low) / (high - low))

    parts = [
        f'<svg id="{escape(element_id)}" class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for band_low, band_high, colour in bands:
        parts.append(
            f'<rect class="band" x="{PAD_L}" y="{y(band_high):.1f}" width="{inner_w}" '
            f'height="{y(band_low) - y(band_high):.1f}" fill="{colour}" fill-opacity="0.15"/>'
        )
    for value in ticks:
        parts.append(
            f'<line x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="currentColor" stroke-opacity="0.15"/>'
            f'<text x="{PAD_L - 4}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="currentColor" class="tick">{tick_label(value)}</text>'
        )
    first = escape(start_label if start_label is not None else f"{start:%Y-%m-%d}")
    last = escape(end_label if end_label is not None else f"{end:%Y-%m-%d}")
    parts.append(
        f'<text x="{PAD_L}" y="{HEIGHT - 6}" font-size="11" fill="currentColor">'
        f'{first}</text><text x="{WIDTH - PAD_R}" y="{HEIGHT - 6}" text-anchor="end" '
        f'font-size="11" fill="currentColor">{last}</text>'
    )
    for line in series:
        points = sorted(line.points)
        if not points:
            continue
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
        parts.append(
            f'<polyline class="series" data-series="{escape(line.label)}" points="{path}" fill="none" '
            f'stroke="{line.colour}" stroke-width="1.5" stroke-linejoin="round"/>'
        )
        for t, v in points[-1:]:
            parts.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="3" fill="{line.colour}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def gauge(
    risk_10y: float, category: str, label: str, element_id: str = "risk-gauge", category_label: str | None = None
) -> Markup:
    """A half-circle gauge of a 10-year risk (fraction), 0–30 %, with the category named (``category_label``)."""
    fraction = min(max(risk_10y / 0.30, 0.0), 1.0)
    cx, cy, r = 100, 100, 80

    def point(f: float) -> tuple[float, float]:
        angle = math.pi * (1 - f)
        return cx + r * math.cos(angle), cy - r * math.sin(angle)

    sx, sy = point(0)
    ex, ey = point(fraction)
    fx, fy = point(1)
    colour = COLOURS.get(category, "#526070")
    return Markup(
        f'<svg id="{escape(element_id)}" class="gauge" viewBox="0 0 200 120" role="img" '
        f'aria-label="{escape(label)}: {100 * risk_10y:.1f} %" data-risk="{risk_10y:.4f}" '
        f'data-category="{escape(category)}" xmlns="http://www.w3.org/2000/svg">'
        f'<path d="M {sx:.1f} {sy:.1f} A {r} {r} 0 0 1 {fx:.1f} {fy:.1f}" fill="none" stroke="currentColor" '
        f'stroke-opacity="0.15" stroke-width="16"/>'
        f'<path d="M {sx:.1f} {sy:.1f} A {r} {r} 0 0 1 {ex:.1f} {ey:.1f}" fill="none" stroke="{colour}" '
        f'stroke-width="16"/>'
        f'<text x="100" y="95" text-anchor="middle" font-size="26" font-weight="700" fill="currentColor">'
        f"{100 * risk_10y:.1f}%</text>"
        f'<text x="100" y="115" text-anchor="middle" font-size="12" fill="{colour}">'
        f"{escape(category_label or category)}</text></svg>"
    )
