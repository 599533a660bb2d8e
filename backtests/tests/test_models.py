"""Database rules of backtest runs and trades: constraints, choices, derived properties."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from backtests.models import BacktestRun, BacktestTrade, RunStatus, TradeSide


def new_run(model, **fields) -> BacktestRun:
    values = {"model": model, "start": date(2021, 9, 1), "end": date(2021, 12, 31),
              "spread_pips": Decimal("3"), "slippage_pips": Decimal("1"),
              "lots": Decimal("0.01"), "threshold": 0.6, "initial_equity": Decimal("10000")}
    return BacktestRun.objects.create(**{**values, **fields})


def refused(model, **fields) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        new_run(model, **fields)


def test_a_new_run_is_queued_with_no_results(model):
    run = new_run(model)
    assert run.status == RunStatus.QUEUED and not run.is_finished
    assert run.net_profit is None and run.trade_count is None and run.duration is None
    assert str(run) == f"Backtest #{run.pk} of model #{model.pk} 2021-09-01..2021-12-31"


def test_the_period_cannot_end_before_it_starts(model):
    refused(model, end=date(2021, 8, 31))


@pytest.mark.parametrize("threshold", [0.49, 1.01])
def test_the_threshold_stays_in_the_gates_range(model, threshold):
    refused(model, threshold=threshold)


@pytest.mark.parametrize(("field", "value"), [
    ("spread_pips", Decimal("-0.1")), ("slippage_pips", Decimal("-1")), ("lots", Decimal("0")),
    ("initial_equity", Decimal("0")),
])
def test_costs_and_sizes_cannot_be_negative(model, field, value):
    refused(model, **{field: value})


def test_a_finished_run_has_a_finish_time(model):
    refused(model, status=RunStatus.SUCCEEDED)
    refused(model, status=RunStatus.FAILED)
    run = new_run(model, status=RunStatus.SUCCEEDED, finished_at=timezone.now(),
                  duration_seconds=2.5)
    assert run.is_finished and run.duration == timedelta(seconds=2.5)


def trade(run, number: int) -> BacktestTrade:
    now = timezone.now()
    money = Decimal("1.25")
    return BacktestTrade.objects.create(
        run=run, number=number, side=TradeSide.BUY, lots=Decimal("0.01"), signal_time=now,
        entry_time=now, exit_time=now, entry_price=Decimal("1800.10"),
        exit_price=Decimal("1801.35"), gross_pnl=money, spread_cost=money,
        slippage_cost=money, commission=money, swap=money, costs=money, net_pnl=money,
        balance=Decimal("10001.25"), exit_reason="take_profit", bars_held=3)


def test_trade_numbers_are_unique_within_a_run(model):
    run = new_run(model)
    trade(run, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        trade(run, 1)
    trade(new_run(model), 1)  # another run may have its own trade 1
    assert BacktestTrade.objects.count() == 2


def test_money_keeps_its_cents_exactly(model):
    stored = trade(new_run(model), 1)
    stored.refresh_from_db()
    assert stored.net_pnl == Decimal("1.25") and stored.entry_price == Decimal("1800.10")
    assert str(stored).startswith("#1 BUY")


def test_deleting_a_run_deletes_its_trades_and_report_but_not_the_model(model):
    from backtests.models import BacktestReport

    run = new_run(model)
    trade(run, 1)
    BacktestReport.objects.create(run=run, html="<html></html>", equity_svg="<svg/>",
                                  drawdown_svg="<svg/>", monthly_svg="<svg/>")
    run.delete()
    assert not BacktestTrade.objects.exists() and not BacktestReport.objects.exists()
    model.refresh_from_db()


def test_a_model_with_runs_cannot_be_deleted(model):
    from django.db.models import ProtectedError

    new_run(model)
    with pytest.raises(ProtectedError):
        model.delete()
