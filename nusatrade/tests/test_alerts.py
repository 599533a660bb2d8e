"""Alerts: email + webhook delivery, retries, timeouts, rate limits, redaction, queueing."""

from __future__ import annotations

import json
import logging
import threading

import pytest
from celery import shared_task
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import OperationalError, transaction

from nusatrade.alerts import AlertKind, alert_send
from nusatrade.alerts import service as alert_service
from nusatrade.alerts.channels import DeliveryError, with_retries
from nusatrade.alerts.message import Alert, alert_build
from nusatrade.alerts.ratelimit import gate_key, rate_gate
from nusatrade.tests.alert_servers import SilentListener, WebhookReceiver, closed_port

TOKEN = "T0SECRET/B0SECRET/xoxbsecrettoken"  # a Slack-style webhook path is itself a secret


@pytest.fixture
def webhook():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def alerts_on(settings, webhook):
    """Both channels configured, fast retries; returns the webhook receiver."""
    settings.ALERT_EMAILS = ["ops@nusatrade.test", "oncall@nusatrade.test"]
    settings.ALERT_WEBHOOK_URL = f"{webhook.url}/services/{TOKEN}"
    settings.ALERT_ATTEMPTS = 3
    settings.ALERT_RETRY_BACKOFF_SECONDS = 0.01
    settings.ALERT_WEBHOOK_CONNECT_TIMEOUT = 1.0
    settings.ALERT_WEBHOOK_READ_TIMEOUT = 1.0
    settings.ALERT_RATE_LIMIT_SECONDS = 900
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.NUSATRADE_ENV = "test"  # the subject names it; `make test` may run without it set
    return webhook


def _engaged(key="7", **kwargs):
    return alert_send(AlertKind.KILL_SWITCH_ENGAGED, "Account 7 halted",
                      "Daily loss 5.3% of start-of-day equity.",
                      fields={"account": 7, "rule": "daily_loss"}, key=key, sync=True, **kwargs)


# --- delivery ------------------------------------------------------------------------------------

def test_alert_reaches_the_webhook_and_every_alert_email(alerts_on, mailoutbox):
    result = _engaged()
    assert result.status == "sent" and result.delivered
    assert [(c.channel, c.status, c.attempts) for c in result.channels] == [
        ("email", "sent", 1), ("webhook", "sent", 1)]
    (request,) = alerts_on.requests
    assert request["path"] == f"/services/{TOKEN}"
    assert request["headers"]["Content-Type"] == "application/json"
    payload = json.loads(request["body"])
    assert list(payload) == ["text"]
    text = payload["text"]
    assert text.startswith("[NusaTrade test] kill_switch_engaged: Account 7 halted")
    assert "Daily loss 5.3% of start-of-day equity." in text
    assert "account: 7\nrule: daily_loss" in text
    (mail,) = mailoutbox
    assert mail.to == ["ops@nusatrade.test", "oncall@nusatrade.test"]
    assert mail.subject == "[NusaTrade test] kill_switch_engaged: Account 7 halted"
    assert mail.body == text


def test_webhook_answering_500_then_200_is_retried(alerts_on, mailoutbox):
    alerts_on.statuses = [500, 200]
    result = _engaged()
    webhook_result = result.channels[1]
    assert (webhook_result.status, webhook_result.attempts) == ("sent", 2)
    assert len(alerts_on.requests) == 2
    assert alerts_on.texts()[0] == alerts_on.texts()[1]


def test_webhook_client_error_is_not_retried(alerts_on, mailoutbox):
    alerts_on.statuses = [404]
    result = _engaged()
    assert result.status == "partial"  # the email went out
    webhook_result = result.channels[1]
    assert (webhook_result.status, webhook_result.attempts) == ("failed", 1)
    assert webhook_result.detail == "HTTP 404"
    assert len(alerts_on.requests) == 1 and len(mailoutbox) == 1


def test_webhook_that_never_answers_fails_after_bounded_attempts(alerts_on, settings, mailoutbox):
    silent = SilentListener()
    try:
        settings.ALERT_WEBHOOK_URL = silent.url
        settings.ALERT_WEBHOOK_READ_TIMEOUT = 0.3
        settings.ALERT_ATTEMPTS = 2
        result = _engaged()
    finally:
        silent.close()
    webhook_result = result.channels[1]
    assert (webhook_result.status, webhook_result.attempts) == ("failed", 2)
    assert "timed out" in webhook_result.detail
    assert result.status == "partial" and len(mailoutbox) == 1


def test_webhook_connection_refused_fails_after_every_attempt(alerts_on, settings):
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{closed_port()}/hook"
    settings.ALERT_EMAILS = []
    result = _engaged()
    assert result.status == "failed"
    (webhook_result,) = result.channels
    assert (webhook_result.status, webhook_result.attempts) == ("failed", 3)
    assert "ConnectionRefusedError" in webhook_result.detail


def test_webhook_url_must_be_http(alerts_on, settings):
    settings.ALERT_WEBHOOK_URL = "ftp://hooks.example.test/x"
    settings.ALERT_EMAILS = []
    (webhook_result,) = _engaged().channels
    assert (webhook_result.status, webhook_result.attempts) == ("failed", 1)
    assert "http(s)" in webhook_result.detail


def test_nothing_configured_is_reported_and_logged(settings, caplog):
    settings.ALERT_EMAILS = []
    settings.ALERT_WEBHOOK_URL = ""
    with caplog.at_level(logging.WARNING, logger="nusatrade.alerts"):
        result = _engaged()
    assert result.status == "not_configured" and not result.channels
    assert "ALERT kill_switch_engaged" in caplog.text  # the log line is never skipped


def test_retries_back_off_exponentially_and_stop_on_success():
    sleeps: list[float] = []
    answers = iter([DeliveryError("HTTP 503", retryable=True),
                    DeliveryError("HTTP 502", retryable=True), "HTTP 200"])

    def once() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    result = with_retries("webhook", once, attempts=5, backoff_seconds=0.5,
                          redact=lambda t: t, sleep=sleeps.append)
    assert (result.status, result.attempts, result.detail) == ("sent", 3, "HTTP 200")
    assert sleeps == [0.5, 1.0]


def test_a_broken_channel_never_raises():
    def once() -> str:
        raise RuntimeError("backend exploded")

    result = with_retries("email", once, attempts=2, backoff_seconds=0, redact=lambda t: t,
                          sleep=lambda s: None)
    assert (result.status, result.attempts) == ("failed", 2)
    assert result.detail == "RuntimeError: backend exploded"


# --- secrets -------------------------------------------------------------------------------------

def test_secrets_never_leave_in_an_alert(alerts_on, settings, mailoutbox):
    result = alert_send(
        AlertKind.TASK_FAILED, f"cycle crashed with key {settings.SECRET_KEY}",
        f"traceback mentions {settings.JWT_SIGNING_KEY} and "
        "postgres://trader:pw-0123456789@db.internal/nt",
        fields={"broker_password": "hunter2hunter2", "api_key": "abc", "task": "trading.cycle",
                "url": "redis://:r3dis-pass-word@redis.internal:6379/0"},
        key="trading.cycle", sync=True)
    assert result.status == "sent"
    sent = alerts_on.texts()[0] + mailoutbox[0].subject + mailoutbox[0].body
    for secret in (settings.SECRET_KEY, settings.JWT_SIGNING_KEY, "pw-0123456789",
                   "hunter2hunter2", "r3dis-pass-word", TOKEN):
        assert secret not in sent
    assert "broker_password: [redacted]" in sent and "api_key: [redacted]" in sent
    assert "task: trading.cycle" in sent
    assert "postgres://[redacted]@db.internal/nt" in sent


def test_a_failing_webhook_never_reveals_its_url(alerts_on, settings, caplog):
    alerts_on.statuses = [403]
    settings.ALERT_EMAILS = []
    with caplog.at_level(logging.INFO, logger="nusatrade.alerts"):
        result = _engaged()
    assert result.status == "failed"
    assert TOKEN not in json.dumps(result.as_dict()) and TOKEN not in caplog.text


def test_alert_size_is_bounded():
    alert = alert_build(AlertKind.STALE_DATA, "t" * 1000, "b" * 10_000,
                        fields={f"f{i}": "v" * 900 for i in range(50)})
    assert len(alert.title) == 200 and len(alert.body) == 4000
    assert len(alert.fields) == 31 and alert.fields[-1] == ("more_fields", "20 not shown")
    assert all(len(value) <= 500 for _, value in alert.fields)


def test_alert_survives_the_queue_round_trip():
    alert = alert_build(AlertKind.BACKUP_FAILED, "nightly dump truncated", "size 0",
                        fields={"file": "nt.dump"}, key="nightly")
    assert Alert.from_dict(json.loads(json.dumps(alert.as_dict()))) == alert


def test_unknown_kind_or_empty_title_is_refused_without_raising(alerts_on, caplog):
    with caplog.at_level(logging.ERROR, logger="nusatrade.alerts"):
        unknown = alert_send("server_on_fire", "x", sync=True)
        untitled = alert_send(AlertKind.TEST, "  ", sync=True)
    assert unknown.status == untitled.status == "invalid"
    assert "unknown alert kind 'server_on_fire'" in unknown.detail
    assert "kill_switch_engaged" in unknown.detail  # lists the valid kinds
    assert not alerts_on.requests


# --- rate limit ----------------------------------------------------------------------------------

def test_rate_limit_holds_repeats_and_reports_the_count_in_the_next_alert(alerts_on, mailoutbox):
    assert _engaged().status == "sent"
    assert [_engaged().status for _ in range(3)] == ["suppressed"] * 3
    assert len(alerts_on.requests) == 1 and len(mailoutbox) == 1
    caches["default"].delete(gate_key("kill_switch_engaged", "7"))  # the window has passed
    fourth = _engaged()
    assert (fourth.status, fourth.suppressed_before) == ("sent", 3)
    assert "3 similar alert(s) of this kind and key were suppressed" in alerts_on.texts()[-1]
    caches["default"].delete(gate_key("kill_switch_engaged", "7"))
    assert _engaged().suppressed_before == 0  # the count was reported once, then reset


def test_rate_limit_is_per_kind_and_per_key(alerts_on):
    assert _engaged(key="7").status == "sent"
    assert _engaged(key="8").status == "sent"
    released = alert_send(AlertKind.KILL_SWITCH_RELEASED, "Account 7 released", key="7",
                          sync=True)
    assert released.status == "sent"
    assert _engaged(key="7").status == "suppressed"


def test_rate_limit_can_be_bypassed_or_switched_off(alerts_on, settings):
    assert _engaged().status == "sent"
    assert _engaged(rate_limit=False).status == "sent"
    settings.ALERT_RATE_LIMIT_SECONDS = 0
    assert _engaged().status == "sent"
    assert len(alerts_on.requests) == 3


def test_rate_gate_on_locmem_counts_suppressed():
    cache = LocMemCache("alerts-unit", {})
    assert rate_gate("stale_data", "XAUUSD", 60, cache).allowed
    assert [rate_gate("stale_data", "XAUUSD", 60, cache).allowed for _ in range(4)] == [False] * 4
    cache.delete(gate_key("stale_data", "XAUUSD"))
    gate = rate_gate("stale_data", "XAUUSD", 60, cache)
    assert (gate.allowed, gate.suppressed_before, gate.degraded) == (True, 4, False)


def test_rate_gate_fails_open_when_the_cache_is_down():
    from django_redis.cache import RedisCache

    # django-redis with IGNORE_EXCEPTIONS (our default cache) answers None instead of raising.
    dead = RedisCache(f"redis://127.0.0.1:{closed_port()}/0",
                      {"OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.2,
                                   "SOCKET_TIMEOUT": 0.2}})
    strict = RedisCache(f"redis://127.0.0.1:{closed_port()}/0",
                        {"OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}})
    for cache in (dead, strict):
        gate = rate_gate("broker_disconnected", "acct-1", 60, cache)
        assert (gate.allowed, gate.degraded) == (True, True)


def test_rate_gate_fails_open_fast_when_redis_accepts_and_never_answers():
    from django_redis.cache import RedisCache

    silent = SilentListener()  # RELIABILITY 20: the socket read timeout ends the wait
    try:
        port = silent.sock.getsockname()[1]
        hung = RedisCache(f"redis://127.0.0.1:{port}/0",
                          {"OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.2,
                                       "SOCKET_TIMEOUT": 0.2}})
        gate = rate_gate("stale_data", "XAUUSD", 60, hung)
    finally:
        silent.close()
    assert (gate.allowed, gate.degraded) == (True, True)


@pytest.mark.services("redis")
def test_rate_gate_on_real_redis_is_atomic_under_contention():
    cache = caches["default"]
    assert type(cache).__module__.startswith("django_redis")
    threads, barrier, gates = 16, threading.Barrier(16), []

    def contend() -> None:
        barrier.wait()
        gates.append(rate_gate("order_rejected_repeatedly", "acct-9", 60, cache))

    workers = [threading.Thread(target=contend) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sum(g.allowed for g in gates) == 1
    assert not any(g.degraded for g in gates)
    cache.delete(gate_key("order_rejected_repeatedly", "acct-9"))
    assert rate_gate("order_rejected_repeatedly", "acct-9", 60, cache).suppressed_before == 15


@pytest.mark.services("redis")
def test_rate_window_expires_on_real_redis():
    import time

    cache = caches["default"]
    assert rate_gate("stale_data", "EURUSD", 1, cache).allowed
    assert not rate_gate("stale_data", "EURUSD", 1, cache).allowed
    time.sleep(1.2)  # let Redis expire the one-second window
    gate = rate_gate("stale_data", "EURUSD", 1, cache)
    assert (gate.allowed, gate.suppressed_before) == (True, 1)


# --- queueing ------------------------------------------------------------------------------------

@pytest.fixture
def queued(monkeypatch):
    """Record what alert_send hands to the Celery task instead of publishing it."""
    from nusatrade.tasks import send_alert

    calls: list[dict] = []
    monkeypatch.setattr(send_alert, "apply_async",
                        lambda args=(), **kw: calls.append({"args": args, **kw}))
    return calls


@pytest.mark.django_db
def test_queued_alert_leaves_only_when_the_transaction_commits(
        alerts_on, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        result = alert_send(AlertKind.RECONCILIATION_MISMATCH, "Account 3: 1 orphan position",
                            key=3)
        assert result.status == "deferred"
        assert not queued
    (call,) = queued
    alert = Alert.from_dict(call["args"][0])
    assert (alert.kind, alert.title, alert.key) == ("reconciliation_mismatch",
                                                    "Account 3: 1 orphan position", "3")
    assert not alerts_on.requests  # the worker delivers, not the caller


@pytest.mark.django_db
def test_rolled_back_alert_is_neither_queued_nor_counted(
        alerts_on, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ZeroDivisionError), \
            transaction.atomic():
        alert_send(AlertKind.KILL_SWITCH_ENGAGED, "Account 7 halted", key="7")
        raise ZeroDivisionError
    assert not queued
    assert _engaged(key="7").status == "sent"  # the window was not used up


def test_database_down_queues_at_once(alerts_on, queued, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(transaction, "on_commit", unreachable)
    result = alert_send(AlertKind.BROKER_DISCONNECTED, "Account 2: broker unreachable", key=2)
    assert result.status == "queued" and len(queued) == 1


def test_broker_down_is_a_failed_result_not_an_exception(alerts_on, monkeypatch, caplog):
    from kombu.exceptions import OperationalError as KombuOperationalError

    from nusatrade.tasks import send_alert

    def broker_down(*args, **kwargs):
        raise KombuOperationalError("Error 111 connecting to 127.0.0.1:6379")

    monkeypatch.setattr(send_alert, "apply_async", broker_down)
    monkeypatch.setattr(transaction, "on_commit", lambda func, robust=False: func())
    with caplog.at_level(logging.ERROR, logger="nusatrade.alerts"):
        result = alert_send(AlertKind.TASK_FAILED, "trading.cycle failed", key="cycle")
    assert (result.status, result.detail) == ("failed", "OperationalError")
    assert "could not be queued" in caplog.text


def test_the_alert_task_goes_to_the_maintenance_queue():
    from nusatrade.celery import app
    from nusatrade.tasks import send_alert

    assert app.amqp.router.route({}, send_alert.name)["queue"].name == "maintenance"


def test_unexpected_failure_inside_alert_send_is_contained(alerts_on, monkeypatch):
    def explode(alert, rate_limit):
        raise RuntimeError("cache exploded")

    monkeypatch.setattr(alert_service, "_gate", explode)
    result = _engaged()
    assert (result.status, result.detail) == ("failed", "RuntimeError")


@pytest.fixture
def worker_with_webhook(request, monkeypatch):
    """A real worker whose environment points its alerts at a loopback webhook."""
    receiver = WebhookReceiver()
    monkeypatch.setenv("ALERT_WEBHOOK_URL", f"{receiver.url}/services/{TOKEN}")
    monkeypatch.setenv("ALERT_EMAILS", "")
    monkeypatch.setenv("ALERT_RETRY_BACKOFF_SECONDS", "0.01")
    try:
        yield receiver, request.getfixturevalue("celery_worker_process")
    finally:
        receiver.close()


@pytest.mark.services("celery")
def test_a_real_worker_delivers_a_queued_alert(worker_with_webhook):
    from nusatrade.tasks import send_alert

    receiver, queue = worker_with_webhook
    receiver.statuses = [503]
    alert = alert_build(AlertKind.STALE_DATA, "XAUUSD H1: latest bar 2 h old", key="XAUUSD")
    answer = send_alert.apply_async(args=[alert.as_dict()], queue=queue).get(timeout=60)
    assert answer["status"] == "sent"
    assert answer["channels"] == [{"channel": "webhook", "status": "sent", "attempts": 2,
                                   "detail": "HTTP 200"}]
    assert "stale_data: XAUUSD H1: latest bar 2 h old" in receiver.texts()[-1]


# --- failed tasks --------------------------------------------------------------------------------

@shared_task(name="tests.alerts.always_fails")
def always_fails(message: str) -> None:
    raise ValueError(message)


@pytest.mark.django_db
def test_a_task_that_fails_for_good_queues_a_task_failed_alert(
        alerts_on, settings, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        # The exception names the webhook URL: a secret that must not travel in the alert.
        message = f"disk full, posting to {settings.ALERT_WEBHOOK_URL}"
        result = always_fails.apply(args=[message], throw=False)
    assert result.failed()
    (call,) = queued
    alert = Alert.from_dict(call["args"][0])
    assert (alert.kind, alert.title, alert.key) == (
        "task_failed", "task tests.alerts.always_fails failed", "tests.alerts.always_fails")
    assert alert.body == "ValueError: disk full, posting to [redacted]"
    assert dict(alert.fields)["task"] == "tests.alerts.always_fails"


def test_the_alert_task_failing_does_not_alert_about_itself(monkeypatch):
    import nusatrade.alerts
    from nusatrade.tasks import alert_on_task_failure, send_alert

    sent = []
    monkeypatch.setattr(nusatrade.alerts, "alert_send", lambda *a, **kw: sent.append(a))
    alert_on_task_failure(sender=send_alert, task_id="t1", exception=RuntimeError("smtp down"))
    assert sent == []
    alert_on_task_failure(sender=always_fails, task_id="t2", exception=RuntimeError("boom"))
    assert sent == [(AlertKind.TASK_FAILED, "task tests.alerts.always_fails failed",
                     "RuntimeError: boom")]
