"""Celery runs for real: broker on Redis, a worker process, results back, same database."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from nusatrade.celery import app
from nusatrade.tasks import ping


def test_tasks_are_autodiscovered_from_apps():
    app.loader.import_default_modules()
    assert "nusatrade.ping" in app.tasks


def test_financial_task_defaults_are_safe():
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert timeout > settings.CELERY_TASK_TIME_LIMIT  # redelivery only after the hard limit


@pytest.mark.services("celery")
def test_real_worker_round_trip(celery_worker_process):
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    result = ping.apply_async(args=["hello"], queue=celery_worker_process)
    answer = result.get(timeout=60)
    assert answer["value"] == "hello"
    assert answer["eager"] is False
    assert answer["database"] == connection.settings_dict["NAME"]  # the worker sees our test DB
