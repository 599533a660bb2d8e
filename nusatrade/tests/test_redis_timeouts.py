"""Every Redis client has connect and read timeouts; enqueuing against a hung Redis is bounded.

A Redis that accepts connections and never answers hung ``delay()`` for good (the result
backend alone retried for about 40 s, then the broker publish waited forever).
"""

from __future__ import annotations

import pytest
from celery import Celery
from django.conf import settings
from django.test import override_settings
from kombu.exceptions import OperationalError

from nusatrade.tests.faults import run_bounded

HANG_GUARD_SECONDS = 90  # a hang guard only: the call returns in a few seconds


def test_every_redis_client_has_connect_and_read_timeouts():
    for name in ("SOCKET_CONNECT_TIMEOUT", "SOCKET_TIMEOUT"):
        assert 0 < settings.REDIS_CLIENT_OPTIONS[name] <= 1, name
    transport = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for name in ("socket_connect_timeout", "socket_timeout"):
        assert 0 < transport[name] <= 5, name
    assert 0 < settings.CELERY_REDIS_SOCKET_CONNECT_TIMEOUT <= 5
    assert 0 < settings.CELERY_REDIS_SOCKET_TIMEOUT <= 5
    assert settings.CELERY_TASK_PUBLISH_RETRY_POLICY["max_retries"] <= 3
    backend_policy = settings.CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS["retry_policy"]
    assert backend_policy["max_retries"] <= 3


def test_the_django_redis_clients_really_get_the_timeouts():
    from django_redis.pool import ConnectionFactory

    with override_settings(CACHES={"ratelimit": {
            "BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": dict(settings.REDIS_CLIENT_OPTIONS)}}):
        from django.core.cache import caches

        factory: ConnectionFactory = caches["ratelimit"].client.connection_factory
        kwargs = factory.make_connection_params("redis://127.0.0.1:1/0")
    assert kwargs["socket_timeout"] == settings.REDIS_CLIENT_OPTIONS["SOCKET_TIMEOUT"]
    assert kwargs["socket_connect_timeout"] == settings.REDIS_CLIENT_OPTIONS[
        "SOCKET_CONNECT_TIMEOUT"]


@pytest.mark.parametrize("ignore_result", [True, False],
                         ids=["broker-publish", "result-backend-then-publish"])
def test_enqueue_against_a_hung_redis_fails_promptly(hung_server, ignore_result):
    # A fresh app configured from the settings exactly as nusatrade.celery is (the live app
    # caches its broker pool and backend, so it cannot be re-pointed at the hung server).
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False,
                           CELERY_BROKER_URL=hung_server.redis_url,
                           CELERY_RESULT_BACKEND=hung_server.redis_url):
        app = Celery("hung-redis-probe", set_as_current=False)
        app.config_from_object("django.conf:settings", namespace="CELERY")
        finished, outcome = run_bounded(
            lambda: app.send_task("nusatrade.ping", ignore_result=ignore_result),
            HANG_GUARD_SECONDS)
    assert finished, "enqueuing hung on a Redis that accepts and never answers"
    error = outcome.get("error")
    # The publish fails with kombu's OperationalError; the result backend's bounded reconnect
    # raises Celery's RuntimeError("Retry limit exceeded ...").
    assert isinstance(error, OperationalError | RuntimeError), outcome
    assert hung_server.accepted >= 1
