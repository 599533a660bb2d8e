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
    ({"SECRET_KEY": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"},
     "nusatrade.E004 SECRET_KEY"),
    ({"DATABASE_URL": "mysql://nusatrade@127.0.0.1:3306/nusatrade"}, "nusatrade.E009 DATABASE_URL"),
    ({"RATELIMIT_ENABLE": "False"}, "nusatrade.E011 RATELIMIT_ENABLE"),
    ({"RATELIMIT_FAIL_OPEN": "True"}, "nusatrade.E012 RATELIMIT_FAIL_OPEN"),
    ({"CELERY_TASK_ALWAYS_EAGER": "True"}, "nusatrade.E013 CELERY_TASK_ALWAYS_EAGER"),
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
    assert "nusatrade.E004" in result.stdout and "nusatrade.E006" in result.stdout


def test_check_production_reports_unset_keys_instead_of_a_traceback():
    # simplejwt reads SECRET_KEY while the URLconf is imported (admin_site -> ratelimit -> api);
    # an empty one made Django raise ImproperlyConfigured before our checks could speak.
    env = clean_env(**PRODUCTION_ENV)
    del env["SECRET_KEY"], env["JWT_SIGNING_KEY"]
    result = run_manage("check_production", env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "ImproperlyConfigured" not in result.stderr
    assert "FAIL secrets: (nusatrade.E001) SECRET_KEY" in result.stdout
    assert "(nusatrade.E001) JWT_SIGNING_KEY" in result.stdout


def test_check_production_lists_every_switched_off_protection():
    env = clean_env(**{**PRODUCTION_ENV, "RATELIMIT_ENABLE": "False",
                       "RATELIMIT_FAIL_OPEN": "True", "CELERY_TASK_ALWAYS_EAGER": "True"})
    result = run_manage("check_production", env=env)
    assert result.returncode != 0
    for check_id in ("E011", "E012", "E013"):
        assert f"nusatrade.{check_id}" in result.stdout


@pytest.mark.parametrize("database_url", [
    "postgres://postgres@db.internal:5432/nusatrade",
    "postgres://postgres@10.1.2.3:5432/nusatrade",
])
def test_development_mode_refuses_a_database_on_another_machine(database_url):
    env = clean_env(DATABASE_URL=database_url)  # NUSATRADE_ENV unset: development
    result = run_manage("migrate", "--plan", env=env)
    assert result.returncode != 0
    assert "nusatrade.E014 DATABASE_URL" in result.stderr and "Traceback" not in result.stderr
    assert run_python("import nusatrade.wsgi", env).returncode != 0
    # Explicit opt-in for a development database on another host.
    allowed = settings_for(DATABASE_URL=database_url, DEV_ALLOW_REMOTE_DATABASE="True")
    assert allowed["db"] == "django.db.backends.postgresql"


def test_development_mode_accepts_a_local_database():
    s = settings_for(DATABASE_URL="postgres://postgres@localhost:5432/x")
    assert s["db"] == "django.db.backends.postgresql" and s["debug"] is True


def test_check_production_and_check_deploy_pass_with_proper_settings():
    # The settings items pass; the database-state items (2FA, backups, ...) are the launch
    # checklist's own tests (test_check_production.py): this database was never migrated.
    env = clean_env(**PRODUCTION_ENV)
    result = run_manage("check_production", env=env)
    for item in ("secrets", "TLS settings", "CORS", "check --deploy"):
        assert f"PASS {item}:" in result.stdout, result.stdout
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


PLAIN_HTTP_PROBE = (
    "import django; django.setup(); from django.test import Client; c = Client(); "
    "r = c.get('/healthz', HTTP_HOST='trade.nusatrade.test'); "
    "other = c.get('/api/v1/me/', HTTP_HOST='trade.nusatrade.test'); "
    "print(r.status_code, r['Content-Type'], other.status_code)"
)


def test_healthz_over_plain_http_is_not_redirected_in_production():
    # A load balancer probing gunicorn directly speaks plain HTTP without X-Forwarded-Proto.
    env = clean_env(DJANGO_SETTINGS_MODULE="nusatrade.settings",
                    **{**PRODUCTION_ENV, **_own_redis()})
    result = run_python(PLAIN_HTTP_PROBE, env)
    assert result.returncode == 0, result.stderr
    status, content_type, other = result.stdout.strip().splitlines()[-1].split()
    assert status in ("200", "503") and content_type == "application/json"
    assert other == "301"  # everything else still goes to HTTPS


def _own_redis() -> dict[str, str]:
    """The Redis database the test run was given (parallel runs must not share one)."""
    import os

    url = os.environ.get("REDIS_URL")
    return {"REDIS_URL": url} if url else {}


ADMIN_CSS_PROBE = (
    "import re, django; django.setup(); from django.conf import settings; "
    "from django.test import Client; c = Client(); h = {'HTTP_HOST': 'trade.nusatrade.test', "
    "'secure': True}; page = c.get('/admin/login/', **h); "
    "href = re.search(r'href=\"(/static/admin/css/base[^\"]*)\"', page.content.decode())[1]; "
    "css = c.get(href, **h); body = b''.join(css.streaming_content) if css.streaming else "
    "css.content; print(settings.DEBUG, page.status_code, href, css.status_code, "
    "css['Content-Type'].split(';')[0], len(body))"
)


def test_admin_css_is_served_in_production_after_collectstatic(tmp_path):
    env = clean_env(DJANGO_SETTINGS_MODULE="nusatrade.settings", NUSATRADE_VAR_DIR=str(tmp_path),
                    **{**PRODUCTION_ENV, **_own_redis()})
    collected = run_manage("collectstatic", "--noinput", "-v0", env=env, timeout=300)
    assert collected.returncode == 0, collected.stderr
    result = run_python(ADMIN_CSS_PROBE, env)
    assert result.returncode == 0, result.stderr
    debug, page, href, status, content_type, size = result.stdout.strip().splitlines()[-1].split()
    assert debug == "False" and page == "200"
    assert href != "/static/admin/css/base.css"  # hashed name: cacheable forever
    assert status == "200" and content_type == "text/css" and int(size) > 1000


NUMBA_DIR = "import django; django.setup(); import numba; print(numba.config.CACHE_DIR)"


def test_numba_cache_directory_is_under_var_by_default_and_configurable(tmp_path):
    env = clean_env(DJANGO_SETTINGS_MODULE="nusatrade.settings", NUSATRADE_VAR_DIR=str(tmp_path))
    env.pop("NUMBA_CACHE_DIR", None)  # this process's settings exported theirs
    default = run_python(NUMBA_DIR, env)
    assert default.returncode == 0, default.stderr
    assert default.stdout.strip().splitlines()[-1] == str(tmp_path / "numba-cache")
    chosen = tmp_path / "elsewhere"
    configured = run_python(NUMBA_DIR, {**env, "NUMBA_CACHE_DIR": str(chosen)})
    assert configured.stdout.strip().splitlines()[-1] == str(chosen)
