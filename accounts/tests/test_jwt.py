"""JWT: obtain, refresh with rotation, blacklist, and every way a token must be refused."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from freezegun import freeze_time
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import trading_account_create, user_create

PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture
def trader(db):
    user = user_create("alice", PASSWORD, roles=(Role.TRADER,))
    trading_account_create(user, "Paper 1")
    return user


def obtain(client: APIClient, username="alice", password=PASSWORD):
    return client.post("/api/v1/auth/token/", {"username": username, "password": password},
                       format="json")


def me(token: str):
    return APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_obtain_and_read_me(trader):
    tokens = obtain(APIClient()).json()
    response = me(tokens["access"])
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice" and body["roles"] == ["trader"]
    assert [a["name"] for a in body["trading_accounts"]] == ["Paper 1"]
    assert "password" not in response.content.decode()
    assert "password_env_var" not in body["trading_accounts"][0]


def test_wrong_password_is_401(trader):
    assert obtain(APIClient(), password="wrong").status_code == 401


def test_me_without_token_is_401(db):
    assert APIClient().get("/api/v1/me/").status_code == 401


def test_refresh_rotates_and_old_refresh_is_refused(trader):
    client = APIClient()
    first = obtain(client).json()
    rotated = client.post("/api/v1/auth/token/refresh/", {"refresh": first["refresh"]},
                          format="json")
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != first["refresh"]
    assert me(rotated.json()["access"]).status_code == 200
    reused = client.post("/api/v1/auth/token/refresh/", {"refresh": first["refresh"]},
                         format="json")
    assert reused.status_code == 401


def test_blacklisted_refresh_is_refused(trader):
    client = APIClient()
    tokens = obtain(client).json()
    assert client.post("/api/v1/auth/token/blacklist/", {"refresh": tokens["refresh"]},
                       format="json").status_code == 200
    again = client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]},
                        format="json")
    assert again.status_code == 401


def test_expired_access_is_refused(trader):
    access = obtain(APIClient()).json()["access"]
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    assert lifetime <= timedelta(minutes=15)
    with freeze_time(timedelta(seconds=lifetime.total_seconds() + 5)):
        assert me(access).status_code == 401


def test_token_signed_with_another_key_is_refused(trader):
    access = obtain(APIClient()).json()["access"]
    claims = jwt.decode(access, options={"verify_signature": False})
    forged = jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")  # not the JWT key
    assert me(forged).status_code == 401


def test_alg_none_is_refused(trader):
    access = obtain(APIClient()).json()["access"]
    claims = jwt.decode(access, options={"verify_signature": False})
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    payload = jwt.utils.base64url_encode(jwt.api_jws.json.dumps(claims).encode()).decode()
    assert me(f"{header}.{payload}.").status_code == 401


def test_jwt_key_is_separate_from_secret_key():
    assert settings.SIMPLE_JWT["SIGNING_KEY"] == settings.JWT_SIGNING_KEY
    assert settings.JWT_SIGNING_KEY != settings.SECRET_KEY
    assert len(settings.JWT_SIGNING_KEY.encode()) >= 32
