"""The dashboard's OLD chart renderer (matplotlib), kept only as the baseline of
bench/bench_dashboard.py: the page now draws with ``monitoring.charts`` (``monitoring.svg``).
Same signatures as ``monitoring.charts``; the bench swaps these in to measure both in one run.
Figure objects, no pyplot; long series are reduced to ``MAX_POINTS`` min/max buckets."""

from __future__ import annotations

import io
import itertools
from typing import Any

import numpy as np

MAX_POINTS = 400
SIZE = (4.2, 1.6)


def _figure(title: str) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=SIZE, dpi=72)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=8, loc="left")
    ax.tick_params(labelsize=6)
    ax.grid(True, linewidth=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _svg(fig: Any) -> str:
    import matplotlib

    # Fixed margins: tight_layout draws the figure once more just to measure it (about half
    # the cost of a chart here).
    fig.subplots_adjust(left=0.13, right=0.88, bottom=0.2, top=0.86)
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "nusatrade", "svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    markup = buffer.getvalue()
    return markup[markup.index("<svg"):]


def reduce(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most ``MAX_POINTS`` points: each bucket's min and max, in order."""
    if len(y) <= MAX_POINTS:
        return x, y
    edges = np.linspace(0, len(y), MAX_POINTS // 2 + 1).astype(int)
    keep: list[int] = []
    for a, b in itertools.pairwise(edges):
        if b > a:
            pair = sorted({a + int(np.argmin(y[a:b])), a + int(np.argmax(y[a:b]))})
            keep.extend(pair)
    idx = np.array(keep)
    return x[idx], y[idx]


def equity_svg(times: np.ndarray, balance: np.ndarray, opening: float) -> str:
    """Balance after each closed trade, with the drawdown below its running peak shaded."""
    fig, ax = _figure("equity (closed trades) and drawdown")
    if len(balance):
        x, y = reduce(np.arange(len(balance)), balance)
        peak = np.maximum.accumulate(np.concatenate(([opening], balance)))[1:][x]
        ax.plot(x, y, linewidth=0.9, color="#1f5fa8")
        ax.fill_between(x, y, peak, color="#c0392b", alpha=0.3, linewidth=0)
        ax.set_xlabel("trade #", fontsize=6)
    else:
        ax.text(0.5, 0.5, "no closed trades yet", ha="center", va="center", fontsize=8,
                transform=ax.transAxes)
    return _svg(fig)


def rolling_svg(net: np.ndarray, window: int = 20) -> str:
    """Rolling win rate (left axis, %) and profit factor (right axis) over ``window`` trades."""
    fig, ax = _figure(f"rolling {window}-trade win rate and profit factor")
    if len(net) >= window:
        wins = np.convolve(net > 0, np.ones(window), "valid") / window * 100
        gains = np.convolve(np.where(net > 0, net, 0), np.ones(window), "valid")
        losses = np.convolve(np.where(net <= 0, -net, 0), np.ones(window), "valid")
        pf = np.where(losses > 0, gains / np.where(losses > 0, losses, 1), np.nan)
        x = np.arange(window, len(net) + 1)
        xs, ws = reduce(x, wins)
        ax.plot(xs, ws, linewidth=0.9, color="#1f5fa8")
        ax.set_ylabel("win %", fontsize=6)
        right = ax.twinx()
        right.tick_params(labelsize=6)
        xp, pfs = reduce(x, np.clip(pf, 0, 5))
        right.plot(xp, pfs, linewidth=0.9, color="#e67e22")
        right.set_ylabel("PF", fontsize=6)
    else:
        ax.text(0.5, 0.5, f"fewer than {window} trades", ha="center", va="center",
                fontsize=8, transform=ax.transAxes)
    return _svg(fig)


def signals_svg(days: list[str], traded: np.ndarray, held: np.ndarray) -> str:
    """Signals per day, BUY/SELL stacked under HOLD (the HOLD share is the top part)."""
    fig, ax = _figure("signals per day (HOLD on top)")
    if len(days):
        x = np.arange(len(days))
        ax.bar(x, traded, color="#1f5fa8", width=0.8, label="BUY/SELL")
        ax.bar(x, held, bottom=traded, color="#bdc3c7", width=0.8, label="HOLD")
        step = max(1, len(days) // 6)
        ax.set_xticks(x[::step], [d[5:] for d in days[::step]])
    else:
        ax.text(0.5, 0.5, "no signals", ha="center", va="center", fontsize=8,
                transform=ax.transAxes)
    return _svg(fig)
