"""Send a test alert now to every configured channel; exit non-zero unless all delivered.

Every run is recorded (``nusatrade.AlertTestRecord``) for the launch checklist.

The launch checklist runs it: ``python manage.py send_test_alert [--json]``. It bypasses the
rate limit (a second check a minute later must really send) and delivers in this process.
"""

from __future__ import annotations

import json
import socket

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from nusatrade.alerts import AlertKind, alert_send
from nusatrade.alerts.service import SENT
from nusatrade.models import AlertTestRecord


class Command(BaseCommand):
    help = ("Send a test alert to ALERT_EMAILS and ALERT_WEBHOOK_URL now; non-zero exit unless "
            "every configured channel delivered it.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options) -> None:
        result = alert_send(
            AlertKind.TEST, "Test alert",
            "If you can read this, NusaTrade alerts reach you. No action is needed.",
            fields={"host": socket.gethostname(), "environment": settings.NUSATRADE_ENV},
            key="send_test_alert", sync=True, rate_limit=False)
        # check_production's "test alert delivered" item reads this record.
        AlertTestRecord.objects.create(status=result.status, host=socket.gethostname(),
                                       channels=[c.as_dict() for c in result.channels])
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
        else:
            for channel in result.channels:
                self.stdout.write(f"{channel.channel}: {channel.status} after "
                                  f"{channel.attempts} attempt(s): {channel.detail}")
        if result.status != SENT:
            raise CommandError(f"test alert {result.status}"
                               + (f": {result.detail}" if result.detail else ""))
        if not options["json"]:
            self.stdout.write(self.style.SUCCESS(
                f"test alert sent to {len(result.channels)} channel(s)"))
