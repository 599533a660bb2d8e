"""Stored readiness reports without running anything (API, admin and dashboard tests)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from accounts.models import TradingAccount
from backtests.models import BacktestRun
from mlops.models import MLModel
from readiness.criteria import evaluate
from readiness.models import ReadinessReport

# Figures that clear every criterion; ``no_go`` lowers the win rate below the seed's 50 %.
GOOD = {"win_rate": 0.56, "win_rate_low": 0.51, "win_rate_high": 0.61, "profit_factor": 1.9,
        "max_drawdown_pct": 8.5, "trades": 120, "stop_conditions": 0, "replay_agreement": 1.0,
        "reconciliation_clean": True, "lookahead_clean": True, "deflated_sharpe": 0.97,
        "dsr_trials": 40, "pbo": 0.2}


def backtest_run(model: MLModel, **fields) -> BacktestRun:
    return BacktestRun.objects.create(
        model=model, start=date(2025, 1, 1), end=date(2025, 6, 30), spread_pips=Decimal("3"),
        slippage_pips=Decimal("1"), lots=Decimal("0.01"), threshold=0.6,
        initial_equity=Decimal("10000"), **fields)


def readiness_report(model: MLModel, account: TradingAccount, *, no_go: bool = False,
                     report_path: str = "") -> ReadinessReport:
    figures = {**GOOD, "win_rate": 0.45} if no_go else dict(GOOD)
    verdict = evaluate(figures)
    return ReadinessReport.objects.create(
        model=model, symbol=model.instrument.symbol, timeframe=model.timeframe,
        backtest_start=date(2025, 1, 1), backtest_end=date(2025, 6, 30),
        replay_start=date(2025, 6, 1), replay_days=30, figures=figures,
        criteria=[c.to_dict() for c in verdict.criteria], verdict=verdict.verdict,
        reasons=list(verdict.reasons), model_fingerprint=model.fingerprint or "f" * 64,
        backtest_run=backtest_run(model), agreement_run=backtest_run(model, account=account),
        account=account, ran_by="tester (command)", duration_seconds=12.5,
        report_path=report_path)
