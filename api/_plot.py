"""A small SVG line chart of an activation function and its derivative, without matplotlib.

The values come from the NumPy reference evaluation; f' is a central difference of it, so a
kink shows as a step. Non-finite values break a line instead of bending the axes.

Example:
    >>> svg = function_plot(parse("max(x, 0)"), title="ReLU")   # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

import numpy as np

from space import Expr, evaluate

WIDTH, HEIGHT, MARGIN = 480, 320, 40
Y_LIMIT = 20.0  # |y| beyond this is clipped: exp(x) would flatten everything else
COLORS = ("#1f77b4", "#d62728")


def sample(expr: Expr, low: float = -5.0, high: float = 5.0, points: int = 401, h: float = 1e-4
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, f(x) and f'(x) (central differences), parameters at their initial values."""
    params = expr.param_inits()
    x = np.linspace(low, high, points)
    with np.errstate(all="ignore"):
        f = evaluate(expr, x, params)
        df = (evaluate(expr, x + h, params) - evaluate(expr, x - h, params)) / (2 * h)
    return x, f, df


def _y_range(series: Sequence[np.ndarray]) -> tuple[float, float]:
    values = np.concatenate([s[np.isfinite(s)] for s in series] or [np.zeros(1)])
    values = np.clip(values, -Y_LIMIT, Y_LIMIT)
    low, high = (float(values.min()), float(values.max())) if values.size else (-1.0, 1.0)
    low, high = min(low, -1.0), max(high, 1.0)
    pad = 0.05 * (high - low)
    return low - pad, high + pad


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    step = 10 ** math.floor(math.log10((high - low) / count))
    for factor in (1, 2, 5, 10):
        if (high - low) / (step * factor) <= count:
            step *= factor
            break
    first = math.ceil(low / step) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step) + 1)]


def line_chart(x: np.ndarray, series: Sequence[tuple[str, np.ndarray]], title: str = "") -> str:
    """An SVG document plotting each ``(label, y)`` of ``series`` against ``x``."""
    x0, x1 = float(x[0]), float(x[-1])
    y0, y1 = _y_range([y for _, y in series])
    inner_w, inner_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN

    def px(v: float) -> float:
        return MARGIN + (v - x0) / (x1 - x0) * inner_w

    def py(v: float) -> float:
        return MARGIN + (y1 - v) / (y1 - y0) * inner_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
           f"<title>{escape(title)}</title>",
           f'<defs><clipPath id="plot"><rect x="{MARGIN}" y="{MARGIN}" width="{inner_w}" height="{inner_h}"/>'
           "</clipPath></defs>",
           f'<rect x="{MARGIN}" y="{MARGIN}" width="{inner_w}" height="{inner_h}" fill="white" stroke="#999"/>']
    for tick in _nice_ticks(x0, x1):
        out.append(f'<line x1="{px(tick):.1f}" y1="{MARGIN}" x2="{px(tick):.1f}" y2="{HEIGHT - MARGIN}" stroke="#eee"/>')
        out.append(f'<text x="{px(tick):.1f}" y="{HEIGHT - MARGIN + 14}" text-anchor="middle">{tick:g}</text>')
    for tick in _nice_ticks(y0, y1):
        out.append(f'<line x1="{MARGIN}" y1="{py(tick):.1f}" x2="{WIDTH - MARGIN}" y2="{py(tick):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{MARGIN - 4}" y="{py(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
    if y0 < 0 < y1:
        out.append(f'<line x1="{MARGIN}" y1="{py(0):.1f}" x2="{WIDTH - MARGIN}" y2="{py(0):.1f}" stroke="#888"/>')
    for (_, y), color in zip(series, COLORS, strict=False):
        clipped = np.clip(y, y0 - (y1 - y0), y1 + (y1 - y0))  # far outside: draw to just past the edge
        for segment in _segments(x, clipped):
            points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in segment)
            out.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.6" '
                       'clip-path="url(#plot)"/>')
    for i, ((label, _), color) in enumerate(zip(series, COLORS, strict=False)):
        ly = MARGIN + 14 + 16 * i
        out.append(f'<line x1="{MARGIN + 8}" y1="{ly - 4}" x2="{MARGIN + 26}" y2="{ly - 4}" stroke="{color}" '
                   'stroke-width="2"/>')
        out.append(f'<text x="{MARGIN + 30}" y="{ly}">{escape(label)}</text>')
    if title:
        out.append(f'<text x="{WIDTH / 2:.0f}" y="{MARGIN - 12}" text-anchor="middle" font-size="13">'
                   f"{escape(title)}</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _segments(x: np.ndarray, y: np.ndarray) -> list[list[tuple[float, float]]]:
    """Runs of finite points (a NaN or infinity ends a run)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for a, b in zip(x.tolist(), y.tolist(), strict=True):
        if math.isfinite(b):
            runs[-1].append((a, b))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if len(run) > 1]


def function_plot(expr: Expr, title: str = "") -> str:
    """f and f' of ``expr`` on [-5, 5], as an SVG document."""
    x, f, df = sample(expr)
    return line_chart(x, [("f(x)", f), ("f'(x)", df)], title=title)
