"""Writes of the backtests app: create and execute runs (see ``runs``), and the rules and
engine settings of a run (see ``params``). Import from ``backtests.services``."""

from __future__ import annotations

from backtests.services.params import (
    SWEEP_SLIPPAGE_PIPS,
    SWEEP_SPREAD_PIPS,
    SWEEP_THRESHOLDS,
    BacktestParams,
    backtest_config_build,
    backtest_params_check,
    backtest_period_check,
    first_allowed_day,
    training_window_text,
)
from backtests.services.runs import (
    backtest_model_get,
    backtest_request_check,
    backtest_run_create,
    backtest_run_execute,
    report_title,
    run_params,
    sweep_table,
)

__all__ = [
    "SWEEP_SLIPPAGE_PIPS",
    "SWEEP_SPREAD_PIPS",
    "SWEEP_THRESHOLDS",
    "BacktestParams",
    "backtest_config_build",
    "backtest_model_get",
    "backtest_params_check",
    "backtest_period_check",
    "backtest_request_check",
    "backtest_run_create",
    "backtest_run_execute",
    "first_allowed_day",
    "report_title",
    "run_params",
    "sweep_table",
    "training_window_text",
]
