"""Rate limits: clean JSON 429, fail closed on a dead store in production, trusted client IPs."""

from __future__ import annotations

import os
import time

import pytest
from django.core.cache import caches
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient

from nusatrade.ratelimit import client_ip

CLOSED_PORT_CACHE = {
    "BACKEND": "django_redis.cache.RedisCache",
    "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
    "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25},
}
LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t-default"}
DEAD_STORE = {"default": LOCMEM, "ratelimit": CLOSED_PORT_CACHE}
LIMITED = [("post", "/api/v1/auth/token/", {"username": "u", "password": "p"}),
           ("post", "/api/v1/auth/token/refresh/", {"refresh": "x"}),
           ("post", "/api/v1/auth/token/blacklist/", {"refresh": "x"}),
           ("post", "/admin/login/", {"username": "u", "password": "p", "otp_token": "1"})]


@pytest.mark.django_db
@override_settings(CACHES=DEAD_STORE, RATELIMIT_FAIL_OPEN=False)
@pytest.mark.parametrize("method, url, data", LIMITED)
def test_dead_store_fails_closed_with_json_503_fast(method, url, data):
    started = time.perf_counter()
    response = getattr(APIClient(), method)(url, data, format="json" if "api" in url else None)
    elapsed = time.perf_counter() - started
    assert response.status_code in (429, 503)
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()
    assert elapsed < 5  # a hang would mean the limiter waits on the dead store (not a benchmark)


@pytest.mark.django_db
@override_settings(CACHES=DEAD_STORE, RATELIMIT_FAIL_OPEN=True)
def test_dead_store_fails_open_in_development_with_a_warning(caplog):
    response = APIClient().post("/api/v1/auth/token/", {"username": "u", "password": "p"},
                                format="json")
    assert response.status_code == 401  # the request went through to authentication
    assert any("failing open" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
@override_settings(CACHES=DEAD_STORE, RATELIMIT_FAIL_OPEN=False)
def test_unlimited_views_still_work_with_dead_store():
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200


@pytest.mark.django_db
# Day windows: a minute window could roll over mid-test and reset the count.
@override_settings(RATELIMIT_LOGIN="3/d")
def test_over_the_limit_answers_429_json_with_retry_after():
    client = APIClient()
    codes = [client.post("/api/v1/auth/token/", {"username": f"u{i}", "password": "p"},
                         format="json").status_code for i in range(5)]
    assert codes[:3] == [401, 401, 401]
    assert codes[3:] == [429, 429]
    response = client.post("/api/v1/auth/token/", {"username": "z", "password": "p"},
                           format="json")
    assert response.status_code == 429 and "throttled" in response.json()["detail"].lower()
    assert int(response["Retry-After"]) >= 1


@pytest.mark.django_db
# Day windows: a minute window could roll over mid-test and reset the count.
@override_settings(RATELIMIT_LOGIN="3/d", TRUSTED_PROXY_DEPTH=1)
def test_rotating_x_forwarded_for_does_not_reset_the_limit():
    client = APIClient()
    codes = []
    for i in range(6):
        # The client forges a new address each time; our proxy appends the real one last.
        xff = f"10.0.{i}.{i}, 203.0.113.7"
        codes.append(client.post("/api/v1/auth/token/", {"username": f"u{i}", "password": "p"},
                                 format="json", HTTP_X_FORWARDED_FOR=xff).status_code)
    assert codes.count(429) == 3


@pytest.mark.django_db
@override_settings(RATELIMIT_LOGIN_FAILURES="3/d")
def test_same_username_from_many_ips_is_limited():
    codes = [APIClient().post("/api/v1/auth/token/", {"username": "victim", "password": "p"},
                              format="json", REMOTE_ADDR=f"198.51.100.{i}").status_code
             for i in range(5)]
    assert codes == [401, 401, 401, 429, 429]


@pytest.mark.parametrize("xff, depth, expected", [
    ("", 0, "192.0.2.1"),
    ("1.2.3.4", 0, "192.0.2.1"),  # no trusted proxy: the header is ignored
    ("1.2.3.4, 203.0.113.7", 1, "203.0.113.7"),
    ("1.2.3.4, 203.0.113.7, 198.51.100.2", 2, "203.0.113.7"),
    ("not-an-ip", 1, "192.0.2.1"),  # malformed: fall back to the peer, never crash
    ("'; DROP TABLE x; --, , ,", 1, "192.0.2.1"),
    ("2001:db8::1", 1, "2001:db8::/64"),
    ("2001:db8::2", 1, "2001:db8::/64"),  # same /64: same client
])
def test_client_ip_uses_only_trusted_hops(settings, xff, depth, expected):
    settings.TRUSTED_PROXY_DEPTH = depth
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR=xff)
    assert client_ip(request) == expected


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_DEPTH=1)
def test_malformed_forwarded_header_is_not_a_500():
    response = APIClient().post("/api/v1/auth/token/", {"username": "u", "password": "p"},
                                format="json", HTTP_X_FORWARDED_FOR="\x00garbage,,::::")
    assert response.status_code == 401


@pytest.mark.services("redis")
@pytest.mark.django_db
def test_limit_counts_in_real_redis():
    url = os.environ["REDIS_URL"]
    real = {"default": LOCMEM, "ratelimit": {"BACKEND": "django_redis.cache.RedisCache",
                                             "LOCATION": url, "KEY_PREFIX": "rltest"}}
    with override_settings(CACHES=real, RATELIMIT_LOGIN="2/d", RATELIMIT_FAIL_OPEN=False):
        caches["ratelimit"].clear()
        codes = [APIClient().post("/api/v1/auth/token/", {"username": "r", "password": "p"},
                                  format="json").status_code for _ in range(3)]
        assert codes == [401, 401, 429]
        assert caches["ratelimit"].keys("*")  # the counters really live in Redis
        caches["ratelimit"].clear()
