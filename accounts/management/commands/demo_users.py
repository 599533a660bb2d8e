"""Create (or reset) the demo admin and trader and print their credentials and TOTP secret.

Users only: the trader's paper account is made by ``create_account`` (the trading service that
also gives it its risk policy and strategy settings); ``make demo`` runs both."""

from __future__ import annotations

import base64
import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Role, User
from accounts.services import totp_device_create


class Command(BaseCommand):
    help = ("Create or reset the demo users (admin with TOTP, trader); then "
            "`create_account demo-trader --name \"Demo paper\"` gives the trader an account.")

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        admin_pw, trader_pw = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        admin = self._reset("demo-admin", admin_pw, Role.ADMIN, staff=True)
        self._reset("demo-trader", trader_pw, Role.TRADER, staff=False)
        enrolment = totp_device_create(admin, name="demo", replace=True)
        secret = base64.b32encode(enrolment.device.bin_key).decode()
        self.stdout.write(
            "Demo users (development only; passwords are new on every run):\n"
            f"  admin : demo-admin / {admin_pw}   (admin at /admin/, TOTP required)\n"
            f"          TOTP secret {secret}\n"
            f"          otpauth URI {enrolment.config_url}\n"
            f"  trader: demo-trader / {trader_pw}   (API: POST /api/v1/auth/token/)"
        )

    def _reset(self, username: str, password: str, role: Role, *, staff: bool) -> User:
        from django.contrib.auth.models import Group

        user, _ = User.objects.get_or_create(username=username)
        user.is_staff = staff
        user.is_superuser = staff
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=str(role))])
        return user
