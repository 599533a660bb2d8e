"""Production secret and configuration rules (pure)."""

from __future__ import annotations

import pytest

from nusatrade.security import (
    development_problems,
    effective_bits,
    entropy_bits,
    production_problems,
)
from tests.helpers import GOOD_JWT_KEY, GOOD_SECRET

GOOD = dict(
    secret_key=GOOD_SECRET, jwt_signing_key=GOOD_JWT_KEY, debug=False,
    allowed_hosts=["trade.nusatrade.test"], cors_allowed_origins=["https://app.nusatrade.test"],
    cors_allow_all=False, database_engine="django.db.backends.postgresql",
    redis_url="redis://127.0.0.1:6379/0", ratelimit_enable=True, ratelimit_fail_open=False,
    celery_eager=False,
)


def ids(**changes) -> set[tuple[str, str]]:
    return {(p.id, p.setting) for p in production_problems(**{**GOOD, **changes})}


def test_good_configuration_has_no_problems():
    assert production_problems(**GOOD) == []


def test_missing_secret_is_refused():
    assert ids(secret_key="") == {("nusatrade.E001", "SECRET_KEY")}
    assert ids(jwt_signing_key=None) == {("nusatrade.E001", "JWT_SIGNING_KEY")}


def test_short_secret_is_refused():
    assert ("nusatrade.E002", "SECRET_KEY") in ids(secret_key=GOOD_SECRET[:40])


@pytest.mark.parametrize("value", [
    "django-insecure-" + GOOD_SECRET,
    "changeme" + GOOD_SECRET,
    "nusatrade-development-only-secret-key-never-use-in-production-0123456789",
])
def test_known_default_secret_is_refused(value):
    assert ("nusatrade.E003", "SECRET_KEY") in ids(secret_key=value)


@pytest.mark.parametrize("value", [
    "abcde" * 10,  # passes Django's own check --deploy (50 chars, 5 distinct)
    "Ab3$Xy9!" * 8,  # many symbols but a repeated pattern
    "a" * 60 + "b",
])
def test_low_entropy_secret_is_refused(value):
    assert ("nusatrade.E004", "SECRET_KEY") in ids(secret_key=value)


def test_equal_keys_are_refused():
    assert ids(jwt_signing_key=GOOD_SECRET) == {("nusatrade.E005", "JWT_SIGNING_KEY")}


def test_debug_hosts_cors_and_services_rules():
    assert ids(debug=True) == {("nusatrade.E006", "DEBUG")}
    assert ids(allowed_hosts=["*"]) == {("nusatrade.E007", "ALLOWED_HOSTS")}
    assert ids(allowed_hosts=[]) == {("nusatrade.E008", "ALLOWED_HOSTS")}
    assert ids(cors_allowed_origins=["https://*"]) == {("nusatrade.E007", "CORS_ALLOWED_ORIGINS")}
    assert ids(cors_allow_all=True) == {("nusatrade.E007", "CORS_ALLOW_ALL_ORIGINS")}
    assert ids(database_engine="django.db.backends.sqlite3") == {("nusatrade.E009",
                                                                  "DATABASE_URL")}
    assert ids(redis_url="") == {("nusatrade.E010", "REDIS_URL")}


def test_messages_never_contain_the_secret():
    weak = "changeme-" + "x1" * 30
    text = " ".join(str(p) for p in production_problems(**{**GOOD, "secret_key": weak}))
    assert "SECRET_KEY" in text
    assert weak not in text and "x1x1" not in text


def test_entropy_of_random_key_is_high_and_of_pattern_low():
    assert entropy_bits(GOOD_SECRET)[1] > 200
    assert entropy_bits("abcde" * 10)[1] < 128


@pytest.mark.parametrize("value", [
    # Each passed the old rule (Shannon bits, bits per character, compression).
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "zyxwvutsrqponmlkjihgfedcba9876543210ZYXWVUTSRQPONMLKJIHGFEDCBA",
    "qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJKLZXCVBNM1234567890!@#$%^&*()",
    "1qaz2wsx" + "qwertyuiop[]asdfghjkl;'zxcvbnm,./`1234567890-=~!@#$%^&*()_+",
])
def test_sequential_and_keyboard_runs_are_refused(value):
    assert ("nusatrade.E004", "SECRET_KEY") in ids(secret_key=value)


def test_random_keys_pass_the_run_rule():
    import secrets

    # Keys generated as the hint says never trip the run rule (their effective bits are far
    # above the minimum: a third of the characters would have to continue a run).
    assert all(effective_bits(secrets.token_urlsafe(64)) > 300 for _ in range(2000))
    assert effective_bits(GOOD_SECRET) > 300 and effective_bits(GOOD_JWT_KEY) > 300


@pytest.mark.parametrize("changes, expected", [
    ({"ratelimit_enable": False}, ("nusatrade.E011", "RATELIMIT_ENABLE")),
    ({"ratelimit_fail_open": True}, ("nusatrade.E012", "RATELIMIT_FAIL_OPEN")),
    ({"celery_eager": True}, ("nusatrade.E013", "CELERY_TASK_ALWAYS_EAGER")),
    ({"database_engine": "django.db.backends.mysql"}, ("nusatrade.E009", "DATABASE_URL")),
    ({"database_engine": "django.db.backends.oracle"}, ("nusatrade.E009", "DATABASE_URL")),
])
def test_switched_off_protections_and_other_databases_are_refused(changes, expected):
    assert ids(**changes) == {expected}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "", None,
                                  "/var/run/postgresql", "127.0.0.2"])
def test_development_accepts_a_database_on_this_machine(host):
    assert development_problems(database_engine="django.db.backends.postgresql",
                                database_host=host, allow_remote_database=False) == []


@pytest.mark.parametrize("host", ["db.internal", "10.0.0.5", "prod-db.example.com"])
def test_development_refuses_a_database_on_another_machine(host):
    problems = development_problems(database_engine="django.db.backends.postgresql",
                                    database_host=host, allow_remote_database=False)
    assert [(p.id, p.setting) for p in problems] == [("nusatrade.E014", "DATABASE_URL")]
    assert host not in str(problems[0])
    # An explicit, named opt-in (a developer's database container on another host) is allowed.
    assert development_problems(database_engine="django.db.backends.postgresql",
                                database_host=host, allow_remote_database=True) == []
