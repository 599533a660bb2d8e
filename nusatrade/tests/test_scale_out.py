"""Scale-out on Celery itself: workers per queue, Redis or RabbitMQ as broker.

The real-worker tests here (and every ``services("celery")`` test) run on the broker this run
is configured with; ``.ci/run`` runs them a second time with ``CELERY_BROKER_URL=amqp://``
(RabbitMQ on 127.0.0.1:5672)."""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest
from django.conf import settings

from conftest import celery_worker_started
from nusatrade.tasks import ping
from tests.helpers import clean_env, run_python

HANG_GUARD_SECONDS = 120  # a hang guard only; the assertions are about order, not duration


@pytest.mark.services("celery")
def test_a_long_training_task_does_not_delay_a_trading_task(transactional_db, tmp_path):
    import redis

    from nusatrade.celery import app

    run = uuid.uuid4().hex[:6]
    training, trading = f"training-{run}", f"trading-{run}"
    marker = f"test:long-training:{run}"
    client = redis.Redis.from_url(settings.CELERY_RESULT_BACKEND)
    include = "nusatrade.tests.worker_tasks"
    with celery_worker_started([training], tmp_path / "training.log", include=include), \
            celery_worker_started([trading], tmp_path / "trading.log", include=include):
        long = app.send_task("tests.long_training", args=[30, marker], queue=training)
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        while client.get(marker) != b"started":  # the training worker is busy from here on
            assert time.monotonic() < deadline, "the training task never started"
            time.sleep(0.1)
        answer = ping.apply_async(args=["cycle"], queue=trading).get(timeout=HANG_GUARD_SECONDS)
        training_state_when_cycle_done = client.get(marker)
        assert long.get(timeout=HANG_GUARD_SECONDS) == "trained"
    assert answer["value"] == "cycle" and answer["eager"] is False
    # The trading task finished while the training task was still running.
    assert training_state_when_cycle_done == b"started"
    client.delete(marker)


@pytest.mark.services("celery")
def test_worker_task_metrics_reach_the_web_scrape_in_multiprocess_mode(transactional_db,
                                                                       tmp_path, monkeypatch):
    """A worker (another process) writes its counters to PROMETHEUS_MULTIPROC_DIR; a web
    process with the same directory serves them."""
    from conftest import _worker_env

    metrics_dir = tmp_path / "metrics"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))  # the worker inherits it
    queue = f"test-{uuid.uuid4().hex[:8]}"
    with celery_worker_started([queue], tmp_path / "worker.log"):
        for _ in range(3):
            ping.apply_async(args=["m"], queue=queue).get(timeout=60)
    code = ("import django; django.setup(); from prometheus_client import generate_latest; "
            "from nusatrade.metrics import registry_build; "
            "print(generate_latest(registry_build()).decode())")
    scrape = run_python(code, {**_worker_env(), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    assert scrape.returncode == 0, scrape.stderr
    expected = (f'nusatrade_celery_tasks_total{{queue="{queue}",state="SUCCESS",'
                f'task="nusatrade.ping"}} 3.0')
    assert expected in scrape.stdout
    assert f'nusatrade_celery_task_duration_seconds_count{{queue="{queue}"' in scrape.stdout


AMQP_SETTINGS_PROBE = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.CELERY_BROKER_IS_AMQP, sorted(s.CELERY_BROKER_TRANSPORT_OPTIONS), "
    "s.CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS)"
)


def test_rabbitmq_gets_timeouts_and_publisher_confirms_in_its_own_spelling():
    result = run_python(AMQP_SETTINGS_PROBE, clean_env(
        DJANGO_SETTINGS_MODULE="nusatrade.settings",
        CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == (
        "True ['confirm_publish', 'read_timeout', 'write_timeout'] True")


HUNG_AMQP_PUBLISH = (
    "import django; django.setup(); from nusatrade.tasks import ping\n"
    "try:\n    ping.apply_async(args=['x'], ignore_result=True)\n"
    "except Exception as exc:\n    print('REFUSED', type(exc).__name__)\n"
)


def test_publishing_to_a_rabbitmq_that_never_answers_fails_promptly(hung_server):
    env = clean_env(DJANGO_SETTINGS_MODULE="nusatrade.settings", CELERY_TASK_ALWAYS_EAGER="0",
                    CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{hung_server.port}//",
                    CELERY_RESULT_BACKEND="cache+memory://")
    try:
        result = run_python(HUNG_AMQP_PUBLISH, env, timeout=HANG_GUARD_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail("delay() hung on a RabbitMQ that accepts and never answers")
    assert "REFUSED OperationalError" in result.stdout, result.stdout + result.stderr
    assert hung_server.accepted >= 1
