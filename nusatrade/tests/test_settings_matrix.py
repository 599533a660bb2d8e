"""Settings in a fresh process: embedded default, services, and the production guard."""

from __future__ import annotations

import json

import pytest

from tests.helpers import GOOD_SECRET, PRODUCTION_ENV, clean_env, run_manage, run_python

DUMP = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], "
    "'cache': s.CACHES['default']['BACKEND'], 'rl': s.CACHES['ratelimit']['BACKEND'], "
    "'eager': s.CELERY_TASK_ALWAYS_EAGER, 'broker': s.CELERY_BROKER_URL, "
    "'beat': s.CELERY_BEAT_SCHEDULER, 'docs': s.API_DOCS_ENABLED, 'debug': s.DEBUG, "
    "'fail_open': s.RATELIMIT_FAIL_OPEN, 'hsts': getattr(s, 'SECURE_HSTS_SECONDS', 0)}))"
)


def settings_for(**env: str) -> dict:
    result = run_python(DUMP, clean_env(DJANGO_SETTINGS_MODULE="nusatrade.settings", **env))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_embedded_default_needs_nothing_installed(tmp_path):
    s = settings_for(NUSATRADE_VAR_DIR=str(tmp_path))
    assert s["db"] == "django.db.backends.sqlite3"
    assert s["cache"].endswith("LocMemCache") and s["rl"].endswith("LocMemCache")
    assert s["eager"] is True and s["broker"] == "memory://"
    assert s["docs"] is True and s["debug"] is True and s["fail_open"] is True


def test_services_from_environment():
    s = settings_for(DATABASE_URL="postgres://postgres@127.0.0.1:5432/x",
                     REDIS_URL="redis://127.0.0.1:6379/3")
    assert s["db"] == "django.db.backends.postgresql"
    assert s["cache"] == "django_redis.cache.RedisCache" == s["rl"]
    assert s["eager"] is False and s["broker"] == "redis://127.0.0.1:6379/3"
    assert s["beat"] == "django_celery_beat.schedulers:DatabaseScheduler"


def test_valid_production_is_hardened_and_has_no_docs():
    s = settings_for(**PRODUCTION_ENV)
    assert s["debug"] is False and s["docs"] is False
    assert s["fail_open"] is False and s["hsts"] >= 31536000


@pytest.mark.parametrize("override, expected", [
    ({"SECRET_KEY": ""}, "nusatrade.E001 SECRET_KEY"),
    ({"SECRET_KEY": "abcde" * 10}, "nusatrade.E004 SECRET_KEY"),
    ({"SECRET_KEY": "django-insecure-" + GOOD_SECRET}, "nusatrade.E003 SECRET_KEY"),
    ({"JWT_SIGNING_KEY": GOOD_SECRET}, "nusatrade.E005 JWT_SIGNING_KEY"),
    ({"DEBUG": "True"}, "nusatrade.E006 DEBUG"),
    ({"ALLOWED_HOSTS": "*"}, "nusatrade.E007 ALLOWED_HOSTS"),
])
def test_unsafe_production_refuses_every_entry_point(override, expected):
    env = clean_env(**{**PRODUCTION_ENV, **override})
    for args in (("migrate", "--plan"), ("shell", "-c", "print('started')")):
        result = run_manage(*args, env=env)
        assert result.returncode != 0
        assert expected in result.stderr
        assert "started" not in result.stdout
        assert "Traceback" not in result.stderr
        if override.get("SECRET_KEY"):
            assert override["SECRET_KEY"] not in result.stderr
    # The WSGI application (web) and the Celery app (worker, beat) stop too.
    worker = "from nusatrade.celery import app; app.loader.import_default_modules()"
    for code in ("import nusatrade.wsgi", worker):
        result = run_python(code, env)
        assert result.returncode != 0 and expected in result.stderr


def test_unknown_environment_name_is_refused():
    result = run_manage("check", env=clean_env(NUSATRADE_ENV="prod"))
    assert result.returncode != 0 and "NUSATRADE_ENV" in result.stderr


def test_check_production_lists_every_problem_and_fails():
    env = clean_env(**{**PRODUCTION_ENV, "SECRET_KEY": "abcde" * 10, "DEBUG": "True"})
    result = run_manage("check_production", env=env)
    assert result.returncode != 0
    assert "nusatrade.E004" in result.stderr and "nusatrade.E006" in result.stderr


def test_check_production_and_check_deploy_pass_with_proper_settings():
    env = clean_env(**PRODUCTION_ENV)
    result = run_manage("check_production", env=env)
    assert result.returncode == 0, result.stderr
    assert "production configuration OK" in result.stdout
    deploy = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert deploy.returncode == 0, deploy.stderr
    assert "no issues" in deploy.stdout


PROBE_URLS = (
    "import django; django.setup(); from django.test import Client; c = Client(); "
    "h = {'HTTP_HOST': 'trade.nusatrade.test', 'secure': True}; "
    "print([c.get(u, **h).status_code for u in ('/api/docs/', '/api/schema/')])"
)


def test_api_docs_are_404_in_production_even_with_debug_forced():
    env = clean_env(DJANGO_SETTINGS_MODULE="nusatrade.settings", **PRODUCTION_ENV)
    result = run_python(PROBE_URLS, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[404, 404]"


def test_api_docs_are_served_in_development():
    env = clean_env(DJANGO_SETTINGS_MODULE="nusatrade.settings",
                    ALLOWED_HOSTS="trade.nusatrade.test")
    result = run_python(PROBE_URLS.replace("'secure': True", "'secure': False"), env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[200, 200]"


def test_sentry_is_on_only_when_configured():
    code = ("import django; django.setup(); import sentry_sdk; c = sentry_sdk.get_client(); "
            "print(c.is_active(), sorted(getattr(c, 'integrations', {})))")
    off = run_python(code, clean_env(DJANGO_SETTINGS_MODULE="nusatrade.settings"))
    assert off.stdout.strip().splitlines()[-1].startswith("False")
    on = run_python(code, clean_env(DJANGO_SETTINGS_MODULE="nusatrade.settings",
                                    SENTRY_DSN="https://public@127.0.0.1:1/1"))
    line = on.stdout.strip().splitlines()[-1]
    assert line.startswith("True") and "'celery'" in line and "'django'" in line
