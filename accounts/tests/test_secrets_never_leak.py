"""Broker passwords, JWTs and SECRET_KEY never appear in logs, admin pages or API output."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django_otp.oath import TOTP
from rest_framework.test import APIClient

from accounts.models import Broker, Role
from accounts.services import totp_device_create, trading_account_create, user_create

PASSWORD = "correct-horse-battery-staple-42"
BROKER_PASSWORD = "Mt5-Br0ker-Pa55word-Zq9"


@pytest.fixture
def world(db, monkeypatch):
    monkeypatch.setenv("MT5_PASSWORD_MAIN", BROKER_PASSWORD)
    admin = user_create("root1", PASSWORD, roles=(Role.ADMIN,), staff=True, superuser=True)
    trader = user_create("bob", PASSWORD, roles=(Role.TRADER,))
    account = trading_account_create(
        trader, "Live MT5", broker=Broker.MT5, broker_login="5001", broker_server="Demo-Server",
        password_env_var="MT5_PASSWORD_MAIN")
    return admin, trader, account


def test_password_is_read_from_the_environment_never_stored(world):
    *_, account = world
    assert account.broker_password() == BROKER_PASSWORD
    assert BROKER_PASSWORD not in str(account.__dict__)


def test_nothing_secret_in_api_output_or_logs(world, caplog):
    caplog.set_level(logging.DEBUG)
    client = APIClient()
    tokens = client.post("/api/v1/auth/token/", {"username": "bob", "password": PASSWORD},
                         format="json").json()
    body = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    text = body.content.decode()
    assert body.status_code == 200 and "Live MT5" in text
    for secret in (BROKER_PASSWORD, "MT5_PASSWORD_MAIN", settings.SECRET_KEY,
                   settings.JWT_SIGNING_KEY, PASSWORD):
        assert secret not in text
    logged = caplog.text
    for secret in (BROKER_PASSWORD, tokens["access"], tokens["refresh"], settings.SECRET_KEY,
                   settings.JWT_SIGNING_KEY, PASSWORD):
        assert secret not in logged


def test_nothing_secret_on_admin_pages(world):
    admin, _, account = world
    device = totp_device_create(admin).device
    token = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
    client = Client()
    client.post("/admin/login/", {"username": "root1", "password": PASSWORD,
                                  "otp_device": device.persistent_id,
                                  "otp_token": f"{token:06d}"})
    page = client.get(f"/admin/accounts/tradingaccount/{account.pk}/change/")
    assert page.status_code == 200
    assert BROKER_PASSWORD not in page.content.decode()
    assert settings.SECRET_KEY not in page.content.decode()


LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
DEAD_DEFAULT = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25,
                            "IGNORE_EXCEPTIONS": True}}


@override_settings(CACHES={"default": DEAD_DEFAULT, "ratelimit": LOCMEM})
def test_api_reads_are_served_from_the_database_when_the_main_cache_is_down(world):
    client = APIClient()
    tokens = client.post("/api/v1/auth/token/", {"username": "bob", "password": PASSWORD},
                         format="json").json()
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert response.status_code == 200 and response.json()["username"] == "bob"
