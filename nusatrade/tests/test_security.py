"""Production secret and configuration rules (pure)."""

from __future__ import annotations

import pytest

from nusatrade.security import entropy_bits, production_problems
from tests.helpers import GOOD_JWT_KEY, GOOD_SECRET

GOOD = dict(
    secret_key=GOOD_SECRET, jwt_signing_key=GOOD_JWT_KEY, debug=False,
    allowed_hosts=["trade.nusatrade.test"], cors_allowed_origins=["https://app.nusatrade.test"],
    cors_allow_all=False, database_engine="django.db.backends.postgresql",
    redis_url="redis://127.0.0.1:6379/0",
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
