"""A small SVG plotting kit for the dashboard's charts (pure: no Django, no matplotlib).

Why not matplotlib: it cost 0.2-0.35 s per chart on the shared machine and the dashboard has
26 of them, so a cold page took ~8 s (docs/BENCHMARKS.md). Writing the few shapes we need as
SVG text takes about a millisecond per chart. A :class:`Plot` has a fixed pixel size, linear
scales with "nice" ticks (1, 2, 2.5, 5 x 10^k), grid lines, one or two y axes, lines, shaded
bands and stacked bars; every text is XML-escaped. Long series are reduced to at most two
points per pixel column (:func:`reduce`: each bucket's min and max, in order), so a year of
trades draws as fast as a week and keeps its worst dip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import numpy as np

WIDTH, HEIGHT = 420, 160
MARGIN = {"left": 46, "right": 40, "top": 18, "bottom": 24}
FONT = 'font-family="sans-serif"'
GRID, AXIS, TEXT = "#dddddd", "#555555", "#333333"


def esc(text: object) -> str:
    """``text`` safe inside an SVG element or a double-quoted attribute."""
    return escape(str(text), {'"': "&quot;"})


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering ``[lo, hi]`` (a flat series gets a band)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    ticks = [first]
    while ticks[-1] < hi - 1e-9 * step:
        ticks.append(first + len(ticks) * step)
    return ticks


def tick_label(value: float, step: float) -> str:
    """A tick's text with as many decimals as its step needs (no ``-0``)."""
    # The fewest decimals that write the step exactly (2.5 -> 1, 0.25 -> 2, 200 -> 0).
    decimals = next((d for d in range(10) if abs(round(step, d) - step) <= 1e-9 * step), 10)
    text = f"{value:,.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text


def reduce(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points of (x, y): each of ``max_points // 2`` buckets keeps its
    min and max, in order (hot path: one argmin/argmax per bucket, no per-point Python)."""
    if len(y) <= max_points:
        return x, y
    buckets = max(max_points // 2, 1)
    edges = np.linspace(0, len(y), buckets + 1).astype(int)
    starts = edges[:-1][edges[1:] > edges[:-1]]
    ends = edges[1:][edges[1:] > edges[:-1]]
    keep = np.empty(2 * len(starts), dtype=np.int64)
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        keep[2 * i] = a + int(np.argmin(y[a:b]))
        keep[2 * i + 1] = a + int(np.argmax(y[a:b]))
    idx = np.unique(keep)  # sorted, and a bucket whose min is its max keeps one point
    return x[idx], y[idx]


@dataclass
class Scale:
    """Linear map from data ``[lo, hi]`` to pixels ``[start, end]`` (y: ``end`` < ``start``)."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, values: np.ndarray) -> np.ndarray:
        span = (self.hi - self.lo) or 1.0
        return self.start + (np.asarray(values, dtype=np.float64) - self.lo) / span * (
            self.end - self.start)


def _points(xs: np.ndarray, ys: np.ndarray) -> str:
    return " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs.tolist(), ys.tolist(), strict=True))


@dataclass
class Plot:
    """One chart: call the drawing methods, then :meth:`render`."""

    title: str
    width: int = WIDTH
    height: int = HEIGHT
    parts: list[str] = field(default_factory=list)

    @property
    def left(self) -> float:
        return MARGIN["left"]

    @property
    def right(self) -> float:
        return self.width - MARGIN["right"]

    @property
    def top(self) -> float:
        return MARGIN["top"]

    @property
    def bottom(self) -> float:
        return self.height - MARGIN["bottom"]

    @property
    def pixels(self) -> int:
        """Points worth drawing across the plot: two per pixel column (min and max)."""
        return 2 * int(self.right - self.left)

    def text(self, x: float, y: float, text: object, *, anchor: str = "start", size: int = 9,
             color: str = TEXT, css: str = "") -> None:
        extra = f' class="{esc(css)}"' if css else ""
        self.parts.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" {FONT} '
                          f'fill="{color}" text-anchor="{anchor}"{extra}>{esc(text)}</text>')

    def x_scale(self, lo: float, hi: float) -> Scale:
        return Scale(lo, hi if hi > lo else lo + 1, self.left, self.right)

    def y_axis(self, lo: float, hi: float, *, side: str = "left", label: str = "",
               grid: bool = True) -> Scale:
        """Ticks, labels and (left axis) grid lines for ``[lo, hi]``; returns its scale."""
        ticks = nice_ticks(lo, hi)
        scale = Scale(ticks[0], ticks[-1], self.bottom, self.top)
        step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
        x = self.left if side == "left" else self.right
        marks = []
        for t in ticks:
            y = float(scale(np.array([t]))[0])
            marks.append(f"M{x:.1f},{y:.1f}h{-3 if side == 'left' else 3}")
            if grid:
                marks.append(f"M{self.left:.1f},{y:.1f}H{self.right:.1f}")
            self.text(x - 5 if side == "left" else x + 5, y + 3, tick_label(t, step),
                      anchor="end" if side == "left" else "start", size=8)
        self.parts.append(f'<path d="{" ".join(marks)}" stroke="{GRID}" stroke-width="0.6" '
                          f'fill="none"/>')
        self.parts.append(f'<path d="M{x:.1f},{self.top:.1f}V{self.bottom:.1f}" '
                          f'stroke="{AXIS}" stroke-width="0.8" fill="none"/>')
        if label:
            lx = 10 if side == "left" else self.width - 6
            self.parts.append(f'<text transform="translate({lx},{(self.top + self.bottom) / 2:.1f})'
                              f' rotate(-90)" font-size="8" {FONT} fill="{TEXT}" '
                              f'text-anchor="middle">{esc(label)}</text>')
        return scale

    def x_axis(self, ticks: Sequence[tuple[float, str]], scale: Scale, label: str = "") -> None:
        """The bottom axis with (data x, text) ticks."""
        marks = [f"M{self.left:.1f},{self.bottom:.1f}H{self.right:.1f}"]
        for value, text in ticks:
            x = float(scale(np.array([value]))[0])
            marks.append(f"M{x:.1f},{self.bottom:.1f}v3")
            self.text(x, self.bottom + 12, text, anchor="middle", size=8)
        self.parts.append(f'<path d="{" ".join(marks)}" stroke="{AXIS}" stroke-width="0.8" '
                          f'fill="none"/>')
        if label:
            self.text(self.right, self.height - 2, label, anchor="end", size=8)

    def line(self, xs: np.ndarray, ys: np.ndarray, sx: Scale, sy: Scale, color: str,
             css: str = "") -> None:
        if not len(xs):
            return
        px, py = sx(xs), sy(ys)
        d = "M" + _points(px[:1], py[:1]) + ("L" + _points(px[1:], py[1:]) if len(px) > 1
                                             else "h0.1")
        extra = f' class="{esc(css)}"' if css else ""
        self.parts.append(f'<path d="{d}" stroke="{color}" stroke-width="1.2" fill="none" '
                          f'stroke-linejoin="round"{extra}/>')

    def band(self, xs: np.ndarray, low: np.ndarray, high: np.ndarray, sx: Scale, sy: Scale,
             color: str, opacity: float = 0.3, css: str = "") -> None:
        """The region between two series (e.g. a balance and its running peak)."""
        if not len(xs):
            return
        px = sx(xs)
        upper = _points(px, sy(high))
        lower = _points(px[::-1], sy(low)[::-1])
        extra = f' class="{esc(css)}"' if css else ""
        self.parts.append(f'<path d="M{upper}L{lower}Z" fill="{color}" fill-opacity="{opacity}" '
                          f'stroke="none"{extra}/>')

    def bars(self, xs: np.ndarray, bottom: np.ndarray, heights: np.ndarray, sx: Scale,
             sy: Scale, color: str, width: float, css: str = "") -> None:
        """Vertical bars centred on ``xs`` (data units), one path for the whole series."""
        rects = []
        half = width / 2
        for x, b, h in zip(xs.tolist(), bottom.tolist(), heights.tolist(), strict=True):
            if h <= 0:
                continue
            x0, x1 = sx(np.array([x - half, x + half]))
            y0, y1 = sy(np.array([b, b + h]))
            rects.append(f"M{x0:.1f},{y0:.1f}H{x1:.1f}V{y1:.1f}H{x0:.1f}Z")
        extra = f' class="{esc(css)}"' if css else ""
        self.parts.append(f'<path d="{" ".join(rects) or "M0,0"}" fill="{color}" '
                          f'stroke="none"{extra}/>')

    def legend(self, entries: Sequence[tuple[str, str]]) -> None:
        x = self.right
        for text, color in reversed(entries):
            self.text(x, self.top - 5, text, anchor="end", size=8, color=color)
            x -= 7 + 5 * len(text)

    def empty(self, message: str) -> None:
        """A frame with axes and the reason there is nothing to draw."""
        self.parts.append(f'<path d="M{self.left},{self.top}V{self.bottom}H{self.right}" '
                          f'stroke="{AXIS}" stroke-width="0.8" fill="none"/>')
        self.parts.append(f'<path d="M{self.left},{(self.top + self.bottom) / 2:.1f}'
                          f'H{self.right}" stroke="{GRID}" stroke-width="0.6" fill="none"/>')
        self.parts.append(f'<path d="M{self.right},{self.top}V{self.bottom}" stroke="{GRID}" '
                          f'stroke-width="0.6" fill="none"/>')
        self.text((self.left + self.right) / 2, (self.top + self.bottom) / 2 - 4, message,
                  anchor="middle", size=10, css="chart-empty")

    def render(self) -> str:
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} '
                f'{self.height}" width="{self.width}" height="{self.height}" role="img" '
                f'aria-label="{esc(self.title)}">')
        title = (f'<title>{esc(self.title)}</title><rect width="100%" height="100%" '
                 f'fill="#ffffff"/>')
        caption = (f'<text x="{self.left}" y="11" font-size="10" {FONT} fill="{TEXT}">'
                   f'{esc(self.title)}</text>')
        return head + title + caption + "".join(self.parts) + "</svg>"
