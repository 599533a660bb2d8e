"""From the engine's float64 ``BacktestResult`` to database values: Decimal money to the cent,
trade rows, the daily equity curve, the sweep table and the rendered report."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
import pandas as pd

from backtests import report
from backtests.engine import BacktestResult
from backtests.metrics import json_safe
from backtests.models import BacktestTrade
from trading.pnl import CENT
from trading.risk import FOREVER

MAX_HALTS_STORED = 200
MONEY_COLUMNS = ("gross_pnl", "spread_cost", "slippage_cost", "commission", "swap", "costs",
                 "net_pnl", "balance")


def money(value: float | None) -> Decimal | None:
    """A float amount as Decimal cents (half-even); None for NaN/None."""
    if value is None or not math.isfinite(value):
        return None
    return Decimal(repr(float(value))).quantize(CENT, rounding=ROUND_HALF_EVEN)


def price(value: float) -> Decimal | None:
    value = float(value)
    if not math.isfinite(value):
        return None
    return Decimal(f"{value:.8f}")


def optional_float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def trade_rows(run_id: int, trades: pd.DataFrame) -> list[BacktestTrade]:
    """One ``BacktestTrade`` per row of the engine's trade table, numbered from 1."""
    rows = []
    for number, trade in enumerate(trades.to_dict(orient="records"), start=1):
        rows.append(BacktestTrade(
            run_id=run_id, number=number, side=str(trade["side"]),
            lots=Decimal(f"{float(trade['lots']):.4f}"),
            signal_time=_utc(trade["signal_time"]), entry_time=_utc(trade["entry_time"]),
            exit_time=_utc(trade["exit_time"]),
            entry_price=price(trade["entry_price"]), exit_price=price(trade["exit_price"]),
            sl=price(trade["sl"]), tp=price(trade["tp"]),
            **{name: money(trade[name]) for name in MONEY_COLUMNS},
            exit_reason=str(trade["exit_reason"]), bars_held=int(trade["bars_held"]),
            nights=int(trade["nights"]), confidence=optional_float(trade["confidence"]),
        ))
    return rows


def _utc(value: pd.Timestamp) -> Any:
    return pd.Timestamp(value).tz_convert("UTC").to_pydatetime()


def daily_equity(equity: pd.Series) -> list[list[Any]]:
    """[day, equity at the close of that day's last bar] for each UTC day with bars."""
    daily = equity.resample("D").last().dropna()
    return [[f"{day:%Y-%m-%d}", round(float(value), 2)] for day, value in daily.items()]


def result_fields(result: BacktestResult) -> dict[str, Any]:
    """The run's summary columns (Decimal money, floats elsewhere) and its metrics JSON."""
    m = result.metrics
    net = sum((money(v) for v in result.trades["net_pnl"].to_numpy(np.float64)),
              Decimal("0.00"))
    return {
        "trade_count": int(m["trades"]),
        "net_profit": net,
        "final_equity": money(m["final_equity"]),
        "max_drawdown": money(m["max_drawdown"]),
        "total_costs": money(m["total_costs"]),
        "return_pct": optional_float(m.get("return_pct")),
        "max_drawdown_pct": optional_float(m.get("max_drawdown_pct")),
        "win_rate": optional_float(m.get("win_rate")),
        "profit_factor": optional_float(m.get("profit_factor")),
        "sharpe": optional_float(m.get("sharpe")),
        "metrics": {**result.metrics_json(), "halt_events": halts_json(result),
                    "denied_by_rule": dict(result.denied)},
        "equity_curve": daily_equity(result.equity),
    }


def halts_json(result: BacktestResult) -> list[dict[str, str]]:
    return [{"time": h.time.isoformat(), "rule": h.rule, "reason": h.reason,
             "until": "end of period" if h.until >= FOREVER else h.until.isoformat()}
            for h in result.halts[:MAX_HALTS_STORED]]


def sweep_json(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The sweep table as JSON rows (NaN and infinities as null)."""
    rows = []
    for record in table.to_dict(orient="records"):
        clean = {key: (value.item() if isinstance(value, np.generic) else value)
                 for key, value in record.items()}
        rows.append(json_safe(clean))
    return rows


@dataclass(frozen=True)
class RenderedReport:
    html: str
    equity_svg: str
    drawdown_svg: str
    monthly_svg: str


def render(result: BacktestResult, title: str, params: dict[str, str],
           evidence: dict[str, Any] | None = None) -> RenderedReport:
    """The self-contained HTML report and the three charts (engine's report module)."""
    return RenderedReport(
        html=report.render_html(result, title, params, evidence=evidence),
        equity_svg=report.equity_chart_svg(result),
        drawdown_svg=report.drawdown_chart_svg(result),
        monthly_svg=report.monthly_returns_chart_svg(result),
    )
