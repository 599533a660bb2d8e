"""Create a TOTP device for a user and print its provisioning URI and a terminal QR code."""

from __future__ import annotations

import io

import qrcode
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import totp_device_create


class Command(BaseCommand):
    help = "Create a TOTP device for USERNAME and print the otpauth:// URI and a QR code."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="default", help="device name")
        parser.add_argument("--replace", action="store_true",
                            help="delete the user's existing TOTP devices first")
        parser.add_argument("--no-qr", action="store_true", help="print the URI only")

    def handle(self, *args, username: str, name: str, replace: bool, no_qr: bool, **options):
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"no user named {username!r}") from None
        enrolment = totp_device_create(user, name=name, replace=replace)
        if not no_qr:
            qr = qrcode.QRCode(border=1)
            qr.add_data(enrolment.config_url)
            buffer = io.StringIO()
            qr.print_ascii(out=buffer, invert=True)
            self.stdout.write(buffer.getvalue())
        self.stdout.write(enrolment.config_url)
        self.stdout.write(self.style.SUCCESS(
            f"TOTP device {enrolment.device.pk} ({name}) created for {username}: scan the QR "
            "code or enter the URI in an authenticator app. It is shown only now."))
