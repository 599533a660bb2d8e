"""A password change (any path) or "log out everywhere" revokes every refresh token of the user,
including the tokens of a rotated chain and one rotated while the revocation ran."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.core.management import call_command
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import Role, User
from accounts.services import user_create, user_tokens_revoke
from accounts.tokens import REVOKED_MESSAGE, VersionedRefreshToken

PASSWORD = "correct-horse-battery-staple-42"
NEW_PASSWORD = "another-long-passphrase-77"
REFRESH = "/api/v1/auth/token/refresh/"


@pytest.fixture
def trader(db) -> User:
    return user_create("alice", PASSWORD, roles=(Role.TRADER,))


def obtain(password: str = PASSWORD) -> dict[str, str]:
    response = APIClient().post("/api/v1/auth/token/", {"username": "alice",
                                                        "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def refresh(token: str):
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


def me(access: str) -> int:
    return APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code


def rotated_chain() -> tuple[dict[str, str], dict[str, str]]:
    """Two logins (two devices); the second rotated twice. Returns (device1, device2 latest)."""
    device1 = obtain()
    device2 = obtain()
    for _ in range(2):
        response = refresh(device2["refresh"])
        assert response.status_code == 200
        device2 = response.json()
    return device1, device2


def assert_logged_out(*sessions: dict[str, str]) -> None:
    for session in sessions:
        response = refresh(session["refresh"])
        assert response.status_code == 401, response.content
        assert me(session["access"]) == 401


def test_set_password_revokes_every_refresh_token_and_the_rotated_chain(trader):
    device1, device2 = rotated_chain()
    trader.set_password(NEW_PASSWORD)
    trader.save()
    assert_logged_out(device1, device2)
    # Every outstanding row is blacklisted too (what an operator sees in the admin).
    outstanding = OutstandingToken.objects.filter(user=trader)
    assert outstanding.count() == 4
    assert BlacklistedToken.objects.filter(token__user=trader).count() == 4
    # The owner logs in again with the new password and that session works.
    fresh = obtain(NEW_PASSWORD)
    assert refresh(fresh["refresh"]).status_code == 200
    assert me(fresh["access"]) == 200


def test_a_rotated_chain_cannot_be_extended_after_the_change(trader):
    stolen = obtain()
    trader.set_password(NEW_PASSWORD)
    trader.save()
    response = refresh(stolen["refresh"])
    assert response.status_code == 401
    assert "refresh" not in response.json()


def test_manage_py_changepassword_revokes(trader, monkeypatch):
    session = obtain()
    from django.contrib.auth.management.commands import changepassword

    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="": NEW_PASSWORD)
    call_command("changepassword", "alice")
    assert_logged_out(session)


def test_admin_password_form_revokes(trader):
    session = obtain()
    form = AdminPasswordChangeForm(trader, {"password1": NEW_PASSWORD,
                                            "password2": NEW_PASSWORD})
    assert form.is_valid(), form.errors
    form.save()
    assert_logged_out(session)


def test_set_unusable_password_revokes(trader):
    session = obtain()
    trader.set_unusable_password()
    trader.save()
    assert_logged_out(session)


def test_saves_that_do_not_change_the_password_keep_sessions(trader):
    session = obtain()
    trader.email = "alice@example.test"
    trader.save()
    trader.save(update_fields=["last_login"])
    assert refresh(session["refresh"]).status_code == 200
    trader.refresh_from_db()
    assert trader.token_version == 0


def test_a_token_rotated_during_the_revocation_is_refused(trader):
    # A refresh racing with the revocation mints its new token after the blacklist sweep: its
    # row is not among those blacklisted. The version claim still kills it.
    racing = VersionedRefreshToken.for_user(trader)
    OutstandingToken.objects.filter(jti=racing["jti"]).delete()
    user_tokens_revoke(trader)
    assert not BlacklistedToken.objects.filter(token__jti=racing["jti"]).exists()
    response = refresh(str(racing))
    assert response.status_code == 401
    assert response.json()["detail"] == REVOKED_MESSAGE


def test_refresh_of_a_deleted_user_is_401_not_500(trader):
    session = obtain()
    OutstandingToken.objects.filter(user=trader).delete()
    trader.delete()
    client = APIClient()
    client.raise_request_exception = False
    assert client.post(REFRESH, {"refresh": session["refresh"]}, format="json").status_code == 401


@pytest.fixture
def admin_client(db) -> Client:
    admin = user_create("root", "root-password-long-enough-1", superuser=True)
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    client = Client()
    client.force_login(admin)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def test_admin_log_out_everywhere_action_revokes_and_is_audited(trader, admin_client):
    device1, device2 = rotated_chain()
    other = user_create("bob", PASSWORD)
    response = admin_client.post("/admin/accounts/user/", {
        "action": "log_out_everywhere", "_selected_action": [trader.pk]})
    assert response.status_code == 302
    assert_logged_out(device1, device2)
    entry = LogEntry.objects.get(object_id=str(trader.pk), action_flag=CHANGE)
    assert "Logged out everywhere" in entry.get_change_message()
    other.refresh_from_db()
    assert other.token_version == 0  # only the selected users


def test_admin_password_change_page_revokes(trader, admin_client):
    session = obtain()
    response = admin_client.post(f"/admin/accounts/user/{trader.pk}/password/", {
        "password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"})
    assert response.status_code == 302, response.content[:500]
    assert_logged_out(session)
