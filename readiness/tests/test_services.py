"""``readiness_run`` end to end on small stored synthetic data: the stored report's figures
are those of its own BacktestRun, replay and reconciliation (read back, not hard-coded)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from backtests.models import BacktestRun
from marketdata.selectors import bars_range
from readiness.models import ReadinessReport
from readiness.services import ReadinessRefused, readiness_run
from trading.models import Position, ReconciliationRun

pytestmark = pytest.mark.django_db


def test_readiness_run_stores_a_verdict_consistent_with_its_runs(world):
    said = []
    report = readiness_run(world.pk, days=5, progress=said.append)
    report.refresh_from_db()
    held_out = BacktestRun.objects.get(pk=report.backtest_run_id)
    twin = BacktestRun.objects.get(pk=report.agreement_run_id)
    figures = report.figures
    last_day = bars_range("XAUUSD", "H1")[1].date()
    # The held-out backtest: from the day after training to the last stored day, with a sweep.
    assert (held_out.start, held_out.end) == (date(2024, 3, 1), last_day)
    assert held_out.sweep and held_out.sweep_results
    assert figures["win_rate"] == held_out.win_rate
    assert figures["trades"] == held_out.trade_count
    assert figures["max_drawdown_pct"] == held_out.max_drawdown_pct
    assert figures["deflated_sharpe"] == held_out.deflated_sharpe
    assert figures["pbo"] == held_out.pbo
    # The replay: the last 5 days before the last stored day, on the new paper account.
    # (the last stored day is left for the next open that prices the final close).
    start = last_day - timedelta(days=5)
    assert (report.replay_start, report.replay_days) == (start, 5)
    assert twin.account_id == report.account_id
    assert (twin.start, twin.end) == (start, last_day - timedelta(days=1))
    closed = Position.objects.filter(account_id=report.account_id, status="closed").count()
    assert figures["agreement"]["replay_trades"] == closed
    assert figures["agreement"]["backtest_trades"] == twin.trade_count
    recon = ReconciliationRun.objects.get(pk=figures["reconciliation"]["run"])
    assert recon.account_id == report.account_id
    assert figures["reconciliation_clean"] == (recon.status == "clean")
    assert figures["lookahead_clean"] is True
    # The verdict is the criteria's: GO only when all pass, reasons for each failure.
    failed = [c for c in report.criteria if not c["passed"]]
    assert report.verdict == ("NO-GO" if failed else "GO")
    assert report.reasons == [c["reason"] for c in failed]
    assert {c["name"] for c in report.criteria} >= {
        "win_rate", "profit_factor", "max_drawdown", "min_trades", "stop_conditions",
        "replay_agreement", "reconciliation", "lookahead", "deflated_sharpe", "pbo"}
    assert report.model_fingerprint == world.fingerprint
    # The run's paper account is closed afterwards: the live dispatcher never trades it.
    assert report.account.status == "closed"
    assert report.ran_by
    html = Path(report.report_path).read_text(encoding="utf-8")
    assert report.verdict in html and "<script" not in html and "<link" not in html
    assert not re.search(r"""(src|href)=["']https?:""", html)  # self-contained
    assert any("Replay" in line for line in said)
    print({"verdict": report.verdict, "reasons": report.reasons,
           "agreement": figures["agreement"], "seconds": report.duration_seconds})


def test_changed_fingerprint_is_refused_and_nothing_stored(world):
    from mlops.models import MLModel

    MLModel.objects.filter(pk=world.pk).update(
        fingerprint_components={**world.fingerprint_components, "label": {"edited": True}})
    with pytest.raises(ReadinessRefused, match="fingerprint no longer matches"):
        readiness_run(world.pk, days=5)
    assert not ReadinessReport.objects.exists()
    assert not BacktestRun.objects.exists()


def test_a_run_failing_after_the_replay_stores_no_report_and_closes_its_account(world,
                                                                                 monkeypatch):
    from accounts.models import TradingAccount
    from readiness import services

    real = services._backtest

    def second_backtest_fails(*args, **kwargs):
        if kwargs.get("account") is not None:
            raise ReadinessRefused("backtest of the replay window refused: simulated")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "_backtest", second_backtest_fails)
    with pytest.raises(ReadinessRefused, match="simulated"):
        readiness_run(world.pk, days=5)
    assert not ReadinessReport.objects.exists()
    account = TradingAccount.objects.get(name__startswith="readiness #")
    assert account.status == "closed"   # never left for the live dispatcher to trade
