from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import TradingAccount, User
from accounts.services import user_create


@pytest.mark.django_db
def test_create_totp_device_prints_uri_and_qr():
    user = user_create("ops2", "correct-horse-battery-staple-42", staff=True)
    out = StringIO()
    call_command("create_totp_device", "ops2", stdout=out)
    text = out.getvalue()
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed
    assert text.count("otpauth://totp/") == 1 and "secret=" in text
    assert "█" in text or "▀" in text or "▄" in text  # a QR code drawn in the terminal


@pytest.mark.django_db
def test_create_totp_device_for_unknown_user_fails_clearly():
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        call_command("create_totp_device", "ghost")


@pytest.mark.django_db
def test_demo_users_are_created_and_reset_idempotently():
    out = StringIO()
    call_command("demo_users", stdout=out)
    call_command("demo_users", stdout=out)
    assert User.objects.filter(username__startswith="demo-").count() == 2
    admin = User.objects.get(username="demo-admin")
    assert admin.is_staff and admin.roles == ["admin"]
    assert TOTPDevice.objects.filter(user=admin).count() == 1
    # Users only: the account comes from create_account (risk policy and strategy settings).
    assert not TradingAccount.objects.filter(owner__username="demo-trader").exists()
    assert "TOTP secret" in out.getvalue()
