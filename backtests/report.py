"""A self-contained HTML report of a backtest: charts as inline SVG (matplotlib, no CDN, no
JavaScript), the metrics table, the halts and the trade list. Pure: no Django imports.

The chart functions (``equity_chart_svg``, ``drawdown_chart_svg``,
``monthly_returns_chart_svg``) return standalone ``<svg>`` markup that the Django admin can
embed as is. Output is deterministic for the same result (fixed SVG ids, no dates).
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd

# Figure objects without pyplot: no global backend or figure registry (safe in web workers).
from matplotlib.figure import Figure

from backtests.engine import BacktestResult
from trading.risk import FOREVER

MAX_CHART_POINTS = 2_000
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Metrics shown, in order: key, label, format.
METRIC_ROWS = (
    ("trades", "Trades", "{:,.0f}"), ("win_rate", "Win rate", "{:.1%}"),
    ("profit_factor", "Profit factor", "{:.2f}"), ("net_profit", "Net profit", "{:,.2f}"),
    ("return_pct", "Return", "{:.2f} %"), ("cagr_pct", "CAGR", "{:.2f} %"),
    ("max_drawdown", "Max drawdown", "{:,.2f}"),
    ("max_drawdown_pct", "Max drawdown", "{:.2f} %"), ("sharpe", "Sharpe", "{:.2f}"),
    ("sortino", "Sortino", "{:.2f}"), ("calmar", "Calmar", "{:.2f}"),
    ("expectancy", "Expectancy per trade", "{:,.2f}"), ("avg_win", "Average win", "{:,.2f}"),
    ("avg_loss", "Average loss", "{:,.2f}"), ("largest_win", "Largest win", "{:,.2f}"),
    ("largest_loss", "Largest loss", "{:,.2f}"),
    ("longest_losing_streak", "Longest losing streak", "{:.0f}"),
    ("exposure_pct", "Exposure", "{:.1f} %"), ("avg_bars_held", "Average bars held", "{:.1f}"),
    ("trades_per_month", "Trades per month", "{:.1f}"),
    ("total_costs", "Total costs", "{:,.2f}"), ("spread_costs", "Spread costs", "{:,.2f}"),
    ("slippage_costs", "Slippage costs", "{:,.2f}"), ("commissions", "Commissions", "{:,.2f}"),
    ("swaps", "Swaps (credit +)", "{:,.2f}"), ("buy_hold_return_pct", "Buy & hold return",
                                               "{:.2f} %"),
    ("final_equity", "Final equity", "{:,.2f}"), ("halts", "Risk halts", "{:.0f}"),
    ("denied_entries", "Entries denied by risk rules", "{:,.0f}"),
    ("stop_outs", "Stop-outs (margin level)", "{:,.0f}"),
    ("skipped_margin", "Entries skipped: not enough margin", "{:,.0f}"),
)
# Figures with a bootstrap interval in the "How much to believe it" table: key, label, format.
INTERVAL_ROWS = (
    ("win_rate", "Win rate", "{:.1%}"), ("profit_factor", "Profit factor", "{:.2f}"),
    ("expectancy", "Expectancy per trade", "{:,.2f}"),
    ("sharpe", "Sharpe (daily, annualised)", "{:.2f}"),
)
NOT_MODELLED = (
    "partial fills, liquidity and market impact (every order fills in full at the price "
    "above)",
    "a spread that varies inside a bar (one spread per bar), requotes and broker rejections",
    "slippage beyond the fixed amount (news spikes), and gaps inside a bar",
    "swap by the broker's rollover calendar (counted per UTC midnight; no triple Wednesday)",
    "currency conversion of profit (profit currency = account currency)",
    "margin that moves with the price (fixed at the entry price) and swap in the stop-out",
    "more than one position at a time",
)
TRADE_TABLE_COLUMNS = ("entry_time", "exit_time", "side", "lots", "entry_price", "exit_price",
                       "sl", "tp", "costs", "net_pnl", "balance", "exit_reason", "bars_held")
_PRICE = "{:.DIGITSf}"
_CELL_FORMATS = {"lots": "{:g}", "entry_price": _PRICE, "exit_price": _PRICE, "sl": _PRICE,
                 "tp": _PRICE}
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.5em}
table{border-collapse:collapse;font-size:.85em}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.charts svg{max-width:100%;height:auto;display:block;margin-bottom:1em}
.neg{color:#b00}.pos{color:#070}
.assumptions{border:3px solid #b36b00;background:#fff8e6;padding:.5em 1.2em;margin:1em 0}
.assumptions h2{margin-top:.3em}
"""


def equity_chart_svg(result: BacktestResult) -> str:
    """Equity and the buy-and-hold benchmark per bar, as an ``<svg>`` string."""
    fig, ax = _figure()
    _plot_decimated(ax, result.equity, "strategy", "#1f5fa8")
    _plot_decimated(ax, result.benchmark, "buy & hold", "#999999")
    ax.set_title("Equity")
    ax.set_ylabel("account currency")
    ax.legend(loc="best", frameon=False)
    return _svg(fig)


def drawdown_chart_svg(result: BacktestResult) -> str:
    """Drawdown below the running peak in percent, as an ``<svg>`` string."""
    fig, ax = _figure()
    times, low, _ = _envelope(-result.drawdown_pct)
    ax.fill_between(times, low, 0.0, color="#c0392b", alpha=0.5, linewidth=0)
    ax.set_title("Drawdown")
    ax.set_ylabel("% below peak")
    return _svg(fig)


def monthly_returns_chart_svg(result: BacktestResult) -> str:
    """Monthly returns (percent) as a year x month heat map, as an ``<svg>`` string."""
    table = monthly_returns(result)
    fig, ax = _figure(height=0.9 + 0.32 * max(len(table), 1))
    values = table.to_numpy(dtype=np.float64)
    bound = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    ax.imshow(np.ma.masked_invalid(values), cmap="RdYlGn", vmin=-bound, vmax=bound,
              aspect="auto")
    ax.set_xticks(range(12), MONTHS)
    ax.set_yticks(range(len(table)), [str(year) for year in table.index])
    for (row, col), value in np.ndenumerate(values):
        if math.isfinite(value):
            ax.text(col, row, f"{value:.1f}", ha="center", va="center", fontsize=7)
    ax.grid(False)
    ax.set_title("Monthly returns (%)")
    return _svg(fig)


def monthly_returns(result: BacktestResult) -> pd.DataFrame:
    """Percent return of each calendar month (UTC), years x months (NaN: no bars)."""
    month_end = result.equity.resample("ME").last().dropna()
    start = month_end.shift(1, fill_value=result.config.initial_equity)
    with np.errstate(divide="ignore", invalid="ignore"):  # a wiped-out account: no return
        returns = (month_end / start.where(start > 0) - 1.0) * 100.0
    frame = pd.DataFrame({"year": returns.index.year, "month": returns.index.month,
                          "ret": returns.to_numpy()})
    table = frame.pivot_table(index="year", columns="month", values="ret", aggfunc="first")
    return table.reindex(columns=range(1, 13))


def render_html(result: BacktestResult, title: str, params: Mapping[str, Any], *,
                max_trade_rows: int = 10_000, evidence: Mapping[str, Any] | None = None) -> str:
    """The whole report as one HTML document (no external resources).

    The assumptions come first, in a box, before any figure; ``evidence``
    (:func:`backtests.evidence.evidence`) adds the intervals, Deflated Sharpe and PBO."""
    charts = "".join((equity_chart_svg(result), drawdown_chart_svg(result),
                      monthly_returns_chart_svg(result)))
    index = result.equity.index
    period = f"{index[0]:%Y-%m-%d %H:%M} to {index[-1]:%Y-%m-%d %H:%M} UTC, {len(index):,} bars"
    return "".join((
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{html.escape(period)}</p>",
        assumptions_html(result),
        "<h2>Parameters</h2>", _key_value_table(params),
        evidence_html(evidence),
        "<h2>Metrics</h2>", _metrics_table(result.metrics),
        f"<h2>Charts</h2><div class='charts'>{charts}</div>",
        "<h2>Risk halts</h2>", _halts_table(result),
        "<h2>Trades</h2>", _trades_table(result.trades, max_trade_rows,
                                         _price_digits(result)),
        "</body></html>",
    ))


def assumptions(result: BacktestResult) -> dict[str, str]:
    """What the figures assume, in words: fill model, costs, risk rules, margin, and what is
    not modelled (the report shows this first, in a box)."""
    c = result.config
    spread = ("the bars' spread column" if c.spread_from_bars else f"{c.spread:g} price units")
    margin = ("not modelled (no leverage given)" if c.leverage is None else
              f"leverage 1:{c.leverage:g}; an entry needing more margin than the balance is "
              "skipped; " + ("no stop-out" if c.stop_out_level is None else
                             f"the position is closed when the margin level falls below "
                             f"{c.stop_out_level:g}% (stop-out)"))
    return {
        "Fill model": "a signal at a bar's close fills at the next bar's open; bars are bid "
                      "prices, a BUY pays the ask (bid + spread); SL/TP fill inside the bar; "
                      "a bar opening beyond a level fills at its open (a gap beyond the "
                      "take-profit counts first); a bar touching both SL and TP is a stop "
                      "loss (unless finer bars say otherwise)",
        "Costs": f"spread {spread} per trade; slippage {c.slippage:g} price units against "
                 f"us on every fill; commission {c.commission_per_lot:g} per lot per round "
                 f"trip; swap long {c.swap_long_per_lot:g} / short {c.swap_short_per_lot:g} "
                 "per lot per night",
        "Risk rules": "the live trading rules and kill switches" if c.risk is not None
                      else "OFF: no daily limits or kill switches",
        "Margin": margin,
        "Sizing": (f"{c.risk_per_trade_pct:g}% of equity at risk per trade"
                   if c.risk_per_trade_pct is not None else f"fixed {c.lots:g} lots"),
        "Not modelled": "; ".join(NOT_MODELLED),
    }


def assumptions_html(result: BacktestResult) -> str:
    return ("<div class='assumptions' id='assumptions'><h2>Assumptions: read before the "
            "figures</h2>" + _key_value_table(assumptions(result)) + "</div>")


def evidence_html(evidence: Mapping[str, Any] | None) -> str:
    """Intervals, the Deflated Sharpe and PBO, with what they mean."""
    if not evidence:
        return ""
    rows = []
    for key, label, pattern in INTERVAL_ROWS:
        ci = evidence.get("intervals", {}).get(key, {})
        rows.append(f"<tr><th class='l'>{label}</th><td>{_fmt(ci.get('estimate'), pattern)}"
                    f"</td><td>{_fmt(ci.get('low'), pattern)} to {_fmt(ci.get('high'), pattern)}"
                    "</td></tr>")
    return ("<h2>How much to believe it</h2><table><tr><th class='l'>figure</th><th>value</th>"
            "<th>95% interval (block bootstrap)</th></tr>" + "".join(rows) + "</table>"
            + f"<p>{html.escape(dsr_sentence(evidence.get('deflated_sharpe') or {}))}</p>"
            + f"<p>{html.escape(pbo_sentence(evidence.get('pbo') or {}))}</p>")


def dsr_sentence(dsr: Mapping[str, Any]) -> str:
    prob = dsr.get("probability")
    if prob is None:
        return "Deflated Sharpe Ratio: n/a (too few days or a flat equity curve)."
    verdict = "significant" if dsr.get("significant") else "NOT significant"
    return (f"Deflated Sharpe Ratio: {prob:.1%} probability that the true Sharpe is above zero "
            f"after {dsr.get('trials')} configuration(s) tried on this period: {verdict} at "
            f"{dsr.get('confidence', 0.95):.0%}.")


def pbo_sentence(pbo: Mapping[str, Any]) -> str:
    value = pbo.get("pbo")
    if value is None:
        return f"Probability of backtest overfitting: n/a ({pbo.get('reason', 'no sweep')})."
    return (f"Probability of backtest overfitting (CSCV, {pbo.get('configurations')} "
            f"configurations, {pbo.get('splits'):,} splits): {value:.0%}: how often the best "
            "configuration in one half of the period ranks below the median in the other "
            "half. Above 50%, picking the best configuration is worse than picking at random.")


def write_html(path: str | Path, result: BacktestResult, title: str,
               params: Mapping[str, Any], **options: Any) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8); returns the path."""
    target = Path(path)
    target.write_text(render_html(result, title, params, **options), encoding="utf-8")
    return target


def _figure(height: float = 3.0) -> tuple[Figure, Any]:
    fig = Figure(figsize=(10, height), dpi=96)
    ax = fig.add_subplot()
    ax.grid(True, linewidth=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _svg(fig: Figure) -> str:
    fig.tight_layout()
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "nusatrade", "svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    markup = buffer.getvalue()
    return markup[markup.index("<svg"):]  # drop the XML prolog and doctype: inline SVG


def _envelope(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At most ``MAX_CHART_POINTS`` buckets with each bucket's min and max: the chart keeps
    every spike and dip (plain subsampling would hide the worst drawdown)."""
    values = series.to_numpy(dtype=np.float64)
    times = series.index.to_numpy()
    if len(values) <= MAX_CHART_POINTS:
        return times, values, values
    edges = np.linspace(0, len(values), MAX_CHART_POINTS + 1).astype(np.int64)
    starts = edges[:-1]
    return (times[starts], np.minimum.reduceat(values, starts),
            np.maximum.reduceat(values, starts))


def _plot_decimated(ax: Any, series: pd.Series, label: str, color: str) -> None:
    times, low, high = _envelope(series)
    if low is high:
        ax.plot(times, low, color=color, linewidth=1.0, label=label)
        return
    ax.fill_between(times, low, high, color=color, alpha=0.35, linewidth=0)
    ax.plot(times, (low + high) / 2.0, color=color, linewidth=0.8, label=label)


def _fmt(value: Any, pattern: str = "{}") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "-∞"
    try:
        return pattern.format(value)
    except (ValueError, TypeError):
        return str(value)


def _key_value_table(items: Mapping[str, Any]) -> str:
    rows = "".join(f"<tr><th class='l'>{html.escape(str(k))}</th>"
                   f"<td class='l'>{html.escape(_fmt(v))}</td></tr>" for k, v in items.items())
    return f"<table>{rows}</table>"


def _metrics_table(metrics: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><th class='l'>{html.escape(label)}</th>"
        f"<td>{html.escape(_fmt(metrics.get(key), pattern))}</td></tr>"
        for key, label, pattern in METRIC_ROWS if key in metrics)
    return f"<table>{rows}</table>"


def _halts_table(result: BacktestResult) -> str:
    if not result.halts:
        return "<p>None.</p>"
    rows = "".join(
        f"<tr><td class='l'>{halt.time:%Y-%m-%d %H:%M}</td><td class='l'>{halt.rule}</td>"
        f"<td class='l'>{html.escape(halt.reason)}</td><td class='l'>{_until(halt.until)}</td>"
        "</tr>" for halt in result.halts)
    return ("<table><tr><th class='l'>time</th><th class='l'>rule</th><th class='l'>reason</th>"
            f"<th class='l'>until</th></tr>{rows}</table>")


def _until(moment: Any) -> str:
    return "end of period" if moment >= FOREVER else f"{moment:%Y-%m-%d %H:%M}"


def _price_digits(result: BacktestResult) -> int:
    return result.config.digits if result.config.digits is not None else 5


def _trades_table(trades: pd.DataFrame, max_rows: int, digits: int) -> str:
    shown = trades.head(max_rows)
    head = "".join(f"<th>{name}</th>" for name in TRADE_TABLE_COLUMNS)
    columns = [shown[name].tolist() for name in TRADE_TABLE_COLUMNS]
    body = "".join(
        "<tr>" + "".join(_trade_cell(name, value, digits) for name, value in
                         zip(TRADE_TABLE_COLUMNS, row, strict=True)) + "</tr>"
        for row in zip(*columns, strict=True))
    note = (f"<p>First {max_rows:,} of {len(trades):,} trades.</p>"
            if len(trades) > max_rows else "")
    return f"{note}<table><tr>{head}</tr>{body}</table>"


def _trade_cell(name: str, value: Any, digits: int) -> str:
    if isinstance(value, pd.Timestamp):
        return f"<td class='l'>{value:%Y-%m-%d %H:%M}</td>"
    if name == "net_pnl":
        css = "neg" if value < 0 else "pos"
        return f"<td class='{css}'>{value:,.2f}</td>"
    if isinstance(value, float):
        pattern = _CELL_FORMATS.get(name, "{:,.2f}").replace("DIGITS", str(digits))
        return f"<td>{_fmt(value, pattern)}</td>"
    return f"<td class='l'>{html.escape(str(value))}</td>"
