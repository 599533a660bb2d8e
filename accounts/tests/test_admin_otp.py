"""The admin is two-factor only: password alone never reaches an admin page."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.oath import TOTP

from accounts.models import Role
from accounts.services import totp_device_create, user_create

PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture
def staff(db):
    return user_create("ops1", PASSWORD, roles=(Role.OPS,), staff=True, superuser=True)


def current_token(device) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def login(client: Client, token: str = "", password: str = PASSWORD, device=None):
    data = {"username": "ops1", "password": password, "otp_token": token}
    if device is not None:
        data["otp_device"] = device.persistent_id
    return client.post("/admin/login/?next=/admin/", data)


def test_staff_without_device_cannot_reach_any_admin_page(staff):
    client = Client()
    response = login(client)
    assert response.status_code == 200  # the login form again, not a redirect into the admin
    for url in ("/admin/", "/admin/accounts/user/", "/admin/trading/instrument/"):
        page = client.get(url)
        assert page.status_code == 302 and "/admin/login/" in page["Location"]


def test_password_only_stays_on_the_otp_step(staff):
    totp_device_create(staff)
    client = Client()
    response = login(client)
    assert response.status_code == 200
    assert "otp_token" in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_valid_totp_admits(staff):
    device = totp_device_create(staff).device
    client = Client()
    response = login(client, current_token(device), device=device)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200 and "NusaTrade operations" in page.content.decode()


def test_replayed_token_is_refused(staff):
    device = totp_device_create(staff).device
    token = current_token(device)
    assert login(Client(), token, device=device).status_code == 302
    second = Client()
    assert login(second, token, device=device).status_code == 200
    assert second.get("/admin/").status_code == 302


def test_repeated_bad_tokens_are_throttled(staff):
    device = totp_device_create(staff).device
    for _ in range(3):
        assert login(Client(), "000000" if current_token(device) != "000000" else "111111",
                     device=device).status_code == 200
    device.refresh_from_db()
    # The first failure starts an exponential back-off; attempts inside it are refused unread.
    assert device.throttling_failure_count >= 1
    assert device.throttling_failure_timestamp is not None
    # Even the right token is refused while the device is throttled.
    client = Client()
    assert login(client, current_token(device), device=device).status_code == 200
    assert client.get("/admin/").status_code == 302


def test_wrong_password_with_valid_token_is_refused(staff):
    device = totp_device_create(staff).device
    client = Client()
    assert login(client, current_token(device), password="nope", device=device).status_code == 200
    assert client.get("/admin/").status_code == 302
