"""Login limits slow guessers without locking the owner out, and windows slide (no bursts)."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.core.cache import caches
from django.test import Client, override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice
from freezegun import freeze_time
from rest_framework.test import APIClient

from accounts.services import user_create
from accounts.tests.test_admin_otp import current_token
from nusatrade.ratelimit_store import MemoryWindows, Rate, RedisWindows, Window, windows_store

PASSWORD = "correct-horse-battery-staple-42"
TOKEN = "/api/v1/auth/token/"
LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t-rl"}


@pytest.fixture
def owner(db):
    return user_create("victim", PASSWORD)


def login(password: str, ip: str, username: str = "victim"):
    return APIClient().post(TOKEN, {"username": username, "password": password}, format="json",
                            REMOTE_ADDR=ip)


def test_ten_wrong_passwords_from_ten_ips_do_not_lock_out_the_owner(owner):
    # Today's defaults: 10/m per IP, failures per username at RATELIMIT_LOGIN_FAILURES.
    codes = [login("wrong-guess", f"198.51.100.{i}").status_code for i in range(10)]
    assert codes == [401] * 10
    response = login(PASSWORD, "203.0.113.99")  # the owner, from an address never seen
    assert response.status_code == 200, response.content


@override_settings(RATELIMIT_LOGIN_FAILURES="5/15m")
def test_distributed_guessing_is_slowed_and_a_known_address_still_gets_in(owner):
    assert login(PASSWORD, "192.0.2.10").status_code == 200  # the owner's usual address
    codes = [login("wrong-guess", f"198.51.100.{i}").status_code for i in range(8)]
    assert codes == [401] * 5 + [429] * 3
    refused = login(PASSWORD, "203.0.113.99")  # a new address waits like the attacker
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert login(PASSWORD, "192.0.2.10").status_code == 200  # the known one does not


@override_settings(RATELIMIT_LOGIN_FAILURES="3/15m")
def test_successful_logins_do_not_use_the_failure_budget(owner):
    codes = [login(PASSWORD, f"198.51.100.{i}").status_code for i in range(6)]
    assert codes == [200] * 6


@override_settings(RATELIMIT_LOGIN_FAILURES="3/15m")
def test_a_body_without_a_password_does_not_count_as_a_failure(owner):
    for i in range(5):
        response = APIClient().post(TOKEN, {"username": "victim"}, format="json",
                                    REMOTE_ADDR=f"198.51.100.{i}")
        assert response.status_code == 400
    assert login(PASSWORD, "203.0.113.99").status_code == 200


def _most_in_any_span(times: list[float], span: float) -> int:
    return max(sum(1 for t in times if start <= t < start + span) for start in times)


@pytest.mark.django_db
def test_no_burst_across_a_window_boundary():
    # One attempt a second for 130 s from one IP (limit 10/m). Wherever a fixed window's
    # boundary falls, it admits 10 just before it and 10 just after: 11+ within 60 s.
    admitted: list[float] = []
    with freeze_time("2026-01-05 12:00:00") as clock:
        for second in range(130):
            if login("p", "198.51.100.7", f"user{second}").status_code == 401:
                admitted.append(float(second))
            clock.tick(1)
    assert _most_in_any_span(admitted, 60) == 10
    assert admitted[:11] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 60]  # each slot frees 60 s later


@pytest.mark.django_db
@override_settings(RATELIMIT_LOGIN_FAILURES="3/d")
def test_admin_login_shares_the_failure_budget_and_lets_the_owner_in():
    staff = user_create("ops1", PASSWORD, staff=True, superuser=True)
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)

    def admin_login(password: str, ip: str, token: str = "000000"):  # noqa: S107
        return Client(REMOTE_ADDR=ip).post("/admin/login/?next=/admin/", {
            "username": "ops1", "password": password, "otp_token": token,
            "otp_device": device.persistent_id})

    assert admin_login(PASSWORD, "192.0.2.10", current_token(device)).status_code == 302
    codes = [admin_login("wrong-guess", f"198.51.100.{i}").status_code for i in range(3)]
    assert codes == [200] * 3  # the login form again
    assert admin_login("wrong-guess", "198.51.100.50").status_code == 429
    assert login(PASSWORD, "203.0.113.99", "ops1").status_code == 429  # same budget as the API
    assert login(PASSWORD, "192.0.2.10", "ops1").status_code == 200  # known address


@pytest.mark.parametrize("text, expected", [
    ("10/m", Rate(10, 60)), ("20/15m", Rate(20, 900)), ("3/d", Rate(3, 86400)),
    ("5/s", Rate(5, 1)), ("100/h", Rate(100, 3600)),
])
def test_rates_parse(text, expected):
    assert Rate.parse(text) == expected


@pytest.mark.parametrize("text", ["", "10", "0/m", "x/m", "10/w"])
def test_bad_rates_are_refused(text):
    with pytest.raises(ValueError, match="bad rate"):
        Rate.parse(text)


def _slide(store) -> list[bool]:
    window = [Window(store.key(f"t:{uuid.uuid4().hex}"), Rate(3, 60))]
    hits = [store.hit(window, uuid.uuid4().hex, t).allowed
            for t in (1000.0, 1059.0, 1059.5, 1060.5, 1061.0)]
    return [*hits, store.hit(window, "x", 1120.0).allowed]


def test_memory_store_slides():
    with override_settings(CACHES={"default": LOCMEM, "ratelimit": LOCMEM}):
        store = windows_store("ratelimit")
        assert isinstance(store, MemoryWindows)
        # 3 admitted in [1000, 1059.5]; 1060.5: the 1000 one slid out; 1061: full again.
        assert _slide(store) == [True, True, True, True, False, True]


@pytest.mark.services("redis")
def test_redis_store_slides():
    store = windows_store("ratelimit")
    assert isinstance(store, RedisWindows)
    assert _slide(store) == [True, True, True, True, False, True]


@pytest.mark.services("redis")
def test_a_parallel_burst_cannot_overshoot_the_limit():
    store = RedisWindows("ratelimit")
    window = [Window(store.key(f"burst:{uuid.uuid4().hex}"), Rate(10, 60))]
    results: list[bool] = []
    barrier = threading.Barrier(40)

    def attempt() -> None:
        barrier.wait()
        results.append(store.hit(window, uuid.uuid4().hex, 5000.0).allowed)

    threads = [threading.Thread(target=attempt) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 40 and results.count(True) == 10
    caches["ratelimit"].clear()
