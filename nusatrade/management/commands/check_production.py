"""The launch checklist as code: every item pass/fail with its fix; non-zero exit on a failure.

Items: secrets, TLS settings, CORS, ``check --deploy`` (with our system checks), Sentry,
alerts configured and a test alert delivered, beat schedules, and the items the apps register
(2FA on every admin account, backups configured/recent/verified, S3 reachable, a
reconciliation run, no unexplained kill switch): ``nusatrade.launch``.

``manage.py`` defers the start-up guard for this one command so it can list every problem.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from nusatrade.launch import checklist_run


class Command(BaseCommand):
    help = ("Run the launch checklist against this production configuration and its database: "
            "each item PASS/FAIL with the fix; exit status 1 on any failure.")
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="print the results as JSON")

    def handle(self, *args, **options) -> None:
        if not settings.IS_PRODUCTION:
            raise CommandError(
                f"NUSATRADE_ENV is {settings.NUSATRADE_ENV!r}; set NUSATRADE_ENV=production with "
                "the production environment to check it")
        results = checklist_run()
        failed = [r for r in results if not r.ok]
        if options["json"]:
            self.stdout.write(json.dumps({"ok": not failed,
                                          "items": [r.as_dict() for r in results]}, indent=2))
        else:
            for r in results:
                mark = self.style.SUCCESS("PASS") if r.ok else self.style.ERROR("FAIL")
                self.stdout.write(f"{mark} {r.item}: {r.detail}")
                if not r.ok and r.fix:
                    self.stdout.write(f"     fix: {r.fix}")
        if failed:
            raise CommandError(f"production check failed: {len(failed)} of {len(results)} "
                               f"item(s): {', '.join(r.item for r in failed)}")
        if not options["json"]:
            self.stdout.write(self.style.SUCCESS(
                f"production configuration OK: {len(results)} items passed"))
