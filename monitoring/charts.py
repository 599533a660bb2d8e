"""The dashboard's charts: small inline SVGs written by ``monitoring.svg`` (pure: no Django;
about a millisecond each, where matplotlib took 0.2-0.35 s: docs/BENCHMARKS.md). Each function
takes plain arrays and returns ``<svg ...>`` markup; long series are reduced to two points per
pixel column (min and max), so a year of trades draws as fast as a week and keeps its worst
dip. The page's figures never come from here: these only draw them."""

from __future__ import annotations

import numpy as np

from monitoring.svg import Plot, nice_ticks, reduce

BLUE, ORANGE, RED, GREY = "#1f5fa8", "#e67e22", "#c0392b", "#bdc3c7"
PF_CAP = 5.0
# Shapes carry "chart-" classes: the card's figure cells use .win-rate, .trades... and a page
# selector must find one element, not the cell and a line of the same name.


def _index_ticks(n: int) -> list[tuple[float, str]]:
    """x ticks of "trade #" (1-based, as a person counts them) over ``n`` points."""
    return [(t, f"{int(t) + 1}") for t in nice_ticks(0, max(n - 1, 1), 6) if 0 <= t <= n - 1]


def equity_svg(times: np.ndarray, balance: np.ndarray, opening: float) -> str:
    """Balance after each closed trade, with the drawdown below its running peak shaded."""
    plot = Plot("equity (closed trades) and drawdown")
    if not len(balance):
        plot.empty("no closed trades yet")
        return plot.render()
    balance = np.asarray(balance, dtype=np.float64)
    peak_all = np.maximum.accumulate(np.concatenate(([opening], balance)))[1:]
    x, y = reduce(np.arange(len(balance)), balance, plot.pixels)
    peak = peak_all[x]
    sy = plot.y_axis(float(min(y.min(), opening)), float(max(peak.max(), opening)))
    sx = plot.x_scale(0, max(len(balance) - 1, 1))
    plot.x_axis(_index_ticks(len(balance)), sx, "trade #")
    plot.band(x, y, peak, sx, sy, RED, css="chart-drawdown")
    plot.line(x, y, sx, sy, BLUE, css="chart-equity")
    plot.legend([("balance", BLUE), ("drawdown", RED)])
    return plot.render()


def rolling_svg(net: np.ndarray, window: int = 20) -> str:
    """Rolling win rate (left axis, %) and profit factor (right axis, capped at 5: a window
    without a losing trade draws at the cap) over ``window`` trades."""
    plot = Plot(f"rolling {window}-trade win rate and profit factor")
    net = np.asarray(net, dtype=np.float64)
    if len(net) < window:
        plot.empty(f"fewer than {window} trades")
        return plot.render()
    ones = np.ones(window)
    wins = np.convolve(net > 0, ones, "valid") / window * 100
    gains = np.convolve(np.where(net > 0, net, 0), ones, "valid")
    losses = np.convolve(np.where(net <= 0, -net, 0), ones, "valid")
    pf = np.clip(np.where(losses > 0, gains / np.where(losses > 0, losses, 1), np.inf),
                 0, PF_CAP)
    x = np.arange(window, len(net) + 1)
    sx = plot.x_scale(float(x[0]), float(x[-1]))
    xs, ws = reduce(x, wins, plot.pixels)
    xp, pfs = reduce(x, pf, plot.pixels)
    left = plot.y_axis(float(ws.min()), float(ws.max()), label="win %")
    right = plot.y_axis(0.0, float(max(pfs.max(), 1.0)), side="right", label="PF",
                        grid=False)
    ticks = [(t, f"{int(t)}") for t in nice_ticks(float(x[0]), float(x[-1]), 6)
             if x[0] <= t <= x[-1]]
    plot.x_axis(ticks, sx, "trade #")
    plot.line(xs, ws, sx, left, BLUE, css="chart-win-rate")
    plot.line(xp, pfs, sx, right, ORANGE, css="chart-profit-factor")
    plot.legend([("win %", BLUE), ("PF", ORANGE)])
    return plot.render()


def signals_svg(days: list[str], traded: np.ndarray, held: np.ndarray) -> str:
    """Signals per day, BUY/SELL stacked under HOLD (the HOLD share is the top part)."""
    plot = Plot("signals per day (HOLD on top)")
    if not len(days):
        plot.empty("no signals")
        return plot.render()
    traded = np.asarray(traded, dtype=np.float64)
    held = np.asarray(held, dtype=np.float64)
    x = np.arange(len(days), dtype=np.float64)
    sx = plot.x_scale(-0.5, len(days) - 0.5)
    # At least 0..4 so the ticks of these counts are whole numbers (a step of 1 or more).
    sy = plot.y_axis(0.0, float(max((traded + held).max(), 4.0)))
    step = max(1, len(days) // 6)
    plot.x_axis([(float(i), days[i][5:]) for i in range(0, len(days), step)], sx)
    plot.bars(x, np.zeros_like(traded), traded, sx, sy, BLUE, 0.8, css="chart-traded")
    plot.bars(x, traded, held, sx, sy, GREY, 0.8, css="chart-held")
    plot.legend([("BUY/SELL", BLUE), ("HOLD", GREY)])
    return plot.render()
