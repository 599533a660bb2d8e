"""Backtest runs through the services: the training-window refusal, create -> queued ->
enqueued on commit, execute -> Decimal results, trades, report; idempotent claims."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from backtests.engine import run_backtest
from backtests.models import BacktestRun, BacktestTrade, RunStatus
from backtests.services import (
    BacktestParams,
    backtest_run_create,
    backtest_run_execute,
    first_allowed_day,
)
from backtests.services.runs import _claim
from backtests.signals import model_probabilities
from marketdata.services import bars_upsert
from marketdata.synthetic import generate_bars
from mlops import pipeline
from mlops.models import MLModel
from mlops.pipeline import TrainConfig, TrainResult
from mlops.services import clear_estimator_cache, model_register
from nusatrade.errors import DataError
from trading.models import Instrument

# --- Shared helpers of the backtests app's Django tests (imported by the other test modules).
# One year of synthetic H1 gold; the model trains on January-August 2021 and is backtested
# on September-December, after its training window.
BARS_START = "2021-01-04"
TRAIN_END = pd.Timestamp("2021-09-01", tz="UTC")
PERIOD = (date(2021, 9, 1), date(2021, 12, 31))
SMALL_FOREST = {"n_estimators": 20, "max_depth": 4, "min_samples_leaf": 50}


@lru_cache(maxsize=1)
def sample_bars() -> pd.DataFrame:
    return generate_bars("H1", years=1.0, seed=7, start=BARS_START)


@lru_cache(maxsize=1)
def trained_result() -> TrainResult:
    """A small forest trained once per test session (pure pipeline, no database)."""
    bars = sample_bars()
    config = TrainConfig(algorithm="random_forest", params=SMALL_FOREST, tune=True, cost=0.3,
                         min_trades=10, importance_repeats=1, importance_rows=300, n_jobs=1)
    return pipeline.train(bars[bars.index < TRAIN_END], config, pipeline.default_feature_set())


def store_sample_bars() -> None:
    bars_upsert("XAUUSD", "H1", sample_bars(), synthetic=True)


def register_model(artifacts_dir) -> MLModel:
    """Store the sample bars and register the trained model with its file in
    ``artifacts_dir`` (tests point ``settings.ARTIFACTS_DIR`` there)."""
    clear_estimator_cache()
    store_sample_bars()
    return model_register(instrument=Instrument.objects.get(symbol="XAUUSD"), timeframe="H1",
                          result=trained_result(), feature_set=pipeline.default_feature_set(),
                          synthetic=True, name="XAUUSD-H1-test")


def registered_model(settings, tmp_path) -> MLModel:
    """The body of each module's ``model`` fixture: artifacts under ``tmp_path``."""
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    return register_model(settings.ARTIFACTS_DIR)
# --- end of shared helpers



def execute(model: MLModel, **params) -> BacktestRun:
    run = backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1],
                              params=BacktestParams(**params), enqueue=False)
    return backtest_run_execute(run.pk)


def test_first_allowed_day_is_the_day_after_the_last_training_bar(model):
    assert model.data_end == pd.Timestamp("2021-08-31 23:00", tz="UTC")
    assert first_allowed_day(model) == date(2021, 9, 1)


@pytest.mark.parametrize("start", [date(2021, 8, 31), date(2021, 3, 1), date(2020, 6, 1)])
def test_period_touching_or_before_the_training_window_is_refused(model, start):
    with pytest.raises(DataError) as caught:
        backtest_run_create(model=model, start=start, end=date(2021, 12, 31), enqueue=False)
    message = str(caught.value)
    assert f"model #{model.pk}" in message
    assert "2021-01-04 00:00 to 2021-08-31 23:00 UTC" in message
    assert "first allowed start is 2021-09-01" in message
    assert caught.value.column == "start"
    assert not BacktestRun.objects.exists()


def test_reversed_period_is_refused(model):
    with pytest.raises(DataError, match=r"ends .* before it starts") as caught:
        backtest_run_create(model=model, start=date(2021, 12, 1), end=date(2021, 11, 1))
    assert caught.value.column == "end"


def test_period_without_stored_bars_is_refused(model):
    with pytest.raises(DataError, match="no XAUUSD H1 bars are stored from 2023-01-01"):
        backtest_run_create(model=model, start=date(2023, 1, 1), end=date(2023, 6, 30))


@pytest.mark.parametrize(("field", "value"), [
    ("lots", Decimal("0")), ("lots", Decimal("-0.01")), ("lots", Decimal("0.015")),
    ("lots", Decimal("1000")), ("lots", Decimal("NaN")), ("spread_pips", Decimal("-1")),
    ("slippage_pips", Decimal("Infinity")), ("sl_atr", 0.0), ("tp_atr", float("nan")),
    ("max_bars_held", 0), ("threshold", 0.49), ("initial_equity", Decimal("0")),
])
def test_bad_parameters_are_refused_naming_the_field(model, field, value):
    with pytest.raises(DataError) as caught:
        backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1],
                            params=BacktestParams(**{field: value}))
    assert caught.value.column == field
    assert not BacktestRun.objects.exists()


def capture_task_sends(monkeypatch) -> list[tuple]:
    """Record ``run_backtest.delay`` calls instead of sending them (eager or broker alike);
    tests run them in-process with ``run_backtest.apply``."""
    from backtests.tasks import run_backtest

    sent: list[tuple] = []
    monkeypatch.setattr(run_backtest, "delay", lambda *args: sent.append(args))
    return sent


def test_create_stores_a_queued_run_and_enqueues_only_on_commit(
        model, django_capture_on_commit_callbacks, monkeypatch):
    from backtests.tasks import run_backtest

    sent = capture_task_sends(monkeypatch)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1])
    assert run.status == RunStatus.QUEUED and len(callbacks) == 1 and sent == []
    assert run.threshold == model.threshold
    callbacks[0]()  # the commit
    assert sent == [(run.pk,)]
    run_backtest.apply(args=sent[0]).get()
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.attempts == 1


def test_execute_stores_decimal_money_trades_curve_and_report(model):
    run = execute(model)
    assert run.status == RunStatus.SUCCEEDED, run.error
    trades = list(BacktestTrade.objects.filter(run=run))
    assert run.trade_count == len(trades) > 0
    assert isinstance(run.net_profit, Decimal)
    assert run.net_profit == sum((t.net_pnl for t in trades), Decimal("0"))
    assert run.final_equity == run.initial_equity + run.net_profit
    assert run.metrics["net_profit"] == pytest.approx(float(run.net_profit), abs=0.005)
    assert run.bars == len(sample_bars().loc["2021-09-01":"2021-12-31"])
    assert run.synthetic_data is True
    assert run.finished_at is not None and run.duration_seconds > 0
    assert run.equity_curve[0][0] >= "2021-09-01" and run.equity_curve[-1][0] <= "2021-12-31"
    assert run.report.html.startswith("<!DOCTYPE html>") and run.report.html.count("<svg") == 3
    assert "SYNTHETIC DATA" in run.report.html
    assert run.report.equity_svg.startswith("<svg")


def test_stored_run_equals_the_engine_on_the_same_signals(model):
    run = execute(model, spread_pips=Decimal("3"), slippage_pips=Decimal("1"))
    signals = model_probabilities(model, *PERIOD)
    decisions, confidence = signals.decisions(run.threshold)
    from backtests.services import backtest_config_build, run_params

    config = backtest_config_build(model, run_params(run))
    result = run_backtest(signals.bars[["open", "high", "low", "close"]], decisions, config,
                          confidence=confidence)
    assert run.trade_count == len(result.trades)
    assert float(run.net_profit) == pytest.approx(result.metrics["net_profit"], abs=0.005)
    first = BacktestTrade.objects.get(run=run, number=1)
    assert first.entry_time == result.trades["entry_time"].iloc[0]
    assert float(first.entry_price) == pytest.approx(result.trades["entry_price"].iloc[0])


def test_spread_and_slippage_pips_convert_with_the_instruments_pip_size(model):
    run = execute(model, spread_pips=Decimal("3"), slippage_pips=Decimal("1"),
                  sl_atr=None, tp_atr=None, use_risk=False)
    engine = run.params["engine"]
    assert engine["spread"] == pytest.approx(0.3) and engine["slippage"] == pytest.approx(0.1)
    trade = BacktestTrade.objects.filter(run=run).first()
    # 0.3 price units x 100 per lot x 0.01 lot; slippage 0.1 on each of two fills.
    assert trade.spread_cost == Decimal("0.30") and trade.slippage_cost == Decimal("0.20")
    assert "3 pips = 0.3 price units" in run.params["display"]["Spread"]


def test_threshold_override_is_used_and_recorded(model):
    run = execute(model, threshold=0.7)
    assert run.threshold == 0.7 and run.params["threshold_override"] is True
    assert "override" in run.params["display"]["Threshold (HOLD gate)"]


def test_sweep_runs_the_seeds_grid_in_pips(model):
    run = execute(model, sweep=True)
    rows = run.sweep_results
    assert len(rows) == 4 * 2 * 5
    assert sorted({r["spread_pips"] for r in rows}) == [2.0, 3.0, 4.0, 5.0]
    assert sorted({r["slippage_pips"] for r in rows}) == [1.0, 2.0]
    assert sorted({r["threshold"] for r in rows}) == [0.5, 0.55, 0.6, 0.65, 0.7]
    same = [r for r in rows if r["spread_pips"] == 3 and r["slippage_pips"] == 1
            and r["threshold"] == pytest.approx(run.threshold)]
    if same:  # the model's threshold is on the grid: that row is the run itself
        assert same[0]["trades"] == run.trade_count


def test_each_extra_pip_of_cost_is_charged_on_every_sweep_trade(model):
    # Without stops or risk rules the trades do not depend on costs, only their P/L does.
    run = execute(model, sweep=True, use_risk=False, sl_atr=None, tp_atr=None)
    rows = {(r["spread_pips"], r["slippage_pips"], r["threshold"]): r
            for r in run.sweep_results}
    cheap, dear = rows[(2.0, 1.0, 0.5)], rows[(5.0, 2.0, 0.5)]
    assert cheap["trades"] == dear["trades"] > 0
    # 3 more pips of spread (0.30 a trade at 0.01 lot) and 1 more pip on each of 2 fills (0.20)
    assert dear["net_profit"] == pytest.approx(cheap["net_profit"] - 0.50 * cheap["trades"],
                                               abs=0.011)


def test_executing_a_finished_run_again_does_nothing(model):
    run = execute(model)
    trades = run.trade_count
    again = backtest_run_execute(run.pk)
    assert again.status == RunStatus.SUCCEEDED and again.attempts == 1
    assert BacktestTrade.objects.filter(run=run).count() == trades


def test_only_one_claim_wins(model):
    run = backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1], enqueue=False)
    assert _claim(run.pk) is not None
    assert _claim(run.pk) is None
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.attempts == 1


def test_a_running_run_is_not_run_again_by_a_duplicate_delivery(model):
    run = backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1], enqueue=False)
    _claim(run.pk)
    again = backtest_run_execute(run.pk)
    assert again.status == RunStatus.RUNNING and again.trade_count is None


def test_a_run_left_running_past_the_time_limit_is_reclaimed(model, settings):
    run = backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1], enqueue=False)
    _claim(run.pk)  # a worker claimed it and died
    long_ago = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    BacktestRun.objects.filter(pk=run.pk).update(started_at=long_ago)
    again = backtest_run_execute(run.pk)
    assert again.status == RunStatus.SUCCEEDED and again.attempts == 2


def test_results_of_a_lost_claim_are_discarded(model):
    from backtests.services import runs

    run = backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1], enqueue=False)
    original = runs._compute

    def steal_then_compute(run, feature_set):  # another execution reclaims meanwhile
        outcome = original(run, feature_set)
        BacktestRun.objects.filter(pk=run.pk).update(claim=None)
        return outcome

    runs._compute = steal_then_compute
    try:
        again = backtest_run_execute(run.pk)
    finally:
        runs._compute = original
    assert again.status == RunStatus.RUNNING
    assert not BacktestTrade.objects.filter(run=run).exists()


def test_a_tampered_model_file_fails_the_run_with_the_reason(model, settings):
    run = backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1], enqueue=False)
    clear_estimator_cache()
    path = settings.ARTIFACTS_DIR / model.artifact_path
    path.write_bytes(path.read_bytes() + b"tampered")
    run = backtest_run_execute(run.pk)
    assert run.status == RunStatus.FAILED
    assert "REFUSING TO LOAD" in run.error and run.finished_at is not None
    assert not BacktestTrade.objects.filter(run=run).exists()


def test_unknown_model_is_refused(db):
    with pytest.raises(DataError, match="no ML model with id 999"):
        backtest_run_create(model=999, start=PERIOD[0], end=PERIOD[1])


def test_no_risk_trades_at_least_as_often_as_with_the_risk_rules(model):
    with_risk = execute(model)
    without = execute(model, use_risk=False)
    assert without.trade_count >= with_risk.trade_count
    assert "off" in without.params["display"]["Risk rules"]
    assert np.isfinite(without.metrics["final_equity"])
