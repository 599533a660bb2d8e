"""``BacktestResult`` and its construction from the kernel's arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtests import metrics as m
from backtests.engine import kernel as k
from backtests.engine.config import BacktestConfig
from backtests.engine.data import OPEN, PreparedBars
from backtests.engine.driver import RawRun
from trading.risk import Halt

TRADE_COLUMNS = (
    "entry_time", "exit_time", "side", "lots", "entry_price", "exit_price", "sl", "tp",
    "gross_pnl", "spread_cost", "slippage_cost", "commission", "swap", "costs", "net_pnl",
    "balance", "exit_reason", "bars_held", "nights", "entry_bar", "exit_bar", "signal_time",
    "confidence",
)
_SIDES = pd.CategoricalDtype(["SELL", "BUY"])
_REASONS = pd.CategoricalDtype(list(k.EXIT_REASONS[1:]))


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """What one backtest produced.

    - ``trades``: one row per closed trade, columns :data:`TRADE_COLUMNS` (times are bar open
      times: an exit inside a bar carries that bar's time; prices are the fills; money to the
      cent: ``net_pnl = gross_pnl - spread_cost - slippage_cost - commission + swap``, give or
      take a cent of rounding; ``balance`` is the account after the trade).
    - ``equity``: per bar, at its close (open positions marked to market);
      ``drawdown`` (money) and ``drawdown_pct`` (percent below the running peak, >= 0).
    - ``benchmark``: buy-and-hold equity of the same period (initial equity in the symbol
      from the first open, no costs).
    - ``metrics``: see :mod:`backtests.metrics`; plus ``halts``, ``denied_entries``, the
      skipped-entry counts (``skipped_no_atr``, ``skipped_volume``), ``sl_tp_same_bar`` (bars
      that touched both SL and TP) and ``sl_tp_resolved_by_finer_bars``.
    - ``halts``: every risk halt (time, rule, reason, until); ``denied``: candidate entries
      refused, per rule.
    """

    config: BacktestConfig
    trades: pd.DataFrame
    equity: pd.Series
    drawdown: pd.Series
    drawdown_pct: pd.Series
    benchmark: pd.Series
    metrics: dict[str, float]
    halts: tuple[Halt, ...] = ()
    denied: dict[str, int] = field(default_factory=dict)

    def halts_frame(self) -> pd.DataFrame:
        """The halts as a table (time, rule, reason, until)."""
        return pd.DataFrame([(h.time, h.rule, h.reason, h.until) for h in self.halts],
                            columns=["time", "rule", "reason", "until"])

    def metrics_json(self) -> dict[str, float | int | None]:
        """``metrics`` ready for JSON/jsonb (NaN and infinities as ``None``)."""
        return m.json_safe(self.metrics)


def build_result(raw: RawRun, prepared: PreparedBars, config: BacktestConfig,
                 confidence: np.ndarray | None) -> BacktestResult:
    """Trades table, equity curves and metrics from a finished run."""
    index = prepared.index
    trades = trades_frame(raw, index, confidence)
    close = prepared.close
    values = k.equity_curve(close, raw.spread, prepared.days, raw.ti, raw.tf, len(raw.ti),
                            config.initial_equity, raw.params)
    # copy=False: these arrays are ours alone (pandas 3 would copy them by default)
    equity = pd.Series(values, index=index, name="equity", copy=False)
    dd_money, dd_pct = m.drawdowns(values, config.initial_equity)
    first_open = prepared.ohlc[0, OPEN]
    benchmark = pd.Series(config.initial_equity * close / first_open, index=index,
                          name="buy_and_hold", copy=False)
    bars_per_year = config.bars_per_year or prepared.bars_per_year()
    metrics = m.compute_metrics(
        trades, equity, initial_equity=config.initial_equity, bars_per_year=bars_per_year,
        bar_duration=pd.Timedelta(minutes=prepared.bar_minutes),
        open_prices=prepared.ohlc[:1, OPEN], close_prices=close[-1:])
    metrics.update(halts=len(raw.halts), denied_entries=sum(raw.denied.values()),
                   skipped_no_atr=raw.skipped_no_atr, skipped_volume=raw.skipped_volume,
                   skipped_margin=raw.skipped_margin,
                   stop_outs=int((raw.ti[:, k.T_REASON] == k.R_STOP_OUT).sum()),
                   sl_tp_same_bar=raw.both_touched, sl_tp_resolved_by_finer_bars=raw.resolved)
    return BacktestResult(
        config=config, trades=trades, equity=equity,
        drawdown=pd.Series(dd_money, index=index, name="drawdown", copy=False),
        drawdown_pct=pd.Series(dd_pct, index=index, name="drawdown_pct", copy=False),
        benchmark=benchmark, metrics=metrics, halts=raw.halts, denied=raw.denied,
    )


def trades_frame(raw: RawRun, index: pd.DatetimeIndex,
                 confidence: np.ndarray | None) -> pd.DataFrame:
    """The kernel's trade arrays as the public trades table (columns :data:`TRADE_COLUMNS`)."""
    ti, tf = raw.ti, raw.tf
    entry_bar, exit_bar = ti[:, k.T_ENTRY_BAR], ti[:, k.T_EXIT_BAR]
    signal_bar = ti[:, k.T_SIGNAL_BAR]
    costs = (tf[:, k.U_SPREAD_COST] + tf[:, k.U_SLIP_COST] + tf[:, k.U_COMMISSION]
             - tf[:, k.U_SWAP])
    columns = {
        "entry_time": index[entry_bar], "exit_time": index[exit_bar],
        "side": pd.Categorical.from_codes((ti[:, k.T_SIDE] > 0).astype(np.int8), dtype=_SIDES),
        "lots": tf[:, k.U_LOTS], "entry_price": tf[:, k.U_ENTRY_PRICE],
        "exit_price": tf[:, k.U_EXIT_PRICE], "sl": tf[:, k.U_SL], "tp": tf[:, k.U_TP],
        "gross_pnl": tf[:, k.U_GROSS], "spread_cost": tf[:, k.U_SPREAD_COST],
        "slippage_cost": tf[:, k.U_SLIP_COST], "commission": tf[:, k.U_COMMISSION],
        "swap": tf[:, k.U_SWAP], "costs": np.rint(costs * 100.0) / 100.0,
        "net_pnl": tf[:, k.U_NET], "balance": tf[:, k.U_BALANCE],
        "exit_reason": pd.Categorical.from_codes(ti[:, k.T_REASON] - 1, dtype=_REASONS),
        "bars_held": exit_bar - entry_bar, "nights": ti[:, k.T_NIGHTS],
        "entry_bar": entry_bar, "exit_bar": exit_bar, "signal_time": index[signal_bar],
        "confidence": (confidence[signal_bar] if confidence is not None
                       else np.full(len(ti), np.nan)),
    }
    return pd.DataFrame(columns, columns=list(TRADE_COLUMNS))
