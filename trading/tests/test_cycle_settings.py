"""Strategy settings: the ``backtest`` command's defaults, created with every account."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backtests.management.commands.backtest import Command as BacktestCommand
from backtests.services.params import BacktestParams
from trading.models import StrategySettings
from trading.services.strategy import strategy_settings_get
from trading.tests import cyclekit


def backtest_defaults() -> dict:
    parser = BacktestCommand().create_parser("manage.py", "backtest")
    return {action.dest: action.default for action in parser._actions}


def test_defaults_are_the_backtest_commands():
    command = backtest_defaults()
    settings = StrategySettings()
    assert settings.lots == command["lots"] == BacktestParams().lots
    assert settings.sl_atr == command["sl_atr"] == BacktestParams().sl_atr
    assert settings.tp_atr == command["tp_atr"] == BacktestParams().tp_atr
    assert settings.max_bars_held is command["max_bars_held"] is None
    assert settings.threshold is command["threshold"] is None     # the model's threshold
    assert settings.exit_on_opposite is True and settings.atr_period == 14


def test_paper_costs_are_the_backtest_commands():
    from trading.paper.models import PaperAccount

    command = backtest_defaults()
    paper = PaperAccount()
    assert (paper.spread_pips, paper.slippage_pips) == (command["spread"], command["slippage"])
    assert paper.leverage == command["leverage"]
    assert Decimal(paper.stop_out_level) == command["stop_out"]


def test_account_create_makes_the_settings(db):
    account = cyclekit.paper_account()
    assert StrategySettings.objects.get(account=account).lots == Decimal("0.01")


def test_an_older_account_gets_them_on_first_use(db):
    account = cyclekit.paper_account()
    StrategySettings.objects.filter(account=account).delete()
    settings = strategy_settings_get(account.pk)
    assert settings.pk and strategy_settings_get(account.pk).pk == settings.pk


def test_risk_sizing_needs_a_stop_loss(db):
    from django.db import IntegrityError

    account = cyclekit.paper_account()
    with pytest.raises(IntegrityError):
        StrategySettings.objects.filter(account=account).update(
            sl_atr=None, risk_per_trade_pct=Decimal("1"))


def test_backtest_account_config_uses_the_accounts_settings_policy_and_costs(db):
    from backtests.services.account import account_engine_fields, account_params
    from trading.models import RiskPolicy
    from trading.tests.orderpaths import ml_model

    account = cyclekit.paper_account()
    StrategySettings.objects.filter(account=account).update(
        lots=Decimal("0.02"), sl_atr=2.0, tp_atr=None, max_bars_held=12, threshold=0.6,
        exit_on_opposite=False, atr_period=10)
    RiskPolicy.objects.filter(account=account).update(max_trades_per_day=4)
    account.paper.spread_pips = Decimal("2.5")
    account.paper.save()
    params = account_params(account, ml_model())
    assert (params.lots, params.sl_atr, params.tp_atr, params.max_bars_held,
            params.threshold, params.spread_pips, params.initial_equity) == (
        Decimal("0.02"), 2.0, None, 12, 0.6, Decimal("2.5"), Decimal("10000.00"))
    fields = account_engine_fields(account)
    assert (fields["risk"].max_trades_per_day, fields["atr_period"],
            fields["exit_on_opposite"]) == (4, 10, False)


def test_backtest_account_refuses_a_live_account(db):
    from backtests.services.account import account_params
    from nusatrade.errors import DataError
    from trading.services import account_create
    from trading.tests.orderpaths import ml_model

    cyclekit.paper_account()
    live = account_create("trader", name="live", broker="mt5")
    with pytest.raises(DataError, match="not a paper account"):
        account_params(live, ml_model())
