"""``performance_track`` and ``track_performance``: snapshots from positions and signals."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pandas as pd
import pytest
from django.core.management import call_command

from backtests.models import BacktestRun, RunStatus
from monitoring.models import PerformanceSnapshot
from monitoring.services import backtest_expectation, performance_track
from monitoring.tests import factories as f

pytestmark = pytest.mark.django_db
MON = datetime(2026, 1, 5, tzinfo=UTC)
DAY = date(2026, 1, 5)


def h(hour: int) -> datetime:
    return MON + timedelta(hours=hour)


@pytest.fixture
def scenario():
    """Account A trades model M: the five hand-worked trades of test_tracker (net +25);
    account B trades M once (-40) and has a manual trade (+7, no model)."""
    a, b = f.account("A"), f.account("B", owner="trader2")
    m = f.model("rf", metrics={"test": {"gated_accuracy": 0.55}})
    for entry, exit_, net in [(1, 3, "30"), (2, 4, "-10"), (6, 7, "-10"), (10, 12, "20"),
                              (20, 23, "-5")]:
        f.closed(a, m, h(entry), h(exit_), net)
    f.closed(b, m, h(5), h(6), "-40")
    f.closed(b, None, h(8), h(9), "7")
    f.opened(a, m, h(23))
    return a, b, m


def test_snapshots_per_pair_account_and_model(scenario) -> None:
    a, b, m = scenario
    snapshots = {s.scope_key: s for s in performance_track(DAY, drift=False)}
    assert set(snapshots) == {f"account:{a.pk}/model:{m.pk}", f"account:{b.pk}/model:{m.pk}",
                              f"account:{a.pk}", f"account:{b.pk}", f"model:{m.pk}"}
    pair = snapshots[f"account:{a.pk}/model:{m.pk}"]
    assert pair.trades == 5 and pair.net_pnl == Decimal("25.00")
    assert pair.win_rate == pytest.approx(0.4) and pair.profit_factor == pytest.approx(2.0)
    assert pair.figures["all"]["max_drawdown"] == pytest.approx(20.0)
    assert pair.figures["all"]["consecutive_losses"] == 1
    # Account B, every trade (manual one included): -40 then +7.
    acct_b = snapshots[f"account:{b.pk}"]
    assert acct_b.trades == 2 and acct_b.net_pnl == Decimal("-33.00")
    # The model across accounts, in closing order from 20,000 (2 x 10,000): +30 (peak
    # 20,030), -10, B's -40, -10 (trough 19,970: drawdown 60), +20, -5 -> net -15.
    per_model = snapshots[f"model:{m.pk}"]
    assert per_model.trades == 6 and per_model.net_pnl == Decimal("-15.00")
    assert per_model.figures["all"]["max_drawdown_pct"] == pytest.approx(60 / 20030 * 100)
    assert per_model.expected["hit_rate"] == 0.55
    assert per_model.versus_backtest["win_rate_test"]["expected"] is None  # nothing stored


def test_a_rerun_of_the_same_day_replaces_the_rows(scenario) -> None:
    a, _, m = scenario
    performance_track(DAY, drift=False)
    f.closed(a, m, h(1), h(2), "1")
    performance_track(DAY, drift=False)
    assert PerformanceSnapshot.objects.filter(date=DAY).count() == 5
    pair = PerformanceSnapshot.objects.get(date=DAY, scope_key=f"account:{a.pk}/model:{m.pk}")
    assert pair.trades == 6


def test_trades_after_the_day_are_not_counted(scenario) -> None:
    a, _, m = scenario
    f.closed(a, m, h(30), h(31), "100")  # Tuesday
    pair = PerformanceSnapshot.objects.get(
        pk=next(s.pk for s in performance_track(DAY, drift=False)
            if s.scope_key == f"account:{a.pk}/model:{m.pk}"))
    assert pair.trades == 5


def test_live_win_rate_is_tested_against_the_held_out_backtest(scenario) -> None:
    _, _, m = scenario
    run = BacktestRun.objects.create(
        model=m, start=date(2025, 7, 1), end=date(2025, 12, 31), spread_pips=Decimal("3"),
        slippage_pips=Decimal("1"), lots=Decimal("0.01"), threshold=0.6,
        initial_equity=Decimal("10000"), status=RunStatus.SUCCEEDED, finished_at=MON,
        win_rate=0.8, profit_factor=2.5, sharpe=1.2, max_drawdown_pct=5.0,
        metrics={"expectancy": 4.0})
    expected = backtest_expectation(m)
    assert expected["run_id"] == run.pk and expected["win_rate"] == 0.8
    snapshot = next(s for s in performance_track(DAY, drift=False)
                if s.scope_key == f"model:{m.pk}")
    test = snapshot.versus_backtest["win_rate_test"]
    # 2 wins of 6 under 80 %: P(X <= 2) = sum_k<=2 C(6,k) .8^k .2^(6-k) = 0.01696 < 0.05
    hand = 0.2 ** 6 + 6 * 0.8 * 0.2 ** 5 + 15 * 0.64 * 0.2 ** 4
    assert test["p_value"] == pytest.approx(hand) and test["consistent"] is False
    assert snapshot.versus_backtest["figures"]["profit_factor"]["backtest"] == 2.5


def test_signal_statistics_use_the_stored_next_bar(scenario) -> None:
    from marketdata.services import bars_upsert

    a, _, m = scenario
    times = pd.date_range(MON, periods=4, freq="h", tz="UTC", name="time")
    opens = [2350.0, 2351.0, 2352.0, 2351.0]
    closes = [2351.0, 2352.0, 2351.0, 2350.0]  # up, up, down, down
    bars_upsert("XAUUSD", "H1", pd.DataFrame(
        {"open": opens, "high": [max(o, c) + 1 for o, c in zip(opens, closes, strict=True)],
         "low": [min(o, c) - 1 for o, c in zip(opens, closes, strict=True)], "close": closes,
         "volume": [100.0] * 4, "spread": [30.0] * 4}, index=times))
    f.signal(a, m, h(0), "BUY", 0.7)    # next bar up: hit
    f.signal(a, m, h(1), "BUY", 0.65)   # next bar down: miss
    f.signal(a, m, h(2), "HOLD", 0.5)
    f.signal(a, m, h(3), "SELL", 0.8)   # no next bar stored: not judged
    pair = next(s for s in performance_track(DAY, drift=False)
            if s.scope_key == f"account:{a.pk}/model:{m.pk}")
    stats = pair.signals["all"]
    assert stats["signals"] == 4 and stats["hold_share"] == pytest.approx(0.25)
    assert stats["avg_confidence"] == pytest.approx((0.7 + 0.65 + 0.5 + 0.8) / 4)
    assert stats["hits"] == 1 and stats["judged"] == 2
    assert pair.versus_backtest["hit_rate_test"]["expected"] == 0.55


def test_command_prints_the_table_and_json(scenario) -> None:
    out = StringIO()
    call_command("track_performance", "--date", "2026-01-05", "--no-drift", stdout=out)
    text = out.getvalue()
    assert "5 snapshot(s) stored" in text and "25.00" in text
    out = StringIO()
    call_command("track_performance", "--date", "2026-01-05", "--no-drift", "--json",
                 stdout=out)
    rows = json.loads(out.getvalue())
    assert {r["scope"] for r in rows} == set(PerformanceSnapshot.objects.values_list(
        "scope_key", flat=True))


def test_command_refuses_a_bad_date() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--date '2026-13-01'"):
        call_command("track_performance", "--date", "2026-13-01")


def test_the_task_is_routed_to_the_training_queue_and_calls_the_service(scenario) -> None:
    from django.conf import settings

    from monitoring.tasks import track_performance

    assert track_performance.name == "mlops.track_performance"
    route = next(v for k, v in settings.CELERY_TASK_ROUTES.items()
                 if __import__("fnmatch").fnmatch(track_performance.name, k))
    assert route == {"queue": "training"}
    result = track_performance.apply(kwargs={"day": "2026-01-05"}).get()
    assert result["date"] == "2026-01-05" and len(result["snapshots"]) == 5
    from django_celery_beat.models import PeriodicTask

    beat = PeriodicTask.objects.get(task="mlops.track_performance")
    assert beat.enabled and beat.crontab.hour == "0"
