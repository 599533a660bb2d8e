"""``backtest --account``: a run with an account's strategy settings, risk policy and paper
costs, so it tests exactly what that account's cycle trades (replay parity).

THE one conversion of ``trading.StrategySettings`` (and the account's ``RiskPolicy`` and paper
book) into backtest inputs lives here: :func:`account_params` (the run's stored parameters)
and :func:`account_engine_fields` (the engine settings a run has no column for).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from accounts.models import Broker, TradingAccount
from backtests.services.params import BacktestParams
from mlops.models import MLModel
from nusatrade.errors import DataError


def backtest_account_get(account_id: int) -> TradingAccount:
    account = TradingAccount.objects.filter(pk=account_id).first()
    if account is None:
        raise DataError(f"no trading account {account_id}", column="account")
    return account


def _paper_book(account: TradingAccount) -> Any:
    if account.broker != Broker.PAPER:
        raise DataError(f"account {account.pk} is not a paper account: backtest --account "
                        "needs the paper broker's costs (spread, slippage, commission)",
                        column="account")
    from trading.paper.models import PaperAccount

    paper = PaperAccount.objects.filter(account=account).first()
    if paper is None:
        raise DataError(f"paper account {account.pk} has no paper book", column="account")
    if paper.spread_from_bars:
        raise DataError(f"paper account {account.pk} takes its spread from the bars; "
                        "backtest --account supports a fixed spread only", column="account")
    return paper


def account_params(account: TradingAccount, model: MLModel,
                   base: BacktestParams | None = None) -> BacktestParams:
    """``base`` (the command's other options) with everything the account decides replaced:
    lots, SL/TP multiples, time exit, threshold (strategy settings); spread, slippage,
    commission, leverage, stop-out (paper book); initial equity (the account's balance);
    risk rules on (its risk policy, see :func:`account_engine_fields`)."""
    from trading.services.strategy import strategy_settings_get

    settings = strategy_settings_get(account.pk)
    if (settings.symbol.upper(), settings.timeframe.upper()) != (
            model.instrument.symbol, model.timeframe):
        raise DataError(f"account {account.pk} trades {settings.symbol} {settings.timeframe}; "
                        f"model #{model.pk} is {model.instrument.symbol} {model.timeframe}",
                        column="account")
    paper = _paper_book(account)
    return replace(
        base or BacktestParams(), lots=settings.lots, sl_atr=settings.sl_atr,
        tp_atr=settings.tp_atr, max_bars_held=settings.max_bars_held,
        threshold=settings.threshold, use_risk=True, spread_pips=paper.spread_pips,
        slippage_pips=paper.slippage_pips, commission_per_lot=paper.commission_per_lot,
        leverage=int(paper.leverage), stop_out_level=Decimal(paper.stop_out_level),
        initial_equity=account.initial_balance)


def account_engine_fields(account: TradingAccount) -> dict[str, Any]:
    """The engine settings of the account that a run has no column for: the risk policy's
    rules, ATR period, exit on opposite signal, risk-per-trade sizing."""
    from trading.models import RiskPolicy
    from trading.services.strategy import strategy_settings_get

    settings = strategy_settings_get(account.pk)
    policy = RiskPolicy.objects.filter(account=account).first() or RiskPolicy(account=account)
    pct = settings.risk_per_trade_pct
    return {"risk": policy.to_config(), "atr_period": int(settings.atr_period),
            "exit_on_opposite": bool(settings.exit_on_opposite),
            "risk_per_trade_pct": None if pct is None else float(pct)}
