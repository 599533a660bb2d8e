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
    if settings.CELERY_BROKER_IS_AMQP:  # RabbitMQ redelivers on connection loss only
        assert settings.CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS
        assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["confirm_publish"] is True
        return
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


# Secret settings handed to the worker through its environment, as an operator would.
WORKER_SECRETS = {
    "SECRET_KEY": "wk-secret-Q1w9Zr7Tn3Lp5Xc8Vb2Hd6Js4Fg0Km1",
    "JWT_SIGNING_KEY": "wk-jwt-Y7u3Ie9Oa1Sd5Fg8Hj2Kl4Zx6Cv0Bn3",
    "ALERT_WEBHOOK_URL": "https://hooks.nusatrade.test/services/T000/B000/webhookSecretPath42",
    "SENTRY_DSN": "https://sentryPublicKey9f3a@127.0.0.1:1/42",
    "RATELIMIT_REDIS_URL": "redis://:ratelimitRedisPassword7@127.0.0.1:6379/1",
    "EMAIL_URL": "smtp://mailer:smtpPassword5@127.0.0.1:1",
}
LEAKS = (*WORKER_SECRETS.values(), "webhookSecretPath42", "sentryPublicKey9f3a",
         "ratelimitRedisPassword7", "smtpPassword5")


@pytest.fixture
def worker_with_secrets(monkeypatch, request):
    for name, value in WORKER_SECRETS.items():
        monkeypatch.setenv(name, value)  # inherited by the worker subprocess only
    return request.getfixturevalue("celery_worker_process")


@pytest.mark.services("celery")
def test_worker_remote_control_shows_no_secret(worker_with_secrets):
    import json

    inspect = app.control.inspect(destination=[f"{worker_with_secrets}@localhost"], timeout=10)
    replies = {"conf": inspect.conf(with_defaults=False), "report": inspect.report(),
               "stats": inspect.stats()}
    text = json.dumps(replies, default=str)
    assert [secret for secret in LEAKS if secret in text] == []
    conf = next(iter(replies["conf"].values()))
    assert conf["task_acks_late"] is True  # the worker's real configuration came back
    assert not any(key.isupper() for key in conf), "Django settings reached Celery"


def test_broker_and_result_backend_passwords_are_masked_in_inspect_conf():
    import json
    from types import SimpleNamespace

    from celery.worker.control import conf as inspect_conf
    from django.test import override_settings

    # The remote-control handler itself, on our app (a real worker cannot log in to the
    # password-less Redis of the test machine with a password in its URL).
    with override_settings(CELERY_BROKER_URL="redis://:brokerPassw0rd9@127.0.0.1:6379/1",
                           CELERY_RESULT_BACKEND="redis://:backendPassw0rd9@127.0.0.1:6379/1"):
        reply = inspect_conf(SimpleNamespace(app=app))
    text = json.dumps(reply, default=str)
    assert "brokerPassw0rd9" not in text and "backendPassw0rd9" not in text
    assert "127.0.0.1:6379" in text  # the URLs are there, masked
