"""The ``run_backtest`` task: safe delivery options, calls the service, idempotent when
delivered twice, and runs for real on a Celery worker sharing the database."""

from __future__ import annotations

import pytest

from backtests.models import BacktestRun, BacktestTrade, RunStatus
from backtests.services import backtest_run_create
from backtests.tasks import run_backtest
from backtests.tests.test_services import PERIOD, registered_model
from nusatrade.celery import app


def queued_run(model) -> BacktestRun:
    return backtest_run_create(model=model, start=PERIOD[0], end=PERIOD[1], enqueue=False)


def test_task_is_registered_with_late_ack_and_redelivery_on_worker_loss():
    app.loader.import_default_modules()
    task = app.tasks["backtests.run_backtest"]
    assert task.acks_late is True and task.reject_on_worker_lost is True


def test_task_executes_the_run(model):
    run = queued_run(model)
    answer = run_backtest.apply(args=[run.pk]).get()
    run.refresh_from_db()
    assert answer == {"run": run.pk, "status": "succeeded"}
    assert run.status == RunStatus.SUCCEEDED
    assert BacktestTrade.objects.filter(run=run).count() == run.trade_count


def test_a_redelivered_task_does_not_run_the_backtest_twice(model):
    run = queued_run(model)
    run_backtest.apply(args=[run.pk]).get()
    finished_at = BacktestRun.objects.get(pk=run.pk).finished_at
    answer = run_backtest.apply(args=[run.pk]).get()
    run.refresh_from_db()
    assert answer["status"] == "succeeded"
    assert run.attempts == 1 and run.finished_at == finished_at


def test_a_failing_backtest_ends_the_task_normally_with_a_failed_run(model, settings):
    run = queued_run(model)
    (settings.ARTIFACTS_DIR / model.artifact_path).unlink()
    answer = run_backtest.apply(args=[run.pk]).get()
    run.refresh_from_db()
    assert answer["status"] == "failed" and run.status == RunStatus.FAILED
    assert "missing" in run.error


def test_a_task_for_a_deleted_run_is_dropped(model):
    run_id = queued_run(model).pk
    BacktestRun.objects.filter(pk=run_id).delete()
    assert run_backtest.apply(args=[run_id]).get() == {"run": run_id, "status": "missing"}


@pytest.fixture
def worker_model(transactional_db, settings, tmp_path, monkeypatch):
    """A model whose file the worker process can read (ARTIFACTS_DIR in its environment)."""
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    return registered_model(settings, tmp_path)


@pytest.mark.services("celery")
def test_a_real_worker_runs_the_backtest_once(worker_model, celery_worker_process):
    run = queued_run(worker_model)
    first = run_backtest.apply_async(args=[run.pk], queue=celery_worker_process)
    second = run_backtest.apply_async(args=[run.pk], queue=celery_worker_process)
    assert first.get(timeout=300) == {"run": run.pk, "status": "succeeded"}
    assert second.get(timeout=300)["status"] == "succeeded"
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.attempts == 1
    assert BacktestTrade.objects.filter(run=run).count() == run.trade_count > 0
    assert run.report.html.count("<svg") == 3
