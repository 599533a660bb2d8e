"""The ``readiness.run`` task: ids and ISO dates in, the stored report's id out; in process
(eager, the embedded default) and on a REAL Celery worker under PostgreSQL and Redis, as the
demo calls it (``.delay(...).get(timeout=...)``)."""

from __future__ import annotations

import pytest

from conftest import celery_worker_started
from readiness.models import ReadinessReport
from readiness.services import ReadinessRefused
from readiness.tasks import run

WORKER_TIMEOUT = 600  # a hang guard only


def test_the_task_runs_the_service_and_returns_the_report_id(world, tmp_path):
    path = tmp_path / "task.html"
    report_id = run.apply(args=[world.pk], kwargs={"start": "2024-04-01", "days": 5,
                                                   "report_path": str(path)}).get()
    report = ReadinessReport.objects.get(pk=report_id)
    assert report.replay_start.isoformat() == "2024-04-01" and report.replay_days == 5
    assert report.ran_by == "task readiness.run" and report.created_by is None
    assert report.report_path == str(path) and path.exists()


def test_a_refused_run_raises_from_the_task_and_stores_nothing(world):
    with pytest.raises(ReadinessRefused, match="starts before"):
        run.apply(args=[world.pk], kwargs={"start": "2024-01-15", "days": 5}).get()
    assert not ReadinessReport.objects.exists()


@pytest.mark.services("celery")
def test_a_real_worker_runs_the_readiness_and_stores_one_report(worker_world, tmp_path):
    import uuid

    queue = f"test-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "worker.html"
    with celery_worker_started([queue], tmp_path / "worker.log",
                               include="readiness.tests.worker_features"):
        result = run.apply_async(args=[worker_world.pk], queue=queue,
                                 kwargs={"days": 5, "report_path": str(path)})
        report_id = result.get(timeout=WORKER_TIMEOUT)
    report = ReadinessReport.objects.get(pk=report_id)
    assert ReadinessReport.objects.count() == 1
    assert report.verdict in ("GO", "NO-GO") and path.exists()
    assert report.figures["agreement"]["replay_trades"] == report.account.positions.filter(
        status="closed").count()
