"""The demo engineer's "replay 5 trades, backtest 7, the replay refused 6 entries under
max_trades_per_day", reproduced: the random-walk control (2 years from 2019-01-07, the
controls' start before commit dc9367a, seed 3) and a 5-day readiness replay from 2020-12-29.

Root cause: not the risk rule. ``max_trades_per_day`` counts the same trades on the same UTC
days on both paths (every replay trade has its exact backtest twin, and the refusals fall on
days both paths filled with 2 trades). The synthetic series holds bars on New Year's Day, a
holiday in the cycle's market calendar: the live cycle does nothing there, the backtest
trades every stored bar. The 2 extra backtest trades are both on 2021-01-01. The agreement
check now names that cause instead of a bare trade count (docs/auto-trading.md, "Bars on a
closed market")."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command

from trading.cycle.steps import market_open_at

OLD_START = "2019-01-07"


@pytest.mark.django_db(transaction=True)
def test_backtest_trades_on_holiday_bars_are_named_and_the_daily_limit_agrees(
        settings, tmp_path, monkeypatch):
    from marketdata import controls
    from mlops.models import MLModel
    from nusatrade.management.commands.demo import _training_end
    from readiness.models import ReadinessReport
    from trading.models import Signal

    settings.REPORTS_DIR = tmp_path / "reports"
    settings.VAR_DIR = tmp_path / "var"
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    monkeypatch.setattr(controls, "START", OLD_START)
    path = tmp_path / "rw-3.txt"
    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    call_command("generate_control_data", kind="random_walk", years=2, seed=3, out=str(path),
                 **quiet)
    call_command("import_bars", str(path), "--symbol", "SYN_RWALK", "--timeframe", "H1",
                 "--synthetic", **quiet)
    call_command("ml_demo", symbol="SYN_RWALK", algorithms=("random_forest",),
                 end=_training_end("SYN_RWALK", holdout_years=1), **quiet)
    model = MLModel.objects.get(instrument__symbol="SYN_RWALK")
    with pytest.raises(SystemExit):
        call_command("readiness", "--model", str(model.pk), "--days", "5", "--activate",
                     **quiet)
    report = ReadinessReport.objects.select_related("agreement_run").get(model=model)
    agreement = report.figures["agreement"]
    tested = list(report.agreement_run.trades.order_by("entry_time"))
    assert agreement["replay_trades"] < agreement["backtest_trades"] == len(tested)
    # Every replay trade has its exact backtest twin: the daily limit cut the same entries.
    assert agreement["matched"] == agreement["replay_trades"] > 0
    # The backtest's extra trades are exactly the ones on a closed market, and named.
    closed = agreement["closed_market"]
    assert len(closed) == agreement["backtest_trades"] - agreement["matched"]
    assert {row["path"] for row in closed} == {"backtest"}
    for row in closed:
        assert not market_open_at(datetime.fromisoformat(row["entry_time"]))
    assert agreement["cause"] and agreement["mismatches"][0] == agreement["cause"]
    reason = next(c["reason"] for c in report.criteria if c["name"] == "replay_agreement")
    assert "the cycle's market calendar is closed" in reason
    # The replay's max_trades_per_day refusals all fall on days where both paths opened the
    # limit's 2 trades: the rule counted the same trades on the same UTC days.
    # (a refusal happens at the signal bar's close, one H1 bar after its open time)
    refused_days = {(s.bar_time + timedelta(hours=1)).date() for s in Signal.objects.filter(
        account_id=report.account_id, reason__contains="refused by max_trades_per_day")}
    assert refused_days, "the window must exercise the daily limit"
    per_day: dict = {}
    for trade in tested:
        per_day[trade.entry_time.date()] = per_day.get(trade.entry_time.date(), 0) + 1
    assert all(per_day.get(day) == 2 for day in refused_days), (refused_days, per_day)
