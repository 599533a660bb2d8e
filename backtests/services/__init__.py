"""Writes of the backtests app: create and execute runs (see ``runs``), and the rules and
engine settings of a run (see ``params``); a retrain-every run's walk-forward is
``retraining`` (``backtest --retrain-every``). Import from ``backtests.services``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nusatrade.lazy import lazy_exports

if TYPE_CHECKING:
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

# Each name is imported from its submodule on first use (PEP 562): the admin and the API
# import this package at start-up, and the submodules pull in pandas, numba, scikit-learn.
# ``django.setup()`` and ``manage.py check`` must not pay for them (tests/test_startup.py).
_EXPORTS: dict[str, str] = {
    "SWEEP_SLIPPAGE_PIPS": "backtests.services.params",
    "SWEEP_SPREAD_PIPS": "backtests.services.params",
    "SWEEP_THRESHOLDS": "backtests.services.params",
    "BacktestParams": "backtests.services.params",
    "backtest_config_build": "backtests.services.params",
    "backtest_params_check": "backtests.services.params",
    "backtest_period_check": "backtests.services.params",
    "first_allowed_day": "backtests.services.params",
    "training_window_text": "backtests.services.params",
    "backtest_model_get": "backtests.services.runs",
    "backtest_request_check": "backtests.services.runs",
    "backtest_run_create": "backtests.services.runs",
    "backtest_run_execute": "backtests.services.runs",
    "report_title": "backtests.services.runs",
    "run_params": "backtests.services.runs",
    "sweep_table": "backtests.services.runs",
}
__all__ = [  # static, for linters and type checkers
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


__getattr__ = lazy_exports(__name__, _EXPORTS)
