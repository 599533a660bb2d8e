"""backtests.report: a self-contained HTML file with real charts, metrics and trades."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from backtests import report
from backtests.engine import BacktestConfig, BacktestResult, run_backtest
from backtests.tests.scenario import outcome_bars
from trading.risk import RiskConfig


def a_result() -> BacktestResult:
    frame, signals = outcome_bars("WLWWLLLLLW" * 30)  # 900 hourly bars over ~5 weeks
    config = BacktestConfig(lots=0.5, sl_distance=1.0, tp_distance=1.0, digits=2, spread=0.02,
                            risk=RiskConfig(cooldown=timedelta(days=1)))
    return run_backtest(frame, signals, config)


def test_charts_are_inline_svg() -> None:
    result = a_result()
    for chart in (report.equity_chart_svg, report.drawdown_chart_svg,
                  report.monthly_returns_chart_svg):
        svg = chart(result)
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
        assert "<path" in svg


def test_charts_are_deterministic() -> None:
    result = a_result()
    assert report.equity_chart_svg(result) == report.equity_chart_svg(result)


def test_long_series_are_decimated_keeping_the_extremes() -> None:
    index = pd.date_range("2020-01-01", periods=50_000, freq="1h", tz="UTC")
    values = np.zeros(50_000)
    values[31_337] = -42.0  # one deep dip must survive decimation
    times, low, high = report._envelope(pd.Series(values, index=index))
    assert len(times) == report.MAX_CHART_POINTS
    assert low.min() == -42.0 and high.max() == 0.0


def test_monthly_returns_table() -> None:
    result = a_result()
    table = report.monthly_returns(result)
    assert list(table.columns) == list(range(1, 13))
    march, april = table.loc[2024, 3], table.loc[2024, 4]
    march_end = result.equity[result.equity.index.month == 3].iloc[-1]
    assert march == (march_end / 10_000 - 1) * 100
    assert april == (result.equity.iloc[-1] / march_end - 1) * 100


def test_render_html_is_self_contained(tmp_path: Path) -> None:
    result = a_result()
    html = report.render_html(result, "XAUUSD H1 <demo>", {"model": "lgbm v3", "spread": 0.02})
    assert html.startswith("<!DOCTYPE html>")
    assert "XAUUSD H1 &lt;demo&gt;" in html  # escaped
    assert html.count("<svg") == 3
    # nothing fetched from anywhere: no scripts, no external links or images
    assert "<script" not in html
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", html)
    assert "Profit factor" in html and "Sharpe" in html and "lgbm v3" in html
    assert html.count("<tr>") >= len(result.trades)  # every trade listed
    assert result.halts and all(h.rule in html for h in result.halts)  # the halts table
    path = report.write_html(tmp_path / "report.html", result, "t", {})
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_trade_list_can_be_capped() -> None:
    result = a_result()
    html = report.render_html(result, "t", {}, max_trade_rows=5)
    assert f"First 5 of {len(result.trades):,} trades" in html
