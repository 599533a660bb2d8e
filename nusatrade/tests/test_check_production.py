"""``manage.py check_production``: the launch checklist, each item pass/fail with its fix."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import Role
from accounts.services import totp_device_create, user_create
from nusatrade import launch
from nusatrade.models import AlertTestRecord

PASSWORD = "correct-horse-battery-staple-42"
METRICS_TOKEN = "Qx7Lp2Vz9Rk4Hs8Jd1Wc6Ny3Bf5Gt0AmZ1"


@pytest.fixture
def production(settings):
    return production_configure(settings)


def production_configure(settings):
    """This test process configured as a proper production deployment."""
    settings.IS_PRODUCTION = True
    settings.NUSATRADE_ENV = "production"
    settings.DEBUG = False
    settings.PRODUCTION_PROBLEMS = []
    settings.ALLOWED_HOSTS = ["trade.nusatrade.test"]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.CORS_ALLOWED_ORIGINS = ["https://app.nusatrade.test"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://trade.nusatrade.test"]
    settings.SENTRY_DSN = "https://public@127.0.0.1:1/1"
    settings.ALERT_EMAILS = ["ops@nusatrade.test"]
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.LAUNCH_REQUIRED_SCHEDULES = ["nusatrade.ping"]
    return settings


@pytest.fixture
def ready_database(db):
    """Database facts a launch needs: a 2FA admin, a delivered test alert, the schedules."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    admin = user_create("ops1", PASSWORD, roles=(Role.OPS,), staff=True, superuser=True)
    totp_device_create(admin)
    AlertTestRecord.objects.create(status="sent", channels=[{"channel": "email"}])
    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS)
    PeriodicTask.objects.create(name="ping", task="nusatrade.ping", interval=every)


def run_checklist(*args: str) -> tuple[dict | None, str, CommandError | None]:
    out = StringIO()
    try:
        call_command("check_production", *args, stdout=out)
    except CommandError as exc:
        error = exc
    else:
        error = None
    text = out.getvalue()
    return (json.loads(text) if "--json" in args else None), text, error


def only_items(monkeypatch, *names: str) -> None:
    """Run just these registered items (the rest belong to other apps' tests)."""
    kept = {name: check for name, check in launch._ITEMS.items() if name in names}
    assert set(kept) == set(names), f"not registered: {set(names) - set(kept)}"
    monkeypatch.setattr(launch, "_ITEMS", kept)


CORE_ITEMS = ("secrets", "TLS settings", "CORS", "check --deploy", "Sentry",
              "alerts configured", "test alert delivered", "beat schedules",
              "2FA on every admin account", "kill switches explained")


def test_every_core_item_passes_on_a_ready_deployment(production, ready_database, monkeypatch):
    only_items(monkeypatch, *CORE_ITEMS)
    report, _, error = run_checklist("--json")
    assert error is None, report
    assert report["ok"] is True
    assert [item["item"] for item in report["items"]] == list(CORE_ITEMS)
    assert all(item["ok"] for item in report["items"])


def test_a_failure_names_the_item_and_its_fix_and_exits_non_zero(production, ready_database,
                                                                 monkeypatch):
    only_items(monkeypatch, *CORE_ITEMS)
    production.SENTRY_DSN = ""
    _, text, error = run_checklist()
    assert error is not None and "Sentry" in str(error) and "1 of 10" in str(error)
    assert "FAIL Sentry: SENTRY_DSN is empty" in text
    assert "fix: set SENTRY_DSN" in text
    assert "PASS CORS" in text


def test_it_refuses_to_judge_a_non_production_environment(settings):
    settings.IS_PRODUCTION = False
    with pytest.raises(CommandError, match="NUSATRADE_ENV"):
        call_command("check_production")


def _item(name: str) -> launch.ChecklistResult:
    return launch._ITEMS[name]()


@pytest.mark.django_db
def test_an_admin_without_2fa_fails_by_name(production):
    first = user_create("ops1", PASSWORD, staff=True)
    totp_device_create(first)
    user_create("ops2", PASSWORD, superuser=True)
    unconfirmed = user_create("ops3", PASSWORD, staff=True)
    totp_device_create(unconfirmed, confirmed=False)
    user_create("trader", PASSWORD)  # not an admin: no 2FA needed here
    result = _item("2FA on every admin account")
    assert not result.ok
    assert result.detail == "2 of 3 without a confirmed OTP device: ops2, ops3"
    assert "TOTP" in result.fix


@pytest.mark.django_db
def test_no_admin_at_all_fails(production):
    assert not _item("2FA on every admin account").ok


@pytest.mark.django_db
def test_a_stale_or_failed_test_alert_fails(production):
    assert _item("test alert delivered").detail == "no test alert was ever delivered"
    AlertTestRecord.objects.create(status="failed")
    assert not _item("test alert delivered").ok
    old = AlertTestRecord.objects.create(status="sent")
    AlertTestRecord.objects.filter(pk=old.pk).update(sent_at=timezone.now() - timedelta(days=9))
    result = _item("test alert delivered")
    assert not result.ok and "9 day(s) ago" in result.detail


@pytest.mark.django_db
def test_send_test_alert_records_each_delivery(settings):
    settings.ALERT_EMAILS = ["ops@nusatrade.test"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("send_test_alert", stdout=StringIO())
    record = AlertTestRecord.objects.get()
    assert record.status == "sent" and record.channels[0]["channel"] == "email"


@pytest.mark.django_db
def test_missing_or_unknown_beat_schedules_fail(production):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    production.LAUNCH_REQUIRED_SCHEDULES = ["nusatrade.ping"]
    result = _item("beat schedules")
    assert not result.ok and "no enabled schedule for nusatrade.ping" in result.detail
    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS)
    PeriodicTask.objects.create(name="ping", task="nusatrade.ping", interval=every)
    PeriodicTask.objects.create(name="typo", task="nusatrade.pnig", interval=every)
    result = _item("beat schedules")
    assert not result.ok and "no such task: nusatrade.pnig" in result.detail
    PeriodicTask.objects.filter(name="typo").update(enabled=False)
    assert _item("beat schedules").ok


@pytest.mark.django_db
def test_an_unexplained_kill_switch_fails_and_an_explained_one_is_listed(production, settings):
    from trading.services.killswitches import kill_switch_engage

    settings.ALERT_EMAILS, settings.ALERT_WEBHOOK_URL = [], ""
    switch = kill_switch_engage("global", reason="broker outage, see incident 42",
                                actor="ops").switch
    result = _item("kill switches explained")
    assert result.ok and "broker outage, see incident 42" in result.detail
    type(switch).objects.filter(pk=switch.pk).update(reason="x")
    result = _item("kill switches explained")
    assert not result.ok and f"#{switch.pk} global by ops" in result.detail


def test_tls_cors_and_secret_items_name_what_is_wrong(production):
    production.SECURE_HSTS_SECONDS = 0
    production.CORS_ALLOWED_ORIGINS = ["http://app.nusatrade.test"]
    assert "SECURE_HSTS_SECONDS>=31536000" in _item("TLS settings").detail
    assert "1 origin(s) without https://" in _item("CORS").detail
    from nusatrade.security import Problem

    production.PRODUCTION_PROBLEMS = [Problem("nusatrade.E004", "SECRET_KEY", "too short")]
    result = _item("secrets")
    assert not result.ok and result.detail == "(nusatrade.E004) SECRET_KEY: too short"


def test_an_item_that_crashes_fails_with_its_error(monkeypatch):
    def broken() -> launch.ChecklistResult:
        raise RuntimeError("S3 client exploded")

    monkeypatch.setattr(launch, "_ITEMS", {"broken": broken})
    (result,) = launch.checklist_run()
    assert not result.ok and "S3 client exploded" in result.detail
