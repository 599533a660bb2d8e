"""``make demo`` shortened (4 years, random forest only, a 3-day replay; the demo's 5-year
controls) end to end: on the embedded default (SQLite, eager Celery; in a child pytest when
this run is on PostgreSQL) and on PostgreSQL + Redis with a REAL Celery worker running the
readiness task. Each checks the stored verdicts against the stored backtests, the
known-answer controls (random walk NO-GO, planted edge GO) and the trader's account; the
random walk control is also run alone on several seeds: it must ALWAYS end NO-GO."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from readiness.models import ReadinessReport

DEMO_ARGS = ["--quick", "--years", "4", "--replay-days", "3"]
CONTROL_SYMBOLS = ("SYN_RWALK", "SYN_EDGE")


@pytest.fixture
def demo_dirs(settings, tmp_path):
    settings.REPORTS_DIR = tmp_path / "reports"
    settings.VAR_DIR = tmp_path / "var"
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    return tmp_path


def _run_demo(*extra: str) -> str:
    out = io.StringIO()
    call_command("demo", *DEMO_ARGS, *extra, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def assert_report_matches_its_backtest(report: ReadinessReport) -> None:
    """The stored figures are the stored held-out backtest's, recomputed from its trades."""
    run = report.backtest_run
    trades = list(run.trades.values_list("net_pnl", flat=True))
    figures = report.figures
    assert figures["trades"] == run.trade_count == len(trades)
    assert figures["backtest"]["run"] == run.pk and run.model_id == report.model_id
    assert Decimal(figures["net_profit"]) == sum(trades, Decimal("0")) == run.net_profit
    if trades:
        wins = sum(1 for pnl in trades if pnl > 0)
        assert figures["win_rate"] == pytest.approx(wins / len(trades), abs=1e-9)
        gross_win = sum((p for p in trades if p > 0), Decimal("0"))
        gross_loss = -sum((p for p in trades if p < 0), Decimal("0"))
        if gross_loss:
            assert figures["profit_factor"] == pytest.approx(float(gross_win / gross_loss),
                                                             rel=1e-6)
    assert report.backtest_start > report.model.data_end.date()  # held out
    by_name = {c["name"]: c for c in report.criteria}
    assert by_name["min_trades"]["measured"] == run.trade_count
    # GO only when every criterion passed; NO-GO gives one reason per failure.
    failed = [c for c in report.criteria if not c["passed"]]
    assert report.verdict == ("GO" if not failed else "NO-GO")
    assert len(report.reasons) == len(failed)
    assert Path(report.report_path).is_file()


def assert_demo_outcome(output: str) -> None:
    from accounts.models import TradingAccount

    reports = {r.symbol: r for r in ReadinessReport.objects.select_related(
        "backtest_run", "model")}
    assert set(reports) == {"XAUUSD", *CONTROL_SYMBOLS}, reports
    for symbol, report in reports.items():
        assert_report_matches_its_backtest(report)
        assert f"Readiness #{report.pk}: model #{report.model_id} {symbol}" in output
        assert f"Verdict: {report.verdict}" in output
    from nusatrade.management.commands.demo import FOUND_CRITERIA

    assert reports["SYN_RWALK"].verdict == "NO-GO"
    edge = {c["name"]: c["passed"] for c in reports["SYN_EDGE"].criteria}
    assert all(edge[name] for name in FOUND_CRITERIA), reports["SYN_EDGE"].reasons
    assert all(r.backtest_run.synthetic_data for s, r in reports.items() if s != "XAUUSD")
    assert "random_walk  : NO-GO as expected" in output
    assert ("planted_edge : GO as expected" in output
            or "planted_edge : edge FOUND (win rate, profit factor, trades and PBO pass)"
            in output)
    account = TradingAccount.objects.get(owner__username="demo-trader", name="Demo paper")
    assert account.risk_policy is not None and account.strategy_settings is not None
    assert "make serve" in output and "/admin/dashboard/" in output and "/api/docs/" in output


sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="the embedded default in-process; this run uses PostgreSQL (the subprocess test "
           "below runs it on SQLite)")


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_shortened_demo_on_the_embedded_default(demo_dirs, settings):
    assert settings.CELERY_TASK_ALWAYS_EAGER
    output = _run_demo()
    assert "(task readiness.run, in this process (eager Celery))" in output
    assert_demo_outcome(output)


@pytest.mark.skipif(connection.vendor == "sqlite", reason="the test above runs in-process")
def test_the_embedded_demo_runs_in_a_subprocess_when_this_run_uses_postgresql():
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    drop = {"DATABASE_URL", "REDIS_URL", "REQUIRE_SERVICES", "CELERY_BROKER_URL",
            "CELERY_RESULT_BACKEND", "CELERY_TASK_ALWAYS_EAGER"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(Path(__file__).relative_to(root)), "-k", "embedded_default"],
        cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout, result.stdout[-2000:]


@pytest.mark.services("celery")
def test_shortened_demo_on_postgresql_with_a_real_worker(demo_dirs, transactional_db,
                                                         monkeypatch, settings, tmp_path):
    from conftest import celery_worker_started

    assert connection.vendor == "postgresql" and not settings.CELERY_TASK_ALWAYS_EAGER
    monkeypatch.setenv("REPORTS_DIR", str(settings.REPORTS_DIR))  # the worker's, too
    # readiness.run is routed to the default queue; the worker takes training too.
    with celery_worker_started(["celery", "training"], tmp_path / "worker.log", name="demo"):
        output = _run_demo()
    assert "(task readiness.run, on a Celery worker" in output
    assert_demo_outcome(output)
    log = (tmp_path / "worker.log").read_text()
    assert log.count("Task readiness.run[") >= 3 and "succeeded" in log  # the worker ran them
    assert all(r.ran_by == "task readiness.run" for r in ReadinessReport.objects.all())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", [7, 11, 23])
def test_the_random_walk_control_always_ends_no_go(seed, demo_dirs, settings):
    """The control alone, as an operator runs it: file, importer, training, readiness."""
    from mlops.models import MLModel
    from nusatrade.management.commands.demo import _training_end

    path = Path(settings.VAR_DIR) / f"rw-{seed}.txt"
    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    call_command("generate_control_data", kind="random_walk", years=2, seed=seed,
                 out=str(path), **quiet)
    call_command("import_bars", str(path), "--symbol", "SYN_RWALK", "--timeframe", "H1",
                 "--synthetic", **quiet)
    call_command("ml_demo", symbol="SYN_RWALK", algorithms=("random_forest",),
                 end=_training_end("SYN_RWALK", holdout_years=1), **quiet)
    model = MLModel.objects.get(instrument__symbol="SYN_RWALK")
    with pytest.raises(SystemExit) as exit_:
        call_command("readiness", "--model", str(model.pk), "--days", "3", "--activate",
                     **quiet)
    assert exit_.value.code == 3  # NO-GO
    report = ReadinessReport.objects.select_related("backtest_run", "model").get(model=model)
    assert report.verdict == "NO-GO" and report.reasons
    assert_report_matches_its_backtest(report)
